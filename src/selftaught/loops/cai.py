"""Constitutional AI: critique -> revision data for SFT, and AI-feedback pairs for DPO.

In: prompts (``Problem``s, tags in ``meta["tags"]``), a ``Constitution``, chat models.
Out: frozen records (``Sample`` answers, ``Critique``, ``Revision``, ``PreferencePair``,
``CaiFailure``) and TRL-ready rows. This module calls models and nothing else: it does not
store, schedule or train — the flow stores what ``SlCaiResult``/``RlCaiResult`` hold and
hands ``sft_rows``/``dpo_rows`` to the trainer.

SL-CAI (Bai et al. 2022, section 3)::

    answer(prompt)                             -> Sample
    for pass in range(n_revisions):
        principle ~ weights (one per prompt, or a fresh one per pass)
        critique(prompt, answer, principle)    -> Critique
        revise(prompt, answer, critique)       -> Revision   (becomes the next pass's answer)
    SFT row: (prompt, last revision)

RL-CAI (section 4), with DPO instead of a reward model + PPO::

    two answers per prompt from the policy      -> Sample x 2
    principle ~ weights
    feedback model scores "A" vs "B" as its next token (option_logprobs), softmaxed over the
    two options -> P(first is better); with ``debias_order`` the question is also asked with
    the answers swapped and the two probabilities averaged (small models favour a position)
    -> PreferencePair (every pair is recorded); pairs with p >= threshold -> DPO rows

Differences from the paper: the critic and reviser are whatever ``ChatModel`` you pass (the
policy by default, as in the paper); no red-team prompts — the bundled prompts are ordinary
requests; preferences are not soft labels for a preference model but a filter for DPO.

Seeds: model calls are seeded from ``cfg.seed`` and the pass/step; principle draws use
``random.Random(f"{seed}:{problem_id}:{pass}")``, so they do not depend on batch order.
A model call that fails (an endpoint after its retries) becomes a ``CaiFailure`` and that
prompt's chain stops; nothing here raises for a failed call.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass, replace
from typing import Any, Sequence

from selftaught.constitution import Constitution, Principle, constitution_hash, prompt_tags, sample_principle
from selftaught.constitution.prompts import (
    OPTIONS,
    answer_messages,
    clean_revision,
    comparison_messages,
    critique_messages,
    revision_messages,
)
from selftaught.loops.chat import ChatError, ChatModel
from selftaught.records import (
    CaiFailure,
    CaiStep,
    Critique,
    PreferencePair,
    Problem,
    Revision,
    Sample,
    SampleSource,
    SamplingParams,
    TrainingExample,
    TrainingSet,
)

SL_METHOD = "sl-cai"
RL_METHOD = "rl-cai"


@dataclass(frozen=True)
class SlCaiConfig:
    """Settings of one SL-CAI pass over a set of prompts."""

    n_revisions: int = 1  # critique -> revise passes per answer
    resample_principle: bool = False  # draw a fresh principle for every pass (paper) or one per prompt
    answer_max_new_tokens: int = 128  # tokens for the initial answer and each revision
    critique_max_new_tokens: int = 96  # tokens for each critique
    temperature: float = 0.0  # for answers, critiques and revisions; 0 = greedy
    seed: int = 0  # base seed for model calls and principle draws
    min_overlap: float = 0.0  # drop revisions whose content words are mostly not in prompt+answer (0 = off)


@dataclass(frozen=True)
class RlCaiConfig:
    """Settings of one RL-CAI preference-collection pass."""

    answer_max_new_tokens: int = 128  # tokens for each of the two answers
    temperature: float = 1.0  # must be > 0, or both answers are the same
    threshold: float = 0.6  # keep pairs whose preference probability >= this for DPO
    debias_order: bool = True  # ask in both orders and average
    seed: int = 0


@dataclass(frozen=True)
class SlCaiResult:
    """Everything SL-CAI produced; the flow stores all of it."""

    constitution_hash: str
    answers: tuple[Sample, ...]
    critiques: tuple[Critique, ...]
    revisions: tuple[Revision, ...]
    failures: tuple[CaiFailure, ...]
    training_set: TrainingSet  # (prompt, final revision), method "sl-cai"


@dataclass(frozen=True)
class RlCaiResult:
    """Everything RL-CAI produced: all pairs (with probabilities) and the kept ones."""

    constitution_hash: str
    answers: tuple[Sample, ...]
    pairs: tuple[PreferencePair, ...]
    kept: tuple[PreferencePair, ...]  # p_chosen >= threshold
    failures: tuple[CaiFailure, ...]
    identical: tuple[str, ...] = ()  # problem ids whose two answers were the same (not compared)


# --- SL-CAI --------------------------------------------------------------------------------


def answer(
    problems: Sequence[Problem],
    policy: ChatModel,
    *,
    max_new_tokens: int,
    temperature: float,
    seed: int,
    index: int = 0,
    source: SampleSource = SampleSource.GENERATE,
    checkpoint_id: str | None = None,
) -> tuple[list[Sample], list[CaiFailure]]:
    """The policy's answer to each prompt, as ``Sample`` ``index`` of its problem."""
    params = SamplingParams(
        temperature=temperature, max_new_tokens=max_new_tokens, do_sample=temperature > 0
    )
    outs = policy.complete(
        [answer_messages(p.prompt) for p in problems],
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        seed=seed,
    )
    samples: list[Sample] = []
    failures: list[CaiFailure] = []
    for p, out in zip(problems, outs, strict=True):
        if isinstance(out, ChatError):
            failures.append(CaiFailure(p.id, CaiStep.ANSWER, str(out)))
            continue
        samples.append(
            Sample(
                problem_id=p.id,
                index=index,
                prompt=p.prompt,
                completion=out,
                source=source,
                seed=seed,
                params=params,
                checkpoint_id=checkpoint_id,
            )
        )
    return samples, failures


