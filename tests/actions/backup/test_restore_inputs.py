"""Restore's inputs: --at, and the RENAME TABLE built from names a site's database user
controls (issue #19 item 6)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pymysql
import pytest

from tests.actions.backup.conftest import sql
from wpfarm_tui.actions import ActionError
from wpfarm_tui.actions.restore import parse_at, rename_statement

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("text", "words"), [
    ("0001-01-01", "out of range"), ("9999-12-31", "out of range"),
    ("1970-01-01T00:30:00+01:00", "before 1970"), ("2027-01-01", "in the future"),
    ("2026-02-30", "not a valid time (day is out of range"), ("20260301", "not a time"),
    ("2026-W10", "not a time"), ("\uff12\uff10\uff12\uff16-03-01", "not a time"),
    ("yesterday", "not a time"), ("", "not a time"), ("2026-03-01 4:00", "not a time")])
def test_bad_at_names_the_option_and_the_format(text, words):
    with pytest.raises(ActionError) as err:
        parse_at(text, now=NOW)
    message = str(err.value)
    assert message.startswith("--at: ") and words in message
    if "not a" in words:
        assert "YYYY-MM-DD" in message


def test_good_at():
    assert parse_at("2026-03-01T04:00:00+01:00", now=NOW) == datetime(2026, 3, 1, 3, 0,
                                                                        tzinfo=UTC)
    assert parse_at("2026-03-01T04:00Z", now=NOW) == datetime(2026, 3, 1, 4, 0, tzinfo=UTC)
    assert parse_at("2026-03-01 04:00", now=NOW).tzinfo is not None  # local time
    assert parse_at("2026-03-01", now=NOW).tzinfo is not None


EVIL = "t`, `mysql`.`user` TO `x`.`user"


def test_rename_statement_quotes_every_table_name():
    statement = rename_statement("wp_live", "wpold_1", "wprestore_1", ["wp_posts"], [EVIL])
    assert statement == ("RENAME TABLE `wp_live`.`wp_posts` TO `wpold_1`.`wp_posts`, "
                         "`wprestore_1`.`t``, ``mysql``.``user`` TO ``x``.``user` TO "
                         "`wp_live`.`t``, ``mysql``.``user`` TO ``x``.``user`")


def test_rename_statement_moves_an_odd_table_name_on_real_mariadb(lab_farm):
    """On the lab's Galera: a restored table whose name would, pasted raw, also move a
    table of another database is renamed as one table, and nothing else is touched.
    Scratch databases, created and dropped here."""
    tag = uuid.uuid4().hex[:6]  # short names: a table name has at most 64 characters
    live, old, staging, bystander = (f"wi{tag}{n}" for n in "LOSB")
    evil = f"t` TO `{live}`.`t`, `{bystander}`.`user` TO `{old}`.`s"
    try:
        for db in (live, old, staging, bystander):
            sql(lab_farm, f"CREATE DATABASE `{db}`")
        sql(lab_farm, "CREATE TABLE posts (id INT)", database=live)
        sql(lab_farm, "CREATE TABLE user (id INT)", database=bystander)
        sql(lab_farm, f"CREATE TABLE `{evil.replace('`', '``')}` (id INT)", database=staging)
        sql(lab_farm, rename_statement(live, old, staging, ["posts"], [evil]))
        tables = {(str(s), str(t)) for s, t in sql(
            lab_farm, "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES "
            "WHERE TABLE_SCHEMA LIKE %s", (f"wi{tag}_",))}
        assert tables == {(old, "posts"), (live, evil), (bystander, "user")}
    except pymysql.err.MySQLError as exc:  # the lab is up (lab_farm): this is a bug
        pytest.fail(f"MariaDB refused the statement: {exc}")
    finally:
        for db in (live, old, staging, bystander):
            sql(lab_farm, f"DROP DATABASE IF EXISTS `{db}`")
