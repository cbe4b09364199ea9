"""Storage: the GlusterFS volume — a summary line (volume, peers, pending heals, split-brain
files, drifting options), its bricks, and the mount on each app node."""

from __future__ import annotations

from collections.abc import Iterator

from rich.text import Text
from textual.widget import Widget
from textual.widgets import Static

from wpfarm_tui.farm.gluster import MountHealth
from wpfarm_tui.status.storage import BrickRow, StorageSnapshot
from wpfarm_tui.status.thresholds import Level
from wpfarm_tui.widgets import cells as c
from wpfarm_tui.widgets.base_pane import BasePane
from wpfarm_tui.widgets.keyed_table import KeyedTable

BRICKS = (
    ("level", "Lvl"),
    ("brick", "Brick"),
    ("online", "Online"),
    ("pid", "Pid", "right"),
    ("port", "Port", "right"),
    ("free", "Free", "right"),
    ("pending", "Pending heals", "right"),
    ("split", "Split-brain", "right"),
    ("files", "Split-brain files"),
)
MOUNTS = (
    ("level", "Lvl"),
    ("node", "Node"),
    ("path", "Mount"),
    ("state", "State"),
)


class StoragePane(BasePane):
    PANE = "storage"

    def compose_body(self) -> Iterator[Widget]:
        yield Static("", classes="pane-summary", id="storage-summary", markup=False)
        yield KeyedTable(BRICKS, title="GlusterFS bricks", id="bricks-table")
        yield KeyedTable(MOUNTS, title="Mounts", id="mounts-table")

    def render_snapshot(self, snapshot: StorageSnapshot, degraded: bool) -> None:
        self.query_one("#storage-summary", Static).update(self._summary(snapshot))
        self.sync_table(self.query_one("#bricks-table", KeyedTable), snapshot.bricks,
                        lambda b: b.brick, self._brick, degraded)
        self.sync_table(self.query_one("#mounts-table", KeyedTable), snapshot.mounts,
                        lambda m: f"{m.node}:{m.path}", self._mount, degraded)

    def _summary(self, snap: StorageSnapshot) -> Text:
        out = Text()
        out.append(f"{c.marker(snap.level)} {c.tag(snap.level)}  ",
                   style=f"bold {self.colour(snap.level)}")
        out.append(f"volume {snap.volume} {snap.volume_status or c.DASH}")
        if snap.replica:
            out.append(f" (replica {snap.replica})")
        connected = sum(1 for p in snap.peers if p.connected)
        out.append(f"   peers {connected} / {len(snap.peers)} connected",
                   style=self.colour(Level.CRITICAL) if connected < len(snap.peers) else "")
        if snap.pending:
            out.append(f"   {snap.pending} pending heals",
                       style=f"bold {self.colour(Level.WARNING)}")
        if snap.split_brain_files:
            out.append(f"   split-brain: {', '.join(snap.split_brain_files)}",
                       style=f"bold {self.colour(Level.CRITICAL)}")
        for d in snap.drift:
            out.append(f"   {d.name}={d.actual if d.actual is not None else c.DASH} "
                       f"(farm: {d.wanted})", style=self.colour(Level.WARNING))
        return out

    def _brick(self, b: BrickRow) -> tuple[Text, ...]:
        return (
            c.level_cell(b.level, self.palette),
            c.text(b.brick, style="bold"),
            c.yes_no(b.online, self.palette),
            c.number(b.pid, "{}"),
            c.number(b.port, "{}"),
            c.bytes_human(b.free_bytes),
            c.number(b.pending, "{}", style=self.colour(Level.WARNING) if b.pending else ""),
            c.number(b.split_brain, "{}",
                     style=self.colour(Level.CRITICAL) if b.split_brain else ""),
            c.clip(", ".join(b.split_brain_files), 40),
        )

    def _mount(self, m: MountHealth) -> tuple[Text, ...]:
        level = Level.OK if m.ok else Level.CRITICAL
        return (
            c.level_cell(level, self.palette),
            c.text(m.node),
            c.text(m.path),
            c.clip("mounted, answering" if m.ok else m.error, 60,
                   style="" if m.ok else self.colour(Level.CRITICAL)),
        )
