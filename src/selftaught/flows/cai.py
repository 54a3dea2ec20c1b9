"""Constitutional AI rounds as Prefect flows: the constitution file is re-read every round.

A CAI run is round 0 (register the starting policy, measure it) plus ``recipe.rounds``
rounds. Stages reuse the store-backed ``run_stage`` of ``flows/context.py`` (a stage marked
done is skipped on a re-run; every write is an idempotent upsert), with the same stage
names as the other rounds:

    round 0        train: register the policy (SmolLM2, the tiny test model, or a folder)
                   evaluate: violation rate of its held-out answers
    round i >= 1   (the constitution FILE is loaded now; its hash and canonical text are
                   recorded, and the round is tied to that hash)
                   generate: SL: answer -> critique -> revise (``loops.cai.sl_cai``)
                             RL: two answers + AI feedback (``loops.cai.rl_cai``)
                             answers as samples; critiques, revisions or pairs with their
                             principle ids and the constitution hash
                   judge, rationalize: recorded as done (not used by CAI)
                   curate: SL: (prompt, final revision) rows, from the store
                           RL: the kept pairs (p >= threshold), counted
                   train: SL: TRL SFT on the revisions (``loops.train.train_sft``)
                          RL: TRL DPO on the kept pairs (``loops.dpo.train_dpo``)
                   evaluate: violation rate on held-out prompts

The violation rate is measured with ``constitution.checks`` (programmatic checks for the
bundled ``concise`` principles; never shown to the model). It is stored as an
``Evaluation`` whose accuracy fields hold the share of held-out answers with no violation
(what the ``greedy`` column of ``selftaught rounds`` shows for a CAI run) and whose
``extra`` holds ``violation_rate`` (share with at least one violation),
``mean_violation_rate`` and ``by_principle``.

Training rows are chat-formatted with the policy's own chat template (the same messages
the policy answered), so SFT/DPO teach the format generation uses. Every model runs on the
recipe's placement (``device``/``dtype``, ``hardware.py``), recorded with each stage. Before
a round runs, the checkpoints it needs must verify (``flows/integrity.py``).

``run_cai`` / ``cai_round`` are plain functions (tests call them without a Prefect
server); ``cai_run_flow`` / ``cai_round_flow`` wrap them as flows with plain parameters.
Like ``run_flow``, ``run_cai`` holds the run's lease while it works (``flows/lease.py``).
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Callable

from prefect import flow

from selftaught.cai_recipe import CaiRecipe
from selftaught.errors import CheckpointError
from selftaught.flows.progress import Advance
from selftaught.hardware import Placement
from selftaught.flows.context import RunLayout, run_stage, start_run
from selftaught.flows.integrity import require_verified
from selftaught.records import Checkpoint, Evaluation, Problem, SampleSource, Split, Stage
from selftaught.store import Store

_NOT_USED = "not used by Constitutional AI"


@dataclass(frozen=True)
class CaiContext(RunLayout):
    """What every CAI stage needs; rebuilt from plain flow parameters."""

    run_id: str
    recipe: CaiRecipe
    db_url: str
    home: Path
    threads: int = 0

    @cached_property
    def placement(self) -> Placement:
        """Where every model of the run goes (the recipe's device and dtype, decided here)."""
        return self.recipe.placement()

    def seed(self, index: int, stage: str) -> int:
        from selftaught.loops.rounds import stage_seed

        return stage_seed(self.recipe.seed, index, stage)

    def constitution_path(self) -> Path:
        from selftaught.constitution import BUNDLED, bundled_path

        c = self.recipe.constitution
        return bundled_path(c) if c in BUNDLED else Path(c)

    @cached_property
    def train_pool(self) -> list[Problem]:
        return _prompts(self.recipe.train_prompts, Split.TRAIN)

    @cached_property
    def heldout(self) -> list[Problem]:
        return _prompts(self.recipe.heldout_prompts, Split.HELDOUT)[: self.recipe.n_heldout]

    def round_problems(self, index: int) -> list[Problem]:
        from selftaught.loops.rounds import problems_for_round

        return problems_for_round(self.train_pool, index, self.recipe.n_train)


def _prompts(path: str | None, split: Split) -> list[Problem]:
    from dataclasses import replace

    from selftaught.constitution import load_prompts, read_prompts

    problems = load_prompts(split) if path is None else read_prompts(Path(path), split)
    # tags as a list: what the store's JSON gives back, so a resumed run re-adds them unchanged
    return [replace(p, meta={**p.meta, "tags": list(p.meta.get("tags", ()))}) for p in problems]


def load_chat(path: str, *, name: str, threads: int = 0, placement: Placement | None = None):
    """A saved chat model folder as an ``HFChatModel`` on ``placement`` (None: ``auto``)."""
    from selftaught.hardware import load_model, resolve
    from selftaught.loops.chat import HFChatModel
    from selftaught.loops.policy import quiet_transformers, set_threads

    set_threads(threads)
    quiet_transformers()
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if not (Path(path) / "config.json").is_file():
        raise CheckpointError(f"{path}: not a saved model (no config.json)")
    return HFChatModel(
        load_model(AutoModelForCausalLM, path, resolve(placement)), AutoTokenizer.from_pretrained(path),
        name=name, batch_size=8,
    )  # fmt: skip


def _chat_prompt(tokenizer: Any, prompt: str) -> str:
    """The policy's answer prompt, rendered with its chat template (what it is trained on)."""
    from selftaught.constitution.prompts import answer_messages

    return tokenizer.apply_chat_template(answer_messages(prompt), tokenize=False, add_generation_prompt=True)


# ------------------------------------------------------------------------- round 0


TINY_CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }} {% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def build_tiny_chat_model(out_dir: Path, *, seed: int = 0) -> str:
    """A randomly initialised ~60k-parameter Llama with a character tokenizer and a chat
    template: for tests of the plumbing, not of the method."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from selftaught.loops.checkpoint import save_checkpoint
    from selftaught.loops.tinymodel import build_tokenizer

    tok = build_tokenizer()
    tok.chat_template = TINY_CHAT_TEMPLATE
    config = LlamaConfig(
        vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
        num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=4096,
        pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
        tie_word_embeddings=True,
    )  # fmt: skip
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tok.pad_token_id
    model.generation_config.eos_token_id = tok.eos_token_id
    save_checkpoint(model, tok, out_dir, meta={"kind": "init", "init": "tiny-chat", "seed": seed})
    return str(out_dir)


def smollm2_dir(home: Path) -> Path:
    """Where the rebuilt SmolLM2 is kept (``SELFTAUGHT_SMOLLM2_CACHE`` wins)."""
    return Path(os.environ.get("SELFTAUGHT_SMOLLM2_CACHE") or home / "models" / "smollm2-135m-instruct")


def register_policy_stage(ctx: CaiContext) -> None:
    """Round 0's train stage: the starting policy becomes checkpoint ``RUN/r0``."""
    from selftaught.flows.stages import _existing_checkpoint, _register_given

    init = ctx.recipe.policy

    def body(advance: Advance) -> dict:
        ckpt = _existing_checkpoint(ctx, 0)  # type: ignore[arg-type]
        if ckpt is None and init == "tiny":
            ctx.run_dir().mkdir(parents=True, exist_ok=True)
            path = build_tiny_chat_model(ctx.checkpoint_dir(0), seed=ctx.recipe.seed)
            ckpt = _register_given(ctx, Path(path))  # type: ignore[arg-type]
        elif ckpt is None:
            path = Path(init)
            if init == "smollm2":
                from selftaught.loops.chat import load_smollm2

                path = smollm2_dir(ctx.home)
                if not (path / "config.json").is_file():  # rebuilt once; evaluate loads it next
                    load_smollm2(threads=ctx.threads or None, cache_dir=path, placement=Placement())
            ckpt = _register_given(ctx, path)  # type: ignore[arg-type]
        ctx.store.add_checkpoint(ctx.run_id, ckpt)
        advance(1)
        return {"checkpoint": ckpt.id, "policy": init, "path": ckpt.path}

    run_stage(ctx, 0, Stage.TRAIN, body, total=1)  # type: ignore[arg-type]


# ------------------------------------------------------------------------- round i >= 1


def record_constitution(ctx: CaiContext, index: int):
    """Load the constitution file now; store its version once and tie the round to it."""
    from selftaught.constitution import canonical_json, constitution_hash, load_constitution

    c = load_constitution(ctx.constitution_path())
    h = constitution_hash(c)
    ctx.store.add_constitution(h, c.name, canonical_json(c))
    ctx.store.ensure_round(ctx.run_id, index, constitution_hash=h)
    return c, h


def generate_stage(ctx: CaiContext, index: int, constitution: Any) -> None:
    r = ctx.recipe
    problems = ctx.round_problems(index)

    def body(advance: Advance) -> dict:
        from selftaught.loops.cai import RlCaiConfig, SlCaiConfig, rl_cai, sl_cai

        parent = ctx.checkpoint(index - 1)
        policy = load_chat(parent.path, name=parent.id, threads=ctx.threads, placement=ctx.placement)
        store, seed = ctx.store, ctx.seed(index, "generate")
        if r.mode == "sl":
            cfg = SlCaiConfig(
                n_revisions=r.passes, resample_principle=r.resample_principle,
                answer_max_new_tokens=r.max_new_tokens, critique_max_new_tokens=r.critique_max_new_tokens,
                temperature=r.temperature, seed=seed, min_overlap=r.min_overlap,
            )  # fmt: skip
            sl = sl_cai(problems, constitution, policy, cfg, checkpoint_id=parent.id)
            store.add_samples(ctx.run_id, index, sl.answers)
            n_crit = store.add_critiques(ctx.run_id, index, sl.critiques)
            n_rev = store.add_revisions(ctx.run_id, index, sl.revisions)
            failures = sl.failures
            metrics = {"n_answers": len(sl.answers), "n_critiques": len(sl.critiques),
                       "n_revisions": len(sl.revisions), "n_inserted": n_crit + n_rev}  # fmt: skip
        else:
            cfg = RlCaiConfig(
                answer_max_new_tokens=r.max_new_tokens, temperature=r.rl_temperature,
                threshold=r.threshold, debias_order=r.debias_order, seed=seed,
            )  # fmt: skip
            rl = rl_cai(problems, constitution, policy, cfg, checkpoint_id=parent.id)
            store.add_samples(ctx.run_id, index, rl.answers)
            n_new = store.add_preference_pairs(ctx.run_id, index, rl.pairs, rl.kept)
            failures = rl.failures
            metrics = {"n_answers": len(rl.answers), "n_pairs": len(rl.pairs), "n_kept": len(rl.kept),
                       "n_identical": len(rl.identical), "n_inserted": n_new}  # fmt: skip
        advance(len(problems))
        metrics["n_failures"] = len(failures)
        metrics["failures"] = [
            {"problem_id": f.problem_id, "step": f.step.value, "error": f.error[:200], "principle_id": f.principle_id}
            for f in failures[:20]
        ]
        return metrics

    run_stage(ctx, index, Stage.GENERATE, body, total=len(problems), placement=ctx.placement)  # type: ignore[arg-type]


def curate_stage(ctx: CaiContext, index: int) -> None:
    def body(advance: Advance) -> dict:
        cai = ctx.store.get_cai(ctx.run_id, index)
        if ctx.recipe.mode == "rl":
            return {"n_pairs": len(cai.pairs), "n_kept": len(cai.kept), "threshold": ctx.recipe.threshold}
        from selftaught.loops.cai import curate_revisions

        answers = ctx.store.get_samples(ctx.run_id, index, SampleSource.GENERATE)
        ts = curate_revisions(answers, cai.revisions)
        ctx.store.add_training_set(ctx.run_id, index, ts)
        advance(len(ts.examples))
        return dict(ts.stats)

    run_stage(ctx, index, Stage.CURATE, body, total=None)  # type: ignore[arg-type]


def train_stage(ctx: CaiContext, index: int) -> None:
    r = ctx.recipe

    def body(advance: Advance) -> dict:
        from selftaught.flows.stages import _existing_checkpoint

        ckpt = _existing_checkpoint(ctx, index)  # type: ignore[arg-type]
        if ckpt is None:
            ckpt = _train_sft(ctx, index, advance) if r.mode == "sl" else _train_dpo(ctx, index, advance)
        ctx.store.add_checkpoint(ctx.run_id, ckpt)
        return {"checkpoint": ckpt.id, "trainer": "sft" if r.mode == "sl" else "dpo",
                "train_loss": ckpt.config.get("train_loss"), "skipped": ckpt.config.get("skipped")}  # fmt: skip

    run_stage(ctx, index, Stage.TRAIN, body, total=r.train.steps, placement=ctx.placement)  # type: ignore[arg-type]


def _tokenizer(path: str) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(path)


def _train_sft(ctx: CaiContext, index: int, advance: Advance) -> Checkpoint:
    from dataclasses import replace

    from selftaught.loops.train import SFTSettings, train_sft

    ts = ctx.store.get_training_set(ctx.run_id, index)
    if ts is None:
        raise CheckpointError(f"run {ctx.run_id}: round {index} has no curated training set")
    parent = ctx.checkpoint(index - 1)
    tok = _tokenizer(parent.path)
    chat = replace(ts, examples=tuple(replace(e, prompt=_chat_prompt(tok, e.prompt)) for e in ts.examples))
    t = ctx.recipe.train
    return train_sft(
        parent.path, chat, str(ctx.checkpoint_dir(index)),
        cfg=SFTSettings(lr=t.lr, steps=t.steps, batch_size=t.batch_size, max_length=t.max_length,
                        seed=ctx.seed(index, "train"), placement=ctx.placement),
        checkpoint_id=ctx.checkpoint_id(index), parent_id=parent.id, round_index=index,
        progress=advance, threads=ctx.threads,
    )  # fmt: skip


def _train_dpo(ctx: CaiContext, index: int, advance: Advance) -> Checkpoint:
    from selftaught.loops.dpo import DPOSettings, VerifiedPair, train_dpo

    kept = ctx.store.get_cai(ctx.run_id, index).kept
    parent = ctx.checkpoint(index - 1)
    tok = _tokenizer(parent.path)
    pairs = [
        VerifiedPair(p.problem_id, _chat_prompt(tok, p.prompt), p.chosen, p.rejected, p.chosen_key, p.rejected_key)
        for p in kept
    ]
    t = ctx.recipe.train
    return train_dpo(
        parent.path, pairs, str(ctx.checkpoint_dir(index)),
        cfg=DPOSettings(lr=t.lr, steps=t.steps, batch_size=t.batch_size, beta=t.beta,
                        max_length=t.max_length, max_pairs_per_problem=1, seed=ctx.seed(index, "train"),
                        placement=ctx.placement),
        checkpoint_id=ctx.checkpoint_id(index), parent_id=parent.id, round_index=index,
        progress=advance, threads=ctx.threads,
    )  # fmt: skip


def evaluate_stage(ctx: CaiContext, index: int) -> None:
    heldout = ctx.heldout

    def body(advance: Advance) -> dict:
        from selftaught.constitution import prompt_tags
        from selftaught.constitution.checks import violation_report
        from selftaught.loops.cai import answer

        ckpt = ctx.checkpoint(index)
        policy = load_chat(ckpt.path, name=ckpt.id, threads=ctx.threads, placement=ctx.placement)
        samples, failures = answer(
            heldout, policy, max_new_tokens=ctx.recipe.max_new_tokens, temperature=0.0,
            seed=ctx.seed(0, "evaluate"), source=SampleSource.EVAL, checkpoint_id=ckpt.id,
        )  # fmt: skip
        advance(len(heldout))
        by_id = {p.id: p for p in heldout}
        rep = violation_report((s.completion, prompt_tags(by_id[s.problem_id])) for s in samples)
        ok = 1.0 - rep.any_rate
        ctx.store.add_samples(ctx.run_id, index, samples)
        extra = {"violation_rate": rep.any_rate, "mean_violation_rate": rep.mean_rate,
                 "by_principle": dict(rep.by_principle), "n_failures": len(failures)}  # fmt: skip
        ctx.store.add_evaluation(ctx.run_id, index, Evaluation(
            checkpoint_id=ckpt.id, split=Split.HELDOUT, n_problems=len(samples), k=1,
            greedy_accuracy=ok, pass_at_1=ok, pass_at_k=ok, maj_at_k=ok, extra=extra,
        ))  # fmt: skip
        return extra

    run_stage(ctx, index, Stage.EVALUATE, body, total=len(heldout), placement=ctx.placement)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- rounds, runs


def _context(run_id: str, recipe: dict, db_url: str, home: str, threads: int) -> CaiContext:
    return CaiContext(run_id, CaiRecipe.model_validate(recipe), db_url, Path(home), threads)


def cai_round(run_id: str, index: int, recipe: dict, db_url: str, home: str, threads: int = 0) -> None:
    """One CAI round: every stage not yet done, in order (no Prefect needed)."""
    ctx = _context(run_id, recipe, db_url, home, threads)
    require_verified(ctx, index, can_retrain=False)  # no stage builds on a damaged checkpoint
    if index == 0:
        ctx.store.ensure_round(run_id, 0)
        register_policy_stage(ctx)
        for stage in (Stage.GENERATE, Stage.JUDGE, Stage.RATIONALIZE, Stage.CURATE):
            run_stage(ctx, 0, stage, lambda advance: {"skipped": "round 0: the starting policy"}, total=None)  # type: ignore[arg-type]
    else:
        constitution, _ = record_constitution(ctx, index)
        generate_stage(ctx, index, constitution)
        for stage in (Stage.JUDGE, Stage.RATIONALIZE):
            run_stage(ctx, index, stage, lambda advance: {"skipped": _NOT_USED}, total=None)  # type: ignore[arg-type]
        curate_stage(ctx, index)
        train_stage(ctx, index)
    evaluate_stage(ctx, index)


def round_done(store: Store, run_id: str, index: int) -> bool:
    status = store.stage_status(run_id, index)
    return all(status.get(s) == "done" for s in Stage)


def run_cai(
    run_id: str, recipe: dict, db_url: str, home: str, threads: int = 0,
    *, round_fn: Callable[..., Any] = cai_round,
) -> list[dict]:  # fmt: skip
    """Round 0 then ``recipe["rounds"]`` rounds; resumes from what the store holds."""
    ctx = _context(run_id, recipe, db_url, home, threads)
    with start_run(ctx, name=ctx.recipe.name, recipe={"kind": "cai", **recipe}, problems=ctx.train_pool + ctx.heldout):
        return _run_cai_rounds(ctx, recipe, db_url, home, threads, round_fn)


def _run_cai_rounds(
    ctx: CaiContext, recipe: dict, db_url: str, home: str, threads: int, round_fn: Callable[..., Any],
) -> list[dict]:  # fmt: skip
    """The rounds the store does not hold as done, in order; then the run's status."""
    run_id, store = ctx.run_id, ctx.store
    timings: list[dict] = []
    try:
        for index in range(ctx.recipe.rounds + 1):
            if round_done(store, run_id, index):
                continue
            clock = time.perf_counter()
            round_fn(run_id, index, recipe, db_url, home, threads)
            timings.append({"index": index, "wall_seconds": time.perf_counter() - clock})
    except BaseException:
        store.set_run_status(run_id, "failed")
        raise
    store.set_run_status(run_id, "done")
    return timings


@flow(name="selftaught-cai-round", log_prints=False)
def cai_round_flow(run_id: str, index: int, recipe: dict, db_url: str, home: str, threads: int = 0) -> None:
    """One Constitutional AI round (see the module docstring)."""
    cai_round(run_id, index, recipe, db_url, home, threads)


@flow(name="selftaught-cai-run", log_prints=False)
def cai_run_flow(run_id: str, recipe: dict, db_url: str, home: str, threads: int = 0) -> list[dict]:
    """A Constitutional AI run: round 0 then ``recipe["rounds"]`` rounds, resumable."""
    return run_cai(run_id, recipe, db_url, home, threads, round_fn=cai_round_flow)


def new_cai_run_id(recipe: CaiRecipe) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", recipe.name.lower()).strip("-") or "cai"
    return f"{slug}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid() % 10000:04d}"
