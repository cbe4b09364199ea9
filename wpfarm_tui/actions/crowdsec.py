"""CrowdSec: list decisions, ban an IP or a range for a while with a reason, unban.

Reading goes through the bouncer key. Banning and unbanning need more, one of two ways
(`decision_writer`): a machine (watcher) login with its `local_api_credentials.yaml`
(endpoints.crowdsec.machine_credentials or --machine-credentials), or, on a Swarm,
`cscli` inside the LAPI's task on its node over SSH (endpoints.crowdsec.node/container).
Either way the verify step reads the effect back through the bouncer view.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Generator, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from wpfarm_tui.actions.base import ActionError, Step, StepEvent, Verdict
from wpfarm_tui.farm.crowdsec import CrowdSecClient, CscliError, TaskDecisions, WatcherClient
from wpfarm_tui.inventory import CrowdSecEndpoint, Farm, Node
from wpfarm_tui.status.bans import ban_from_decision
from wpfarm_tui.status.model import Ban

_DURATION_RE = re.compile(r"([0-9]{1,9})([smhd])")  # ASCII digits only: not '４h'
# The broadest ranges a ban may cover: a wider one is more likely a typo than a plan.
MAX_RANGE = {4: 16, 6: 48}
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_DURATION_S = 365 * 86400
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def crowdsec_endpoint(farm: Farm) -> CrowdSecEndpoint:
    if farm.endpoints.crowdsec is None:
        raise ActionError("endpoints.crowdsec: missing in the farm file; add the LAPI url and "
                          "the bouncer key")
    return farm.endpoints.crowdsec


def parse_duration(value: str | None) -> str:
    """'30m', '4h', '7d' -> a duration the LAPI accepts (days become hours)."""
    text = (value or "").strip().lower()
    match = _DURATION_RE.fullmatch(text)
    if not match:
        raise ActionError(f"duration: {value!r} is not a duration; write a number and a unit "
                          "s/m/h/d, e.g. 30m, 4h or 7d")
    number, unit = int(match.group(1)), match.group(2)
    seconds = number * _UNIT_S[unit]
    if seconds <= 0:
        raise ActionError("duration: must be longer than zero, e.g. 4h")
    if seconds > MAX_DURATION_S:
        raise ActionError(f"duration: {value} is longer than a year; use at most 365d")
    return f"{number * 24}h" if unit == "d" else f"{number}{unit}"


def _v4(value: int, prefixlen: int) -> ipaddress.IPv4Network:
    return ipaddress.IPv4Network((value & 0xFFFFFFFF, max(0, min(32, prefixlen))), strict=False)


# IPv6 prefixes that carry an IPv4 address: (prefix, bit offset of the IPv4 address).
_EMBEDDINGS = ((ipaddress.IPv6Network("::ffff:0:0/96"), 96),    # IPv4-mapped
               (ipaddress.IPv6Network("64:ff9b::/96"), 96),     # NAT64 (RFC 6052)
               (ipaddress.IPv6Network("::/96"), 96),            # IPv4-compatible
               (ipaddress.IPv6Network("2002::/16"), 16))        # 6to4


def _ipv4_forms(network: ipaddress.IPv6Network) -> list[ipaddress.IPv4Network]:
    """The IPv4 addresses an IPv6 address or range reaches through an embedding."""
    out = []
    for prefix, offset in _EMBEDDINGS:
        if network.subnet_of(prefix):
            shift = 128 - offset - 32
            out.append(_v4(int(network.network_address) >> shift,
                           network.prefixlen - offset))
        elif network.supernet_of(prefix):  # e.g. 64:ff9b::/64: every embedded address
            out.append(ipaddress.IPv4Network("0.0.0.0/0"))
    if network.num_addresses == 1 and network.network_address.teredo:
        out.append(ipaddress.IPv4Network(network.network_address.teredo[1]))
    return out


def _protected(farm: Farm) -> list[tuple[Network, str]]:
    """What a ban must never cover, with the reason said in the refusal."""
    nets: list[tuple[Network, str]] = [
        (ipaddress.ip_network("127.0.0.0/8"), "a loopback address: banning it would cut the "
                                              "farm off from itself"),
        (ipaddress.ip_network("::1/128"), "a loopback address: banning it would cut the farm "
                                          "off from itself"),
        (ipaddress.ip_network("0.0.0.0/8"), "the unspecified address (0.0.0.0/8)"),
        (ipaddress.ip_network("::/128"), "the unspecified address"),
        (ipaddress.ip_network("169.254.0.0/16"), "link-local (169.254.0.0/16): the farm's "
                                                 "hosts talk to their metadata and peers there"),
        (ipaddress.ip_network("fe80::/10"), "link-local (fe80::/10): the farm's hosts talk "
                                            "to their neighbours there"),
    ]
    for node in farm.nodes:
        try:
            node_net = ipaddress.ip_network(node.address)
        except ValueError:
            continue  # a host name: nothing to compare
        nets.append((node_net, f"the address of the farm's own node {node.name} "
                               f"({node.address}): banning it would lock the farm out of "
                               "itself"))
    return nets


def parse_target(value: str | None, farm: Farm) -> tuple[str, str]:
    """An IP or a CIDR range -> (value, scope 'Ip'|'Range'); refuses what would hurt the
    farm: loopback, unspecified, link-local and the farm's own nodes, in any IPv6 form that
    carries them (IPv4-mapped, NAT64, 6to4, Teredo), and ranges broader than MAX_RANGE."""
    text = (value or "").strip()
    network: Network
    if not text.isascii() or "%" in text:
        raise ActionError(f"ip: {value!r} is neither an IP address nor a CIDR range (ASCII "
                          "digits, no %zone); write e.g. 203.0.113.7 or 203.0.113.0/24")
    try:
        address = ipaddress.ip_address(text)
        network = ipaddress.ip_network(text)
        scope, canonical = "Ip", str(address)
    except ValueError:
        if "/" not in text:
            raise ActionError(f"ip: {value!r} is neither an IP address nor a CIDR range; "
                              "write e.g. 203.0.113.7 or 203.0.113.0/24") from None
        try:
            network = ipaddress.ip_network(text, strict=True)
        except ValueError as exc:
            if "host bits set" in str(exc):
                fixed = ipaddress.ip_network(text, strict=False)
                raise ActionError(f"ip: {text} has host bits set; the range is {fixed} "
                                  f"(or ban the single address {text.split('/')[0]})") from None
            raise ActionError(f"ip: {value!r} is not a valid CIDR range ({exc}); write e.g. "
                              "203.0.113.0/24") from None
        if network.prefixlen == 0:
            raise ActionError(f"ip: {text} would ban the whole Internet; give a narrower "
                              "range") from None
        if network.num_addresses == 1:
            scope, canonical = "Ip", str(network.network_address)
        else:
            scope, canonical = "Range", str(network)
    limit = MAX_RANGE[network.version]
    if network.prefixlen < limit:
        raise ActionError(f"ip: {canonical} covers {network.num_addresses:,} addresses; the "
                          f"broadest range a ban may cover is /{MAX_RANGE[4]} for IPv4 and "
                          f"/{MAX_RANGE[6]} for IPv6: give a narrower range (/{limit} or "
                          "longer)")
    forms: list[Network] = [network]
    if isinstance(network, ipaddress.IPv6Network):
        forms += _ipv4_forms(network)
    for form in forms:
        for protected, why in _protected(farm):
            if form.version == protected.version and form.overlaps(protected):  # type: ignore[arg-type]
                via = "" if form is network else f" (it carries {form})"
                raise ActionError(f"ip: {canonical}{via} covers {why}")
    return canonical, scope


@dataclass(frozen=True)
class DecisionWriter:
    """How this console adds and deletes decisions: a machine's credentials file, or
    cscli in the LAPI's task (node, service)."""

    credentials: Path | None = None
    task: tuple[Node, str] | None = None

    @property
    def step(self) -> Step:
        if self.credentials is not None:
            return Step("log in as the machine",
                        f"POST /v1/watchers/login ({self.credentials.name})")
        assert self.task is not None
        node, service = self.task
        return Step("log in as the machine", f"cscli in the {service} task on {node.name}, "
                                             "over SSH")

    def open(self, timeout: float) -> WatcherClient | TaskDecisions:
        if self.credentials is not None:
            return WatcherClient.from_credentials_file(str(self.credentials), timeout)
        assert self.task is not None
        return TaskDecisions(*self.task, timeout=max(timeout, 10.0))


