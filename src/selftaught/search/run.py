"""Run one test-time search over a problem set: config in, ``SearchRecord`` out.

In: a policy, problems, a ``SearchConfig`` (method, budget, ...), optionally an ORM and a
PRM (``prm.scorers``), a judge. Out: a ``records.SearchRecord`` -- per problem the
selected completion, whether the judge passes it, the samples/tokens/expansions spent --
and every node the search made, with its scores, for the store.

**The budget** ``B`` is counted in whole-solution equivalents, the same for every method:

| method | what ``B`` buys |
|---|---|
| greedy | nothing: one greedy completion whatever ``B`` (the baseline) |
| majority, bon-orm, bon-prm, vote-orm, vote-prm | ``B`` sampled completions |
| revise | up to ``B`` attempts (stops early once the reward model's check passes) |
| beam | ``B`` sampled steps per depth (width ``w`` = a power of 2 near sqrt(B), ``B/w`` each) |
| mcts | expansions until the tokens reach ``B * tokens_per_sample`` |

and beam search stops a problem at that token cap too. ``tokens_per_sample`` is measured
(the policy's mean greedy completion length on these problems) unless given. Every
result carries the tokens and samples actually generated, so equal budget can be checked
rather than assumed.

The judge only *measures* (``correct``); it never takes part in selecting. ``search_generate``
makes the selected answers ``Sample``s (``source=SEARCH``) so a round can train on them.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Literal

from pydantic import Field

from selftaught.errors import ConfigError
from selftaught.judges.base import Verifier
from selftaught.judges.extract import extract_answer
from selftaught.loops.policy import Completer
from selftaught.loops.section import Section, runtime
from selftaught.loops.verify import ARITHMETIC
from selftaught.prm.scorers import OutcomeScorer, StepScorer
from selftaught.records import (
    Problem,
    Sample,
    SampleSource,
    SamplingParams,
    SearchMethod,
    SearchNode,
    SearchRecord,
    SearchResult,
)
from selftaught.search.bon import best_of_n, greedy
from selftaught.search.revise import revise
from selftaught.search.state import ProblemState, Scorers
from selftaught.search.stepgen import StepFormat
from selftaught.search.tree import beam_search, mcts


class SearchConfig(Section):
    """One search's settings, and the recipe's ``search:`` section (test-time search as the
    generator of rft/star rounds); every field has the default the benchmark uses."""

    method: SearchMethod = SearchMethod.BON_PRM
    "How the budget is spent and an answer picked (records.SearchMethod)."
    budget: int = Field(4, ge=1)
    "Whole-solution equivalents per searched answer (see search/run.py)."
    aggregate: Literal["min", "last", "product"] = "min"
    "PRM step scores -> solution score."
    orm: str | None = None
    "Outcome reward model checkpoint (relative to the recipe file; `selftaught search` takes --orm); bon-orm and vote-orm need it."
    prm: str | None = None
    "Process reward model checkpoint (relative to the recipe file; `selftaught search` takes --prm); bon-prm, vote-prm, beam, mcts need it."
    n: int = Field(1, ge=1, le=64)
    "Searched answers per problem in a round's generate stage (each a search of its own seed)."
    max_step_tokens: int = Field(16, ge=1)
    "Tokens per step (beam/MCTS)."
    max_steps: int = Field(8, ge=1)
    "Depth limit of a step path (beam/MCTS)."
    tokens_per_sample: int | None = Field(None, ge=1)
    "Token cap per budget unit; None = measured (the policy's mean greedy completion length)."
    beam_width: int | None = Field(None, ge=1)
    "Beam width (and MCTS children per expansion); None = the power of 2 nearest below sqrt(budget)."
    ucb_c: float = Field(1.0, ge=0)
    "MCTS exploration constant c."
    mcts_value: Literal["prm", "rollout"] = "prm"
    "MCTS leaf value: prm (last step's score) or rollout (ORM of a completed rollout)."
    revise_threshold: float = 0.5
    "A step/answer scored below it fails revise's check."
    delimiter: str | None = None
    "Step delimiter for user data; None = the <think> format."
    temperature: float = runtime(1.0)
    max_new_tokens: int = runtime(40)
    batch_size: int = runtime(64)
    seed: int = runtime(0)

    def identity(self) -> dict:
        """What decides a search's result, as recorded and hashed into its id (the reward
        models are passed to ``run_search`` as scorers; ``n`` is how many searches a round runs)."""
        return {k: v for k, v in self.record().items() if k not in ("orm", "prm", "n")}

    @property
    def width(self) -> int:
        if self.beam_width is not None:
            return max(1, min(self.beam_width, self.budget))
        return 2 ** int(math.log2(self.budget) // 2)

    @property
    def params(self) -> SamplingParams:
        return SamplingParams(temperature=self.temperature, max_new_tokens=self.max_new_tokens)


def _greedy(policy, states, cfg, scorers, seed, tps):
    greedy(policy, states, params=cfg.params, seed=seed, scorers=scorers)


def _bon(policy, states, cfg, scorers, seed, tps):
    best_of_n(policy, states, method=cfg.method.value, n=cfg.budget, params=cfg.params, seed=seed, scorers=scorers)


def _revise(policy, states, cfg, scorers, seed, tps):
    revise(policy, states, attempts=cfg.budget, params=cfg.params, seed=seed, scorers=scorers,
           threshold=cfg.revise_threshold)  # fmt: skip


def _beam(policy, states, cfg, scorers, seed, tps):
    w = cfg.width
    beam_search(policy, states, width=w, expand=max(1, cfg.budget // w), params=cfg.params,
                max_step_tokens=cfg.max_step_tokens, max_steps=cfg.max_steps, token_cap=cfg.budget * tps,
                seed=seed, scorers=scorers)  # fmt: skip


def _mcts(policy, states, cfg, scorers, seed, tps):
    mcts(policy, states, children=cfg.width, c=cfg.ucb_c, value=cfg.mcts_value, params=cfg.params,
         max_step_tokens=cfg.max_step_tokens, max_steps=cfg.max_steps, token_cap=cfg.budget * tps,
         max_expansions=cfg.budget * cfg.max_steps, seed=seed, scorers=scorers)  # fmt: skip


METHODS: dict[SearchMethod, Callable[..., None]] = {
    SearchMethod.GREEDY: _greedy,
    SearchMethod.MAJORITY: _bon,
    SearchMethod.BON_ORM: _bon,
    SearchMethod.BON_PRM: _bon,
    SearchMethod.VOTE_ORM: _bon,
    SearchMethod.VOTE_PRM: _bon,
    SearchMethod.REVISE: _revise,
    SearchMethod.BEAM: _beam,
    SearchMethod.MCTS: _mcts,
}
NEEDS_TOKEN_CAP = {SearchMethod.BEAM, SearchMethod.MCTS}


def check_models(cfg: SearchConfig, *, orm: bool, prm: bool) -> None:
    """Raise ``ConfigError`` before any work when ``cfg.method`` needs a model not given."""
    m = cfg.method
    need_prm = m in (SearchMethod.BON_PRM, SearchMethod.VOTE_PRM, SearchMethod.BEAM) or (
        m is SearchMethod.MCTS and (cfg.mcts_value == "prm" or not orm)) or (m is SearchMethod.REVISE and not orm)
    missing = [name for name, need, have in (("orm", m in (SearchMethod.BON_ORM, SearchMethod.VOTE_ORM), orm), ("prm", need_prm, prm))
               if need and not have]  # fmt: skip
    if missing:
        flags = " or ".join(f"--{x} PATH" for x in missing)
        raise ConfigError(f"method {m.value!r} needs a {' and '.join(x.upper() for x in missing)} ({flags})",
                          file="search")  # fmt: skip


def measure_tokens_per_sample(policy: Completer, problems: Sequence[Problem], cfg: SearchConfig) -> int:
    """The policy's mean greedy completion length in tokens on ``problems`` (at least 1)."""
    rows = policy.complete([p.prompt for p in problems], n=1, params=replace(cfg.params, do_sample=False), seed=0)
    return max(1, round(sum(r[0].n_tokens for r in rows) / max(1, len(rows))))


