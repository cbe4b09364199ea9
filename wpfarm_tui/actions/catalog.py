"""Every action the console and the CLI offer, in one list, and which one fits an alert.

The console's palette ("Run: <title>"), the pane keys and the Alerts pane build actions
through `CATALOG`; the read-only test walks the whole list. An entry's fields describe its
inputs once: the console's form, and the CLI's arguments, help and shell completion
(`commands/procedures.py` makes the verb's parser from them).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wpfarm_tui.actions.base import Action, ActionError
from wpfarm_tui.inventory import Farm


@dataclass(frozen=True)
class Context:
    """What actions need beyond the farm file (until the inventory has fields for them)."""

    galera_control: Any = None  # a farm.galera_control.GaleraControl
    crowdsec_credentials: Path | None = None  # a machine's local_api_credentials.yaml
    maintenance_dir: Path | None = None  # where the web servers look for maintenance flags

    @classmethod
    def for_farm(cls, farm: Farm, *, crowdsec_credentials: Path | None = None,
                 maintenance_dir: Path | None = None) -> Context:
        """The loopback lab has a local Galera control and keeps its maintenance flags next
        to its farm.yaml; a farm with a Swarm manager (endpoints.docker) and Galera nodes,
        the swarm lab included, gets the Swarm control."""
        control = None
        cs = farm.endpoints.crowdsec
        if crowdsec_credentials is None and cs and cs.machine_credentials \
                and cs.machine_credentials.kind == "file":
            crowdsec_credentials = Path(cs.machine_credentials.ref).expanduser()
        if maintenance_dir is None and farm.sites.maintenance_dir:
            maintenance_dir = Path(farm.sites.maintenance_dir)
        if farm.is_loopback_lab:
            from wpfarm_tui.farm.galera_control import LabGaleraControl
            from wpfarm_tui.lab import Lab

            root = farm.source.parent if farm.source else None
            control = LabGaleraControl(Lab(root))
            if maintenance_dir is None and root is not None:
                maintenance_dir = root / "maintenance"
        elif farm.endpoints.docker is not None and farm.endpoints.galera is not None:
            from wpfarm_tui.farm.galera_swarm import SwarmGaleraControl

            control = SwarmGaleraControl(farm)  # connects on first use, not here
        return cls(control, crowdsec_credentials, maintenance_dir)

    def control(self) -> Any:
        if self.galera_control is None:
            raise ActionError("galera node control: needs endpoints.docker (a Swarm "
                              "manager's Docker API) and endpoints.galera in the farm file")
        return self.galera_control


@dataclass(frozen=True)
class Field:
    """One input of a procedure, described once: the console's form field and the CLI's
    argument (`commands/procedures.py` turns it into argparse, help and completion)."""

    key: str  # the builder's key and the CLI's dest (`args.<key>`)
    label: str  # the form's label
    default: str = ""  # the form's starting value; an optional CLI option's default too
    help: str | None = None  # the CLI's help for the argument
    option: bool = False  # `--key VALUE` on the CLI; else a positional
    required: bool = True  # the CLI may leave it out (an optional positional is `nargs="?"`)
    completer: str | None = None  # a completer's name in commands/completion.py
    choices: tuple[str, ...] = ()
    metavar: str | None = None  # the CLI's name for the value; default: the key in capitals

    @property
    def flag(self) -> str:
        return "--" + self.key.replace("_", "-")


Builder = Callable[[Farm, Context, Mapping[str, str]], Action]


@dataclass(frozen=True)
class Entry:
    name: str
    title: str
    build: Builder
    fields: tuple[Field, ...] = ()
    cli: tuple[str, ...] = ()  # the verb's words (and a flag that picks this entry: --all)
    example: Mapping[str, str] = field(default_factory=dict)  # valid inputs on the lab
    help: str = ""  # the CLI verb's one-line help

    @property
    def verb(self) -> tuple[str, ...]:
        """The words that name the CLI parser: `("galera", "rejoin")`."""
        return tuple(w for w in self.cli if not w.startswith("-"))

    def field(self, key: str) -> Field:
        return next(f for f in self.fields if f.key == key)

    def cli_args(self, values: Mapping[str, str] | None = None) -> list[str]:
        """The command line that runs this procedure with these inputs (the example's
        where one is missing): the words, then positionals in order and options given."""
        vals = {**self.example, **(values or {})}
        args = list(self.cli)
        for f in self.fields:
            value = vals.get(f.key, "")
            if f.option:
                args += [f.flag, value] if value else []
            elif value or f.required:
                args.append(value)
        return args


def _galera(cls_name: str, **kw: Any) -> Builder:
    def build(farm: Farm, ctx: Context, v: Mapping[str, str]) -> Action:
        from wpfarm_tui.actions import galera

        if cls_name == "recover":
            return galera.GaleraRecover(farm, ctx.control())
        if cls_name == "rejoin":
            return galera.GaleraRejoin(farm, ctx.control(), v.get("node", ""))
        return galera.GaleraDesync(farm, v.get("node", ""), on=kw["on"])

    return build


def _redis_failover(farm: Farm, ctx: Context, v: Mapping[str, str]) -> Action:
    from wpfarm_tui.actions.redis import RedisFailover

    return RedisFailover(farm)


def _purge(all_sites: bool) -> Builder:
    def build(farm: Farm, ctx: Context, v: Mapping[str, str]) -> Action:
        from wpfarm_tui.actions.cache import CachePurge

        if all_sites:
            return CachePurge(farm, all_sites=True)
        return CachePurge(farm, v.get("domain", ""))

    return build


def _ban(farm: Farm, ctx: Context, v: Mapping[str, str]) -> Action:
    from wpfarm_tui.actions.crowdsec import BanAction

    return BanAction(farm, v.get("ip", ""), duration=v.get("duration", "4h"),
                     reason=v.get("reason", ""), credentials=ctx.crowdsec_credentials)


def _unban(farm: Farm, ctx: Context, v: Mapping[str, str]) -> Action:
    from wpfarm_tui.actions.crowdsec import UnbanAction

    return UnbanAction(farm, v.get("ip", ""), credentials=ctx.crowdsec_credentials)


def _maintenance(on: bool, all_sites: bool) -> Builder:
    def build(farm: Farm, ctx: Context, v: Mapping[str, str]) -> Action:
        from wpfarm_tui.actions.maintenance import Maintenance

        return Maintenance(farm, None if all_sites else v.get("domain", ""), on=on,
                           all_sites=all_sites, flag_dir=ctx.maintenance_dir)

    return build


def _site(kind: str) -> Builder:
    def build(farm: Farm, ctx: Context, v: Mapping[str, str]) -> Action:
        from wpfarm_tui.actions.site import CreateSite, DeleteSite, SuspendSite
        from wpfarm_tui.sites.runtime import runtime_for

        if kind in ("suspend", "resume"):
            return SuspendSite(farm, v.get("domain", ""), suspend=kind == "suspend",
                               flag_dir=ctx.maintenance_dir)
        runtime, host = runtime_for(farm)
        if kind == "create":
            return CreateSite(farm, runtime, v.get("domain", ""), v.get("title", ""),
                              db_user_host=host)
        return DeleteSite(farm, runtime, v.get("domain", ""), db_user_host=host)

    return build


def _backup(farm: Farm, ctx: Context, v: Mapping[str, str]) -> Action:
    from wpfarm_tui.actions.backup import BackupAction

    return BackupAction(farm, [v["domain"]] if v.get("domain") else None)


def _bootstrap(farm: Farm, ctx: Context, v: Mapping[str, str]) -> Action:
    from wpfarm_tui.actions.bootstrap import BootstrapAction, ssh_runner

    return BootstrapAction(farm, ssh_runner(60.0))


def _swarm(kind: str) -> Builder:
    def build(farm: Farm, ctx: Context, v: Mapping[str, str]) -> Action:
        from wpfarm_tui.actions import swarm

        if kind in ("drain", "activate"):
            return swarm.NodeAvailability(farm, v.get("node", ""), drain=kind == "drain")
        if kind == "scale":
            return swarm.ScaleService(farm, v.get("service", ""), v.get("replicas", ""))
        if kind == "restart":
            return swarm.RestartService(farm, v.get("service", ""))
        return swarm.RollbackService(farm, v.get("service", ""))

    return build


def _gluster(kind: str) -> Builder:
    def build(farm: Farm, ctx: Context, v: Mapping[str, str]) -> Action:
        from wpfarm_tui.actions import gluster

        if kind == "heal":
            return gluster.GlusterHeal(farm)
        if kind == "brick-start":
            return gluster.GlusterBrickStart(farm)
        if kind == "bootstrap":
            from wpfarm_tui.actions.bootstrap import GlusterBootstrap, ssh_runner

            return GlusterBootstrap(farm, ssh_runner(120.0))
        return gluster.GlusterSplitBrain(farm, v.get("path", ""), v.get("policy", ""),
                                         v.get("brick", ""))

    return build


GALERA_NODE = Field("node", "Galera node", "galera-1",
                    help="a node name of endpoints.galera.nodes", completer="galera_nodes")
SWARM_NODE = Field("node", "Swarm node (hostname)", completer="swarm_nodes")
SERVICE = Field("service", "Service", completer="services")
DOMAIN = Field("domain", "Site domain", completer="site_domains")
NEW_DOMAIN = Field("domain", "Site domain")  # a site to create: none to complete
IP = Field("ip", "IP or CIDR range", help="an IP address or CIDR range")

CATALOG: tuple[Entry, ...] = (
    Entry("galera-recover", "Galera full-crash recovery", _galera("recover"),
          cli=("galera", "recover"),
          help="full-crash recovery (bootstrap the most advanced node)"),
    Entry("galera-rejoin", "Galera: rejoin a node", _galera("rejoin"), (GALERA_NODE,),
          ("galera", "rejoin"), {"node": "galera-3"},
          help="start a stopped node, wait Synced"),
    Entry("galera-desync", "Galera: desync a node", _galera("desync", on=True),
          (GALERA_NODE,), ("galera", "desync"), {"node": "galera-2"},
          help="SET GLOBAL wsrep_desync=ON"),
    Entry("galera-resync", "Galera: resync a node", _galera("desync", on=False),
          (GALERA_NODE,), ("galera", "resync"), {"node": "galera-2"},
          help="SET GLOBAL wsrep_desync=OFF"),
    Entry("redis-failover", "Redis: Sentinel failover", _redis_failover,
          cli=("redis", "failover"), help="SENTINEL FAILOVER: promote a replica"),
    Entry("cache-purge", "Cache purge: one site", _purge(False), (DOMAIN,),
          ("cache", "purge"), {"domain": "site1.test"},
          help="ban the site's Varnish objects, delete its keys"),
    Entry("cache-purge-all", "Cache purge: every site", _purge(True),
          cli=("cache", "purge", "--all")),
    Entry("ban", "CrowdSec: ban", _ban,
          (IP, Field("duration", "Duration (30m, 4h, 7d)", "4h", "30m, 4h, 7d (default 4h)",
                     option=True, required=False),
           Field("reason", "Reason", help="why (shown in the CrowdSec pane)", option=True)),
          ("ban",), {"ip": "192.0.2.10", "duration": "4h", "reason": "manual: abuse"},
          help="ban an IP or CIDR range in CrowdSec"),
    Entry("unban", "CrowdSec: unban", _unban, (IP,), ("unban",), {"ip": "192.0.2.10"},
          help="delete the decisions of an IP or range"),
    Entry("maintenance-on", "Maintenance on: one site", _maintenance(True, False), (DOMAIN,),
          ("maintenance", "on"), {"domain": "site1.test"}, help="maintenance mode on"),
    Entry("maintenance-off", "Maintenance off: one site", _maintenance(False, False),
          (DOMAIN,), ("maintenance", "off"), {"domain": "site1.test"},
          help="maintenance mode off"),
    Entry("maintenance-all-on", "Maintenance on: every site", _maintenance(True, True),
          cli=("maintenance", "on", "--all")),
    Entry("maintenance-all-off", "Maintenance off: every site", _maintenance(False, True),
          cli=("maintenance", "off", "--all")),
    Entry("site-create", "Site: create", _site("create"),
          (NEW_DOMAIN, Field("title", "Title", option=True, required=False)),
          ("site", "create"), {"domain": "new.lab.test"}),
    Entry("site-delete", "Site: delete", _site("delete"), (DOMAIN,),
          ("site", "delete"), {"domain": "site2.test"}),
    Entry("site-suspend", "Site: suspend", _site("suspend"), (DOMAIN,),
          ("site", "suspend"), {"domain": "site1.test"},
          help="maintenance page (503 + Retry-After)"),
    Entry("site-resume", "Site: resume", _site("resume"), (DOMAIN,),
          ("site", "resume"), {"domain": "site1.test"}, help="serve the site again"),
    Entry("backup", "Backup now (one site, or all when empty)", _backup, (DOMAIN,),
          ("backup",), {"domain": "site1.test"}),
    Entry("bootstrap", "Bootstrap the Swarm over SSH", _bootstrap, cli=("bootstrap",)),
    Entry("node-drain", "Swarm: drain a node", _swarm("drain"), (SWARM_NODE,),
          ("node", "drain"), {"node": "node3"}),
    Entry("node-activate", "Swarm: activate a node", _swarm("activate"), (SWARM_NODE,),
          ("node", "activate"), {"node": "node3"}),
    Entry("service-scale", "Swarm: scale a service", _swarm("scale"),
          (SERVICE, Field("replicas", "Replicas", "2", metavar="N")),
          ("service", "scale"), {"service": "drill-web", "replicas": "2"},
          help="set the number of replicas"),
    Entry("service-restart", "Swarm: rolling restart", _swarm("restart"), (SERVICE,),
          ("service", "restart"), {"service": "drill-web"}, help="rolling restart"),
    Entry("service-rollback", "Swarm: roll back a service", _swarm("rollback"), (SERVICE,),
          ("service", "rollback"), {"service": "drill-web"},
          help="back to the previous spec"),
    Entry("gluster-bootstrap", "GlusterFS: set up the volume over SSH",
          _gluster("bootstrap"), cli=("gluster", "bootstrap"),
          help="peer probe, volume create (replica 3), options, start, mount + fstab on "
          "every app node; idempotent"),
    Entry("gluster-heal", "GlusterFS: heal the volume", _gluster("heal"),
          cli=("gluster", "heal"), help="trigger the heal, wait while it moves, verify 0 "
          "pending"),
    Entry("gluster-brick-start", "GlusterFS: bring offline bricks back",
          _gluster("brick-start"), cli=("gluster", "brick-start"),
          help="volume start force, wait every brick online, heal"),
    Entry("gluster-split-brain", "GlusterFS: resolve a split-brain file",
          _gluster("split-brain"),
          (Field("path", "File (from the volume's root)",
                 help="the file as `wpfarm storage` lists it, e.g. /sites/a.test/x.jpg"),
           Field("policy", "Policy", "bigger-file", "which copy wins: bigger-file, "
                 "latest-mtime or source-brick (with --brick)", option=True,
                 choices=("bigger-file", "latest-mtime", "source-brick")),
           Field("brick", "Source brick (source-brick only)",
                 help="host:/path of the brick whose copy wins (--policy source-brick)",
                 option=True, required=False)),
          ("gluster", "split-brain"), {"path": "/sites/site1.test/a.txt",
                                       "policy": "bigger-file"},
          help="keep one copy of a file in split-brain by a policy"),
)
BY_NAME: dict[str, Entry] = {e.name: e for e in CATALOG}


def entry(name: str) -> Entry:
    return BY_NAME[name]