def decision_writer(farm: Farm, credentials: Path | None) -> DecisionWriter:
    if credentials is not None:
        path = Path(credentials).expanduser()
        if not path.is_file():
            raise ActionError(f"machine credentials: {path} does not exist; give the "
                              "local_api_credentials.yaml of a CrowdSec machine")
        return DecisionWriter(credentials=path)
    endpoint = crowdsec_endpoint(farm)
    if endpoint.node and endpoint.container:
        node = farm.node(endpoint.node)
        assert node is not None  # the inventory checked the name
        return DecisionWriter(task=(node, endpoint.container))
    raise ActionError("machine credentials: none given; pass --machine-credentials FILE "
                      "(a local_api_credentials.yaml of a validated machine, from `cscli "
                      "machines add NAME --auto`), or set endpoints.crowdsec.node and "
                      ".container to run cscli in the LAPI's task: the bouncer key can "
                      "only read")


def list_bans(farm: Farm, ip: str | None = None, scope: str | None = None) -> list[Ban]:
    """Active decisions (bouncer view), newest first, filtered by an IP (a range containing
    it matches too) and/or scope (Ip, Range, ...; case-insensitive)."""
    client = CrowdSecClient(crowdsec_endpoint(farm))
    bans = sorted((ban_from_decision(d) for d in client.decisions()), key=lambda b: -b.id)
    if scope:
        bans = [b for b in bans if b.scope.lower() == scope.lower()]
    if ip:
        try:
            wanted = ipaddress.ip_network(ip.strip(), strict=False)
        except ValueError:
            raise ActionError(f"ip: {ip!r} is neither an IP address nor a CIDR range") from None

        def matches(b: Ban) -> bool:
            try:
                net = ipaddress.ip_network(b.value, strict=False)
            except ValueError:
                return False
            return net.version == wanted.version and (wanted.subnet_of(net)  # type: ignore[arg-type]
                                                      or net.subnet_of(wanted))  # type: ignore[arg-type]

        bans = [b for b in bans if matches(b)]
    return bans


