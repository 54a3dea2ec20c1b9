"""curate: judged samples in, a ``TrainingSet`` of prompt/completion rows out.

RFT (rejection-sampling fine-tuning, "expert iteration"): keep the samples that
passed, drop exact duplicate completions within a problem, keep at most
``max_per_problem`` per problem (first by sample index, so the choice is
deterministic). The training prompt is always the *problem's* prompt.

STaR (Zelikman et al. 2022) adds rationalization: for each problem with no correct
sample, the policy is prompted again with the answer given as a hint
(``rationalization_prompts``; for chat prompts the hint goes into the user turn, see
``prompting.py``); rationales that reach the answer are trained on *as if they had been
written without the hint* -- the row's prompt is the problem's own prompt, and a
completion that gives the hint away (quotes it; in chat form, says "hint") is dropped. Unlike the paper we
do not restart from the base model each iteration: the flow fine-tunes the current
policy (as RFT does), so STaR here differs from RFT only by the rationalized rows.

This module never touches a model; it only filters and reshapes records.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from selftaught.errors import DataError
from selftaught.records import Judged, Problem, TrainingExample, TrainingSet

if TYPE_CHECKING:
    from selftaught.loops.prompting import PromptStyle

HINT_TEMPLATE = " (the answer is {answer})"


def rationalization_prompt(problem: Problem) -> str:
    """The problem's prompt with the gold answer as a hint, placed before a trailing ``A:``.

    >>> from selftaught.loops.arithmetic import make_problem
    >>> rationalization_prompt(make_problem(23, 45, 2))
    'Q: 23+45=? (the answer is 68) A:'
    """
    if problem.answer is None:
        raise DataError(f"problem {problem.id!r} has no answer to give as a hint")
    hint = HINT_TEMPLATE.format(answer=problem.answer)
    prompt = problem.prompt
    stripped = prompt.rstrip()
    if stripped.endswith("A:"):
        head = stripped[: -len("A:")].rstrip()
        return f"{head}{hint} A:{prompt[len(stripped):]}"
    return f"{prompt}{hint}"


def rationalization_prompts(problems: Sequence[Problem]) -> list[str]:
    """One hinted prompt per problem, in order."""
    return [rationalization_prompt(p) for p in problems]


def _passing_by_problem(judged: Iterable[Judged]) -> dict[str, list[Judged]]:
    by: dict[str, list[Judged]] = {}
    for j in judged:
        if j.verdict.passed:
            by.setdefault(j.sample.problem_id, []).append(j)
    return by


def _select(
    passing: Sequence[Judged], problem: Problem, max_per_problem: int, *, reject: Callable[[str], bool] | None = None
) -> list[TrainingExample]:
    seen: set[str] = set()
    rows: list[TrainingExample] = []
    for j in sorted(passing, key=lambda j: j.sample.index):
        text = j.sample.completion
        if text in seen or (reject is not None and reject(text)):
            continue
        seen.add(text)
        rows.append(
            TrainingExample(
                prompt=problem.prompt, completion=text, problem_id=problem.id, sample_key=j.sample.key
            )
        )
        if len(rows) >= max_per_problem:
            break
    return rows


def _problem(problems_by_id: Mapping[str, Problem], pid: str) -> Problem:
    try:
        return problems_by_id[pid]
    except KeyError:
        raise DataError(f"judged sample refers to unknown problem {pid!r}") from None


def curate_rft(
    judged: Sequence[Judged], problems_by_id: Mapping[str, Problem], *, max_per_problem: int = 4
) -> TrainingSet:
    """Correct, de-duplicated samples, at most ``max_per_problem`` per problem."""
    passing = _passing_by_problem(judged)
    examples: list[TrainingExample] = []
    for pid in sorted(passing):
        examples += _select(passing[pid], _problem(problems_by_id, pid), max_per_problem)
    attempted = {j.sample.problem_id for j in judged}
    stats = {
        "n_samples": len(judged),
        "n_correct": sum(j.verdict.passed for j in judged),
        "n_problems": len(attempted),
        "n_problems_solved": len(passing),
        "n_rationalized": 0,
        "n_examples": len(examples),
    }
    return TrainingSet(method="rft", examples=tuple(examples), stats=stats)


def unsolved_problems(judged: Sequence[Judged], problems_by_id: Mapping[str, Problem]) -> list[Problem]:
    """Problems that were attempted and got no passing sample (STaR re-prompts these)."""
    solved = {j.sample.problem_id for j in judged if j.verdict.passed}
    order: dict[str, None] = {}
    for j in judged:
        if j.sample.problem_id not in solved:
            order.setdefault(j.sample.problem_id)
    return [_problem(problems_by_id, pid) for pid in order]


def curate_star(
    judged: Sequence[Judged],
    rationalized_judged: Sequence[Judged],
    problems_by_id: Mapping[str, Problem],
    *,
    max_per_problem: int = 4,
    style: PromptStyle | None = None,
) -> TrainingSet:
    """The RFT set plus passing rationalizations for problems with no correct sample.

    Rationalized rows use the problem's own prompt (no hint); a rationale that gives the
    hint away (``style.mentions_hint``) is dropped.
    """
    rft = curate_rft(judged, problems_by_id, max_per_problem=max_per_problem)
    solved = {j.sample.problem_id for j in judged if j.verdict.passed}
    from selftaught.loops.prompting import RAW

    style = style or RAW
    rationalized = _passing_by_problem(j for j in rationalized_judged if j.sample.problem_id not in solved)
    extra: list[TrainingExample] = []
    for pid in sorted(rationalized):
        problem = _problem(problems_by_id, pid)
        extra += _select(rationalized[pid], problem, max_per_problem,
                         reject=lambda text, answer=problem.answer: style.mentions_hint(text, answer))  # fmt: skip
    stats = dict(rft.stats)
    stats.update(
        n_rationalization_samples=len(rationalized_judged),
        n_rationalization_correct=sum(j.verdict.passed for j in rationalized_judged),
        n_problems_rationalized=len({e.problem_id for e in extra}),
        n_rationalized=len(extra),
        n_examples=len(rft.examples) + len(extra),
    )
    return TrainingSet(method="star", examples=rft.examples + tuple(extra), stats=stats)
