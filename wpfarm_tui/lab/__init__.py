"""The loopback lab of real servers behind `wpfarm lab up|down|status`."""

from wpfarm_tui.lab.lab import Lab, LabError

__all__ = ["Lab", "LabError"]
