"""The site registry: the `wpfarm.sites` table on Galera (data/registry.sql).

Kept in the farm, not on the bastion, so every console and script reads the
same list. Writes go to the first Galera node that answers; each statement is
idempotent (INSERT IGNORE, UPDATE, DELETE), so retrying one on another node
after a node died mid-statement cannot duplicate anything.

Rows are checked when read, not trusted: a row whose domain, database name or
user fails the naming rules (sites/naming.py) is reported in `invalid` and not
listed, so no verb or pane acts on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from importlib import resources

from wpfarm_tui.farm.galera import GaleraConnections
from wpfarm_tui.inventory import GaleraEndpoint
from wpfarm_tui.sites.naming import row_problem

STATES = ("active", "suspended", "creating", "deleting")
_COLUMNS = "domain, aliases, db_name, db_user, state, created_at, php_memory_limit, notes"


@dataclass(frozen=True)
class SiteRecord:
    domain: str
    aliases: tuple[str, ...]
    db_name: str
    db_user: str
    state: str
    created_at: datetime | None
    php_memory_limit: str
    notes: str


def _record(row: tuple) -> SiteRecord:
    domain, aliases, db_name, db_user, state, created, php, notes = row
    return SiteRecord(domain, tuple(a for a in (aliases or "").split(",") if a), db_name,
                      db_user, state, created, php, notes or "")


class Registry:
    """Reads and writes wpfarm.sites. Given `db`, it borrows those connections (the lender
    closes them); without, it opens its own and `close()` (or `with`) closes them."""

    def __init__(self, endpoint: GaleraEndpoint, db: GaleraConnections | None = None):
        self._owns_db = db is None
        self.db = db or GaleraConnections(endpoint)
        # Rows the last list() left out, one sentence each: shown, never acted on.
        self.invalid: list[str] = []

    def close(self) -> None:
        if self._owns_db:
            self.db.close()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def ensure_schema(self) -> None:
        sql = resources.files("wpfarm_tui").joinpath("data", "registry.sql").read_text()
        for statement in (s.strip() for s in sql.split(";")):
            lines = [ln for ln in statement.splitlines() if not ln.strip().startswith("--")]
            if "\n".join(lines).strip():
                self.db.query("\n".join(lines))

    def list(self, state: str | None = None, contains: str | None = None) -> list[SiteRecord]:
        sql, args = f"SELECT {_COLUMNS} FROM wpfarm.sites WHERE 1=1", []
        if state:
            sql += " AND state = %s"
            args.append(state)
        if contains:
            sql += " AND domain LIKE %s"
            args.append(f"%{contains.replace('%', '').replace('_', '')}%")
        records, self.invalid = [], []
        for record in (_record(r) for r in self.db.query(sql + " ORDER BY domain", args)):
            problem = row_problem(record.domain, record.db_name, record.db_user)
            if problem is None:
                records.append(record)
            else:
                self.invalid.append(f"wpfarm.sites row {record.domain!r} is not used: "
                                    f"{problem}. Fix: correct or delete the row")
        return records

    def get(self, domain: str) -> SiteRecord | None:
        rows = self.db.query(f"SELECT {_COLUMNS} FROM wpfarm.sites WHERE domain = %s", [domain])
        return _record(rows[0]) if rows else None

    def claim(self, domain: str, db_name: str, db_user: str, notes: str = "") -> bool:
        """Insert the site as `creating`; False when the domain is already registered."""
        self.db.query("INSERT IGNORE INTO wpfarm.sites (domain, db_name, db_user, state, notes) "
                      "VALUES (%s, %s, %s, 'creating', %s)", [domain, db_name, db_user, notes])
        record = self.get(domain)
        return bool(record and record.state == "creating" and record.db_name == db_name)

    def set_state(self, domain: str, state: str) -> None:
        if state not in STATES:
            raise ValueError(f"state: {state!r} is not one of {', '.join(STATES)}")
        self.db.query("UPDATE wpfarm.sites SET state = %s WHERE domain = %s", [state, domain])

    def remove(self, domain: str) -> None:
        self.db.query("DELETE FROM wpfarm.sites WHERE domain = %s", [domain])
