"""The layering the design promises, checked in fresh interpreters."""

from __future__ import annotations

import subprocess
import sys


def _imported_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_loops_never_import_prefect_or_sqlalchemy():
    mods = _imported_after(
        "import selftaught.loops, selftaught.loops.rounds, selftaught.loops.evaluate, "
        "selftaught.loops.train, selftaught.loops.generate, selftaught.loops.curate"
    )
    assert not {m for m in mods if m.split(".")[0] in ("prefect", "sqlalchemy")}


def test_the_store_imports_neither_torch_nor_prefect():
    mods = _imported_after("import selftaught.store")
    assert not {m for m in mods if m.split(".")[0] in ("torch", "prefect", "transformers")}


def test_the_package_root_is_cheap():
    mods = _imported_after("import selftaught")
    assert not {m for m in mods if m.split(".")[0] in ("torch", "prefect", "sqlalchemy", "transformers", "trl")}


def test_the_store_stands_on_records_and_errors_only():
    """``selftaught.store`` depends on records/errors (and SQLAlchemy): importing it loads
    no selftaught layer above it."""
    mods = _imported_after("import selftaught.store")
    above = ("selftaught.loops", "selftaught.prm", "selftaught.judges", "selftaught.search", "selftaught.flows")
    assert not {m for m in mods if m.startswith(above)}
    assert {m for m in mods if m.startswith("selftaught.") and not m.startswith("selftaught.store")} <= {
        "selftaught.records", "selftaught.errors", "selftaught.homepaths",
    }
