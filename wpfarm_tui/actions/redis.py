"""Redis: a manual Sentinel failover, verified by every Sentinel agreeing on the new master
and the new master reporting role master.

It refuses to start while an instance or a Sentinel refuses our credentials: a master that
only answers to the right password is up, and failing it over (what the alerts used to
propose for an "unreachable" master) would demote a healthy master."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import Any

import redis

from wpfarm_tui.actions.base import ActionError, Step, StepEvent, Verdict, refusal
from wpfarm_tui.farm import redis as farm_redis
from wpfarm_tui.inventory import Farm, HostPort, RedisEndpoint
from wpfarm_tui.secrets import SecretError
from wpfarm_tui.status.base import credentials_refused, describe_error
from wpfarm_tui.status.texts import credentials_message, duration_text, shown

POLL = 0.2


def redis_endpoint(farm: Farm) -> RedisEndpoint:
    endpoint = farm.endpoints.redis
    if endpoint is None or not endpoint.sentinels:
        raise ActionError("endpoints.redis.sentinels: missing in the farm file; a failover "
                          "goes through Sentinel: list the Sentinels (name, host, port)")
    return endpoint


def sentinel_views(endpoint: RedisEndpoint) -> dict[str, str | None]:
    """sentinel -> the master address it believes in ("host:port"), None if it is down."""
    views: dict[str, str | None] = {}
    for sentinel in endpoint.sentinels:
        try:
            master = farm_redis.sentinel_master(endpoint, sentinel)
            views[sentinel.name] = farm_redis.master_address(endpoint, master)
        except redis.RedisError:
            views[sentinel.name] = None
    return views


def credential_problems(endpoint: RedisEndpoint) -> list[tuple[str, str]]:
    """Instances that answer but refuse our password, with the fix. (Sentinels are read
    without it, so the password cannot hide them; one that wants auth reads as down, and
    the failover already refuses Sentinels that are down or disagree.)"""
    found = []
    for node in endpoint.instances:
        try:
            farm_redis.info(endpoint, node)
        except (redis.RedisError, SecretError, OSError) as exc:
            if credentials_refused(exc):
                found.append((node.name, credentials_message("redis", describe_error(exc)[1])))
    return found


class RedisFailover:
    name = "redis-failover"
    title = "Redis: Sentinel failover"
    destructive = True  # every client reconnects; writes in flight may fail

    def __init__(self, farm: Farm, timeout: float = 30.0, settle_s: float = 20.0):
        self.endpoint = redis_endpoint(farm)
        self.timeout = timeout
        # How long verify waits for every instance to follow: the old master, when it is
        # up, turns replica ~10 s after the Sentinels moved on.
        self.settle_s = settle_s
        self.old_master: str | None = None
        self.new_master: str | None = None

    def describe(self) -> Mapping[str, Any]:
        return {"master_name": self.endpoint.master_name}

    def plan(self) -> list[Step]:
        problems = credential_problems(self.endpoint)
        if problems:
            raise ActionError(refusal(self.name, problems))
        name = self.endpoint.master_name
        return [
            Step("read the current master", f"SENTINEL MASTER {name} on every Sentinel"),
            Step("failover", f"SENTINEL FAILOVER {name}: a replica is promoted",
                 destructive=True),
            Step("wait for agreement", "every Sentinel names the same new master"),
            Step("check the new master", "INFO replication: role master"),
        ]

    def run(self) -> Iterator[StepEvent]:
        s = "read the current master"
        yield StepEvent("started", s)
        problems = credential_problems(self.endpoint)
        if problems:  # again: the farm may have changed since the plan was shown
            yield StepEvent("failed", s, refusal(self.name, problems))
            return
        views = sentinel_views(self.endpoint)
        known = {v for v in views.values() if v}
        if len(known) != 1:
            seen = ", ".join(f"{k}: {v or 'down'}" for k, v in views.items())
            yield StepEvent("failed", s, f"the Sentinels disagree or are down ({seen}); "
                            "fix that before a failover")
            return
        self.old_master = known.pop()
        yield StepEvent("done", s, self.old_master)
        s = "failover"
        yield StepEvent("started", s)
        error = None
        for sentinel in self.endpoint.sentinels:
            if views.get(sentinel.name) is None:
                continue
            try:
                farm_redis.failover(self.endpoint, sentinel)
                error = None
                yield StepEvent("done", s, f"asked {sentinel.name}")
                break
            except redis.RedisError as exc:
                error = str(exc)
        if error:
            yield StepEvent("failed", s, error)
            return
        s = "wait for agreement"
        yield StepEvent("started", s)
        deadline = time.monotonic() + self.timeout
        started = time.monotonic()
        while time.monotonic() < deadline:
            views = sentinel_views(self.endpoint)
            values = set(views.values())
            if len(values) == 1 and None not in values and self.old_master not in values:
                self.new_master = values.pop()
                yield StepEvent("done", s, f"{self.new_master} after "
                                f"{time.monotonic() - started:.1f} s")
                break
            time.sleep(POLL)
        else:
            seen = ", ".join(f"{k}: {v or 'down'}" for k, v in views.items())
            yield StepEvent("failed", s, f"no agreement on a new master after "
                            f"{duration_text(self.timeout)}: {seen}")
            return
        s = "check the new master"
        yield StepEvent("started", s)
        role = self._role(self.new_master)
        yield StepEvent("done" if role == "master" else "failed", s, f"role {shown(role)}")

    def _role(self, address: str | None) -> str | None:
        if not address:
            return None
        host, _, port = address.rpartition(":")
        node = next((i for i in self.endpoint.instances if i.address == address), None)
        if node is None:
            node = HostPort(address, host, int(port))
        try:
            return farm_redis.info(self.endpoint, node).get("role")
        except redis.RedisError as exc:
            return f"unknown ({exc})"

    def _instances_view(self, master: str) -> tuple[list[str], list[str]]:
        """(disagreements, details): what every instance's INFO says of `master`. One that
        is down is reported, not a disagreement (a down old master is why one fails over);
        the new master down is."""
        problems, details = [], []
        for node in self.endpoint.instances:
            try:
                info = farm_redis.info(self.endpoint, node)
            except (redis.RedisError, SecretError, OSError) as exc:
                details.append(f"{node.name}: down ({describe_error(exc)[1]})")
                if node.address == master:
                    problems.append(f"{node.name}, the new master, does not answer")
                continue
            role = info.get("role")
            follows = farm_redis.console_address(
                self.endpoint, f"{info.get('master_host')}:{info.get('master_port')}")
            if node.address == master:
                details.append(f"{node.name}: role {shown(role)}")
                if role != "master":
                    problems.append(f"{node.name} reports role {shown(role)}, not master")
            elif role == "master":
                details.append(f"{node.name}: role master")
                problems.append(f"{node.name} ({node.address}) still reports role master")
            else:
                link = info.get("master_link_status")
                details.append(f"{node.name}: replica of {follows}, link {link}")
                if follows != master:
                    problems.append(f"{node.name} follows {follows}, not {master}")
        return problems, details

    def verify(self) -> Verdict:
        """The effect: every Sentinel names one new master, and every instance's INFO
        agrees (the master says master, the others follow it)."""
        views = sentinel_views(self.endpoint)
        values = set(views.values())
        details = tuple(f"{k}: {v or 'down'}" for k, v in views.items())
        if len(values) != 1 or None in values:
            return Verdict(False, "the Sentinels do not agree on the master", details)
        master = values.pop()
        assert master is not None
        if master == self.old_master:
            return Verdict(False, f"the master is still {master}", details)
        deadline = time.monotonic() + self.settle_s
        while True:
            problems, seen = self._instances_view(master)
            if not problems or time.monotonic() >= deadline:
                break
            time.sleep(POLL)
        details = (*details, *seen)
        if problems:
            return Verdict(False, f"the Sentinels name {master}, the instances disagree: "
                                  + "; ".join(problems), details)
        was = f" (was {self.old_master})" if self.old_master else ""
        return Verdict(True, f"new master {master}{was}; every Sentinel and every instance "
                             "that answers agrees", details)
