"""`selftaught compare`: two real runs in one real SQLite store, compared as a user would.

More runs are made cheaply from the session's finished run: a copy of its store gets runs
``alt`` and ``alt2`` (rounds 0 and 1) whose held-out eval samples are the reference run's with
every verdict flipped on every third (``alt``) or second (``alt2``) problem, and whose
evaluations are computed from them by ``loops.evaluate.summarize`` (the evaluate stage's own
code). So each run solves problems the others do not, whatever the reference run solved."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from pathlib import Path

import pytest

from selftaught.cli.tables import _pct
from selftaught.records import Checkpoint, Outcome, SampleSource, Split
from tests.cli.test_cli import cli

FLIP = {Outcome.PASS: Outcome.FAIL, Outcome.FAIL: Outcome.PASS}


def _flipped(judged: list, flip_ids: set[str]) -> list:
    return [dataclasses.replace(j, verdict=dataclasses.replace(j.verdict, outcome=FLIP.get(j.verdict.outcome, j.verdict.outcome),
                                                               score=1.0 - j.verdict.score))
            if j.sample.problem_id in flip_ids else j for j in judged]  # fmt: skip


def _add_flipped_run(store, ref: str, name: str, every: int, keep: int | None = None) -> None:
    """Run ``name``: rounds 0 and 1, eval samples of ``ref`` (of its first ``keep`` held-out
    problems) with the verdicts of every ``every``-th problem flipped, evaluated."""
    from selftaught.loops.evaluate import summarize

    store.create_run(name, name=name, recipe={"method": "rft"})
    evals = {i: ev for i, ev in store.get_evaluations(ref) if i is not None}
    for index in (0, 1):
        k = evals[index].k
        judged = store.get_judged(ref, index, source=SampleSource.EVAL)
        problems = store.get_problems(sorted({j.sample.problem_id for j in judged}), split=Split.HELDOUT)[:keep]
        kept = {p.id for p in problems}
        judged = _flipped([j for j in judged if j.sample.problem_id in kept], {p.id for p in problems[::every]})
        store.add_samples(name, index, list({j.sample.key: j.sample for j in judged}.values()))
        store.add_verdicts(name, index, judged)
        ckpt = Checkpoint(id=f"{name}-{index}", path=f"runs/{name}/round-{index:03d}", sha256="0" * 64,
                          parent_id=None if index == 0 else f"{name}-0", round_index=index)  # fmt: skip
        store.add_checkpoint(name, ckpt)
        ev = summarize([j for j in judged if j.sample.index < k], [j for j in judged if j.sample.index == k],
                       problems, k=k, checkpoint_id=ckpt.id, split=Split.HELDOUT)  # fmt: skip
        store.add_evaluation(name, index, ev)


@pytest.fixture(scope="module")
def runs_to_compare(finished_run, tmp_path_factory):
    """(env, store, reference run id): the finished run's store copied, plus ``alt`` and ``alt2``."""
    from selftaught.store import Store

    root, env, ref = finished_run
    folder = tmp_path_factory.mktemp("compare")
    with sqlite3.connect(root / "store.db") as src, sqlite3.connect(folder / "store.db") as dst:
        src.backup(dst)
    url = f"sqlite:///{folder / 'store.db'}"
    store = Store(url)
    _add_flipped_run(store, ref, "alt", 3)
    _add_flipped_run(store, ref, "alt2", 2)
    _add_flipped_run(store, ref, "half", 2, keep=6)
    return dict(env, SELFTAUGHT_DB_URL=url, SELFTAUGHT_HOME=str(folder / "home")), store, ref


def _solved(store, run_id: str) -> set[str]:
    """Held-out problems with a passing eval sample in the run's latest round, directly."""
    latest = max(i for i, _ in store.get_evaluations(run_id) if i is not None)
    judged = store.get_judged(run_id, latest, source=SampleSource.EVAL)
    heldout = {p.id for p in store.get_problems(sorted({j.sample.problem_id for j in judged}), split=Split.HELDOUT)}
    return {j.sample.problem_id for j in judged if j.verdict.passed and j.sample.problem_id in heldout}


