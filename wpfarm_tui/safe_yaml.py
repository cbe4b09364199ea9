"""YAML for configuration files an operator writes: bounded, and refusing what hides intent.

The tree is built from the parser's event stream in a loop, never by recursion, and
nothing is constructed from a tag: so a hostile or mangled file cannot exhaust the stack,
expand into gigabytes (aliases are refused, so no "billion laughs"), or run a constructor.
What a farm file has no use for is refused with its line, the field and the fix:
anchors and aliases, merge keys (`<<`), explicit tags (`!!bool 2`), duplicate keys (the
last one silently winning turned `read_only: true` off), a second document, complex
keys, control characters, numbers too long to be numbers, bytes that are not UTF-8.

Mappings and lists come back as `LocDict`/`LocList`: plain dicts and lists that also
know the line of each key and item, so the schema checks can point at the line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.resolver import Resolver

MAX_BYTES = 1 << 20  # 1 MiB: a large farm's file is a few tens of KiB
MAX_DEPTH = 32  # a farm file nests 5 deep
MAX_VALUES = 20_000  # keys, scalars and collections; a 100-node farm has a few thousand
MAX_PROBLEMS = 100  # then stop: the operator has enough to fix
MAX_NUMBER_CHARS = 64  # longer "numbers" are typos or attacks (int() of 10^6 digits is slow)
SHOWN_CHARS = 80  # values quoted back in messages are cut here

# libyaml parses a 1 MiB file in well under a second; the pure-Python parser takes ~10 s,
# so it is the fallback only (MAX_VALUES bounds it too).
_PARSER: Any = yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader
_RESOLVER = Resolver()
_CONSTRUCTOR = SafeConstructor()
_BOOLS = SafeConstructor.bool_values
_TAG = "tag:yaml.org,2002:"
# What YAML itself refuses in a stream (PyYAML's Reader), checked here first so the
# problem has a line; lone surrogates are in it too.
_NON_PRINTABLE = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd"
                            "\U00010000-\U0010ffff]")
# What quoted escapes ("\0", "\e", "\ud800") can still put into a value: no field of a
# farm file wants them, and they would reach terminals, paths and sockets.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


@dataclass(frozen=True)
class YamlProblem:
    line: int | None
    field: str  # dotted path like endpoints.galera.password; "" for the whole file
    message: str
    fix: str


class YamlRefused(Exception):
    """The file cannot be read as a farm file; every problem found, in file order."""

    def __init__(self, problems: list[YamlProblem]):
        self.problems = problems
        super().__init__("; ".join(p.message for p in problems))


class LocDict(dict):
    """A mapping that remembers its own line and the line of each of its keys."""

    line: int
    lines: dict[str, int]


class LocList(list):
    """A list that remembers its own line and the line of each item."""

    line: int
    lines: list[int]


def shown(value: object, limit: int = SHOWN_CHARS) -> str:
    """`repr(value)` cut to `limit` characters, for quoting a value back in a message."""
    text = repr(value) if not isinstance(value, str) else repr(value[: limit + 1])
    return text if len(text) <= limit else text[:limit] + "…"


def decode(data: bytes) -> str:
    """UTF-8 text, or YamlRefused naming the line and byte offset of the first bad byte."""
    if len(data) > MAX_BYTES:
        raise YamlRefused([too_large(len(data))])
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise YamlRefused([YamlProblem(
            line, "", f"is not UTF-8 text: byte 0x{data[exc.start]:02x} at byte offset "
            f"{exc.start}", "save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`)")]) from None


def too_large(size: int | None = None) -> YamlProblem:
    """The problem of a file over MAX_BYTES (of `size` bytes when known)."""
    what = f"is {size:,} bytes" if size is not None else "is larger than that"
    return YamlProblem(None, "", f"{what}; a farm file may be at most {MAX_BYTES:,} bytes "
                       "(1 MiB)", "check that --farm names the farm file")


class _Frame:
    """An open mapping or list while its events arrive."""

    __slots__ = ("container", "path", "key", "key_line", "drop", "index")

    def __init__(self, container: LocDict | LocList, path: str):
        self.container = container
        self.path = path
        self.key: str | None = None  # mapping: the key whose value comes next
        self.key_line = 0
        self.drop = False  # the value coming next is not kept (its key was refused)
        self.index = 0  # list: the next item's index


class _Builder:
    def __init__(self) -> None:
        self.problems: list[YamlProblem] = []
        self.stack: list[_Frame] = []
        self.root: Any = None
        self.values = 0
        self.first: dict[str, int] = {}  # "anchor"/"alias" -> index of its problem
        self.more: dict[str, int] = {}

    # -- where we are
    def path(self) -> str:
        """The dotted path of the value about to be read."""
        if not self.stack:
            return ""
        frame = self.stack[-1]
        if isinstance(frame.container, LocList):
            return f"{frame.path}[{frame.index}]"
        if frame.key is None:
            return frame.path
        return f"{frame.path}.{frame.key}" if frame.path else frame.key

    def problem(self, line: int | None, field: str, message: str, fix: str) -> None:
        self.problems.append(YamlProblem(line, cut(field, 120), message, fix))
        if len(self.problems) >= MAX_PROBLEMS:
            raise _Stop

    def once(self, kind: str, line: int, field: str, message: str, fix: str) -> None:
        """The first anchor (or alias) is reported, the others counted into its message: a
        billion-laughs file has hundreds, and the fix is the same for all."""
        if kind not in self.first:
            self.first[kind] = len(self.problems)
            self.more[kind] = 0
            self.problem(line, field, message, fix)
        else:
            self.more[kind] += 1

    def finish(self) -> None:
        plural = {"anchor": "anchors", "alias": "aliases"}
        for kind, at in self.first.items():
            if self.more[kind]:
                p = self.problems[at]
                message = f"{p.message} (and {self.more[kind]:,} more {plural[kind]} after it)"
                self.problems[at] = YamlProblem(p.line, p.field, message, p.fix)

    def fatal(self, line: int | None, message: str, fix: str) -> None:
        self.problems.append(YamlProblem(line, cut(self.path(), 120), message, fix))
        raise _Stop

    # -- events
    def feed(self, ev: yaml.Event) -> None:
        if isinstance(ev, yaml.MappingEndEvent | yaml.SequenceEndEvent):
            frame = self.stack.pop()
            self.attach(frame.container, frame.container.line)
            return
        line = ev.start_mark.line + 1
        self.values += 1
        if self.values > MAX_VALUES:
            self.fatal(line, f"has more than {MAX_VALUES:,} values",
                       "a farm file is far smaller: check that --farm names the farm file")
        expecting_key = (bool(self.stack) and isinstance(self.stack[-1].container, LocDict)
                         and self.stack[-1].key is None)
        where = self.path()
        if isinstance(ev, yaml.AliasEvent):
            self.once("alias", line, where, f"uses the alias *{cut(ev.anchor)}; anchors and "
                      "aliases are not supported in a farm file", "write the value out in full")
            self.attach(None, line)
            return
        assert isinstance(ev, yaml.NodeEvent)
        if ev.anchor is not None:
            self.once("anchor", line, where, f"defines the anchor &{cut(ev.anchor)}; anchors "
                      "and aliases are not supported in a farm file",
                      f"remove `&{cut(ev.anchor)}` and write the value out where it is used")
        if ev.tag is not None:
            tag = cut("!!" + ev.tag[len(_TAG):] if ev.tag.startswith(_TAG) else ev.tag)
            self.problem(line, where, f"has the explicit tag {tag}; tags are not supported in "
                         "a farm file", f"remove `{tag}` and write a plain value (true, 5, name)")
        if isinstance(ev, yaml.MappingStartEvent | yaml.SequenceStartEvent):
            if len(self.stack) >= MAX_DEPTH:
                self.fatal(line, f"is nested more than {MAX_DEPTH} levels deep",
                           "a farm file nests a few levels: check the brackets and indentation")
            if expecting_key:
                self.problem(line, where, "has a list or mapping as a key",
                             "keys are plain names like `timeout`")
            container: LocDict | LocList
            if isinstance(ev, yaml.MappingStartEvent):
                container = LocDict()
                container.lines = {}
            else:
                container = LocList()
                container.lines = []
            container.line = line
            self.stack.append(_Frame(container, where))
            return
        assert isinstance(ev, yaml.ScalarEvent)
        if m := _CONTROL.search(ev.value):
            self.problem(line, where, f"contains the control character U+{ord(m.group()):04X}",
                         "remove it (from the \\ escape in the quoted value)")
        if expecting_key:
            self.key(ev, line, where)
        else:
            self.attach(self.scalar(ev, line, where), line)

    def key(self, ev: yaml.ScalarEvent, line: int, where: str) -> None:
        frame = self.stack[-1]
        key = ev.value
        field = f"{frame.path}.{key}" if frame.path else key
        if ev.implicit[0] and key == "<<":
            self.problem(line, field if frame.path else "<<", "is a merge key (<<); merge keys "
                         "are not supported in a farm file", "write the merged keys out in full")
            frame.drop = True
        elif key in frame.container:
            self.problem(line, field, f"is a duplicate key: `{cut(key)}` is also on line "
                         f"{frame.container.lines[key]}", "keep one of the two lines")
            frame.drop = True
        frame.key = key
        frame.key_line = line

    def scalar(self, ev: yaml.ScalarEvent, line: int, where: str) -> Any:
        """A plain scalar's YAML 1.1 type (null, bool, int, float); anything else is text."""
        if ev.tag is not None or not ev.implicit[0]:
            return ev.value  # quoted (or refused above): text
        tag = _RESOLVER.resolve(yaml.ScalarNode, ev.value, (True, False))
        if tag == _TAG + "null":
            return None
        if tag == _TAG + "bool":
            return _BOOLS[ev.value.lower()]
        if tag in (_TAG + "int", _TAG + "float"):
            if len(ev.value) > MAX_NUMBER_CHARS:
                self.problem(line, where, f"is a number of {len(ev.value):,} characters",
                             f"write a number of at most {MAX_NUMBER_CHARS} characters")
                return None
            node = yaml.ScalarNode(tag, ev.value)
            try:
                if tag == _TAG + "int":
                    return _CONSTRUCTOR.construct_yaml_int(node)
                return _CONSTRUCTOR.construct_yaml_float(node)
            except (ValueError, OverflowError):
                self.problem(line, where, f"is not a number PyYAML can read: {shown(ev.value)}",
                             "write a plain decimal number")
                return None
        return ev.value  # timestamps, `=`, `<<` as a value: nothing here wants them typed

    def attach(self, value: Any, line: int) -> None:
        if not self.stack:
            self.root = value
            return
        frame = self.stack[-1]
        container = frame.container
        if isinstance(container, LocList):
            container.append(value)
            container.lines.append(line)
            frame.index += 1
            return
        if frame.key is None:  # a refused key (a collection or alias) ended: drop its value
            frame.key = "?"
            frame.key_line = line
            frame.drop = True
            return
        if not frame.drop:
            container[frame.key] = value
            container.lines[frame.key] = frame.key_line
        frame.key = None
        frame.drop = False


