"""Verdicts of two judge versions side by side (store/rejudge_store.py, flows/rejudge.py), on
both backends: the real arithmetic judges (lenient, then strict boxed) over samples written to
flip both ways; flips, stale checkpoints and the version each read picks."""

from __future__ import annotations

from selftaught.flows.rejudge import rejudge
from selftaught.judges import get_verifier
from selftaught.judges.arithmetic import arithmetic_version
from selftaught.loops.verify import ARITHMETIC, judge_all

JUDGE_VERSION = arithmetic_version()  # the lenient arithmetic judge, the round's own
from selftaught.records import Checkpoint, TrainingExample, TrainingSet
from selftaught.store import ProblemPassRate, StaleCheckpoint, Store, VerdictFlips
from tests.store.factories import RUN, make_sample

#: add-2's answer is 5. Lenient reads the last number (or the one after </think>); strict boxed only \boxed{}.
COMPLETIONS = {
    0: "<think>2+3=5</think> 5",  # pass -> fail (not boxed)
    1: "\\boxed{5}, or 7",  # fail -> pass (the boxed answer is right, the last number is not)
    2: "\\boxed{5}",  # pass -> pass
    3: "7",  # fail -> fail
}


def _round(store: Store) -> list:
    samples = [make_sample("add-2", i, completion=c) for i, c in COMPLETIONS.items()]
    store.add_samples(RUN, 1, samples)
    judged = judge_all(samples, {"add-2": store.get_problems(["add-2"])[0]}, ARITHMETIC)
    store.add_verdicts(RUN, 1, judged)
    passing = [j.sample for j in judged if j.verdict.passed]
    store.add_training_set(RUN, 1, TrainingSet("rft", tuple(
        TrainingExample("2+3=?", s.completion, "add-2", sample_key=s.key) for s in passing)))  # fmt: skip
    store.add_checkpoint(RUN, Checkpoint(id="r1", path="/m/r1", sha256="1" * 64, round_index=1))
    return judged


def test_rejudge_adds_a_version_and_counts_flips_and_stale_checkpoints(store_with_run: Store):
    store = store_with_run
    own = _round(store)
    strict = get_verifier("arithmetic", answer_format="boxed", strict=True)
    assert rejudge(store, RUN, strict, batch=3) == [{"round": 1, "n_added": 4, "own": False}]
    assert rejudge(store, RUN, strict) == [{"round": 1, "n_added": 0, "own": False}]  # nothing left
    lenient = get_verifier("arithmetic")
    assert lenient.version == JUDGE_VERSION
    assert rejudge(store, RUN, lenient) == [{"round": 1, "n_added": 0, "own": True}]  # the round's own

    assert store.own_versions(RUN, 1) == [("arithmetic", JUDGE_VERSION)]
    assert store.verdict_flips(RUN, "arithmetic", strict.version) == [
        VerdictFlips(round=1, n_compared=4, pass_to_fail=1, fail_to_pass=1)]  # fmt: skip
    assert store.stale_checkpoints(RUN, "arithmetic", strict.version) == [
        StaleCheckpoint(round=1, checkpoint_id="r1", n_train=2, n_no_longer_pass=1)]  # fmt: skip

    # reads: the round's own verdicts by default, the new ones when asked
    assert [j.verdict for j in store.get_judged(RUN, 1)] == [j.verdict for j in own]
    assert {j.verdict.judge_version for j in store.get_judged(RUN, 1, judge_version=strict.version)} == {strict.version}
    assert store.round_table(RUN)[0].pass_rate == 0.5
    assert store.round_table(RUN, judge_version=strict.version)[0].pass_rate == 0.5
    rows = store.query_samples(run_id=RUN, limit=None)
    assert len(rows) == 4 and {r.judge_version for r in rows} == {JUDGE_VERSION}
    strict_rows = store.query_samples(run_id=RUN, judge_version=strict.version, outcome="pass", limit=None)
    assert sorted(r.completion for r in strict_rows) == sorted([COMPLETIONS[1], COMPLETIONS[2]])
    (history,) = store.problem_history("add-2", judge_version=strict.version)
    assert [(r.n_judged, r.n_pass) for r in history.rounds] == [(4, 2)]
    (own_history,) = store.problem_history("add-2")
    assert [(r.n_judged, r.n_pass) for r in own_history.rounds] == [(4, 2)]  # mixed: 1 pass
    # the report's reads: mixing both versions would count 8 scores and 1 pass of 4
    for version in (None, strict.version):
        assert store.problem_pass_rates(RUN, judge_version=version) == [
            ProblemPassRate(round=1, problem_id="add-2", n_judged=4, n_pass=2)]  # fmt: skip
        (hist,) = store.score_histogram(RUN, source="generate", judge_version=version)
        assert sum(hist.counts) == 4 and hist.counts[-1] == 2


def test_a_round_not_judged_yet_is_left_to_its_judge_stage(store_with_run: Store):
    store = store_with_run
    store.add_samples(RUN, 2, [make_sample("add-2", 0, completion="5")])
    strict = get_verifier("arithmetic", answer_format="boxed", strict=True)
    assert rejudge(store, RUN, strict, rounds=[2]) == [{"round": 2, "n_added": 0, "own": False, "skipped": "not judged yet"}]
    assert store.query_samples(run_id=RUN, round_index=2, judge_version=strict.version, outcome="fail") == []
