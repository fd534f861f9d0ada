"""Fixtures every Qt test shares."""

from __future__ import annotations

import pytest


@pytest.fixture
def controller(qtbot):
    """A session controller whose script (if any) is stopped after the test."""
    from ui.session_controller import SessionController

    c = SessionController()
    yield c
    c.shutdown()
