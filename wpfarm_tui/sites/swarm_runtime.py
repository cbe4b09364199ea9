"""Sites on a Swarm farm: one service per site in the `wp` stack, everything through the
manager's Docker Engine API.

The site's service is the rendered example site of `wordpress.yml` (with the farm's
overrides merged, as `wpfarm deploy` sees it) re-aimed at the new domain: its
environment, its Traefik routers and its media directory; its own database user, whose
password is a Docker secret mounted where the image reads it. Nothing in Varnish changes:
Varnish's one backend is Traefik's `sites` entry point, which finds the new service by
its labels.

Work that must run on a node (the media directory on GlusterFS, the WordPress installer)
runs as a one-off Swarm job (mode replicated-job) with the site's image, mounts and
placement: the manager schedules it where the mounts exist, so the bastion needs no SSH
to the app nodes and the admin password travels as a Docker secret, never as an
argument or an environment variable.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import re
import shlex
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import docker

from wpfarm_tui.farm.docker import manager_client
from wpfarm_tui.farm.logs import LogStream, ServiceLogStream
from wpfarm_tui.inventory import Farm
from wpfarm_tui.sites.model import SiteConfig
from wpfarm_tui.sites.naming import DomainError, SiteNames, names_for, validate_domain
from wpfarm_tui.stacks.deploy import SPEC_LABEL, Refs, Stack, load_stack, service_spec
from wpfarm_tui.stacks.render import PURGE_TOKEN_HEADER, PURGE_TOKEN_SECRET

STACK = "wp"
DB_SECRET_TARGET = "mariadb_wordpress_password"  # the file name the image reads
ADMIN_SECRET_TARGET = "wpfarm_admin_password"  # read by the image's `install` mode
MAINTENANCE_FLAG = ".wpfarm-maintenance"  # in wp-content; the image's nginx answers 503
INSTALLING_FLAG = ".wpfarm-installing"  # in wp-content until WordPress is installed: 503
# A new site's tasks are probed every second until their first health check passes, not
# after the 15 s interval (Docker 25+, API 1.44; older engines ignore the field).
START_INTERVAL_NS = 1_000_000_000
# Every site at once: a flag of its own, so turning "all" off leaves a site that was
# suspended by itself suspended.
MAINTENANCE_ALL_FLAG = ".wpfarm-maintenance-all"
POLL_S = 0.5


class SwarmRuntimeError(RuntimeError):
    """A step on the Swarm failed; the message says which and where to look."""


def secret_name(name: str) -> str:
    """Docker secret names: at most 64 characters; long ones keep a digest."""
    full = f"wpfarm_{name}"
    if len(full) <= 64:
        return full
    return f"{full[:51]}_{hashlib.sha256(full.encode()).hexdigest()[:12]}"


def render_location(farm: Farm) -> tuple[Path, list[Path]]:
    """Where `wpfarm render` put the farm (render/ beside farm.yaml) and a lab's overrides."""
    base = farm.source.parent if farm.source else Path.cwd()
    render_dir = base / "render"
    lab_dirs = [render_dir / "docker" / "compose" / "lab", render_dir / "docker" / "lab" /
                "compose"]
    return render_dir, [d for d in lab_dirs if d.is_dir()]


def domain_words(domains: Sequence[str]) -> str:
    """$DOMAINS for the jobs' `for d in $DOMAINS` loops, which split it unquoted (under
    `set -f`): each domain re-validated here, so a word can only be a plain domain name,
    never a glob, an option or two words."""
    bad = []
    for domain in domains:
        try:
            if validate_domain(domain) != domain:
                bad.append(f"{domain!r}: not in canonical form")
        except DomainError as exc:
            bad.append(str(exc))
    if bad:
        raise SwarmRuntimeError("refusing to pass invalid domains to a job: " + "; ".join(bad))
    return " ".join(domains)


