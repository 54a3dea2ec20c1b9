"""The stages of a round as Prefect tasks: cold start (or a CAI chat model's registration),
generate, judge, rationalize, curate (SFT rows / preference pairs), train (SFT / DPO),
train-rl (GRPO / RLOO) and evaluate. Each reads its inputs from the store, calls one
``selftaught.loops`` function, writes its outputs in one idempotent bulk write and is marked
done through ``run_stage`` (``flows/context.py``). ``loops/methods.PLANS`` says which
stages a round runs; ``flows/rounds.py`` maps them to these tasks (and to the Constitutional
AI ones of ``flows/cai_stages.py``). The preference stages take their pairs from
``PAIR_SOURCES``: verified samples (dpo) or AI feedback (rl-cai); CAI rows are rendered with
the policy's chat template before training (``_rows_for_training``). Every model a stage
loads goes on the run's placement (``ctx.placement``: the recipe's device and dtype,
``hardware.py``), and the stage hands that placement to ``run_stage`` to be recorded."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from contextlib import ExitStack, nullcontext
from dataclasses import replace
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from selftaught.errors import CheckpointError
from selftaught.flows.context import RunContext, _seed, run_stage
from selftaught.progress import Advance
from selftaught.flows.tracking import trainer_target
from selftaught.hardware import Placement
from selftaught.loops.methods import Family
from selftaught.loops.prompting import PromptStyle
from selftaught.recipe import Method
from selftaught.records import Checkpoint, SampleSource, Stage

# ----------------------------------------------------------------------- the stages


def _policy(path: str, ctx: RunContext):
    from selftaught.loops.policy import load_policy

    return load_policy(path, threads=ctx.threads, placement=ctx.placement)


def _sampler(path: str, ctx: RunContext, *, hf: bool = False):
    """The policy a sampling stage uses, as a context manager: the HF policy (always with
    ``hf``), or with ``generate.backend: vllm`` a vLLM engine that is released -- its GPU
    memory freed -- when the stage ends, failed or not, so the train stage finds the GPU free."""
    if ctx.recipe.generate.backend == "vllm" and not hf:
        from selftaught.loops.vllm_sampler import vllm_policy

        return vllm_policy(path, gpu_memory_utilization=ctx.recipe.generate.gpu_memory_utilization,
                           dtype=ctx.placement.dtype, seed=ctx.recipe.seed)  # fmt: skip
    return nullcontext(_policy(path, ctx))


@task(name="generate", cache_policy=NO_CACHE)
def generate_stage(ctx: RunContext, index: int) -> None:
    problems = ctx.round_problems(index)
    # search steps through the HF model itself (search/stepgen.py), whatever the backend
    searching = ctx.recipe.search is not None and ctx.method(index) in (Method.RFT, Method.STAR)
    loaded = ExitStack()  # the sampler, released when the stage ends (raised or not)
    spec = ctx.recipe.teacher
    endpoint = ctx.method(index) is Method.DISTILL and spec is not None and spec.path is None  # no model here

    def body(advance: Advance) -> dict:
        from selftaught.loops.generate import generate

        parent = ctx.checkpoint(index - 1)
        if ctx.method(index) is Method.DISTILL:
            from selftaught.loops.distill import load_teacher

            teacher = ctx.recipe.teacher
            policy, producer = load_teacher(teacher, threads=ctx.threads, placement=ctx.placement), teacher.name
        else:
            policy, producer = loaded.enter_context(_sampler(parent.path, ctx, hf=searching)), parent.id
        if searching:
            samples = _search_samples(ctx, index, policy, problems, producer, advance)
        else:
            from selftaught.loops.prompting import tokenizer_of

            samples = generate(
                policy, problems, k=ctx.recipe.generate.k, params=ctx.recipe.generate.sampling,
                seed=_seed(ctx, index, "generate"), checkpoint_id=producer,
                batch_size=ctx.recipe.generate.batch_size, progress=advance,
                prompts=ctx.style.render_all(problems, tokenizer_of(policy)),
            )
        inserted = ctx.store.add_samples(ctx.run_id, index, samples)
        metrics = {"n_samples": len(samples), "n_inserted": inserted, "n_tokens": sum(s.n_tokens for s in samples)}
        return {**metrics, **_curriculum_metrics(ctx, index)}

    with loaded:
        run_stage(ctx, index, Stage.GENERATE, body, total=len(problems), placement=None if endpoint else ctx.placement)


def _search_samples(ctx: RunContext, index: int, policy, problems, producer: str, advance: Advance) -> list:
    """The recipe's ``search:`` as the round's generator: ``n`` searches (seeds ``_seed`` + i)
    from the round's starting policy, each stored with every node (``add_search``, linked to
    the run); the selected answers become GENERATE samples (index i) whose ``params.search``
    names their search, so judge -> curate -> train take them unchanged."""
    from selftaught.loops.prompting import tokenizer_of
    from selftaught.prm.scorers import load_orm, load_prm
    from selftaught.search.run import run_search, samples_from

    # search extends the text the policy reads: give it the rendered prompts
    problems = [replace(p, prompt=ctx.style.render(p, tokenizer_of(policy))) for p in problems]
    spec, sampling = ctx.recipe.search, ctx.recipe.generate.sampling
    orm = None if spec.orm is None else load_orm(spec.orm, threads=ctx.threads, placement=ctx.placement)
    prm = None if spec.prm is None else load_prm(spec.prm, threads=ctx.threads, placement=ctx.placement)
    samples = []
    advance(0, total=spec.n * len(problems))  # the bar counts problems once per search
    for i in range(spec.n):
        cfg = spec.replace(temperature=sampling.temperature, max_new_tokens=sampling.max_new_tokens,
                           batch_size=ctx.recipe.generate.batch_size, seed=_seed(ctx, index, "generate") + i)
        record = run_search(policy, problems, cfg, orm=orm, prm=prm, checkpoint=producer, judge=ctx.judge(),
                            progress=lambda done, before=i * len(problems): advance(before + done))  # fmt: skip
        ctx.store.add_search(record, run_id=ctx.run_id)  # a resumed round recomputes the same id: no-op
        samples += samples_from(record, problems, checkpoint_id=producer, seed=cfg.seed, source=SampleSource.GENERATE,
                                index=i, params=replace(cfg.params, search=record.id))  # fmt: skip
    return samples


@task(name="judge", cache_policy=NO_CACHE)
def judge_stage(ctx: RunContext, index: int) -> None:
    def body(advance: Advance) -> dict:
        from selftaught.loops.verify import judge_all

        samples = ctx.store.get_samples(ctx.run_id, index, SampleSource.GENERATE)
        advance(0, total=len(samples))
        judged = judge_all(samples, {p.id: p for p in ctx.round_problems(index)}, ctx.judge(), progress=advance)
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
        with _sampler(parent.path, ctx) as policy:
            rationalized = rationalize(
                policy, judged, {p.id: p for p in ctx.round_problems(index)},
                k=ctx.recipe.generate.k, params=ctx.recipe.generate.sampling, seed=_seed(ctx, index, "rationalize"),
                checkpoint_id=parent.id, judge=ctx.judge(), batch_size=ctx.recipe.generate.batch_size, style=ctx.style,
            )
        ctx.store.add_samples(ctx.run_id, index, [j.sample for j in rationalized])
        ctx.store.add_verdicts(ctx.run_id, index, rationalized)
        advance(len(rationalized))
        return {
            "n_problems": len({j.sample.problem_id for j in rationalized}),
            "n_samples": len(rationalized),
            "n_pass": sum(j.verdict.passed for j in rationalized),
        }

    star = ctx.method(index) is Method.STAR
    run_stage(ctx, index, Stage.RATIONALIZE, body, total=None, placement=ctx.placement if star else None)


@task(name="curate", cache_policy=NO_CACHE)
def curate_stage(ctx: RunContext, index: int) -> None:
    def body(advance: Advance) -> dict:
        from selftaught.loops.rounds import CURATORS

        store = ctx.store
        judged = store.get_judged(ctx.run_id, index, SampleSource.GENERATE)
        rationalized = store.get_judged(ctx.run_id, index, SampleSource.RATIONALIZE)
        by_id = {p.id: p for p in ctx.round_problems(index)}
        method = ctx.method(index)
        curator = CURATORS[Method.RFT if method is Method.DISTILL else method]
        ts = curator(judged, rationalized, by_id, ctx.recipe.train.max_per_problem, style=ctx.style)
        store.add_training_set(ctx.run_id, index, ts)
        advance(len(ts.examples))
        return dict(ts.stats)

    run_stage(ctx, index, Stage.CURATE, body, total=None)


def _verified_pairs(ctx: RunContext, index: int) -> tuple[list, dict]:
    """dpo: (passing, failing) pairs of this round's stored verdicts (a pure function of them)."""
    from selftaught.loops.dpo import build_pairs, pair_stats

    judged = ctx.store.get_judged(ctx.run_id, index, SampleSource.GENERATE)
    by_id = {p.id: p for p in ctx.round_problems(index)}
    pairs = build_pairs(judged, by_id, max_pairs_per_problem=ctx.recipe.dpo.max_pairs_per_problem)
    return pairs, pair_stats(judged, pairs)


