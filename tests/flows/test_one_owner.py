"""One owner per run, with real processes: two `selftaught run --resume` of the same run at
the same time, on SQLite and on PostgreSQL; then `--force` taking a run from a live process.

Before leases, this exact start (issue 14) repeated generate, rationalize and train on
SQLite, and on PostgreSQL died on a checkpoint folder and left a store whose run was
``done`` while round 2's train was ``failed``. Now exactly one process works (exit 0), the
other exits 1 (a runtime error) with the one line naming it, and the store ends consistent: every round's
stages all done once, the run done, no duplicate samples, the lease released.
"""

from __future__ import annotations

import re
import socket
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa

from selftaught.recipe import load_recipe
from selftaught.records import Stage
from selftaught.store import Store
from tests.conftest import tiny_recipe_text
from tests.helpers import cli_env, kill_group, start_cli, wait_until
from tests.store.factories import BACKENDS

RUN = "SRP1"
ROUNDS = 1  # the cold start and one round: the fewest a recipe allows


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty store, once per backend (a PostgreSQL schema of its own)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def pg_url():
    from tests.store.factories import pg_schema

    with pg_schema() as url:
        yield url


def _started_run(tmp_path: Path, db_url: str) -> Path:
    """A tiny recipe and its run SRP1 in the store, created but not yet worked on (as a run
    killed right after it started leaves it)."""
    recipe = tmp_path / "tiny.yaml"
    recipe.write_text(tiny_recipe_text(method="rft", rounds=str(ROUNDS)))
    with Store(db_url) as store:
        store.create_run(RUN, name="tiny", recipe=load_recipe(recipe).model_dump(mode="json"))
    return recipe


def _wait(proc: subprocess.Popen, log: Path, timeout: float = 600) -> int:
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(proc)
        raise AssertionError(f"timed out:\n{log.read_text()[-3000:]}") from None


def _assert_consistent(db_url: str) -> None:
    with Store(db_url, upgrade=False) as store:
        assert store.get_run(RUN).status == "done"
        assert store.get_lease(RUN) is None  # released by the process that ended the run
        rows = store.round_table(RUN)
        assert [r.index for r in rows] == list(range(ROUNDS + 1))
        for index in range(ROUNDS + 1):
            assert store.stage_status(RUN, index) == {s: "done" for s in Stage}, index
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            dupes = conn.execute(sa.text(
                "SELECT count(*) FROM (SELECT round_id, source, problem_pk, \"index\" FROM samples "
                "GROUP BY round_id, source, problem_pk, \"index\" HAVING count(*) > 1) d")).scalar()
            samples = conn.execute(sa.text("SELECT count(*) FROM samples")).scalar()
    finally:
        engine.dispose()
    assert dupes == 0 and samples > 0


@pytest.mark.slow  # two real runs' start-up and one tiny run (cold start + a round): ~40 s each
def test_two_resumes_at_once_one_works_and_the_other_is_refused(db_url, tmp_path, prefect_server):
    recipe = _started_run(tmp_path, db_url)
    env = dict(cli_env(tmp_path, prefect_server), SELFTAUGHT_DB_URL=db_url)
    logs = [tmp_path / f"cli-{i}.log" for i in range(2)]
    procs = [start_cli(["run", str(recipe), "--resume", RUN], env, log) for log in logs]
    codes = [_wait(p, log) for p, log in zip(procs, logs)]
    assert sorted(codes) == [0, 1], [log.read_text()[-2000:] for log in logs]
    winner, loser = (0, 1) if codes[0] == 0 else (1, 0)

    refused = logs[loser].read_text().strip().splitlines()
    assert len(refused) == 1, refused  # one line, nothing else: no traceback, no progress
    owner = f"{re.escape(socket.gethostname())}:{procs[winner].pid}"
    assert re.fullmatch(
        rf"error: run {RUN} is being worked on by {owner} since \d\d:\d\d:\d\d "
        rf"\(lease expires in \d+ s\); wait, or take it over with --force",
        refused[0],
    ), refused[0]
    assert f"resuming run {RUN}" in logs[winner].read_text()
    _assert_consistent(db_url)


@pytest.mark.slow  # a run taken over mid-way, then finished by the new owner: ~50 s
def test_force_takes_over_and_the_old_owner_stops_with_one_line(tmp_path, prefect_server):
    db_url = f"sqlite:///{tmp_path / 'store.db'}"
    recipe = _started_run(tmp_path, db_url)
    # a short lease: the old owner's heartbeat (every third of it) notices within ~1 s
    env = dict(cli_env(tmp_path, prefect_server), SELFTAUGHT_DB_URL=db_url, SELFTAUGHT_LEASE_SECONDS="3")
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    first = start_cli(["run", str(recipe), "--resume", RUN], env, first_log)

    def working() -> bool:
        with Store(db_url, upgrade=False) as s:
            return s.stage_status(RUN, 0).get(Stage.TRAIN) is not None  # the cold start began

    wait_until(working, first, first_log)
    second = start_cli(["run", str(recipe), "--resume", RUN, "--force"], env, second_log)
    # a lost lease is a runtime error: exit 1 (cli/main.py)
    assert _wait(first, first_log, timeout=120) == 1, first_log.read_text()[-3000:]
    last = first_log.read_text().strip().splitlines()[-1]
    assert re.fullmatch(
        rf"error: run {RUN}: this process's lease was taken over by "
        rf"{re.escape(socket.gethostname())}:{second.pid} at \d\d:\d\d:\d\d; stopped before writing more",
        last,
    ), first_log.read_text()[-3000:]
    assert "Traceback" not in first_log.read_text()
    assert _wait(second, second_log) == 0, second_log.read_text()[-3000:]
    assert f"took the lease from {socket.gethostname()}:{first.pid} (--force); waiting" in second_log.read_text()
    _assert_consistent(db_url)
