"""`selftaught cai` through the real Prefect flows, and an RL-CAI round (pairs -> DPO), on
the tiny random chat model."""

from __future__ import annotations

import json
import subprocess

import pytest

from selftaught.constitution import bundled_path, constitution_hash, load_constitution
from selftaught.flows.rounds import run_rounds
from selftaught.records import SampleSource
from selftaught.store import Store
from tests.cai_flow.test_cai_flow import _recipe
from tests.helpers import BIN, cli_env, run_cli


def test_rl_round_stores_pairs_with_probabilities_and_trains_dpo(tmp_path):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    recipe = _recipe(bundled_path("concise"), method="rl-cai", threshold=0.5, n_train=2, n_heldout=2)
    run_rounds("rl", recipe, url, str(tmp_path / "home"))
    with Store(url) as store:
        cai = store.get_cai("rl", 1)
        assert cai.constitution_hash == constitution_hash(load_constitution(bundled_path("concise")))
        assert len(store.get_samples("rl", 1, SampleSource.GENERATE)) == 4  # two answers per prompt
        assert cai.pairs, "no pairs stored"
        for p in cai.pairs:
            assert 0.5 <= p.p_chosen <= 1.0 and p.principle_id and p.chosen != p.rejected
            assert len(p.option_logprobs) == 2  # asked in both orders
        assert set(cai.kept) == set(cai.pairs)  # threshold 0.5 keeps every pair
        ckpt = store.get_checkpoint("rl/r1")
        assert ckpt.config["method"] == "dpo" and ckpt.config["n_pairs"] == len(cai.kept)
        before = len(cai.pairs)
    run_rounds("rl", recipe, url, str(tmp_path / "home"))  # finished: nothing again
    with Store(url) as store:
        assert len(store.get_cai("rl", 1).pairs) == before


@pytest.mark.slow
def test_cli_runs_a_cai_recipe_through_prefect(tmp_path, prefect_server):
    recipe = tmp_path / "cai.yaml"
    body = {k: v for k, v in _recipe(bundled_path("concise"), n_train=2, n_heldout=2, passes=1).items()}
    import yaml

    recipe.write_text(yaml.safe_dump(body))
    env = {**cli_env(tmp_path, prefect_server), "COLUMNS": "200"}
    log = tmp_path / "cli.log"
    run_cli(["cai", str(recipe), "--run-id", "c1"], env, log)
    text = log.read_text()
    h = constitution_hash(load_constitution(bundled_path("concise")))
    out = subprocess.run([str(BIN / "selftaught"), "rounds", "c1"], env=env, capture_output=True, text=True, check=True)
    assert h[:8] in out.stdout, out.stdout + text
    rows = json.loads(subprocess.run(
        [str(BIN / "selftaught"), "rounds", "c1", "--json"], env=env, capture_output=True, text=True, check=True,
    ).stdout)  # fmt: skip
    assert [r["constitution_hash"] for r in rows] == [None, h]
    # resume with one more round: only round 2 runs
    body["rounds"] = 2
    recipe.write_text(yaml.safe_dump(body))
    run_cli(["cai", str(recipe), "--resume", "c1"], env, log)
    with Store(env["SELFTAUGHT_DB_URL"]) as store:
        assert [r.index for r in store.round_table("c1")] == [0, 1, 2]