def _principle_for(c: Constitution, problem: Problem, seed: int, pass_index: int, resample: bool) -> Principle:
    draw = pass_index if resample else 0
    return sample_principle(c, random.Random(f"{seed}:{problem.id}:{draw}"), prompt_tags(problem))


def critique_and_revise(
    answers: Sequence[Sample],
    problems: Sequence[Problem],
    constitution: Constitution,
    critic: ChatModel,
    cfg: SlCaiConfig,
) -> tuple[list[Critique], list[Revision], list[CaiFailure]]:
    """Run ``cfg.n_revisions`` critique -> revision passes over each answer, batched per pass."""
    by_id = {p.id: p for p in problems}
    chash = constitution_hash(constitution)
    critiques: list[Critique] = []
    revisions: list[Revision] = []
    failures: list[CaiFailure] = []
    # live chains: (sample, current text)
    live: list[tuple[Sample, str]] = [(s, s.completion) for s in answers]
    for k in range(cfg.n_revisions):
        if not live:
            break
        principles = [
            _principle_for(constitution, by_id[s.problem_id], cfg.seed, k, cfg.resample_principle)
            for s, _ in live
        ]
        crit_seed = cfg.seed + 1000 * (k + 1)
        crit_out = critic.complete(
            [
                critique_messages(constitution, pr, s.prompt, text)
                for (s, text), pr in zip(live, principles)
            ],
            max_new_tokens=cfg.critique_max_new_tokens,
            temperature=cfg.temperature,
            seed=crit_seed,
        )
        ok: list[tuple[Sample, str, Principle, str]] = []
        for (s, text), pr, out in zip(live, principles, crit_out, strict=True):
            if isinstance(out, ChatError):
                failures.append(CaiFailure(s.problem_id, CaiStep.CRITIQUE, str(out), pr.id, s.key, k))
                continue
            critiques.append(Critique(s.problem_id, s.key, k, pr.id, chash, text, out, crit_seed))
            ok.append((s, text, pr, out))
        rev_seed = crit_seed + 1
        rev_out = critic.complete(
            [revision_messages(constitution, pr, s.prompt, text, crit) for s, text, pr, crit in ok],
            max_new_tokens=cfg.answer_max_new_tokens,
            temperature=cfg.temperature,
            seed=rev_seed,
        )
        live = []
        for (s, text, pr, crit), out in zip(ok, rev_out, strict=True):
            revised = "" if isinstance(out, ChatError) else clean_revision(out)
            why = revision_problem(out, revised, crit, f"{s.prompt} {text}", cfg.min_overlap)
            if why:
                failures.append(CaiFailure(s.problem_id, CaiStep.REVISE, why, pr.id, s.key, k))
                continue
            revisions.append(Revision(s.problem_id, s.key, k, pr.id, chash, revised, rev_seed))
            live.append((s, revised))
    return critiques, revisions, failures


def _content_words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z]+", text.lower()) if len(w) >= 4}


