"""A synthetic finished run in a SQLite file, shared by the history tests (read-only)."""

from __future__ import annotations

import pytest

from tests.history.synthetic import build


@pytest.fixture(scope="module")
def syn_db(tmp_path_factory) -> str:
    """URL of a store holding the synthetic run ``syn`` (see synthetic.py)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('syn') / 'store.db'}"
    build(url)
    return url
