"""Storage pane: the farm's GlusterFS volume — peers, bricks (online, pid, port, free),
pending heal entries and split-brain entries per brick, options that drift from the farm's
definition (endpoints.gluster.options), and the mount on each app node.

Thresholds (the one place): a brick down, a peer disconnected, a split-brain entry or a
mount that does not answer is critical; pending heals and a drifting option are warnings.
glusterd stopped is its source down (the CLI fails at once), so it shows within one refresh.
"""

from __future__ import annotations

from dataclasses import dataclass

from wpfarm_tui.farm.gluster import (
    BrickStatus,
    GlusterClient,
    GlusterError,
    HealBrick,
    MountHealth,
    Peer,
    VolumeInfo,
    check_mount,
    local_runner,
    same_value,
    ssh_runner,
)
from wpfarm_tui.inventory import Farm, GlusterEndpoint
from wpfarm_tui.status.base import probe
from wpfarm_tui.status.model import Alert, SourceHealth, TextRow, _Alerts
from wpfarm_tui.status.thresholds import Level, worst


@dataclass(frozen=True)
class BrickRow:
    brick: str  # host:/path
    online: bool | None  # None: glusterd did not say (status failed)
    pid: int | None = None
    port: int | None = None
    free_bytes: int | None = None
    total_bytes: int | None = None
    pending: int | None = None  # heal entries waiting on this brick; None: it cannot say
    split_brain: int | None = None
    split_brain_files: tuple[str, ...] = ()

    @property
    def level(self) -> Level:
        if self.online is False or (self.split_brain or 0) > 0:
            return Level.CRITICAL
        if (self.pending or 0) > 0:
            return Level.WARNING
        return Level.OK if self.online else Level.UNKNOWN


@dataclass(frozen=True)
class OptionDrift:
    name: str
    wanted: str  # the farm's definition
    actual: str | None  # None: gluster does not know the option


@dataclass(frozen=True)
class StorageSnapshot:
    sources: tuple[SourceHealth, ...]
    volume: str = ""
    volume_status: str | None = None  # Started / Stopped / None (no such volume)
    replica: int | None = None
    peers: tuple[Peer, ...] = ()
    bricks: tuple[BrickRow, ...] = ()
    drift: tuple[OptionDrift, ...] = ()
    mounts: tuple[MountHealth, ...] = ()

    @property
    def split_brain_files(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(f for b in self.bricks for f in b.split_brain_files))

    @property
    def pending(self) -> int:
        return sum(b.pending or 0 for b in self.bricks)

    @property
    def level(self) -> Level:
        levels = [s.level for s in self.sources] + [b.level for b in self.bricks]
        levels += [Level.CRITICAL for p in self.peers if not p.connected]
        levels += [Level.CRITICAL for m in self.mounts if not m.ok]
        if self.drift:
            levels.append(Level.WARNING)
        if self.sources and self.sources[0].ok and self.volume_status != "Started":
            levels.append(Level.CRITICAL)
        return worst(levels)

    def rows(self) -> list[TextRow]:
        return [(b.level, {"brick": b.brick, "online": b.online, "pid": b.pid, "port": b.port,
                           "free": b.free_bytes, "pending heals": b.pending,
                           "split-brain": b.split_brain}) for b in self.bricks] + [
            (Level.CRITICAL if not m.ok else Level.OK,
             {"mount": f"{m.node}:{m.path}", "ok": m.ok, "error": m.error})
            for m in self.mounts]

    def alerts(self, at: float) -> list[Alert]:
        out = _Alerts("storage", at)
        v = self.volume
        if self.sources and self.sources[0].ok and self.volume_status != "Started":
            out.add(v, Level.CRITICAL, f"volume {v} is "
                    f"{(self.volume_status or 'missing').lower()}")
        for p in self.peers:
            if not p.connected:
                out.add(f"peer {p.hostname}", Level.CRITICAL, "peer disconnected")
        for b in self.bricks:
            if b.online is False:
                out.add(b.brick, Level.CRITICAL, "brick down", "gluster-brick-start")
            elif b.split_brain:
                out.add(b.brick, Level.CRITICAL,
                        f"{b.split_brain} split-brain entries: {', '.join(b.split_brain_files)}",
                        "gluster-split-brain", path=b.split_brain_files[0]
                        if b.split_brain_files else "", policy="bigger-file")
            elif b.pending:
                out.add(b.brick, Level.WARNING, f"{b.pending} entries waiting to heal",
                        "gluster-heal")
        for d in self.drift:
            out.add(f"option {d.name}", Level.WARNING,
                    f"{d.name} is {d.actual if d.actual is not None else 'unknown'}, "
                    f"the farm says {d.wanted}")
        for m in self.mounts:
            if not m.ok:
                out.add(f"mount {m.node}", Level.CRITICAL, f"{m.path}: {m.error}")
        return out.rows


