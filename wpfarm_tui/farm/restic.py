"""restic: the backup repository, run locally or over SSH on `backup.node`.

The repository location, its password and the S3 keys reach restic through
its environment only (RESTIC_REPOSITORY, RESTIC_PASSWORD, AWS_*): never on a
command line, where `ps` shows them, and never in a message. Over SSH they
are written as the first lines of the remote command's stdin and read into
the environment by a tiny `sh` prelude, because sshd drops most client
environment variables. Every message that leaves this module is scrubbed of
the secrets' values anyway.

Failures are `ResticError`s whose `kind` is one of wrong-password,
unreachable, no-repository, locked, timeout or failed, and whose message
names the fix.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any
from urllib.parse import urlparse

from wpfarm_tui import programs
from wpfarm_tui.farm import ssh
from wpfarm_tui.inventory import BackupSettings, Farm, Node, Retention
from wpfarm_tui.secrets import SecretError

DEFAULT_TIMEOUT = 120.0
LONG_TIMEOUT = 3600.0  # backups, restores, prune and check of a big site
CONNECT_TIMEOUT = 3.0


class ResticError(Exception):
    """A restic failure; `kind` says which, the message names the fix (never a secret)."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class Snapshot:
    id: str
    short_id: str
    time: datetime
    tags: tuple[str, ...]
    paths: tuple[str, ...]
    hostname: str = ""

    def tag(self, key: str) -> str | None:
        """The value of a `key=value` tag (site, type, part), or None."""
        prefix = f"{key}="
        return next((t[len(prefix):] for t in self.tags if t.startswith(prefix)), None)

    @property
    def site(self) -> str | None:
        return self.tag("site")

    @property
    def kind(self) -> str | None:
        """db | files | safety."""
        return self.tag("type")

    @property
    def part(self) -> str | None:
        """What the snapshot holds: db or files (safety snapshots say it in `part=`)."""
        kind = self.kind
        return kind if kind in ("db", "files") else self.tag("part")


@dataclass(frozen=True)
class BackupSummary:
    snapshot_id: str
    files_new: int = 0
    files_changed: int = 0
    data_added: int = 0
    total_files: int = 0
    total_bytes: int = 0
    duration_s: float = 0.0


@dataclass(frozen=True)
class ForgetGroup:
    tags: tuple[str, ...]
    keep: tuple[Snapshot, ...]
    remove: tuple[Snapshot, ...]


def parse_time(value: str) -> datetime:
    """restic's RFC 3339 time with nanoseconds, as an aware datetime."""
    text = value.strip().replace("Z", "+00:00")
    m = re.match(r"^(.*T\d\d:\d\d:\d\d)(\.\d+)?(.*)$", text)
    if m:
        frac = (m.group(2) or "")[:7]  # Python takes at most microseconds
        text = m.group(1) + frac + m.group(3)
    return datetime.fromisoformat(text)


def parse_snapshot(raw: dict[str, Any]) -> Snapshot:
    return Snapshot(
        id=str(raw["id"]), short_id=str(raw.get("short_id") or raw["id"][:8]),
        time=parse_time(str(raw["time"])), tags=tuple(raw.get("tags") or ()),
        paths=tuple(raw.get("paths") or ()), hostname=str(raw.get("hostname") or ""))


def parse_backup_summary(out: str) -> BackupSummary:
    """The `summary` line of `restic backup --json`."""
    for line in reversed(out.splitlines()):
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if msg.get("message_type") == "summary":
            return BackupSummary(
                snapshot_id=str(msg.get("snapshot_id") or ""),
                files_new=int(msg.get("files_new") or 0),
                files_changed=int(msg.get("files_changed") or 0),
                data_added=int(msg.get("data_added") or 0),
                total_files=int(msg.get("total_files_processed") or 0),
                total_bytes=int(msg.get("total_bytes_processed") or 0),
                duration_s=float(msg.get("total_duration") or 0.0))
    raise ResticError("failed", "restic backup printed no summary: the snapshot may be missing")


# ---------------------------------------------------------------- processes
class _Proc:
    """A running command, local (subprocess) or remote (a paramiko channel)."""

    stdin: IO[bytes] | None
    stdout: IO[bytes]
    stderr: IO[bytes]

    def wait(self, timeout: float | None = None) -> int:  # pragma: no cover - interface
        raise NotImplementedError

    def kill(self) -> None:  # pragma: no cover - interface
        raise NotImplementedError


