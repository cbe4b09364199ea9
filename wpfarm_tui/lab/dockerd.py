"""The lab's one-node Docker Swarm: a dockerd of its own, a busybox image made here (no
registry is reachable) and a two-replica service."""

from __future__ import annotations

import io
import subprocess
import tarfile

from wpfarm_tui.lab.base import LOOPBACK, LabBase, LabError, Progress

DOCKER_IMAGE = "wpfarm-lab/busybox:1"
DOCKER_SERVICE = "lab-web"


class DockerdMixin(LabBase):
    def _prepare_dockerd(self) -> None:
        (self._dir("dockerd") / "data").mkdir(exist_ok=True)
        (self._dir("dockerd") / "exec").mkdir(exist_ok=True)

    def _dockerd_argv(self) -> list[str]:
        d = self._dir("dockerd")
        # Plain flags work here (bridge + iptables fine). --shutdown-timeout keeps `down`
        # short: busybox httpd ignores SIGTERM and would hold dockerd 10 s per task.
        return [
            self._bin("dockerd"),
            "--data-root",
            str(d / "data"),
            "--exec-root",
            str(d / "exec"),
            "--pidfile",
            str(d / "docker.pid"),
            "-H",
            f"unix://{self._docker_sock}",
            "--shutdown-timeout",
            "3",
        ]

    def _docker(
        self, *args: str, stdin: bytes | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[bytes]:
        docker = self._bin("docker")
        out = subprocess.run(
            [docker, "-H", f"unix://{self._docker_sock}", *args],
            input=stdin,
            capture_output=True,
            timeout=60,
        )
        if check and out.returncode != 0:
            raise LabError(
                f"docker {' '.join(args[:2])} failed: "
                f"{out.stderr.decode(errors='replace').strip()[-300:]}; "
                f"see {self._log('dockerd')}"
            )
        return out

    def _docker_ping(self) -> bool:
        return self._docker_sock.exists() and self._docker("version", check=False).returncode == 0

    def _docker_setup(self, say: Progress) -> None:
        state = self._docker("info", "--format", "{{.Swarm.LocalNodeState}}").stdout.strip()
        if state == b"inactive":
            self._docker(
                "swarm", "init", "--advertise-addr", LOOPBACK, "--listen-addr", f"{LOOPBACK}:2377"
            )
            say("dockerd: swarm initialised")
        if self._docker("image", "inspect", DOCKER_IMAGE, check=False).returncode != 0:
            # No registry is reachable: an image made of busybox-static alone.
            buf = io.BytesIO()
            with tarfile.open(fileobj=buf, mode="w") as tar:
                tar.add(self._bin("busybox"), arcname="bin/busybox")
                link = tarfile.TarInfo("bin/sh")
                link.type, link.linkname = tarfile.SYMTYPE, "busybox"
                tar.addfile(link)
            self._docker(
                "import",
                "-c",
                'CMD ["/bin/busybox", "sh"]',
                "-",
                DOCKER_IMAGE,
                stdin=buf.getvalue(),
            )
            say(f"dockerd: image {DOCKER_IMAGE} imported")
        if self._docker("service", "inspect", DOCKER_SERVICE, check=False).returncode != 0:
            # dnsrr: this kernel has no IPVS, so service VIPs would not work.
            self._docker(
                "service",
                "create",
                "--detach",
                "--no-resolve-image",
                "--name",
                DOCKER_SERVICE,
                "--replicas",
                "2",
                "--endpoint-mode",
                "dnsrr",
                # busybox httpd as pid 1 ignores SIGTERM: do not hold dockerd's shutdown 10 s.
                "--stop-grace-period",
                "1s",
                DOCKER_IMAGE,
                "/bin/busybox",
                "httpd",
                "-f",
                "-p",
                "8080",
            )
            say(f"dockerd: service {DOCKER_SERVICE} created")
        self._wait_ready("dockerd", self._swarm_ready, say, what="swarm ready")

    def _swarm_ready(self) -> bool:
        nodes = self._docker("node", "ls", "--format", "{{.Status}}").stdout.split()
        tasks = self._docker(
            "service",
            "ps",
            DOCKER_SERVICE,
            "--filter",
            "desired-state=running",
            "--format",
            "{{.CurrentState}}",
        ).stdout
        running = [t for t in tasks.splitlines() if t.startswith(b"Running")]
        return nodes == [b"Ready"] and len(running) >= 2
