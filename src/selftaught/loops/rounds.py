"""One round, in memory: generate -> judge -> (rationalize) -> curate -> train -> evaluate.

``run_round`` is the whole algorithm with no store and no orchestration: it runs the steps
the method's plan names (``loops/methods.PLANS``, the table the Prefect flow dispatches
through too), each an in-memory function of ``IN_MEMORY``; the flow calls the same loops
functions one task each and records what each returns.
Measurements (``benchmarks/demo_curve.py``) and tests call it directly.

Seeds: each stage gets its own seed derived from ``(seed, round, stage)``; the
held-out evaluation uses the same seed every round so rounds are compared on the
same sampling noise.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from selftaught.judges.base import Verifier
from selftaught.loops.curate import curate_rft, curate_star, unsolved_problems
from selftaught.loops.defaults import DemoConfig
from selftaught.loops.evaluate import evaluate
from selftaught.loops.methods import FAMILY, PLANS, Method, Skip, Step
from selftaught.loops.generate import generate
from selftaught.loops.policy import load_policy
from selftaught.loops.prompting import RAW, PromptStyle, tokenizer_of
from selftaught.loops.train import train_sft
from selftaught.loops.verify import ARITHMETIC, judge_all
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
    judge: Verifier = ARITHMETIC,
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
    return judge_all(samples, problems_by_id, judge)


def _curate(method: Method, judged, rationalized, by_id, max_per_problem: int) -> TrainingSet:
    return CURATORS[method](judged, rationalized, by_id, max_per_problem)


#: method -> curate(judged, rationalized, problems_by_id, max_per_problem, style=RAW)
CURATORS: dict[Method, Callable[..., TrainingSet]] = {
    Method.RFT: lambda judged, _rat, by_id, m, style=RAW: curate_rft(judged, by_id, max_per_problem=m),
    Method.STAR: lambda judged, rat, by_id, m, style=RAW: curate_star(judged, rat, by_id, max_per_problem=m,
                                                                      style=style),
}  # fmt: skip


@dataclass
class _InMemoryRound:
    """What the in-memory steps of one round share (filled in step by step)."""

    parent: Checkpoint
    by_id: Mapping[str, Problem]
    train_problems: Sequence[Problem]
    heldout_problems: Sequence[Problem]
    round_index: int
    out_dir: str | Path
    cfg: DemoConfig
    method: Method
    judge: Verifier
    threads: int
    checkpoint_id: str
    policy: object = None
    samples: list = field(default_factory=list)
    judged: list[Judged] = field(default_factory=list)
    rationalized: list[Judged] = field(default_factory=list)
    training_set: TrainingSet | None = None
    checkpoint: Checkpoint | None = None
    evaluation: Evaluation | None = None

    def seed(self, stage: str) -> int:
        return stage_seed(self.cfg.seed, self.round_index, stage)


def _sample(r: _InMemoryRound) -> None:
    cfg = r.cfg
    r.policy = load_policy(r.parent.path, threads=r.threads, placement=cfg.placement())
    r.samples = generate(
        r.policy, r.train_problems, k=cfg.generate.k, params=cfg.generate.sampling, checkpoint_id=r.parent.id,
        seed=r.seed("generate"), batch_size=cfg.generate.batch_size,
    )


def _verify(r: _InMemoryRound) -> None:
    r.judged = judge_all(r.samples, r.by_id, r.judge)


def _rationalize(r: _InMemoryRound) -> None:
    if r.method is Method.STAR:
        r.rationalized = rationalize(
            r.policy, r.judged, r.by_id, k=r.cfg.generate.k, params=r.cfg.generate.sampling, checkpoint_id=r.parent.id,
            seed=r.seed("rationalize"), judge=r.judge, batch_size=r.cfg.generate.batch_size,
        )


def _curate_sft(r: _InMemoryRound) -> None:
    r.training_set = _curate(r.method, r.judged, r.rationalized, r.by_id, r.cfg.train.max_per_problem)


def _train_sft(r: _InMemoryRound) -> None:
    sft = r.cfg.sft_settings(seed=r.seed("train"))
    r.checkpoint = train_sft(
        r.parent.path, r.training_set, str(r.out_dir), cfg=sft, checkpoint_id=r.checkpoint_id,
        parent_id=r.parent.id, round_index=r.round_index, threads=r.threads,
    )


def _evaluate(r: _InMemoryRound) -> None:
    cfg, ckpt = r.cfg, r.checkpoint
    r.evaluation, _, _ = evaluate(
        load_policy(ckpt.path, threads=r.threads, placement=cfg.placement()), r.heldout_problems, k=cfg.evaluate.k,
        seed=stage_seed(cfg.seed, 0, "evaluate"), checkpoint_id=ckpt.id,
        temperature=cfg.evaluate.temperature, judge=r.judge,
        max_new_tokens=cfg.evaluate.max_new_tokens or cfg.generate.max_new_tokens, batch_size=cfg.generate.batch_size,
    )


#: the steps of ``loops/methods.PLANS`` this module runs in memory (the sft family's)
IN_MEMORY: dict[Step, Callable[[_InMemoryRound], None]] = {
    Step.SAMPLE: _sample, Step.VERIFY: _verify, Step.RATIONALIZE: _rationalize,
    Step.CURATE_SFT: _curate_sft, Step.TRAIN_SFT: _train_sft, Step.EVALUATE: _evaluate,
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
    judge: Verifier = ARITHMETIC,
    threads: int = 0,
    checkpoint_id: str | None = None,
) -> RoundResult:
    """One round from ``parent``; the new checkpoint goes to ``out_dir``. The steps are the
    method's plan (``loops/methods.PLANS``, the same table the flow runs); only the sft
    family's (rft, star) run in memory."""
    method = Method(method or cfg.method)
    plan = PLANS[FAMILY[Method(method)]]
    if any(step not in IN_MEMORY for step in plan.values() if not isinstance(step, Skip)):
        raise ValueError(f"run_round runs rft/star rounds in memory; {method} rounds run through the flow")
    r = _InMemoryRound(
        parent=parent, by_id={p.id: p for p in train_problems}, train_problems=train_problems,
        heldout_problems=heldout_problems, round_index=round_index, out_dir=out_dir, cfg=cfg, method=method,
        judge=judge, threads=threads, checkpoint_id=checkpoint_id or f"{method.value}-r{round_index}",
    )  # fmt: skip
    t: dict[str, float] = {}
    for stage, step in plan.items():
        clock = time.perf_counter()
        if not isinstance(step, Skip):
            IN_MEMORY[step](r)
        t[stage.value] = time.perf_counter() - clock

    return RoundResult(
        round_index=round_index,
        checkpoint=r.checkpoint,
        training_set=r.training_set,
        evaluation=r.evaluation,
        judged=tuple(r.judged),
        rationalized=tuple(r.rationalized),
        seconds=t,
    )