class _LocalProc(_Proc):
    def __init__(self, argv: Sequence[str], env: dict[str, str], stdin: bool):
        self._p = subprocess.Popen(list(argv), env=env, stdin=subprocess.PIPE if stdin
                                   else subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE)
        self.pid = self._p.pid
        self.stdin, self.stdout, self.stderr = self._p.stdin, self._p.stdout, self._p.stderr  # type: ignore[assignment]

    def wait(self, timeout: float | None = None) -> int:
        return self._p.wait(timeout)

    def kill(self) -> None:
        if self._p.poll() is None:
            self._p.kill()


class _RemoteProc(_Proc):
    def __init__(self, node: Node, argv: Sequence[str], env: dict[str, str], stdin: bool):
        names = sorted(env)
        # The values travel on stdin, one per line, read into the environment by sh.
        prelude = "; ".join(f"IFS= read -r {n}" for n in names)
        script = (f"{prelude}; export {' '.join(names)}; exec {shlex.join(argv)}"
                  + ("" if stdin else " </dev/null"))
        self._client = ssh.open_client(node, CONNECT_TIMEOUT)
        self._chan = self._client.get_transport().open_session()  # type: ignore[union-attr]
        self._chan.exec_command(f"sh -c {shlex.quote(script)}")
        self.stdin = self._chan.makefile_stdin("wb")
        self.stdin.write("".join(f"{env[n]}\n" for n in names).encode())
        self.stdin.flush()
        if not stdin:
            self._chan.shutdown_write()
            self.stdin = None
        self.stdout = self._chan.makefile("rb")
        self.stderr = self._chan.makefile_stderr("rb")
        self.pid = None

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._chan.exit_status_ready():
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired("restic", timeout or 0)
            time.sleep(0.05)
        status = self._chan.recv_exit_status()
        self._client.close()
        return status

    def kill(self) -> None:
        self._chan.close()
        self._client.close()


def drain(stream: IO[bytes], into: list[bytes]) -> threading.Thread:
    def pump() -> None:
        for chunk in iter(lambda: stream.read(65536), b""):
            into.append(chunk)

    t = threading.Thread(target=pump, daemon=True)
    t.start()
    return t


