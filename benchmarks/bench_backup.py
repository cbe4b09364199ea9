"""Backup and restore of one site with 100 MB of media and a 50 MB database.

Real restic into a real S3 server (moto_server), the lab's real Galera. A scratch
site (bench-backup.test: a database of random rows, a registry row, random
incompressible media in a scratch sites root) is created and removed afterwards.
Prints the figures against the targets (RPO < 1 h, RTO < 4 h); no asserts.

    .venv/bin/python benchmarks/bench_backup.py [--media-mb 100] [--db-mb 50]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import boto3
import pymysql

from wpfarm_tui import programs
from wpfarm_tui.actions import AuditLog, Verdict, execute
from wpfarm_tui.actions.backup import BackupAction
from wpfarm_tui.actions.restore import RestoreAction
from wpfarm_tui.farm.restic import Restic
from wpfarm_tui.inventory import BackupSettings, load_farm
from wpfarm_tui.lab import Lab
from wpfarm_tui.secrets import Secret

DOMAIN, DB = "bench-backup.test", "wp_benchbackup"
RPO_S, RTO_S = 3600, 4 * 3600


def free_port() -> int:
    for port in range(16800, 16900):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise SystemExit("no free port in 16800-16899")


def connect(farm, database=None):
    ep = farm.endpoints.galera
    for node in ep.nodes:
        try:
            return pymysql.connect(host=node.host, port=node.port, user=ep.user,
                                   password=ep.password.reveal(), database=database,
                                   autocommit=True, connect_timeout=2, read_timeout=120,
                                   write_timeout=120)
        except pymysql.err.MySQLError:
            continue
    raise SystemExit("no Galera node answers")


def run(action) -> tuple[float, Verdict]:
    started = time.monotonic()
    items = list(execute(action, audit=AuditLog(Path(tempfile.gettempdir()) /
                                                "wpfarm-bench-audit.log"), confirmed=True))
    return time.monotonic() - started, items[-1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--media-mb", type=int, default=100)
    ap.add_argument("--db-mb", type=int, default=50)
    args = ap.parse_args()
    lab = Lab()
    lab.up(progress=lambda _m: None)
    farm = load_farm(Path(lab.farm_file))
    work = Path(tempfile.mkdtemp(prefix="wpfarm-bench-"))
    port = free_port()
    moto = subprocess.Popen([programs.path("moto_server"), "-H", "127.0.0.1",
                             "-p", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    env = {"WPFARM_BENCH_PW": secrets.token_hex(16), "WPFARM_BENCH_KEY": "AKIABENCH",
           "WPFARM_BENCH_SECRET": secrets.token_hex(16)}
    os.environ.update(env)
    conn = connect(farm)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.1)
        bucket = "bench-" + uuid.uuid4().hex[:8]
        boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                     aws_access_key_id="AKIABENCH",
                     aws_secret_access_key=env["WPFARM_BENCH_SECRET"]).create_bucket(
            Bucket=bucket)
        settings = BackupSettings(f"s3:http://127.0.0.1:{port}/{bucket}",
                                  Secret("env", "WPFARM_BENCH_PW"),
                                  Secret("env", "WPFARM_BENCH_KEY"),
                                  Secret("env", "WPFARM_BENCH_SECRET"),
                                  sites_root=str(work / "sites"))
        farm = dataclasses.replace(farm, backup=settings)
        t = time.monotonic()
        Restic(settings).init()
        print(f"restic init on S3: {time.monotonic() - t:.1f} s")

        media = work / "sites" / DOMAIN / "wp-content" / "uploads"
        media.mkdir(parents=True)
        for i in range(args.media_mb // 2):  # 2 MB incompressible files
            (media / f"img-{i:04d}.jpg").write_bytes(os.urandom(2 << 20))
        t = time.monotonic()
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{DB}`")
            cur.execute(f"CREATE DATABASE `{DB}`")
            cur.execute(f"CREATE TABLE `{DB}`.wp_posts (id INT PRIMARY KEY, body TEXT)")
            rows_per_batch, row_bytes = 1000, 1000
            batches = args.db_mb * 1_000_000 // (rows_per_batch * row_bytes)
            for b in range(batches):
                values = ",".join(f"({b * rows_per_batch + i}, "
                                  f"'{secrets.token_hex(row_bytes // 2)}')"
                                  for i in range(rows_per_batch))
                cur.execute(f"INSERT INTO `{DB}`.wp_posts VALUES {values}")
            cur.execute("REPLACE INTO wpfarm.sites (domain, db_name, db_user, state) "
                        "VALUES (%s, %s, %s, 'active')", (DOMAIN, DB, DB))
        print(f"scratch site: {args.media_mb} MB media, {args.db_mb} MB of rows "
              f"(filled in {time.monotonic() - t:.1f} s)")

        took, v = run(BackupAction(farm, [DOMAIN], retention=False, check=False))
        print(f"backup (db dump + files, first):   {took:6.1f} s  {v.summary}")
        took_db, v = run(BackupAction(farm, [DOMAIN], files=False, retention=False,
                                      check=False))
        print(f"backup (db only, hourly job):      {took_db:6.1f} s  vs RPO {RPO_S} s: "
              f"{'fits' if took_db < RPO_S else 'DOES NOT FIT'} an hourly schedule")
        took, v = run(BackupAction(farm, [DOMAIN], retention=True, check=True))
        print(f"backup (again, + retention+check): {took:6.1f} s  {v.summary}")
        took, v = run(RestoreAction(farm, DOMAIN, drill=True, check_edge=False))
        print(f"restore drill (scratch db+dir):    {took:6.1f} s  vs RTO {RTO_S} s "
              f"({100 * took / RTO_S:.2f} % of the target)  {v.summary}")
        took, v = run(RestoreAction(farm, DOMAIN, check_edge=False))
        print(f"restore (safety backup + swap):    {took:6.1f} s  vs RTO {RTO_S} s "
              f"({100 * took / RTO_S:.2f} % of the target)  ok={v.ok}")
        sites_at_once = RTO_S / max(took, 0.1)
        print(f"=> one restic stream restores ~{sites_at_once:.0f} such sites within the RTO")
    finally:
        with conn.cursor() as cur:
            cur.execute("DELETE FROM wpfarm.sites WHERE domain = %s", (DOMAIN,))
            cur.execute(f"DROP DATABASE IF EXISTS `{DB}`")
        conn.close()
        moto.terminate()
        moto.wait(10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
