"""A fixed farm with every endpoint the catalog's actions need, for screens that show a
plan without touching a server (snapshots, read-only walk in the console).

Galera node control is the real `LabGaleraControl` over a lab directory with fixed
grastate.dat files (no mariadbd runs there), so the recovery plan is deterministic. The
Galera nodes' ports are ones nothing listens on, to match: the Galera procedures read the
nodes in their plan, and the real lab's nodes (when it is up) would answer this password-
less farm with "access denied", which the procedures rightly refuse.
"""

from __future__ import annotations

import socket
from pathlib import Path

from tests.ui.fixtures import FARM, fixed_collectors, frozen_clock
from wpfarm_tui.actions.catalog import Context
from wpfarm_tui.app import WpfarmApp
from wpfarm_tui.farm.galera_control import LabGaleraControl
from wpfarm_tui.inventory import (
    BackupSettings,
    CrowdSecEndpoint,
    Endpoints,
    Farm,
    GaleraEndpoint,
    GlusterEndpoint,
    HostPort,
    Node,
    RedisEndpoint,
    SitesSettings,
    SshSettings,
    VarnishEndpoint,
    VarnishInstance,
)
from wpfarm_tui.lab import Lab
from wpfarm_tui.secrets import Secret

CREDENTIALS = Path(__file__).parent / "data" / "local_api_credentials.yaml"
UUID = "e70c36d6-e9a4-11f1-bfaa-5ecfb23f02f2"


def nothing_listens() -> int:
    """A loopback port that refuses connections (bound, never listening, then freed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def action_farm(read_only: bool = False) -> Farm:
    local = "127.0.0.1"
    return Farm(
        name="lab", domain="lab.wpfarm.test", profile="lab",
        nodes=(Node("lab1", local, SshSettings(), frozenset({"manager", "db", "cache"})),),
        endpoints=Endpoints(
            galera=GaleraEndpoint("wpfarm", None, tuple(
                HostPort(f"galera-{n}", local, nothing_listens()) for n in (1, 2, 3)),
                timeout=0.5),
            redis=RedisEndpoint("mymaster", None,
                                (HostPort("redis-master", local, 16379),
                                 HostPort("redis-replica", local, 16380)),
                                tuple(HostPort(f"sentinel-{n}", local, 16380 + n)
                                      for n in (1, 2, 3))),
            varnish=VarnishEndpoint((VarnishInstance("varnish", "/srv/varnish/inst"),)),
            crowdsec=CrowdSecEndpoint("http://127.0.0.1:16180",
                                      Secret("file", "/srv/secrets/bouncer")),
            gluster=GlusterEndpoint("wpfarm"),
        ),
        sites=SitesSettings(edge_url="http://127.0.0.1:16100"),
        refresh=FARM.refresh,
        read_only=read_only,
        backup=BackupSettings("/srv/restic", Secret("file", "/srv/secrets/restic")),
    )


def crashed_lab(root: Path) -> Lab:
    """A lab directory whose three nodes crashed (seqno -1), nothing running."""
    lab = Lab(root)
    for n in (1, 2, 3):
        data = root / "galera" / f"galera-{n}" / "data"
        data.mkdir(parents=True, exist_ok=True)
        (data / "grastate.dat").write_text(
            f"# GALERA saved state\nversion: 2.1\nuuid:    {UUID}\nseqno:   -1\n"
            "safe_to_bootstrap: 0\n")
    return lab


def action_context(root: Path) -> Context:
    # A fixed flag directory: the plan shows its path, and nothing is written in a plan.
    return Context(LabGaleraControl(crashed_lab(root)), CREDENTIALS,
                   Path("/srv/wpfarm/maintenance"))


def action_app(root: Path, read_only: bool = False, farm: Farm | None = None) -> WpfarmApp:
    return WpfarmApp(farm or action_farm(read_only), fixed_collectors(), poll=False,
                     clock=frozen_clock, read_only=read_only,
                     action_context=action_context(root))


async def settled(pilot, screen=None, timeout: float = 10.0) -> None:
    """Wait until the action screen is done planning (the plan is read in a thread)."""
    import time

    screen = screen or pilot.app.screen
    deadline = time.monotonic() + timeout
    await pilot.pause()
    while getattr(screen, "state", None) == "planning":
        assert time.monotonic() < deadline, "the plan never came"
        await pilot.pause(0.05)
    # The plan table sizes its columns on a later refresh than the one that adds its rows.
    await pilot.pause()
    await pilot.wait_for_scheduled_animations()
    await pilot.pause(0.2)
