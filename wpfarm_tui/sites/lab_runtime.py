"""Sites on the loopback lab: nginx server + php-fpm pool + Traefik router files.

The lab's nginx includes `nginx/sites/*.conf`, its php-fpm `php-fpm/pools/*.conf`
and Traefik watches `traefik/dynamic.d/`; a site is one file in each, plus
Debian's /etc/wordpress/config-<domain>.php. nginx is reloaded with SIGHUP and
php-fpm with SIGUSR2 (both graceful: the other sites keep answering), through
the lab's `Reloads` (lab/reloads.py): one change at a time, checked first.
"""

from __future__ import annotations

import os
import secrets as pysecrets
import shutil
import subprocess
from pathlib import Path

from wpfarm_tui import programs
from wpfarm_tui.farm.logs import FileLogStream, LogStream
from wpfarm_tui.files import write_atomic
from wpfarm_tui.lab.base import _chown_tree, _template
from wpfarm_tui.lab.lab import Lab
from wpfarm_tui.sites.model import SiteConfig
from wpfarm_tui.sites.naming import SiteNames

WP_ETC = Path("/etc/wordpress")

_POOL = """[{domain}]
user = www-data
group = www-data
listen = {sock}
listen.owner = www-data
listen.group = www-data
listen.mode = 0660
; ondemand: hundreds of lab sites must not each keep PHP workers alive
pm = ondemand
pm.max_children = 2
pm.process_idle_timeout = 30s
php_admin_value[memory_limit] = 256M
"""

_ROUTER = """# Site {domain}, added by `wpfarm site create` (sites/lab_runtime.py).
http:
  routers:
    {router}:
      rule: "Host(`{domain}`)"
      entryPoints: [web]
      service: varnish@file
"""


