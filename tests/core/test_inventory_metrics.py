"""endpoints.metrics in farm.yaml: a Prometheus-compatible query URL, Mimir's tenant, auth
as a secret reference; each mistake names its field and the fix."""

from __future__ import annotations

import pytest

from tests.core.test_inventory import EXAMPLE, MINIMAL, problems_of
from wpfarm_tui.inventory import load_farm, parse_farm
from wpfarm_tui.secrets import Secret


def _with(metrics: str) -> str:
    return MINIMAL + "  metrics:\n" + "".join(f"    {line}\n" for line in metrics.splitlines())


def test_absent_is_none_and_the_example_documents_it() -> None:
    assert parse_farm(MINIMAL).endpoints.metrics is None
    ep = load_farm(EXAMPLE).endpoints.metrics
    assert ep is not None and ep.url.endswith("/prometheus") and ep.tenant == "wpfarm"


def test_url_tenant_and_secret_references() -> None:
    ep = parse_farm(_with("url: http://mimir:9009/prometheus/\ntenant: farm-1\n"
                          "token: {file: /etc/wpfarm/metrics.token}\ntimeout: 1.5"))
    assert ep.endpoints.metrics is not None
    m = ep.endpoints.metrics
    assert (m.url, m.tenant, m.token, m.user, m.timeout) == (
        "http://mimir:9009/prometheus", "farm-1", Secret("file", "/etc/wpfarm/metrics.token"),
        None, 1.5)
    basic = parse_farm(_with("url: https://p.example\nuser: ops\npassword: {env: PROM_PW}"))
    assert basic.endpoints.metrics.password == Secret("env", "PROM_PW")


@pytest.mark.parametrize(("metrics", "expected"), [
    ("tenant: x", "endpoints.metrics.url: is missing. Fix: add `url:"),
    ("url: prometheus:9090", "endpoints.metrics.url: must be the query API's root"),
    ("url: http://p:9090\ntenant: has space", "endpoints.metrics.tenant: must be Mimir's "
     "tenant id"),
    ("url: http://p:9090\ntoken: abc", "endpoints.metrics.token: is a literal value"),
    ("url: http://p:9090\nuser: ops", "endpoints.metrics.password: basic auth needs both"),
    ("url: http://p:9090\ntoken: {env: T}\nuser: ops\npassword: {env: P}",
     "endpoints.metrics.token: goes alone"),
    ("url: http://p:9090\nscrape: 2", "endpoints.metrics.scrape: unknown key"),
])
def test_each_mistake_names_the_field_and_the_fix(metrics: str, expected: str) -> None:
    messages = problems_of(_with(metrics))
    assert any(expected in m for m in messages), messages
    assert all("Fix: " in m for m in messages)
    assert not any("abc" in m for m in messages)  # a literal token is never echoed
