"""The lab's Redis master, its replica and three Sentinels."""

from __future__ import annotations

from wpfarm_tui.files import write_atomic
from wpfarm_tui.lab.base import LOOPBACK, PORTS, LabBase, Progress, _template


class RedisMixin(LabBase):
    def _prepare_redis(self) -> None:
        for comp, port in (("redis-master", 16379), ("redis-replica", 16380)):
            conf = self._conf_path(comp)
            if not conf.exists():  # Sentinel owns it after the first start (CONFIG REWRITE)
                extra = "replicaof 127.0.0.1 16379" if comp == "redis-replica" else ""
                write_atomic(
                    conf,
                    _template("redis.conf", NAME=comp, PORT=port, DIR=self._dir(comp), EXTRA=extra),
                )
        for n in (1, 2, 3):
            comp = f"sentinel-{n}"
            conf = self._conf_path(comp)
            if not conf.exists():
                write_atomic(
                    conf,
                    _template("sentinel.conf", NAME=comp, PORT=PORTS[comp][0], DIR=self._dir(comp)),
                )

    def _redis_argv(self, component: str) -> list[str]:
        if component.startswith("sentinel-"):
            return [self._bin("redis-sentinel"), str(self._conf_path(component))]
        return [self._bin("redis-server"), str(self._conf_path(component))]

    def _redis_up(self, say: Progress) -> None:
        order = ("redis-master", "redis-replica", "sentinel-1", "sentinel-2", "sentinel-3")
        for comp in order:  # all spawned at once, then waited for
            if self._pid_of(comp) is None:
                self._spawn(comp, self._argv(comp))
                say(f"{comp}: started")
        for comp in order:
            self._start_and_wait(comp, say)

    def _redis_ready(self, component: str) -> bool:
        import redis

        client = redis.Redis(host=LOOPBACK, port=PORTS[component][0], socket_timeout=2)
        try:
            if not client.ping():
                return False
            if component == "redis-replica":
                info = client.info("replication")
                # After a failover it may be the master; otherwise wait for the link.
                return info.get("role") == "master" or info.get("master_link_status") == "up"
            return True
        finally:
            client.close()

    def _redis_seed(self, say: Progress) -> None:
        """A few keys and GETs so INFO shows keyspace hits and misses (best effort)."""
        import redis

        client = redis.Redis(host=LOOPBACK, port=16379, socket_timeout=2)
        try:
            if client.info("replication").get("role") != "master":
                return  # after a failover: leave the data alone
            for i in range(5):
                client.set(f"lab:key:{i}", f"value {i}")
                client.get(f"lab:key:{i}")
            client.get("lab:missing")
        except redis.RedisError:
            pass
        finally:
            client.close()
