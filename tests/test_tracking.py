"""Experiment tracking (the recipe's ``log:`` section; ``loops/tracking.py``, ``flows/tracking.py``).

The section's checks (an unknown backend, a backend not installed) as one line with file and
line; the default (no ``log:``) reporting to nothing and importing no backend; a backend that
fails costing one line, not the round; and one real tiny run logging to TensorBoard and MLflow,
read back with TensorBoard's ``EventAccumulator`` and ``mlflow.search_runs``, then resumed
for one more round after its TensorBoard folder was deleted. W&B offline where it is installed.
"""

from __future__ import annotations

import doctest
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from selftaught.errors import ConfigError
from selftaught.loops import tracking
from selftaught.loops.tracking import LogSettings, TrackingTarget, log_round, not_installed, trainer_args
from selftaught.recipe import load_recipe
from tests.conftest import tiny_recipe_text

#: a tiny rft recipe: a cold start (round 0) that trains, then short rounds
SMALL = dict(
    name="trk", method="rft",
    task="{n_train: 16, prompts_per_round: 6, n_heldout: 4, n_cold_start: 16}",
    policy="{cold_start_steps: 6, cold_start_batch_size: 8}",
    generate="{k: 2, max_new_tokens: 24, batch_size: 16}", train="{steps: 2, batch_size: 4}", evaluate="{k: 1}",
)  # fmt: skip
ROUND_KEYS = {"heldout/greedy", "heldout/pass_at_1", "heldout/pass_at_k", "heldout/maj_at_k", "train/rows",
              "seconds/round", "seconds/train", "seconds/evaluate"}  # fmt: skip


def _recipe(tmp_path: Path, **overrides: str) -> Path:
    path = tmp_path / "recipe.yaml"
    path.write_text(tiny_recipe_text(**{**SMALL, **overrides}))
    return path


def test_doctests():
    from selftaught.flows import tracking as flow_tracking

    assert doctest.testmod(tracking).failed == 0
    assert doctest.testmod(flow_tracking, optionflags=doctest.NORMALIZE_WHITESPACE).failed == 0


# --------------------------------------------------------------------------- the section

BAD = [
    # (why, log: value, the message's words)
    ("an unknown backend names the key and the valid ones", "{to: [tensorboard, neptune]}",
     "log.to: unknown backend 'neptune'; valid: tensorboard, mlflow, wandb, trackio"),
    ("one name instead of a list is checked the same", "{to: comet}", "unknown backend 'comet'"),
    ("an unknown key of the section", "{to: [tensorboard], folder: x}", "log.folder: unknown key"),
]


@pytest.mark.parametrize(("why", "value", "words"), BAD, ids=[row[0] for row in BAD])
def test_a_bad_log_section_is_one_line_with_file_and_line(tmp_path, why, value, words):
    path = _recipe(tmp_path, log=value)
    with pytest.raises(ConfigError) as err:
        load_recipe(path)
    line = str(err.value)
    assert words in line and "\n" not in line
    assert line.startswith(f"{path}:10:"), line  # `log:` is the file's 10th line


def test_a_backend_not_installed_is_one_line_saying_what_to_install(tmp_path, monkeypatch):
    # wandb stands for any backend whose module cannot be found on this machine
    monkeypatch.setitem(tracking.NEEDS, "wandb", ("selftaught_no_such_module", "wandb"))
    path = _recipe(tmp_path, log="{to: [wandb]}")
    with pytest.raises(ConfigError, match=r"recipe.yaml:10: log.to: wandb is not installed: pip install wandb"):
        load_recipe(path)
    assert not_installed(("tensorboard", "mlflow")) is None  # both come with the dev extra


def test_a_run_refuses_a_missing_backend_before_any_work(tmp_path, monkeypatch):
    """A stored recipe resumed where a backend is missing: one line, and no run row written."""
    from selftaught.flows.rounds import run_rounds
    from selftaught.store import Store

    recipe = load_recipe(_recipe(tmp_path, log="{to: [mlflow]}")).model_dump(mode="json")
    monkeypatch.setitem(tracking.NEEDS, "mlflow", ("selftaught_no_such_module", "mlflow-skinny"))
    url = f"sqlite:///{tmp_path / 'store.db'}"
    with pytest.raises(ConfigError, match=r"^the recipe of run r: log.to: mlflow is not installed: pip install 'selftaught\[tracking\]'$"):
        run_rounds("r", recipe, url, str(tmp_path / "home"))
    with Store(url) as store:
        assert store.get_run("r") is None