def _feedback_pairs(ctx: RunContext, index: int) -> tuple[list, dict]:
    from selftaught.flows.cai_stages import feedback_pairs

    return feedback_pairs(ctx, index)


#: where a preference round's (chosen, rejected) pairs come from, by family
PAIR_SOURCES = {Family.PREFERENCE: _verified_pairs, Family.RL_CAI: _feedback_pairs}


@task(name="curate-pairs", cache_policy=NO_CACHE)
def curate_pairs_stage(ctx: RunContext, index: int) -> None:
    """The round's preference pairs, recorded as what it trains on (export --trained reads them)."""

    def body(advance: Advance) -> dict:
        pairs, stats = PAIR_SOURCES[ctx.family(index)](ctx, index)
        ctx.store.add_training_pairs(ctx.run_id, index, pairs)
        advance(len(pairs))
        return stats  # the train stage rebuilds them from the same rows

    run_stage(ctx, index, Stage.CURATE, body, total=None)


def _rows_for_training(ctx: RunContext, index: int) -> tuple[Callable[[str], str], PromptStyle | None]:
    """How a round's stored prompts reach its trainer: as stored, shown in the recipe's prompt
    style; or for CAI rounds rendered here with the policy's chat template (the messages it
    answered), then passed as raw text."""
    if not ctx.recipe.is_cai():
        return (lambda prompt: prompt), ctx.style
    from transformers import AutoTokenizer

    from selftaught.flows.cai_stages import chat_prompt
    from selftaught.loops.prompting import RAW

    tok = AutoTokenizer.from_pretrained(ctx.checkpoint(index - 1).path)
    return (lambda prompt: chat_prompt(tok, prompt)), RAW


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
        from selftaught.loops.launch import train_sft  # in-process, or on train.processes processes

        ckpt = _existing_checkpoint(ctx, index)
        if ckpt is None:
            ts = ctx.store.get_training_set(ctx.run_id, index)
            if ts is None:
                raise CheckpointError(f"run {ctx.run_id}: round {index} has no curated training set")
            parent = ctx.checkpoint(index - 1)
            render, style = _rows_for_training(ctx, index)
            ts = replace(ts, examples=tuple(replace(e, prompt=render(e.prompt)) for e in ts.examples))
            ckpt = train_sft(
                parent.path, ts, str(ctx.checkpoint_dir(index)),
                cfg=ctx.recipe.sft_settings(seed=_seed(ctx, index, "train")),
                checkpoint_id=ctx.checkpoint_id(index), parent_id=parent.id, round_index=index,
                progress=advance, threads=ctx.threads, lora=ctx.recipe.lora, style=style,
                tracking=trainer_target(ctx, index),
            )
        ctx.store.add_checkpoint(ctx.run_id, ckpt)
        return {"checkpoint": ckpt.id, "train_loss": ckpt.config.get("train_loss"), "n_examples": ckpt.config.get("n_examples")}

    run_stage(ctx, index, Stage.TRAIN, body, total=ctx.recipe.train.steps, placement=ctx.placement)