def search_id(cfg: SearchConfig, checkpoint: str, problems: Sequence[Problem]) -> str:
    """A stable id: the method, the budget and a hash of everything that decides the result."""
    blob = json.dumps([cfg.identity(), checkpoint, [p.id for p in problems]], sort_keys=True, default=str)
    return f"{cfg.method.value}-b{cfg.budget}-{hashlib.sha256(blob.encode()).hexdigest()[:10]}"


def run_search(policy: Completer, problems: Sequence[Problem], cfg: SearchConfig, *,
               orm: OutcomeScorer | None = None, prm: StepScorer | None = None, checkpoint: str = "",
               judge: Verifier = ARITHMETIC, record_id: str | None = None,
               progress: Callable[[int], None] | None = None) -> SearchRecord:  # fmt: skip
    """Search every problem (in batches of ``cfg.batch_size``) and record everything;
    ``progress(problems_done)`` after each batch."""
    check_models(cfg, orm=orm is not None, prm=prm is not None)
    scorers = Scorers(orm=orm, prm=prm, fmt=StepFormat(cfg.delimiter), how=cfg.aggregate)
    tps = cfg.tokens_per_sample
    if tps is None and cfg.method in NEEDS_TOKEN_CAP:
        tps = measure_tokens_per_sample(policy, problems, cfg)
    states = [ProblemState(p) for p in problems]
    for b, start in enumerate(range(0, len(states), cfg.batch_size)):
        METHODS[cfg.method](policy, states[start : start + cfg.batch_size], cfg, scorers, cfg.seed + 100003 * b, tps)
        if progress is not None:
            progress(min(start + cfg.batch_size, len(states)))
    config = {**cfg.identity(), "method": cfg.method.value, "tokens_per_sample": tps, "width": cfg.width}
    return to_record(states, cfg, config, checkpoint, judge, record_id or search_id(cfg, checkpoint, problems))