def test_a_relative_dir_is_the_recipe_folders_and_the_default_is_off(tmp_path):
    recipe = load_recipe(_recipe(tmp_path, log="{to: [tensorboard], dir: runs/tb}"))
    assert recipe.log == LogSettings(to=("tensorboard",), dir=str(tmp_path / "runs" / "tb"))
    assert load_recipe(_recipe(tmp_path)).log is None
    assert trainer_args(None) == {"report_to": "none"}


def test_no_log_section_imports_no_backend(tmp_path):
    """The default adds no import: a recipe loaded and the train stage's modules imported."""
    path = _recipe(tmp_path)
    code = ("import sys; from selftaught.recipe import load_recipe; load_recipe(sys.argv[1]); "
            "import selftaught.flows.rounds, selftaught.loops.train, selftaught.loops.rl; "
            "print(sorted(m for m in ('tensorboard', 'mlflow', 'wandb', 'trackio') if m in sys.modules))")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_failing_backend_costs_one_line_not_the_round(tmp_path):
    """The folder is a file: both backends fail, each in one line, and nothing raises."""
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    target = TrackingTarget(to=("tensorboard", "mlflow"), project="p", dir=str(blocked), run_id="r", name="r")
    lines = log_round(target, 3, {"heldout/greedy": 0.5})
    assert [line.split(":")[0] for line in lines] == ["tensorboard", "mlflow"]
    assert all("round 3 not logged" in line and "\n" not in line for line in lines)


# --------------------------------------------------------------------------- a real run


