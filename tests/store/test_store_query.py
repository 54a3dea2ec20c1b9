"""query_samples: searching the sample history by every filter the CLI exposes."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.store.factories import BACKENDS, RUN, fresh_url, make_judged, make_sample

from selftaught.errors import StoreError
from selftaught.records import Outcome, Problem, SampleSource
from selftaught.store import Store


@pytest.fixture(scope="module", params=BACKENDS)
def history_store(request, tmp_path_factory) -> Iterator[Store]:
    """Two rounds; round 1 has a rationalized sample and a second judge on one sample.

    Module-scoped (the tests here only read), once per backend.
    """
    with fresh_url(request.param, tmp_path_factory.mktemp("history")) as url:
        store = Store(url)
        try:
            _fill(store)
            yield store
        finally:
            store.close()


def _fill(store: Store) -> None:
    store.create_run(RUN, name="history", recipe={})
    store.add_problems([Problem(id=p, prompt=f"{p}?") for p in ("add-1", "add-2", "mc-1")])
    r0 = [make_sample("add-1", i, completion=f"The answer is {i}", checkpoint_id="base")
          for i in range(3)]  # fmt: skip
    store.add_samples(RUN, 0, r0)
    store.add_verdicts(RUN, 0, [make_judged(r0[0]), make_judged(r0[1], Outcome.FAIL),
                                make_judged(r0[2], Outcome.TIMEOUT)])  # fmt: skip
    r1 = [make_sample("add-2", 0, completion="50% of it_is 5", checkpoint_id="c0"),
          make_sample("add-2", 0, SampleSource.RATIONALIZE, "hinted: 5", checkpoint_id="c0")]
    store.add_samples(RUN, 1, r1)
    store.add_verdicts(RUN, 1, [make_judged(r1[0]), make_judged(r1[1]),
                                make_judged(r1[0], Outcome.FAIL, judge="format", detail="no think")])
    store.add_samples(RUN, 1, [make_sample("mc-1", 0, completion="unjudged")])


def _keys(rows):
    return [(r.round, r.problem_id, r.source, r.index, r.judge) for r in rows]


def test_no_filter_returns_every_sample_verdict_pair_in_id_order(history_store: Store):
    rows = history_store.query_samples(limit=None)
    assert len(rows) == 7
    assert rows[-1].completion == "unjudged" and rows[-1].outcome is None
    json.dumps(rows[0].as_dict())  # flat and JSON-ready
    assert rows[0].run == RUN and rows[0].seed == 1000 and rows[0].outcome == "pass"
    assert len(history_store.query_samples(limit=2)) == 2


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"round_index": 0}, [(0, "add-1", "generate", i, "math") for i in range(3)]),
        ({"outcome": Outcome.FAIL}, [(0, "add-1", "generate", 1, "math"),
                                     (1, "add-2", "generate", 0, "format")]),
        ({"outcome": "timeout"}, [(0, "add-1", "generate", 2, "math")]),
        ({"judge": "format"}, [(1, "add-2", "generate", 0, "format")]),
        ({"source": SampleSource.RATIONALIZE}, [(1, "add-2", "rationalize", 0, "math")]),
        ({"rationalized": True}, [(1, "add-2", "rationalize", 0, "math")]),
        ({"problem": "mc-1"}, [(1, "mc-1", "generate", 0, None)]),
        ({"checkpoint_id": "c0", "judge": "math"}, [(1, "add-2", "generate", 0, "math"),
                                                    (1, "add-2", "rationalize", 0, "math")]),
        ({"min_score": 0.5, "round_index": 0}, [(0, "add-1", "generate", 0, "math")]),
        ({"max_score": 0.5, "round_index": 1}, [(1, "add-2", "generate", 0, "format")]),
        ({"text": "ANSWER IS 2"}, [(0, "add-1", "generate", 2, "math")]),  # case-insensitive
        ({"text": "50%"}, [(1, "add-2", "generate", 0, "math"),  # % is literal, not a wildcard
                           (1, "add-2", "generate", 0, "format")]),
        ({"text": "t_i"}, [(1, "add-2", "generate", 0, "math"),
                           (1, "add-2", "generate", 0, "format")]),
        ({"run_id": "other"}, []),
        ({"problem": "x' OR '1'='1"}, []),  # bound parameter, not SQL
    ],
)  # fmt: skip
def test_filters_select_the_expected_rows(history_store: Store, filters, expected):
    assert _keys(history_store.query_samples(**filters, limit=None)) == expected


def test_order_by_score_descending_and_bad_orders(history_store: Store):
    rows = history_store.query_samples(round_index=0, order_by="-score")
    assert [r.score for r in rows] == [1.0, 0.0, 0.0]
    assert _keys(history_store.query_samples(order_by="problem", judge="math", limit=1)) == [
        (0, "add-1", "generate", 0, "math")
    ]
    with pytest.raises(StoreError, match="cannot order"):
        history_store.query_samples(order_by="completion; DROP TABLE samples")
    with pytest.raises(StoreError, match="not a Outcome"):
        history_store.query_samples(outcome="great")
