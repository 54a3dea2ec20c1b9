"""The Prefect flows: a run is a cold start (round 0) plus N rounds; a round is its stages.

This is the only layer that joins the algorithms (``selftaught.loops``) to the store.
Each stage is one Prefect task wrapping one loops function, and follows one rule:

    read its inputs from the store -> compute -> write its outputs to the store in one
    idempotent bulk write -> mark the stage done.

So the store is always the truth. A stage marked done is skipped on a re-run; a stage
that was interrupted (``kill -9`` mid-way) simply runs again, and because every write is
an upsert on a natural key (``ON CONFLICT DO NOTHING``) and every seed is derived from
(run seed, round, stage), a re-run cannot duplicate rows. Checkpoints are renamed into
place with a manifest only when complete; a train stage that finds a valid checkpoint
at its path registers it instead of training again. The temporary folders a killed
attempt left in the run's folder are removed when the run starts again (``start_run``).
Ctrl-C or SIGTERM unwinds like any failure: the running stage is recorded failed, the run
``failed``, and ``--resume`` re-runs the stage (``cli/interrupts.py``).

Prefect sees plain parameters (run id, recipe as a dict, database URL, home folder) so
runs can be resumed, scheduled or inspected in its UI; the open store and the progress
reporter are process-local.

Round 0 (cold start): build the tiny policy and SFT it on worked solutions (or register
the recipe's checkpoint; a CAI run registers its chat model), then evaluate. Round r >= 1
runs the recipe's method for that round (``recipe.method_for_round``; an R1 pipeline lists
one per round in ``stages``), and its stages depend on the method's family: the one table
``loops/methods.PLANS`` says which step fills each stage slot, and ``STEPS`` below maps each
step to its Prefect task (``flows/stages.py``, ``flows/cai_stages.py``):

    sft (rft, star, distill):  generate -> judge -> rationalize (STaR only) -> curate
                               -> train (TRL SFT) -> evaluate
    preference (dpo):          generate -> judge -> curate (verified pairs) -> train (TRL DPO)
                               -> evaluate
    online_rl (grpo, rloo):    train (the TRL trainer samples and scores its own rollouts;
                               every rollout is stored as a ROLLOUT sample with its verdict
                               and step) -> evaluate
    sl-cai:                    generate (answers) -> rationalize (constitution critique ->
                               revision, per pass) -> curate (revisions) -> train (SFT)
                               -> evaluate (violation rate)
    rl-cai:                    generate (two answers) -> judge (AI feedback: the constitution
                               prefers one) -> curate (kept pairs) -> train (DPO) -> evaluate

A stage a family does not run is recorded as done with the reason, so resume logic is the
same for every round: a round is finished when all its stages are done, and round r always
starts from round r-1's checkpoint. A distill round's generate stage asks the teacher. A CAI
round reads its constitution file as it starts and is tied to that version's hash.
With ``curriculum:`` the round's problems are filtered by their latest pass rate in the
store (rounds before this one only, so a re-run sees the same set).

With ``keep_checkpoints: N`` the run prunes after every finished round, and once more at
the end (a resume that finds every round done): the weights of its round checkpoints older
than the newest N are deleted (``flows/prune.py``). Before a round runs, ``round_flow``
checks that its unfinished stages need no pruned checkpoint, and that the checkpoints they
need still verify (``flows/integrity.py``; ``--retrain-from N`` rebuilds from the last good
one), so either case is one clear ``CheckpointError``, not a model-loading traceback.

One process works on a run at a time: ``run_flow`` holds the run's lease in the store
(``flows/lease.py``) from before its first write to the end, whoever calls it (``selftaught
run``, a scheduled firing); another process resuming the same run is refused.

``run_rounds`` and ``play_round`` are the same run and round as plain functions that call
the stage bodies without Prefect (tests, and callers without a Prefect server);
``run_flow``/``round_flow`` are them as Prefect flows, with one task per stage.

Modules: ``context`` (RunContext, run_stage), ``stages`` and ``cai_stages`` (the stage tasks), ``prune``
(``keep_checkpoints``), ``lease`` (the run's owner), ``integrity`` (verified checkpoints,
``--retrain-from``), this one (the round and run flows, which stages a round runs, the
Prefect artifact).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prefect import flow

from selftaught.errors import ConfigError
from selftaught.flows.cai_stages import (
    answer_stage,
    curate_revisions_stage,
    evaluate_violations_stage,
    feedback_stage,
    record_constitution,
    revise_stage,
)
from selftaught.flows.context import RunContext, run_stage, start_run
from selftaught.flows.integrity import require_verified
from selftaught.flows.prune import prune_run, require_unpruned
from selftaught.flows.stages import (
    cold_start_stage,
    curate_pairs_stage,
    curate_stage,
    evaluate_stage,
    generate_stage,
    judge_stage,
    rationalize_stage,
    register_chat_stage,
    rl_train_stage,
    train_dpo_stage,
    train_stage,
)
from selftaught.flows.tracking import check_installed, log_round
from selftaught.loops.methods import Skip, Step
from selftaught.recipe import Recipe, recipe_from_dict
from selftaught.records import Stage
from selftaught.store import RunStatus, Store

# --------------------------------------------------------------------------- flows


def _context(run_id: str, recipe: dict, db_url: str, home: str, threads: int) -> RunContext:
    return RunContext(run_id=run_id, recipe=recipe_from_dict(recipe), db_url=db_url, home=Path(home), threads=threads)


#: every step of ``loops/methods.PLANS`` -> the task that runs it, called as (ctx, index)
STEPS: dict[Step, Any] = {
    Step.COLD_START: cold_start_stage,
    Step.REGISTER_CHAT: register_chat_stage,
    Step.SAMPLE: generate_stage,
    Step.VERIFY: judge_stage,
    Step.RATIONALIZE: rationalize_stage,
    Step.CURATE_SFT: curate_stage,
    Step.CURATE_PAIRS: curate_pairs_stage,
    Step.TRAIN_SFT: train_stage,
    Step.TRAIN_DPO: train_dpo_stage,
    Step.TRAIN_RL: rl_train_stage,
    Step.EVALUATE: evaluate_stage,
    Step.ANSWER: answer_stage,
    Step.REVISE: revise_stage,
    Step.FEEDBACK: feedback_stage,
    Step.CURATE_REVISIONS: curate_revisions_stage,
    Step.EVALUATE_VIOLATIONS: evaluate_violations_stage,
}
_ROUND_ZERO = {cold_start_stage, register_chat_stage}  # round 0's own tasks take (ctx) only


def play_round(run_id: str, index: int, recipe: dict, db_url: str, home: str, threads: int = 0,
               *, tasks: bool = False) -> None:  # fmt: skip
    """One round: every stage not yet done, in the order of ``Stage``, each filled by the
    step its family's plan names (a ``Skip`` is recorded done with its reason). With
    ``tasks`` each step runs as its Prefect task (inside ``round_flow``), else as a plain call."""
    ctx = _context(run_id, recipe, db_url, home, threads)
    ctx.store.ensure_round(run_id, index)
    require_unpruned(ctx, index)
    require_verified(ctx, index)
    if index > 0 and ctx.recipe.is_cai():
        record_constitution(ctx, index)  # the file as this round starts; the round is tied to it
    method = ctx.method(max(index, 1)).value
    for stage, step in ctx.plan(index).items():
        if isinstance(step, Skip):
            reason = step.reason.format(method=method)
            run_stage(ctx, index, stage, lambda advance, reason=reason: {"skipped": reason}, total=None)
            continue
        task = STEPS[step] if tasks else STEPS[step].fn
        args = (ctx,) if STEPS[step] in _ROUND_ZERO else (ctx, index)
        task(*args)
    if tasks:
        publish_round_table(ctx, index)


@flow(name="selftaught-round", log_prints=False)
def round_flow(run_id: str, index: int, recipe: dict, db_url: str, home: str, threads: int = 0) -> None:
    """One round: every stage not yet done, in order (``play_round`` with Prefect tasks)."""
    play_round(run_id, index, recipe, db_url, home, threads, tasks=True)


def publish_round_table(ctx: RunContext, index: int) -> None:
    """The run's round table as a Prefect markdown artifact, so the Prefect UI shows progress.

    One key per run (``selftaught-<run>``): the UI keeps every round's version. Best effort:
    a failure to publish is logged, never fails the round.
    """
    from prefect.artifacts import create_markdown_artifact

    from selftaught.report.markdown import artifact_key, round_table_markdown

    try:
        rows = ctx.store.round_table(ctx.run_id)
        create_markdown_artifact(
            markdown=round_table_markdown(rows, title=f"run {ctx.run_id} after round {index}"),
            key=artifact_key(ctx.run_id),
            description=f"selftaught run {ctx.run_id}: rounds so far",
        )
    except Exception as exc:  # noqa: BLE001 - the UI's copy must never fail a round
        import logging

        logging.getLogger("selftaught").warning("round table artifact not published: %s", exc)


@dataclass(frozen=True)
class RoundTiming:
    index: int
    wall_seconds: float  # the round flow as the caller saw it
    stage_seconds: float  # inside the stage bodies (the work)

    @property
    def orchestration_share(self) -> float:
        return max(0.0, self.wall_seconds - self.stage_seconds) / max(self.wall_seconds, 1e-9)

    def as_dict(self) -> dict:
        return {"index": self.index, "wall_seconds": self.wall_seconds, "stage_seconds": self.stage_seconds,
                "orchestration_share": self.orchestration_share}


@flow(name="selftaught-run", log_prints=False)
def run_flow(run_id: str, recipe: dict, db_url: str, home: str, threads: int = 0) -> list[dict]:
    """Cold start (round 0) then ``recipe.rounds`` rounds; resumes from what the store holds."""
    return run_rounds(run_id, recipe, db_url, home, threads, round_fn=round_flow)


def run_rounds(
    run_id: str, recipe: dict, db_url: str, home: str, threads: int = 0,
    *, round_fn: Callable[..., Any] = play_round,
) -> list[dict]:  # fmt: skip
    """``run_flow``'s body: each round through ``round_fn`` (default: ``play_round``, no Prefect)."""
    ctx = _context(run_id, recipe, db_url, home, threads)
    teacher = ctx.recipe.teacher
    if teacher is not None and teacher.path is not None and not (Path(teacher.path) / "config.json").is_file():
        raise ConfigError(f"teacher.path: not a saved model (no config.json): {teacher.path}")
    check_installed(ctx.recipe, run_id)  # a log: backend this machine lacks: one line, before any work
    with start_run(ctx, name=ctx.recipe.name, recipe=recipe, problems=ctx.train_pool + ctx.heldout):
        return _run_rounds(ctx, recipe, db_url, home, threads, round_fn)


