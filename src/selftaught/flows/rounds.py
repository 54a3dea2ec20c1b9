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
at its path registers it instead of training again.

Prefect sees plain parameters (run id, recipe as a dict, database URL, home folder) so
runs can be resumed, scheduled or inspected in its UI; the open store and the progress
reporter are process-local.

Round 0 (cold start): build the tiny policy and SFT it on worked solutions (or register
the recipe's checkpoint), then evaluate. Round r >= 1 runs the recipe's method for that
round (``recipe.method_for_round``; an R1 pipeline lists one per round in ``stages``), and
its stages depend on the method's family (``loops.methods``):

    sft (rft, star, distill):  generate -> judge -> rationalize (STaR only) -> curate
                               -> train (TRL SFT) -> evaluate
    preference (dpo):          generate -> judge -> curate (verified pairs) -> train (TRL DPO)
                               -> evaluate
    online_rl (grpo, rloo):    train (the TRL trainer samples and scores its own rollouts;
                               every rollout is stored as a ROLLOUT sample with its verdict
                               and step) -> evaluate

A stage a family does not run is recorded as done with the reason, so resume logic is the
same for every round: a round is finished when all its stages are done, and round r always
starts from round r-1's checkpoint. A distill round's generate stage asks the teacher.
With ``curriculum:`` the round's problems are filtered by their latest pass rate in the
store (rounds before this one only, so a re-run sees the same set).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from selftaught.errors import CheckpointError, ConfigError
from selftaught.flows.progress import Advance, reporter
from selftaught.loops.methods import Family
from selftaught.recipe import Method, Recipe, recipe_from_dict
from selftaught.records import Checkpoint, Problem, SampleSource, Split, Stage
from selftaught.store import Store

# ---------------------------------------------------------------------------- context

_stores: dict[str, Store] = {}


def open_store(db_url: str) -> Store:
    """One Store per URL per process (schema upgraded on first open)."""
    if db_url not in _stores:
        _stores[db_url] = Store(db_url)
    return _stores[db_url]


class RunLayout:
    """Where a run keeps things: its store, folder and checkpoints (needs run_id, db_url, home)."""

    run_id: str
    db_url: str
    home: Path

    @property
    def store(self) -> Store:
        return open_store(self.db_url)

    def run_dir(self) -> Path:
        return self.home / "runs" / re.sub(r"[^A-Za-z0-9_.-]", "_", self.run_id)

    def checkpoint_dir(self, index: int) -> Path:
        return self.run_dir() / f"round-{index:03d}"

    def checkpoint_id(self, index: int) -> str:
        return f"{self.run_id}/r{index}"

    def checkpoint(self, index: int) -> Checkpoint:
        ckpt = self.store.get_checkpoint(self.checkpoint_id(index))
        if ckpt is None:
            raise CheckpointError(f"run {self.run_id}: round {index} has no checkpoint in the store")
        return ckpt


@dataclass(frozen=True)
class RunContext(RunLayout):
    """What every stage needs to know; rebuilt from plain flow parameters."""

    run_id: str
    recipe: Recipe
    db_url: str
    home: Path
    threads: int = 0


    @cached_property
    def cfg(self):
        return self.recipe.loop_config()


    # -- problems are a pure function of the recipe; the store gets a copy on run start
    @cached_property
    def train_pool(self) -> list[Problem]:
        return _load_problems(self.recipe, Split.TRAIN)

    @cached_property
    def heldout(self) -> list[Problem]:
        return _load_problems(self.recipe, Split.HELDOUT)

    def round_problems(self, index: int) -> list[Problem]:
        from selftaught.loops.rounds import problems_for_round

        split = self.round_curriculum(index)
        if split is not None:
            return list(split.kept)
        return problems_for_round(self.train_pool, index, self.cfg.prompts_per_round)

    def judge_fn(self):
        return judge_for(self.recipe.judge)

    def method(self, index: int) -> Method:
        return self.recipe.method_for_round(index)

    def family(self, index: int):
        return self.recipe.family_for_round(index)

    def round_curriculum(self, index: int):
        """The round's block of problems split by the recipe's pass-rate band (or None)."""
        spec = self.recipe.curriculum
        if spec is None:
            return None
        from selftaught.loops.curriculum import CurriculumBand, band_filter, pass_rate_map
        from selftaught.loops.rounds import problems_for_round

        rows = [
            row
            for source in (SampleSource.GENERATE, SampleSource.ROLLOUT)
            for row in self.store.problem_pass_rates(self.run_id, source=source)
        ]
        band = CurriculumBand(low=spec.low, high=spec.high, keep_unseen=spec.keep_unseen)
        block = problems_for_round(self.train_pool, index, self.cfg.prompts_per_round)
        return band_filter(block, pass_rate_map(rows, before_round=index), band)


def _load_problems(recipe: Recipe, split: Split) -> list[Problem]:
    task = recipe.task
    if task.kind == "arithmetic":
        from selftaught.loops.arithmetic import make_problems

        n = task.n_train if split is Split.TRAIN else task.n_heldout
        return make_problems(n, split, recipe.seed, task.digits)
    from selftaught.loops.arithmetic import load_problems_jsonl

    path = task.train if split is Split.TRAIN else task.heldout
    problems = load_problems_jsonl(path)
    return [replace(p, split=split) for p in problems]


def judge_for(name: str) -> Callable[[Problem, str], Any]:
    """The judge function named in a recipe: ``arithmetic`` or any registered verifier."""
    if name == "arithmetic":
        from selftaught.loops.verify import judge_arithmetic

        return judge_arithmetic
    try:
        from selftaught.judges import get_verifier
    except ImportError:  # pragma: no cover - the judges package is part of selftaught
        raise ConfigError(f"judge: unknown judge {name!r}") from None
    return get_verifier(name).verify


def _seed(ctx: RunContext, index: int, stage: str) -> int:
    from selftaught.loops.rounds import stage_seed

    return stage_seed(ctx.cfg.seed, index, stage)


# ------------------------------------------------------------------------- one stage


def run_stage(ctx: RunContext, index: int, stage: Stage, body: Callable[[Advance], dict], total: int | None):
    """Run ``body`` unless the store says this stage is done; record status and timing."""
    label = f"round {index} {stage.value}"
    store = ctx.store
    if store.stage_status(ctx.run_id, index).get(stage) == "done":
        reporter().skip(label, "already done")
        return
    store.start_stage(ctx.run_id, index, stage)
    clock = time.perf_counter()
    try:
        metrics = body(reporter().start(label, total))
    except BaseException as exc:  # includes KeyboardInterrupt: record it, then re-raise
        store.fail_stage(ctx.run_id, index, stage, error=f"{type(exc).__name__}: {exc}"[:2000])
        raise
    seconds = time.perf_counter() - clock
    store.finish_stage(ctx.run_id, index, stage, seconds=seconds, metrics=metrics)
    reporter().finish(label, seconds, metrics)


# ----------------------------------------------------------------------- the stages


def _policy(path: str, ctx: RunContext):
    from selftaught.loops.policy import load_policy

    return load_policy(path, threads=ctx.threads)


@task(name="generate", cache_policy=NO_CACHE)
def generate_stage(ctx: RunContext, index: int) -> None:
    problems = ctx.round_problems(index)

    def body(advance: Advance) -> dict:
        from selftaught.loops.generate import generate

        parent = ctx.checkpoint(index - 1)
        if ctx.method(index) is Method.DISTILL:
            from selftaught.loops.distill import load_teacher

            teacher = ctx.recipe.teacher_settings()
            policy, producer = load_teacher(teacher, threads=ctx.threads), teacher.name
        else:
            policy, producer = _policy(parent.path, ctx), parent.id
        samples = generate(
            policy, problems, k=ctx.cfg.k, params=ctx.cfg.sampling,
            seed=_seed(ctx, index, "generate"), checkpoint_id=producer,
            batch_size=ctx.cfg.batch_size, progress=advance,
        )
        inserted = ctx.store.add_samples(ctx.run_id, index, samples)
        metrics = {"n_samples": len(samples), "n_inserted": inserted, "n_tokens": sum(s.n_tokens for s in samples)}
        return {**metrics, **_curriculum_metrics(ctx, index)}

    run_stage(ctx, index, Stage.GENERATE, body, total=len(problems))


@task(name="judge", cache_policy=NO_CACHE)
def judge_stage(ctx: RunContext, index: int) -> None:
    def body(advance: Advance) -> dict:
        from selftaught.loops.verify import judge_all

        samples = ctx.store.get_samples(ctx.run_id, index, SampleSource.GENERATE)
        judged = judge_all(samples, {p.id: p for p in ctx.round_problems(index)}, ctx.judge_fn())
        advance(len(samples))
        ctx.store.add_verdicts(ctx.run_id, index, judged)
        n_pass = sum(j.verdict.passed for j in judged)
        return {"n_judged": len(judged), "n_pass": n_pass, "pass_rate": n_pass / max(1, len(judged))}

    run_stage(ctx, index, Stage.JUDGE, body, total=None)


@task(name="rationalize", cache_policy=NO_CACHE)
def rationalize_stage(ctx: RunContext, index: int) -> None:
    def body(advance: Advance) -> dict:
        if ctx.method(index) is not Method.STAR:
            return {"n_samples": 0, "skipped": f"method {ctx.method(index).value} does not rationalize"}
        from selftaught.loops.rounds import rationalize

        parent = ctx.checkpoint(index - 1)
        judged = ctx.store.get_judged(ctx.run_id, index, SampleSource.GENERATE)
        rationalized = rationalize(
            _policy(parent.path, ctx), judged, {p.id: p for p in ctx.round_problems(index)},
            k=ctx.cfg.k, params=ctx.cfg.sampling, seed=_seed(ctx, index, "rationalize"),
            checkpoint_id=parent.id, judge_fn=ctx.judge_fn(), batch_size=ctx.cfg.batch_size,
        )
        ctx.store.add_samples(ctx.run_id, index, [j.sample for j in rationalized])
        ctx.store.add_verdicts(ctx.run_id, index, rationalized)
        advance(len(rationalized))
        return {
            "n_problems": len({j.sample.problem_id for j in rationalized}),
            "n_samples": len(rationalized),
            "n_pass": sum(j.verdict.passed for j in rationalized),
        }

    run_stage(ctx, index, Stage.RATIONALIZE, body, total=None)


@task(name="curate", cache_policy=NO_CACHE)
def curate_stage(ctx: RunContext, index: int) -> None:
    def body(advance: Advance) -> dict:
        from selftaught.loops.rounds import CURATORS

        store = ctx.store
        judged = store.get_judged(ctx.run_id, index, SampleSource.GENERATE)
        rationalized = store.get_judged(ctx.run_id, index, SampleSource.RATIONALIZE)
        by_id = {p.id: p for p in ctx.round_problems(index)}
        method = ctx.method(index)
        if ctx.family(index) is Family.PREFERENCE:
            from selftaught.loops.dpo import build_pairs, pair_stats

            pairs = build_pairs(judged, by_id, max_pairs_per_problem=ctx.recipe.dpo.max_pairs_per_problem)
            advance(len(pairs))
            return pair_stats(judged, pairs)  # the train stage rebuilds them from the same rows
        curator = CURATORS[Method.RFT if method is Method.DISTILL else method]
        ts = curator(judged, rationalized, by_id, ctx.cfg.max_per_problem)
        store.add_training_set(ctx.run_id, index, ts)
        advance(len(ts.examples))
        return dict(ts.stats)

    run_stage(ctx, index, Stage.CURATE, body, total=None)


def _existing_checkpoint(ctx: RunContext, index: int) -> Checkpoint | None:
    """A complete checkpoint left at this round's path by an interrupted attempt."""
    from selftaught.loops.checkpoint import verify_checkpoint

    path = ctx.checkpoint_dir(index)
    if not path.exists():
        return None
    try:
        manifest = verify_checkpoint(path)
    except CheckpointError:
        shutil.rmtree(path)  # never renamed into place complete: cannot be trusted
        return None
    meta = manifest.get("meta", {})
    return Checkpoint(
        id=ctx.checkpoint_id(index), path=str(path), sha256=manifest["sha256"],
        parent_id=meta.get("parent_id"), round_index=index,
        config={k: v for k, v in meta.items() if k not in ("checkpoint_id", "parent_id", "round_index")},
    )


@task(name="train", cache_policy=NO_CACHE)
def train_stage(ctx: RunContext, index: int) -> None:
    def body(advance: Advance) -> dict:
        from selftaught.loops.train import train_sft

        ckpt = _existing_checkpoint(ctx, index)
        if ckpt is None and ctx.family(index) is Family.PREFERENCE:
            ckpt = _train_dpo(ctx, index, advance)
        if ckpt is None:
            ts = ctx.store.get_training_set(ctx.run_id, index)
            if ts is None:
                raise CheckpointError(f"run {ctx.run_id}: round {index} has no curated training set")
            parent = ctx.checkpoint(index - 1)
            ckpt = train_sft(
                parent.path, ts, str(ctx.checkpoint_dir(index)),
                cfg=replace(ctx.cfg.round_sft, seed=_seed(ctx, index, "train")),
                checkpoint_id=ctx.checkpoint_id(index), parent_id=parent.id, round_index=index,
                progress=advance, threads=ctx.threads, lora=ctx.recipe.lora_settings(),
            )
        ctx.store.add_checkpoint(ctx.run_id, ckpt)
        return {"checkpoint": ckpt.id, "train_loss": ckpt.config.get("train_loss"), "n_examples": ckpt.config.get("n_examples")}

    steps = ctx.recipe.dpo.steps if ctx.family(index) is Family.PREFERENCE else ctx.cfg.round_sft.steps
    run_stage(ctx, index, Stage.TRAIN, body, total=steps)


def _train_dpo(ctx: RunContext, index: int, advance: Advance) -> Checkpoint:
    """DPO on the pairs of this round's stored verdicts (a pure function of them)."""
    from selftaught.loops.dpo import build_pairs, train_dpo

    judged = ctx.store.get_judged(ctx.run_id, index, SampleSource.GENERATE)
    by_id = {p.id: p for p in ctx.round_problems(index)}
    pairs = build_pairs(judged, by_id, max_pairs_per_problem=ctx.recipe.dpo.max_pairs_per_problem)
    parent = ctx.checkpoint(index - 1)
    return train_dpo(
        parent.path, pairs, str(ctx.checkpoint_dir(index)),
        cfg=ctx.recipe.dpo_settings(seed=_seed(ctx, index, "train")),
        checkpoint_id=ctx.checkpoint_id(index), parent_id=parent.id, round_index=index,
        progress=advance, threads=ctx.threads,
    )


@task(name="train-rl", cache_policy=NO_CACHE)
def rl_train_stage(ctx: RunContext, index: int) -> None:
    """GRPO/RLOO: the trainer generates, scores and learns; its rollouts go to the store."""
    method = ctx.method(index)
    settings = ctx.recipe.rl_settings(method, seed=_seed(ctx, index, "train"))

    def body(advance: Advance) -> dict:
        from selftaught.loops.rl import load_rollouts, reward_verifier, train_rl

        ckpt = _existing_checkpoint(ctx, index)
        if ckpt is None:
            parent = ctx.checkpoint(index - 1)
            result = train_rl(
                method, parent.path, ctx.round_problems(index), str(ctx.checkpoint_dir(index)),
                cfg=settings,
                verifier=reward_verifier(ctx.recipe.reward, ctx.judge_fn(), judge_name=ctx.recipe.judge),
                checkpoint_id=ctx.checkpoint_id(index), parent_id=parent.id, round_index=index,
                progress=advance, threads=ctx.threads,
            )
            ckpt, rollouts = result.checkpoint, list(result.rollouts)
        else:  # trained before an interruption: the checkpoint carries its rollouts
            rollouts = load_rollouts(ckpt.path)
        store = ctx.store
        store.add_samples(ctx.run_id, index, [j.sample for j in rollouts])
        store.add_verdicts(ctx.run_id, index, rollouts)
        store.add_checkpoint(ctx.run_id, ckpt)
        n_pass = sum(j.verdict.passed for j in rollouts)
        return {
            "checkpoint": ckpt.id, "method": method.value, "train_loss": ckpt.config.get("train_loss"),
            "n_rollouts": len(rollouts), "rollout_pass_rate": n_pass / max(len(rollouts), 1),
            **_curriculum_metrics(ctx, index),
        }

    run_stage(ctx, index, Stage.TRAIN, body, total=settings.steps)


def _curriculum_metrics(ctx: RunContext, index: int) -> dict:
    split = ctx.round_curriculum(index)
    return {} if split is None else {"curriculum": split.stats()}


@task(name="cold-start", cache_policy=NO_CACHE)
def cold_start_stage(ctx: RunContext) -> None:
    """Round 0's train stage: build + cold-start the tiny policy, or register a given one."""
    policy = ctx.recipe.policy

    def body(advance: Advance) -> dict:
        ckpt = _existing_checkpoint(ctx, 0)
        if ckpt is None and policy.init != "tiny":
            ckpt = _register_given(ctx, Path(policy.init))
        if ckpt is None:
            from selftaught.loops.tinymodel import init_policy
            from selftaught.loops.train import cold_start

            ctx.run_dir().mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=ctx.run_dir(), prefix=".init-") as scratch:
                init = init_policy(Path(scratch) / "init", seed=ctx.cfg.seed, size=ctx.cfg.size)
                pool = ctx.train_pool
                examples = [p for p in pool if p.solution][: ctx.cfg.n_cold_start]
                if policy.cold_start_steps == 0 or not examples:
                    examples = []
                ckpt = cold_start(
                    init, examples, str(ctx.checkpoint_dir(0)),
                    cfg=replace(ctx.cfg.cold_start_sft, seed=ctx.cfg.seed),
                    checkpoint_id=ctx.checkpoint_id(0), parent_id=None, round_index=0,
                    progress=advance, threads=ctx.threads,
                    hint_fraction=ctx.cfg.cold_start_hint_fraction,
                    stop=ctx.cfg.cold_start_stop(pool),
                ) if examples else _save_untrained(ctx, init)
        ctx.store.add_checkpoint(ctx.run_id, ckpt)
        return {"checkpoint": ckpt.id, "train_loss": ckpt.config.get("train_loss")}

    run_stage(ctx, 0, Stage.TRAIN, body, total=policy.cold_start_steps)