def covering(farm: Farm, value: str, scope: str) -> list[Ban]:
    """Every active decision that covers an address (`scope` Ip) or a whole range (Range),
    as the LAPI itself matches them for its bouncers: a /24 ban covers its addresses."""
    client = CrowdSecClient(crowdsec_endpoint(farm))
    raw = client.decisions(ip=value) if scope == "Ip" else client.decisions(range_=value)
    return sorted((ban_from_decision(d) for d in raw), key=lambda b: -b.id)


def _decision_text(b: Ban) -> str:
    return f"decision {b.id} ({b.scope} {b.value}, {b.type}, expires in {b.expires_in})"


def _active(farm: Farm, value: str) -> list[Ban]:
    return [b for b in list_bans(farm) if b.value == value and b.type == "ban"]


class BanAction:
    name = "ban"
    title = "CrowdSec: ban"
    destructive = False

    def __init__(self, farm: Farm, target: str, *, duration: str = "4h", reason: str = "",
                 credentials: Path | None = None):
        self.farm = farm
        self.endpoint = crowdsec_endpoint(farm)
        self.value, self.scope = parse_target(target, farm)
        self.duration = parse_duration(duration)
        self.reason = (reason or "").strip()
        if not self.reason:
            raise ActionError("reason: empty; say why (it is shown in the CrowdSec pane and "
                              "the audit log), e.g. --reason 'xmlrpc bruteforce'")
        if len(self.reason) > 200:
            raise ActionError("reason: longer than 200 characters; shorten it")
        self.writer = decision_writer(farm, credentials)

    def describe(self) -> Mapping[str, Any]:
        return {"value": self.value, "scope": self.scope, "duration": self.duration,
                "reason": self.reason}

    def plan(self) -> list[Step]:
        return [self.writer.step,
                Step(f"ban {self.value}", f"{self.scope}, {self.duration}: {self.reason}"),
                Step("verify", "the bouncer view lists the decision")]

    def run(self) -> Iterator[StepEvent]:
        s = f"ban {self.value}"
        if _active(self.farm, self.value):
            yield StepEvent("skipped", s, "an active ban for it exists already")
            return
        watcher = yield from _login(self.writer, self.endpoint.timeout)
        if watcher is None:
            return
        yield StepEvent("started", s)
        try:
            ids = watcher.add_decision(self.value, self.scope, self.duration, self.reason)
        except (httpx.HTTPError, CscliError) as exc:
            yield StepEvent("failed", s, str(exc))
            return
        finally:
            watcher.close()
        yield StepEvent("done", s, f"alert {', '.join(ids)}" if ids else "added")

    def verify(self) -> Verdict:
        found = _active(self.farm, self.value)
        if found:
            return Verdict(True, f"{self.value} banned (decision {found[0].id}, expires in "
                                 f"{found[0].expires_in})")
        return Verdict(False, f"no active ban for {self.value} in the LAPI")