def _scalars(folder: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar tag of a TensorBoard folder -> [(step, value)], read back by TensorBoard."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(folder))
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


@pytest.mark.slow
def test_a_run_logs_its_rounds_and_its_trainers_to_tensorboard_and_mlflow(tmp_path):
    import mlflow

    from selftaught.flows.rounds import run_rounds
    from selftaught.store import Store

    path = _recipe(tmp_path, rounds="1", log="{to: [tensorboard, mlflow], project: tracked, dir: track}")
    recipe = load_recipe(path).model_dump(mode="json")
    url, home = f"sqlite:///{tmp_path / 'store.db'}", str(tmp_path / "home")
    run_rounds("t", recipe, url, home, threads=1)

    track = tmp_path / "track"
    rounds = _scalars(track / "tensorboard" / "t" / "rounds")
    assert ROUND_KEYS <= set(rounds)
    assert all([step for step, _ in rounds[key]] == [0, 1] for key in ROUND_KEYS)
    with Store(url) as store:
        table = store.round_table("t")
    assert [v for _, v in rounds["heldout/greedy"]] == pytest.approx([row.heldout_greedy for row in table])
    assert [v for _, v in rounds["train/rows"]] == [row.n_train for row in table]
    loss = _scalars(track / "tensorboard" / "t" / "round-0-train")["train/loss"]  # the cold start's trainer
    assert [step for step, _ in loss] == list(range(1, len(loss) + 1)) and len(loss) >= 2
    assert all(v > 0 for _, v in loss)

    mlflow.set_tracking_uri(f"sqlite:///{track / 'mlflow.db'}")
    runs = mlflow.search_runs(experiment_names=["tracked"])
    by_name = {row["tags.mlflow.runName"]: row for _, row in runs.iterrows()}
    assert {"t", "t/round-0-train"} <= set(by_name)
    assert by_name["t"]["tags.selftaught.kind"] == "rounds"
    assert by_name["t"]["metrics.heldout/greedy"] == pytest.approx(table[-1].heldout_greedy)  # the latest step
    assert by_name["t/round-0-train"]["metrics.loss"] > 0
    client = mlflow.MlflowClient()
    history = client.get_metric_history(by_name["t"]["run_id"], "seconds/round")
    assert sorted(m.step for m in history) == [0, 1]

    # resumed with one more round after the TensorBoard folder was deleted: round 2 only, same MLflow run
    shutil.rmtree(track / "tensorboard")
    run_rounds("t", {**recipe, "rounds": 2}, url, home, threads=1)
    assert [step for step, _ in _scalars(track / "tensorboard" / "t" / "rounds")["seconds/round"]] == [2]
    again = mlflow.search_runs(experiment_names=["tracked"], filter_string="tags.`selftaught.kind` = 'rounds'")
    assert len(again) == 1
    assert sorted(m.step for m in client.get_metric_history(again["run_id"][0], "seconds/round")) == [0, 1, 2]


# --------------------------------------------------------------------------- every trainer


def _target(tmp_path: Path, to: tuple[str, ...] = ("tensorboard", "mlflow")) -> TrackingTarget:
    return TrackingTarget(to=to, project="p", dir=str(tmp_path / "track"), run_id="r", name="r/round-1-train")


def test_every_trl_config_reports_to_the_target(tmp_path):
    """SFT, DPO, GRPO, RLOO and the reward models: report_to and the run name from one target."""
    from selftaught.loops.dpo import DPOSettings, build_dpo_config
    from selftaught.loops.rl import RLSettings, build_grpo_config, build_rloo_config
    from selftaught.loops.train import SFTSettings, build_sft_config
    from selftaught.prm.train import RMSettings, build_args

    target, out = _target(tmp_path), str(tmp_path / "out")
    configs = [build_sft_config(SFTSettings(), out, target), build_dpo_config(DPOSettings(), out, target),
               build_grpo_config(RLSettings(), out, target), build_rloo_config(RLSettings(), out, target),
               build_args(RMSettings(), out, tracking=target)]  # fmt: skip
    assert [(c.report_to, c.run_name) for c in configs] == [(["tensorboard", "mlflow"], "r/round-1-train")] * 5
    assert build_args(RMSettings(), out).report_to == [] and build_sft_config(SFTSettings(), out).report_to == []


def test_a_target_travels_to_a_train_worker_as_json(tmp_path):
    import json
    from dataclasses import asdict

    from selftaught.loops.tracking import target_from

    target = _target(tmp_path)
    assert target_from(json.loads(json.dumps(asdict(target)))) == target and target_from(None) is None


def test_a_reward_model_trainer_logs_its_loss(tmp_path):
    """``prm/train.py``'s trainer (the ORM here) reports every step to TensorBoard."""
    from selftaught.loops.arithmetic import make_problems
    from selftaught.loops.tinymodel import init_policy
    from selftaught.prm.train import RMSettings, train_orm
    from selftaught.records import Split

    policy = init_policy(tmp_path / "policy", seed=0, size="micro")
    train = make_problems(8, Split.TRAIN, seed=0)
    rows = [(p.prompt, p.solution, True) for p in train] + [(p.prompt, "<think>1+1</think> 7", False) for p in train]
    target = _target(tmp_path, ("tensorboard",))
    train_orm(policy, rows, str(tmp_path / "orm"), cfg=RMSettings(steps=3, batch_size=8, warmup=0), threads=1,
              tracking=target)  # fmt: skip
    loss = _scalars(target.tensorboard_dir())["train/loss"]
    assert [step for step, _ in loss] == [1, 2, 3]


# --------------------------------------------------------------------------- W&B, offline


def _wandb_records(path: Path) -> list:
    """The records of an offline W&B run file (``run-ID.wandb``): W&B's LevelDB-style log of
    ``wandb_internal_pb2.Record`` messages -- a 7-byte file header, then 32 KiB blocks of
    records, each with a 7-byte header (crc32, length, type: 1 full, 2-4 first/middle/last)."""
    from wandb.proto import wandb_internal_pb2 as pb

    data = path.read_bytes()
    assert data[:4] == b":W&B", path
    records, part, pos = [], b"", 7
    while pos + 7 <= len(data):
        room = 32768 - pos % 32768
        if room < 7:  # a block's tail too short for a header is padding
            pos += room
            continue
        length, kind = int.from_bytes(data[pos + 4 : pos + 6], "little"), data[pos + 6]
        if kind == 0:
            break
        part += data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):
            record = pb.Record()
            record.ParseFromString(part)
            records.append(record)
            part = b""
    return records


