"""Sequential revision: answer, self-check, revise -- K times.

In: ``ProblemState``s, a policy, K (= the budget in attempts), the ``Scorers``. Out: a
chain of ``kind="revision"`` nodes per problem (each one's ``parent`` is the attempt it
revised) and the best-scored attempt selected.

What "self-check" and "revise" can mean for a ~2M-parameter policy trained only on
``Q: a+b=? A: <think>...</think> s``: it cannot read a critique or a previous attempt in
its prompt -- it has never seen one, and would treat it as noise. So, honestly:

- **check** is done by the reward model, not the policy: the PRM's step scores, and the
  first step scored below ``threshold`` (0.5) is the suspected first error. With only an
  ORM, the check is "P(correct) below threshold" and locates nothing.
- **revise** is conditioned on the previous attempt through its *prefix*: the steps
  before the suspected error are kept verbatim (``prm.steps.join_steps``) and the policy
  samples a new continuation from there. With only an ORM it resamples from scratch.
- it stops early for a problem once an attempt passes the check (every step >= threshold,
  and the ORM, if any, >= threshold): the remaining attempts are not spent.

What it cannot do: fix an error the PRM does not flag, or learn anything from the failed
attempt beyond where to cut it. A larger instruct model could revise from a written
self-critique; the loop's shape (attempt -> check -> revise) would stay the same.
The selected attempt is the one with the best check score (PRM aggregate, else ORM).
"""

from __future__ import annotations

from collections.abc import Sequence

from selftaught.loops.policy import Completer
from selftaught.prm.steps import join_steps
from selftaught.records import SamplingParams
from selftaught.search.state import Node, ProblemState, Scorers
from selftaught.search.stepgen import finish


def _check(node: Node, threshold: float) -> tuple[bool, int | None]:
    """(passes, index of the first doubtful step or None) from the node's scores."""
    steps = node.scores.get("prm")
    first = None
    if steps is not None:
        first = next((i for i, x in enumerate(steps) if x < threshold), None)
    ok = first is None and (steps is None or len(steps) > 0)
    if "orm" in node.scores and node.scores["orm"] < threshold:
        ok = False
    return ok, first


def _score(node: Node) -> float:
    return node.scores["agg"] if "agg" in node.scores else node.scores.get("orm", 0.0)


def revise(policy: Completer, states: Sequence[ProblemState], *, attempts: int, params: SamplingParams,
           seed: int, scorers: Scorers, threshold: float = 0.5) -> None:  # fmt: skip
    """Up to ``attempts`` attempts per problem (the first is a plain sample)."""
    if scorers.prm is None and scorers.orm is None:
        scorers.need("prm", "revise")
    last: dict[int, Node] = {}
    active = list(range(len(states)))
    for attempt in range(attempts):
        if not active:
            break
        texts, prefixes = [], []
        for i in active:
            prefix = ""
            if i in last and scorers.prm is not None:
                _, first = _check(last[i], threshold)
                steps = scorers.steps_of(last[i].text)
                if first is not None and first > 0:
                    prefix = join_steps(steps[:first], delimiter=scorers.fmt.delimiter)
            prefixes.append(prefix)
            texts.append(states[i].prompt + prefix)
        rows = finish(policy, texts, n=1, params=params, seed=seed + 7919 * attempt)
        made: list[tuple[ProblemState, Node]] = []
        for i, prefix, comps in zip(active, prefixes, rows, strict=True):
            state, c = states[i], comps[0]
            state.budget.add_completions([c])
            node = state.add(parent=last[i].index if i in last else None, kind="revision", text=prefix + c.text,
                             step=c.text, final=True, n_tokens=c.n_tokens, depth=attempt)  # fmt: skip
            node.scores["kept_prefix"] = prefix
            made.append((state, node))
            last[i] = node
        scorers.score_orm([s for s, _ in made], [n for _, n in made])
        scorers.score_prm([s for s, _ in made], [n for _, n in made])
        active = [i for i in active if not _check(last[i], threshold)[0]]
    for state in states:
        best = max(state.finals(), key=_score, default=None)  # max keeps the first of ties
        state.selected = None if best is None else best.index