# ---------------------------------------------------------------- the client
class Restic:
    """One repository of `farm.backup`. Cheap to build; every call is one restic run."""

    def __init__(self, settings: BackupSettings, farm: Farm | None = None,
                 timeout: float = DEFAULT_TIMEOUT):
        self.settings = settings
        self.timeout = timeout
        self.node: Node | None = None
        if settings.node is not None:
            self.node = farm.node(settings.node) if farm is not None else None
            if self.node is None:
                raise ResticError("failed", f"backup.node {settings.node!r} is not a node of "
                                  "the farm: name a node from `nodes:` or leave it out")

    # ------------------------------------------------------------ secrets
    def _env_values(self) -> dict[str, str]:
        s = self.settings
        try:
            env = {"RESTIC_REPOSITORY": s.repository, "RESTIC_PASSWORD": s.password.reveal()}
            if s.aws_access_key_id is not None:
                env["AWS_ACCESS_KEY_ID"] = s.aws_access_key_id.reveal()
            if s.aws_secret_access_key is not None:
                env["AWS_SECRET_ACCESS_KEY"] = s.aws_secret_access_key.reveal()
        except SecretError as exc:
            raise ResticError("failed", f"backup secret: {exc}; set it and retry") from None
        return env

    def secret_values(self) -> list[str]:
        """Every secret value in play, for scrubbing (and for tests asserting no leak)."""
        out = []
        for secret in (self.settings.password, self.settings.aws_access_key_id,
                       self.settings.aws_secret_access_key):
            if secret is None:
                continue
            try:
                value = secret.reveal()
            except SecretError:
                continue
            if value and len(value) >= 4:
                out.append(value)
        return out

    def scrub(self, text: str) -> str:
        for value in self.secret_values():
            text = text.replace(value, "[secret]")
        return text

    def _environment(self) -> dict[str, str]:
        values = self._env_values()
        if self.node is not None:
            return values
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("RESTIC_", "AWS_"))}  # only ours reach restic
        env.update(values)
        env.setdefault("RESTIC_CACHE_DIR", os.path.expanduser("~/.cache/restic"))
        return env

    # ------------------------------------------------------------ reachability
    def where(self) -> str:
        """The repository as shown to operators (no credentials: they live in Secrets)."""
        parsed = urlparse(self.settings.repository.removeprefix("s3:").removeprefix("rest:"))
        if parsed.password:  # a password inside a URL is shown masked
            return self.settings.repository.replace(parsed.password, "***")
        return self.settings.repository

    def check_reachable(self) -> None:
        """A TCP connect to an S3/REST endpoint: restic itself retries for minutes."""
        repo = self.settings.repository
        if self.node is not None or not repo.startswith(("s3:http", "rest:http")):
            return
        parsed = urlparse(repo.split(":", 1)[1])
        host = parsed.hostname or ""
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        try:
            socket.create_connection((host, port), timeout=CONNECT_TIMEOUT).close()
        except OSError as exc:
            raise ResticError("unreachable", f"backup repository {self.where()} is unreachable "
                              f"({host}:{port}: {exc.strerror or exc}): check that the object "
                              "store is up and reachable from this machine, and "
                              "backup.repository in farm.yaml") from None

    # ------------------------------------------------------------ running
    def spawn(self, args: Sequence[str], stdin: bool = False) -> _Proc:
        if self.node is not None:
            try:
                return _RemoteProc(self.node, ["restic", *args], self._env_values(), stdin)
            except ssh.SshError as exc:
                raise ResticError("unreachable", self.scrub(str(exc))) from None
        try:
            restic = programs.path("restic", "backups on this machine")
        except programs.MissingPrograms as exc:
            raise ResticError("failed", str(exc)) from None
        return _LocalProc([restic, *args], self._environment(), stdin)

    def finish(self, proc: _Proc, args: Sequence[str], timeout: float | None,
               out: list[bytes], err: list[bytes], threads: Iterable[threading.Thread]) -> str:
        try:
            rc = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise ResticError("timeout", f"restic {args[0]} took longer than {timeout:g} s and "
                              f"was stopped: check the repository {self.where()} and the network"
                              ) from None
        for t in threads:
            t.join(5)
        stdout = b"".join(out).decode(errors="replace")
        stderr = b"".join(err).decode(errors="replace")
        if rc != 0:
            raise self.classify(args[0], rc, stderr or stdout)
        return stdout

    def run(self, args: Sequence[str], timeout: float | None = None,
            input: bytes | None = None, reach: bool = True) -> str:
        """restic ARGS; stdout on success, a classified ResticError otherwise."""
        if reach:
            self.check_reachable()
        proc = self.spawn(args, stdin=input is not None)
        out: list[bytes] = []
        err: list[bytes] = []
        threads = [drain(proc.stdout, out), drain(proc.stderr, err)]
        if input is not None and proc.stdin is not None:
            try:
                proc.stdin.write(input)
                proc.stdin.close()
            except BrokenPipeError:
                pass
        return self.finish(proc, args, timeout or self.timeout, out, err, threads)

    def classify(self, verb: str, rc: int, text: str) -> ResticError:
        text = self.scrub(text)
        lowered = text.lower()
        first = next((ln.strip() for ln in text.splitlines() if ln.strip()), f"exit code {rc}")
        where = self.where()
        if "wrong password" in lowered:
            return ResticError("wrong-password", f"restic {verb}: the backup repository {where} "
                               "refused the password: check backup.password in farm.yaml points "
                               "to this repository's password (nothing was changed)")
        if "already locked" in lowered or "unable to create lock" in lowered:
            m = re.search(r"locked (exclusively )?by (PID \d+ on \S+ by \S+)", text)
            holder = m.group(2) if m else "another restic process"
            since = re.search(r"lock was created at ([^\n]+)", text)
            when = f" since {since.group(1).strip()}" if since else ""
            return ResticError("locked", f"restic {verb}: the backup repository {where} is "
                               f"locked by {holder}{when}. Wait for that backup/prune to end; if "
                               "that process is gone, remove the stale lock with `wpfarm backup "
                               "--unlock` (restic unlock: it removes stale locks only) and retry")
        if ("is there a repository" in lowered or "does not exist" in lowered
                or "no such file or directory" in lowered and "config" in lowered):
            return ResticError("no-repository", f"restic {verb}: there is no restic repository "
                               f"at {where}: check backup.repository in farm.yaml, or create it "
                               "once with `restic init` (see the runbook)")
        if any(w in lowered for w in ("connection refused", "no such host", "i/o timeout",
                                      "network is unreachable", "dial tcp")):
            return ResticError("unreachable", f"restic {verb}: the backup repository {where} is "
                               f"unreachable ({first[:160]}): check the object store and the "
                               "network")
        return ResticError("failed", f"restic {verb} failed (exit {rc}): {first[:300]}")

    # ------------------------------------------------------------ commands
    def init(self) -> None:
        self.run(["init"], timeout=60)

    def snapshots(self, tags: Sequence[str] = ()) -> list[Snapshot]:
        """Snapshots, oldest first; `tags` must all be present."""
        args = ["snapshots", "--json"]
        if tags:
            args += ["--tag", ",".join(tags)]
        raw = json.loads(self.run(args) or "[]") or []
        return sorted((parse_snapshot(s) for s in raw), key=lambda s: s.time)

    def backup_paths(self, paths: Sequence[str], tags: Sequence[str],
                     at: str | None = None, host: str | None = None) -> BackupSummary:
        args = ["backup", "--json", "--tag", ",".join(tags), *self._common(at, host), "--",
                *paths]
        return parse_backup_summary(self.run(args, timeout=LONG_TIMEOUT))

    def backup_stdin_args(self, filename: str, tags: Sequence[str], at: str | None = None,
                          host: str | None = None) -> list[str]:
        return ["backup", "--json", "--stdin", "--stdin-filename", filename,
                "--tag", ",".join(tags), *self._common(at, host)]

    def backup_bytes(self, data: bytes, filename: str, tags: Sequence[str],
                     at: str | None = None, host: str | None = None) -> BackupSummary:
        out = self.run(self.backup_stdin_args(filename, tags, at, host), input=data)
        return parse_backup_summary(out)

    @staticmethod
    def _common(at: str | None, host: str | None) -> list[str]:
        out = []
        if at:
            out += ["--time", at]
        if host:
            out += ["--host", host]
        return out

    def forget_ids(self, ids: Sequence[str]) -> None:
        if ids:
            self.run(["forget", *ids])

    def forget_policy(self, tags: Sequence[str], retention: Retention, prune: bool = True,
                      dry_run: bool = False) -> list[ForgetGroup]:
        """Apply the retention policy to the snapshots carrying `tags`, grouped by tags."""
        args = ["forget", "--json", "--group-by", "tags", "--tag", ",".join(tags),
                "--keep-daily", str(retention.daily), "--keep-weekly", str(retention.weekly),
                "--keep-monthly", str(retention.monthly)]
        if dry_run:
            args.append("--dry-run")
        elif prune:
            args.append("--prune")
        out = self.run(args, timeout=LONG_TIMEOUT)
        # With --prune restic prints prune's progress after the JSON line.
        line = next((ln for ln in out.splitlines() if ln.startswith("[")), "[]")
        groups = []
        for g in json.loads(line) or []:
            groups.append(ForgetGroup(
                tags=tuple((g.get("group_key") or {}).get("tags") or ()),
                keep=tuple(parse_snapshot(s) for s in g.get("keep") or ()),
                remove=tuple(parse_snapshot(s) for s in g.get("remove") or ())))
        return groups

    def check(self) -> str:
        return self.run(["check"], timeout=LONG_TIMEOUT)

    def unlock(self) -> None:
        """Remove stale locks only (a live process keeps its lock)."""
        self.run(["unlock"])

    def restore(self, snapshot_id: str, target: str, include: Sequence[str] = ()) -> str:
        args = ["restore", snapshot_id, "--target", target]
        for pattern in include:
            args += ["--include", pattern]
        return self.run(args, timeout=LONG_TIMEOUT)

    def ls_files(self, snapshot_id: str) -> list[dict[str, Any]]:
        """The file entries (path, size) of a snapshot."""
        out = self.run(["ls", "--json", snapshot_id])
        nodes = []
        for line in out.splitlines():
            try:
                item = json.loads(line)
            except ValueError:
                continue
            if item.get("struct_type") == "node" and item.get("type") == "file":
                nodes.append(item)
        return nodes

    def stats_size(self, snapshot_id: str) -> int:
        """The restore size of one snapshot, in bytes."""
        out = self.run(["stats", "--json", snapshot_id])
        return int(json.loads(out).get("total_size") or 0)

    def list_locks(self) -> list[str]:
        return [ln for ln in self.run(["list", "locks", "--no-lock"]).split() if ln]

    # ------------------------------------------------------------ shell on the backup node
    def sh(self, script: str, timeout: float = DEFAULT_TIMEOUT) -> str:
        """A shell script where restic runs (for moving restored files into place)."""
        if self.node is None:
            done = subprocess.run(["sh", "-c", script], capture_output=True, text=True,
                                  timeout=timeout, check=False)
            rc, out, err = done.returncode, done.stdout, done.stderr
        else:
            rc, out, err = ssh.run(self.node, f"sh -c {shlex.quote(script)}", timeout)
        if rc != 0:
            first = (err.strip() or out.strip() or f"exit {rc}").splitlines()[-1]
            raise ResticError("failed", self.scrub(f"on the backup node: {first}"))
        return out
