"""Test-time search as a round's generator (recipe ``search:``), through the real flow.

One rft round on the micro cold-started policy of ``real_models`` with its really trained
PRM: the round's GENERATE samples are the searches' selected answers (``params.search``
names the stored search), the searches are in the store linked to the run with every node,
and the curated training set is built from those samples. Plus the recipe checks.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from selftaught.errors import ConfigError
from selftaught.flows.rounds import run_flow
from selftaught.recipe import load_recipe
from selftaught.records import SampleSource, SearchMethod
from selftaught.store import Store


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "recipe.yaml"
    path.write_text(text)
    return path


def _recipe_text(policy: str, search: str) -> str:
    return (
        "name: search-round\nmethod: rft\nrounds: 1\nseed: 0\n"
        "task: {n_train: 8, prompts_per_round: 6, n_heldout: 2, n_cold_start: 8}\n"
        f"policy: {{init: {policy}}}\n"
        "generate: {k: 2, max_new_tokens: 32, batch_size: 16}\n"
        "train: {steps: 2, batch_size: 4}\nevaluate: {k: 1}\n"
        f"search:\n{search}"
    )


def test_rft_round_generates_by_search(real_models, tmp_path):
    rel_prm = os.path.relpath(real_models["prm"], tmp_path)  # relative to the recipe file
    path = _write(tmp_path, _recipe_text(real_models["policy"], f"  method: bon-prm\n  budget: 2\n  n: 2\n  prm: {rel_prm}\n"))
    recipe = load_recipe(path)
    assert recipe.search.prm == str(Path(real_models["prm"]).resolve())
    url = f"sqlite:///{tmp_path / 'store.db'}"
    run_flow("srch", recipe.model_dump(mode="json"), url, str(tmp_path / "home"), threads=1)

    with Store(url, upgrade=False) as store:
        samples = store.get_samples("srch", 1, SampleSource.GENERATE)
        searches = store.list_searches("srch")
        assert len(searches) == 2  # n: 2 searches, one per seed
        records = {s.id: store.get_search(s.id) for s in searches}
        ts = store.get_training_set("srch", 1)
        judged = store.get_judged("srch", 1, SampleSource.GENERATE)

    # 6 problems x n=2 answers, each the answer its search selected, not k=2 plain samples
    assert len(samples) == 12 and sorted({s.index for s in samples}) == [0, 1]
    for s in samples:
        rec = records[s.params.search]
        assert rec.method is SearchMethod.BON_PRM and rec.budget == 2
        result = next(r for r in rec.results if r.problem_id == s.problem_id)
        assert s.completion == result.completion and s.n_tokens == result.tokens
        assert s.checkpoint_id == "srch/r0"
    # every node is stored: budget 2 -> two scored whole candidates per problem, one selected
    for rec in records.values():
        assert len(rec.results) == 6 and len(rec.nodes) == 12
        assert sum(n.selected for n in rec.nodes) == 6 and all("prm" in n.scores for n in rec.nodes)
    assert len({rec.config["seed"] for rec in records.values()}) == 2
    # the round was judged and curated from these samples
    assert len(judged) == 12
    passed = {(j.sample.problem_id, j.sample.completion) for j in judged if j.verdict.passed}
    assert ts is not None and len(ts.examples) == ts.stats.get("n_examples", len(ts.examples))
    assert {(e.problem_id, e.completion) for e in ts.examples} <= passed
    assert len(ts.examples) >= 1, "the micro policy + search should get at least one of 6 right"

    # a resumed generate stage (seeds from run seed, round, stage) reproduces the same rows and
    # re-stores nothing
    from selftaught.flows.rounds import _context
    from selftaught.flows.stages import _policy, _search_samples

    ctx = _context("srch", recipe.model_dump(mode="json"), url, str(tmp_path / "home"), 1)
    done: list[int] = []
    again = _search_samples(ctx, 1, _policy(ctx.checkpoint(0).path, ctx), ctx.round_problems(1), "srch/r0",
                            lambda n, total=None, note=None: done.append(n))  # fmt: skip
    assert done[0] == 0 and done[-1] == len(again)  # the stage's bar: every problem of every search
    key = lambda s: (s.problem_id, s.index)
    assert [(s.completion, s.seed, s.params) for s in sorted(again, key=key)] == \
        [(s.completion, s.seed, s.params) for s in sorted(samples, key=key)]
    assert len(ctx.store.list_searches("srch")) == 2


@pytest.mark.parametrize("search, line, reason", [
    ("  method: bon-prm\n  colour: red\n", 12, "search.colour: unknown key"),
    ("  method: bon-prm\n  budget: 2\n", 10, "needs a PRM"),
    ("  method: bon-orm\n", 10, "needs a ORM"),
    ("  method: beam\n  prm: no/such/dir\n", 12, "search.prm: not a saved model"),
    ("  method: nope\n", 11, "search.method"),
])  # fmt: skip
def test_bad_search_section_fails_with_file_and_line(tmp_path, search, line, reason):
    path = _write(tmp_path, _recipe_text("tiny", search))
    with pytest.raises(ConfigError) as e:
        load_recipe(path)
    assert e.value.file == str(path) and e.value.line == line
    assert reason in e.value.reason


def test_search_needs_an_sft_family_round(tmp_path):
    path = _write(tmp_path, _recipe_text("tiny", "  method: greedy\n").replace("method: rft", "method: grpo"))
    with pytest.raises(ConfigError, match="only rft/star rounds"):
        load_recipe(path)
