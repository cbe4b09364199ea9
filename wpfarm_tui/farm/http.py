"""Site probes: status, time to first byte and the cache verdict of one request."""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx

# Every request the console makes to a site says so: the traffic figures leave these out
# (status/traffic.py), they are the console's blackbox probe, not visitors.
PROBE_USER_AGENT = "wpfarm-probe/1"
PROBE_HEADERS = {"User-Agent": PROBE_USER_AGENT}


@dataclass(frozen=True)
class Probe:
    status: int | None
    ttfb_ms: float | None
    cache: str | None  # HIT | MISS | PASS | None
    error: str | None


def cache_verdict(headers: httpx.Headers) -> str | None:
    """HIT, MISS or PASS from the headers the farm's caches set, None when no cache spoke."""
    for name in ("x-cache", "cf-cache-status", "x-cache-status"):
        value = headers.get(name)
        if value:
            upper = value.upper()
            return "HIT" if "HIT" in upper else "PASS" if "PASS" in upper else "MISS"
    if xv := headers.get("x-varnish"):
        # Varnish puts two transaction ids here on a hit, one on a miss.
        return "HIT" if len(xv.split()) >= 2 else "MISS"
    return None


def probe(client: httpx.Client, edge_url: str, domain: str, path: str = "/") -> Probe:
    """GET edge_url+path with `Host: domain`; TTFB is the time until the headers arrived."""
    started = time.perf_counter()
    try:
        with client.stream("GET", f"{edge_url}{path}",
                           headers={"Host": domain, **PROBE_HEADERS}) as response:
            ttfb_ms = (time.perf_counter() - started) * 1000
            response.read()  # drain so the connection is reused
            return Probe(response.status_code, round(ttfb_ms, 1), cache_verdict(response.headers),
                         None)
    except httpx.TimeoutException:
        return Probe(None, None, None, f"timeout after {client.timeout.read:g} s")
    except httpx.HTTPError as exc:
        return Probe(None, None, None, (str(exc) or type(exc).__name__).splitlines()[0][:200])
