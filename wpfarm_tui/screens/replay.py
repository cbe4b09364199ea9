"""The console on a recording (`wpfarm --replay FILE`): every pane and the incident view
as they were, on a timeline: play, pause, step, seek, speed. Read-only, and the
incident journal is left alone: a replay is not the farm now."""

from __future__ import annotations

import bisect
from datetime import datetime
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from wpfarm_tui.inventory import Farm
from wpfarm_tui.screens.console import ConsoleScreen
from wpfarm_tui.status.model import Snapshot
from wpfarm_tui.status.recording import Recording
from wpfarm_tui.status.texts import duration_text

TICK_S = 0.2  # how often the timeline moves while playing
SEEK_S = 60.0
SPEEDS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)


class _Pane:
    """A recorded pane: what the console needs of a collector to lay the pane out. It is
    never polled: the timeline applies the recorded snapshots."""

    def __init__(self, pane: str) -> None:
        self.pane = pane

    def collect(self) -> Snapshot:  # pragma: no cover - poll=False
        raise RuntimeError("a recorded pane is not polled")


class ReplayScreen(ConsoleScreen):
    BINDINGS: ClassVar = [
        Binding("space", "toggle_play", "Play/pause"),
        Binding("full_stop", "step(1)", "Step", show=False),
        Binding("comma", "step(-1)", "Back", show=False),
        Binding("right_square_bracket", f"seek({SEEK_S})", "+1 min", show=False),
        Binding("left_square_bracket", f"seek({-SEEK_S})", "-1 min", show=False),
        Binding("plus", "speed(1)", "Faster", show=False),
        Binding("minus", "speed(-1)", "Slower", show=False),
    ]

    def __init__(self, farm: Farm, recording: Recording, name: str = "") -> None:
        self.recording = recording
        self.label = name
        frames = recording.frames
        self.times = sorted({f.at for f in frames})
        self.by_pane: dict[str, tuple[list[float], list[Any]]] = {}
        for f in frames:
            at, snaps = self.by_pane.setdefault(f.pane, ([], []))
            at.append(f.at)
            snaps.append(f.snapshot)
        # Start where every recorded pane has shown something (a console records each
        # pane as its poll lands, a second or so apart).
        self.now = max((at[0] for at, _ in self.by_pane.values()), default=0.0)
        self.playing = False
        self.speed = 1.0
        self._shown: dict[str, int] = {}
        super().__init__(farm, [_Pane(p) for p in recording.panes], poll=False,
                         clock=self._clock, journal=False)

    def _clock(self) -> datetime:
        return datetime.fromtimestamp(self.now).astimezone()

    def compose(self) -> ComposeResult:
        yield Static(id="timeline")
        yield from super().compose()

    def on_mount(self) -> None:
        super().on_mount()
        # Once the panes are composed (after the first refresh), show the first moment.
        self.call_after_refresh(self.seek_to, self.now)
        self.set_interval(TICK_S, self._tick)

    # ------------------------------------------------------------ the timeline
    def seek_to(self, at: float) -> None:
        """Show every pane as it was at `at`: each pane's last snapshot at or before it."""
        if self.times:
            at = min(max(at, self.times[0]), self.times[-1])
        self.now = at
        for pane, (times, snaps) in self.by_pane.items():
            i = bisect.bisect_right(times, at) - 1
            if i >= 0 and self._shown.get(pane) != i:
                self._shown[pane] = i
                self.apply_snapshot(pane, snaps[i])
        self._show_timeline()

    def _tick(self) -> None:
        if not self.playing:
            return
        self.seek_to(self.now + TICK_S * self.speed)
        if self.times and self.now >= self.times[-1]:
            self.playing = False
            self._show_timeline()

    def action_toggle_play(self) -> None:
        if not self.playing and self.times and self.now >= self.times[-1]:
            self.now = self.times[0]  # at the end: play from the start again
        self.playing = not self.playing
        self._show_timeline()

    def action_step(self, direction: int) -> None:
        """To the next (or previous) moment a pane changed; pauses."""
        self.playing = False
        if not self.times:
            return
        if direction > 0:
            i = bisect.bisect_right(self.times, self.now)
            self.seek_to(self.times[min(i, len(self.times) - 1)])
        else:
            i = bisect.bisect_left(self.times, self.now) - 1
            self.seek_to(self.times[max(i, 0)])

    def action_seek(self, seconds: float) -> None:
        self.seek_to(self.now + seconds)

    def action_speed(self, direction: int) -> None:
        i = SPEEDS.index(self.speed) if self.speed in SPEEDS else SPEEDS.index(1.0)
        self.speed = SPEEDS[min(max(i + direction, 0), len(SPEEDS) - 1)]
        self._show_timeline()

    def timeline_text(self) -> str:
        if not self.times:
            return f"REPLAY {self.label}: the recording holds no snapshot"
        start, end = self.times[0], self.times[-1]
        when = datetime.fromtimestamp(self.now).astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")
        state = f"▶ {self.speed:g}x" if self.playing else f"❚❚ {self.speed:g}x"
        return (f"REPLAY {self.label} · {when} · {duration_text(self.now - start)} of "
                f"{duration_text(end - start)} · {state} · space play/pause · , . step · "
                "[ ] ±1 min · - + speed")

    def _show_timeline(self) -> None:
        if self.is_mounted:
            self.query_one("#timeline", Static).update(self.timeline_text())
