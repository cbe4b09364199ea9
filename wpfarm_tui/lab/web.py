"""WordPress of the lab's sites on one php-fpm and one nginx: their configuration, the
WordPress install of each site, and the reloads of these shared servers."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from wpfarm_tui.files import write_atomic
from wpfarm_tui.lab.base import SITES, LabBase, LabError, Progress, _chown_tree, _template
from wpfarm_tui.lab.reloads import Reloads


class WebMixin(LabBase):
    @property
    def reloads(self) -> Reloads:
        """Changes to php-fpm / nginx / Traefik files: serialised, checked, waited for."""
        return Reloads(self)

    def _prepare_web(self) -> None:
        fpm = self._dir("php-fpm")
        pools = "".join(_template("php-fpm-pool.conf", SITE=site, DIR=fpm) for site in SITES)
        fpm_conf = _template("php-fpm.conf", DIR=fpm, POOLS=pools)
        if not (fpm / "php-fpm.conf").exists() or (fpm / "php-fpm.conf").read_text() != fpm_conf:
            # A running php-fpm reloads a changed config (e.g. after a lab upgrade) the one
            # way shared servers change: serialised with site creates, checked first.
            with self.reloads.lock():
                write_atomic(fpm / "php-fpm.conf", fpm_conf)
                if self._pid_of("php-fpm") is not None:
                    self.reloads.check("php-fpm")
                    self.reloads.reload("php-fpm")
        (fpm / "pools").mkdir(exist_ok=True)
        ngx = self._dir("nginx")
        for sub in ("body", "fastcgi", "proxy", "uwsgi", "scgi"):
            (ngx / "tmp" / sub).mkdir(parents=True, exist_ok=True)
        (ngx / "sites").mkdir(exist_ok=True)
        servers = "".join(
            _template(
                "nginx-server.conf",
                HOST=site,
                CONTENT=self._wp_content(site),
                SOCK=fpm / f"{site}.sock",
                MAINT=self.maintenance_dir,
                LOGS=self.site_logs_dir,
            )
            for site in SITES
        )
        self.site_logs_dir.mkdir(exist_ok=True)
        conf = _template("nginx.conf", DIR=ngx, SERVERS=servers)
        if not (ngx / "nginx.conf").exists() or (ngx / "nginx.conf").read_text() != conf:
            # A running nginx reloads a changed config (e.g. after a lab upgrade), the one
            # way shared servers are changed: serialised with site creates, checked first.
            with self.reloads.lock():
                write_atomic(ngx / "nginx.conf", conf)
                if self._pid_of("nginx") is not None:
                    self.reloads.check("nginx")
                    self.reloads.reload("nginx")
        self.maintenance_dir.mkdir(exist_ok=True)
        self.maintenance_dir.chmod(0o755)  # nginx's workers (www-data) test the flag files
        wp_dir = self.root / "wordpress"
        wp_dir.mkdir(exist_ok=True)
        write_atomic(wp_dir / "wp_install.php", _template("wp_install.php"))
        etc = Path("/etc/wordpress")
        etc.mkdir(parents=True, exist_ok=True)
        for site in SITES:
            content = self._wp_content(site)
            if not content.exists():
                shutil.copytree("/var/lib/wordpress/wp-content", content, symlinks=True)
                _chown_tree(content.parent, "www-data")
            theme = content / "themes" / "wpfarm-lab"
            theme.mkdir(parents=True, exist_ok=True)
            write_atomic(theme / "style.css", _template("theme-style.css"))
            write_atomic(theme / "index.php", _template("theme-index.php"))
            _chown_tree(theme, "www-data")
            db = self._db_name(site)
            salts = "\n".join(f"define('{k}', '{v}');" for k, v in self._wp_salts(db).items())
            conf = etc / f"config-{site}.php"
            write_atomic(
                conf,
                _template(
                    "wp-config.php",
                    HOST=site,
                    DB=db,
                    DBPW=self._secret(f"{db}_db_password"),
                    CONTENT=content,
                    SALTS=salts,
                ),
                mode=0o640,
            )
            shutil.chown(conf, "root", "www-data")  # holds the DB password: www-data only

    def _wp_salts(self, db: str) -> dict[str, str]:
        """WordPress keys and salts, made once per site (new ones would log everyone out)."""
        path = self._secret_path(f"{db}_salts.json")
        with contextlib.suppress(OSError, ValueError):
            return json.loads(path.read_text())
        keys = ("AUTH", "SECURE_AUTH", "LOGGED_IN", "NONCE")
        salts = {f"{k}_{kind}": secrets.token_urlsafe(48) for kind in ("KEY", "SALT") for k in keys}
        write_atomic(path, json.dumps(salts, indent=1) + "\n", mode=0o600)
        return salts

    def _php_fpm_argv(self) -> list[str]:
        return [self._bin("php-fpm8.2"), "-y", str(self._dir("php-fpm") / "php-fpm.conf"), "-F"]

    def _nginx_argv(self) -> list[str]:
        d = self._dir("nginx")
        return [self._bin("nginx"), "-c", str(d / "nginx.conf"), "-p", f"{d}/",
                "-e", str(d / "error.log")]

    def _php_fpm_ready(self) -> bool:
        d = self._dir("php-fpm")
        return all((d / f"{site}.sock").exists() for site in SITES)

    def _nginx_ready(self) -> bool:
        return all(self._http(16200, site) == 200 for site in SITES)

    def _web_up(self, say: Progress, db_ready: threading.Event, db_failed: threading.Event) -> None:
        for comp in ("php-fpm", "nginx", "traefik"):
            if self._pid_of(comp) is None:
                self._spawn(comp, self._argv(comp))
                say(f"{comp}: started")
        self._start_and_wait("php-fpm", say)
        self._start_and_wait("traefik", say)
        db_ready.wait()
        if db_failed.is_set():
            raise LabError("WordPress was not set up because Galera did not start (see above)")
        with ThreadPoolExecutor(max_workers=len(SITES)) as pool:
            list(pool.map(lambda site: self._wp_install(site, say), SITES))
        self._start_and_wait("nginx", say)
        # Varnish only now: before the install WordPress answers with redirects it would cache.
        self._start_and_wait("varnish", say)

    def _wp_install(self, site: str, say: Progress) -> None:
        script = self.root / "wordpress" / "wp_install.php"
        env = dict(os.environ, WPFARM_WP_ADMIN_PW=self._secret("wp_admin_password"))
        title = f"Lab {site.split('.')[0].capitalize()}"
        out = subprocess.run(
            [self._bin("runuser"), "-u", "www-data", "--", self._bin("php"), str(script), site,
             title],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if out.returncode != 0 or "installed" not in out.stdout:
            log = self.root / "wordpress" / f"install-{site}.log"
            write_atomic(log, out.stdout + out.stderr)
            raise LabError(f"WordPress install of {site} failed; see {log}")
        if out.stdout.startswith("installed"):
            say(f"wordpress: {site} installed")
