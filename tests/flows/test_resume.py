"""kill -9 at any point, then resume: same samples per round, no duplicates, a valid chain.

The victim run is killed twice through its whole process group, as a crash would: once
as soon as round 1's judge stage is done (so somewhere in rationalize/curate/train), once as
soon as round 2's generate stage is done (somewhere in judge ... evaluate). Conditions that
stay true, not "stage X is running", so a fast stage cannot slip past the watcher. It is
then resumed to the end and compared with a run of the same recipe never interrupted.
"""

from __future__ import annotations

import sqlalchemy as sa

from selftaught.loops.checkpoint import verify_checkpoint
from selftaught.records import Stage
from selftaught.store import Store
from tests.helpers import cli_env, kill_group, run_cli, start_cli, wait_until


def _counts(url: str, run_id: str) -> list[tuple]:
    with sa.create_engine(url).connect() as conn:
        return conn.execute(
            sa.text(
                "SELECT r.\"index\", s.source, count(*) FROM samples s JOIN rounds r ON r.id = s.round_id "
                "WHERE r.run_id = :run GROUP BY r.\"index\", s.source ORDER BY 1, 2"
            ),
            {"run": run_id},
        ).all()


def test_kill_9_twice_then_resume_matches_an_uninterrupted_run(finished_run, tmp_path, prefect_server):
    ref_root, _, ref_id = finished_run
    recipe = ref_root / "tiny.yaml"
    env = cli_env(tmp_path, prefect_server)
    log = tmp_path / "cli.log"
    url = env["SELFTAUGHT_DB_URL"]

    def stage_is(index: int, stage: Stage, status: str):
        def check() -> bool:
            try:
                with Store(url, upgrade=False) as s:
                    return s.stage_status("victim", index).get(stage) == status
            except Exception:  # the store may not exist yet
                return False
        return check

    first = start_cli(["run", str(recipe), "--run-id", "victim"], env, log)
    wait_until(stage_is(1, Stage.JUDGE, "done"), first, log)
    kill_group(first)
    with Store(url, upgrade=False) as s:
        assert s.stage_status("victim", 1).get(Stage.EVALUATE) != "done"  # really interrupted

    second = start_cli(["run", str(recipe), "--resume", "victim"], env, log)
    wait_until(stage_is(2, Stage.GENERATE, "done"), second, log)
    kill_group(second)
    with Store(url, upgrade=False) as s:
        assert s.stage_status("victim", 2).get(Stage.EVALUATE) != "done"
    run_cli(["run", str(recipe), "--resume", "victim"], env, log)

    ref_url = f"sqlite:///{ref_root / 'store.db'}"
    ref, victim = Store(ref_url, upgrade=False), Store(url, upgrade=False, home=env["SELFTAUGHT_HOME"])
    assert _counts(url, "victim") == _counts(ref_url, ref_id)
    assert victim.get_run("victim")["status"] == "done"

    # no duplicates: every (round, source, problem, index) once, every sample judged once
    with sa.create_engine(url).connect() as conn:
        dupes = conn.execute(sa.text(
            "SELECT count(*) FROM (SELECT round_id, source, problem_pk, \"index\" FROM samples "
            "GROUP BY 1, 2, 3, 4 HAVING count(*) > 1)")).scalar()
        unjudged = conn.execute(sa.text(
            "SELECT count(*) FROM samples s LEFT JOIN verdicts v ON v.sample_id = s.id WHERE v.id IS NULL")).scalar()
    assert dupes == 0 and unjudged == 0

    # the checkpoint chain: r2 -> r1 -> r0, each one complete and matching its manifest
    chain = victim.checkpoint_chain("victim/r2")
    assert [c.id for c in chain] == ["victim/r2", "victim/r1", "victim/r0"]
    for ckpt in chain:
        assert verify_checkpoint(ckpt.path)["sha256"] == ckpt.sha256

    # same seeds, same data: the interrupted run reached the same held-out numbers
    def heldout(store, run):
        return [(r["index"], r["heldout_greedy"], r["heldout_pass_at_1"]) for r in store.round_table(run)]

    assert heldout(victim, "victim") == heldout(ref, ref_id)
