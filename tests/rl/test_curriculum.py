"""Pass-rate curriculum: keep prompts inside the band, count what was set aside."""

from __future__ import annotations

import pytest

from selftaught.loops.arithmetic import make_problem
from selftaught.loops.curriculum import CurriculumBand, PassRate, band_filter, pass_rate_map
from selftaught.store import ProblemPassRate

PROBLEMS = [make_problem(10 + i, 20, 2) for i in range(5)]


@pytest.mark.parametrize(
    "why, n_pass, band, kept",
    [
        ("inside the band", 4, CurriculumBand(low=0.1, high=0.9), True),
        ("always solved: mastered, set aside", 8, CurriculumBand(low=0.1, high=0.9), False),
        ("never solved: too hard, set aside", 0, CurriculumBand(low=0.1, high=0.9), False),
        ("the band's edges are inclusive", 1, CurriculumBand(low=0.125, high=0.9), True),
        ("a band of [0, 1] keeps everything", 8, CurriculumBand(low=0.0, high=1.0), True),
    ],
)
def test_band(why, n_pass, band, kept):
    p = PROBLEMS[0]
    split = band_filter([p], {p.id: PassRate(8, n_pass)}, band)
    assert (p in split.kept) is kept, why


def test_counts_and_order_and_unseen():
    rates = {PROBLEMS[0].id: PassRate(8, 8), PROBLEMS[1].id: PassRate(8, 0), PROBLEMS[3].id: PassRate(8, 3)}
    split = band_filter(PROBLEMS, rates, CurriculumBand())
    assert [p.id for p in split.kept] == [PROBLEMS[2].id, PROBLEMS[3].id, PROBLEMS[4].id]
    assert split.stats() == {"n_kept": 3, "n_too_easy": 1, "n_too_hard": 1, "n_unseen": 2}
    strict = band_filter(PROBLEMS, rates, CurriculumBand(keep_unseen=False))
    assert [p.id for p in strict.kept] == [PROBLEMS[3].id] and strict.unseen == 2


def test_pass_rate_map_takes_the_latest_earlier_round_and_sums_sources():
    rows = [
        ProblemPassRate(round=1, problem_id="a", n_judged=8, n_pass=8),
        ProblemPassRate(round=2, problem_id="a", n_judged=8, n_pass=2),  # generated samples
        ProblemPassRate(round=2, problem_id="a", n_judged=8, n_pass=0),  # RL rollouts, same round
        ProblemPassRate(round=3, problem_id="a", n_judged=8, n_pass=0),  # this round: ignored
        ProblemPassRate(round=1, problem_id="b", n_judged=0, n_pass=0),  # nothing judged: unknown
    ]
    rates = pass_rate_map(rows, before_round=3)
    assert rates["a"] == PassRate(16, 2, round_index=2) and "b" not in rates


def test_band_is_checked():
    with pytest.raises(ValueError):
        CurriculumBand(low=0.9, high=0.1)
