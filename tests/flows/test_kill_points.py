"""kill -9 at random points, many times, then resume: the store ends as if nothing happened.

This kills a run N times
(``SELFTAUGHT_KILL_POINTS``, default 20) at random points (seeded by ``SELFTAUGHT_KILL_SEED``,
so a failure can be replayed), then resumes it to the end and compares it with the same
recipe run uninterrupted: the same samples per round, nothing duplicated or unjudged, a valid
checkpoint chain, the same held-out numbers.

A kill point is an event of the run -- the CLI printed that it starts, or a stage of a round
was marked running or done in the store -- plus a random 0-1.5 s after it, so kills land
inside stages too (mid-training, mid-checkpoint write, between a stage's writes). The N
events are drawn from all of the run's events and sorted, so the run moves forward from kill
to kill. The test prints where each kill landed (``pytest -s``), for docs/measurements.md.
"""

from __future__ import annotations

import os
import random
import time

import pytest
import sqlalchemy as sa

from selftaught.loops.checkpoint import TEMPORARY_FOLDERS, verify_checkpoint
from selftaught.records import Stage
from selftaught.store import Store
from tests.helpers import cli_env, kill_group, run_cli, start_cli

KILLS = int(os.environ.get("SELFTAUGHT_KILL_POINTS", "20"))


def _counts(url: str, run_id: str) -> list[tuple]:
    """Samples per (round, source) of a run."""
    with sa.create_engine(url).connect() as conn:
        return conn.execute(
            sa.text(
                "SELECT r.\"index\", s.source, count(*) FROM samples s JOIN rounds r ON r.id = s.round_id "
                "WHERE r.run_id = :run GROUP BY r.\"index\", s.source ORDER BY 1, 2"
            ),
            {"run": run_id},
        ).all()


def _exists(url: str, run_id: str) -> bool:
    try:
        with Store(url, upgrade=False) as s:
            return s.get_run(run_id) is not None
    except Exception:  # noqa: BLE001 - killed before the store existed
        return False


def _events() -> list[tuple[int, Stage | None, str]]:
    """(round, stage, status) in the order a run goes through them; (-1, None, ...) = CLI start."""
    events: list[tuple[int, Stage | None, str]] = [(-1, None, "started")]
    for index in range(3):
        order = [Stage.TRAIN] + [st for st in Stage if st is not Stage.TRAIN] if index == 0 else list(Stage)
        events += [(index, st, status) for st in order for status in ("running", "done")]
    return events


def _stage_row(url: str, index: int, stage: Stage) -> tuple | None:
    """(status, started_at) of one stage of the victim run, None before it exists."""
    try:
        with sa.create_engine(url).connect() as conn:
            return conn.execute(sa.text(
                "SELECT st.status, st.started_at FROM stages st JOIN rounds r ON r.id = st.round_id "
                "WHERE r.run_id = 'victim' AND r.\"index\" = :i AND st.stage = :s"),
                {"i": index, "s": stage.value}).first()
    except sa.exc.OperationalError:  # no store or no table yet
        return None


def _reached(url: str, log, offset: int, event, before: tuple | None) -> bool:
    """Has this process reached the event? A stage left "running" by the killed process
    counts only once this one has marked it running again (a new started_at)."""
    index, stage, status = event
    if stage is None:
        text = log.read_bytes()[offset:]
        return b"starting run" in text or b"resuming run" in text
    row = _stage_row(url, index, stage)
    if row is None:
        return False
    if row[0].lower() == "done":
        return True
    return status == "running" and row[0].lower() == "running" and (before is None or row[1] != before[1])


@pytest.mark.slow
def test_random_kill_points_then_resume_match_an_uninterrupted_run(finished_run, tmp_path, prefect_server):
    ref_root, _, ref_id = finished_run
    recipe = ref_root / "tiny.yaml"
    env = cli_env(tmp_path, prefect_server)
    url = env["SELFTAUGHT_DB_URL"]
    log = tmp_path / "cli.log"
    rng = random.Random(int(os.environ.get("SELFTAUGHT_KILL_SEED", "14")))
    points: list[str] = []
    plan = sorted(rng.sample(range(len(_events())), min(KILLS, len(_events()))))
    for event in (_events()[i] for i in plan):
        offset = log.stat().st_size if log.exists() else 0
        before = None if event[1] is None else _stage_row(url, event[0], event[1])
        how = ["--resume", "victim"] if _exists(url, "victim") else ["--run-id", "victim"]
        proc = start_cli(["run", str(recipe), *how], env, log)
        deadline = time.monotonic() + 300
        while not _reached(url, log, offset, event, before) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(rng.uniform(0, 1.5))
        if proc.poll() is not None:  # it finished (or failed) before the kill
            assert proc.returncode == 0, log.read_text()[-3000:]
            break
        index, stage, status = event
        points.append("CLI start" if stage is None else f"r{index} {stage.value} {status}")
        kill_group(proc)
    print(f"\n{len(points)} kill points: {points}")
    run_cli(["run", str(recipe), "--resume", "victim"], env, log)

    ref_url = f"sqlite:///{ref_root / 'store.db'}"
    ref, victim = Store(ref_url, upgrade=False), Store(url, upgrade=False, home=env["SELFTAUGHT_HOME"])
    assert victim.get_run("victim").status == "done"
    assert _counts(url, "victim") == _counts(ref_url, ref_id)
    with sa.create_engine(url).connect() as conn:
        dupes = conn.execute(sa.text(
            "SELECT count(*) FROM (SELECT round_id, source, problem_pk, \"index\" FROM samples "
            "GROUP BY 1, 2, 3, 4 HAVING count(*) > 1)")).scalar()
        unjudged = conn.execute(sa.text(
            "SELECT count(*) FROM samples s LEFT JOIN verdicts v ON v.sample_id = s.id WHERE v.id IS NULL")).scalar()
    assert dupes == 0 and unjudged == 0
    chain = victim.checkpoint_chain("victim/r2")
    assert [c.id for c in chain] == ["victim/r2", "victim/r1", "victim/r0"]
    for ckpt in chain:
        assert verify_checkpoint(ckpt.path)["sha256"] == ckpt.sha256

    def heldout(store, run):
        return [(r.index, r.heldout_greedy, r.heldout_pass_at_1) for r in store.round_table(run)]

    assert heldout(victim, "victim") == heldout(ref, ref_id)
    # what killed saves and cold starts left was removed when the run started again
    leftovers = [p.name for pattern in TEMPORARY_FOLDERS for p in (tmp_path / "home" / "runs" / "victim").glob(pattern)]
    assert leftovers == []
