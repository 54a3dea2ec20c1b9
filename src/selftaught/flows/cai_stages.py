"""The Constitutional AI steps of a round as Prefect tasks (``loops/methods.PLANS``: sl-cai,
rl-cai). Like every stage they read the store, call one ``loops.cai`` function, write
idempotently and are marked done through ``run_stage``; the curate (pairs) and train steps
of CAI rounds are the shared ones of ``flows/stages.py``.

    round i >= 1   the constitution FILE is loaded as the round starts (``record_constitution``,
                   called by ``flows/rounds.py``): its hash and canonical text are stored once
                   and the round is tied to that hash
    generate       answer: the policy answers each prompt (sl-cai: once, at the recipe's
                   temperature; rl-cai: twice, sampled at rl_temperature)
    judge          feedback (rl-cai): the constitution, asked of the policy, prefers one of the
                   two answers -> preference pairs with their probabilities (kept: p >= threshold)
    rationalize    revise (sl-cai): critique -> revision, ``passes`` times per answer; critiques
                   and revisions stored with their principle ids and the constitution hash
    curate         sl-cai: (prompt, final revision) rows (here); rl-cai: the kept pairs (stages.py)
    evaluate       violation rate of the held-out answers (``constitution.checks``)

The violation rate is stored as an ``Evaluation`` whose accuracy fields hold the share of
held-out answers with no violation (what the ``greedy`` column of ``selftaught rounds`` shows
for a CAI run) and whose ``extra`` holds ``violation_rate`` (share with at least one
violation), ``mean_violation_rate`` and ``by_principle``.

The steps of one round all seed from the generate stage's seed (``ctx.seed(index,
"generate")``): answers, principle draws and critiques/revisions/feedback get the seeds
``loops.cai.sl_cai``/``rl_cai`` give them, so a round split into stages produces what the
one-call version did. Models are the run's chat model on the recipe's placement.
"""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from selftaught.errors import StoreError
from selftaught.flows.context import RunContext, _seed, run_stage
from selftaught.progress import Advance
from selftaught.loops.methods import Family
from selftaught.records import Evaluation, Problem, Sample, SampleSource, Split, Stage


def record_constitution(ctx: RunContext, index: int) -> None:
    """Load the constitution file now; store its version once and tie the round to it (a
    round that already ran under another version: ``StoreError``)."""
    from selftaught.constitution import BUNDLED, bundled_path, canonical_json, constitution_hash, load_constitution

    name = ctx.recipe.constitution.name
    c = load_constitution(bundled_path(name) if name in BUNDLED else name)
    h = constitution_hash(c)
    ctx.store.add_constitution(h, c.name, canonical_json(c))
    ctx.store.ensure_round(ctx.run_id, index, constitution_hash=h)


def round_constitution(ctx: RunContext, index: int):
    """The constitution version round ``index`` is tied to, as the store holds it (so every
    stage of the round, and a resumed one, follows the same text)."""
    from selftaught.constitution import parse_constitution

    h = ctx.store.get_cai(ctx.run_id, index).constitution_hash
    found = None if h is None else ctx.store.get_constitution(h)
    if found is None:
        raise StoreError(f"run {ctx.run_id}: round {index} has no recorded constitution")
    return parse_constitution(found.text, f"constitution {h[:12]}")


def _chat(ctx: RunContext, path: str, name: str):
    from selftaught.loops.chat import load_chat

    return load_chat(path, name=name, threads=ctx.threads, placement=ctx.placement)


def chat_prompt(tokenizer: Any, prompt: str) -> str:
    """The policy's answer prompt, rendered with its chat template (what it is trained on)."""
    from selftaught.constitution.prompts import answer_messages

    return tokenizer.apply_chat_template(answer_messages(prompt), tokenize=False, add_generation_prompt=True)


def _failures(failures) -> dict:
    return {
        "n_failures": len(failures),
        "failures": [
            {"problem_id": f.problem_id, "step": f.step.value, "error": f.error[:200], "principle_id": f.principle_id}
            for f in failures[:20]
        ],
    }