@task(name="train-dpo", cache_policy=NO_CACHE)
def train_dpo_stage(ctx: RunContext, index: int) -> None:
    """DPO on the round's pairs (``PAIR_SOURCES``: rebuilt from the same stored rows as curate)."""

    def body(advance: Advance) -> dict:
        ckpt = _existing_checkpoint(ctx, index)
        if ckpt is None:
            ckpt = _train_dpo(ctx, index, advance)
        ctx.store.add_checkpoint(ctx.run_id, ckpt)
        return {"checkpoint": ckpt.id, "train_loss": ckpt.config.get("train_loss"), "n_examples": ckpt.config.get("n_examples")}

    run_stage(ctx, index, Stage.TRAIN, body, total=ctx.recipe.dpo.steps, placement=ctx.placement)


def _train_dpo(ctx: RunContext, index: int, advance: Advance) -> Checkpoint:
    from selftaught.loops.launch import train_dpo  # in-process, or on dpo.processes processes

    pairs, _ = PAIR_SOURCES[ctx.family(index)](ctx, index)
    render, style = _rows_for_training(ctx, index)
    pairs = [replace(p, prompt=render(p.prompt)) for p in pairs]
    parent = ctx.checkpoint(index - 1)
    return train_dpo(
        parent.path, pairs, str(ctx.checkpoint_dir(index)),
        cfg=ctx.recipe.dpo_settings(seed=_seed(ctx, index, "train")),
        checkpoint_id=ctx.checkpoint_id(index), parent_id=parent.id, round_index=index,
        progress=advance, threads=ctx.threads, style=style, tracking=trainer_target(ctx, index),
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
                verifier=reward_verifier(ctx.recipe.reward, ctx.judge(), format_style=ctx.format_style()),
                checkpoint_id=ctx.checkpoint_id(index), parent_id=parent.id, round_index=index,
                progress=advance, threads=ctx.threads, style=ctx.style, tracking=trainer_target(ctx, index),
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

    run_stage(ctx, index, Stage.TRAIN, body, total=settings.steps, placement=settings.placement)


def _curriculum_metrics(ctx: RunContext, index: int) -> dict:
    split = ctx.round_curriculum(index)
    return {} if split is None else {"curriculum": split.stats()}


@task(name="cold-start", cache_policy=NO_CACHE)
def cold_start_stage(ctx: RunContext) -> None:
    """Round 0's train stage: build + cold-start the tiny policy (its gold rows recorded as round
    0's training set), or register a given one."""
    policy = ctx.recipe.policy

    def body(advance: Advance) -> dict:
        ckpt = _existing_checkpoint(ctx, 0)
        if ckpt is None and policy.init != "tiny":
            ckpt = _register_given(ctx, Path(policy.init))
        if ckpt is None:
            from selftaught.loops.tinymodel import init_policy
            from selftaught.loops.train import cold_start, gold_training_set

            ctx.run_dir().mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=ctx.run_dir(), prefix=".init-") as scratch:
                init = init_policy(Path(scratch) / "init", seed=ctx.recipe.seed, size=ctx.recipe.policy.size)
                pool = ctx.train_pool
                examples = [p for p in pool if p.solution][: ctx.recipe.task.n_cold_start]
                if policy.cold_start_steps == 0 or not examples:
                    examples = []
                else:  # the rows it trains on, recorded as round 0's training set (export --trained)
                    hint = ctx.recipe.policy.cold_start_hint_fraction
                    ctx.store.add_training_set(ctx.run_id, 0, gold_training_set(examples, hint_fraction=hint))
                ckpt = cold_start(
                    init, examples, str(ctx.checkpoint_dir(0)),
                    cfg=ctx.recipe.cold_start_sft(),
                    checkpoint_id=ctx.checkpoint_id(0), parent_id=None, round_index=0,
                    progress=advance, threads=ctx.threads,
                    hint_fraction=ctx.recipe.policy.cold_start_hint_fraction,
                    stop=ctx.recipe.cold_start_stop(pool), tracking=trainer_target(ctx, 0),
                ) if examples else _save_untrained(ctx, init)
        ctx.store.add_checkpoint(ctx.run_id, ckpt)
        return {"checkpoint": ckpt.id, "train_loss": ckpt.config.get("train_loss")}

    trains = policy.init == "tiny"  # a given checkpoint is only registered
    run_stage(ctx, 0, Stage.TRAIN, body, total=policy.cold_start_steps, placement=ctx.placement if trains else None)