def to_record(states: Sequence[ProblemState], cfg: SearchConfig, config: dict, checkpoint: str,
              judge: Verifier, record_id: str) -> SearchRecord:  # fmt: skip
    """Judge the finished nodes (measurement only) and freeze everything into records."""
    results, nodes = [], []
    for state in states:
        verdicts = {n.index: judge.verify(state.problem, n.text).passed for n in state.nodes if n.final}
        sel = state.nodes[state.selected] if state.selected is not None else None
        for n in state.nodes:
            nodes.append(SearchNode(
                problem_id=state.problem.id, index=n.index, parent=n.parent, depth=n.depth, kind=n.kind,
                text=n.text, step=n.step, final=n.final, n_tokens=n.n_tokens, scores=dict(n.scores),
                correct=verdicts.get(n.index), selected=n.index == state.selected,
            ))  # fmt: skip
        b = state.budget
        results.append(SearchResult(
            problem_id=state.problem.id, completion=sel.text if sel else "",
            answer=extract_answer(sel.text, plain=True) if sel else None, correct=bool(sel and verdicts.get(sel.index)),
            samples=b.samples, tokens=b.tokens, expansions=b.expansions, node_index=state.selected,
        ))  # fmt: skip
    return SearchRecord(id=record_id, method=cfg.method, budget=cfg.budget, config=config, checkpoint=checkpoint,
                        results=tuple(results), nodes=tuple(nodes))  # fmt: skip


def samples_from(record: SearchRecord, problems: Sequence[Problem], *, checkpoint_id: str | None = None,
                 params: SamplingParams | None = None, seed: int = 0, source: SampleSource = SampleSource.SEARCH,
                 index: int = 0) -> list[Sample]:  # fmt: skip
    """The selected answers as ``Sample``s (``source``, ``index``, tokens = the search's cost).

    A round's generate stage passes ``source=GENERATE`` and ``params.search`` = the record's
    id, so judge/curate/train take them like sampled ones and each row names its search."""
    by_id = {p.id: p for p in problems}
    return [
        Sample(problem_id=r.problem_id, index=index, prompt=by_id[r.problem_id].prompt, completion=r.completion,
               source=source, seed=seed, params=params or SamplingParams(),
               checkpoint_id=checkpoint_id, n_tokens=r.tokens)
        for r in record.results
    ]  # fmt: skip


def search_generate(policy: Completer, problems: Sequence[Problem], cfg: SearchConfig, *,
                    orm: OutcomeScorer | None = None, prm: StepScorer | None = None,
                    checkpoint_id: str | None = None) -> list[Sample]:  # fmt: skip
    """A round's generator: one searched answer per problem, as ``SEARCH`` samples."""
    record = run_search(policy, problems, cfg, orm=orm, prm=prm, checkpoint=checkpoint_id or "")
    return samples_from(record, problems, checkpoint_id=checkpoint_id, params=cfg.params, seed=cfg.seed)
