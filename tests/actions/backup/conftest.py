"""Backup fixtures: a real S3 server (moto_server), real restic repositories in it,
and a scratch site (`restore-test.test`: database, registry row, files) for the
destructive tests, removed afterwards so site1/site2 stay as they are."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import secrets
import socket
import subprocess
import time
import uuid
from pathlib import Path

import boto3
import pymysql
import pytest

from wpfarm_tui import programs
from wpfarm_tui.inventory import BackupSettings, Farm, Retention
from wpfarm_tui.secrets import Secret

SCRATCH = "restore-test.test"
SCRATCH_DB = "wp_restoretest"


def _free_port() -> int:
    for port in range(16800, 16900):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 16800-16899")


@pytest.fixture(scope="session")
def s3():
    """moto_server on a free port; yields its endpoint URL."""
    port = _free_port()
    proc = subprocess.Popen([programs.path("moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail("moto_server did not start")
    yield url
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="session")
def backup_env(monkeypatch_session):
    """Dummy AWS keys and a random repository password, as env Secrets."""
    values = {"WPFARM_TEST_RESTIC_PASSWORD": "pw-" + secrets.token_hex(12),
              "WPFARM_TEST_AWS_KEY": "AKIA" + secrets.token_hex(8).upper(),
              "WPFARM_TEST_AWS_SECRET": "sk-" + secrets.token_hex(16)}
    for k, v in values.items():
        monkeypatch_session.setenv(k, v)
    return values


@pytest.fixture(scope="session")
def monkeypatch_session():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def make_settings(s3_url: str, bucket: str, sites_root: str,
                  retention: Retention | None = None) -> BackupSettings:
    return BackupSettings(
        repository=f"s3:{s3_url}/{bucket}",
        password=Secret("env", "WPFARM_TEST_RESTIC_PASSWORD"),
        aws_access_key_id=Secret("env", "WPFARM_TEST_AWS_KEY"),
        aws_secret_access_key=Secret("env", "WPFARM_TEST_AWS_SECRET"),
        sites_root=sites_root, retention=retention or Retention())


def new_repo(s3_url: str, env: dict[str, str], farm: Farm, sites_root: str,
             retention: Retention | None = None) -> Farm:
    """A fresh bucket with an initialised restic repository; the farm pointing at it."""
    from wpfarm_tui.farm.restic import Restic

    bucket = "b-" + uuid.uuid4().hex[:12]
    boto3.client("s3", endpoint_url=s3_url, region_name="us-east-1",
                 aws_access_key_id=env["WPFARM_TEST_AWS_KEY"],
                 aws_secret_access_key=env["WPFARM_TEST_AWS_SECRET"]).create_bucket(Bucket=bucket)
    settings = make_settings(s3_url, bucket, sites_root, retention)
    Restic(settings).init()
    return dataclasses.replace(farm, backup=settings)


def galera_conn(farm: Farm, database: str | None = None) -> pymysql.connections.Connection:
    """A connection to the first Galera node that answers (others may be under fault test)."""
    ep = farm.endpoints.galera
    assert ep is not None
    last = None
    for attempt in range(3):
        for node in ep.nodes:
            try:
                return pymysql.connect(host=node.host, port=node.port, user=ep.user,
                                       password=ep.password.reveal() if ep.password else "",
                                       database=database, autocommit=True, connect_timeout=2)
            except pymysql.err.MySQLError as exc:
                last = exc
        time.sleep(1 + attempt)
    raise last  # type: ignore[misc]


def sql(farm: Farm, statement: str, args=None, database: str | None = None):
    for attempt in range(3):
        try:
            conn = galera_conn(farm, database)
            try:
                with conn.cursor() as cur:
                    cur.execute("SET SESSION wsrep_sync_wait = 1")  # causal reads
                    cur.execute(statement, args)
                    return cur.fetchall()
            finally:
                conn.close()
        except pymysql.err.OperationalError:
            if attempt == 2:
                raise
            time.sleep(1)
    return None


def table_checksum(farm: Farm, database: str, table: str) -> tuple:
    rows = sql(farm, f"SELECT * FROM `{table}` ORDER BY 1", database=database)
    return tuple(rows)


def tree_checksum(path: Path) -> dict[str, str]:
    import hashlib

    return {str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(path.rglob("*")) if p.is_file()}


@pytest.fixture
def scratch_site(lab_farm, tmp_path):
    """restore-test.test: a database with rows, a registry row and a files tree."""
    root = tmp_path / "sites"
    content = root / SCRATCH / "wp-content"
    (content / "uploads").mkdir(parents=True)
    (content / "uploads" / "a.jpg").write_bytes(os.urandom(20000))
    (content / "index.php").write_text("<?php // silence\n")
    sql(lab_farm, f"DROP DATABASE IF EXISTS `{SCRATCH_DB}`")
    sql(lab_farm, f"CREATE DATABASE `{SCRATCH_DB}`")
    sql(lab_farm, "CREATE TABLE posts (id INT PRIMARY KEY, title VARCHAR(100), body TEXT)",
        database=SCRATCH_DB)
    sql(lab_farm, "INSERT INTO posts VALUES " + ",".join(
        f"({i}, 'title {i}', '{secrets.token_hex(40)}')" for i in range(1, 201)),
        database=SCRATCH_DB)
    sql(lab_farm, "REPLACE INTO wpfarm.sites (domain, db_name, db_user, state) "
        "VALUES (%s, %s, %s, 'active')", (SCRATCH, SCRATCH_DB, SCRATCH_DB))
    yield root
    sql(lab_farm, "DELETE FROM wpfarm.sites WHERE domain = %s", (SCRATCH,))
    sql(lab_farm, f"DROP DATABASE IF EXISTS `{SCRATCH_DB}`")
