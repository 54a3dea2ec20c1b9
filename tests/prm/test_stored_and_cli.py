"""`selftaught prm label|train|export`: the store-facing functions with a real micro
policy, and the command itself as a user runs it (a real subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from selftaught.errors import StoreError
from selftaught.prm.stored import (
    export_stepwise,
    label_round,
    train_from_file,
    train_reward_model,
)
from selftaught.prm.train import RMSettings
from selftaught.store import Store
from tests.prm.conftest import RUN, _fill

BIN = Path(sys.executable).parent / "selftaught"
FAST = RMSettings(steps=4, batch_size=4)


@pytest.fixture
def sqlite_store(tmp_path):
    yield from _fill(Store(f"sqlite:///{tmp_path / 'prm.db'}"))


def test_label_train_export_through_the_store(sqlite_store, micro_policy, tmp_path):
    store = sqlite_store
    new, stats = label_round(store, RUN, 1, rollouts=2, max_new_tokens=10, checkpoint=micro_policy, limit=5, threads=1)
    assert stats.samples == 5 and new == stats.steps == len(store.get_step_labels(RUN, 1))
    new2, stats2 = label_round(store, RUN, 1, rollouts=2, max_new_tokens=10, checkpoint=micro_policy, threads=1)
    assert stats2.samples == 3 and new2 == stats2.steps  # only the rest: a re-run resumes
    assert label_round(store, RUN, 1, rollouts=2, checkpoint=micro_policy)[0] == 0

    n = export_stepwise(store, RUN, [1], tmp_path / "steps.jsonl")
    rows = [json.loads(line) for line in (tmp_path / "steps.jsonl").read_text().splitlines()]
    assert n == len(rows) == 8
    assert {"prompt", "completions", "labels"} <= set(rows[0]) and isinstance(rows[0]["labels"][0], bool)
    from datasets import load_from_disk

    assert export_stepwise(store, RUN, [1], tmp_path / "ds") == 8  # not *.jsonl: a datasets folder
    assert load_from_disk(str(tmp_path / "ds"))["completions"] == [r["completions"] for r in rows]

    for kind in ("orm", "prm"):
        ckpt, metrics = train_reward_model(store, RUN, [1], kind=kind, base=micro_policy,
                                           out_dir=str(tmp_path / kind), cfg=FAST, eval_fraction=0.5, threads=1)  # fmt: skip
        got = store.get_reward_model(ckpt.id)
        assert got.kind == kind and got.metrics["train_loss"] == metrics["train_loss"]
        assert got.data["train_rows"] + got.data["eval_rows"] == 8
    assert "accuracy_vs_exact" in store.list_reward_models(kind="prm")[0].metrics

    # what `prm export` writes is what `prm train --data` reads
    ckpt, metrics = train_from_file(store, RUN, tmp_path / "steps.jsonl", kind="prm", base=micro_policy,
                                    out_dir=str(tmp_path / "prm-file"), cfg=FAST, threads=1)  # fmt: skip
    assert metrics["rows"] == 8 and store.get_reward_model(ckpt.id).data["rows"] == 8


def test_store_errors_say_what_to_do(sqlite_store, micro_policy, tmp_path):
    with pytest.raises(StoreError, match="no step labels"):
        export_stepwise(sqlite_store, RUN, [1], tmp_path / "x.jsonl")
    with pytest.raises(StoreError, match="name no checkpoint"):
        label_round(sqlite_store, RUN, 1)
    with pytest.raises(StoreError, match="no generated samples"):
        label_round(sqlite_store, RUN, 7)
    with pytest.raises(StoreError, match="neither a stored checkpoint"):
        train_reward_model(sqlite_store, RUN, [1], kind="orm", base="nowhere", out_dir=str(tmp_path / "o"))
    assert not (tmp_path / "x.jsonl").exists() and not (tmp_path / "o").exists()


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN), *args], check=False, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("command", [["prm"], ["prm", "label"], ["prm", "train"], ["prm", "export"]], ids=" ".join)
def test_every_prm_command_has_help(command):
    result = cli(*command, "--help")
    assert result.returncode == 0, result.stderr
    assert "Example" in result.stdout or command == ["prm"]


def test_the_commands_as_a_user_runs_them(sqlite_store, micro_policy, tmp_path):
    db = f"sqlite:///{tmp_path / 'prm.db'}"  # the file sqlite_store filled
    result = cli("prm", "label", RUN, "--round", "1", "--rollouts", "2", "--max-new-tokens", "8",
                 "--checkpoint", micro_policy, "--db", db, "--threads", "1")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "labelled 8 samples" in result.stdout and "rollouts/s" in result.stdout
    out = tmp_path / "soft.jsonl"
    result = cli("prm", "export", str(out), "--run", RUN, "--round", "1", "--soft", "--db", db)
    assert result.returncode == 0, result.stderr
    assert all(isinstance(x, float) for line in out.read_text().splitlines() for x in json.loads(line)["labels"])
    result = cli("prm", "export", str(tmp_path / "none.jsonl"), "--run", RUN, "--round", "3", "--db", db)
    assert result.returncode == 1 and "no step labels" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1  # one line, no traceback


def test_bad_arguments_are_refused_before_any_work(tmp_path):
    db = f"sqlite:///{tmp_path / 'none.db'}"
    result = cli("prm", "train", RUN, "--round", "1", "--kind", "value", "--db", db)
    assert result.returncode == 2 and "must be orm or prm" in result.stderr
    result = cli("prm", "train", "--db", db)
    assert result.returncode == 2 and "give a RUN and at least one --round" in result.stderr
    result = cli("prm", "train", RUN, "--round", "1", "--objective", "ranking", "--db", db)
    assert result.returncode == 2 and "must be pairwise or classify" in result.stderr
    result = cli("prm", "train", RUN, "--round", "1", "--balance", "tokens", "--db", db)
    assert result.returncode == 2 and "must be class, prompt or none" in result.stderr
