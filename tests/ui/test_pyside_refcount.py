"""Regression test for DESIGN.md's PySide6 pitfall: 6.12.0 on Python 3.11 drops a reference to
None on every Qt call that returns nothing, and a long-running animating app then dies with
"Fatal Python error: none_dealloc". The pin in pyproject.toml keeps us off that release."""

from __future__ import annotations

import sys

import pytest

QtGui = pytest.importorskip("PySide6.QtGui")


def test_painter_calls_keep_none_refcount(qapp):
    image = QtGui.QImage(64, 64, QtGui.QImage.Format.Format_ARGB32)
    painter = QtGui.QPainter(image)
    pen = QtGui.QPen(QtGui.QColor("red"))
    try:
        before = sys.getrefcount(None)
        for i in range(3000):
            painter.setPen(pen)
            painter.drawLine(0, 0, i % 64, 63)
        after = sys.getrefcount(None)
    finally:
        painter.end()
    # immortal None (3.12+) reports a huge constant; on 3.11 the count must not fall
    assert after >= before - 50, f"None lost {before - after} references in 6,000 Qt calls"
