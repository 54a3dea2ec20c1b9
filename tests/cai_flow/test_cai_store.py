"""The store's Constitutional AI tables, fed by ``sl_cai``/``rl_cai`` on a FakeChatModel (no torch)."""

from __future__ import annotations

import math

import pytest

from selftaught.constitution import bundled_path, canonical_json, constitution_hash, load_constitution, load_prompts
from selftaught.errors import StoreError
from selftaught.loops.cai import RlCaiConfig, SlCaiConfig, rl_cai, sl_cai
from selftaught.loops.chat import FakeChatModel
from selftaught.store import Store


@pytest.fixture
def setup(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    c = load_constitution(bundled_path("concise"))
    problems = load_prompts("train")[:3]
    store.create_run("r", name="r", recipe={})
    store.add_problems(problems)
    store.ensure_round("r", 1, constitution_hash=constitution_hash(c))
    yield store, c, problems
    store.close()


def test_sl_records_round_trip_and_are_stored_once(setup):
    store, c, problems = setup
    h = constitution_hash(c)
    policy = FakeChatModel(lambda msgs: f"reply {len(msgs)} {msgs[-1]['content'][:10]}")
    r = sl_cai(problems, c, policy, SlCaiConfig(n_revisions=2))
    assert store.add_constitution(h, c.name, canonical_json(c)) is True
    assert store.add_constitution(h, c.name, canonical_json(c)) is False
    store.add_samples("r", 1, r.answers)
    assert store.add_critiques("r", 1, r.critiques) == len(r.critiques) == 6
    assert store.add_revisions("r", 1, r.revisions) == len(r.revisions)
    assert store.add_critiques("r", 1, r.critiques) == 0  # a retried stage
    assert store.add_revisions("r", 1, r.revisions) == 0
    got = store.get_cai("r", 1)
    assert got.constitution_hash == h
    assert sorted(got.critiques, key=str) == sorted(r.critiques, key=str)
    assert sorted(got.revisions, key=str) == sorted(r.revisions, key=str)
    assert store.get_constitution(h).text == canonical_json(c)


def test_rl_pairs_round_trip_with_kept_and_probabilities(setup):
    store, c, problems = setup
    h = constitution_hash(c)
    n = iter(range(1000))
    policy = FakeChatModel(
        lambda msgs: f"answer {next(n)}",
        prefer=lambda msgs, opts: [math.log(0.8), math.log(0.2)] if "1" in msgs[-1]["content"][-40:] else [math.log(0.55), -math.inf],
    )
    r = rl_cai(problems, c, policy, RlCaiConfig(threshold=0.7, debias_order=False))
    store.add_constitution(h, c.name, canonical_json(c))
    store.add_samples("r", 1, r.answers)
    assert store.add_preference_pairs("r", 1, r.pairs, r.kept) == len(r.pairs) == 3
    assert store.add_preference_pairs("r", 1, r.pairs, r.kept) == 0
    got = store.get_cai("r", 1)
    assert {(p.problem_id, p.principle_id, p.chosen_key, p.rejected_key) for p in got.pairs} == {
        (p.problem_id, p.principle_id, p.chosen_key, p.rejected_key) for p in r.pairs
    }
    assert {p.problem_id for p in got.kept} == {p.problem_id for p in r.kept}
    by_id = {p.problem_id: p for p in r.pairs}
    for p in got.pairs:
        assert p.p_chosen == pytest.approx(by_id[p.problem_id].p_chosen)
        assert p.option_logprobs == by_id[p.problem_id].option_logprobs  # -inf survives the JSON


def test_unknown_constitution_or_sample_writes_nothing(setup):
    store, c, problems = setup
    r = sl_cai(problems, c, FakeChatModel("x y z"), SlCaiConfig())
    store.add_samples("r", 1, r.answers)
    with pytest.raises(StoreError, match="add_constitution first"):
        store.add_critiques("r", 1, r.critiques)
    h = constitution_hash(c)
    store.add_constitution(h, c.name, canonical_json(c))
    with pytest.raises(StoreError, match="different text"):
        store.add_constitution(h, c.name, canonical_json(c) + " ")
    with pytest.raises(StoreError, match="not stored in this round"):
        store.ensure_round("r", 2)
        store.add_samples("r", 2, [])
        store.add_critiques("r", 2, r.critiques)
    assert store.get_cai("r", 1).critiques == ()
    with pytest.raises(StoreError, match="already ran under constitution"):
        store.ensure_round("r", 1, constitution_hash="0" * 64)
