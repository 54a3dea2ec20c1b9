"""The working state of a search: per problem, the nodes made so far and the budget spent.

In: problems and the reward models a method asks for. Out: ``ProblemState`` objects the
methods (``bon``, ``revise``, ``tree``) fill with ``Node``s and a selected node; ``run``
turns them into ``SearchNode``/``SearchResult`` records. ``Scorers`` wraps the ORM and
PRM so that every method scores texts the same way (the PRM reads
``prm.steps.split_steps`` of the text, the ORM the text itself) and fails with a clear
message when a method needs a model it was not given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from selftaught.errors import ConfigError
from selftaught.prm.scorers import OutcomeScorer, StepScorer, aggregate
from selftaught.prm.steps import split_steps
from selftaught.records import Problem
from selftaught.search.stepgen import Budget, StepFormat


@dataclass
class Node:
    """A node under construction (see ``records.SearchNode`` for the fields)."""

    index: int
    parent: int | None
    depth: int
    kind: str
    text: str
    step: str
    final: bool
    n_tokens: int
    scores: dict[str, Any] = field(default_factory=dict)
    children: list[int] = field(default_factory=list)
    visits: int = 0
    value_sum: float = 0.0

    @property
    def q(self) -> float:
        return self.value_sum / self.visits if self.visits else 0.0


@dataclass
class ProblemState:
    """One problem's search: its nodes (index = position), budget and selected node."""

    problem: Problem
    nodes: list[Node] = field(default_factory=list)
    budget: Budget = field(default_factory=Budget)
    selected: int | None = None

    @property
    def prompt(self) -> str:
        return self.problem.prompt

    def add(self, *, parent: int | None, kind: str, text: str, step: str, final: bool,
            n_tokens: int, depth: int | None = None) -> Node:  # fmt: skip
        d = depth if depth is not None else (0 if parent is None else self.nodes[parent].depth + 1)
        node = Node(len(self.nodes), parent, d, kind, text, step, final, n_tokens)
        self.nodes.append(node)
        if parent is not None:
            self.nodes[parent].children.append(node.index)
        return node

    def finals(self) -> list[Node]:
        return [n for n in self.nodes if n.final]


@dataclass
class Scorers:
    """The reward models a search may use, and how it reads steps."""

    orm: OutcomeScorer | None = None
    prm: StepScorer | None = None
    fmt: StepFormat = field(default_factory=StepFormat)
    how: str = "min"  # PRM aggregation: min | last | product

    def need(self, what: str, method: str) -> None:
        if getattr(self, what) is None:
            raise ConfigError(f"method {method!r} needs a {what.upper()} (--{what} PATH)", file="search")

    def steps_of(self, text: str) -> list[str]:
        return split_steps(text, self.fmt.delimiter)

    def score_prm(self, states: Sequence[ProblemState], nodes: Sequence[Node]) -> None:
        """Store ``prm`` (step scores) and ``agg`` on each node (one batched call)."""
        if self.prm is None or not nodes:
            return
        steps = [self.steps_of(n.text) for n in nodes]
        scores = self.prm.score_steps([s.prompt for s in states], steps)
        for node, row in zip(nodes, scores, strict=True):
            node.scores["prm"] = [round(float(x), 6) for x in row]
            node.scores["agg"] = aggregate(row, self.how)  # type: ignore[arg-type]

    def score_orm(self, states: Sequence[ProblemState], nodes: Sequence[Node]) -> None:
        """Store ``orm`` (P(correct)) on each node (one batched call)."""
        if self.orm is None or not nodes:
            return
        scores = self.orm.score([s.prompt for s in states], [n.text for n in nodes])
        for node, x in zip(nodes, scores, strict=True):
            node.scores["orm"] = float(x)
