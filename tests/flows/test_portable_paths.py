"""A run's store and home copied to another place, used from another directory.

The session's finished tiny run (``finished_run``) is copied -- store and home -- into a new
folder, and every command runs as a subprocess from a third directory with
``SELFTAUGHT_HOME`` pointing at the moved home: listing checkpoints, labelling a round
(``prm label``), exporting, evaluating a checkpoint by id, reporting, and resuming the run
(``--retrain-from 2`` rebuilds round 2 from round 1's moved checkpoint). The original home
is renamed meanwhile, so nothing can be read from it; nothing may be written to the working
directory. Also: checkpoint
folders are readable by others (``0o777 & ~umask``).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
import subprocess
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest

from selftaught.homepaths import umask
from tests.conftest import tiny_recipe_text
from tests.helpers import BIN, run_cli


def _move(finished_run, dest: Path) -> tuple[dict[str, str], Path, Path]:
    """(env, moved home, an empty working directory) of a copy of the finished run."""
    root, env, _ = finished_run
    with closing(sqlite3.connect(root / "store.db")) as src, closing(sqlite3.connect(dest / "store.db")) as copy:
        src.backup(copy)  # the WAL's pages too
    home = dest / "moved" / "home"
    shutil.copytree(root / "home", home, symlinks=True)
    cwd = dest / "elsewhere"
    cwd.mkdir()
    env = dict(env, SELFTAUGHT_DB_URL=f"sqlite:///{dest / 'store.db'}", SELFTAUGHT_HOME=str(home))
    return env, home, cwd


def _cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    result = subprocess.run([str(BIN / "selftaught"), *args], env=env, cwd=cwd, capture_output=True, text=True,
                            timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return result


@contextmanager
def _original_home_away(finished_run) -> Iterator[None]:
    """The original home renamed while the copy is used: reading it would fail."""
    home = finished_run[0] / "home"
    home.rename(home.with_name("home.away"))
    try:
        yield
    finally:
        home.with_name("home.away").rename(home)


@pytest.fixture(scope="module")
def copied(finished_run, tmp_path_factory):
    env, home, cwd = _move(finished_run, tmp_path_factory.mktemp("moved"))
    return env, home, cwd, finished_run[2]


@pytest.fixture
def moved(copied, finished_run):
    """The module's copy, with the original home out of reach during the test."""
    with _original_home_away(finished_run):
        yield copied


def test_the_store_records_checkpoints_relative_to_the_home(finished_run):
    root, _, run_id = finished_run
    with sqlite3.connect(root / "store.db") as conn:
        paths = dict(conn.execute("SELECT id, path FROM checkpoints WHERE run_id = ?", (run_id,)).fetchall())
    assert paths[f"{run_id}/r1"] == f"runs/{run_id}/round-001"
    assert not any(os.path.isabs(p) for p in paths.values())


def test_checkpoints_lie_in_the_moved_home(moved):
    env, home, cwd, run_id = moved
    rows = json.loads(_cli(["checkpoints", run_id, "--json"], env, cwd).stdout)
    assert [r["round"] for r in rows] == [0, 1, 2]
    assert all(r["path"] == str(home / "runs" / run_id / f"round-{r['round']:03d}") for r in rows)
    assert {r["weights"] for r in rows} == {"on disk"}
    assert not any(cwd.iterdir())


def test_prm_label_from_another_directory(moved):
    env, _, cwd, run_id = moved
    out = _cli(["prm", "label", run_id, "--round", "1", "--limit", "2", "--rollouts", "2", "--max-new-tokens", "8"],
               env, cwd).stdout  # fmt: skip
    assert "labelled 2 samples" in out


def test_export_then_eval_a_checkpoint_by_id(moved):
    env, _, cwd, run_id = moved
    _cli(["export", "heldout.jsonl", "--kind", "prompt", "--split", "heldout", "--run", run_id], env, cwd)
    rows = [json.loads(line) for line in (cwd / "heldout.jsonl").read_text().splitlines()]
    assert rows and all({"id", "prompt", "answer"} <= set(r) for r in rows)
    result = json.loads(_cli(["eval", "--checkpoint", f"{run_id}/r2", "--problems", "heldout.jsonl", "--k", "1",
                              "--json"], env, cwd).stdout)  # fmt: skip
    assert result["checkpoint"] == f"{run_id}/r2" and result["n_problems"] == len({r["id"] for r in rows})


def test_report_goes_to_the_moved_home(moved):
    env, home, cwd, run_id = moved
    _cli(["report", run_id], env, cwd)
    assert (home / "runs" / run_id / "report.html").stat().st_size > 0


@pytest.mark.slow  # ~30 s on 2 cores: it trains, generates and evaluates round 2 again
def test_resume_from_another_directory_retrains_in_the_moved_home(finished_run, tmp_path):
    env, home, cwd = _move(finished_run, tmp_path)
    run_id = finished_run[2]
    recipe = tmp_path / "tiny.yaml"
    recipe.write_text(tiny_recipe_text())
    with _original_home_away(finished_run):
        run_cli(["run", str(recipe), "--resume", run_id, "--retrain-from", "2"], env, tmp_path / "resume.log",
                cwd=cwd)
    rows = {r["id"]: r for r in json.loads(_cli(["checkpoints", run_id, "--json"], env, cwd).stdout)}
    assert rows[f"{run_id}/r2"]["path"] == str(home / "runs" / run_id / "round-002")
    assert rows[f"{run_id}/r2"]["weights"] == "on disk"
    archived = [c for c in json.loads(_cli(["rounds", "--json"], env, cwd).stdout) if c["id"] != run_id]
    assert len(archived) == 1
    old = json.loads(_cli(["checkpoints", archived[0]["id"], "--json"], env, cwd).stdout)
    assert old and all(Path(r["path"]).is_relative_to(home) and r["weights"] == "on disk" for r in old)
    assert not any(cwd.iterdir())


def test_checkpoint_folders_are_readable_by_others(finished_run):
    root, _, run_id = finished_run
    mask = umask()
    for folder in sorted((root / "home" / "runs" / run_id).glob("round-*")):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o777 & ~mask, folder
        for f in folder.rglob("*"):
            assert stat.S_IMODE(f.stat().st_mode) == (0o777 if f.is_dir() else 0o666) & ~mask, f
