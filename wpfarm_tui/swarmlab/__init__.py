"""The three-node Docker Swarm lab in network namespaces behind `wpfarm swarmlab`."""

from wpfarm_tui.swarmlab.lab import NODES, REGISTRY, LabNode, SwarmLab, SwarmLabError

__all__ = ["NODES", "REGISTRY", "LabNode", "SwarmLab", "SwarmLabError"]
