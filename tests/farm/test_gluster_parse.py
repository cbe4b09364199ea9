"""What gluster --xml says, read right (samples as gluster 10.3 printed them here), the
Storage pane's levels from them, and endpoints.gluster in farm.yaml."""

from __future__ import annotations

import pytest

from tests.stacks.test_render import farm_yaml
from wpfarm_tui.actions.bootstrap import GlusterBootstrap
from wpfarm_tui.farm.gluster import (
    GlusterError,
    parse_heal_info,
    parse_volume_get,
    parse_volume_status,
    same_value,
)
from wpfarm_tui.inventory import GLUSTER_OPTIONS, InventoryError, parse_farm
from wpfarm_tui.status.storage import brick_rows, option_drift
from wpfarm_tui.status.thresholds import Level

STATUS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<cliOutput><opRet>0</opRet><opErrno>0</opErrno><opErrstr/><volStatus><volumes><volume>
<volName>v</volName><nodeCount>4</nodeCount>
<node><hostname>vm</hostname><path>/b/b1</path><peerid>x</peerid><status>1</status>
<port>53640</port><pid>14834</pid><sizeTotal>100</sizeTotal><sizeFree>40</sizeFree></node>
<node><hostname>vm</hostname><path>/b/b2</path><peerid>x</peerid><status>0</status>
<port>N/A</port><pid>-1</pid></node>
<node><hostname>Self-heal Daemon</hostname><path>localhost</path><status>1</status>
<port>N/A</port><pid>803</pid></node>
</volume></volumes></volStatus></cliOutput>"""

HEAL = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<cliOutput><healInfo><bricks>
<brick hostUuid="x"><name>vm:/b/b1</name><file gfid="g1">/a.txt</file>
<status>Connected</status><numberOfEntries>1</numberOfEntries></brick>
<brick hostUuid="x"><name>vm:/b/b2</name><status>Transport endpoint is not connected</status>
<numberOfEntries>-</numberOfEntries></brick>
</bricks></healInfo><opRet>0</opRet><opErrno>0</opErrno><opErrstr/></cliOutput>"""


def test_volume_status_reads_bricks_only_and_an_offline_brick_has_no_pid_or_port():
    bricks = parse_volume_status(STATUS)
    assert [(b.brick, b.online, b.pid, b.port, b.free_bytes) for b in bricks] == [
        ("vm:/b/b1", True, 14834, 53640, 40), ("vm:/b/b2", False, None, None, None)]


def test_heal_info_of_a_dead_brick_is_unknown_not_zero():
    heal = parse_heal_info(HEAL)
    assert [(h.brick, h.connected, h.entries, h.files) for h in heal] == [
        ("vm:/b/b1", True, 1, ("/a.txt",)), ("vm:/b/b2", False, None, ())]


def test_a_failed_command_is_gluster_s_own_words():
    with pytest.raises(GlusterError, match="Volume nosuch does not exist"):
        parse_volume_status("<cliOutput><opRet>-1</opRet><opErrno>30800</opErrno>"
                            "<opErrstr>Volume nosuch does not exist</opErrstr></cliOutput>")
    with pytest.raises(GlusterError, match="Connection failed"):
        parse_heal_info("Connection failed. Please check if gluster daemon is operational.\n")


def test_levels_brick_down_and_split_brain_critical_pending_warning():
    rows = brick_rows(parse_volume_status(STATUS), parse_heal_info(HEAL), None, None)
    assert [(r.brick, r.level) for r in rows] == [("vm:/b/b1", Level.WARNING),
                                                 ("vm:/b/b2", Level.CRITICAL)]
    split = brick_rows(parse_volume_status(STATUS)[:1], None, parse_heal_info(HEAL)[:1], None)
    assert split[0].level == Level.CRITICAL and split[0].split_brain_files == ("/a.txt",)


def test_option_drift_reads_gluster_s_spellings_of_one_value():
    got = parse_volume_get("<cliOutput><opRet>0</opRet><volGetopts><Opt><Option>"
                           "cluster.self-heal-daemon</Option><Value>enable (DEFAULT)</Value>"
                           "</Opt><Opt><Option>network.ping-timeout</Option><Value>42</Value>"
                           "</Opt></volGetopts></cliOutput>")
    assert got == {"cluster.self-heal-daemon": "enable", "network.ping-timeout": "42"}
    assert same_value("enable", "on") and same_value("256 MB", "256MB")
    drift = option_drift({"cluster.self-heal-daemon": "on", "network.ping-timeout": "10",
                          "cluster.quorum-type": "auto"}, got)
    assert [(d.name, d.actual) for d in drift] == [("network.ping-timeout", "42"),
                                                   ("cluster.quorum-type", None)]


def test_endpoints_gluster_defaults_and_errors_name_the_field():
    farm = parse_farm(farm_yaml(extra="  gluster: {volume: wpfarm, node: db1, "
                                      "mount_nodes: [cache1, cache2]}\n"))
    ep = farm.endpoints.gluster
    assert (ep.volume, ep.node, ep.mount, ep.mount_nodes) == (
        "wpfarm", "db1", "/mnt/gluster", ("cache1", "cache2"))
    assert dict(ep.options) == GLUSTER_OPTIONS
    with pytest.raises(InventoryError) as err:
        parse_farm(farm_yaml(extra="  gluster: {volume: wpfarm, node: nope, mount: rel, "
                                   "mount_nodes: [ghost], options: [x]}\n"))
    text = str(err.value)
    for field in ("endpoints.gluster.node", "endpoints.gluster.mount",
                  "endpoints.gluster.mount_nodes", "endpoints.gluster.options"):
        assert field in text, text


def test_bootstrap_plans_one_brick_per_storage_node_and_a_persistent_mount():
    farm = parse_farm(farm_yaml(extra="  gluster: {volume: wpfarm}\n"))
    action = GlusterBootstrap(farm, lambda node, cmd, stdin: (0, "", ""))
    volume = next(s for s in action.plan() if s.name == "volume")
    assert "replica 3 10.0.0.21:/data/glusterfs/wpfarm/db1" in volume.detail
    assert [n.name for n in action.app_nodes] == ["cache1", "cache2", "cache3"]
    assert action.fstab_line() == ("10.0.0.21:/wpfarm /mnt/gluster glusterfs defaults,_netdev,"
                                   "backup-volfile-servers=10.0.0.22:10.0.0.23 0 0")
