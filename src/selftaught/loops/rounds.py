"""One round, in memory: generate -> judge -> (rationalize) -> curate -> train -> evaluate.

``run_round`` is the whole algorithm with no store and no orchestration; the Prefect
flow calls the same stage functions one task each and records what each returns.
Measurements (``benchmarks/demo_curve.py``) and tests call it directly.

Seeds: each stage gets its own seed derived from ``(seed, round, stage)``; the
held-out evaluation uses the same seed every round so rounds are compared on the
same sampling noise.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from selftaught.loops.curate import curate_rft, curate_star, unsolved_problems
from selftaught.loops.defaults import DemoConfig
from selftaught.loops.evaluate import evaluate
from selftaught.loops.generate import generate
from selftaught.loops.methods import Method
from selftaught.loops.policy import load_policy
from selftaught.loops.prompting import RAW, PromptStyle, tokenizer_of
from selftaught.loops.train import train_sft
from selftaught.loops.verify import JudgeFn, judge_all, judge_arithmetic
from selftaught.records import (
    Checkpoint,
    Evaluation,
    Judged,
    Problem,
    SampleSource,
    SamplingParams,
    TrainingSet,
)


def stage_seed(seed: int, round_index: int, stage: str) -> int:
    """A 31-bit seed for one stage of one round."""
    h = hashlib.sha256(f"{seed}:{round_index}:{stage}".encode()).digest()
    return int.from_bytes(h[:4], "big") >> 1


def problems_for_round(pool: Sequence[Problem], round_index: int, n: int) -> list[Problem]:
    """Round ``r`` (1-based) takes the r-th block of ``n`` problems, wrapping around the pool."""
    if not pool:
        return []
    start = ((round_index - 1) * n) % len(pool)
    return [pool[(start + i) % len(pool)] for i in range(min(n, len(pool)))]


@dataclass(frozen=True)
class RoundResult:
    """Everything one round produced."""

    round_index: int
    checkpoint: Checkpoint
    training_set: TrainingSet
    evaluation: Evaluation
    judged: tuple[Judged, ...]
    rationalized: tuple[Judged, ...]
    seconds: Mapping[str, float]


def rationalize(
    policy,
    judged: Sequence[Judged],
    problems_by_id: Mapping[str, Problem],
    *,
    k: int,
    params: SamplingParams,
    seed: int,
    checkpoint_id: str | None,
    judge_fn: JudgeFn = judge_arithmetic,
    batch_size: int = 64,
    style: PromptStyle = RAW,
) -> list[Judged]:
    """STaR: re-prompt the unsolved problems with the answer as a hint; judge the results.

    The hint goes where ``style`` puts it: before a trailing ``A:`` (raw), or into the user
    turn (chat) -- never after the assistant marker."""
    todo = unsolved_problems(judged, problems_by_id)
    samples = generate(
        policy, todo, k=k, params=params, seed=seed, source=SampleSource.RATIONALIZE,
        checkpoint_id=checkpoint_id, prompts=style.render_all(todo, tokenizer_of(policy), hint=True),
        batch_size=batch_size,
    )
    return judge_all(samples, problems_by_id, judge_fn)


def _curate(method: Method, judged, rationalized, by_id, max_per_problem: int) -> TrainingSet:
    return CURATORS[method](judged, rationalized, by_id, max_per_problem)


#: method -> curate(judged, rationalized, problems_by_id, max_per_problem, style=RAW)
CURATORS: dict[Method, Callable[..., TrainingSet]] = {
    Method.RFT: lambda judged, _rat, by_id, m, style=RAW: curate_rft(judged, by_id, max_per_problem=m),
    Method.STAR: lambda judged, rat, by_id, m, style=RAW: curate_star(judged, rat, by_id, max_per_problem=m,
                                                                      style=style),
}  # fmt: skip


def run_round(
    parent: Checkpoint,
    train_problems: Sequence[Problem],
    heldout_problems: Sequence[Problem],
    *,
    round_index: int,
    out_dir: str | Path,
    cfg: DemoConfig,
    method: Method | None = None,
    judge_fn: JudgeFn = judge_arithmetic,
    threads: int = 0,
    checkpoint_id: str | None = None,
) -> RoundResult:
    """One round from ``parent``; the new checkpoint goes to ``out_dir``."""
    method = Method(method or cfg.method)
    checkpoint_id = checkpoint_id or f"{method.value}-r{round_index}"
    by_id = {p.id: p for p in train_problems}
    t: dict[str, float] = {}

    g, placement = cfg.generate, cfg.placement()
    clock = time.perf_counter()
    policy = load_policy(parent.path, threads=threads, placement=placement)
    samples = generate(
        policy, train_problems, k=g.k, params=g.sampling, checkpoint_id=parent.id,
        seed=stage_seed(cfg.seed, round_index, "generate"), batch_size=g.batch_size,
    )
    t["generate"] = time.perf_counter() - clock

    clock = time.perf_counter()
    judged = judge_all(samples, by_id, judge_fn)
    t["judge"] = time.perf_counter() - clock

    clock = time.perf_counter()
    rationalized: list[Judged] = []
    if method is Method.STAR:
        rationalized = rationalize(
            policy, judged, by_id, k=g.k, params=g.sampling, checkpoint_id=parent.id,
            seed=stage_seed(cfg.seed, round_index, "rationalize"), judge_fn=judge_fn,
            batch_size=g.batch_size,
        )
    t["rationalize"] = time.perf_counter() - clock

    clock = time.perf_counter()
    ts = _curate(method, judged, rationalized, by_id, cfg.train.max_per_problem)
    t["curate"] = time.perf_counter() - clock

    clock = time.perf_counter()
    sft = cfg.sft_settings(seed=stage_seed(cfg.seed, round_index, "train"))
    checkpoint = train_sft(
        parent.path, ts, str(out_dir), cfg=sft, checkpoint_id=checkpoint_id,
        parent_id=parent.id, round_index=round_index, threads=threads,
    )
    t["train"] = time.perf_counter() - clock

    clock = time.perf_counter()
    evaluation, _, _ = evaluate(
        load_policy(checkpoint.path, threads=threads, placement=placement), heldout_problems, k=cfg.evaluate.k,
        seed=stage_seed(cfg.seed, 0, "evaluate"), checkpoint_id=checkpoint.id,
        temperature=cfg.evaluate.temperature, judge_fn=judge_fn,
        max_new_tokens=cfg.evaluate.max_new_tokens or g.max_new_tokens, batch_size=g.batch_size,
    )
    t["evaluate"] = time.perf_counter() - clock

    return RoundResult(
        round_index=round_index,
        checkpoint=checkpoint,
        training_set=ts,
        evaluation=evaluation,
        judged=tuple(judged),
        rationalized=tuple(rationalized),
        seconds=t,
    )
