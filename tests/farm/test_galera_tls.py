"""Galera connections share one TLS context (#13): pymysql builds one per connection in its
default "preferred" mode, reading the system's CA store (~25 ms of CPU), and the console
tries a node that is down once a poll."""

from __future__ import annotations

from wpfarm_tui.farm import galera as farm_galera


def test_connections_share_one_tls_context_and_stay_preferred() -> None:
    a, b = (farm_galera._Connection(host="127.0.0.1", port=1, defer_connect=True)
            for _ in range(2))
    assert a.ctx is b.ctx
    # Still pymysql's own mode: TLS when the server offers it, never required.
    assert a.ssl and not a._ssl_required


def test_tls_options_still_build_their_own_context() -> None:
    a, b = (farm_galera._Connection(host="127.0.0.1", port=1, defer_connect=True,
                                    ssl={"ca": None}) for _ in range(2))
    assert a.ctx is not b.ctx
    assert a._ssl_required