def _login(writer: DecisionWriter, timeout: float
           ) -> Generator[StepEvent, None, WatcherClient | TaskDecisions | None]:
    """The login both ban and unban start with; None (after a failed event)."""
    yield StepEvent("started", "log in as the machine")
    try:
        watcher = writer.open(timeout)
        watcher.login()
    except (OSError, ValueError, PermissionError, httpx.HTTPError, CscliError) as exc:
        yield StepEvent("failed", "log in as the machine", str(exc))
        return None
    yield StepEvent("done", "log in as the machine", watcher.machine_id)
    return watcher


class UnbanAction:
    name = "unban"
    title = "CrowdSec: unban"
    destructive = False

    def __init__(self, farm: Farm, target: str, *, credentials: Path | None = None):
        self.farm = farm
        self.endpoint = crowdsec_endpoint(farm)
        # Unbanning is never harmful: only the syntax is checked, not the farm's own nodes.
        text = (target or "").strip()
        try:
            net = ipaddress.ip_network(text, strict=True)
        except ValueError:
            self.value, self.scope = parse_target(text, farm)  # raises the precise error
        else:
            self.value = str(net.network_address) if net.num_addresses == 1 else str(net)
            self.scope = "Ip" if net.num_addresses == 1 else "Range"
        self.writer = decision_writer(farm, credentials)

    def describe(self) -> Mapping[str, Any]:
        return {"value": self.value, "scope": self.scope}

    def plan(self) -> list[Step]:
        # The bouncer view is what the bouncers ask: GET /v1/decisions?ip= (ranges included).
        return [self.writer.step,
                Step(f"unban {self.value}", f"DELETE /v1/decisions/ID of each decision on "
                     f"exactly {self.value}"),
                Step("verify", "the bouncer view no longer lists it")]

    def run(self) -> Iterator[StepEvent]:
        s = f"unban {self.value}"
        found = covering(self.farm, self.value, self.scope)
        exact = [b for b in found if b.value == self.value]
        if not exact:
            others = "; still covered by " + ", ".join(_decision_text(b) for b in found) \
                if found else ""
            yield StepEvent("skipped", s, f"no decision on exactly {self.value}{others}")
            return
        watcher = yield from _login(self.writer, self.endpoint.timeout)
        if watcher is None:
            return
        yield StepEvent("started", s, ", ".join(f"decision {b.id}" for b in exact))
        deleted = 0
        try:
            # By id: DELETE ?ip=ADDRESS would also delete every range covering it, unbanning
            # addresses nobody asked to unban.
            for b in exact:
                deleted += watcher.delete_decision(b.id)
        except (httpx.HTTPError, CscliError) as exc:
            yield StepEvent("failed", s, str(exc))
            return
        finally:
            watcher.close()
        yield StepEvent("done", s, f"{deleted} decision(s) deleted")

    def verify(self) -> Verdict:
        """The effect, not the request: does any decision, a range included, still cover
        it? (What the bouncers ask the LAPI.)"""
        left = covering(self.farm, self.value, self.scope)
        if not left:
            return Verdict(True, f"{self.value} is no longer banned: no decision covers it")
        details = tuple(_decision_text(b) for b in left)
        fixes = sorted({b.value for b in left if b.value != self.value})
        how = "; ".join(f"remove it with `wpfarm unban {v}`" for v in fixes)
        if any(b.value == self.value for b in left):
            how = "; ".join(filter(None, [f"a decision on {self.value} itself is still there: "
                                          f"run `wpfarm unban {self.value}` again", how]))
        return Verdict(False, f"{self.value} is still banned: {details[0]}"
                       + (f" and {len(left) - 1} more" if len(left) > 1 else "")
                       + f"; {how}", details)
