"""evaluate: held-out accuracy of one policy, four ways.

In: a policy, problems, K, a seed. Out: an ``Evaluation`` plus every sample and
judged sample it produced (so the store can keep them), where

- ``greedy_accuracy``: the share of problems whose greedy completion passes;
- ``pass_at_1``: mean over problems of (passing samples / K) at ``temperature`` --
  the "sampled accuracy" the rounds are meant to raise;
- ``pass_at_k``: the unbiased estimator of Chen et al. (2021) with n = K, i.e. the
  share of problems with at least one passing sample;
- ``maj_at_k``: the share of problems where the most common final answer among the
  K samples (self-consistency) passes.

Sample indices: 0..K-1 are the sampled completions; index K is the greedy one (its
params say ``do_sample=False``). All carry ``SampleSource.EVAL``.

The metric helpers are pure functions; only ``evaluate`` touches a model.
"""

from __future__ import annotations

from collections import Counter
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from functools import partial

from selftaught.judges.base import Verifier
from selftaught.judges.extract import extract_answer, vote_key
from selftaught.loops.generate import generate
from selftaught.loops.policy import Completer
from selftaught.loops.verify import ARITHMETIC, judge_all
from selftaught.records import Evaluation, Judged, Problem, Sample, SampleSource, SamplingParams, Split


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from ``n`` samples of which ``c`` passed: 1 - C(n-c, k) / C(n, k).

    >>> pass_at_k(8, 0, 4), pass_at_k(8, 8, 1), pass_at_k(4, 1, 1)
    (0.0, 1.0, 0.25)
    """
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"need 0 <= c <= n and 1 <= k <= n, got n={n} c={c} k={k}")
    if n - c < k:
        return 1.0
    return 1.0 - math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))


def majority_answer(answers: Sequence[str | None]) -> str | None:
    """The most common normalised answer; ties go to the one seen first; None never wins.

    >>> majority_answer(["68", None, "067", "68.0", "67", None, None])
    '68'
    """
    keys = [vote_key(a) for a in answers]
    counts = Counter(k for k in keys if k is not None)
    if not counts:
        return None
    best = max(counts.values())
    return next(k for k in keys if k is not None and counts[k] == best)


def summarize(
    sampled: Sequence[Judged],
    greedy: Sequence[Judged],
    problems: Sequence[Problem],
    *,
    k: int,
    checkpoint_id: str,
    split: Split,
    answer_fn: Callable[[str], str | None] = partial(extract_answer, plain=True),
) -> Evaluation:
    """Compute the four metrics from judged samples (pure; used by ``evaluate``)."""
    by_problem: dict[str, list[Judged]] = {p.id: [] for p in problems}
    for j in sampled:
        by_problem[j.sample.problem_id].append(j)
    greedy_pass = {j.sample.problem_id: j.verdict.passed for j in greedy}
    n = max(len(problems), 1)
    p1 = pk = maj = 0.0
    ks = sorted({x for x in (1, 2, 4, 8, 16, k) if x <= k})
    pass_at = dict.fromkeys(ks, 0.0)
    for p in problems:
        js = by_problem[p.id]
        c = sum(j.verdict.passed for j in js)
        if len(js) != k:
            raise ValueError(f"problem {p.id!r} has {len(js)} samples, expected {k}")
        p1 += c / k
        pk += pass_at_k(k, c, k)
        for x in ks:
            pass_at[x] += pass_at_k(k, c, x)
        winner = majority_answer([answer_fn(j.sample.completion) for j in js])
        if winner is not None:
            voted = next(j for j in js if vote_key(answer_fn(j.sample.completion)) == winner)
            maj += voted.verdict.passed
    tokens = [j.sample.n_tokens for j in sampled]
    return Evaluation(
        checkpoint_id=checkpoint_id,
        split=split,
        n_problems=len(problems),
        k=k,
        greedy_accuracy=sum(greedy_pass.get(p.id, False) for p in problems) / n,
        pass_at_1=p1 / n,
        pass_at_k=pk / n,
        maj_at_k=maj / n,
        extra={
            "pass_at": {str(x): v / n for x, v in pass_at.items()},
            "mean_tokens": sum(tokens) / max(len(tokens), 1),
        },
    )


def evaluate(
    policy: Completer,
    problems: Sequence[Problem],
    *,
    k: int,
    seed: int,
    checkpoint_id: str,
    temperature: float = 1.0,
    judge: Verifier = ARITHMETIC,
    max_new_tokens: int = 64,
    batch_size: int = 64,
    progress: Callable[[int], None] | None = None,
    prompts: Sequence[str] | None = None,
    answer_fn: Callable[[str], str | None] | None = None,
) -> tuple[Evaluation, list[Sample], list[Judged]]:
    """Greedy and K sampled completions per problem, judged and summarised.

    ``prompts``: the texts the policy reads, one per problem (default: each problem's own
    prompt); ``answer_fn``: how maj@k reads a final answer (default: the embedded task's,
    ``judges.extract.extract_answer(..., plain=True)``)."""
    by_id: Mapping[str, Problem] = {p.id: p for p in problems}
    splits = {p.split for p in problems}
    split = splits.pop() if len(splits) == 1 else Split.HELDOUT
    sampled_params = SamplingParams(temperature=temperature, max_new_tokens=max_new_tokens, do_sample=True)
    greedy_params = SamplingParams(temperature=0.0, max_new_tokens=max_new_tokens, do_sample=False)
    n = len(problems)

    def greedy_progress(done: int) -> None:
        if progress is not None:
            progress(n + done)

    sampled = generate(
        policy, problems, k=k, params=sampled_params, seed=seed, source=SampleSource.EVAL,
        checkpoint_id=checkpoint_id, batch_size=batch_size, progress=progress, prompts=prompts,
    )
    greedy = [
        _reindex(s, k)
        for s in generate(
            policy, problems, k=1, params=greedy_params, seed=seed, source=SampleSource.EVAL,
            checkpoint_id=checkpoint_id, batch_size=batch_size * 4, progress=greedy_progress, prompts=prompts,
        )
    ]
    judged_sampled = judge_all(sampled, by_id, judge)
    judged_greedy = judge_all(greedy, by_id, judge)
    evaluation = summarize(
        judged_sampled, judged_greedy, problems, k=k, checkpoint_id=checkpoint_id, split=split,
        answer_fn=answer_fn or partial(extract_answer, plain=True),
    )
    return evaluation, sampled + greedy, judged_sampled + judged_greedy


def _reindex(sample: Sample, index: int) -> Sample:
    return replace(sample, index=index)