def _wandb_runs(folder: Path) -> dict[str, list[dict]]:
    """Run display name -> every history row ({key: value}) of the offline runs under ``folder``."""
    import json

    runs: dict[str, list[dict]] = {}
    for path in sorted(folder.glob("wandb/offline-run-*/run-*.wandb")):
        records = _wandb_records(path)
        name = next(r.run.display_name for r in records if r.WhichOneof("record_type") == "run")
        runs.setdefault(name, []).extend(
            {(i.key or "/".join(i.nested_key)): json.loads(i.value_json) for i in r.history.item}
            for r in records if r.WhichOneof("record_type") == "history"
        )  # fmt: skip
    return runs


def test_wandb_offline_takes_the_rounds_and_a_trainer(tmp_path, monkeypatch):
    """Round metrics at steps 0 and 1 on the run's W&B run, and an SFT trainer's loss on its
    own (``RUN/round-1-train``), as W&B writes them offline (``WANDB_MODE=offline``)."""
    pytest.importorskip("wandb")
    from selftaught.loops.tinymodel import init_policy
    from selftaught.loops.train import SFTSettings, gold_training_set, train_sft
    from selftaught.loops.arithmetic import make_problems
    from selftaught.records import Split

    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    target = _target(tmp_path, ("wandb",))
    rounds = TrackingTarget(**{**target.__dict__, "name": target.run_id})
    assert log_round(rounds, 0, {"heldout/greedy": 0.25}) == []
    assert log_round(rounds, 1, {"heldout/greedy": 0.5}) == []

    policy = init_policy(tmp_path / "policy", seed=0, size="micro")
    ts = gold_training_set(make_problems(8, Split.TRAIN, seed=0))
    train_sft(policy, ts, str(tmp_path / "ckpt"), cfg=SFTSettings(steps=3, batch_size=4), checkpoint_id="c",
              parent_id=None, round_index=1, threads=1, tracking=target)  # fmt: skip

    runs = _wandb_runs(Path(target.dir))
    assert [(row["_step"], row["heldout/greedy"]) for row in runs["r"]] == [(0, 0.25), (1, 0.5)]
    losses = [row["train/loss"] for row in runs["r/round-1-train"] if "train/loss" in row]
    assert len(losses) == 3 and all(v > 0 for v in losses)


# --------------------------------------------------------------------------- Trackio

#: in a fresh process, because Trackio reads TRACKIO_DIR (its local store) once, at import
TRACKIO_SCRIPT = """
import json, sys
from pathlib import Path
from selftaught.loops.arithmetic import make_problems
from selftaught.loops.tinymodel import init_policy
from selftaught.loops.tracking import TrackingTarget, log_round
from selftaught.loops.train import SFTSettings, gold_training_set, train_sft
from selftaught.records import Split

tmp = Path(sys.argv[1])
target = TrackingTarget(to=("trackio",), project="p", dir=str(tmp / "track"), run_id="r", name="r/round-1-train")
rounds = TrackingTarget(to=("trackio",), project="p", dir=str(tmp / "track"), run_id="r", name="r")
failed = log_round(rounds, 0, {"heldout/greedy": 0.25}) + log_round(rounds, 1, {"heldout/greedy": 0.5})
policy = init_policy(tmp / "policy", seed=0, size="micro")
ts = gold_training_set(make_problems(8, Split.TRAIN, seed=0))
train_sft(policy, ts, str(tmp / "ckpt"), cfg=SFTSettings(steps=3, batch_size=4), checkpoint_id="c",
          parent_id=None, round_index=1, threads=1, tracking=target)
from trackio.sqlite_storage import SQLiteStorage
logs = {run: SQLiteStorage.get_logs("p", run) for run in ("r", "r/round-1-train")}
print("RESULT " + json.dumps({"failed": failed, "logs": logs}, default=str))
"""


def test_trackio_takes_the_rounds_and_a_trainer(tmp_path):
    """Round metrics at steps 0 and 1, and an SFT trainer's loss, in Trackio's local store."""
    import json
    import os

    pytest.importorskip("trackio")
    env = {**os.environ, "TRACKIO_DIR": str(tmp_path / "trackio")}
    out = subprocess.run([sys.executable, "-c", TRACKIO_SCRIPT, str(tmp_path)], capture_output=True, text=True,
                         env=env, timeout=300)  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.split("RESULT ", 1)[1])
    assert result["failed"] == []
    rounds = [(row["step"], row["heldout/greedy"]) for row in result["logs"]["r"] if "heldout/greedy" in row]
    assert rounds == [(0, 0.25), (1, 0.5)]
    losses = [row["train/loss"] for row in result["logs"]["r/round-1-train"] if "train/loss" in row]
    assert len(losses) == 3 and all(v > 0 for v in losses)


