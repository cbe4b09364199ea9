"""How the bastion reaches services on overlay networks: the ports the rendered stacks
publish and the farm file `wpfarm init` writes must name the same things (README "How the
bastion reaches the farm")."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from wpfarm_tui.farm import redis as farm_redis
from wpfarm_tui.inventory import InventoryError, parse_farm
from wpfarm_tui.setup.writer import FarmAnswers, NodeAnswer, render_farm_yaml
from wpfarm_tui.stacks import render_farm
from wpfarm_tui.stacks.deploy import LAYERS

ANSWERS = FarmAnswers("prod-eu1", "example.com", "production", (
    NodeAnswer("mgr1", "10.0.0.11", roles=("manager",)),
    NodeAnswer("mgr2", "10.0.0.12", roles=("manager",)),
    NodeAnswer("mgr3", "10.0.0.13", roles=("manager",)),
    NodeAnswer("db1", "10.0.0.21", roles=("db",)),
    NodeAnswer("db2", "10.0.0.22", roles=("db",)),
    NodeAnswer("db3", "10.0.0.23", roles=("db",)),
    NodeAnswer("cache1", "10.0.0.31", roles=("cache", "worker")),
    NodeAnswer("cache2", "10.0.0.32", roles=("cache", "worker")),
    NodeAnswer("cache3", "10.0.0.33", roles=("cache", "worker")),
))


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    farm = parse_farm(render_farm_yaml(ANSWERS))
    out = tmp_path_factory.mktemp("render")
    render_farm(farm, out)
    return farm, yaml.safe_load((out / "docker/compose/redis.yml").read_text())


def _host_ports(service: dict) -> list[int]:
    ports = service.get("ports") or []
    assert all(p["mode"] == "host" for p in ports), ports  # never the routing mesh
    return [p["published"] for p in ports]


def _placed_on(service: dict) -> str:
    (constraint,) = service["deploy"]["placement"]["constraints"]
    return constraint.rpartition("==")[2].strip()


def test_every_redis_endpoint_is_a_port_its_service_publishes_on_its_node(written):
    farm, doc = written
    endpoint = farm.endpoints.redis
    assert endpoint is not None and len(endpoint.instances) == 3
    services = doc["services"]
    for instance in endpoint.instances:
        assert instance.announce is not None
        name, _, port = instance.announce.partition(":")
        service = services[name]
        assert _host_ports(service) == [instance.port] == [int(port)]
        node = farm.node(_placed_on(service))
        assert node is not None and node.address == instance.host
    for i, sentinel in enumerate(endpoint.sentinels, 1):
        service = services[f"sentinel-{i}"]
        assert _host_ports(service) == [sentinel.port]
        assert farm.node(_placed_on(service)).address == sentinel.host


def test_unwatched_redis_publishes_nothing(written):
    _farm, doc = written
    sessions = [s for name, s in doc["services"].items() if name.startswith("redis-sessions")]
    assert sessions and all(not s.get("ports") for s in sessions)


def test_varnish_is_read_inside_the_rendered_service_on_each_cache_node(written):
    farm, _doc = written
    stack = dict(LAYERS["cache"])
    varnish_stack = next(name for name, file in stack.items() if file == "varnish.yml")
    instances = farm.endpoints.varnish.instances
    assert [i.node for i in instances] == ["cache1", "cache2", "cache3"]
    assert {i.container for i in instances} == {f"{varnish_stack}_varnish"}


def test_sentinel_names_map_to_the_console_addresses(written):
    farm, _doc = written
    endpoint = farm.endpoints.redis
    assert farm_redis.console_address(endpoint, "redis-cache-2:6379") == "10.0.0.32:6379"
    assert farm_redis.master_address(endpoint, {"ip": "redis-cache-3", "port": "6379"}) \
        == "10.0.0.33:6379"
    # An address the farm file does not know is shown as Sentinel gave it.
    assert farm_redis.console_address(endpoint, "10.9.9.9:6379") == "10.9.9.9:6379"


BASE = """farm: {name: f, domain: example.com, profile: small}
nodes:
  - name: n1
    address: 10.0.0.1
    ssh: {known_hosts: /etc/wpfarm/known_hosts}
    roles: [manager, db, cache]
