"""Problems from user files are content-scoped (``NAME@hash``): two versions of a file that
reuse ids with changed prompts live side by side in one store, and history finds every
version by the user's id."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from selftaught.loops.arithmetic import load_problems_jsonl
from selftaught.records import Outcome, Problem
from selftaught.store import Store
from tests.store.factories import RUN, make_judged, make_sample


def _version(path: Path, prompts: dict[str, str]) -> list[Problem]:
    path.write_text("".join(json.dumps({"id": i, "prompt": p, "answer": "1"}) + "\n" for i, p in prompts.items()))
    return load_problems_jsonl(path)


@pytest.fixture
def two_versions(store: Store, tmp_path: Path) -> tuple[list[Problem], list[Problem]]:
    """Version 1 and version 2 of a file (w000 changed, w001 not), both stored, each with
    one judged sample per problem in rounds 0 and 1; plus a problem named ``w0000`` that a
    prefix match must not take for a version of w000."""
    v1 = _version(tmp_path / "v1.jsonl", {"w000": "old prompt", "w001": "same"})
    v2 = _version(tmp_path / "v2.jsonl", {"w000": "new prompt", "w001": "same"})
    other = _version(tmp_path / "other.jsonl", {"w0000": "another problem"})
    store.create_run(RUN, name="versions", recipe={})
    assert store.add_problems(v1) == 2
    assert store.add_problems(v2) == 1  # only the changed w000 is new
    store.add_problems(other)
    for index, version in enumerate((v1, v2)):
        samples = [make_sample(p.id) for p in version]
        store.add_samples(RUN, index, samples)
        store.add_verdicts(RUN, index, [make_judged(s, Outcome.PASS if index else Outcome.FAIL) for s in samples])
    return v1, v2


def test_both_versions_are_stored_under_their_own_ids(store, two_versions):
    v1, v2 = two_versions
    assert v1[0].id != v2[0].id and v1[1].id == v2[1].id
    stored = {p.id: p for p in store.get_problems([v1[0].id, v2[0].id])}
    assert [stored[v1[0].id].prompt, stored[v2[0].id].prompt] == ["old prompt", "new prompt"]
    assert {p.meta["name"] for p in stored.values()} == {"w000"}


def test_problem_history_shows_every_version_by_the_users_id(store, two_versions):
    v1, v2 = two_versions
    versions = store.problem_history("w000")
    assert [h.problem_id for h in versions] == [v1[0].id, v2[0].id]  # oldest first
    assert [h.prompt for h in versions] == ["old prompt", "new prompt"]
    assert all(h.name == "w000" for h in versions)
    # each version's rounds and samples are its own
    assert [[(r.round, r.n_pass) for r in h.rounds] for h in versions] == [[(0, 0)], [(1, 1)]]
    assert {s.problem_id for s in versions[1].best} == {v2[0].id}
    # the stored id itself still names exactly one version
    assert [h.prompt for h in store.problem_history(v2[0].id)] == ["new prompt"]
    assert [h.problem_id for h in store.problem_history("w001")] == [v1[1].id]


def test_samples_filter_finds_both_versions_by_the_users_id(store, two_versions):
    v1, v2 = two_versions
    rows = store.query_samples(problem="w000", limit=None)
    assert sorted(r.problem_id for r in rows) == sorted([v1[0].id, v2[0].id])
    assert {r.problem_id for r in store.query_samples(problem=v1[0].id, limit=None)} == {v1[0].id}
    assert {r.problem_id for r in store.export_samples(problem="w000")} == {v1[0].id, v2[0].id}


@pytest.mark.parametrize(
    "asked, why",
    [
        ("W000", "the id is compared exactly (SQLite's LIKE would ignore case)"),
        ("w00", "a shorter prefix is another id"),
        ("w00_", "_ is a literal character, not LIKE's any-one-character"),
        ("w%", "% is a literal character, not LIKE's wildcard"),
        ("w000@", "a version is NAME@ and 8 characters"),
    ],
)
def test_only_the_users_id_itself_matches(store, two_versions, asked, why):
    assert store.problem_history(asked) == [], why
    assert store.query_samples(problem=asked, limit=None) == [], why