@task(name="register-chat", cache_policy=NO_CACHE)
def register_chat_stage(ctx: RunContext) -> None:
    """Round 0's train stage of a CAI run: the starting chat model becomes checkpoint ``RUN/r0``:
    ``smollm2`` (rebuilt offline once, kept under HOME/models or SELFTAUGHT_SMOLLM2_CACHE),
    ``tiny`` (a random chat model, built here) or a saved chat model folder."""
    init = ctx.recipe.policy.init

    def body(advance: Advance) -> dict:
        ckpt = _existing_checkpoint(ctx, 0)
        if ckpt is None and init == "tiny":
            from selftaught.loops.tinymodel import build_tiny_chat_model

            ctx.run_dir().mkdir(parents=True, exist_ok=True)
            ckpt = _register_given(ctx, Path(build_tiny_chat_model(ctx.checkpoint_dir(0), seed=ctx.recipe.seed)))
        elif ckpt is None:
            path = Path(init)
            if init == "smollm2":
                from selftaught.loops.chat import load_smollm2, smollm2_dir

                path = smollm2_dir(ctx.home)
                if not (path / "config.json").is_file():  # rebuilt once; evaluate loads it next
                    load_smollm2(threads=ctx.threads or None, cache_dir=path, placement=Placement())
            ckpt = _register_given(ctx, path)
        ctx.store.add_checkpoint(ctx.run_id, ckpt)
        advance(1)
        return {"checkpoint": ckpt.id, "policy": init, "path": ckpt.path}

    run_stage(ctx, 0, Stage.TRAIN, body, total=1)


