"""What a checkpoint trained on: `export --trained` writes exactly the rows its trainer got
(the hash its manifest records), re-training on them reproduces its weights, and
`checkpoint show` prints lineage, training set, recipe slice and evaluation."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import sqlite3

import pytest
import sqlalchemy as sa

from selftaught.records import SampleSource
from tests.cli.test_cli import cli
from tests.conftest import tiny_recipe_text
from tests.helpers import cli_env, run_cli


@pytest.fixture(scope="module")
def learned_run(tmp_path_factory, prefect_server):
    """(env, run id) of a STaR round then a DPO round from a policy cold-started on one-digit
    sums long enough to solve some, so both rounds train on rows (``finished_run``'s don't)."""
    root = tmp_path_factory.mktemp("learned")
    recipe = root / "learned.yaml"
    recipe.write_text(tiny_recipe_text(
        name="learned", method="star", rounds="2", stages="[star, dpo]",
        task="{digits: 1, n_train: 48, prompts_per_round: 12, n_heldout: 4, n_cold_start: 32}",
        policy="{cold_start_steps: 120, cold_start_lr: 0.003, cold_start_batch_size: 16}",
        generate="{k: 4, max_new_tokens: 32, batch_size: 32}", train="{steps: 2, batch_size: 4}",
        dpo="{steps: 2, batch_size: 4}", evaluate="{k: 1}",
    ))  # fmt: skip
    env = cli_env(root, prefect_server)
    run_cli(["run", str(recipe), "--run-id", "learned"], env, root / "cli.log")
    return env, "learned"


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _manifest_meta(store, checkpoint_id: str) -> dict:
    from selftaught.loops.checkpoint import verify_checkpoint

    return verify_checkpoint(store.get_checkpoint(checkpoint_id).path)["meta"]


def _store(env: dict):
    from selftaught.store import Store

    return Store(env["SELFTAUGHT_DB_URL"], home=env["SELFTAUGHT_HOME"])  # checkpoint paths are home-relative


def _export(env: dict, out: Path, run_id: str, index: int):
    return cli("export", str(out), "--trained", "--run", run_id, "--round", str(index), env=env)


@pytest.mark.slow  # the module's real 2-round run: ~50 s idle, ~80 s on a loaded 2-core box
def test_export_trained_writes_exactly_what_each_round_trained_on(learned_run, tmp_path):
    from selftaught.loops.trained import rows_sha256

    env, run_id = learned_run
    store = _store(env)
    keys = {0: {"prompt", "completion"}, 1: {"prompt", "completion"}, 2: {"prompt", "chosen", "rejected"}}
    for index, columns in keys.items():
        out = tmp_path / f"r{index}.jsonl"
        result = _export(env, out, run_id, index)
        assert result.returncode == 0, result.stderr
        rows, meta = _rows(out), _manifest_meta(store, f"{run_id}/r{index}")
        assert rows and len(rows) == meta["n_pairs" if index == 2 else "n_examples"]
        assert rows_sha256(rows) == meta["training_set_sha256"] and all(set(r) == columns for r in rows)
    assert _manifest_meta(store, f"{run_id}/r0")["method"] == "cold_start"
    # the DPO round's pairs are recorded with the samples they came from: a pass and a fail
    pairs = store.get_training_pairs(run_id, 2)
    assert pairs and [p.chosen for p in pairs] == [r["chosen"] for r in rows]
    # keyed by (problem, completion): one-digit problems share completions ("... 7") across problems
    outcome = {(j.sample.problem_id, j.sample.completion): j.verdict.outcome.value
               for j in store.get_judged(run_id, 2, SampleSource.GENERATE)}  # fmt: skip
    assert all(outcome[p.problem_id, p.chosen] == "pass" and outcome[p.problem_id, p.rejected] == "fail" for p in pairs)
    assert all(p.chosen_sample_id and p.rejected_sample_id for p in pairs)
    # the STaR round's rows carry each problem's own prompt, never the hint it was sampled with
    hinted = {j.sample.prompt for j in store.get_judged(run_id, 1, SampleSource.RATIONALIZE)}
    assert hinted and all("(the answer is" in p for p in hinted)
    assert not any("(the answer is" in r["prompt"] for r in _rows(tmp_path / "r1.jsonl"))


@pytest.mark.slow  # shares the module's run; the two re-trainings take ~2 s
def test_retraining_a_round_from_its_export_gives_the_same_weights(learned_run, tmp_path):
    """Round 1 again, from its parent checkpoint, on its `--trained` export, with the recorded seed."""
    from selftaught.loops.rounds import stage_seed
    from selftaught.loops.train import train_sft
    from selftaught.recipe import recipe_from_dict
    from selftaught.records import TrainingExample, TrainingSet

    env, run_id = learned_run
    store = _store(env)
    out = tmp_path / "r1.jsonl"
    assert _export(env, out, run_id, 1).returncode == 0
    ts = TrainingSet("star", tuple(TrainingExample(r["prompt"], r["completion"], problem_id="") for r in _rows(out)))
    recipe = recipe_from_dict(store.get_run(run_id).recipe)
    cfg = recipe.sft_settings(seed=stage_seed(recipe.seed, 1, "train"))
    stored, parent = store.get_checkpoint(f"{run_id}/r1"), store.get_checkpoint(f"{run_id}/r0")

    def train(examples, name):
        return train_sft(parent.path, replace(ts, examples=examples), str(tmp_path / name), cfg=cfg,
                         checkpoint_id=stored.id, parent_id=parent.id, round_index=1, threads=1).sha256  # fmt: skip

    assert len(ts.examples) > 1 and train(ts.examples, "again") == stored.sha256
    # the order is part of what was trained on: the same rows rotated give other weights
    assert train(ts.examples[1:] + ts.examples[:1], "rotated") != stored.sha256


@pytest.mark.slow  # shares the module's run
def test_checkpoint_show_prints_lineage_training_set_recipe_and_evaluation(learned_run):
    env, run_id = learned_run
    store = _store(env)
    for index, method, kind, section in ((1, "star", "examples", "train"), (2, "dpo", "pairs", "dpo")):
        meta = _manifest_meta(store, f"{run_id}/r{index}")
        info = json.loads(cli("checkpoint", "show", f"{run_id}/r{index}", "--json", env=env).stdout)
        assert info["parent"] == f"{run_id}/r{index - 1}" and info["method"] == method and info["round"] == index
        n = meta["n_pairs" if kind == "pairs" else "n_examples"]
        assert info["trained_on"] == {"kind": kind, "n_rows": n, "sha256": meta["training_set_sha256"]}
        assert info["recipe"]["method"] == method and info["recipe"]["seed"] == 0 and section in info["recipe"]
        assert info["recipe"][section]["steps"] == 2 and [e["split"] for e in info["evaluation"]] == ["heldout"]
    text = cli("checkpoint", "show", f"{run_id}/r2", env=env).stdout
    assert f"parent:     {run_id}/r1" in text and meta["training_set_sha256"] in text and "evaluation: heldout" in text
    cold = json.loads(cli("checkpoint", "show", f"{run_id}/r0", "--json", env=env).stdout)
    assert cold["parent"] is None and cold["method"] == "cold_start" and cold["recipe"]["policy"]["cold_start_steps"] == 120


@pytest.mark.slow  # shares the module's run
def test_changed_rows_unknown_ids_and_missing_options_are_one_line(learned_run, tmp_path):
    env, run_id = learned_run
    shown = cli("checkpoint", "show", "nope/r1", env=env)
    assert shown.returncode == 1 and "no checkpoint 'nope/r1'" in shown.stderr and "Traceback" not in shown.stderr
    no_round = cli("export", str(tmp_path / "x.jsonl"), "--trained", "--run", run_id, env=env)
    assert no_round.returncode == 2 and "--trained needs --run and --round" in no_round.stderr
    too_far = _export(env, tmp_path / "y.jsonl", run_id, 9)
    assert too_far.returncode == 1 and "round 9 has no checkpoint" in too_far.stderr
    # a store whose recorded rows were edited afterwards no longer matches the checkpoint
    copy = tmp_path / "edited.db"
    with sqlite3.connect(env["SELFTAUGHT_DB_URL"].removeprefix("sqlite:///")) as src, sqlite3.connect(copy) as dst:
        src.backup(dst)  # the WAL's pages too
    with sa.create_engine(f"sqlite:///{copy}").begin() as conn:
        conn.execute(sa.text("UPDATE training_examples SET completion = completion || ' 1' WHERE position = 0"))
    edited = _export({**env, "SELFTAUGHT_DB_URL": f"sqlite:///{copy}"}, tmp_path / "z.jsonl", run_id, 1)
    assert edited.returncode == 1 and "no longer hash to" in edited.stderr
    assert not any((tmp_path / f).exists() for f in ("x.jsonl", "y.jsonl", "z.jsonl"))


def test_an_online_rl_round_has_no_fixed_training_set(tmp_path):
    """GRPO/RLOO train on their own rollouts: `show` says so, `export --trained` refuses."""
    from selftaught.errors import DataError
    from selftaught.loops.trained import describe_checkpoint, trained_rows
    from selftaught.records import Checkpoint
    from selftaught.store import Store

    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    store.create_run("rl", name="rl", recipe={"method": "grpo"})
    store.add_checkpoint("rl", Checkpoint(id="rl/r0", path="/nowhere/r0", sha256="0" * 64, round_index=0))
    store.add_checkpoint("rl", Checkpoint(id="rl/r1", path="/nowhere/r1", sha256="1" * 64, parent_id="rl/r0",
                                          round_index=1, config={"method": "grpo", "n_rollouts": 64,
                                                                 "trained_on": "rollouts"}))  # fmt: skip
    with pytest.raises(DataError, match=r"round 1 trained online \(grpo\) on its own rollouts"):
        trained_rows(store, "rl", 1)
    info = describe_checkpoint(store, "rl/r1")
    assert info["trained_on"] == {"kind": "rollouts", "n_rows": 64, "sha256": None}
    assert info["recipe"]["method"] == "grpo" and "grpo" in info["recipe"]
    with pytest.raises(DataError, match="records no training set"):
        trained_rows(store, "rl", 0)
