"""Screens are compared as pictures: nothing in them may depend on how fast the machine is."""

from __future__ import annotations

import pytest
from textual.widgets import Input


@pytest.fixture(autouse=True)
def _steady_input_cursor(monkeypatch):
    # The focused Input's cursor blinks on a 0.5 s timer: on a loaded machine a snapshot
    # caught it off. With the toggle stopped the cursor is always drawn where it is.
    monkeypatch.setattr(Input, "_toggle_cursor", lambda self: None)