def revision_problem(out: Any, revised: str, critique: str, source: str, min_overlap: float) -> str | None:
    """Why a revision is unusable, or None. Small models often answer the revision request by
    repeating their critique ("The answer is 12 words."); that is not a rewrite of the answer.

    >>> revision_problem("x", "The answer is 12 words.", "The answer is 12 words.", "bread ...", 0.0)
    'revision repeats the critique'
    >>> revision_problem("x", "The answer is 12 words.", "Too long.", "Bread goes stale ...", 0.5)
    'revision off topic (overlap 0.00 < 0.5)'
    """
    if isinstance(out, ChatError):
        return str(out)
    if not revised:
        return "empty revision"
    norm = " ".join(revised.lower().split())
    if norm and norm in " ".join(critique.lower().split()):
        return "revision repeats the critique"
    if min_overlap > 0:
        words = _content_words(revised)
        overlap = len(words & _content_words(source)) / len(words) if words else 0.0
        if overlap < min_overlap:
            return f"revision off topic (overlap {overlap:.2f} < {min_overlap:g})"
    return None


def curate_revisions(answers: Sequence[Sample], revisions: Sequence[Revision]) -> TrainingSet:
    """One SFT example per answer that was revised at least once: (prompt, last revision)."""
    last: dict[tuple[str, str, int], Revision] = {}
    for r in revisions:
        if r.sample_key not in last or r.pass_index > last[r.sample_key].pass_index:
            last[r.sample_key] = r
    examples = tuple(
        TrainingExample(prompt=s.prompt, completion=last[s.key].text, problem_id=s.problem_id, sample_key=s.key)
        for s in answers
        if s.key in last
    )
    return TrainingSet(
        method=SL_METHOD,
        examples=examples,
        stats={"answers": len(answers), "revised": len(examples)},
    )


def sl_cai(
    problems: Sequence[Problem],
    constitution: Constitution,
    policy: ChatModel,
    cfg: SlCaiConfig = SlCaiConfig(),
    *,
    critic: ChatModel | None = None,
    checkpoint_id: str | None = None,
) -> SlCaiResult:
    """answer -> critique -> revise (x n) -> curate. ``critic`` defaults to the policy."""
    answers, failures = answer(
        problems,
        policy,
        max_new_tokens=cfg.answer_max_new_tokens,
        temperature=cfg.temperature,
        seed=cfg.seed,
        checkpoint_id=checkpoint_id,
    )
    critiques, revisions, more = critique_and_revise(answers, problems, constitution, critic or policy, cfg)
    return SlCaiResult(
        constitution_hash=constitution_hash(constitution),
        answers=tuple(answers),
        critiques=tuple(critiques),
        revisions=tuple(revisions),
        failures=tuple(failures + more),
        training_set=curate_revisions(answers, revisions),
    )


def sft_rows(ts: TrainingSet) -> list[dict[str, Any]]:
    """TRL conversational prompt/completion rows (``SFTTrainer`` applies the chat template)."""
    return [
        {
            "prompt": [{"role": "user", "content": e.prompt}],
            "completion": [{"role": "assistant", "content": e.completion}],
        }
        for e in ts.examples
    ]


# --- RL-CAI --------------------------------------------------------------------------------


def preference_probability(scores: Sequence[float]) -> float:
    """P(option 0) from the log-probabilities of two options, normalised over the two.

    >>> round(preference_probability([math.log(0.3), math.log(0.1)]), 3)
    0.75
    """
    a, b = scores
    if a == b:  # includes both -inf
        return 0.5
    m = max(a, b)
    ea, eb = math.exp(a - m), math.exp(b - m)
    return ea / (ea + eb)


