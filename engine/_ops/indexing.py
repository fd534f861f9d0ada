"""Indexing (``t[0]``, ``t[:2]``, masks, index arrays), assignment, ``where``, ``cat``/``stack``."""

from __future__ import annotations

__all__: list[str] = []