class _Stop(Exception):
    """Enough problems, or one that ends the parse."""


def cut(text: str, limit: int = 40) -> str:
    """`text` cut to `limit` characters (and "…"), for names quoted in messages."""
    return text if len(text) <= limit else text[:limit] + "…"


def load(text: str) -> Any:
    """The one document in `text` as LocDict/LocList/scalars (None when empty).

    Raises YamlRefused with every problem found (up to MAX_PROBLEMS)."""
    if len(text) > MAX_BYTES:  # characters >= bytes / 4; the byte check is in decode()
        raise YamlRefused([too_large(len(text.encode("utf-8", "surrogatepass")))])
    if m := _NON_PRINTABLE.search(text):
        line = text.count("\n", 0, m.start()) + 1
        raise YamlRefused([YamlProblem(line, "", f"contains the control character "
                                       f"U+{ord(m.group()):04X}", "delete it")])
    builder = _Builder()
    documents = 0
    try:
        for ev in yaml.parse(text, Loader=_PARSER):
            if isinstance(ev, yaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    builder.fatal(ev.start_mark.line + 1, "holds a second YAML document (`---`)",
                                  "keep one document: remove the second `---` and what follows")
            elif isinstance(ev, yaml.NodeEvent | yaml.CollectionEndEvent):
                builder.feed(ev)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        if mark is not None:
            line: int | None = mark.line + 1
        elif isinstance(exc, yaml.reader.ReaderError):
            line = text.count("\n", 0, exc.position) + 1
        else:
            line = None
        what = getattr(exc, "problem", None) or str(exc)
        builder.problems.append(YamlProblem(line, cut(builder.path(), 120),
                                            f"is not valid YAML: {what}",
                                            "check indentation and quoting on that line"))
    except _Stop:
        pass
    builder.finish()
    if builder.problems:
        raise YamlRefused(sorted(builder.problems, key=lambda p: p.line or 0))
    return builder.root
