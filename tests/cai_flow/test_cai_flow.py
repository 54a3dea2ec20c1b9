"""CAI rounds (method sl-cai / rl-cai of an ordinary recipe) through the store and the one
round pipeline (``flows/rounds.play_round``), on a tiny random chat model (plumbing, not the
method).

One run is shared by the tests of this module: round 0 + two SL rounds, with the
constitution file edited between round 1 and round 2.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from selftaught.constitution import bundled_path, canonical_json, constitution_hash, load_constitution
from selftaught.errors import ConfigError
from selftaught.flows.rounds import play_round, run_rounds
from selftaught.recipe import load_recipe, recipe_from_dict
from selftaught.records import SampleSource, Stage
from selftaught.store import Store

RUN = "cai-test"


def _recipe(constitution: Path, *, method: str = "sl-cai", rounds: int = 1, n_train: int = 3, n_heldout: int = 3,
            **settings) -> dict:  # fmt: skip
    """A CAI recipe as a run stores it; ``settings`` go to its ``constitution:`` section."""
    train = {"steps": 2, "batch_size": 2, "lr": 1e-3, "max_length": 256}
    data = dict(
        name="cai-test", method=method, rounds=rounds, policy={"init": "tiny"},
        task={"kind": "prompts", "prompts_per_round": n_train, "n_heldout": n_heldout},
        constitution={"name": str(constitution), "passes": 2, "max_new_tokens": 12, "critique_max_new_tokens": 8,
                      "temperature": 1.0, **settings},
        train=train, dpo=train,
    )  # fmt: skip
    return recipe_from_dict(data).model_dump(mode="json")


def _count(url: str, table: str) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def cai_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("cai")
    const = root / "constitution.yaml"
    shutil.copy(bundled_path("concise"), const)
    url = f"sqlite:///{root / 'store.db'}"
    home = root / "home"
    recipe = _recipe(const)
    run_rounds(RUN, recipe, url, str(home))  # round 0 and round 1
    first = constitution_hash(load_constitution(const))
    # edit the file between rounds: the next round follows (and records) the new version
    text = const.read_text()
    assert "60 words" in text
    const.write_text(text.replace("60 words", "50 words"))
    recipe2 = {**recipe, "rounds": 2}
    run_rounds(RUN, recipe2, url, str(home))  # round 2 only
    second = constitution_hash(load_constitution(const))
    return {"url": url, "home": str(home), "recipe": recipe2, "hashes": (first, second), "const": const}


def test_round_records_constitution_critiques_and_revisions(cai_run):
    url = cai_run["url"]
    first, second = cai_run["hashes"]
    with Store(url) as store:
        rows = store.round_table(RUN)
        assert [r.index for r in rows] == [0, 1, 2]
        assert all(len(r.stages_done) == len(Stage) for r in rows)
        assert [r.constitution_hash for r in rows] == [None, first, second]
        assert store.get_constitution(first).text == canonical_json(load_constitution(bundled_path("concise")))
        assert store.get_constitution(second).text == canonical_json(load_constitution(cai_run["const"]))
        principle_ids = {p.id for p in load_constitution(bundled_path("concise")).principles}
        for index, h in ((1, first), (2, second)):
            cai = store.get_cai(RUN, index)
            assert cai.constitution_hash == h
            answers = store.get_samples(RUN, index, SampleSource.GENERATE)
            assert len(answers) == 3
            assert cai.critiques, "no critiques stored"
            assert {c.principle_id for c in cai.critiques} <= principle_ids
            assert {c.constitution_hash for c in cai.critiques + cai.revisions} == {h}
            assert {c.pass_index for c in cai.critiques} <= {0, 1}
            ts = store.get_training_set(RUN, index)
            assert ts is not None and ts.method == "sl-cai"
            assert len(ts.examples) == len({r.sample_key for r in cai.revisions})
        evals = store.get_evaluations(RUN)
        assert [i for i, _ in evals] == [0, 1, 2]
        assert all(0.0 <= ev.extra["violation_rate"] <= 1.0 for _, ev in evals)
    # each version of the constitution is stored once
    assert _count(url, "constitutions") == 2


def test_rounds_table_shows_the_constitution_hash(cai_run):
    from rich.console import Console

    from selftaught.cli.tables import round_table

    first, second = cai_run["hashes"]
    with Store(cai_run["url"]) as store:
        rows = store.round_table(RUN)
    console = Console(width=200, record=True)
    console.print(round_table(rows))
    out = console.export_text()
    assert first[:8] in out and second[:8] in out


def test_rerunning_a_round_stores_nothing_twice(cai_run):
    url = cai_run["url"]
    tables = ("samples", "critiques", "revisions", "constitutions", "training_examples", "checkpoints", "evaluations")
    before = {t: _count(url, t) for t in tables}
    # a finished run: nothing runs again
    run_rounds(RUN, cai_run["recipe"], url, cai_run["home"])
    assert {t: _count(url, t) for t in tables} == before
    # forget that round 2's stages finished (as after a crash): they run again, write nothing new
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(
            "DELETE FROM stages WHERE round_id = (SELECT id FROM rounds WHERE run_id = :r AND \"index\" = 2) "
            "AND stage IN ('generate', 'curate')"
        ), {"r": RUN})  # fmt: skip
    engine.dispose()
    play_round(RUN, 2, cai_run["recipe"], url, cai_run["home"])
    assert {t: _count(url, t) for t in tables} == before


def test_a_round_refuses_a_constitution_changed_under_it(cai_run, tmp_path):
    """Round 2 already ran under the edited file; editing again and re-running it fails."""
    const = tmp_path / "c.yaml"
    const.write_text(cai_run["const"].read_text().replace("50 words", "40 words"))
    recipe = {**cai_run["recipe"], "constitution": {**cai_run["recipe"]["constitution"], "name": str(const)}}
    from selftaught.errors import StoreError

    with pytest.raises(StoreError, match="already ran under constitution"):
        play_round(RUN, 2, recipe, cai_run["url"], cai_run["home"])


def test_recipe_errors_have_file_and_line(tmp_path):
    bad = tmp_path / "r.yaml"
    bad.write_text("name: x\nmode: sl\npasses: 0\n")
    with pytest.raises(ConfigError) as e:
        load_recipe(bad)
    assert "r.yaml" in str(e.value) and "3" in str(e.value) and "passes" in str(e.value)
    bad.write_text("name: x\nmodes: sl\n")
    with pytest.raises(ConfigError, match="unknown key"):
        load_recipe(bad)
    good = tmp_path / "g.yaml"
    good.write_text("name: g\nconstitution: my.yaml\npolicy: tiny\n")
    r = load_recipe(good)  # an old CAI recipe: read in the new form
    assert r.constitution.name == str(tmp_path / "my.yaml") and r.policy.init == "tiny"


def test_cuda_without_a_gpu_fails_at_load(no_cuda, tmp_path):
    bad = tmp_path / "r.yaml"
    bad.write_text("name: x\ndevice: cuda\n")
    with pytest.raises(ConfigError, match=r"r.yaml:2: .*torch sees no CUDA GPU"):
        load_recipe(bad)


def test_every_model_stage_records_its_placement(cai_run):
    import torch

    where = ("cuda", "bfloat16") if torch.cuda.is_available() else ("cpu", "float32")
    with Store(cai_run["url"]) as store:
        rows = store.round_table(RUN)
    assert set(rows[0].placement) == {"evaluate"}  # round 0 only registers the policy
    # revision is the sl-cai plan's rationalize step (it runs the policy, so records where)
    assert set(rows[1].placement) == {"generate", "rationalize", "train", "evaluate"}
    assert {(p.device, p.dtype) for r in rows for p in r.placement.values()} == {where}


def test_shipped_recipe_is_valid():
    r = load_recipe(Path(__file__).resolve().parents[2] / "recipes" / "cai-smollm2.yaml")
    assert r.policy.init == "smollm2" and r.method == "sl-cai"