endpoints:
"""


def test_known_hosts_and_container_are_read():
    farm = parse_farm(BASE + "  varnish:\n    instances: [{name: v1, node: n1, "
                      "container: cache_varnish}]\n")
    assert farm.nodes[0].ssh.known_hosts == Path("/etc/wpfarm/known_hosts")
    (v,) = farm.endpoints.varnish.instances
    assert (v.node, v.container, v.workdir) == ("n1", "cache_varnish", "")


@pytest.mark.parametrize(("snippet", "field"), [
    ("  varnish:\n    instances: [{name: v1, container: cache_varnish}]\n",
     "endpoints.varnish.instances[0].container"),
    ("  varnish:\n    instances: [{name: v1, node: n1, container: 'x; rm -rf /'}]\n",
     "endpoints.varnish.instances[0].container"),
    ("  varnish:\n    instances: [{name: v1, node: n1}]\n",
     "endpoints.varnish.instances[0].workdir"),
    ("  redis:\n    instances: [{name: r1, host: 10.0.0.1, port: 6379, announce: r1}]\n",
     "endpoints.redis.instances[0].announce"),
])
def test_bad_reach_fields_name_the_field(snippet, field):
    with pytest.raises(InventoryError) as caught:
        parse_farm(BASE + snippet)
    assert field in str(caught.value)


def test_the_lapi_is_where_the_stack_pins_it_and_publishes_it(tmp_path):
    from wpfarm_tui.stacks.placement import swarm_labels

    farm = parse_farm(render_farm_yaml(ANSWERS))
    render_farm(farm, tmp_path)
    doc = yaml.safe_load((tmp_path / "docker/compose/crowdsec.yml").read_text())
    service = doc["services"]["crowdsec"]
    endpoint = farm.endpoints.crowdsec
    (constraint,) = service["deploy"]["placement"]["constraints"]
    label, _, value = (part.strip() for part in constraint.partition("=="))
    label = label.removeprefix("node.labels.")
    holders = [n.name for n in farm.nodes if swarm_labels(farm, n).get(label) == value]
    assert holders == [endpoint.node] == ["mgr1"]
    assert endpoint.lapi == f"http://{farm.node('mgr1').address}:{_host_ports(service)[0]}"
    stack = next(name for name, file in LAYERS["security"] if file == "crowdsec.yml")
    assert endpoint.container == f"{stack}_crowdsec"


@pytest.mark.parametrize("snippet", [
    "    node: n1\n",
    "    container: security_crowdsec\n",
    "    node: nope\n    container: security_crowdsec\n",
])
def test_crowdsec_node_and_container_go_together(snippet):
    with pytest.raises(InventoryError) as caught:
        parse_farm(BASE + "  crowdsec:\n    lapi: http://10.0.0.1:8081\n"
                          "    bouncer_key: {env: K}\n" + snippet)
    assert "endpoints.crowdsec." in str(caught.value)


def test_metrics_is_mimirs_api_where_the_stack_pins_and_publishes_it(tmp_path):
    from wpfarm_tui.stacks.placement import swarm_labels

    answers = FarmAnswers("prod-eu1", "example.com", "production", (
        *ANSWERS.nodes, NodeAnswer("ops1", "10.0.0.41", roles=("ops",)),
        NodeAnswer("ops2", "10.0.0.42", roles=("ops",))))
    farm = parse_farm(render_farm_yaml(answers))
    render_farm(farm, tmp_path)
    doc = yaml.safe_load((tmp_path / "docker/compose/observability.yml").read_text())
    service = doc["services"]["mimir"]
    (constraint,) = service["deploy"]["placement"]["constraints"]
    label, _, value = (part.strip() for part in constraint.partition("=="))
    holders = [n.name for n in farm.nodes
               if swarm_labels(farm, n).get(label.removeprefix("node.labels.")) == value]
    assert holders == ["ops1"]
    assert farm.endpoints.metrics.url == (
        f"http://10.0.0.41:{_host_ports(service)[0]}/prometheus")
    # No ops node, no observability stack to read: no endpoint written.
    assert parse_farm(render_farm_yaml(ANSWERS)).endpoints.metrics is None