def _run_rounds(ctx: RunContext, recipe: dict, db_url: str, home: str, threads: int,
                round_fn: Callable[..., Any]) -> list[dict]:  # fmt: skip
    """The rounds the store does not hold as done, in order; then the run's status."""
    run_id, store = ctx.run_id, ctx.store
    timings: list[dict] = []
    try:
        for index in range(0, ctx.recipe.rounds + 1):
            if _round_done(store, run_id, index):
                continue
            clock = time.perf_counter()
            round_fn(run_id, index, recipe, db_url, home, threads)
            wall = time.perf_counter() - clock
            store.record_round_wall(run_id, index, wall)  # `selftaught rounds RUN` shows the same share
            stages = [s for s in store.round_table(run_id) if s.index == index]
            work = sum(stages[0].seconds.values()) if stages else 0.0
            timings.append(RoundTiming(index, wall, work).as_dict())
            log_round(ctx, index)  # the round's metrics to the recipe's log: backends, if any
            if ctx.recipe.keep_checkpoints is not None:
                prune_run(ctx, ctx.recipe.keep_checkpoints)
        if ctx.recipe.keep_checkpoints is not None:  # a resume after a crash between round and prune
            prune_run(ctx, ctx.recipe.keep_checkpoints)
    except BaseException:
        store.set_run_status(run_id, RunStatus.FAILED)
        raise
    store.set_run_status(run_id, RunStatus.DONE)
    return timings


def _round_done(store: Store, run_id: str, index: int) -> bool:
    status = store.stage_status(run_id, index)
    return all(status.get(s) == "done" for s in Stage)


def new_run_id(recipe: Recipe) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", recipe.name.lower()).strip("-") or "run"
    return f"{slug}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid() % 10000:04d}"
