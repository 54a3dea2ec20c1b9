"""curriculum: keep the training prompts the policy sometimes solves.

In: the round's candidate problems and a pass-rate map ``problem_id -> PassRate`` (the
store provides it: the latest round in which each problem was sampled, generated or RL
rollout samples alike). Out: a ``CurriculumSplit`` -- the problems whose pass rate lies in
the band ``[low, high]`` (plus, by default, problems never sampled before: nothing is
known about them), and the ones set aside, counted as too easy (rate > high) or too hard
(rate < low).

Why: a prompt solved by every sample or by none gives GRPO/RLOO a group with zero
advantage and DPO no pair; it costs generation time and teaches nothing (DAPO's "dynamic
sampling", R1's filtering of always-solved prompts). SFT methods lose little by
training on easy prompts, but the same band keeps them off prompts they have mastered.

Pure functions only: no store, no model.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from dataclasses import dataclass

from pydantic import Field, model_validator

from selftaught.loops.section import Section
from selftaught.records import Problem


@dataclass(frozen=True)
class PassRate:
    """How often one problem's samples passed in one round."""

    n_judged: int
    n_pass: int
    round_index: int = 0

    @property
    def rate(self) -> float:
        return self.n_pass / self.n_judged if self.n_judged else 0.0


class CurriculumBand(Section):
    """Keep problems with ``low <= pass rate <= high`` (the recipe's ``curriculum:`` section)."""

    low: float = Field(0.1, ge=0, le=1)
    "Set aside prompts whose latest pass rate is below this (too hard for now)."
    high: float = Field(0.9, ge=0, le=1)
    "Set aside prompts whose latest pass rate is above this (mastered)."
    keep_unseen: bool = True
    "Keep prompts never sampled before."

    @model_validator(mode="after")
    def _ordered(self) -> CurriculumBand:
        if self.low > self.high:
            raise ValueError("curriculum: low must be <= high")
        return self


@dataclass(frozen=True)
class CurriculumSplit:
    """The kept problems (in their original order) and what was set aside."""

    kept: tuple[Problem, ...]
    too_easy: tuple[str, ...]
    too_hard: tuple[str, ...]
    unseen: int  # kept (or dropped, if keep_unseen is False) for lack of a pass rate

    def stats(self) -> dict[str, int]:
        return {
            "n_kept": len(self.kept),
            "n_too_easy": len(self.too_easy),
            "n_too_hard": len(self.too_hard),
            "n_unseen": self.unseen,
        }


def pass_rate_map(rows: Iterable[Any], *, before_round: int | None = None) -> dict[str, PassRate]:
    """Latest pass rate per problem from ``Store.problem_pass_rates`` rows.

    Rows are ``ProblemPassRate``s (``round``, ``problem_id``, ``n_judged``, ``n_pass``);
    several rows for the same (round, problem) (e.g. generated and rollout samples) are
    summed. Only rounds before ``before_round`` count, so a round's curriculum never depends
    on its own samples.

    >>> from selftaught.store.rows import ProblemPassRate as Row
    >>> rows = [Row(round=1, problem_id="a", n_judged=8, n_pass=8),
    ...         Row(round=2, problem_id="a", n_judged=8, n_pass=2),
    ...         Row(round=3, problem_id="a", n_judged=8, n_pass=0)]
    >>> pass_rate_map(rows, before_round=3)["a"].rate
    0.25
    """
    by_round: dict[tuple[str, int], list[int]] = {}
    for r in rows:
        index = int(r.round)
        if before_round is not None and index >= before_round:
            continue
        acc = by_round.setdefault((str(r.problem_id), index), [0, 0])
        acc[0] += int(r.n_judged)
        acc[1] += int(r.n_pass)
    latest: dict[str, PassRate] = {}
    for (pid, index), (n, k) in sorted(by_round.items(), key=lambda kv: kv[0][1]):
        if n:
            latest[pid] = PassRate(n_judged=n, n_pass=k, round_index=index)
    return latest


def band_filter(
    problems: Sequence[Problem], pass_rates: Mapping[str, PassRate], band: CurriculumBand
) -> CurriculumSplit:
    """Split ``problems`` by their pass rate against ``band``.

    >>> from selftaught.loops.arithmetic import make_problem
    >>> ps = [make_problem(10 + i, 20, 2) for i in range(4)]
    >>> rates = {ps[0].id: PassRate(8, 8), ps[1].id: PassRate(8, 0), ps[2].id: PassRate(8, 3)}
    >>> s = band_filter(ps, rates, CurriculumBand(low=0.1, high=0.9))
    >>> [p.id for p in s.kept] == [ps[2].id, ps[3].id], s.stats()
    (True, {'n_kept': 2, 'n_too_easy': 1, 'n_too_hard': 1, 'n_unseen': 1})
    """
    kept: list[Problem] = []
    easy: list[str] = []
    hard: list[str] = []
    unseen = 0
    for p in problems:
        rate = pass_rates.get(p.id)
        if rate is None:
            unseen += 1
            if band.keep_unseen:
                kept.append(p)
        elif rate.rate > band.high:
            easy.append(p.id)
        elif rate.rate < band.low:
            hard.append(p.id)
        else:
            kept.append(p)
    return CurriculumSplit(kept=tuple(kept), too_easy=tuple(easy), too_hard=tuple(hard), unseen=unseen)
