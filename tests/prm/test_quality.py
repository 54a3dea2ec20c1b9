"""Reward-model quality figures: AUC over all candidates vs within each problem."""

from __future__ import annotations

import pytest

from selftaught.prm.quality import orm_quality, roc_auc, within_group_auc


def test_a_scorer_that_only_knows_easy_problems_looks_good_across_and_fails_within():
    # problem "easy": mostly right, scored high; "hard": mostly wrong, scored low; inside each
    # problem the wrong answers score higher than the right ones
    scores = [0.95, 0.9, 0.91, 0.92, 0.1, 0.11, 0.12, 0.05]
    right = [False, True, True, True, False, False, False, True]
    groups = ["easy"] * 4 + ["hard"] * 4
    assert roc_auc(scores, right) == pytest.approx(9 / 16)  # better than chance across problems
    assert within_group_auc(scores, right, groups) == 0.0


def test_groups_with_one_class_are_left_out_and_none_when_no_group_has_both():
    assert within_group_auc([0.9, 0.1, 0.5], [True, False, True], ["a", "a", "b"]) == 1.0
    assert within_group_auc([0.9, 0.1], [True, True], ["a", "b"]) is None
    with pytest.raises(ValueError):
        within_group_auc([0.9], [True, False], ["a"])


class _Fixed:
    def __init__(self, scores):
        self.scores = scores

    def score(self, prompts, completions):
        return list(self.scores)


def test_orm_quality_reports_both_aucs_grouped_by_prompt():
    q = orm_quality(_Fixed([0.95, 0.9, 0.12, 0.1]), ["p", "p", "q", "q"], ["a", "b", "c", "d"],
                    [False, True, False, True])  # fmt: skip
    assert q["auc"] == pytest.approx(0.25) and q["auc_within_problem"] == 0.0
    assert q["n"] == 4 and q["positive_fraction"] == 0.5