def _save_untrained(ctx: RunContext, init_path: str) -> Checkpoint:
    from selftaught.loops.checkpoint import save_checkpoint
    from selftaught.loops.policy import load_policy

    p = load_policy(init_path, placement=Placement())  # only saved again: as built, float32
    sha = save_checkpoint(p.model, p.tokenizer, ctx.checkpoint_dir(0), meta={"parent_id": None, "init": "tiny"})
    return Checkpoint(id=ctx.checkpoint_id(0), path=str(ctx.checkpoint_dir(0)), sha256=sha, round_index=0)


def _register_given(ctx: RunContext, path: Path) -> Checkpoint:
    """Round 0 from a user's checkpoint: hash it as it is, without copying it. A selftaught
    checkpoint must verify (its manifest's sha256); any other folder is hashed file by file."""
    from selftaught.loops.checkpoint import folder_sha256, is_selftaught_checkpoint, verify_checkpoint, verify_for_load

    verify_for_load(path)
    sha = verify_checkpoint(path)["sha256"] if is_selftaught_checkpoint(path) else folder_sha256(path)
    return Checkpoint(id=ctx.checkpoint_id(0), path=str(path), sha256=sha, round_index=0, config={"init": str(path)})


@task(name="evaluate", cache_policy=NO_CACHE)
def evaluate_stage(ctx: RunContext, index: int) -> None:
    heldout = ctx.heldout

    def body(advance: Advance) -> dict:
        from selftaught.loops.evaluate import evaluate

        from selftaught.loops.prompting import tokenizer_of

        ckpt = ctx.checkpoint(index)
        with _sampler(ckpt.path, ctx) as policy:
            ev, samples, judged = evaluate(
                policy, heldout, k=ctx.recipe.evaluate.k, seed=_seed(ctx, 0, "evaluate"),
                checkpoint_id=ckpt.id, temperature=ctx.recipe.evaluate.temperature, judge=ctx.judge(),
                max_new_tokens=ctx.recipe.evaluate.max_new_tokens or ctx.recipe.generate.max_new_tokens,
                # as many sequences per generate call as the generate stage runs (prompts x k)
                batch_size=max(1, ctx.recipe.generate.batch_size * ctx.recipe.generate.k // ctx.recipe.evaluate.k), progress=advance,
                prompts=ctx.style.render_all(heldout, tokenizer_of(policy)), answer_fn=ctx.answer_fn(),
            )
        store = ctx.store
        store.add_samples(ctx.run_id, index, samples)
        store.add_verdicts(ctx.run_id, index, judged)
        store.add_evaluation(ctx.run_id, index, ev)
        return {
            "greedy_accuracy": ev.greedy_accuracy, "pass_at_1": ev.pass_at_1,
            "pass_at_k": ev.pass_at_k, "maj_at_k": ev.maj_at_k, "k": ev.k,
        }

    run_stage(ctx, index, Stage.EVALUATE, body, total=2 * len(heldout), placement=ctx.placement)