def brick_rows(status: tuple[BrickStatus, ...] | None, heal: tuple[HealBrick, ...] | None,
               split: tuple[HealBrick, ...] | None, info: VolumeInfo | None) -> list[BrickRow]:
    """One row per brick, in the volume's order, from what each call could say (pure)."""
    names = list(info.bricks) if info else []
    for group in (status or (), heal or (), split or ()):
        names += [b.brick for b in group if b.brick not in names]
    by_status = {b.brick: b for b in status or ()}
    by_heal = {b.brick: b for b in heal or ()}
    by_split = {b.brick: b for b in split or ()}
    rows = []
    for name in names:
        s, h, sb = by_status.get(name), by_heal.get(name), by_split.get(name)
        online = s.online if s else (False if status is not None else None)
        rows.append(BrickRow(
            name, online, s.pid if s else None, s.port if s else None,
            s.free_bytes if s else None, s.total_bytes if s else None,
            h.entries if h else None, sb.entries if sb else None,
            sb.files if sb else ()))
    return rows


def option_drift(wanted: dict[str, str], actual: dict[str, str]) -> list[OptionDrift]:
    return [OptionDrift(k, v, actual.get(k)) for k, v in wanted.items()
            if k not in actual or not same_value(actual[k], v)]


def client_for(farm: Farm, endpoint: GlusterEndpoint) -> GlusterClient:
    """Local for the lab (no node), else `gluster` over SSH on the endpoint's node."""
    if endpoint.node is None:
        return GlusterClient(local_runner, endpoint.timeout, "local")
    node = next(n for n in farm.nodes if n.name == endpoint.node)
    return GlusterClient(ssh_runner(node), endpoint.timeout, node.name)


class StorageCollector:
    pane = "storage"

    def __init__(self, farm: Farm) -> None:
        assert farm.endpoints.gluster is not None
        self.farm = farm
        self.endpoint = farm.endpoints.gluster
        self.client = client_for(farm, self.endpoint)

    def collect(self) -> StorageSnapshot:
        ep, client, t = self.endpoint, self.client, self.endpoint.timeout
        name = "glusterd" if ep.node is None else f"glusterd@{ep.node}"
        peers, health = probe(name, client.pool, t)
        mounts = tuple(self._mounts())
        if peers is None:  # glusterd does not answer: nothing else will
            return StorageSnapshot((health,), ep.volume, mounts=mounts)
        info, info_h = probe("volume info", lambda: client.volume(ep.volume), t)
        if info is None:
            if info_h.ok:  # no such volume: glusterd answers, the volume is missing
                return StorageSnapshot((health,), ep.volume, None, None, peers, mounts=mounts)
            return StorageSnapshot((health, info_h), ep.volume, peers=peers, mounts=mounts)
        sources = [health]
        status = heal = split = None
        drift: list[OptionDrift] = []
        if info.status == "Started":
            status, h1 = probe("volume status", lambda: client.status(ep.volume), t)
            heal, h2 = probe("heal info", lambda: client.heal_info(ep.volume), t)
            split, h3 = probe("split-brain info", lambda: client.split_brain(ep.volume), t)
            sources += [h for h in (h1, h2, h3) if not h.ok]
        actual, h4 = probe("volume get", lambda: client.options(ep.volume), t)
        if actual is not None:
            drift = option_drift(dict(ep.options), actual)
        elif not h4.ok:
            sources.append(h4)
        return StorageSnapshot(tuple(sources), ep.volume, info.status, info.replica, peers,
                               tuple(brick_rows(status, heal, split, info)), tuple(drift),
                               mounts)

    def _mounts(self) -> list[MountHealth]:
        ep = self.endpoint
        if not ep.mount_nodes:
            return [check_mount(local_runner, "local", ep.mount, ep.timeout)]
        nodes = {n.name: n for n in self.farm.nodes}
        return [check_mount(ssh_runner(nodes[n]), n, ep.mount, ep.timeout)
                for n in ep.mount_nodes]


__all__ = ["BrickRow", "GlusterError", "OptionDrift", "StorageCollector", "StorageSnapshot"]
