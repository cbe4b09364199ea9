"""The farm on the swarm lab: render with lab images, lab overrides, secrets, images, seed.

What differs from production, and why (each an override file, never a template change):
- every stack: `endpoint_mode: dnsrr`, host-mode ports (render_farm(lab=True)): no IPVS.
- images: the stand-ins of variants.py, all in the lab registry 10.99.0.1:5000.
- db: the start script announces the task's IP as wsrep_node_address, not its hostname
  (Swarm's DNS lists a task only once healthy, so a joiner's name cannot be resolved by
  its donor during the state transfer: a production bug too, reported); Galera data in
  named volumes (the three nodes share one host filesystem, so the
  production bind /var/lib/wpfarm/mariadb would be ONE directory for three servers);
  a small galera.cnf (128M buffer pool instead of 8G, rsync SST instead of mariabackup, as
  the lab notes); ProxySQL skipped (no image): WordPress talks to mariadb-1:3306;
  Galera's 3306 published on each db node (the console's way in, farm.yaml
  endpoints.galera).
- cache: the Prometheus exporters are left out (no images); Varnish 64M instead of 4G.
- security: the CrowdSec Local API without its agent (no hub collections offline), so
  without the Traefik access logs it would read from GlusterFS.
- app: one WordPress replica per site (two add nothing to a lab); wp-content from a shared
  lab directory instead of GlusterFS.
- edge: one Traefik replica, on node1 (Varnish's one backend must resolve to one
  address; with dnsrr each replica is one); Traefik's static config without the
  CrowdSec plugin (downloaded from GitHub at start) and with an ACME resolver pointed at
  a closed local port (no Let's Encrypt here; the default certificate is served);
  cloudflare-only allows the lab's private ranges; the crowdsec middleware is a no-op
  stand-in; sniStrict off; Galera's 3306 published on each db node (the console's way
  in, farm.yaml endpoints.galera).
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import secrets
import time
from collections.abc import Callable
from pathlib import Path

import docker
import yaml

from wpfarm_tui.files import write_atomic
from wpfarm_tui.inventory import load_farm
from wpfarm_tui.stacks.accounts import ACCOUNTS
from wpfarm_tui.stacks.images import build as build_image
from wpfarm_tui.stacks.images import farm_builds, push
from wpfarm_tui.stacks.render import render_farm
from wpfarm_tui.swarmlab.lab import NODES, REGISTRY, SwarmLab, SwarmLabError
from wpfarm_tui.swarmlab.variants import (
    THEME_INDEX,
    THEME_STYLE,
    WORDPRESS_LAB_LAYER,
    WP_INSTALL_PHP,
    build_context,
    lab_bases,
    lab_tag,
    lab_versions,
)

Progress = Callable[[str], None]
SITE = "swarmlab.test"
SITE_SERVICE = "site-swarmlab-test"


def _yaml(doc: dict, note: str) -> str:
    return f"# {note}\n" + yaml.safe_dump(doc, sort_keys=False)


class LabFarm:
    def __init__(self, lab: SwarmLab) -> None:
        self.lab = lab
        self.render_dir = lab.root / "render"
        self.secrets_dir = lab.root / "secrets"
        self.wp_content = lab.root / "gluster" / "sites" / SITE / "wp-content"

    @property
    def override_dirs(self) -> list[Path]:
        d = self.render_dir / "docker"
        return [d / "compose" / "lab", d / "lab" / "compose"]

    @property
    def farm(self):
        return load_farm(self.lab.farm_file)

    # ------------------------------------------------------------------ render
    def render(self) -> Path:
        render_farm(self.farm, self.render_dir, versions=lab_versions(REGISTRY), lab=True)
        self._write_overrides()
        return self.render_dir

    def _write_overrides(self) -> None:
        d = self.render_dir / "docker"
        comp, cfg = d / "lab" / "compose", d / "lab" / "configs"
        comp.mkdir(parents=True, exist_ok=True)
        cfg.mkdir(parents=True, exist_ok=True)

        def config(name: str, text: str) -> dict:
            (cfg / name).write_text(text)
            sha = hashlib.sha256(text.encode()).hexdigest()[:12]
            stem = re.sub(r"[^a-z0-9]+", "_", name.rsplit(".", 1)[0])
            return {"name": f"wpfarm_lab_{stem}_{sha}", "file": f"../configs/{name}"}

        galera = (d / "configs/mariadb/galera.cnf").read_text()
        for old, new in (("innodb_buffer_pool_size=8G", "innodb_buffer_pool_size=128M"),
                         ("innodb_log_file_size=1G", "innodb_log_file_size=48M"),
                         ("gcache.size=2G", "gcache.size=64M"),
                         ("max_connections=1000", "max_connections=200"),
                         ("wsrep_sst_method=mariabackup", "wsrep_sst_method=rsync")):
            galera = galera.replace(old, new)
        dbs = [n for n in NODES if "db" in n.roles]
        start = (d / "configs/mariadb/galera-start.sh").read_text()
        (comp / "mariadb.yml").write_text(_yaml({
            "services": {f"mariadb-{i}": {
                "volumes": [f"mariadb-{i}-data:/var/lib/mysql"],
                # The bastion's way in (farm.yaml endpoints.galera): the node's address.
                "ports": [{"target": 3306, "published": 3306, "protocol": "tcp",
                           "mode": "host"}],
                "deploy": {"resources": {"limits": {"memory": "1G"}}},
            } for i in range(1, len(dbs) + 1)},
            "volumes": {f"mariadb-{i}-data": {} for i in range(1, len(dbs) + 1)},
            "configs": {"galera_cnf": config("galera.cnf", galera),
                        "galera_start": config("galera-start.sh", start)},
        }, "swarm lab: Galera data in per-node volumes, a small galera.cnf"))
        (comp / "proxysql.yml").write_text(_yaml(
            {"x-wpfarm-skip": "lab: no ProxySQL image in any registry here; WordPress "
                              "connects to mariadb-1:3306 directly"}, "swarm lab"))
        (comp / "redis.yml").write_text(_yaml(
            {"x-wpfarm-remove": {"redis-exporter": "lab: no redis_exporter image here"}},
            "swarm lab"))
        (comp / "varnish.yml").write_text(_yaml({
            "x-wpfarm-remove": {"varnish-exporter": "lab: no varnish exporter image here"},
            "services": {"varnish": {"environment": {"VARNISH_SIZE": "64M"}, "volumes": []}},
        }, "swarm lab: no shared varnishd workdir (no exporter), 64M of cache"))
        (comp / "crowdsec.yml").write_text(_yaml({
            "services": {"crowdsec": {"volumes": ["crowdsec-db:/var/lib/crowdsec/data",
                                                  "crowdsec-config:/etc/crowdsec"]}},
        }, "swarm lab: the Local API only (no agent, so no Traefik logs from GlusterFS)"))
        (comp / "wordpress.yml").write_text(_yaml({
            "services": {SITE_SERVICE: {
                "environment": {"WORDPRESS_DB_HOST": "mariadb-1:3306"},
                "networks": ["app", "cache", "db"],
                "volumes": [f"{self.wp_content}:/var/www/html/wp-content"],
                "deploy": {"replicas": 1},
            }},
            "networks": {"db": {"external": True, "name": "wpfarm_db"}},
        }, "swarm lab: no ProxySQL, one replica (Varnish needs one address per backend)"))
        static = {
            "global": {"checkNewVersion": False, "sendAnonymousUsage": False},
            "log": {"level": "INFO", "format": "json"},
            # As the farm's (the headers the console's traffic figures read), from the
            # rendered file: one place says which fields the access log keeps.
            "accessLog": yaml.safe_load(
                (d / "configs/traefik/traefik.yml").read_text())["accessLog"],
            "entryPoints": {
                "web": {"address": ":80"},
                "websecure": {"address": ":443", "http": {"tls": {"certResolver":
                                                                  "letsencrypt"}}},
                "traefik": {"address": ":8080"},
                "sites": {"address": ":8081", "forwardedHeaders": {"trustedIPs": [
                    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]}},
                "metrics": {"address": ":8082"},
            },
            "metrics": {"prometheus": {"entryPoint": "metrics", "addEntryPointsLabels": True,
                                       "addRoutersLabels": True, "addServicesLabels": True}},
            "api": {"dashboard": True, "insecure": False},
            "ping": {"entryPoint": "traefik"},
            "providers": {
                "swarm": {"endpoint": "unix:///var/run/docker.sock",
                          "exposedByDefault": False, "network": "wpfarm_edge",
                          "watch": True},
                "file": {"directory": "/etc/traefik/dynamic", "watch": True},
            },
            # The routers name this resolver; it exists but can never reach an ACME
            # server (a closed local port), so Traefik serves its default certificate.
            "certificatesResolvers": {"letsencrypt": {"acme": {
                "email": "hostmaster@swarmlab.test", "storage": "/letsencrypt/acme.json",
                "caServer": "https://127.0.0.1:1/directory",
                "tlsChallenge": {}}}},
        }
        # The rendered file (its routers, e.g. the PURGE/BAN refusal, stay as in production)
        # with the two middlewares that cannot work here replaced.
        security = yaml.safe_load((d / "configs/traefik/dynamic/security.yml").read_text())
        security["http"]["middlewares"].update({
            "cloudflare-only": {"ipAllowList": {"sourceRange": [
                "127.0.0.1/32", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]}},
            # Stand-in for the CrowdSec bouncer plugin (fetched from GitHub at start).
            "crowdsec": {"headers": {"customRequestHeaders": {"X-Wpfarm-Crowdsec":
                                                              "lab-standin"}}},
        })
        tls = {"tls": {"options": {"default": {"minVersion": "VersionTLS12"}}}}
        (comp / "traefik.yml").write_text(_yaml({
            "services": {"traefik": {
                "volumes": ["/var/run/docker.sock:/var/run/docker.sock:ro",
                            "letsencrypt:/letsencrypt"],
                # One Traefik, on node1: Varnish resolves its backend name to ONE address
                # when it loads its VCL; with dnsrr three replicas are three addresses
                # (production's VIP is one).
                "deploy": {"replicas": 1, "placement": {"constraints": [
                    "node.role == manager", f"node.hostname == {NODES[0].name}"]}},
            }},
            "volumes": {"letsencrypt": {}},
            "configs": {
                "traefik_static": config("traefik.yml", yaml.safe_dump(static, sort_keys=False)),
                "traefik_security": config("traefik-security.yml",
                                           yaml.safe_dump(security, sort_keys=False)),
                "traefik_tls": config("traefik-tls.yml", yaml.safe_dump(tls, sort_keys=False)),
            },
        }, "swarm lab: no CrowdSec plugin, no Let's Encrypt, private ranges allowed"))

    # ------------------------------------------------------------------ secrets
    def secret_value(self, name: str) -> str:
        path = self.secrets_dir / name
        if not path.exists():
            self.secrets_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            if name == "traefik_dashboard_users":
                import base64

                pw = secrets.token_hex(12)
                write_atomic(self.secrets_dir / "traefik_dashboard_password", pw, mode=0o600)
                sha = base64.b64encode(hashlib.sha1(pw.encode()).digest()).decode()
                value = f"admin:{{SHA}}{sha}\n"
            elif name == "mysqld_exporter_my_cnf":  # a my.cnf, as mysqld_exporter reads it
                value = f"[client]\nuser=exporter\npassword={secrets.token_hex(16)}\n"
            else:
                value = secrets.token_hex(16)
            write_atomic(path, value, mode=0o600)
        return path.read_text()

    def create_secrets(self, progress: Progress = print) -> list[str]:
        """Every external secret the rendered stacks and the database accounts name (as
        `wpfarm bootstrap` makes them), with a random value kept here."""
        names: set[str] = {a.secret for a in ACCOUNTS}
        for f in (self.render_dir / "docker" / "compose").glob("*.yml"):
            doc = yaml.safe_load(f.read_text()) or {}
            for key, val in (doc.get("secrets") or {}).items():
                if (val or {}).get("external"):
                    names.add((val or {}).get("name") or key)
        made = []
        with contextlib.closing(self.lab.client()) as cli:
            have = {s.name for s in cli.secrets.list()}
            for name in sorted(names - have):
                cli.secrets.create(name=name, data=self.secret_value(name).encode(),
                                   labels={"wpfarm.lab": "swarmlab"})
                made.append(name)
        if made:
            progress(f"secrets: created {', '.join(made)}")
        return made

    # ------------------------------------------------------------------ images
    def build_images(self, names: tuple[str, ...] = (), progress: Progress = print,
                     force: bool = False) -> dict[str, float]:
        """Build the lab stand-ins and the farm's images on node 1, push to the registry.

        Returns seconds per image (0.0 = already in the registry, skipped)."""
        times: dict[str, float] = {}
        versions = lab_versions(REGISTRY)
        with contextlib.closing(self.lab.client(timeout=900)) as cli:
            for name, (dockerfile, files) in lab_bases(REGISTRY).items():
                if names and name not in names and not (name == "wp-cli" and
                                                        "wordpress" in names):
                    continue
                tag = lab_tag(REGISTRY, name)
                if not force and self._have(cli, tag):
                    times[f"lab/{name}"] = 0.0
                    continue
                progress(f"image: building lab stand-in {tag}")
                secs = build_context(cli, tag, dockerfile, files)
                push(cli, tag)
                times[f"lab/{name}"] = secs
                progress(f"image: {tag} built in {secs:.0f} s and pushed")
            for spec in farm_builds(self.render_dir, versions):
                if names and spec.name not in names:
                    continue
                if not force and self._have(cli, spec.tag):
                    times[spec.name] = 0.0
                    continue
                progress(f"image: building {spec.name} from the farm's Dockerfile")
                t0 = time.monotonic()
                if spec.name == "wordpress":
                    upstream = spec.tag + "-upstream"
                    from dataclasses import replace

                    build_image(cli, replace(spec, tag=upstream))
                    (self.render_dir / "docker" / "lab").mkdir(parents=True, exist_ok=True)
                    build_context(cli, spec.tag, WORDPRESS_LAB_LAYER.format(base=upstream),
                                  {"wp-install.php": WP_INSTALL_PHP.encode()})
                else:
                    build_image(cli, spec)
                push(cli, spec.tag)
                times[spec.name] = time.monotonic() - t0
                progress(f"image: {spec.tag} built in {times[spec.name]:.0f} s and pushed")
        return times

    @staticmethod
    def _have(cli: docker.DockerClient, tag: str) -> bool:
        """In the registry already (a built-but-unpushed image is pushed again)."""
        try:
            cli.images.get_registry_data(tag)
            return True
        except docker.errors.APIError:
            return False

    # ------------------------------------------------------------------ seeding
    def seed_content(self) -> None:
        theme = self.wp_content / "themes" / "wpfarm-lab"
        theme.mkdir(parents=True, exist_ok=True)
        (theme / "style.css").write_text(THEME_STYLE)
        (theme / "index.php").write_text(THEME_INDEX)
        for p in [self.wp_content, *self.wp_content.rglob("*")]:
            p.chmod(0o755 if p.is_dir() else 0o644)

    def _task_container(self, service: str) -> docker.models.containers.Container:
        with contextlib.closing(self.lab.client()) as cli:
            tasks = cli.api.tasks(filters={"service": service, "desired-state": "running"})
            nodes = {n["ID"]: n["Description"]["Hostname"] for n in cli.api.nodes()}
        for t in tasks:
            cid = (t["Status"].get("ContainerStatus") or {}).get("ContainerID")
            if t["Status"]["State"] == "running" and cid:
                node = next(n for n in NODES if n.name == nodes[t["NodeID"]])
                return self.lab.client(node).containers.get(cid)
        raise SwarmLabError(f"no running task of {service}")

    def exec(self, service: str, cmd: list[str], env: dict[str, str] | None = None) -> str:
        container = self._task_container(service)
        code, out = container.exec_run(cmd, environment=env or {})
        text = out.decode(errors="replace")
        if code != 0:
            raise SwarmLabError(f"{service}: `{cmd[0]}` exited {code}: {text.strip()[-400:]}")
        return text

    def install_site(self) -> str:
        pw = self.secret_value("wordpress_admin_password").strip()
        return self.exec(f"wp_{SITE_SERVICE}",
                         ["php", "/usr/local/share/wpfarm/wp-install.php", SITE, "Swarm lab"],
                         env={"WPFARM_WP_ADMIN_PW": pw})
