"""The one rule for a server or tool a test needs and this machine lacks: skipped on a
developer's machine, a failure under CI=true (a green CI means the real thing ran)."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

IN_CI = os.environ.get("CI") == "true"


def unavailable(why: str) -> NoReturn:
    if IN_CI:
        pytest.fail(f"required under CI: {why}")
    pytest.skip(why)
