"""Every search method on a scripted policy with the exact step checker standing in for the
reward models (logic only: the real models are in test_real_models.py)."""

from __future__ import annotations

import pytest

from selftaught.errors import ConfigError
from selftaught.prm.steps import join_steps, split_steps
from selftaught.records import SampleSource, SearchMethod
from selftaught.search import SearchConfig, run_search, search_generate
from selftaught.search.bon import select_prm
from selftaught.search.state import ProblemState, Scorers


def _honest_cost(record) -> None:
    """What a result says it spent is exactly what its stored nodes add up to (an MCTS node
    holds the tokens of the duplicate samples merged into it, and counts them, ``dups``)."""
    for r in record.results:
        nodes = [n for n in record.nodes if n.problem_id == r.problem_id]
        assert r.tokens == sum(n.n_tokens for n in nodes)
        assert r.samples == sum(n.final * (1 + n.scores.get("dups", 0)) for n in nodes)
        chosen = [n for n in nodes if n.selected]
        assert len(chosen) == 1 and chosen[0].index == r.node_index and chosen[0].final
        assert chosen[0].text == r.completion and chosen[0].correct == r.correct


def _search(policy, problems, method, budget, **kw):
    models = {k: kw.pop(k) for k in ("orm", "prm") if k in kw}
    # the scripted policy writes whole paths and is charged for them: a roomy token cap
    cfg = SearchConfig(method=method, budget=budget, tokens_per_sample=200, **kw)
    record = run_search(policy, problems, cfg, checkpoint="scripted", **models)
    _honest_cost(record)
    return record


def test_greedy_takes_the_first_path_once(policy, problems):
    rec = _search(policy, problems, "greedy", 16)
    assert [r.answer for r in rec.results] == ["72", "68"] and all(r.samples == 1 for r in rec.results)


def test_majority_follows_the_crowd_and_the_prm_does_not(policy, problems, prm, orm):
    # the scripted paths hold one right answer and a repeated wrong one per problem
    maj = _search(policy, problems, "majority", 4)
    assert [r.answer for r in maj.results] == ["62", "69"] and maj.accuracy == 0.0
    by_prm = _search(policy, problems, "bon-prm", 4, prm=prm)
    by_orm = _search(policy, problems, "bon-orm", 4, orm=orm)
    assert by_prm.accuracy == by_orm.accuracy == 1.0
    assert all(r.samples == 4 for r in by_prm.results)
    assert all("prm" in n.scores and "agg" in n.scores for n in by_prm.nodes)


def test_weighted_vote_sums_scores_per_answer(problems):
    from selftaught.search.bon import select_orm, select_vote_orm

    state = ProblemState(problems[0])
    texts_scores = [(" <think>x</think> 72", 0.4), (" <think>y</think> 62", 0.9), (" <think>z</think> 72", 0.3),
                    (" <think>w</think> 072", 0.35), (" no answer", 0.99)]  # fmt: skip
    for text, score in texts_scores:
        node = state.add(parent=None, kind="candidate", text=text, step=text, final=True, n_tokens=1)
        node.scores["orm"] = score
    # best-of-N takes the lone top score; the vote sums 72 (0.4 + 0.3 + 0.35) against 62 (0.9),
    # and within 72 selects its best-scored candidate; the answerless one does not vote
    assert select_orm(state.nodes).index == 4
    assert select_vote_orm(state.nodes).index == 0
    empty = ProblemState(problems[0])
    for text, score in ((" a", 0.2), (" b", 0.7)):
        empty.add(parent=None, kind="candidate", text=text, step=text, final=True, n_tokens=1).scores["orm"] = score
    assert select_vote_orm(empty.nodes).index == 1  # nobody has an answer: the best score


def test_weighted_vote_runs_as_a_search(policy, problems, prm, orm):
    for method, models in (("vote-orm", {"orm": orm}), ("vote-prm", {"prm": prm})):
        rec = _search(policy, problems, method, 4, **models)
        assert rec.method is SearchMethod(method) and all(r.samples == 4 for r in rec.results)
        assert rec.accuracy == 1.0  # the exact checker's scores outvote the repeated wrong answer


@pytest.mark.parametrize("how, expected", [("min", 0), ("last", 1), ("product", 0)])
def test_prm_aggregation_decides_best_of_n(how, expected, problems):
    class Fixed:  # candidate 0: steady; candidate 1: a weak step, a strong end
        def score_steps(self, prompts, steps):
            return [[0.7, 0.7, 0.7], [0.9, 0.2, 0.95]][: len(prompts)]

    state = ProblemState(problems[0])
    nodes = [state.add(parent=None, kind="candidate", text=t, step=t, final=True, n_tokens=1) for t in ("a", "b")]
    Scorers(prm=Fixed(), how=how).score_prm([state, state], nodes)
    assert select_prm(nodes).index == expected


