"""The architecture's node-topology profiles, as starting points for a new farm."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NodeSlot:
    name: str  # suggested node name
    roles: tuple[str, ...]


@dataclass(frozen=True)
class Profile:
    key: str  # what farm.profile will say
    title: str
    description: str
    slots: tuple[NodeSlot, ...]
    min_cpus: int  # per node, from the architecture's node specs
    min_ram_gb: int
    min_disk_gb: int


def _group(prefix: str, count: int, roles: tuple[str, ...]) -> tuple[NodeSlot, ...]:
    return tuple(NodeSlot(f"{prefix}{i}", roles) for i in range(1, count + 1))


PROFILES: dict[str, Profile] = {
    "minimum": Profile(
        "production", "Recommended minimum (20 nodes)",
        "3 managers, 6 app workers, 3 database, 3 cache, 3 storage, 2 observability",
        _group("mgr", 3, ("manager",)) + _group("app", 6, ("worker",))
        + _group("db", 3, ("db",)) + _group("cache", 3, ("cache",))
        + _group("store", 3, ("storage",)) + _group("ops", 2, ("ops",)),
        8, 16, 100),
    "consolidated": Profile(
        "production", "Consolidated (13 nodes)",
        "3 manager/edge, 6 app/cache, 3 data (Galera + GlusterFS), 1 ops",
        _group("mgr", 3, ("manager",)) + _group("app", 6, ("worker", "cache"))
        + _group("data", 3, ("db", "storage")) + _group("ops", 1, ("ops",)),
        8, 16, 100),
    "small": Profile(
        "small", "Small (3 nodes)",
        "every node a manager running everything: for staging or a handful of sites",
        _group("node", 3, ("manager", "worker", "db", "cache", "storage", "ops")),
        2, 4, 40),
}


@dataclass(frozen=True)
class NodeFacts:
    os: str
    cpus: int
    ram_gb: float
    disk_free_gb: float
    docker: str | None  # server version, None when Docker is not installed


def shortfalls(facts: NodeFacts, profile: Profile) -> list[str]:
    """What a node lacks for the profile's node spec (warnings: the operator decides)."""
    out = []
    if "Debian" not in facts.os and "Ubuntu" not in facts.os:
        out.append(f"OS is {facts.os}; bootstrap is tested on Debian 12")
    if facts.cpus < profile.min_cpus:
        out.append(f"{facts.cpus} CPUs, {profile.title} wants {profile.min_cpus}")
    if facts.ram_gb < profile.min_ram_gb * 0.9:  # "16 GB" machines report a bit less
        out.append(f"{facts.ram_gb:.1f} GB RAM, {profile.title} wants {profile.min_ram_gb}")
    if facts.disk_free_gb < profile.min_disk_gb:
        out.append(f"{facts.disk_free_gb:.0f} GB free disk, wants {profile.min_disk_gb}")
    return out
