"""Every rollout the RL trainer scores becomes a ROLLOUT sample with its step and verdict."""

from __future__ import annotations

from types import SimpleNamespace

from selftaught.loops.rl import (
    RolloutRecorder,
    load_rollouts,
    reward_verifier,
    rollouts_to_jsonl,
    ROLLOUTS_FILE,
)
from selftaught.judges import as_reward_function, get_verifier
from selftaught.records import Outcome, SampleSource, SamplingParams


def _call_like_trl(reward, ids, completions, step):
    """How GRPOTrainer calls a reward function (STACK-NOTES)."""
    return reward(
        prompts=["Q"] * len(ids), completions=completions, completion_ids=[[1] * (len(c) + 1) for c in completions],
        problem_id=ids, trainer_state=SimpleNamespace(global_step=step),
        log_extra=lambda *a: None, log_metric=lambda *a: None,
    )  # fmt: skip


def test_rollouts_carry_step_index_tokens_and_verdict(two_problems, tmp_path):
    a, b = two_problems
    by_id = {a.id: a, b.id: b}
    rec = RolloutRecorder(by_id, checkpoint_id="run/r0", seed=7, params=SamplingParams(max_new_tokens=40))
    verifier = reward_verifier({"arithmetic": 1.0, "format": 0.2}, get_verifier("arithmetic"))
    reward = rec.wrap(as_reward_function(verifier, by_id, on_verdict=rec.on_verdict))
    scores = _call_like_trl(reward, [a.id, a.id], [a.solution, " 12"], step=0)
    _call_like_trl(reward, [a.id, b.id], [" <think>x</think> 1", b.solution], step=1)
    assert scores[0] == 1.0 and scores[1] == 0.0
    rs = rec.rollouts
    assert [(j.sample.problem_id, j.sample.index, j.sample.step) for j in rs] == [
        (a.id, 0, 0), (a.id, 1, 0), (a.id, 2, 1), (b.id, 0, 1)
    ]
    assert all(j.sample.source is SampleSource.ROLLOUT and j.sample.checkpoint_id == "run/r0" for j in rs)
    assert rs[0].sample.prompt == a.prompt and rs[0].sample.n_tokens == len(a.solution) + 1
    assert [j.verdict.outcome for j in rs] == [Outcome.PASS, Outcome.FAIL, Outcome.FAIL, Outcome.PASS]
    assert rs[0].verdict.judge == "1*arithmetic+0.2*format"
    # what the checkpoint carries reads back equal
    (tmp_path / ROLLOUTS_FILE).write_text(rollouts_to_jsonl(rs))
    assert load_rollouts(tmp_path) == rs
    assert load_rollouts(tmp_path / "elsewhere") == []


def test_a_single_reward_is_the_judge_itself():
    v = reward_verifier({"arithmetic": 1.0}, get_verifier("arithmetic"))
    assert v.name == "arithmetic"