def test_beam_search_keeps_the_prms_best_partial_paths(policy, problems, prm):
    rec = _search(policy, problems, "beam", 16, prm=prm)  # width 4, 4 children per beam: every branch seen
    assert rec.accuracy == 1.0 and rec.config["width"] == 4
    partial = [n for n in rec.nodes if n.kind == "partial"]
    assert partial and not any(n.kind == "fallback" for n in rec.nodes)
    for r in rec.results:
        nodes = {n.index: n for n in rec.nodes if n.problem_id == r.problem_id}
        chosen = nodes[r.node_index]
        chain = []
        while chosen is not None:  # the selected answer is a path of steps, each extending its parent
            chain.append(chosen)
            chosen = nodes.get(chosen.parent) if chosen.parent is not None else None
        assert len(chain) == 3 and all(c.text.startswith(p.text) for c, p in zip(chain, chain[1:]))
        assert max(n.depth for n in nodes.values()) <= 2
        depth0 = [n for n in nodes.values() if n.depth == 0]
        assert len(depth0) == 4  # the prompt alone is one beam: budget 16 / width 4 = 4 children
        for d in (1, 2):  # each depth extends only the beams kept: at most `width` parents
            assert len({n.parent for n in nodes.values() if n.depth == d}) <= 4


def test_mcts_visits_add_up_and_it_finds_the_right_path(policy, problems, prm):
    rec = _search(policy, problems, "mcts", 4, prm=prm)
    assert rec.accuracy == 1.0
    for r in rec.results:
        nodes = [n for n in rec.nodes if n.problem_id == r.problem_id]
        root = next(n for n in nodes if n.kind == "root")
        kids = [n for n in nodes if n.parent == root.index]
        assert root.scores["visits"] == sum(k.scores["visits"] for k in kids) and len(kids) <= 2
        assert r.tokens <= 4 * 200 + 40  # the cap, overshot by at most one step
        steps = [n for n in nodes if n.kind in ("partial", "candidate", "truncated")]
        assert r.expansions == sum(1 + n.scores.get("dups", 0) for n in steps)  # merged samples count too


def test_mcts_with_rollout_value_uses_the_orm(policy, problems, orm):
    rec = _search(policy, problems, "mcts", 4, orm=orm, mcts_value="rollout")
    rollouts = [n for n in rec.nodes if n.kind == "rollout"]
    assert rollouts and all(n.scores["value"] == n.scores["orm"] for n in rollouts)
    assert rec.accuracy == 1.0


def test_revise_keeps_the_steps_before_the_first_doubtful_one(policy, problems, prm):
    rec = _search(policy, problems, "revise", 4, prm=prm, seed=1)
    for r in rec.results:
        chain = [n for n in rec.nodes if n.problem_id == r.problem_id]
        for prev, nxt in zip(chain, chain[1:]):
            assert nxt.parent == prev.index
            first = next(i for i, x in enumerate(prev.scores["prm"]) if x < 0.5)
            kept = join_steps(split_steps(prev.text)[:first]) if first > 0 else ""
            assert nxt.scores["kept_prefix"] == kept and nxt.text.startswith(kept)
        assert min(chain[-1].scores["prm"]) >= 0.5 or len(chain) == 4  # stops once the check passes
    assert rec.accuracy == 1.0


@pytest.mark.parametrize("method, given, missing", [
    ("bon-orm", {}, "--orm"), ("bon-prm", {}, "--prm"), ("vote-orm", {"prm": True}, "--orm"),
    ("vote-prm", {"orm": True}, "--prm"), ("beam", {"orm": True}, "--prm"),
    ("mcts", {"orm": True}, "--prm"), ("revise", {}, "--prm"),
])  # fmt: skip
def test_a_method_without_its_reward_model_fails_before_generating(policy, problems, prm, orm, method, given, missing):
    models = {k: {"orm": orm, "prm": prm}[k] for k in given}
    with pytest.raises(ConfigError, match=missing):
        run_search(policy, problems, SearchConfig(method=method, budget=2), **models)
    assert policy.calls == []


def test_search_generate_gives_search_samples_of_the_selected_answers(policy, problems, prm):
    samples = search_generate(policy, problems, SearchConfig(method="bon-prm", budget=4), prm=prm, checkpoint_id="c")
    assert [s.completion for s in samples] == [" <think>7+5=12 2+4+1=7</think> 72", " <think>3+5=8 2+4=6</think> 68"]
    assert all(s.source is SampleSource.SEARCH and s.checkpoint_id == "c" and s.n_tokens > 0 for s in samples)


def test_the_same_config_gives_the_same_search(policy, problems, prm):
    a = run_search(policy, problems, SearchConfig(method="beam", budget=4, tokens_per_sample=200), prm=prm)
    b = run_search(policy, problems, SearchConfig(method="beam", budget=4, tokens_per_sample=200), prm=prm)
    assert a == b and a.method is SearchMethod.BEAM


def test_budget_must_be_positive():
    with pytest.raises(ValueError, match="budget"):
        SearchConfig(budget=0)
