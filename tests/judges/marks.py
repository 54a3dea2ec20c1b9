"""Marks shared by the judge tests."""

from __future__ import annotations

import pytest

from selftaught.judges import find_bwrap

needs_bwrap = pytest.mark.skipif(
    find_bwrap() is None, reason="bubblewrap is not installed (make system-deps)"
)
