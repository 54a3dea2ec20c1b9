"""Math-Shepherd step labels: Monte-Carlo rollouts from every step prefix of a sample.

In: a policy (anything with ``complete``, see ``loops/policy.py``), the samples to label,
their problems, a judge, the number of rollouts N and the sampling params. Out: one
``StepLabel`` per step of every sample: (sample, step index, step text, rollouts,
successes), from which the hard label (any success) and the soft label (the fraction)
follow. ``StepLabel`` is defined in ``selftaught.records``, so the store can keep labels
without importing this module.

For a sample with steps s_1..s_m (``steps.split_steps``) the label of step i estimates
"is the prefix s_1..s_i still on a path to the correct answer?": the policy continues N
times from ``prompt + join_steps(s_1..s_i)`` and the judge grades each continuation
(prefix + continuation). The *final-answer* step (the last step of a completion that
closed ``</think>``) needs no rollout: its label is the judge's verdict on the sample
itself, recorded as 1 rollout with 0 or 1 success.

This is the expensive part, so every prefix of every sample goes into the same batched
``complete`` calls (``batch_size`` prefixes x N sequences each), and identical prefixes
(two samples of one problem that agree on their first steps) are rolled out once and share
their counts. Batch b is seeded with ``generate.batch_seed(seed, b)``, so the labels
depend only on the seed, the params, the batch size and the weights.

Differences from the paper: Math-Shepherd completes from a step with a separate
"completer" model; here the policy being labelled is the completer (the usual choice
when there is one model). Nothing here knows about the store.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from selftaught.errors import DataError
from selftaught.judges.base import THINK_CLOSE, Verifier
from selftaught.loops.generate import batch_seed
from selftaught.loops.policy import Completer
from selftaught.loops.verify import ARITHMETIC
from selftaught.prm.steps import join_steps, split_steps
from selftaught.records import Outcome, Problem, Sample, SampleSource, SamplingParams, StepLabel


@dataclass(frozen=True)
class Rollout:
    """One continuation from a step prefix, judged."""

    problem_id: str
    prompt: str
    prefix: str  # the steps it continued from (``join_steps`` text)
    continuation: str
    passed: bool

    @property
    def completion(self) -> str:
        return self.prefix + self.continuation


@dataclass(frozen=True)
class LabelStats:
    """What a labelling pass cost."""

    samples: int
    steps: int
    prefixes_rolled_out: int  # distinct prefixes actually continued
    sequences_generated: int  # prefixes x rollouts
    seconds: float


def _has_final(completion: str, delimiter: str | None) -> bool:
    return delimiter is None and THINK_CLOSE in completion and bool(
        completion.rsplit(THINK_CLOSE, 1)[1].strip()
    )


def label_steps(
    policy: Completer,
    samples: Sequence[Sample],
    problems_by_id: Mapping[str, Problem],
    *,
    rollouts: int,
    params: SamplingParams,
    seed: int,
    judge: Verifier = ARITHMETIC,
    delimiter: str | None = None,
    batch_size: int = 64,
    max_steps: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    rollouts_out: list[Rollout] | None = None,
) -> tuple[list[StepLabel], LabelStats]:
    """Label every step of every sample by ``rollouts`` continuations (see module docstring).

    ``max_steps`` caps the steps labelled per sample (the first ones; None = all).
    ``rollouts_out``: when a list is given, every judged rollout is appended to it (they
    are judged completions too: extra outcome-model data at no extra generation cost).
    ``progress(done_prefixes, total_prefixes)`` before the first generate call and after each.
    """
    import time

    if rollouts < 1:
        raise ValueError(f"rollouts must be >= 1, got {rollouts}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if not params.do_sample:
        raise ValueError("Monte-Carlo labels need sampling (params.do_sample=True)")
    clock = time.perf_counter()

    # 1. every (sample, step) -> the prefix it is labelled from, or its own verdict
    plan: list[tuple[Sample, int, str, tuple[str, str] | None, Problem]] = []
    prefixes: dict[tuple[str, str], int] = {}  # (prompt, prefix text) -> row in the rollout list
    for s in samples:
        problem = problems_by_id.get(s.problem_id)
        if problem is None:
            raise DataError(f"sample {s.key} refers to unknown problem {s.problem_id!r}")
        steps = split_steps(s.completion, delimiter)
        final = _has_final(s.completion, delimiter)
        n = len(steps) if max_steps is None else min(len(steps), max_steps)
        for i in range(n):
            if final and i == len(steps) - 1:
                plan.append((s, i, steps[i], None, problem))
                continue
            text = join_steps(steps[: i + 1], delimiter=delimiter)
            # roll out after the text the sample was written after (a chat run's rendered
            # prompt), never after a STaR hint
            key = (problem.prompt if s.source is SampleSource.RATIONALIZE else s.prompt, text)
            prefixes.setdefault(key, len(prefixes))
            plan.append((s, i, steps[i], key, problem))

    # 2. roll out every distinct prefix, batched
    keys = list(prefixes)
    problem_of = {k: p for (_, _, _, k, p) in plan if k is not None}
    successes: list[int] = [0] * len(keys)
    if progress is not None:
        progress(0, len(keys))
    for b, start in enumerate(range(0, len(keys), batch_size)):
        batch = keys[start : start + batch_size]
        outs = policy.complete(
            [prompt + prefix for prompt, prefix in batch], n=rollouts, params=params,
            seed=batch_seed(seed, b),
        )  # fmt: skip
        for j, (key, comps) in enumerate(zip(batch, outs, strict=True)):
            problem = problem_of[key]
            passed = [judge.verify(problem, key[1] + c.text).outcome is Outcome.PASS for c in comps]
            successes[start + j] = sum(passed)
            if rollouts_out is not None:
                rollouts_out.extend(
                    Rollout(problem.id, key[0], key[1], c.text, ok) for c, ok in zip(comps, passed)
                )
        if progress is not None:
            progress(start + len(batch), len(keys))

    # 3. one label per planned step
    labels: list[StepLabel] = []
    for s, i, step, key, problem in plan:
        if key is None:
            ok = judge.verify(problem, s.completion).outcome is Outcome.PASS
            labels.append(StepLabel(s.key, i, step, 1, int(ok)))
        else:
            labels.append(StepLabel(s.key, i, step, rollouts, successes[prefixes[key]]))
    stats = LabelStats(
        samples=len(samples), steps=len(labels), prefixes_rolled_out=len(keys),
        sequences_generated=len(keys) * rollouts, seconds=time.perf_counter() - clock,
    )  # fmt: skip
    return labels, stats


def stepwise_rows(
    samples: Sequence[Sample],
    labels: Sequence[StepLabel],
    problems_by_id: Mapping[str, Problem],
    *,
    soft: bool = False,
    delimiter: str | None = None,
) -> list[dict]:
    """TRL stepwise-supervision rows: ``{"prompt", "completions": [...], "labels": [...]}``.

    One row per sample whose steps all have a label, in sample order; the prompt is the
    problem's own prompt (never a STaR hint). Hard labels are booleans (TRL's convention),
    soft labels floats. Extra keys ``problem_id``, ``sample_index``, ``rollouts``,
    ``successes`` say where each row came from.
    """
    by_sample: dict[tuple[str, str, int], dict[int, StepLabel]] = {}
    for lab in labels:
        by_sample.setdefault(lab.sample_key, {})[lab.step_index] = lab
    rows = []
    for s in samples:
        got = by_sample.get(s.key)
        if not got:
            continue
        steps = split_steps(s.completion, delimiter)
        if len(got) != len(steps) or sorted(got) != list(range(len(steps))):
            continue
        ordered = [got[i] for i in range(len(steps))]
        rows.append({
            "prompt": problems_by_id[s.problem_id].prompt,
            "completions": [lab.step for lab in ordered],
            "labels": [lab.soft if soft else bool(lab.hard) for lab in ordered],
            "problem_id": s.problem_id,
            "sample_index": s.index,
            "rollouts": [lab.rollouts for lab in ordered],
            "successes": [lab.successes for lab in ordered],
        })  # fmt: skip
    return rows


def rollout_rows(rollouts: Sequence[Rollout], *, delimiter: str | None = None) -> list[dict]:
    """Extra PRM rows from judged rollouts, labelled only where the rollout itself says so.

    A rollout that reached the correct answer is a success from every one of its own
    prefixes, so each of its steps gets the hard label True (Math-Shepherd's "any
    success"). A rollout that failed says only that its final answer is wrong: that step
    gets False and the others ``None`` (no label; ignored in training). A rollout cut off
    before its answer says nothing and gives no row.
    """
    rows = []
    for r in rollouts:
        steps = split_steps(r.completion, delimiter)
        if not steps:
            continue
        if r.passed:
            labels: list[bool | None] = [True] * len(steps)
        elif _has_final(r.completion, delimiter):
            labels = [None] * (len(steps) - 1) + [False]
        else:
            continue
        rows.append({"prompt": r.prompt, "completions": steps, "labels": labels, "problem_id": r.problem_id})
    return rows