def test_json_matches_the_store(runs_to_compare):
    env, store, ref = runs_to_compare
    result = cli("compare", ref, "alt", "--json", env=env)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["runs"] == [ref, "alt"] and out["plot"] is None
    assert not (Path(env["SELFTAUGHT_HOME"]) / f"compare-{ref}-alt.png").exists()
    for run in (ref, "alt"):
        assert out["metrics"][run] == [
            {"index": r.index, "k": r.heldout_k, "greedy": r.heldout_greedy, "pass_at_1": r.heldout_pass_at_1,
             "pass_at_k": r.heldout_pass_at_k, "maj_at_k": r.heldout_maj_at_k}
            for r in store.round_table(run)
        ]  # fmt: skip
    assert [m["index"] for m in out["metrics"][ref]] == [0, 1, 2]
    assert [m["index"] for m in out["metrics"]["alt"]] == [0, 1]
    a, b = _solved(store, ref), _solved(store, "alt")
    assert a != b  # the flips changed what was solved
    assert out["only"] == {ref: sorted(a - b), "alt": sorted(b - a)}
    assert out["solved"][ref]["round"] == 2 and out["solved"]["alt"]["round"] == 1
    assert out["solved"][ref]["solved"] == sorted(a) and out["solved"][ref]["n_evaluated"] == 12
    assert out["same_problems"] is True


def test_different_heldout_sets_are_noted(runs_to_compare):
    env, store, ref = runs_to_compare
    out = json.loads(cli("compare", ref, "half", "--json", env=env).stdout)
    assert out["same_problems"] is False and out["solved"]["half"]["n_evaluated"] == 6
    assert out["only"]["half"] == sorted(_solved(store, "half") - _solved(store, ref))
    text = cli("compare", ref, "half", env=env).stdout
    assert f"round 1: solved {len(_solved(store, 'half'))} of 6" in text
    assert "evaluated different held-out problems" in text


def test_table_shows_the_stores_numbers_and_writes_a_png(runs_to_compare):
    env, store, ref = runs_to_compare
    result = cli("compare", ref, "alt", "--show", "50", env=env)
    assert result.returncode == 0, result.stderr
    lines = [line.split() for line in result.stdout.splitlines()]
    for run in (ref, "alt"):
        for n, r in enumerate(store.round_table(run)):
            expected = [run, str(r.heldout_k)] + [_pct(getattr(r, f"heldout_{m}")) for m in ("greedy", "pass_at_1", "pass_at_k", "maj_at_k")]
            if run == ref:  # the first run of each round's block carries the round number
                expected.insert(0, str(r.index))
            assert expected in lines, f"no row {expected} in:\n{result.stdout}"
    assert sum(["alt", "2"] in (line[:2], line[1:3]) for line in lines) == 2  # alt has no round 2
    only_alt = sorted(_solved(store, "alt") - _solved(store, ref))
    assert f"{len(only_alt)} not solved by the other run" in result.stdout
    assert ", ".join(only_alt) in result.stdout
    png = Path(env["SELFTAUGHT_HOME"]) / f"compare-{ref}-alt.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"wrote {png}" in result.stdout


def test_three_runs_each_against_all_others(runs_to_compare):
    env, store, ref = runs_to_compare
    result = cli("compare", "alt", "alt2", ref, "--json", env=env)
    assert result.returncode == 0, result.stderr
    solved = {run: _solved(store, run) for run in ("alt", "alt2", ref)}
    only = {run: sorted(mine - set().union(*(v for o, v in solved.items() if o != run))) for run, mine in solved.items()}
    assert only["alt"] and only["alt2"]  # both directions are exercised
    assert json.loads(result.stdout)["only"] == only
    text = cli("compare", "alt", "alt2", ref, "--show", "1", env=env).stdout
    assert f"{len(only['alt'])} not solved by any other run" in text and only["alt"][0] in text
    assert len(only["alt2"]) < 2 or f"(+{len(only['alt2']) - 1} more)" in text


def test_json_with_plot_writes_it_there(runs_to_compare, tmp_path):
    env, _, ref = runs_to_compare
    out = tmp_path / "sub" / "c.png"
    result = cli("compare", ref, "alt", "--json", "--plot", str(out), env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["plot"] == str(out)
    assert out.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(("args", "message", "code"), [
    (["REF", "nope"], "no run 'nope'", 1),  # a runtime error
    (["REF"], "at least two run ids", 2),  # usage errors (issue 17)
    (["REF", "REF"], "given twice", 2),
])  # fmt: skip
def test_bad_run_ids_are_one_line(runs_to_compare, args, message, code):
    env, _, ref = runs_to_compare
    result = cli("compare", *[ref if a == "REF" else a for a in args], env=env)
    assert result.returncode == code and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_help_states_what_solved_means():
    result = cli("compare", "--help")
    assert result.returncode == 0 and "Example" in result.stdout
    words = " ".join(result.stdout.split())  # rich wraps the help at 80 columns
    assert "pass@1 > 0" in words and "latest evaluated round" in words
