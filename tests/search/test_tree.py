"""Tree search defects, on scripted policies: MCTS merges duplicate children, and neither
beam search nor MCTS selects a path that ended without an answer (depth limit, step cut)."""

from __future__ import annotations

import pytest

from selftaught.loops.arithmetic import THINK_CLOSE
from selftaught.search import SearchConfig, run_search
from tests.search.conftest import P1, BranchingPolicy
from tests.search.test_methods import _honest_cost


class StepsRightAnswerWrong:
    """A stand-in PRM that likes every working step (0.9) and dislikes every answer step (0.2):
    a path that never answers outscores one that does."""

    def score_steps(self, prompts, steps):
        return [[0.9 if "=" in s else 0.2 for s in row] for row in steps]  # an answer step has no "="


def _run(paths, method, **kw):
    cfg = SearchConfig(method=method, budget=4, tokens_per_sample=200, **kw)
    rec = run_search(BranchingPolicy(paths={P1.prompt: paths}), [P1], cfg, prm=StepsRightAnswerWrong())
    _honest_cost(rec)
    return rec


@pytest.mark.parametrize("method", ["beam", "mcts"])
@pytest.mark.parametrize("long_path, max_steps", [
    (" <think>7+5=12 2+4=6 1+1=2 1+1=2", 3),  # its third step is at max_steps, with no answer
    (" <think>7+5=12 2+4=6 1+1=2", 8),  # its third step is never closed: cut at the step cap, no answer
])  # fmt: skip
def test_a_path_without_an_answer_is_never_selected_over_one_with(method, long_path, max_steps):
    # both paths end at the third step; the PRM prefers the one that never answers
    rec = _run([long_path, " <think>7+5=12 2+4=6</think> 62"], method, max_steps=max_steps)
    chosen = next(n for n in rec.nodes if n.selected)
    assert THINK_CLOSE in chosen.text and chosen.kind == "candidate"
    dead = [n for n in rec.nodes if n.kind == "truncated"]
    assert dead and not any(n.final for n in dead)  # the unanswered path is kept, but not as finished
    assert all(THINK_CLOSE in n.text for n in rec.nodes if n.final)


def test_with_no_answer_anywhere_the_best_partial_is_completed():
    rec = _run([" <think>7+5=12 2+4=6 1+1=2 1+1=2"], "beam", max_steps=2)
    chosen = next(n for n in rec.nodes if n.selected)
    assert chosen.kind == "fallback" and chosen.final and not any(n.kind == "candidate" for n in rec.nodes)


def test_mcts_merges_children_with_the_same_step():
    # every scripted path opens with the same step: the root can only ever have one child
    paths = [" <think>7+5=12 2+4+1=7</think> 72", " <think>7+5=12 2+4=6</think> 62",
             " <think>7+5=12 2+4=6</think> 62"]  # fmt: skip
    rec = _run(paths, "mcts")
    nodes = {n.index: n for n in rec.nodes}
    root = next(n for n in nodes.values() if n.kind == "root")
    steps = [n for n in nodes.values() if n.kind in ("partial", "candidate", "truncated")]
    for parent in [root, *steps]:
        kids = [n.step.strip() for n in nodes.values() if n.parent == parent.index and n.kind != "rollout"]
        assert len(kids) == len(set(kids)), f"duplicate children under node {parent.index}: {kids}"
    first = [n for n in steps if n.parent == root.index]
    assert len(first) == 1 and first[0].scores["dups"] >= 1  # the repeats were counted towards it
    assert root.scores["visits"] == first[0].scores["visits"]  # every visit of the root went through it
    r = rec.results[0]  # every sample is still charged: one expansion each, merged or not
    assert r.expansions == sum(1 + n.scores.get("dups", 0) for n in steps)
    assert any(n.depth == 1 for n in steps)  # the repeats did not stall the search at the root