def _save_untrained(ctx: RunContext, init_path: str) -> Checkpoint:
    from selftaught.loops.checkpoint import save_checkpoint
    from selftaught.loops.policy import load_policy

    p = load_policy(init_path)
    sha = save_checkpoint(p.model, p.tokenizer, ctx.checkpoint_dir(0), meta={"parent_id": None, "init": "tiny"})
    return Checkpoint(id=ctx.checkpoint_id(0), path=str(ctx.checkpoint_dir(0)), sha256=sha, round_index=0)


def _register_given(ctx: RunContext, path: Path) -> Checkpoint:
    """Round 0 from a user's checkpoint: hash it as it is, without copying it."""
    from selftaught.loops.checkpoint import verify_checkpoint

    try:
        sha = verify_checkpoint(path)["sha256"]
    except CheckpointError:
        import hashlib

        digest = hashlib.sha256()
        for f in sorted(p for p in path.rglob("*") if p.is_file()):
            digest.update(f.relative_to(path).as_posix().encode())
            digest.update(hashlib.sha256(f.read_bytes()).digest())
        sha = digest.hexdigest()
    return Checkpoint(id=ctx.checkpoint_id(0), path=str(path), sha256=sha, round_index=0, config={"init": str(path)})


@task(name="evaluate", cache_policy=NO_CACHE)
def evaluate_stage(ctx: RunContext, index: int) -> None:
    heldout = ctx.heldout

    def body(advance: Advance) -> dict:
        from selftaught.loops.evaluate import evaluate

        ckpt = ctx.checkpoint(index)
        ev, samples, judged = evaluate(
            _policy(ckpt.path, ctx), heldout, k=ctx.cfg.eval_k, seed=_seed(ctx, 0, "evaluate"),
            checkpoint_id=ckpt.id, temperature=ctx.cfg.eval_temperature, judge_fn=ctx.judge_fn(),
            max_new_tokens=ctx.cfg.sampling.max_new_tokens, batch_size=ctx.cfg.batch_size,
            progress=advance,
        )
        store = ctx.store
        store.add_samples(ctx.run_id, index, samples)
        store.add_verdicts(ctx.run_id, index, judged)
        store.add_evaluation(ctx.run_id, index, ev)
        return {
            "greedy_accuracy": ev.greedy_accuracy, "pass_at_1": ev.pass_at_1,
            "pass_at_k": ev.pass_at_k, "maj_at_k": ev.maj_at_k, "k": ev.k,
        }

    run_stage(ctx, index, Stage.EVALUATE, body, total=2 * len(heldout))


