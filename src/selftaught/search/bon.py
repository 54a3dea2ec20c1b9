"""Whole-solution methods: greedy, best-of-N (ORM / PRM) and majority vote.

In: ``ProblemState``s, a policy, N, sampling params, a seed and the ``Scorers``. Out: the
states filled with N candidate nodes (``kind="candidate"``; one ``"greedy"`` node for
greedy) scored by every reward model given, and a selected node.

The selection rules are pure functions over the candidates (``select_*``) so that one pool
of N samples can be re-selected several ways -- the benchmark compares PRM and ORM on the
same candidates, and reads budget B as the first B of a pool of 64.

- majority: the most common normalised final answer (``loops.evaluate.majority_answer``);
  the first candidate with it is selected. No reward model.
- ORM: the highest P(correct). PRM: the highest ``aggregate(step scores, how)``.
- vote-orm / vote-prm (weighted majority, as in Math-Shepherd and Uesato et al. 2022):
  every candidate votes for its final answer with its reward-model score; the answer
  with the largest total wins and its best-scored candidate is selected. A wrong answer
  the reward model over-rates wins only if it also recurs, which is why it holds up as N
  grows where best-of-N's single maximum drifts to outliers (README: test-time scaling).
Ties go to the earlier candidate.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from selftaught.loops.evaluate import majority_answer
from selftaught.loops.policy import Completer
from selftaught.judges.extract import extract_answer, vote_key
from selftaught.records import SamplingParams, SearchMethod
from selftaught.search.state import Node, ProblemState, Scorers
from selftaught.search.stepgen import finish


def sample_candidates(policy: Completer, states: Sequence[ProblemState], *, n: int, params: SamplingParams,
                      seed: int, scorers: Scorers, kind: str = "candidate") -> None:  # fmt: skip
    """Add ``n`` whole completions per problem (one batched call), scored by ORM and PRM."""
    rows = finish(policy, [s.prompt for s in states], n=n, params=params, seed=seed)
    new: list[tuple[ProblemState, Node]] = []
    for state, comps in zip(states, rows, strict=True):
        state.budget.add_completions(comps if params.do_sample else comps[:1])
        for c in comps if params.do_sample else comps[:1]:
            node = state.add(parent=None, kind=kind, text=c.text, step=c.text, final=True, n_tokens=c.n_tokens,
                             depth=len(scorers.steps_of(c.text)))  # fmt: skip
            new.append((state, node))
    scorers.score_orm([s for s, _ in new], [n for _, n in new])
    scorers.score_prm([s for s, _ in new], [n for _, n in new])


def _argmax(nodes: Sequence[Node], key: Callable[[Node], float]) -> Node | None:
    best: Node | None = None
    for node in nodes:
        if best is None or key(node) > key(best):
            best = node
    return best


def select_majority(candidates: Sequence[Node]) -> Node | None:
    """The first candidate whose final answer is the most common one (None never wins)."""
    answers = [extract_answer(n.text, plain=True) for n in candidates]
    top = majority_answer(answers)
    if top is None:
        return candidates[0] if candidates else None
    return next(n for n, a in zip(candidates, answers) if vote_key(a) == top)


def select_orm(candidates: Sequence[Node]) -> Node | None:
    return _argmax(candidates, lambda n: n.scores["orm"])


def select_prm(candidates: Sequence[Node]) -> Node | None:
    return _argmax(candidates, lambda n: n.scores["agg"])


def select_vote(candidates: Sequence[Node], score: Callable[[Node], float]) -> Node | None:
    """The best-scored candidate of the answer whose candidates' ``score``s sum highest.

    Candidates without a final answer do not vote; if none has one, the best-scored
    candidate is selected.
    """
    totals: dict[str, float] = {}
    answers = [extract_answer(n.text, plain=True) for n in candidates]
    keys = [None if a is None else vote_key(a) for a in answers]
    for node, key in zip(candidates, keys):
        if key is not None:
            totals[key] = totals.get(key, 0.0) + score(node)
    if not totals:
        return _argmax(candidates, score)
    top = max(totals, key=lambda k: totals[k])  # first-seen answer wins a tie
    return _argmax([n for n, k in zip(candidates, keys) if k == top], score)


def select_vote_orm(candidates: Sequence[Node]) -> Node | None:
    return select_vote(candidates, lambda n: n.scores["orm"])


def select_vote_prm(candidates: Sequence[Node]) -> Node | None:
    return select_vote(candidates, lambda n: n.scores["agg"])


SELECT = {SearchMethod.MAJORITY: select_majority, SearchMethod.BON_ORM: select_orm, SearchMethod.BON_PRM: select_prm,
          SearchMethod.VOTE_ORM: select_vote_orm, SearchMethod.VOTE_PRM: select_vote_prm}  # fmt: skip


def best_of_n(policy: Completer, states: Sequence[ProblemState], *, method: str, n: int,
              params: SamplingParams, seed: int, scorers: Scorers) -> None:  # fmt: skip
    """Sample ``n`` candidates per problem and select one by ``method`` (a ``SELECT`` key)."""
    if method in (SearchMethod.BON_ORM, SearchMethod.VOTE_ORM):
        scorers.need("orm", method)
    if method in (SearchMethod.BON_PRM, SearchMethod.VOTE_PRM):
        scorers.need("prm", method)
    sample_candidates(policy, states, n=n, params=params, seed=seed, scorers=scorers)
    for state in states:
        chosen = SELECT[method](state.finals())
        state.selected = None if chosen is None else chosen.index


def greedy(policy: Completer, states: Sequence[ProblemState], *, params: SamplingParams, seed: int,
           scorers: Scorers) -> None:  # fmt: skip
    """One greedy completion per problem, selected (scored too, for inspection)."""
    from dataclasses import replace

    sample_candidates(policy, states, n=1, params=replace(params, do_sample=False), seed=seed,
                      scorers=scorers, kind="greedy")  # fmt: skip
    for state in states:
        state.selected = state.nodes[-1].index
