"""How good a reward model is on held-out data.

In: a scorer and labelled held-out data. Out: plain dicts of metrics.

- ``orm_quality``: ROC AUC (probability that a random correct completion outscores a
  random wrong one, ties counted half) over all candidates and within each problem
  (``within_group_auc``: what best-of-N depends on), and accuracy at the 0.5 threshold,
  against the judge's verdicts.
- ``prm_quality``: per-step accuracy at 0.5 and per-step AUC against (a) the Monte-Carlo
  hard labels and (b) the exact truth of the step checker, read as the PRM's own question
  "are this step and all before it right?" (the running AND of ``check_arithmetic_steps``);
  and the first-wrong-step agreement: on solutions that contain an error, how often the
  PRM's first step below 0.5 is the true first error (and, on solutions with none, how
  often the PRM flags none). The exact checker is a measurement only, never a training signal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from selftaught.prm.scorers import OutcomeScorer, StepScorer
from selftaught.prm.steps import check_arithmetic_steps, first_error
from selftaught.records import Problem


def roc_auc(scores: Sequence[float], positive: Sequence[bool]) -> float | None:
    """Mann-Whitney AUC; None when one class is empty.

    >>> roc_auc([0.9, 0.2, 0.6, 0.1], [True, False, True, False])
    1.0
    >>> roc_auc([0.5, 0.5], [True, False])
    0.5
    """
    pairs = sorted(zip(scores, positive), key=lambda t: t[0])
    n_pos = sum(1 for _, p in pairs if p)
    n_neg = len(pairs) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    rank_sum, i = 0.0, 0
    while i < len(pairs):  # average ranks over ties
        j = i
        while j < len(pairs) and pairs[j][0] == pairs[i][0]:
            j += 1
        avg = (i + 1 + j) / 2
        rank_sum += avg * sum(1 for k in range(i, j) if pairs[k][1])
        i = j
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def within_group_auc(
    scores: Sequence[float], positive: Sequence[bool], groups: Sequence[object]
) -> float | None:
    """The mean of ``roc_auc`` within each group (a problem) that has both classes; None if
    no group has. Best-of-N only ever compares candidates of one problem, so this -- not the
    AUC over all candidates, which also rewards knowing which problems are easy -- is the
    figure that predicts whether selection helps.

    >>> within_group_auc([0.9, 0.8, 0.2, 0.1], [False, True, False, True], ["a", "a", "b", "b"])
    0.0
    >>> roc_auc([0.9, 0.8, 0.2, 0.1], [False, True, False, True])
    0.25
    """
    by: dict[object, tuple[list[float], list[bool]]] = {}
    for s, p, g in zip(scores, positive, groups, strict=True):
        by.setdefault(g, ([], []))[0].append(s)
        by[g][1].append(bool(p))
    aucs = [a for s, p in by.values() if (a := roc_auc(s, p)) is not None]
    return sum(aucs) / len(aucs) if aucs else None


def orm_quality(
    scorer: OutcomeScorer, prompts: Sequence[str], completions: Sequence[str], passed: Sequence[bool]
) -> dict:
    scores = scorer.score(prompts, completions)
    correct = sum((s > 0.5) == bool(p) for s, p in zip(scores, passed))
    return {
        "n": len(scores),
        "positive_fraction": sum(map(bool, passed)) / max(len(passed), 1),
        "auc": roc_auc(scores, [bool(p) for p in passed]),
        "auc_within_problem": within_group_auc(scores, passed, prompts),
        "accuracy": correct / max(len(scores), 1),
    }


def prm_quality(
    scorer: StepScorer, rows: Sequence[Mapping], problems_by_id: Mapping[str, Problem] | None = None
) -> dict:
    """``rows``: stepwise rows (``label.stepwise_rows``, hard labels) with ``problem_id``.

    Without ``problems_by_id`` only the agreement with the MC labels is measured.
    """
    scores = scorer.score_steps([r["prompt"] for r in rows], [r["completions"] for r in rows])
    mc_hits = mc_n = ex_hits = ex_n = 0
    flat_scores: list[float] = []
    flat_mc: list[bool] = []
    flat_exact: list[bool] = []
    err_solutions = err_matched = clean_solutions = clean_matched = 0
    for row, sc in zip(rows, scores, strict=True):
        pred = [s > 0.5 for s in sc]
        for p, lab in zip(pred, row["labels"]):
            mc_hits += p == bool(lab)
            mc_n += 1
        flat_scores.extend(sc)
        flat_mc.extend(bool(lab) for lab in row["labels"])
        if problems_by_id is None:
            continue
        truth = check_arithmetic_steps(problems_by_id[row["problem_id"]], row["completions"])
        running, ok = [], True
        for t in truth:
            ok = ok and t
            running.append(ok)
        ex_hits += sum(p == r for p, r in zip(pred, running))
        flat_exact.extend(running)
        ex_n += len(running)
        true_first = first_error(truth)
        prm_first = first_error(pred)
        if true_first is None:
            clean_solutions += 1
            clean_matched += prm_first is None
        else:
            err_solutions += 1
            err_matched += prm_first == true_first
    out = {"solutions": len(rows), "steps": mc_n, "accuracy_vs_mc": mc_hits / max(mc_n, 1),
           "auc_vs_mc": roc_auc(flat_scores, flat_mc)}  # fmt: skip
    if problems_by_id is not None:
        out.update(
            accuracy_vs_exact=ex_hits / max(ex_n, 1),
            auc_vs_exact=roc_auc(flat_scores, flat_exact),
            solutions_with_error=err_solutions,
            first_error_match=err_matched / err_solutions if err_solutions else None,
            clean_solutions=clean_solutions,
            clean_flagged_none=clean_matched / clean_solutions if clean_solutions else None,
        )
    return out