def compare(
    problems: Sequence[Problem],
    firsts: Sequence[Sample],
    seconds: Sequence[Sample],
    constitution: Constitution,
    feedback: ChatModel,
    cfg: RlCaiConfig,
) -> tuple[list[PreferencePair], list[CaiFailure]]:
    """Ask the feedback model which of each (first, second) answer is better."""
    by_id = {p.id: p for p in problems}
    chash = constitution_hash(constitution)
    principles = [_principle_for(constitution, by_id[a.problem_id], cfg.seed, 0, False) for a in firsts]
    asks = [
        comparison_messages(constitution, pr, a.prompt, a.completion, b.completion)
        for a, b, pr in zip(firsts, seconds, principles, strict=True)
    ]
    scored = feedback.option_logprobs(asks, list(OPTIONS))
    if cfg.debias_order:
        swapped = feedback.option_logprobs(
            [
                comparison_messages(constitution, pr, a.prompt, b.completion, a.completion)
                for a, b, pr in zip(firsts, seconds, principles)
            ],
            list(OPTIONS),
        )
    else:
        swapped = [None] * len(asks)
    pairs: list[PreferencePair] = []
    failures: list[CaiFailure] = []
    for a, b, pr, s1, s2 in zip(firsts, seconds, principles, scored, swapped, strict=True):
        err = next((s for s in (s1, s2) if isinstance(s, ChatError)), None)
        if err is not None:
            failures.append(CaiFailure(a.problem_id, CaiStep.COMPARE, str(err), pr.id, a.key))
            continue
        p_first = preference_probability(s1)
        rows = (tuple(s1),)
        if s2 is not None:
            p_first = 0.5 * (p_first + (1.0 - preference_probability(s2)))
            rows = (tuple(s1), tuple(s2))
        chosen, rejected, p = (a, b, p_first) if p_first >= 0.5 else (b, a, 1.0 - p_first)
        pairs.append(
            PreferencePair(
                problem_id=a.problem_id,
                prompt=a.prompt,
                principle_id=pr.id,
                constitution_hash=chash,
                chosen=chosen.completion,
                rejected=rejected.completion,
                chosen_key=chosen.key,
                rejected_key=rejected.key,
                p_chosen=p,
                feedback_model=feedback.name,
                option_logprobs=rows,
            )
        )
    return pairs, failures


def rl_cai(
    problems: Sequence[Problem],
    constitution: Constitution,
    policy: ChatModel,
    cfg: RlCaiConfig = RlCaiConfig(),
    *,
    feedback: ChatModel | None = None,
    checkpoint_id: str | None = None,
) -> RlCaiResult:
    """Two sampled answers per prompt -> AI feedback -> pairs; ``feedback`` defaults to the policy."""
    if cfg.temperature <= 0:
        raise ValueError("RL-CAI needs temperature > 0 to get two different answers")
    kw = dict(max_new_tokens=cfg.answer_max_new_tokens, temperature=cfg.temperature, checkpoint_id=checkpoint_id)
    firsts, f1 = answer(problems, policy, seed=cfg.seed, index=0, **kw)  # type: ignore[arg-type]
    seconds, f2 = answer(problems, policy, seed=cfg.seed + 1, index=1, **kw)  # type: ignore[arg-type]
    fed = ai_feedback(problems, firsts, seconds, constitution, feedback or policy, cfg)
    return replace(fed, answers=tuple(firsts + seconds), failures=tuple(f1 + f2) + fed.failures)


def ai_feedback(
    problems: Sequence[Problem],
    firsts: Sequence[Sample],
    seconds: Sequence[Sample],
    constitution: Constitution,
    feedback: ChatModel,
    cfg: RlCaiConfig,
) -> RlCaiResult:
    """The constitution as a judge: each prompt's two answers (``index`` 0 and 1) compared by
    the feedback model -> pairs (all, and the kept ones); identical answers are not compared.
    The result's ``answers`` are empty (the caller has them)."""
    second_of = {s.problem_id: s for s in seconds}
    both = [(a, second_of[a.problem_id]) for a in firsts if a.problem_id in second_of]
    same = [a for a, b in both if a.completion.strip() == b.completion.strip()]
    usable = [(a, b) for a, b in both if a.completion.strip() != b.completion.strip()]
    pairs, failures = compare(
        problems, [a for a, _ in usable], [b for _, b in usable], constitution, feedback, cfg
    )
    return RlCaiResult(
        constitution_hash=constitution_hash(constitution),
        answers=(),
        pairs=tuple(pairs),
        kept=tuple(curate_pairs(pairs, cfg.threshold)),
        failures=tuple(failures),
        identical=tuple(a.problem_id for a in same),
    )


def curate_pairs(pairs: Sequence[PreferencePair], threshold: float) -> list[PreferencePair]:
    """The pairs the feedback model is confident about: ``p_chosen >= threshold``."""
    return [p for p in pairs if p.p_chosen >= threshold]


def dpo_rows(pairs: Sequence[PreferencePair]) -> list[dict[str, Any]]:
    """TRL conversational prompt/chosen/rejected rows for ``DPOTrainer``."""
    return [
        {
            "prompt": [{"role": "user", "content": p.prompt}],
            "chosen": [{"role": "assistant", "content": p.chosen}],
            "rejected": [{"role": "assistant", "content": p.rejected}],
        }
        for p in pairs
    ]
