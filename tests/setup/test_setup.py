"""Profiles, answers validation and the farm.yaml writer (pure logic)."""

from __future__ import annotations

import pytest

from wpfarm_tui.commands.init import parse_node
from wpfarm_tui.inventory import parse_farm
from wpfarm_tui.setup.node_check import parse_facts
from wpfarm_tui.setup.profiles import PROFILES, NodeFacts, shortfalls
from wpfarm_tui.setup.writer import FarmAnswers, NodeAnswer, render_farm_yaml


def test_profiles_match_the_architecture():
    assert len(PROFILES["minimum"].slots) == 20
    assert len(PROFILES["consolidated"].slots) == 13
    assert len(PROFILES["small"].slots) == 3
    managers = [s for s in PROFILES["consolidated"].slots if "manager" in s.roles]
    assert len(managers) == 3


@pytest.mark.parametrize("profile", list(PROFILES))
def test_every_profile_renders_a_loadable_farm(profile):
    slots = PROFILES[profile].slots
    answers = FarmAnswers("f1", "f1.example.com", PROFILES[profile].key, tuple(
        NodeAnswer(s.name, f"10.1.0.{i + 1}", roles=s.roles) for i, s in enumerate(slots)))
    farm = parse_farm(render_farm_yaml(answers))
    assert len(farm.nodes) == len(slots)
    db = [n for n in farm.nodes if "db" in n.roles]
    assert len(farm.endpoints.galera.nodes) == len(db)


def test_parse_node_spec():
    node = parse_node("db1=10.0.0.5:2222,user=admin,roles=db+storage", 0, "small")
    assert (node.name, node.address, node.port, node.user, node.roles) == (
        "db1", "10.0.0.5", 2222, "admin", ("db", "storage"))
    assert parse_node("n2=10.0.0.6", 1, "small").roles == PROFILES["small"].slots[1].roles
    with pytest.raises(ValueError, match="unknown option"):
        parse_node("n=1.2.3.4,colour=red", 0, "small")
    with pytest.raises(ValueError, match="NAME=ADDRESS"):
        parse_node("just-a-host", 0, "small")


def test_facts_and_shortfalls():
    facts = parse_facts("os=Debian GNU/Linux 12 (bookworm)\ncpus=2\nmem_kb=4000000\n"
                        "disk_free_kb=30000000\ndocker=\n")
    assert facts.docker is None and facts.cpus == 2
    warnings = shortfalls(facts, PROFILES["minimum"])
    assert any("2 CPUs" in w for w in warnings) and any("RAM" in w for w in warnings)
    big = NodeFacts("Debian GNU/Linux 12", 8, 15.6, 200, "24.0")
    assert shortfalls(big, PROFILES["consolidated"]) == []