class LabSiteRuntime:
    def __init__(self, lab: Lab):
        self.lab = lab
        self.root = lab.root

    def close(self) -> None:
        """Nothing to close: files and signals only."""

    # ------------------------------------------------------------ paths
    def _nginx_conf(self, n: SiteNames) -> Path:
        return self.root / "nginx" / "sites" / f"{n.domain}.conf"

    def _pool_conf(self, n: SiteNames) -> Path:
        return self.root / "php-fpm" / "pools" / f"{n.domain}.conf"

    def _sock(self, n: SiteNames) -> Path:
        return self.root / "php-fpm" / f"{n.domain}.sock"

    def _router(self, n: SiteNames) -> Path:
        return self.root / "traefik" / "dynamic.d" / f"site-{n.domain}.yml"

    def _content(self, n: SiteNames) -> Path:
        return self.root / "wordpress" / n.domain / "wp-content"

    def _wp_config(self, n: SiteNames) -> Path:
        return WP_ETC / f"config-{n.domain}.php"

    def _secret(self, name: str) -> Path:
        return self.root / "secrets" / name

    # ------------------------------------------------------------ secrets
    def store_secret(self, name: str, value: str) -> bool:
        path = self._secret(name)
        if path.exists():
            return False
        write_atomic(path, value + "\n", mode=0o600)
        return True

    def read_secret(self, name: str) -> str | None:
        path = self._secret(name)
        return path.read_text().strip() if path.exists() else None

    def remove_secret(self, name: str) -> bool:
        path = self._secret(name)
        if not path.exists():
            return False
        path.unlink()
        return True

    # ------------------------------------------------------------ media
    def ensure_media(self, names: SiteNames) -> bool:
        content = self._content(names)
        if content.exists():
            return False
        shutil.copytree("/var/lib/wordpress/wp-content", content, symlinks=True)
        theme = content / "themes" / "wpfarm-lab"
        theme.mkdir(parents=True, exist_ok=True)
        write_atomic(theme / "style.css", _template("theme-style.css"))
        write_atomic(theme / "index.php", _template("theme-index.php"))
        _chown_tree(content.parent, "www-data")
        return True

    def remove_media(self, names: SiteNames) -> bool:
        site_dir = self._content(names).parent
        if not site_dir.exists():
            return False
        shutil.rmtree(site_dir)
        return True

    # ------------------------------------------------------------ serving
    def deploy(self, config: SiteConfig) -> bool:
        n = config.names
        changed = False
        salts = "\n".join(f"define('{k}', '{pysecrets.token_urlsafe(48)}');" for k in (
            "AUTH_KEY", "SECURE_AUTH_KEY", "LOGGED_IN_KEY", "NONCE_KEY", "AUTH_SALT",
            "SECURE_AUTH_SALT", "LOGGED_IN_SALT", "NONCE_SALT"))
        wp_config = self._wp_config(n)
        if not wp_config.exists():
            text = _template("wp-config.php", HOST=n.domain, DB=n.db_name, DBPW=config.db_password,
                             CONTENT=self._content(n), SALTS=salts)
            # The lab template names the user after the database; sites made here have their own.
            text = text.replace(f"define('DB_USER', '{n.db_name}');",
                                f"define('DB_USER', '{n.db_user}');")
            text = text.replace("define('DB_HOST', '127.0.0.1:33061');",
                                f"define('DB_HOST', '{config.db_host}');")
            text += (f"define('WP_REDIS_PREFIX', '{n.redis_prefix}');\n"
                     "define('DISALLOW_FILE_EDIT', true);\n")
            write_atomic(wp_config, text, mode=0o640)
            shutil.chown(wp_config, "root", "www-data")
            changed = True
        # Shared servers change through the lab's one path (lab/reloads.py): serialised,
        # checked with -t before the signal, files put back when a reload fails.
        reloads = self.lab.reloads
        pool = _POOL.format(domain=n.domain, sock=self._sock(n))
        changed |= reloads.apply("php-fpm", {self._pool_conf(n): pool}, wait_for=self._sock(n))
        server = _template("nginx-server.conf", HOST=n.domain, CONTENT=self._content(n),
                           SOCK=self._sock(n), MAINT=self.lab.maintenance_dir,
                           LOGS=self.lab.site_logs_dir)
        changed |= reloads.apply("nginx", {self._nginx_conf(n): server})
        router = _ROUTER.format(domain=n.domain, router=n.service)
        changed |= reloads.apply("traefik", {self._router(n): router})
        return changed

    def undeploy(self, names: SiteNames) -> bool:
        # Edge first, PHP last: no request is routed to a server block whose pool is gone.
        # Each removal happens under the reload lock, so no reload is reading the file.
        reloads = self.lab.reloads
        changed = reloads.apply("traefik", {self._router(names): None})
        changed |= reloads.apply("nginx", {self._nginx_conf(names): None})
        changed |= reloads.apply("php-fpm", {self._pool_conf(names): None})
        wp_config = self._wp_config(names)
        if wp_config.exists():  # read per request by PHP, not by a reload
            wp_config.unlink()
            changed = True
        return changed

    def deployed(self, names: SiteNames) -> bool:
        return self._router(names).exists() and self._nginx_conf(names).exists()

    def install_wordpress(self, config: SiteConfig, admin_password: str) -> bool:
        script = self.root / "wordpress" / "wp_install.php"
        env = dict(os.environ, WPFARM_WP_ADMIN_PW=admin_password)
        out = subprocess.run(
            [programs.path("runuser"), "-u", "www-data", "--", programs.path("php"), str(script),
             config.names.domain, config.title],
            # Its own process group: a Ctrl-C on the terminal of a bulk run reaches the
            # run (which lets in-flight sites finish), not the installer half-way.
            env=env, capture_output=True, text=True, timeout=120, process_group=0)
        if out.returncode != 0 or "installed" not in out.stdout:
            tail = (out.stderr or out.stdout).strip()[-300:]
            raise RuntimeError(f"WordPress install failed: {tail}")
        return out.stdout.startswith("installed")

    def log_stream(self, names: SiteNames, tail: int = 100, follow: bool = True) -> LogStream:
        logs = self.lab.site_logs_dir
        return FileLogStream(f"site {names.domain}", [logs / f"{names.domain}.access.log",
                                                     logs / f"{names.domain}.error.log"],
                             tail=tail, follow=follow)

    def set_maintenance(self, names: SiteNames, on: bool) -> bool:
        flag = self.lab.maintenance_dir / names.domain
        if on == flag.exists():
            return False
        if on:
            flag.touch()
        else:
            flag.unlink()
        return True

