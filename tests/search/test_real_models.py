"""Every search path with a real (micro, cold-started) policy and a really trained ORM and
PRM: generation stops at step boundaries, every node is scored by the real models, the
selection follows those scores, and the cost adds up. Small: 2 problems, budget 2-4."""

from __future__ import annotations

import pytest

from selftaught.loops.arithmetic import make_problems
from selftaught.prm.scorers import aggregate, load_orm, load_prm
from selftaught.prm.steps import split_steps
from selftaught.records import Split
from selftaught.search import SearchConfig, run_search
from tests.search.test_methods import _honest_cost


@pytest.fixture(scope="module")
def loaded(real_models):
    from selftaught.loops.policy import load_policy

    return {"policy": load_policy(real_models["policy"], threads=1), "orm": load_orm(real_models["orm"], threads=1),
            "prm": load_prm(real_models["prm"], threads=1)}  # fmt: skip


PROBLEMS = make_problems(2, Split.HELDOUT, seed=3)


@pytest.mark.parametrize("method, budget, extra", [
    ("greedy", 1, {}), ("majority", 4, {}), ("bon-orm", 4, {}), ("bon-prm", 4, {"aggregate": "product"}),
    ("revise", 3, {}), ("beam", 4, {}), ("mcts", 4, {}), ("mcts", 2, {"mcts_value": "rollout"}),
])  # fmt: skip
def test_each_method_with_the_real_models(loaded, method, budget, extra):
    cfg = SearchConfig(method=method, budget=budget, max_new_tokens=32, max_step_tokens=12, max_steps=6, **extra)
    rec = run_search(loaded["policy"], PROBLEMS, cfg, orm=loaded["orm"], prm=loaded["prm"], checkpoint="micro")
    _honest_cost(rec)
    finals = [n for n in rec.nodes if n.final]
    # the real PRM scored every final node once per step, and 'agg' is their aggregate
    for n in finals:
        assert len(n.scores["prm"]) == len(split_steps(n.text))
        assert n.scores["agg"] == pytest.approx(aggregate(n.scores["prm"], cfg.aggregate), abs=1e-5)
        assert 0.0 <= n.scores["orm"] <= 1.0 if "orm" in n.scores else True
    for r in rec.results:
        mine = [n for n in finals if n.problem_id == r.problem_id]
        chosen = next(n for n in mine if n.selected)
        if method == "bon-prm":
            assert chosen.scores["agg"] == max(n.scores["agg"] for n in mine)
        if method == "bon-orm":
            assert chosen.scores["orm"] == max(n.scores["orm"] for n in mine)
    if method in ("beam", "mcts"):
        partial = [n for n in rec.nodes if n.kind == "partial"]
        assert partial, "the policy should stop at step boundaries, leaving partial paths"
        # a partial node holds exactly one new step: a stop happened at the delimiter
        assert all(len(split_steps(n.step)) <= 1 for n in partial)
        # and it was charged for exactly what it generated: the step plus the one closing delimiter token
        # (an MCTS node that merged duplicate samples holds their tokens too: checked by _honest_cost)
        tok = loaded["policy"].tokenizer
        once = [n for n in partial if not n.scores.get("dups")]
        assert all(n.n_tokens == len(tok(n.step, add_special_tokens=False)["input_ids"]) + 1 for n in once)
        assert all(r.expansions > 0 for r in rec.results)
