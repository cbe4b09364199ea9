"""The swarm lab: three namespaced dockerds, one Swarm, node labels from the roles."""

from __future__ import annotations

import contextlib
import urllib.request

import pytest

from wpfarm_tui.inventory import load_farm
from wpfarm_tui.swarmlab import NODES, REGISTRY

pytestmark = pytest.mark.swarm


def test_three_nodes_ready_and_managers(swarmlab):
    with contextlib.closing(swarmlab.client()) as cli:
        nodes = cli.api.nodes()
    assert sorted(n["Description"]["Hostname"] for n in nodes) == ["node1", "node2", "node3"]
    assert all(n["Status"]["State"] == "ready" for n in nodes)
    assert all(n["Spec"]["Role"] == "manager" for n in nodes)
    addrs = {n["Description"]["Hostname"]: n["Status"]["Addr"] for n in nodes}
    assert addrs == {n.name: n.address for n in NODES}


def test_node_labels_follow_roles(swarmlab):
    with contextlib.closing(swarmlab.client()) as cli:
        labels = {n["Description"]["Hostname"]: n["Spec"].get("Labels", {})
                  for n in cli.api.nodes()}
    for node in NODES:
        got = labels[node.name]
        assert got["wpfarm.galera"] == node.name
        assert got["wpfarm.cache"] == node.name
        for role in node.roles:
            assert got[f"wpfarm.role.{role}"] == "true"
    assert "wpfarm.role.ops" not in labels["node2"]
    # The LAPI's node (stacks/placement.py): the first manager only.
    assert [n for n, got in labels.items() if got.get("wpfarm.crowdsec") == "true"] == ["node1"]


def test_registry_and_base_image(swarmlab):
    with urllib.request.urlopen(f"http://{REGISTRY}/v2/", timeout=5) as resp:
        assert resp.status == 200
    with contextlib.closing(swarmlab.client()) as cli:
        assert cli.images.get("debian:bookworm-slim")


def test_up_again_is_a_noop_and_farm_file_loads(swarmlab):
    messages: list[str] = []
    swarmlab.up(progress=messages.append)
    assert not [m for m in messages if "initialised" in m or "starting" in m]
    assert swarmlab.ready()
    farm = load_farm(swarmlab.farm_file)
    assert [n.name for n in farm.nodes] == ["node1", "node2", "node3"]
    assert farm.endpoints.docker.host == swarmlab.docker_url()
