"""``generate.backend: vllm`` in the stages: the generate, rationalize and evaluate stages sample
through the vLLM seam (a fake engine here, ``tests/vllm_fake.py``), store what it wrote, and
release the engine when the stage ends -- also when the stage fails. The stage functions run
directly (``task.fn``), on a store and a micro checkpoint; no Prefect server, no training."""

from __future__ import annotations

from pathlib import Path

import pytest

from selftaught.flows.context import RunContext
from selftaught.recipe import recipe_from_dict
from selftaught.records import Checkpoint, SampleSource, Stage
from tests.vllm_fake import install_fake_vllm


@pytest.fixture(scope="module")
def micro_checkpoint(tmp_path_factory) -> str:
    from selftaught.loops.tinymodel import init_policy

    return init_policy(Path(tmp_path_factory.mktemp("micro")) / "init", seed=0, size="micro")


def _context(tmp_path: Path, checkpoint: str, **generate) -> RunContext:
    """Run ``v`` with round 0's checkpoint registered, as after a cold start."""
    recipe = recipe_from_dict({
        "name": "v", "method": "star", "rounds": 1,
        "task": {"n_train": 8, "prompts_per_round": 4, "n_heldout": 3},
        "generate": {"k": 2, "max_new_tokens": 8, "batch_size": 4, **generate}, "evaluate": {"k": 2},
    })  # fmt: skip
    ctx = RunContext(run_id="v", recipe=recipe, db_url=f"sqlite:///{tmp_path / 'store.db'}", home=tmp_path / "home")
    store = ctx.store
    store.create_run("v", name="v", recipe=recipe.model_dump(mode="json"))
    store.add_problems(ctx.train_pool + ctx.heldout)
    for index in (0, 1):
        store.ensure_round("v", index)
    store.add_checkpoint("v", Checkpoint(id=ctx.checkpoint_id(0), path=checkpoint, sha256="s", round_index=0))
    return ctx


def test_generate_samples_through_the_engine_stores_them_and_releases_it(tmp_path, micro_checkpoint, monkeypatch):
    from selftaught.flows.stages import generate_stage

    fake = install_fake_vllm(monkeypatch)
    ctx = _context(tmp_path, micro_checkpoint, backend="vllm", gpu_memory_utilization=0.4)
    generate_stage.fn(ctx, 1)
    (engine,) = fake.engines
    assert engine.built_with["gpu_memory_utilization"] == 0.4 and engine.built_with["model"] == micro_checkpoint
    samples = ctx.store.get_samples("v", 1, SampleSource.GENERATE)
    problems = ctx.round_problems(1)
    assert len(samples) == len(problems) * 2
    by_problem = {p.id: i for i, p in enumerate(problems)}
    for s in samples:  # one batch of 4 prompts: prompt i's sample j is the fake's "p{i}s{j}"
        assert s.completion == f"p{by_problem[s.problem_id]}s{s.index}" and s.n_tokens == s.index + 1
        assert s.checkpoint_id == "v/r0" and s.params == ctx.recipe.generate.sampling
    assert (engine.shut_down, fake.freed) == (1, 1)  # released before any later stage
    assert ctx.store.stage_status("v", 1)[Stage.GENERATE] == "done"


def test_a_failing_evaluate_stage_still_releases_the_engine(tmp_path, micro_checkpoint, monkeypatch):
    from selftaught.flows.stages import evaluate_stage

    fake = install_fake_vllm(monkeypatch)
    fake.fail = True
    ctx = _context(tmp_path, micro_checkpoint, backend="vllm")
    with pytest.raises(RuntimeError, match="out of memory"):
        evaluate_stage.fn(ctx, 0)
    (engine,) = fake.engines
    assert len(engine.calls) == 1 and (engine.shut_down, fake.freed) == (1, 1)
    assert ctx.store.stage_status("v", 0)[Stage.EVALUATE] == "failed"


def test_evaluate_and_rationalize_sample_through_the_engine(tmp_path, micro_checkpoint, monkeypatch):
    from selftaught.flows.stages import evaluate_stage, generate_stage, judge_stage, rationalize_stage

    fake = install_fake_vllm(monkeypatch)
    ctx = _context(tmp_path, micro_checkpoint, backend="vllm")
    evaluate_stage.fn(ctx, 0)
    (ev,) = [e for i, e in ctx.store.get_evaluations("v") if i == 0]
    assert ev.n_problems == 3 and ev.greedy_accuracy == 0.0  # the fake never answers right
    # greedy (n=1) and sampled (n=k) requests, one per held-out prompt
    assert sorted({r.n for _, reqs in fake.engines[0].calls for r in reqs}) == [1, 2]
    generate_stage.fn(ctx, 1)
    judge_stage.fn(ctx, 1)
    rationalize_stage.fn(ctx, 1)  # STaR: every problem failed, so each is asked again with the hint
    hinted = fake.engines[2].calls[0][0]
    assert len(hinted) == 4 and all(p["prompt_token_ids"] for p in hinted)
    assert [e.shut_down for e in fake.engines] == [1, 1, 1] and fake.freed == 3


def test_the_hf_backend_never_touches_the_seam(tmp_path, micro_checkpoint, monkeypatch):
    from selftaught.flows.stages import generate_stage

    fake = install_fake_vllm(monkeypatch)
    ctx = _context(tmp_path, micro_checkpoint)  # backend: hf (the default)
    generate_stage.fn(ctx, 1)
    assert fake.engines == [] and len(ctx.store.get_samples("v", 1, SampleSource.GENERATE)) == 8
