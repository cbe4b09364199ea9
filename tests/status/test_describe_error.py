"""Which failures are "denied" (the server answered and refused our credentials): the
client libraries' own exception types, with the texts the servers send."""

from __future__ import annotations

import pymysql
import pytest
import redis

from wpfarm_tui.status.base import credentials_refused, describe_error

ACCESS = "Access denied for user 'wpfarm'@'127.0.0.1' (using password: YES)"


@pytest.mark.parametrize(("exc", "state"), [
    (pymysql.err.OperationalError(1045, ACCESS), "denied"),
    (pymysql.err.OperationalError(1044, "Access denied for user 'wpfarm'@'%' to database "
                                        "'wp_x'"), "denied"),
    (pymysql.err.OperationalError(1698, "Access denied for user 'root'@'localhost'"), "denied"),
    # A missing grant is not a wrong password: the fix is not in farm.yaml's secret.
    (pymysql.err.OperationalError(1227, "Access denied; you need (at least one of) the "
                                        "SUPER privilege(s) for this operation"), "error"),
    (pymysql.err.OperationalError(2003, "Can't connect to MySQL server on '127.0.0.1' "
                                        "([Errno 111] Connection refused)"), "down"),
    (pymysql.err.OperationalError(2013, "Lost connection to MySQL server during query "
                                        "(timed out)"), "timeout"),
    (redis.AuthenticationError("invalid username-password pair or user is disabled."),
     "denied"),
    (redis.AuthenticationError("Authentication required."), "denied"),
    (redis.ResponseError("WRONGPASS invalid username-password pair"), "denied"),
    (redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused."),
     "down"),
    (ConnectionRefusedError(111, "Connection refused"), "down"),
    (TimeoutError("timed out"), "timeout"),
])
def test_state_of_a_failure(exc, state):
    assert describe_error(exc, 2.0)[0] == state
    assert credentials_refused(exc) is (state == "denied")


def test_denied_keeps_the_servers_words():
    assert describe_error(pymysql.err.OperationalError(1045, ACCESS)) == ("denied", ACCESS)