def _answers(ctx: RunContext, index: int, problems: list[Problem]) -> list[Sample]:
    """The round's stored answers in the order of its problems (then by answer index)."""
    order = {p.id: i for i, p in enumerate(problems)}
    found = ctx.store.get_samples(ctx.run_id, index, SampleSource.GENERATE)
    return sorted(found, key=lambda s: (order.get(s.problem_id, len(order)), s.index))


@task(name="answer", cache_policy=NO_CACHE)
def answer_stage(ctx: RunContext, index: int) -> None:
    """generate: the policy's answers to the round's prompts (rl-cai: two sampled per prompt)."""
    problems = ctx.round_problems(index)
    c, rl = ctx.recipe.constitution, ctx.family(index) is Family.RL_CAI

    def body(advance: Advance) -> dict:
        from selftaught.loops.cai import answer

        parent = ctx.checkpoint(index - 1)
        policy = _chat(ctx, parent.path, parent.id)
        seed = _seed(ctx, index, "generate")
        temperature = c.rl_temperature if rl else c.temperature
        samples, failures = [], []
        for i in range(2 if rl else 1):  # rl-cai: answer i is seeded seed + i (loops.cai.rl_cai)
            got, failed = answer(problems, policy, max_new_tokens=c.max_new_tokens, temperature=temperature,
                                 seed=seed + i, index=i, checkpoint_id=parent.id)  # fmt: skip
            samples, failures = samples + got, failures + failed
        n_new = ctx.store.add_samples(ctx.run_id, index, samples)
        advance(len(problems))
        return {"n_answers": len(samples), "n_inserted": n_new, **_failures(failures)}

    run_stage(ctx, index, Stage.GENERATE, body, total=len(problems), placement=ctx.placement)


@task(name="revise", cache_policy=NO_CACHE)
def revise_stage(ctx: RunContext, index: int) -> None:
    """rationalize (sl-cai): the constitution critiques each answer, the policy revises it."""
    problems = ctx.round_problems(index)
    c = ctx.recipe.constitution

    def body(advance: Advance) -> dict:
        from selftaught.loops.cai import SlCaiConfig, critique_and_revise

        parent = ctx.checkpoint(index - 1)
        policy = _chat(ctx, parent.path, parent.id)
        cfg = SlCaiConfig(
            n_revisions=c.passes, resample_principle=c.resample_principle,
            answer_max_new_tokens=c.max_new_tokens, critique_max_new_tokens=c.critique_max_new_tokens,
            temperature=c.temperature, seed=_seed(ctx, index, "generate"), min_overlap=c.min_overlap,
        )  # fmt: skip
        answers = _answers(ctx, index, problems)
        constitution = round_constitution(ctx, index)
        critiques, revisions, failures = critique_and_revise(answers, problems, constitution, policy, cfg)
        n_new = ctx.store.add_critiques(ctx.run_id, index, critiques)
        n_new += ctx.store.add_revisions(ctx.run_id, index, revisions)
        advance(len(answers))
        return {"n_critiques": len(critiques), "n_revisions": len(revisions), "n_inserted": n_new,
                **_failures(failures)}  # fmt: skip

    run_stage(ctx, index, Stage.RATIONALIZE, body, total=len(problems), placement=ctx.placement)


@task(name="feedback", cache_policy=NO_CACHE)
def feedback_stage(ctx: RunContext, index: int) -> None:
    """judge (rl-cai): the constitution prefers one of each prompt's two answers."""
    problems = ctx.round_problems(index)
    c = ctx.recipe.constitution

    def body(advance: Advance) -> dict:
        from selftaught.loops.cai import RlCaiConfig, ai_feedback

        parent = ctx.checkpoint(index - 1)
        policy = _chat(ctx, parent.path, parent.id)
        cfg = RlCaiConfig(
            answer_max_new_tokens=c.max_new_tokens, temperature=c.rl_temperature,
            threshold=c.threshold, debias_order=c.debias_order, seed=_seed(ctx, index, "generate"),
        )  # fmt: skip
        answers = _answers(ctx, index, problems)
        firsts = [s for s in answers if s.index == 0]
        seconds = [s for s in answers if s.index == 1]
        fed = ai_feedback(problems, firsts, seconds, round_constitution(ctx, index), policy, cfg)
        n_new = ctx.store.add_preference_pairs(ctx.run_id, index, fed.pairs, fed.kept)
        advance(len(problems))
        return {"n_pairs": len(fed.pairs), "n_kept": len(fed.kept), "n_identical": len(fed.identical),
                "n_inserted": n_new, **_failures(fed.failures)}  # fmt: skip

    run_stage(ctx, index, Stage.JUDGE, body, total=len(problems), placement=ctx.placement)


