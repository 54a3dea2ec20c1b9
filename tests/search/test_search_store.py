"""A search in the store: every node and score back as it went in, once, on both backends."""

from __future__ import annotations

import pytest

from selftaught.errors import StoreError
from selftaught.records import SearchMethod
from selftaught.search import SearchConfig, run_search
from selftaught.store import Store
from tests.store.factories import BACKENDS, pg_schema


@pytest.fixture(params=BACKENDS)
def store(request, tmp_path):
    if request.param == "sqlite":
        s = Store(f"sqlite:///{tmp_path / 'search.db'}")
        yield s
        s.close()
    else:
        with pg_schema() as url:
            s = Store(url)
            yield s
            s.close()


@pytest.fixture
def beam_record(policy, problems, prm):
    return run_search(policy, problems, SearchConfig(method="beam", budget=4, tokens_per_sample=200), prm=prm,
                      checkpoint="scripted")  # fmt: skip


def test_a_search_round_trips_with_every_node(store, problems, beam_record):
    store.create_run("tts", name="search", recipe={})
    store.add_problems(problems)
    assert store.add_search(beam_record, run_id="tts") is True
    back = store.get_search(beam_record.id)
    assert back == beam_record  # results, nodes (parents, scores, verdicts, selection), config
    assert store.get_search(beam_record.id, nodes=False).nodes == ()
    [row] = store.list_searches("tts")
    assert (row.method, row.budget, row.n_problems) == ("beam", 4, 2)
    assert row.accuracy == beam_record.accuracy and row.tokens == sum(r.tokens for r in beam_record.results)


def test_storing_a_search_again_adds_nothing(store, problems, beam_record):
    store.add_problems(problems)
    assert store.add_search(beam_record) is True
    assert store.add_search(beam_record) is False
    assert len(store.list_searches()) == 1 and len(store.get_search(beam_record.id).nodes) == len(beam_record.nodes)


def test_unknown_problems_or_run_store_nothing(store, problems, beam_record):
    with pytest.raises(StoreError, match="add_problems first"):
        store.add_search(beam_record)
    store.add_problems(problems)
    with pytest.raises(StoreError, match="unknown run"):
        store.add_search(beam_record, run_id="nope")
    assert store.list_searches() == [] and store.get_search(beam_record.id) is None


def test_an_id_reused_for_another_method_is_refused(store, problems, beam_record):
    from dataclasses import replace

    store.add_problems(problems)
    store.add_search(beam_record)
    with pytest.raises(StoreError, match="another method"):
        store.add_search(replace(beam_record, method=SearchMethod.MCTS))


def test_a_weighted_vote_search_with_merged_mcts_nodes_round_trips(store, policy, problems, orm, prm):
    """The methods added after migration 0007 (vote-*) and MCTS's merged duplicates store as they are."""
    store.add_problems(problems)
    vote = run_search(policy, problems, SearchConfig(method="vote-orm", budget=4), orm=orm, checkpoint="scripted")
    tree = run_search(policy, problems, SearchConfig(method="mcts", budget=4, tokens_per_sample=200), prm=prm,
                      checkpoint="scripted")  # fmt: skip
    assert any("dups" in n.scores for n in tree.nodes)  # the scripted policy repeats steps
    for record in (vote, tree):
        assert store.add_search(record) is True
        assert store.get_search(record.id) == record
    assert {r.method for r in store.list_searches()} == {"vote-orm", "mcts"}
