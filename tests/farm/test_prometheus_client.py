"""farm/prometheus.py against servers: what it sends (Mimir's tenant header, a bearer token
or basic auth read from their secret references), what it makes of an API error, and that
a secret never appears in an error. Mimir and an auth proxy are in no registry here: a
small HTTP server on loopback, answering as the Prometheus API does, stands in for them
and records the headers; the queries themselves are tested on the lab's real Prometheus
(tests/status/test_node_metrics_lab.py)."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from wpfarm_tui.farm.prometheus import PrometheusClient, PrometheusError, range_step
from wpfarm_tui.inventory import MetricsEndpoint
from wpfarm_tui.secrets import Secret


class _Api(BaseHTTPRequestHandler):
    seen: list[dict[str, str]] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        _Api.seen.append({k.lower(): v for k, v in self.headers.items()} | {"path": self.path})
        if "bad" in self.path:
            status, body = 400, {"status": "error", "errorType": "bad_data",
                                 "error": "parse error at char 4"}
        else:
            status, body = 200, {"status": "success", "data": {
                "resultType": "vector",
                "result": [{"metric": {"instance": "n1:9100"}, "value": [1.0, "NaN"]}]}}
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def api() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Api)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Api.seen.clear()
    yield f"http://127.0.0.1:{server.server_address[1]}/prometheus"
    server.shutdown()
    server.server_close()


def test_tenant_and_bearer_token_are_sent(api: str, tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("t0k3n-value\n")
    client = PrometheusClient(MetricsEndpoint(api, tenant="farm-1",
                                              token=Secret("file", str(token))))
    try:
        (sample,) = client.query("up")
    finally:
        client.close()
    assert sample.labels == {"instance": "n1:9100"} and sample.value != sample.value  # NaN
    (seen,) = _Api.seen
    assert seen["path"].startswith("/prometheus/api/v1/query?query=up")
    assert seen["x-scope-orgid"] == "farm-1"
    assert seen["authorization"] == "Bearer t0k3n-value"


def test_basic_auth_and_no_tenant(api: str, monkeypatch) -> None:
    monkeypatch.setenv("WPFARM_TEST_PROM_PW", "pa55word")
    client = PrometheusClient(MetricsEndpoint(api, user="ops",
                                              password=Secret("env", "WPFARM_TEST_PROM_PW")))
    try:
        client.query("up")
    finally:
        client.close()
    (seen,) = _Api.seen
    assert "x-scope-orgid" not in seen
    assert seen["authorization"] == "Basic " + base64.b64encode(b"ops:pa55word").decode()


def test_an_api_error_names_its_kind_and_never_the_secret(api: str, tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("s3cret-token")
    client = PrometheusClient(MetricsEndpoint(api, token=Secret("file", str(token))))
    try:
        with pytest.raises(PrometheusError) as caught:
            client.query("bad(")
    finally:
        client.close()
    assert str(caught.value) == "bad_data: parse error at char 4"
    assert "s3cret" not in repr(caught.value)


def test_a_server_that_is_not_there_fails_fast_without_retries() -> None:
    import time

    import httpx

    client = PrometheusClient(MetricsEndpoint("http://127.0.0.1:9", timeout=1.0))
    started = time.monotonic()
    try:
        with pytest.raises(httpx.ConnectError):
            client.query("up")
    finally:
        client.close()
    assert time.monotonic() - started < 0.5


@pytest.mark.parametrize(("window", "width", "step"), [(1800, 60, 30.0), (60, 120, 1.0),
                                                       (3600, 0, 3600.0)])
def test_range_step_is_the_window_over_the_width(window, width, step) -> None:
    assert range_step(window, width) == step