@task(name="curate-revisions", cache_policy=NO_CACHE)
def curate_revisions_stage(ctx: RunContext, index: int) -> None:
    """curate (sl-cai): one SFT row per revised answer, (prompt, last revision)."""

    def body(advance: Advance) -> dict:
        from selftaught.loops.cai import curate_revisions

        cai = ctx.store.get_cai(ctx.run_id, index)
        answers = ctx.store.get_samples(ctx.run_id, index, SampleSource.GENERATE)
        ts = curate_revisions(answers, cai.revisions)
        ctx.store.add_training_set(ctx.run_id, index, ts)
        advance(len(ts.examples))
        return dict(ts.stats)

    run_stage(ctx, index, Stage.CURATE, body, total=None)


def feedback_pairs(ctx: RunContext, index: int) -> tuple[list, dict]:
    """The kept AI-feedback pairs of an rl-cai round as the DPO stages' ``VerifiedPair``s
    (raw prompts: the train stage renders them with the policy's chat template), and stats."""
    from selftaught.loops.dpo import VerifiedPair

    cai = ctx.store.get_cai(ctx.run_id, index)
    pairs = [VerifiedPair(p.problem_id, p.prompt, p.chosen, p.rejected, p.chosen_key, p.rejected_key) for p in cai.kept]
    return pairs, {"n_pairs": len(cai.pairs), "n_kept": len(cai.kept), "threshold": ctx.recipe.constitution.threshold}


@task(name="evaluate-violations", cache_policy=NO_CACHE)
def evaluate_violations_stage(ctx: RunContext, index: int) -> None:
    """evaluate: the held-out answers' violation rate under the constitution's checks."""
    heldout = ctx.heldout

    def body(advance: Advance) -> dict:
        from selftaught.constitution import prompt_tags
        from selftaught.constitution.checks import violation_report
        from selftaught.loops.cai import answer

        ckpt = ctx.checkpoint(index)
        policy = _chat(ctx, ckpt.path, ckpt.id)
        samples, failures = answer(
            heldout, policy, max_new_tokens=ctx.recipe.constitution.max_new_tokens, temperature=0.0,
            seed=_seed(ctx, 0, "evaluate"), source=SampleSource.EVAL, checkpoint_id=ckpt.id,
        )  # fmt: skip
        advance(len(heldout))
        by_id = {p.id: p for p in heldout}
        rep = violation_report((s.completion, prompt_tags(by_id[s.problem_id])) for s in samples)
        ok = 1.0 - rep.any_rate
        ctx.store.add_samples(ctx.run_id, index, samples)
        # each answer's verdict from the recipe's judge (``constitution``: the same checks, per answer)
        from selftaught.loops.verify import judge_all

        ctx.store.add_verdicts(ctx.run_id, index, judge_all(samples, by_id, ctx.judge()))
        extra = {"violation_rate": rep.any_rate, "mean_violation_rate": rep.mean_rate,
                 "by_principle": dict(rep.by_principle), "n_failures": len(failures)}  # fmt: skip
        ctx.store.add_evaluation(ctx.run_id, index, Evaluation(
            checkpoint_id=ckpt.id, split=Split.HELDOUT, n_problems=len(samples), k=1,
            greedy_accuracy=ok, pass_at_1=ok, pass_at_k=ok, maj_at_k=ok, extra=extra,
        ))  # fmt: skip
        return extra

    run_stage(ctx, index, Stage.EVALUATE, body, total=len(heldout), placement=ctx.placement)
