"""`selftaught rejudge` on a copy of a real finished run: a stricter arithmetic judge's verdicts
are added beside the old ones (never over them), a rerun adds nothing, `--compare` agrees
with a direct SQL count, the history commands read each round's own version by default and
the new one with `--judge-version`, and a `kill -9` mid-rejudge then a rerun completes
without duplicates (a real subprocess, a real signal)."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest

from selftaught.judges.arithmetic import arithmetic_version
from tests.cli.test_cli import cli
from tests.helpers import kill_group, start_cli

STRICT = ["--judge", "arithmetic", "--option", "strict=true", "--option", "answer_format=boxed"]
NEW = arithmetic_version("boxed", strict=True)


@pytest.fixture
def copied_run(finished_run, tmp_path: Path):
    """(env, run id, path of a copy of the finished run's store): the session's run stays as it was."""
    root, env, run_id = finished_run
    db = tmp_path / "store.db"
    with sqlite3.connect(root / "store.db") as src, sqlite3.connect(db) as dst:
        src.backup(dst)
    return {**env, "SELFTAUGHT_DB_URL": f"sqlite:///{db}"}, run_id, db


def _sql(db: Path, query: str, *params) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(query, params).fetchall()


def _rejudge(env: dict, run_id: str, *more: str) -> dict:
    result = cli("rejudge", "--run", run_id, *STRICT, "--json", *more, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_rejudge_adds_a_version_beside_the_old_one_and_compare_counts_the_flips(copied_run):
    env, run_id, db = copied_run
    old = _sql(db, "SELECT id, sample_id, judge, judge_version, outcome, score, detail FROM verdicts ORDER BY id")
    n_samples = _sql(db, "SELECT count(*) FROM samples")[0][0]
    rounds_before = json.loads(cli("rounds", run_id, "--json", env=env).stdout)
    assert NEW not in {v[3] for v in old}

    out = _rejudge(env, run_id)
    assert out["judge_version"] == NEW and sum(r["n_added"] for r in out["rounds"]) == n_samples
    assert _sql(db, "SELECT id, sample_id, judge, judge_version, outcome, score, detail FROM verdicts "
                    "WHERE id <= ? ORDER BY id", old[-1][0]) == old  # fmt: skip  # untouched
    assert _sql(db, "SELECT count(*), count(DISTINCT sample_id) FROM verdicts WHERE judge_version = ?", NEW) == [
        (n_samples, n_samples)]  # fmt: skip
    assert all(r["n_added"] == 0 for r in _rejudge(env, run_id)["rounds"])  # a rerun is a no-op
    assert _sql(db, "SELECT count(*) FROM verdicts")[0][0] == len(old) + n_samples

    compared = _rejudge(env, run_id, "--compare")
    expected = _sql(db, """
        SELECT r."index", count(*), sum(o.outcome = 'pass' AND n.outcome != 'pass'),
               sum(o.outcome != 'pass' AND n.outcome = 'pass')
          FROM verdicts o JOIN verdicts n ON n.sample_id = o.sample_id AND n.judge_version = ?
          JOIN rounds r ON r.id = o.round_id
         WHERE o.judge_version != ? GROUP BY r."index" ORDER BY r."index" """, NEW, NEW)
    assert [(f["round"], f["n_compared"], f["pass_to_fail"], f["fail_to_pass"]) for f in compared["flips"]] == expected
    assert sum(f["n_compared"] for f in compared["flips"]) == n_samples
    stale = _sql(db, """
        SELECT r."index", (SELECT c.id FROM checkpoints c WHERE c.run_id = r.run_id AND c.round_index = r."index"
                            ORDER BY c.created_at DESC, c.id DESC LIMIT 1),
               count(*), sum(n.outcome != 'pass')
          FROM training_examples t JOIN rounds r ON r.id = t.round_id
          JOIN verdicts n ON n.sample_id = t.sample_id AND n.judge_version = ?
         GROUP BY r."index" ORDER BY r."index" """, NEW)
    # (the tiny run's model passes nothing, so it trains on nothing: test_store_rejudge.py has both)
    assert [tuple(s.values()) for s in compared["stale_checkpoints"]] == [s for s in stale if s[3]]
    text = cli("rejudge", "--run", run_id, *STRICT, "--compare", env=env).stdout
    assert "pass->fail" in text and f"version {NEW}" in text

    # the history reads each round's own verdicts unless asked for the new version
    assert json.loads(cli("rounds", run_id, "--json", env=env).stdout) == rounds_before
    strict_rounds = json.loads(cli("rounds", run_id, "--json", "--judge-version", NEW, env=env).stdout)
    assert [r["n_judged"] for r in strict_rounds] == [r["n_judged"] for r in rounds_before]
    assert all(r["pass_rate"] in (None, 0.0) for r in strict_rounds)
    query = ["samples", "--run", run_id, "--round", "1", "--source", "generate", "--limit", "1000", "--json"]
    own = json.loads(cli(*query, env=env).stdout)
    new = json.loads(cli(*query, "--judge-version", NEW, env=env).stdout)
    assert len(own) == len(new) == 36 and {r["judge_version"] for r in new} == {NEW}
    assert {r["judge_version"] for r in own} == {v for _, _, _, v, *_ in old if v != NEW} - {"unknown"}
    problem_id = new[0]["problem_id"]
    history = json.loads(cli("problem", problem_id, "--run", run_id, "--judge-version", NEW, "--json", env=env).stdout)
    assert history and all(r["n_pass"] == 0 for h in history for r in h["rounds"])


def test_a_rejudge_killed_mid_way_completes_on_rerun_without_duplicates(copied_run, tmp_path: Path):
    env, run_id, db = copied_run
    n_samples = _sql(db, "SELECT count(*) FROM samples")[0][0]
    new_count = "SELECT count(*) FROM verdicts WHERE judge_version = ?"
    proc = start_cli(["rejudge", "--run", run_id, *STRICT, "--batch", "1"], env, tmp_path / "killed.log")
    deadline = time.monotonic() + 120
    while _sql(db, new_count, NEW)[0][0] < 5 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.01)
    kill_group(proc)
    partial = _sql(db, new_count, NEW)[0][0]
    assert 0 < partial < n_samples, (partial, (tmp_path / "killed.log").read_text()[-2000:])

    out = _rejudge(env, run_id)
    assert sum(r["n_added"] for r in out["rounds"]) == n_samples - partial
    assert _sql(db, "SELECT count(*), count(DISTINCT sample_id) FROM verdicts WHERE judge_version = ?", NEW) == [
        (n_samples, n_samples)]  # fmt: skip


def test_a_bad_judge_option_or_round_is_one_line(copied_run):
    env, run_id, db = copied_run
    before = _sql(db, "SELECT count(*) FROM verdicts")
    # an unknown option is a usage error (exit 2); a round the run lacks, a runtime error (1)
    for args, says, code in ((["--judge", "arithmetic", "--option", "bogus=1"], "bogus", 2),
                             (["--judge", "format", "--round", "9"], "no round 9", 1)):  # fmt: skip
        result = cli("rejudge", "--run", run_id, *args, env=env)
        assert result.returncode == code and says in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert _sql(db, "SELECT count(*) FROM verdicts") == before