# --------------------------------------------------------------------------- flows


def _context(run_id: str, recipe: dict, db_url: str, home: str, threads: int) -> RunContext:
    return RunContext(run_id=run_id, recipe=recipe_from_dict(recipe), db_url=db_url, home=Path(home), threads=threads)


@flow(name="selftaught-round", log_prints=False)
def round_flow(run_id: str, index: int, recipe: dict, db_url: str, home: str, threads: int = 0) -> None:
    """One round: every stage not yet done, in order."""
    ctx = _context(run_id, recipe, db_url, home, threads)
    ctx.store.ensure_round(run_id, index)
    if index == 0:
        cold_start_stage(ctx)
        for stage in (Stage.GENERATE, Stage.JUDGE, Stage.RATIONALIZE, Stage.CURATE):
            run_stage(ctx, 0, stage, lambda advance: {"skipped": "cold start"}, total=None)
    elif ctx.family(index) is Family.ONLINE_RL:
        skipped = f"{ctx.method(index).value}: the trainer generates and judges its own rollouts"
        for stage in (Stage.GENERATE, Stage.JUDGE, Stage.RATIONALIZE, Stage.CURATE):
            run_stage(ctx, index, stage, lambda advance: {"skipped": skipped}, total=None)
        rl_train_stage(ctx, index)
    else:
        generate_stage(ctx, index)
        judge_stage(ctx, index)
        rationalize_stage(ctx, index)
        curate_stage(ctx, index)
        train_stage(ctx, index)
    evaluate_stage(ctx, index)
    publish_round_table(ctx, index)


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
    ctx = _context(run_id, recipe, db_url, home, threads)
    teacher = ctx.recipe.teacher
    if teacher is not None and teacher.path is not None and not (Path(teacher.path) / "config.json").is_file():
        raise ConfigError(f"teacher.path: not a saved model (no config.json): {teacher.path}")
    store = ctx.store
    store.create_run(run_id, name=ctx.recipe.name, recipe=recipe)
    store.add_problems(ctx.train_pool + ctx.heldout)
    store.set_run_status(run_id, "running")
    timings: list[dict] = []
    try:
        for index in range(0, ctx.recipe.rounds + 1):
            if _round_done(store, run_id, index):
                continue
            clock = time.perf_counter()
            round_flow(run_id, index, recipe, db_url, home, threads)
            wall = time.perf_counter() - clock
            stages = [s for s in store.round_table(run_id) if s["index"] == index]
            work = sum((stages[0].get("seconds") or {}).values()) if stages else 0.0
            timings.append(RoundTiming(index, wall, work).as_dict())
    except BaseException:
        store.set_run_status(run_id, "failed")
        raise
    store.set_run_status(run_id, "done")
    return timings


def _round_done(store: Store, run_id: str, index: int) -> bool:
    status = store.stage_status(run_id, index)
    return all(status.get(s) == "done" for s in Stage)


def new_run_id(recipe: Recipe) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", recipe.name.lower()).strip("-") or "run"
    return f"{slug}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid() % 10000:04d}"
