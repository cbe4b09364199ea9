"""GlusterFS procedures: heal the volume, bring its offline bricks back, resolve a file in
split-brain by a policy the operator picks. Each reads the volume through farm/gluster.py
(locally on the lab, over SSH on the storage node endpoints.gluster names) and checks its
effect: 0 entries pending, every brick online, the file out of split-brain.

The waits follow progress instead of a fixed deadline: a heal is waited for while its
pending count goes down, and called stuck when it has not moved for `stall_s`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from wpfarm_tui.actions.base import ActionError, Step, StepEvent, Verdict
from wpfarm_tui.farm.gluster import GlusterClient, GlusterError, HealBrick
from wpfarm_tui.inventory import Farm, GlusterEndpoint

POLICIES = ("bigger-file", "latest-mtime", "source-brick")
_POLICY_WORDS = {
    "bigger-file": "the biggest copy wins",
    "latest-mtime": "the copy modified last wins",
    "source-brick": "the copy on {brick} wins",
}


def gluster_endpoint(farm: Farm) -> GlusterEndpoint:
    if farm.endpoints.gluster is None:
        raise ActionError("endpoints.gluster: missing in the farm file; add `gluster: "
                          "{volume: NAME, node: A_STORAGE_NODE}` under `endpoints:`")
    return farm.endpoints.gluster


def _client(farm: Farm) -> GlusterClient:
    from wpfarm_tui.status.storage import client_for

    return client_for(farm, gluster_endpoint(farm))


def pending_of(heal: tuple[HealBrick, ...]) -> int:
    return sum(b.entries or 0 for b in heal)


def _down(heal: tuple[HealBrick, ...]) -> list[str]:
    return [b.brick for b in heal if not b.connected]


class _GlusterAction:
    destructive = False

    def __init__(self, farm: Farm, client: GlusterClient | None = None,
                 stall_s: float = 30.0, poll_s: float = 1.0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.endpoint = gluster_endpoint(farm)
        self.volume = self.endpoint.volume
        self.client = client or _client(farm)
        self.stall_s, self.poll_s, self.sleep = stall_s, poll_s, sleep

    def describe(self) -> Mapping[str, Any]:
        return {"volume": self.volume}

    def _heal_steps(self) -> list[Step]:
        v = self.volume
        return [Step("trigger the heal", f"gluster volume heal {v}"),
                Step("wait for the heal", "heal info every second while the pending count "
                     f"goes down; stuck after {self.stall_s:.0f} s without progress"),
                Step("verify", "heal info: 0 entries pending on every brick")]

    def _heal(self) -> Iterator[StepEvent]:
        s = "trigger the heal"
        yield StepEvent("started", s)
        try:
            heal = self.client.heal_info(self.volume)
            if _down(heal):
                yield StepEvent("failed", s, f"brick(s) down: {', '.join(_down(heal))}; bring "
                                "them back first (gluster brick-start)")
                return
            yield StepEvent("output", s, f"{pending_of(heal)} entries pending")
        except (GlusterError, TimeoutError) as exc:
            yield StepEvent("failed", s, str(exc))
            return
        try:
            yield StepEvent("done", s, self.client.heal(self.volume))
        except (GlusterError, TimeoutError) as exc:
            if "unsuccessful" not in str(exc):
                yield StepEvent("failed", s, str(exc))
                return
            # Refused while the self-heal daemon is still connecting to a brick that just
            # came back (it then heals on its own): the wait below tells whether it does.
            yield StepEvent("done", s, f"not launched ({exc}); the self-heal daemon heals "
                            "on its own once it sees every brick")
        s = "wait for the heal"
        yield StepEvent("started", s)
        best, moved = None, time.monotonic()
        while True:
            try:
                pending = pending_of(self.client.heal_info(self.volume))
            except (GlusterError, TimeoutError) as exc:
                yield StepEvent("failed", s, str(exc))
                return
            if pending == 0:
                yield StepEvent("done", s, "0 entries pending")
                return
            if best is None or pending < best:
                if best is not None:
                    yield StepEvent("output", s, f"{pending} entries pending")
                best, moved = pending, time.monotonic()
            elif time.monotonic() - moved > self.stall_s:
                yield StepEvent("failed", s, f"stuck: {pending} entries pending, no progress "
                                f"for {self.stall_s:.0f} s; see `gluster volume heal "
                                f"{self.volume} info` (split-brain entries never heal alone)")
                return
            self.sleep(self.poll_s)

    def _verify_healed(self) -> Verdict:
        try:
            heal = self.client.heal_info(self.volume)
        except (GlusterError, TimeoutError) as exc:
            return Verdict(False, f"heal info failed: {exc}")
        if _down(heal):
            return Verdict(False, f"brick(s) down: {', '.join(_down(heal))}")
        pending = pending_of(heal)
        if pending:
            return Verdict(False, f"{pending} entries still pending")
        return Verdict(True, f"volume {self.volume}: 0 entries pending on {len(heal)} bricks")


class GlusterHeal(_GlusterAction):
    name = "gluster-heal"
    title = "GlusterFS: heal the volume"

    def plan(self) -> list[Step]:
        return self._heal_steps()

    def run(self) -> Iterator[StepEvent]:
        yield from self._heal()

    def verify(self) -> Verdict:
        return self._verify_healed()


class GlusterBrickStart(_GlusterAction):
    """`volume start V force` starts the bricks that are not running (the running ones are
    left alone), then the heal brings them up to date."""

    name = "gluster-brick-start"
    title = "GlusterFS: bring offline bricks back"

    def __init__(self, *args: Any, online_wait_s: float = 30.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.online_wait_s = online_wait_s

    def plan(self) -> list[Step]:
        v = self.volume
        return [Step("find offline bricks", f"gluster volume status {v}"),
                Step("start them", f"gluster volume start {v} force (running bricks are "
                     "left alone)"),
                Step("wait online", f"every brick online, up to {self.online_wait_s:.0f} s"),
                *self._heal_steps()]

    def _offline(self) -> list[str]:
        return [b.brick for b in self.client.status(self.volume) if not b.online]

    def run(self) -> Iterator[StepEvent]:
        s = "find offline bricks"
        yield StepEvent("started", s)
        try:
            offline = self._offline()
        except (GlusterError, TimeoutError) as exc:
            yield StepEvent("failed", s, str(exc))
            return
        yield StepEvent("done", s, ", ".join(offline) or "none: every brick is online")
        if offline:
            s = "start them"
            yield StepEvent("started", s)
            try:
                yield StepEvent("done", s, self.client.start(self.volume, force=True))
            except (GlusterError, TimeoutError) as exc:
                yield StepEvent("failed", s, str(exc))
                return
            s = "wait online"
            yield StepEvent("started", s)
            started = time.monotonic()
            deadline, again = started + self.online_wait_s, started + 5.0
            while True:
                try:
                    offline = self._offline()
                except (GlusterError, TimeoutError) as exc:
                    yield StepEvent("failed", s, str(exc))
                    return
                if not offline:
                    yield StepEvent("done", s, "every brick online")
                    break
                if time.monotonic() > deadline:
                    yield StepEvent("failed", s, f"still offline after "
                                    f"{self.online_wait_s:.0f} s: {', '.join(offline)}; see "
                                    "the brick's log (/var/log/glusterfs/bricks/)")
                    return
                if time.monotonic() > again:
                    # A start sent before glusterd saw the brick die is taken for a brick
                    # still running (its log: "discovered already-running brick"): ask
                    # again, in the open.
                    again = time.monotonic() + 5.0
                    try:
                        self.client.start(self.volume, force=True)
                        yield StepEvent("output", s, f"still offline: {', '.join(offline)}; "
                                        "volume start force again")
                    except (GlusterError, TimeoutError) as exc:
                        yield StepEvent("failed", s, str(exc))
                        return
                self.sleep(0.5)
        yield from self._heal()

    def verify(self) -> Verdict:
        try:
            offline = self._offline()
        except (GlusterError, TimeoutError) as exc:
            return Verdict(False, f"volume status failed: {exc}")
        if offline:
            return Verdict(False, f"offline: {', '.join(offline)}")
        return self._verify_healed()


class GlusterSplitBrain(_GlusterAction):
    """One file out of split-brain: gluster keeps the copy the policy picks and overwrites
    the others (destructive: the other copies' changes are lost)."""

    name = "gluster-split-brain"
    title = "GlusterFS: resolve a split-brain file"
    destructive = True

    def __init__(self, farm: Farm, path: str, policy: str, brick: str = "",
                 **kwargs: Any) -> None:
        super().__init__(farm, **kwargs)
        path = path.strip()
        if not path or not (path.startswith("/") or path.startswith("<gfid:")):
            raise ActionError("path: the file as the volume names it, from its root "
                              "(e.g. /sites/site1.test/uploads/a.jpg, as `wpfarm storage` "
                              "lists it)")
        if policy not in POLICIES:
            raise ActionError(f"policy: one of {', '.join(POLICIES)}, got {policy!r}")
        if policy == "source-brick" and not brick:
            raise ActionError("brick: source-brick needs the brick whose copy wins "
                              "(host:/path, as `wpfarm storage` lists the bricks)")
        if policy != "source-brick" and brick:
            raise ActionError(f"brick: only with --policy source-brick ({policy} picks the "
                              "copy itself)")
        self.path, self.policy, self.brick = path, policy, brick

    def describe(self) -> Mapping[str, Any]:
        return {"volume": self.volume, "path": self.path, "policy": self.policy,
                **({"brick": self.brick} if self.brick else {})}

    def plan(self) -> list[Step]:
        v, p = self.volume, self.path
        how = _POLICY_WORDS[self.policy].format(brick=self.brick)
        return [Step("check the file", f"{p} is in split-brain (heal info split-brain)"),
                Step("resolve", f"policy {self.policy}: {how}; the other copies of {p} are "
                     f"overwritten (gluster volume heal {v} split-brain {self.policy}"
                     f"{' ' + self.brick if self.brick else ''} {p})", destructive=True),
                Step("verify", f"{p} is no longer in split-brain")]

    def _in_split_brain(self) -> bool:
        return any(self.path in b.files for b in self.client.split_brain(self.volume))

    def run(self) -> Iterator[StepEvent]:
        s = "check the file"
        yield StepEvent("started", s)
        try:
            if not self._in_split_brain():
                yield StepEvent("failed", s, f"{self.path} is not in split-brain on "
                                f"{self.volume}; nothing to resolve (`wpfarm storage` lists "
                                "the files that are)")
                return
        except (GlusterError, TimeoutError) as exc:
            yield StepEvent("failed", s, str(exc))
            return
        yield StepEvent("done", s, "in split-brain")
        s = "resolve"
        yield StepEvent("started", s)
        try:
            answer = self.client.resolve_split_brain(self.volume, self.path, self.policy,
                                                     self.brick or None)
        except (GlusterError, TimeoutError) as exc:
            # gluster's own words say why ("No bigger file.": the biggest copies tie).
            yield StepEvent("failed", s, f"{exc}; try another policy")
            return
        yield StepEvent("done", s, answer)

    def verify(self) -> Verdict:
        try:
            still = self._in_split_brain()
        except (GlusterError, TimeoutError) as exc:
            return Verdict(False, f"heal info split-brain failed: {exc}")
        if still:
            return Verdict(False, f"{self.path} is still in split-brain")
        return Verdict(True, f"{self.path} resolved by {self.policy}")
