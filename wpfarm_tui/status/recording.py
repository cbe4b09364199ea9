"""Recordings of a farm's snapshots, for the post-mortem: `wpfarm record FILE`,
`wpfarm --record FILE` (the console records what it shows) and `wpfarm --replay FILE`.

A recording is gzip'd JSON lines: a header, then one line per snapshot as a pane showed
it (`{"t": epoch, "pane": key, "s": snapshot}`). Snapshots are the frozen dataclasses
of status/model.py, written as `--json` writes them and read back by their type hints,
so a replay shows every pane and the incident view exactly as they were. gzip takes the
repetition out of a farm that changes little from one second to the next."""

from __future__ import annotations

import dataclasses
import gzip
import json
import time
import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from wpfarm_tui.status.jsonable import jsonable
from wpfarm_tui.status.panes import BY_KEY
from wpfarm_tui.status.thresholds import Level

FORMAT = 1


class RecordingError(Exception):
    pass


_LEVELS = {level.label: level for level in Level}


def _decode(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        kinds = [a for a in args if a is not type(None)]
        return _decode(kinds[0], value) if len(kinds) == 1 else value
    if hint is Level:
        return _LEVELS[value]
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return decode(hint, value)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_decode(args[0], v) for v in value)
        return tuple(_decode(a, v) for a, v in zip(args, value, strict=False))
    if origin in (frozenset, set, list):
        return origin(_decode(args[0], v) for v in value) if args else origin(value)
    if origin in (dict, Mapping) or hint is Mapping:
        return {k: _decode(args[1], v) for k, v in value.items()} if args else dict(value)
    if hint is float and isinstance(value, int):
        return float(value)
    return value


def decode(cls: type, data: Mapping[str, Any]) -> Any:
    """A dataclass back from jsonable(): fields by their type hints; keys that are not
    fields (a property written for scripts, e.g. `level`) are left out."""
    hints = typing.get_type_hints(cls)
    kwargs = {f.name: _decode(hints[f.name], data[f.name])
              for f in dataclasses.fields(cls) if f.init and f.name in data}
    return cls(**kwargs)


@dataclass(frozen=True)
class Frame:
    at: float  # when the pane showed it (epoch seconds)
    pane: str
    snapshot: Any


class Recorder:
    """Appends snapshots to a recording. Flushed every `flush_s` seconds (and on close):
    a console that dies loses at most that much of its recording."""

    def __init__(self, path: Path, farm_name: str, flush_s: float = 5.0) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: TextIO = gzip.open(path, "wt", encoding="utf-8")  # noqa: SIM115 - closed by close()
        self._flush_s = flush_s
        self._flushed = time.monotonic()
        self._write({"wpfarm_recording": FORMAT, "farm": farm_name, "started": time.time()})

    def _write(self, doc: Mapping[str, Any]) -> None:
        self._file.write(json.dumps(doc, separators=(",", ":")) + "\n")

    def write(self, pane: str, snapshot: Any, at: float | None = None) -> None:
        self._write({"t": round(time.time() if at is None else at, 3), "pane": pane,
                     "s": jsonable(snapshot)})
        if time.monotonic() - self._flushed >= self._flush_s:
            self._file.flush()
            self._flushed = time.monotonic()

    def close(self) -> None:
        self._file.close()


@dataclass(frozen=True)
class Recording:
    farm: str
    started: float
    frames: tuple[Frame, ...]

    @property
    def panes(self) -> list[str]:
        seen = {f.pane for f in self.frames}
        return [p for p in BY_KEY if p in seen]


def _lines(path: Path) -> Iterator[str]:
    try:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            yield from f
    except EOFError:
        return  # a recording whose writer died mid-block: what was flushed is read
    except (OSError, gzip.BadGzipFile) as exc:
        raise RecordingError(f"{path}: not a wpfarm recording ({exc})") from None


def load(path: Path) -> Recording:
    """A recording, every frame decoded; a line cut short at the end is dropped."""
    lines = _lines(path)
    try:
        header = json.loads(next(lines))
    except (StopIteration, json.JSONDecodeError):
        raise RecordingError(f"{path}: empty, or not a wpfarm recording") from None
    if not isinstance(header, dict) or header.get("wpfarm_recording") != FORMAT:
        raise RecordingError(f"{path}: not a wpfarm recording of format {FORMAT}")
    frames = []
    for line in lines:
        try:
            doc = json.loads(line)
        except json.JSONDecodeError:
            break  # the last line of a recording that was cut off
        spec = BY_KEY.get(doc.get("pane"))
        if spec is None:
            continue  # a pane this version does not have
        frames.append(Frame(float(doc["t"]), spec.key, decode(spec.snapshot, doc["s"])))
    return Recording(str(header.get("farm", "")), float(header.get("started", 0.0)),
                     tuple(sorted(frames, key=lambda f: f.at)))
