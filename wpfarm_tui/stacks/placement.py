"""Where the stacks place their services: the one definition of the Swarm node labels.

The rendered prepare-swarm.sh, `wpfarm bootstrap` and the swarm lab all label nodes from
here, and the stack templates place by these labels."""

from __future__ import annotations

from wpfarm_tui.inventory import Farm, Node


def crowdsec_node(farm: Farm) -> Node | None:
    """The node the CrowdSec LAPI runs on: the first manager in farm.yaml. Pinned, because
    its decisions live in a sqlite file on a local volume (a task moved to another node
    would start with none), and because the console reaches it on that node's address."""
    return next((n for n in farm.nodes if "manager" in n.roles), None)


def metrics_node(farm: Farm) -> Node | None:
    """The node Mimir runs on: the first ops node in farm.yaml. Pinned, because its blocks
    live on a local volume, and because the console reads its Prometheus API there
    (endpoints.metrics, host-mode port 9009)."""
    return next((n for n in farm.nodes if "ops" in n.roles), None)


def swarm_labels(farm: Farm, node: Node) -> dict[str, str]:
    labels = {f"wpfarm.role.{r}": "true" for r in sorted(node.roles)}
    if "db" in node.roles:
        labels["wpfarm.galera"] = node.name
    if "cache" in node.roles:
        labels["wpfarm.cache"] = node.name
    if node == crowdsec_node(farm):
        labels["wpfarm.crowdsec"] = "true"
    if node == metrics_node(farm):
        labels["wpfarm.metrics"] = "true"
    return labels
