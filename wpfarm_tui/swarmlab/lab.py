"""A three-node Docker Swarm on this machine: one dockerd per network namespace.

Layout (everything under one root, default /var/lib/wpfarm-swarmlab):

    host ── wpfh0 10.99.0.1 (registry :5000) ──┐
                                               │ bridge wpfbr0 in netns wpf-hub
    netns wpf-n1 eth0 10.99.0.11  dockerd ─────┤  (swarm manager, leader)
    netns wpf-n2 eth0 10.99.0.12  dockerd ─────┤  (manager)
    netns wpf-n3 eth0 10.99.0.13  dockerd ─────┘  (manager)

Each dockerd runs in its node's network namespace and in a private mount + UTS namespace
(sysfs remounted so it shows the namespace's devices, the cgroup tree re-bound, private
/run so the node has its own /var/run/docker.sock, containerd and libnetwork state).
Plain `ip netns exec dockerd` fails with "Devices cgroup isn't mounted".

The nodes reach the Debian mirror through the host (default route via 10.99.0.1 and a
MASQUERADE rule tagged `wpfarm-swarmlab`), so `RUN apt-get install` works in builds.
Inside each namespace Docker's own bridges get their own subnets (--bip, address pools)
so nothing overlaps the host's docker0 / docker_gwbridge or another node.

Every step checks before it acts: `up` on a running lab is a no-op apart from the checks,
`down` removes exactly what `up` made (processes by the pid it recorded, after checking
/proc/PID/cmdline still names this lab's data root).
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import shutil
import subprocess
import tarfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import docker
import yaml

import wpfarm_tui.lab.processes as processes
from wpfarm_tui import programs
from wpfarm_tui.files import write_atomic
from wpfarm_tui.inventory import parse_farm
from wpfarm_tui.stacks.placement import swarm_labels

Progress = Callable[[str], None]

DEFAULT_ROOT = Path(os.environ.get("WPFARM_SWARMLAB_DIR") or "/var/lib/wpfarm-swarmlab")
SUBNET = ipaddress.ip_network("10.99.0.0/24")
HOST_ADDR = "10.99.0.1"
HUB_NS = "wpf-hub"
BRIDGE = "wpfbr0"
HOST_VETH = "wpfh0"
REGISTRY_PORT = 5000
REGISTRY = f"{HOST_ADDR}:{REGISTRY_PORT}"
NAT_TAG = "wpfarm-swarmlab"
#: Swarm overlay networks are carved from here (never the 10.99.0.0/24 of the bridge).
SWARM_POOL = "10.98.0.0/16"
BASE_IMAGE = "debian:bookworm-slim"
BASE_PACKAGES = ("ca-certificates",)
DEBIAN_MIRROR = "http://deb.debian.org/debian"
SOURCES_LIST = (
    "deb http://deb.debian.org/debian bookworm main\n"
    "deb http://deb.debian.org/debian bookworm-updates main\n"
    "deb http://deb.debian.org/debian-security bookworm-security main\n"
)


@dataclass(frozen=True)
class LabNode:
    index: int
    roles: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"node{self.index}"

    @property
    def netns(self) -> str:
        return f"wpf-n{self.index}"

    @property
    def address(self) -> str:
        return str(SUBNET.network_address + 10 + self.index)

    @property
    def hub_veth(self) -> str:
        return f"wpf-n{self.index}p"


#: The three nodes and their farm roles: every node is a manager (Raft quorum of 3), a db
#: node (Galera needs 3), a cache node and a worker, as the production profile asks.
NODES: tuple[LabNode, ...] = (
    LabNode(1, ("manager", "worker", "db", "cache", "storage", "ops")),
    LabNode(2, ("manager", "worker", "db", "cache", "storage")),
    LabNode(3, ("manager", "worker", "db", "cache", "storage")),
)


# Every program the swarm lab runs here (wpfarm_tui/programs.py names their packages).
SWARMLAB_PROGRAMS = ("ip", "iptables", "nsenter", "unshare", "sysctl", "mount", "umount",
                     "dockerd", "docker-registry", "debootstrap", "ssh-keygen", "sshd",
                     "traefik", "sh")


class SwarmLabError(Exception):
    """The lab cannot be brought up or down; the message says why and what to do."""


def _run(argv: list[str], check: bool = True, timeout: float = 120,
         input: bytes | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(argv, capture_output=True, text=input is None, timeout=timeout,
                          input=input)
    if check and proc.returncode != 0:
        err = proc.stderr if isinstance(proc.stderr, str) else proc.stderr.decode(errors="replace")
        raise SwarmLabError(f"`{' '.join(argv)}` failed ({proc.returncode}): {err.strip()}")
    return proc


def _ok(argv: list[str]) -> bool:
    return subprocess.run(argv, capture_output=True).returncode == 0


def _netns_list() -> set[str]:
    out = _run(["ip", "netns", "list"], check=False).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def _link_exists(name: str, netns: str | None = None) -> bool:
    prefix = ["ip", "netns", "exec", netns] if netns else []
    return _ok([*prefix, "ip", "link", "show", name])


class SwarmLab:
    """`up()` / `down()` / `status()` of the three-node lab; safe to call repeatedly."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root or DEFAULT_ROOT)
        self.cache = self.root / "cache"
        self.farm_file = self.root / "farm.yaml"

    # ------------------------------------------------------------------ paths
    def node_dir(self, node: LabNode) -> Path:
        return self.root / "nodes" / f"n{node.index}"

    def socket(self, node: LabNode) -> Path:
        return self.root / f"n{node.index}.sock"

    def docker_url(self, node: LabNode | None = None) -> str:
        return f"unix://{self.socket(node or NODES[0])}"

    def client(self, node: LabNode | None = None, timeout: int = 60) -> docker.DockerClient:
        return docker.DockerClient(base_url=self.docker_url(node), timeout=timeout)

    @property
    def base_tarball(self) -> Path:
        return self.cache / "debian-bookworm-minbase.tar"

    # ------------------------------------------------------------------ public API
    def up(self, progress: Progress = print, *, swarm: bool = True, sshd: bool = True
           ) -> Path:
        """Bring the lab up (or finish bringing it up); returns the farm.yaml it wrote.

        Each node gets an OpenSSH server (the console reads Varnish's counters over SSH,
        as on real nodes; its host keys go to the lab's own known_hosts, which farm.yaml
        names). swarm=False leaves the nodes bare (dockerd, no swarm): the shape
        `wpfarm bootstrap` starts from."""
        self._require_tools()
        t0 = time.monotonic()
        with self._locked():
            self._check_conflicts()
            self._network(progress)
            self._registry(progress)
            for node in NODES:
                self._dockerd(node, progress)
            for node in NODES:
                self._wait_docker(node)
            if sshd:
                for node in NODES:
                    self._sshd(node, progress)
            if swarm:
                self._swarm(progress)
                self._base_image(progress)
            self._write_farm_file()
        progress(f"swarmlab up in {time.monotonic() - t0:.1f} s; farm file {self.farm_file}")
        return self.farm_file

    def down(self, purge: bool = False, progress: Progress = print) -> None:
        """Stop dockerds and the registry, remove namespaces, bridge and NAT rules.

        purge=True also deletes every node's data root and the registry's storage (images,
        volumes); the debootstrap cache is kept unless `purge="all"`.
        """
        with self._locked():
            for node in NODES:
                self._stop_pid(self.ssh_dir / f"sshd-{node.name}.pid",
                               str(self.ssh_dir / f"sshd-{node.name}.conf"),
                               f"sshd {node.name}", progress)
                self._stop_pid(self.node_dir(node) / "docker.pid", str(self.node_dir(node)),
                               f"dockerd {node.name}", progress)
            self._stop_pid(self.root / "registry" / "registry.pid",
                           str(self.root / "registry"), "registry", progress)
            for node in NODES:
                self._cleanup_mounts(self.node_dir(node))
            self._nat(False)
            if _link_exists(HOST_VETH):
                _run(["ip", "link", "del", HOST_VETH], check=False)
            for ns in [HUB_NS, *(n.netns for n in NODES)]:
                if ns in _netns_list():
                    _run(["ip", "netns", "del", ns], check=False)
            if purge:
                for sub in ("nodes", "registry", "render", "gluster", "secrets", "ssh"):
                    path = self.root / sub
                    if path.exists():
                        shutil.rmtree(path, ignore_errors=True)
                for node in NODES:
                    self.socket(node).unlink(missing_ok=True)
                if purge == "all":
                    shutil.rmtree(self.cache, ignore_errors=True)
                progress(f"swarmlab purged (kept {self.cache})" if purge != "all"
                         else "swarmlab purged")
            progress("swarmlab down")

    def status(self) -> dict[str, str]:
        """One state per part: network, registry, each dockerd, each swarm node."""
        out: dict[str, str] = {}
        namespaces = _netns_list()
        out["network"] = ("up" if HUB_NS in namespaces and _link_exists(HOST_VETH)
                          else "down")
        out["registry"] = "running" if self._registry_ok() else "stopped"
        for node in NODES:
            pid = self._pid(self.node_dir(node) / "docker.pid", str(self.node_dir(node)))
            out[f"dockerd {node.name}"] = "running" if pid else "stopped"
        try:
            with contextlib.closing(self.client(timeout=5)) as cli:
                for n in cli.api.nodes():
                    name = n["Description"]["Hostname"]
                    role = n["Spec"].get("Role", "?")
                    state = n["Status"]["State"]
                    out[f"swarm {name}"] = f"{state} ({role}, {n['Spec'].get('Availability')})"
        except Exception as exc:  # noqa: BLE001 - status reports, never raises
            out["swarm"] = f"unreachable: {type(exc).__name__}"
        return out

    def ready(self) -> bool:
        st = self.status()
        return (st.get("network") == "up" and st.get("registry") == "running"
                and sum(1 for k, v in st.items() if k.startswith("swarm ")
                        and v.startswith("ready")) == len(NODES))

    # ------------------------------------------------------------------ checks
    def _require_tools(self) -> None:
        if os.geteuid() != 0:
            raise SwarmLabError("the swarm lab needs root (namespaces, dockerd): run with sudo")
        try:
            programs.require(SWARMLAB_PROGRAMS, "wpfarm swarmlab up")
        except programs.MissingPrograms as exc:
            raise SwarmLabError(str(exc)) from None

    def _check_conflicts(self) -> None:
        """Refuse when someone else owns our subnet on the host (another lab's bridge)."""
        routes = _run(["ip", "-4", "route", "show"], check=False).stdout
        for line in routes.splitlines():
            parts = line.split()
            if not parts or parts[0] == "default":
                continue
            try:
                net = ipaddress.ip_network(parts[0], strict=False)
            except ValueError:
                continue
            dev = parts[parts.index("dev") + 1] if "dev" in parts else "?"
            if net.overlaps(SUBNET) and dev != HOST_VETH:
                raise SwarmLabError(
                    f"{net} (dev {dev}) overlaps the swarm lab's {SUBNET}: another lab uses "
                    f"it; stop that one first (`ip route` shows it)")

    def _locked(self) -> contextlib.AbstractContextManager[None]:
        return processes.locked(self.root / ".lock")

    # ------------------------------------------------------------------ network
    def _network(self, say: Progress) -> None:
        made = False
        namespaces = _netns_list()
        hub = ["ip", "netns", "exec", HUB_NS]
        if HUB_NS not in namespaces:
            _run(["ip", "netns", "add", HUB_NS])
            made = True
        _run([*hub, "ip", "link", "set", "lo", "up"])
        if not _link_exists(BRIDGE, HUB_NS):
            _run([*hub, "ip", "link", "add", BRIDGE, "type", "bridge"])
        _run([*hub, "ip", "link", "set", BRIDGE, "up"])
        if not _link_exists(HOST_VETH):
            _run(["ip", "link", "add", HOST_VETH, "type", "veth", "peer", "name",
                  f"{HOST_VETH}p", "netns", HUB_NS])
            _run(["ip", "addr", "add", f"{HOST_ADDR}/{SUBNET.prefixlen}", "dev", HOST_VETH])
            made = True
        _run(["ip", "link", "set", HOST_VETH, "up"])
        _run([*hub, "ip", "link", "set", f"{HOST_VETH}p", "master", BRIDGE])
        _run([*hub, "ip", "link", "set", f"{HOST_VETH}p", "up"])
        for node in NODES:
            ns = ["ip", "netns", "exec", node.netns]
            if node.netns not in namespaces:
                _run(["ip", "netns", "add", node.netns])
                made = True
            _run([*ns, "ip", "link", "set", "lo", "up"])
            if not _link_exists("eth0", node.netns):
                _run(["ip", "link", "add", node.hub_veth, "netns", HUB_NS, "type", "veth",
                      "peer", "name", "eth0", "netns", node.netns])
                _run([*ns, "ip", "addr", "add", f"{node.address}/{SUBNET.prefixlen}",
                      "dev", "eth0"])
            _run([*hub, "ip", "link", "set", node.hub_veth, "master", BRIDGE])
            _run([*hub, "ip", "link", "set", node.hub_veth, "up"])
            _run([*ns, "ip", "link", "set", "eth0", "up"])
            if "default" not in _run([*ns, "ip", "route"]).stdout:
                _run([*ns, "ip", "route", "add", "default", "via", HOST_ADDR])
            # Swarm's overlay needs ip_forward inside the namespace (dockerd sets it too).
            _run([*ns, "sysctl", "-qw", "net.ipv4.ip_forward=1"])
        self._nat(True)
        if made:
            say(f"network: namespaces {HUB_NS}, {', '.join(n.netns for n in NODES)} on "
                f"{BRIDGE} ({SUBNET})")

    def _nat_rules(self) -> list[list[str]]:
        c = ["-m", "comment", "--comment", NAT_TAG]
        src = str(SUBNET)
        return [
            ["-t", "nat", "POSTROUTING", "-s", src, "!", "-d", src, *c, "-j", "MASQUERADE"],
            ["-t", "filter", "FORWARD", "-s", src, *c, "-j", "ACCEPT"],
            ["-t", "filter", "FORWARD", "-d", src, "-m", "conntrack", "--ctstate",
             "RELATED,ESTABLISHED", *c, "-j", "ACCEPT"],
        ]

    def _nat(self, on: bool) -> None:
        for rule in self._nat_rules():
            table, chain, spec = rule[:2], rule[2], rule[3:]
            present = _ok(["iptables", *table, "-C", chain, *spec])
            if on and not present:
                # Inserted first: Docker's FORWARD policy on this host is DROP.
                op = ["-I", chain, "1"] if chain == "FORWARD" else ["-A", chain]
                _run(["iptables", *table, *op, *spec])
            elif not on:
                while _ok(["iptables", *table, "-C", chain, *spec]):
                    _run(["iptables", *table, "-D", chain, *spec])

    # ------------------------------------------------------------------ registry
    def _registry_ok(self) -> bool:
        import urllib.request

        try:
            with urllib.request.urlopen(f"http://{REGISTRY}/v2/", timeout=2) as resp:
                return resp.status == 200
        except Exception:  # noqa: BLE001
            return False

    def _registry(self, say: Progress) -> None:
        d = self.root / "registry"
        pidfile = d / "registry.pid"
        if self._pid(pidfile, str(d)) and self._registry_ok():
            return
        (d / "storage").mkdir(parents=True, exist_ok=True)
        conf = d / "config.yml"
        write_atomic(conf, yaml.safe_dump({
            "version": 0.1,
            "log": {"level": "warn"},
            "storage": {"filesystem": {"rootdirectory": str(d / "storage")},
                        "delete": {"enabled": True}},
            "http": {"addr": REGISTRY},
        }))
        log = open(d / "registry.log", "ab")  # noqa: SIM115 - handed to the child
        proc = subprocess.Popen(["docker-registry", "serve", str(conf)], stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        write_atomic(pidfile, str(proc.pid))
        deadline = time.monotonic() + 15
        while not self._registry_ok():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SwarmLabError(f"the registry did not start on {REGISTRY}: see "
                                    f"{d / 'registry.log'}")
            time.sleep(0.2)
        say(f"registry: {REGISTRY} (storage {d / 'storage'})")

    # ------------------------------------------------------------------ dockerd
    def _dockerd_argv(self, node: LabNode) -> list[str]:
        d = self.node_dir(node)
        i = node.index
        return [
            "dockerd",
            "--storage-driver=overlay2",
            f"--data-root={d / 'data'}",
            f"--exec-root={d / 'exec'}",
            f"--pidfile={d / 'docker.pid'}",
            "-H", f"unix://{self.socket(node)}",
            # The node's own /var/run/docker.sock (private /run): Traefik's swarm provider
            # and the farm's production paths work unchanged inside the lab.
            "-H", "unix:///run/docker.sock",
            f"--cgroup-parent=/wpfarm-swarmlab-n{i}",
            f"--insecure-registry={SUBNET}",
            # Own subnets for docker0 and docker_gwbridge in each namespace: never the
            # host's 172.17/172.18, never another node's.
            f"--bip=172.29.{i}.1/24",
            f"--default-address-pool=base=172.28.{16 * i}.0/20,size=24",
            "--shutdown-timeout=5",
            "--log-level=warn",
        ]

    def _dockerd(self, node: LabNode, say: Progress) -> None:
        d = self.node_dir(node)
        if self._pid(d / "docker.pid", str(d)):
            return
        self._cleanup_mounts(d)
        for sub in ("data", "exec", "cg"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        self.socket(node).unlink(missing_ok=True)
        argv = " ".join(self._dockerd_argv(node))
        cg = d / "cg"
        script = f"""set -e
hostname {node.name}
mount --rbind /sys/fs/cgroup {cg}
mount -t sysfs sysfs /sys
mount --rbind {cg} /sys/fs/cgroup
umount -l {cg}
mount -t tmpfs -o mode=755 tmpfs /run
mkdir -p /run/docker /run/containerd /run/lock
mount -t tmpfs tmpfs /etc/docker 2>/dev/null || true
exec {argv}
"""
        log = open(d / "dockerd.log", "ab")  # noqa: SIM115 - handed to the child
        proc = subprocess.Popen(
            ["nsenter", f"--net=/run/netns/{node.netns}", "unshare", "--mount", "--uts",
             "--propagation", "slave", "sh", "-c", script],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
        write_atomic(d / "launcher.pid", str(proc.pid))
        say(f"dockerd {node.name}: starting in netns {node.netns} ({node.address})")

    # ------------------------------------------------------------------ sshd
    @property
    def ssh_dir(self) -> Path:
        return self.root / "ssh"

    @property
    def client_key(self) -> Path:
        """The private key the lab's sshds accept (for root)."""
        return self.ssh_dir / "client_key"

    def host_key(self, node: LabNode) -> Path:
        return self.ssh_dir / f"host_{node.name}"

    @property
    def known_hosts(self) -> Path:
        """The lab's host keys (it made them), for farm.yaml's nodes[].ssh.known_hosts."""
        return self.ssh_dir / "known_hosts"

    def _write_known_hosts(self) -> None:
        lines = []
        for node in NODES:
            pub = self.host_key(node).with_suffix(".pub")
            if pub.exists():
                kind, b64 = pub.read_text().split()[:2]
                lines.append(f"{node.address} {kind} {b64}\n")
        write_atomic(self.known_hosts, "".join(lines))

    def _sshd(self, node: LabNode, say: Progress) -> None:
        """OpenSSH in the node's namespace; its shell's docker CLI talks to the node's dockerd
        (DOCKER_HOST), as a login on a real node would."""
        d = self.ssh_dir
        d.mkdir(mode=0o700, parents=True, exist_ok=True)
        conf = d / f"sshd-{node.name}.conf"
        pidfile = d / f"sshd-{node.name}.pid"
        for key in (self.client_key, self.host_key(node)):
            if not key.exists():
                _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)])
        self._write_known_hosts()
        if self._pid(pidfile, str(conf)):
            return
        write_atomic(d / "authorized_keys", self.client_key.with_suffix(".pub").read_text())
        write_atomic(conf, (
            f"Port 22\nListenAddress {node.address}\nHostKey {self.host_key(node)}\n"
            f"PidFile {pidfile}\nAuthorizedKeysFile {d / 'authorized_keys'}\n"
            "PermitRootLogin prohibit-password\nPasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
            f"SetEnv DOCKER_HOST=unix://{self.socket(node)}\n"))
        Path("/run/sshd").mkdir(exist_ok=True)  # privilege separation directory
        _run(["ip", "netns", "exec", node.netns, "/usr/sbin/sshd", "-f", str(conf),
              "-E", str(d / f"sshd-{node.name}.log")])
        say(f"sshd {node.name}: listening on {node.address}:22")

    def _wait_docker(self, node: LabNode, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        sock = self.socket(node)
        last = ""
        while time.monotonic() < deadline:
            if sock.exists():
                try:
                    with contextlib.closing(self.client(node, timeout=5)) as cli:
                        cli.ping()
                        return
                except Exception as exc:  # noqa: BLE001
                    last = str(exc)
            time.sleep(0.2)
        raise SwarmLabError(f"dockerd {node.name} did not answer on {sock} in {timeout:.0f} s "
                            f"({last}); see {self.node_dir(node) / 'dockerd.log'}")

    def _cleanup_mounts(self, d: Path) -> None:
        # The cgroup re-bind happens in the node's private mount namespace; nothing is left
        # on the host, but an interrupted start may leave the cg dir mounted: undo it.
        cg = d / "cg"
        mounts = Path("/proc/mounts").read_text()
        if f" {cg} " in mounts:
            _run(["umount", "-l", str(cg)], check=False)

    def _pid(self, pidfile: Path, marker: str) -> int | None:
        return processes.pid_of(pidfile, marker)

    def _stop_pid(self, pidfile: Path, marker: str, what: str, say: Progress,
                  timeout: float = 30) -> None:
        try:
            pid = processes.stop(pidfile, marker, timeout)
        except processes.StillRunning as exc:
            say(f"{what}: pid {exc.pid} still runs after SIGKILL")
            return
        if pid is not None:
            say(f"{what}: stopped")

    # ------------------------------------------------------------------ swarm
    def _swarm(self, say: Progress) -> None:
        lead = NODES[0]
        with contextlib.closing(self.client(lead)) as cli:
            info = cli.info()
            if info["Swarm"]["LocalNodeState"] != "active":
                cli.swarm.init(advertise_addr=lead.address, listen_addr=f"{lead.address}:2377",
                               default_addr_pool=[SWARM_POOL], subnet_size=24)
                say(f"swarm: initialised on {lead.name} ({lead.address})")
            cli.swarm.reload()
            token = cli.swarm.attrs["JoinTokens"]["Manager"]
        for node in NODES[1:]:
            with contextlib.closing(self.client(node)) as cli:
                if cli.info()["Swarm"]["LocalNodeState"] != "active":
                    cli.swarm.join(remote_addrs=[f"{lead.address}:2377"], join_token=token,
                                   advertise_addr=node.address,
                                   listen_addr=f"{node.address}:2377")
                    say(f"swarm: {node.name} joined as manager")
        self._wait_nodes_ready()
        self._label_nodes(say)

    def _wait_nodes_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        states: list[str] = []
        while time.monotonic() < deadline:
            with contextlib.closing(self.client()) as cli:
                states = [n["Status"]["State"] for n in cli.api.nodes()]
            if states.count("ready") == len(NODES):
                return
            time.sleep(0.5)
        raise SwarmLabError(f"swarm nodes not Ready after {timeout:.0f} s: {states}")

    def node_labels(self, node: LabNode) -> dict[str, str]:
        """The labels the stacks place by (stacks/placement.py, as in production)."""
        farm = parse_farm(yaml.safe_dump(self.farm_dict()), "the swarm lab's farm")
        farm_node = farm.node(node.name)
        assert farm_node is not None
        return swarm_labels(farm, farm_node)

    def _label_nodes(self, say: Progress) -> None:
        with contextlib.closing(self.client()) as cli:
            by_host = {n.attrs["Description"]["Hostname"]: n for n in cli.nodes.list()}
            for node in NODES:
                swarm_node = by_host.get(node.name)
                if swarm_node is None:
                    raise SwarmLabError(f"swarm has no node named {node.name}: "
                                        f"{sorted(by_host)}")
                spec = dict(swarm_node.attrs["Spec"])
                want = self.node_labels(node)
                if spec.get("Labels") != want:
                    spec["Labels"] = want
                    swarm_node.update(spec)
                    say(f"swarm: labelled {node.name}")

    # ------------------------------------------------------------------ base image
    def base_rootfs(self, say: Progress) -> Path:
        """debootstrap --variant=minbase, cached as a tarball (the second run skips it)."""
        tarball = self.base_tarball
        if tarball.exists():
            return tarball
        if not shutil.which("debootstrap"):
            raise SwarmLabError("debootstrap is missing: apt-get install debootstrap")
        self.cache.mkdir(parents=True, exist_ok=True)
        rootfs = self.cache / "rootfs"
        t0 = time.monotonic()
        if not (rootfs / "usr" / "bin" / "apt-get").exists():
            shutil.rmtree(rootfs, ignore_errors=True)
            _run(["debootstrap", "--variant=minbase",
                  f"--include={','.join(BASE_PACKAGES)}", "bookworm", str(rootfs),
                  DEBIAN_MIRROR], timeout=900)
        (rootfs / "etc/apt/sources.list").write_text(SOURCES_LIST)
        # Like the official slim image: no apt lists/caches, no docs.
        for sub in ("var/lib/apt/lists", "var/cache/apt/archives"):
            for p in (rootfs / sub).glob("*"):
                if p.is_file():
                    p.unlink()
        tmp = tarball.with_suffix(".tmp")
        with tarfile.open(tmp, "w") as tar:
            tar.add(rootfs, arcname=".")
        tmp.replace(tarball)
        shutil.rmtree(rootfs, ignore_errors=True)
        say(f"base: debootstrap rootfs cached in {tarball} ({time.monotonic() - t0:.0f} s)")
        return tarball

    def _base_image(self, say: Progress) -> None:
        """`debian:bookworm-slim` on node 1 (where images are built), from the tarball."""
        with contextlib.closing(self.client()) as cli:
            try:
                cli.images.get(BASE_IMAGE)
                return
            except docker.errors.ImageNotFound:
                pass
            tarball = self.base_rootfs(say)
            t0 = time.monotonic()
            repo, tag = BASE_IMAGE.split(":")
            cli.api.import_image_from_file(str(tarball), repository=repo, tag=tag)
            say(f"base: {BASE_IMAGE} imported on {NODES[0].name} "
                f"({time.monotonic() - t0:.1f} s)")

    # ------------------------------------------------------------------ farm.yaml
    def farm_dict(self) -> dict:
        return {
            "farm": {"name": "swarmlab", "domain": "swarmlab.test", "profile": "lab"},
            "nodes": [
                {
                    "name": node.name,
                    "address": node.address,
                    "ssh": {"user": "root", "port": 22, **(
                        {"key": str(self.client_key), "known_hosts": str(self.known_hosts)}
                        if self.client_key.exists() else {})},
                    "roles": list(node.roles),
                }
                for node in NODES
            ],
            "endpoints": {
                "docker": {"host": self.docker_url(), "timeout": 10},
                # Each Galera task publishes 3306 on its node (a lab override): the console
                # and the site registry reach it as they would through a db node's address.
                "galera": {"user": "root", "timeout": 3,
                           "password": {"file": str(self.root / "secrets" /
                                                    "mariadb_root_password")},
                           "nodes": [{"name": f"mariadb-{i}", "host": node.address,
                                      "port": 3306}
                                     for i, node in enumerate(
                                         (n for n in NODES if "db" in n.roles), 1)]},
                # Traefik's `traefik` entry point (8080) is published in host mode on
                # node1, its one replica here; /api there is internal-only (private
                # ranges), which the host's bridge address is in.
                "traefik": {"api": f"http://{NODES[0].address}:8080",
                            "metrics": f"http://{NODES[0].address}:8082/metrics", "timeout": 3,
                            "access_log": "edge_traefik"},
                **self._cache_endpoints(),
                # The LAPI on node1 (the first manager, stacks/placement.py), published in
                # host mode; bans run cscli in its task over SSH.
                "crowdsec": {"lapi": f"http://{NODES[0].address}:8081", "timeout": 3,
                             "bouncer_key": {"file": str(self.root / "secrets" /
                                                         "crowdsec_bouncer_key")},
                             "node": NODES[0].name, "container": "security_crowdsec"},
            },
            "sites": {"edge_url": f"https://{NODES[0].address}", "registry": "galera",
                      "static": ["swarmlab.test"], "timeout": 5, "verify_tls": False,
                      "runtime": "swarm"},
            "refresh": {"interval": 2.0, "max_backoff": 10.0},
        }

    def _cache_endpoints(self) -> dict:
        """Redis and the Sentinels on the admin ports the cache stack publishes on each cache
        node (Sentinel names the master by its overlay name: `announce`); Varnish's counters
        by varnishstat inside the node's cache_varnish task, over SSH. The README's "How
        the bastion reaches the farm" is the production shape of the same."""
        caches = [n for n in NODES if "cache" in n.roles]
        secret = self.root / "secrets" / "redis_password"
        return {
            "redis": {"master_name": "wpfarm-cache", "password": {"file": str(secret)},
                      "timeout": 2,
                      "instances": [{"name": f"redis-cache-{i}", "host": n.address,
                                     "port": 6379, "announce": f"redis-cache-{i}:6379"}
                                    for i, n in enumerate(caches, 1)],
                      "sentinels": [{"name": f"sentinel-{i}", "host": n.address,
                                     "port": 26379} for i, n in enumerate(caches, 1)]},
            "varnish": {"timeout": 5, "instances": [
                {"name": f"varnish-{n.name}", "node": n.name, "container": "cache_varnish"}
                for n in caches]},
        }

    def _write_farm_file(self) -> None:
        head = (f"# Generated by `wpfarm swarmlab up` for the swarm lab in {self.root}.\n"
                "# Rewritten on every `wpfarm swarmlab up`: edit a copy, not this file.\n")
        text = head + yaml.safe_dump(self.farm_dict(), sort_keys=False)
        write_atomic(self.farm_file, text, if_changed=True)