@pytest.mark.slow
def test_a_multi_process_trainer_logs_once_from_rank_0(tmp_path):
    """``processes: 2``: the target travels to the ``accelerate launch`` workers in their call,
    and rank 0 alone writes the loss curve (one event file, the checkpoint's own curve)."""
    from selftaught.loops.arithmetic import make_problems
    from selftaught.loops.launch import train_sft
    from selftaught.loops.tinymodel import init_policy
    from selftaught.loops.train import SFTSettings, gold_training_set
    from selftaught.records import Split

    target = _target(tmp_path, ("tensorboard",))
    policy = init_policy(tmp_path / "policy", seed=0, size="micro")
    ts = gold_training_set(make_problems(8, Split.TRAIN, seed=0))
    ckpt = train_sft(policy, ts, str(tmp_path / "ckpt"), cfg=SFTSettings(steps=3, batch_size=4, processes=2),
                     checkpoint_id="c", parent_id=None, round_index=1, threads=2, tracking=target)  # fmt: skip
    assert len(list(target.tensorboard_dir().glob("events.out.tfevents.*"))) == 1
    loss = _scalars(target.tensorboard_dir())["train/loss"]
    assert [step for step, _ in loss] == [1, 2, 3]
    assert [v for _, v in loss] == pytest.approx(ckpt.config["loss_curve"])


def test_a_tracker_that_cannot_start_costs_a_warning_not_the_training(tmp_path, caplog):
    """The tracking folder is a file: the trainer trains without its trackers, one line each."""
    from selftaught.loops.arithmetic import make_problems
    from selftaught.loops.tinymodel import init_policy
    from selftaught.loops.train import SFTSettings, gold_training_set, train_sft
    from selftaught.records import Split

    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    target = TrackingTarget(to=("tensorboard", "mlflow"), project="p", dir=str(blocked), run_id="r", name="r/x")
    policy = init_policy(tmp_path / "policy", seed=0, size="micro")
    ts = gold_training_set(make_problems(8, Split.TRAIN, seed=0))
    with caplog.at_level("WARNING", logger="selftaught"):
        ckpt = train_sft(policy, ts, str(tmp_path / "ckpt"), cfg=SFTSettings(steps=2, batch_size=4),
                         checkpoint_id="c", parent_id=None, round_index=1, threads=1, tracking=target)  # fmt: skip
    assert len(ckpt.config["loss_curve"]) == 2
    lines = [r.getMessage() for r in caplog.records if r.name == "selftaught"]
    assert [line.split(":")[:2] for line in lines] == [["tracking", " tensorboard"], ["tracking", " mlflow"]]
    assert all("trainer r/x not logged" in line for line in lines)


def test_a_reward_model_of_a_tracked_run_reports_where_the_run_does(tmp_path, monkeypatch):
    """``prm train RUN``: the run's stored ``log:`` section names the reward model's target;
    a run without one has none; a backend missing here is one line before any work."""
    from selftaught.prm.stored import _tracking
    from selftaught.store import Store

    with Store(f"sqlite:///{tmp_path / 's.db'}", home=tmp_path / "home") as store:
        store.create_run("a", name="arith", recipe={"log": {"to": ["tensorboard"]}})
        store.create_run("b", name="arith", recipe={})
        assert _tracking(store, "a", "a/orm-r1") == TrackingTarget(
            to=("tensorboard",), project="arith", dir=str(tmp_path / "home" / "tracking"), run_id="a", name="a/orm-r1")
        assert _tracking(store, "b", "b/orm-r1") is None
        monkeypatch.setitem(tracking.NEEDS, "tensorboard", ("selftaught_no_such_module", "tensorboard"))
        with pytest.raises(ConfigError, match=r"^the recipe of run a: log.to: tensorboard is not installed"):
            _tracking(store, "a", "a/orm-r1")
