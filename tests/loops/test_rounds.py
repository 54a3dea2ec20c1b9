"""One in-memory round end to end on the micro model, and the round helpers."""

from __future__ import annotations

from selftaught.loops.arithmetic import make_problems
from selftaught.loops.checkpoint import verify_checkpoint
from selftaught.loops.defaults import DemoConfig, EvaluateSpec, GenerateSpec
from selftaught.loops.methods import Method
from selftaught.loops.rounds import problems_for_round, run_round, stage_seed
from selftaught.loops.train import SFTSettings
from selftaught.records import Checkpoint, SampleSource, Split


def test_problems_for_round_rotates_through_the_pool():
    pool = list(range(10))
    assert problems_for_round(pool, 1, 4) == [0, 1, 2, 3]
    assert problems_for_round(pool, 3, 4) == [8, 9, 0, 1]
    assert problems_for_round(pool, 1, 20) == pool


def test_stage_seeds_differ_by_round_and_stage():
    seeds = {stage_seed(0, r, s) for r in range(3) for s in ("generate", "rationalize", "train")}
    assert len(seeds) == 9 and stage_seed(0, 1, "train") == stage_seed(0, 1, "train")


def test_star_round_end_to_end(micro_policy_path, tmp_path):
    cfg = DemoConfig(
        generate=GenerateSpec(k=2, max_new_tokens=12),
        evaluate=EvaluateSpec(k=2),
        train=SFTSettings(steps=2, batch_size=4, max_length=48, warmup=0),
    )
    sha = verify_checkpoint(micro_policy_path)["sha256"]
    parent = Checkpoint(id="init", path=micro_policy_path, sha256=sha)
    train = make_problems(6, Split.TRAIN, seed=0)
    heldout = make_problems(4, Split.HELDOUT, seed=0)
    res = run_round(parent, train, heldout, round_index=1, out_dir=tmp_path / "r1", cfg=cfg,
                    method=Method.STAR, threads=1)
    assert res.checkpoint.parent_id == "init" and res.checkpoint.round_index == 1
    assert verify_checkpoint(res.checkpoint.path)["sha256"] == res.checkpoint.sha256
    assert len(res.judged) == 12
    # an untrained policy solves nothing, so every problem is re-prompted with a hint
    unsolved = {j.sample.problem_id for j in res.judged} - {j.sample.problem_id for j in res.judged if j.verdict.passed}
    assert {j.sample.problem_id for j in res.rationalized} == unsolved
    assert all(j.sample.source is SampleSource.RATIONALIZE for j in res.rationalized)
    assert res.training_set.method == "star"
    assert res.evaluation.n_problems == 4 and res.evaluation.checkpoint_id == res.checkpoint.id
    assert set(res.seconds) == {"generate", "judge", "rationalize", "curate", "train", "evaluate"}