class SwarmSiteRuntime:
    def __init__(self, farm: Farm, render_dir: Path | None = None,
                 override_dirs: Sequence[Path] | None = None, timeout: float = 300.0):
        found_dir, found_overrides = render_location(farm)
        self.farm = farm
        self.render_dir = render_dir or found_dir
        self.override_dirs = list(found_overrides if override_dirs is None else override_dirs)
        self.timeout = timeout
        self.client = manager_client(farm)
        self.api = self.client.api
        self.stack = load_stack(STACK, self.render_dir / "docker" / "compose" / "wordpress.yml",
                                self.override_dirs)
        self.example_name, self.example = self._example()
        self.example_domain = str(_env_dict(self.example)["WPFARM_SITE"])

    def close(self) -> None:
        """The Docker client (an ssh:// one holds an SSH session) is closed with the run."""
        self.client.close()

    # ------------------------------------------------------------ the site's service
    def _example(self) -> tuple[str, dict[str, Any]]:
        sites = {k: v for k, v in self.stack.services.items()
                 if "WPFARM_SITE" in _env_dict(v)}
        if not sites:
            raise SwarmRuntimeError(f"{self.stack.file}: no site service to copy; run "
                                    "`wpfarm render` for this farm first")
        name = next((k for k, v in sites.items()
                     if _env_dict(v)["WPFARM_SITE"] == self.farm.domain), next(iter(sites)))
        return name, sites[name]

    def _media_source(self, svc: dict[str, Any]) -> tuple[str, str]:
        """(host directory that holds every site's media, this mount's target)."""
        for raw in svc.get("volumes") or []:
            src, _, rest = str(raw).partition(":")
            marker = f"/{self.example_domain}/wp-content"
            if src.endswith(marker):
                return src[: -len(marker)], rest.split(":")[0]
        raise SwarmRuntimeError(f"{self.stack.file}: the example site mounts no "
                                f".../{self.example_domain}/wp-content directory")

    def site_service(self, names: SiteNames) -> tuple[Stack, dict[str, Any]]:
        """The compose service of `names`' site, and the stack document that declares its
        secret (the example's, re-aimed)."""
        svc = copy.deepcopy(self.example)
        env = _env_dict(svc)
        env.update({"WPFARM_SITE": names.domain, "WORDPRESS_DB_NAME": names.db_name,
                    "WORDPRESS_DB_USER": names.db_user,
                    "WPFARM_REDIS_PREFIX": names.redis_prefix})
        svc["environment"] = env
        db_secret = secret_name(f"{names.slug}_db_password")
        svc["secrets"] = [
            {"source": db_secret, "target": DB_SECRET_TARGET}
            if (s if isinstance(s, str) else s.get("target", s["source"])) == DB_SECRET_TARGET
            else s for s in svc.get("secrets") or []]
        root, target = self._media_source(self.example)
        svc["volumes"] = [
            f"{root}/{names.domain}/wp-content:{target}"
            if str(v).startswith(f"{root}/{self.example_domain}/wp-content:") else v
            for v in svc.get("volumes") or []]
        deploy = svc.setdefault("deploy", {})
        labels = {}
        for key, value in (deploy.get("labels") or {}).items():
            key = key.replace(f".{self.example_name}.", f".{names.service}.").replace(
                f".{self.example_name}-", f".{names.service}-")
            value = str(value)
            if value == self.example_name:
                value = names.service
            value = value.replace(f"`{self.example_domain}`", f"`{names.domain}`").replace(
                f"`www.{self.example_domain}`", f"`www.{names.domain}`")
            labels[key] = value
        labels["wpfarm.site"] = names.domain
        labels["wpfarm.redis.prefix"] = names.redis_prefix
        deploy["labels"] = labels
        doc = copy.deepcopy(self.stack.doc)
        doc.setdefault("secrets", {})[db_secret] = {"external": True}
        stack = Stack(STACK, self.stack.file, doc)
        return stack, svc

    def _refs(self) -> Refs:
        return Refs(networks={n["Name"]: n["Id"] for n in self.api.networks()},
                    secrets={s["Spec"]["Name"]: s["ID"] for s in self.api.secrets()},
                    configs={c["Spec"]["Name"]: c["ID"] for c in self.api.configs()})

    def spec(self, names: SiteNames) -> dict[str, Any]:
        stack, svc = self.site_service(names)
        spec = service_spec(stack, names.service, svc, self._refs())
        health = spec["TaskTemplate"]["ContainerSpec"].get("Healthcheck")
        if health and health.get("StartPeriod"):
            health.setdefault("StartInterval", START_INTERVAL_NS)
        return spec

    def _service(self, name: str) -> dict[str, Any] | None:
        return next((s for s in self.api.services(filters={"name": name})
                     if s["Spec"]["Name"] == name), None)

    def service_name(self, names: SiteNames) -> str:
        return f"{STACK}_{names.service}"

    # ------------------------------------------------------------ secrets
    def store_secret(self, name: str, value: str) -> bool:
        full = secret_name(name)
        existing = self.client.secrets.list(filters={"name": full})
        for secret in existing:
            if secret.name != full:
                continue
            users = [s["Spec"]["Name"] for s in self.api.services()
                     if any(ref.get("SecretName") == full for ref in
                            s["Spec"]["TaskTemplate"]["ContainerSpec"].get("Secrets") or [])]
            if users:
                raise SwarmRuntimeError(
                    f"secret {full} exists and {', '.join(users)} uses it: a create was cut "
                    f"short after its deploy step; `wpfarm site delete` it, then create again")
            # Docker secrets cannot be read back: an unused leftover is replaced.
            secret.remove()
        self.client.secrets.create(name=full, data=value.encode(),
                                   labels={"wpfarm.secret": name})
        return True

    def read_secret(self, name: str) -> str | None:
        return None  # Docker keeps secrets write-only; a resumed create makes a new one

    def remove_secret(self, name: str) -> bool:
        full = secret_name(name)
        for secret in self.client.secrets.list(filters={"name": full}):
            if secret.name == full:
                secret.remove()
                return True
        return False

    # ------------------------------------------------------------ serving
    def deploy(self, config: SiteConfig) -> bool:
        # config.db_host is the bastion's view of the database; the service keeps the
        # in-cluster address its stack file gives (ProxySQL, or the lab's Galera node).
        names = config.names
        spec = self.spec(names)
        current = self._service(spec["Name"])
        if current and current["Spec"].get("Labels", {}).get(SPEC_LABEL) == \
                spec["Labels"][SPEC_LABEL]:
            return False
        if current:
            self.api._result(self.api._post_json(
                self.api._url("/services/{0}/update", current["ID"]), data=spec,
                params={"version": current["Version"]["Index"]}), True)
        else:
            self.api._result(self.api._post_json(self.api._url("/services/create"),
                                                  data=spec), True)
        # Started, not yet healthy: a new site's tasks pass their health check only once
        # WordPress is installed (INSTALLING_FLAG), so install_wordpress waits for that,
        # and the install runs meanwhile instead of after it.
        self._wait_running(spec["Name"], _replicas(spec), {"starting", "running"})
        return True

    def _wait_running(self, name: str, want: int, states: frozenset[str] | set[str] =
                      frozenset({"running"})) -> None:
        """Until `want` tasks are in `states` ("running": started and healthy)."""
        deadline = time.monotonic() + self.timeout
        error = ""
        while time.monotonic() < deadline:
            service = self._service(name)
            tasks = self.api.tasks(filters={"service": name, "desired-state": "running"}) \
                if service else []
            ready = 0
            for t in tasks:
                if t["Status"]["State"] in states:
                    cid = (t["Status"].get("ContainerStatus") or {}).get("ContainerID")
                    ready += 1 if cid else 0
                error = t["Status"].get("Err") or error
            if ready >= want:
                return
            time.sleep(POLL_S)
        what = "healthy" if states == {"running"} else "started"
        raise SwarmRuntimeError(f"{name}: not {what} after {self.timeout:.0f} s"
                                f"{': ' + error if error else ''}; see `wpfarm service logs "
                                f"{name}`")

    def undeploy(self, names: SiteNames) -> bool:
        name = self.service_name(names)
        service = self._service(name)
        if service is None:
            return False
        self.api.remove_service(service["ID"])
        deadline = time.monotonic() + self.timeout
        # Its secret can be removed only once no task holds it.
        while self._tasks_left(name) and time.monotonic() < deadline:
            time.sleep(POLL_S)
        return True

    def _tasks_left(self, service: str) -> bool:
        try:
            return bool(self.api.tasks(filters={"service": service}))
        except docker.errors.NotFound:  # the service is gone, and its tasks with it
            return False

    def deployed(self, names: SiteNames) -> bool:
        return self._service(self.service_name(names)) is not None

    def log_stream(self, names: SiteNames, tail: int = 100, follow: bool = True) -> LogStream:
        name = self.service_name(names)
        if self._service(name) is None:
            raise SwarmRuntimeError(f"{names.domain}: no service {name} (not deployed)")
        return ServiceLogStream(self.api, name, name, tail=tail, follow=follow)

    # ------------------------------------------------------------ media
    def _media_job(self, names: SiteNames, script: str, what: str, media: bool = True,
                   env: dict[str, str] | None = None, secrets: Sequence[str] = ()) -> str:
        """A shell script in the site's image, on the site's networks; with `media`, every
        site's media directory mounted at /sites; of the site's secrets only `secrets`."""
        root, _target = self._media_source(self.example)
        spec = self.spec(names)
        container = spec["TaskTemplate"]["ContainerSpec"]
        container["Mounts"] = [{"Type": "bind", "Source": root, "Target": "/sites",
                                "ReadOnly": False}] if media else []
        kept = [s for s in container.pop("Secrets", None) or [] if s["File"]["Name"] in secrets]
        missing = set(secrets) - {s["File"]["Name"] for s in kept}
        if missing:
            raise SwarmRuntimeError(
                f"{self.stack.file}: the site's service mounts no secret "
                f"{', '.join(sorted(missing))}; run `wpfarm render` and `wpfarm deploy app` "
                "(the farm predates it)")
        if kept:
            container["Secrets"] = kept
        container["Command"] = ["/bin/sh", "-c", script]
        container.pop("Args", None)
        container["Env"] = [f"D={names.domain}", *(f"{k}={v}" for k, v in (env or {}).items())]
        return self._run_job(spec, f"{what}", names)

    def ensure_media(self, names: SiteNames) -> bool:
        out = self._media_job(names, (
            'if [ -d "/sites/$D/wp-content" ]; then echo exists; exit 0; fi; '
            'mkdir -p "/sites/$D/wp-content/uploads" "/sites/$D/wp-content/plugins" '
            '"/sites/$D/wp-content/themes" || exit 1; '
            # Unserved and unhealthy until the install job has run (the image's nginx.conf).
            f'touch "/sites/$D/wp-content/{INSTALLING_FLAG}"; '
            # The release's default themes from the image (the lab's: Debian's package).
            'for src in /usr/share/wpfarm/wp-content /usr/share/wordpress/wp-content; do '
            'if [ -d "$src/themes" ]; then cp -a "$src/themes/." '
            '"/sites/$D/wp-content/themes/"; break; fi; done; '
            'chown -R www-data:www-data "/sites/$D" && echo created'), "media")
        return "created" in out

    def remove_media(self, names: SiteNames) -> bool:
        out = self._media_job(names, (
            'if [ ! -d "/sites/$D" ]; then echo absent; exit 0; fi; '
            'rm -rf "/sites/$D" && echo removed'), "media-rm")
        return "removed" in out

    def set_maintenance(self, names: SiteNames, on: bool) -> bool:
        flag = shlex.quote(f"/sites/{names.domain}/wp-content/{MAINTENANCE_FLAG}")
        script = (f"if [ -f {flag} ]; then echo on; exit 0; fi; touch {flag} && echo changed"
                  if on else
                  f"if [ ! -f {flag} ]; then echo off; exit 0; fi; rm -f {flag} && echo changed")
        return "changed" in self._media_job(names, script, "maintenance")

    def set_maintenance_all(self, domains: Sequence[str], on: bool) -> int:
        """The every-site flag in each of `domains`' wp-content, in one job; how many
        changed. A domain without a media directory is skipped (it serves nothing)."""
        if not domains:
            return 0
        op = ('[ -f "$f" ] || { touch "$f" && n=$((n+1)); }' if on else
              '[ ! -f "$f" ] || { rm -f "$f" && n=$((n+1)); }')
        script = (f'set -f; n=0; for d in $DOMAINS; do [ -d "/sites/$d/wp-content" ] || '
                  f'continue; f="/sites/$d/wp-content/{MAINTENANCE_ALL_FLAG}"; {op}; done; '
                  'echo "changed $n"')
        out = self._media_job(names_for(self.example_domain), script, "maintenance-all",
                              env={"DOMAINS": domain_words(domains)})
        found = re.search(r"changed (\d+)", out)
        if found is None:
            raise SwarmRuntimeError(f"maintenance job printed no count: {out[-300:]}")
        return int(found.group(1))

    def purge_all(self, domains: Sequence[str]) -> str:
        """BAN every one of `domains` in every Varnish task, in one job."""
        return self._ban_job(names_for(self.example_domain), domains, "purge-all")

    def purge(self, names: SiteNames) -> str:
        """BAN the site's pages in every Varnish task (the console cannot reach Varnish's
        admin port inside the overlay): from the farm's network, with the purge token."""
        return self._ban_job(names, [names.domain], "purge")

    def _ban_job(self, names: SiteNames, domains: Sequence[str], what: str) -> str:
        """A Varnish that fails one BAN is given up on and not counted (not waited on once
        per domain). The token goes to curl in a private header file (`-H @file`), never
        on its command line."""
        token = f"/run/secrets/{PURGE_TOKEN_SECRET}"
        out = self._media_job(names, (
            f'set -f; umask 077; h=$(mktemp) || exit 1; trap \'rm -f "$h"\' EXIT; '
            f'printf \'{PURGE_TOKEN_HEADER}: %s\\n\' "$(tr -d \'\\n\' < {token})" > "$h"; '
            "ips=$({ getent ahostsv4 tasks.cache_varnish; getent ahostsv4 varnish; } "
            "| awk '{print $1}' | sort -u); n=0; for ip in $ips; do ok=1; "
            'for d in $DOMAINS; do curl -fsS -o /dev/null -m 5 -X BAN -H @"$h" -H "Host: $d" '
            '"http://$ip/" || { ok=0; break; }; done; [ $ok = 1 ] && n=$((n+1)); done; '
            'echo "banned in $n varnish"'), what, media=False,
            env={"DOMAINS": domain_words(domains)}, secrets=[PURGE_TOKEN_SECRET])
        return next((line for line in out.splitlines() if line.startswith("banned")),
                    out.strip()[-200:])

    # ------------------------------------------------------------ WordPress
    def install_wordpress(self, config: SiteConfig, admin_password: str) -> bool:
        names = config.names
        once = secret_name(f"{names.slug}_admin_once")
        with contextlib.suppress(docker.errors.NotFound):
            self.client.secrets.get(once).remove()
        secret = self.client.secrets.create(name=once, data=admin_password.encode(),
                                            labels={"wpfarm.secret": "admin-once"})
        try:
            spec = self.spec(names)
            container = spec["TaskTemplate"]["ContainerSpec"]
            container["Args"] = ["install"]
            container["Env"] = [*container.get("Env", []), f"WPFARM_SITE_TITLE={config.title}",
                                f"WPFARM_ADMIN_EMAIL={config.admin_email}"]
            container.setdefault("Secrets", []).append({
                "SecretID": secret.id, "SecretName": once,
                "File": {"Name": ADMIN_SECRET_TARGET, "UID": "0", "GID": "0", "Mode": 0o400}})
            out = self._run_job(spec, "install", names)
        finally:
            with contextlib.suppress(docker.errors.APIError):
                secret.remove()
        if "installed" not in out:
            raise SwarmRuntimeError(f"WordPress install printed no result: {out[-300:]}")
        # The flag is gone: the tasks pass their next health check and join the VIP.
        name = self.service_name(names)
        service = self._service(name)
        self._wait_running(name, _replicas(service["Spec"]) if service else 1)
        return "already installed" not in out

    def _run_job(self, spec: dict[str, Any], what: str, names: SiteNames) -> str:
        """Run `spec` once as a replicated job; its output, or an error with its tail."""
        name = f"{self.service_name(names)[:50]}-{what}"[:63]
        job = copy.deepcopy(spec)
        job["Name"] = name
        job["Labels"] = {"wpfarm.job": what, "wpfarm.site": names.domain}
        job["Mode"] = {"ReplicatedJob": {"MaxConcurrent": 1, "TotalCompletions": 1}}
        for key in ("UpdateConfig", "RollbackConfig"):
            job.pop(key, None)
        job["EndpointSpec"] = {"Mode": "dnsrr"}  # no VIP for a job
        task = job["TaskTemplate"]
        task["RestartPolicy"] = {"Condition": "none"}
        task["ContainerSpec"].pop("Healthcheck", None)
        task["ContainerSpec"]["Labels"] = {"wpfarm.job": what}
        # Not under the site's name: a job must not answer for the site in DNS.
        task["Networks"] = [{**n, "Aliases": []} for n in task.get("Networks", [])]
        old = self._service(name)
        if old is not None:
            self.api.remove_service(old["ID"])
        self.api._result(self.api._post_json(self.api._url("/services/create"), data=job), True)
        try:
            state, error = self._wait_job(name)
            stream = ServiceLogStream(self.api, name, name, tail=200, follow=False)
            out = "\n".join(_strip_timestamp(line) for line in stream.lines())
        finally:
            with contextlib.suppress(docker.errors.APIError):
                self.api.remove_service(name)
        if state != "complete":
            raise SwarmRuntimeError(f"{what} job for {names.domain} {state}"
                                    f"{': ' + error if error else ''}: {out.strip()[-300:]}")
        return out

    def _wait_job(self, name: str) -> tuple[str, str]:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            for t in self.api.tasks(filters={"service": name}):
                state = t["Status"]["State"]
                if state in ("complete", "failed", "rejected", "shutdown"):
                    return state, t["Status"].get("Err") or ""
            time.sleep(POLL_S)
        return f"did not finish in {self.timeout:.0f} s", ""


def _env_dict(svc: dict[str, Any]) -> dict[str, Any]:
    env = svc.get("environment") or {}
    if isinstance(env, list):
        return dict(str(e).partition("=")[::2] for e in env)
    return dict(env)


def _replicas(spec: dict[str, Any]) -> int:
    return int(spec["Mode"].get("Replicated", {}).get("Replicas", 1))


_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT[0-9:.]+Z ")


def _strip_timestamp(line: str) -> str:
    return _TIMESTAMP.sub("", line)
