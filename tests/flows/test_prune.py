"""Pruning old checkpoints (``keep_checkpoints``, ``selftaught prune``).

The rule (``checkpoints_to_prune``) table-driven, the deed (``prune_checkpoint``) on folders
written by ``save_checkpoint`` with a stand-in model (no torch), ``prune_run`` against a
store, the CLI as a subprocess, and one real run of the tiny model with ``keep_checkpoints:
1`` that is then resumed, extended and made to need a pruned checkpoint.
"""

from __future__ import annotations

import doctest
import json
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

import selftaught.loops.checkpoint as checkpoint_module
from selftaught.errors import CheckpointError
from selftaught.loops.checkpoint import (
    MANIFEST,
    PRUNED,
    checkpoints_to_prune,
    is_pruned,
    prune_checkpoint,
    save_checkpoint,
    verify_checkpoint,
)
from selftaught.records import Checkpoint, Stage
from selftaught.store import Store
from tests.conftest import tiny_recipe_text

RUN_DIR = "/h/runs/r"
BIN = Path(sys.executable).parent / "selftaught"


def _ck(i: int | None, *, path: str | None = None, pruned: bool = False, **config) -> Checkpoint:
    import datetime as dt

    name = "x" if i is None else f"r{i}"
    return Checkpoint(
        id=f"r/{name}", path=path or f"{RUN_DIR}/round-{i or 0:03d}", sha256="", round_index=i, config=config,
        pruned_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC) if pruned else None,
    )  # fmt: skip


# ------------------------------------------------------------------------------- the rule

RULES = [
    # (why, checkpoints, keep, protected, expected ids)
    ("the newest keep stay, the rest go, oldest first", [_ck(0), _ck(1), _ck(2)], 1, (), ["r/r0", "r/r1"]),
    ("keep covers every round: nothing to do", [_ck(0), _ck(1), _ck(2)], 3, (), []),
    ("fewer rounds than keep: nothing to do", [_ck(0), _ck(1)], 5, (), []),
    ("input order does not matter", [_ck(2), _ck(0), _ck(1)], 1, (), ["r/r0", "r/r1"]),
    ("already pruned: not pruned again", [_ck(0, pruned=True), _ck(1), _ck(2)], 1, (), ["r/r1"]),
    ("a pruned one still counts among the newest", [_ck(0), _ck(1, pruned=True), _ck(2)], 2, (), ["r/r0"]),
    ("protected: an unfinished round starts from it", [_ck(0), _ck(1), _ck(2)], 1, {"r/r1"}, ["r/r0"]),
    ("a protected id that is not a round changes nothing", [_ck(0), _ck(1)], 1, {"elsewhere"}, ["r/r0"]),
    ("a kept adapters-only checkpoint needs its base",
     [_ck(0), _ck(1), _ck(2, adapter_base="r/r0")], 1, (), ["r/r1"]),
    ("... and the base's own base (transitively)",
     [_ck(0), _ck(1), _ck(2, adapter_base="r/r1"), _ck(3, adapter_base="r/r2")], 1, (), ["r/r0"]),
    ("a protected checkpoint's base is protected too",
     [_ck(0), _ck(1, adapter_base="r/r0"), _ck(2)], 1, {"r/r1"}, []),
    ("a base needed only by a pruned checkpoint goes",
     [_ck(0), _ck(1, adapter_base="r/r0"), _ck(2)], 1, (), ["r/r0", "r/r1"]),
    ("a folder outside the run's folder is not ours",
     [_ck(0, path="/models/mine"), _ck(1), _ck(2)], 1, (), ["r/r1"]),
    ("'..' cannot smuggle a folder out", [_ck(0, path=f"{RUN_DIR}/../other/round-000"), _ck(1)], 1, (), []),
    ("the run's folder itself is never a checkpoint to delete", [_ck(0, path=RUN_DIR), _ck(1)], 1, (), []),
    ("a user's model registered as round 0 (policy.init) is never pruned",
     [_ck(0, path=f"{RUN_DIR}/mine", init=f"{RUN_DIR}/mine"), _ck(1)], 1, (), []),
    ("the tiny model built by the run is ours", [_ck(0, init="tiny"), _ck(1)], 1, (), ["r/r0"]),
    ("no round index: never a candidate, never counted", [_ck(None), _ck(0), _ck(1)], 1, (), ["r/r0"]),
]  # fmt: skip


@pytest.mark.parametrize("why, checkpoints, keep, protected, expected", RULES, ids=[r[0] for r in RULES])
def test_which_checkpoints_are_pruned(why, checkpoints, keep, protected, expected):
    got = checkpoints_to_prune(checkpoints, keep, run_dir=RUN_DIR, protected=protected)
    assert [c.id for c in got] == expected, why


def test_keep_must_be_positive_and_the_doctests_hold():
    with pytest.raises(ValueError, match="at least 1"):
        checkpoints_to_prune([_ck(0)], 0, run_dir=RUN_DIR)
    assert doctest.testmod(checkpoint_module).failed == 0


# ------------------------------------------------------------------------------- the deed


class _Saves:
    """Stands in for a model or tokenizer: ``save_pretrained`` writes fixed files."""

    def __init__(self, files: dict[str, bytes]):
        self.files = files

    def save_pretrained(self, folder) -> None:
        for name, data in self.files.items():
            (Path(folder) / name).parent.mkdir(parents=True, exist_ok=True)
            (Path(folder) / name).write_bytes(data)


def _write(dest: Path) -> Path:
    model = _Saves({"model.safetensors": b"w" * 1000, "config.json": b"{}", "sub/extra.bin": b"e" * 10})
    save_checkpoint(model, _Saves({"tokenizer.json": b"t" * 100}), dest, meta={"parent_id": None})
    return dest


def test_pruning_keeps_the_manifest_and_a_note_and_is_idempotent(tmp_path):
    run_dir = tmp_path / "runs" / "r"
    folder = _write(run_dir / "round-000")
    (folder / "notes.txt").write_text("mine")  # not in the manifest: not ours to delete
    assert prune_checkpoint(folder, run_dir=run_dir, dry_run=True) == 1112
    assert not is_pruned(folder)
    assert (folder / "model.safetensors").is_file()  # a dry run deletes nothing

    assert prune_checkpoint(folder, run_dir=run_dir) == 1112
    assert sorted(p.name for p in folder.iterdir()) == [PRUNED, MANIFEST, "notes.txt"]
    note = json.loads((folder / PRUNED).read_text())
    assert note["sha256"] == json.loads((folder / MANIFEST).read_text())["sha256"]
    with pytest.raises(CheckpointError, match="pruned"):
        verify_checkpoint(folder)
    assert prune_checkpoint(folder, run_dir=run_dir) == 0  # again: nothing left to free


def test_a_prune_killed_half_way_is_finished_by_the_next(tmp_path):
    run_dir = tmp_path / "runs" / "r"
    folder = _write(run_dir / "round-001")
    (folder / PRUNED).write_text("{}")  # the note is written first; then the kill
    assert prune_checkpoint(folder, run_dir=run_dir) == 1112
    assert sorted(p.name for p in folder.iterdir()) == [PRUNED, MANIFEST]


def test_pruning_refuses_what_is_not_a_checkpoint_of_the_run(tmp_path):
    run_dir = tmp_path / "runs" / "r"
    outside = _write(tmp_path / "models" / "mine")
    with pytest.raises(CheckpointError, match="not a folder inside the run's folder"):
        prune_checkpoint(outside, run_dir=run_dir)
    link = run_dir / "round-000"
    link.parent.mkdir(parents=True)
    link.symlink_to(outside)  # a link inside the run to a model outside it
    with pytest.raises(CheckpointError, match="not a folder inside"):
        prune_checkpoint(link, run_dir=run_dir)
    with pytest.raises(CheckpointError, match="not a folder inside"):
        prune_checkpoint(run_dir, run_dir=run_dir)
    users = run_dir / "round-001"
    users.mkdir()
    (users / "model.safetensors").write_bytes(b"x")  # a folder without our manifest
    with pytest.raises(CheckpointError, match="no manifest.json"):
        prune_checkpoint(users, run_dir=run_dir)
    sneaky = _write(run_dir / "round-002")
    manifest = json.loads((sneaky / MANIFEST).read_text())
    manifest["files"]["../round-001/model.safetensors"] = "0" * 64
    (sneaky / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(CheckpointError, match="outside the checkpoint folder"):
        prune_checkpoint(sneaky, run_dir=run_dir)
    assert (outside / "model.safetensors").is_file() and (users / "model.safetensors").is_file()
    assert (sneaky / "model.safetensors").is_file()  # refused before anything was deleted


# ------------------------------------------------------------------- prune_run on a store


def _fake_run(tmp_path: Path, n: int) -> tuple[Store, object]:
    """A run with rounds 0..n-1 finished, each with a real checkpoint folder (no torch)."""
    from selftaught.flows.prune import RunFolders

    url = f"sqlite:///{tmp_path / 'store.db'}"
    layout = RunFolders("r", url, tmp_path / "home")
    store = layout.store
    store.create_run("r", name="r", recipe={})
    for i in range(n):
        path = _write(layout.checkpoint_dir(i))
        store.add_checkpoint("r", Checkpoint(id=layout.checkpoint_id(i), path=str(path), sha256="s",
                                             parent_id=layout.checkpoint_id(i - 1) if i else None, round_index=i))
        for stage in Stage:
            store.finish_stage("r", i, stage, seconds=0.0, metrics={})
    return store, layout


def test_prune_run_protects_what_an_unfinished_round_needs(tmp_path):
    from selftaught.flows.prune import prune_run

    store, layout = _fake_run(tmp_path, 4)
    # round 3 crashed after registering its checkpoint but before its train stage was done:
    # a resume may need round 2's weights
    store.start_stage("r", 3, Stage.TRAIN)
    # a reward model kept beside the rounds names round 0 as its adapter base
    store.add_checkpoint("r", Checkpoint(id="r-prm-1", path="/m/prm", sha256="p", round_index=1,
                                         config={"kind": "prm", "adapter_base": "r/r0"}))  # fmt: skip
    plan = prune_run(layout, 1, dry_run=True)
    assert [(p.checkpoint.id, p.freed_bytes) for p in plan] == [("r/r1", 1112)]
    assert not any(c.pruned for c in store.list_checkpoints("r")) and not is_pruned(layout.checkpoint_dir(1))

    assert [p.checkpoint.id for p in prune_run(layout, 1)] == ["r/r1"]
    assert [c.id for c in store.list_checkpoints("r") if c.pruned] == ["r/r1"]
    assert is_pruned(layout.checkpoint_dir(1)) and not is_pruned(layout.checkpoint_dir(2))
    assert prune_run(layout, 1) == []  # idempotent


def test_prune_run_leaves_a_missing_folder_alone_and_unmarked(tmp_path):
    import shutil

    from selftaught.flows.prune import prune_run

    store, layout = _fake_run(tmp_path, 3)
    shutil.rmtree(layout.checkpoint_dir(0))
    (r0, r1) = prune_run(layout, 1)
    assert r0.checkpoint.id == "r/r0" and "does not exist" in r0.refused
    assert r1.refused is None and r1.checkpoint.pruned
    assert [c.id for c in store.list_checkpoints("r") if c.pruned] == ["r/r1"]


def test_a_round_that_needs_a_pruned_checkpoint_fails_in_one_line(tmp_path):
    from selftaught.flows.prune import prune_run, require_unpruned

    store, layout = _fake_run(tmp_path, 3)
    prune_run(layout, 1)
    require_unpruned(layout, 2)  # finished: needs nothing
    require_unpruned(layout, 3)  # the next round starts from round 2's, which is kept
    with sa.create_engine(layout.db_url).begin() as conn:  # round 2 un-finished by hand
        conn.execute(sa.text("DELETE FROM stages WHERE round_id = (SELECT id FROM rounds WHERE \"index\" = 2)"))
    with pytest.raises(CheckpointError, match=r"round 2 needs checkpoint r/r1, whose weights were pruned on .*UTC"):
        require_unpruned(layout, 2)


# ------------------------------------------------------------------------------- the CLI


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN), *args], capture_output=True, text=True, env=env, timeout=300)


def test_cli_prune_and_checkpoints(tmp_path):
    import os

    store, layout = _fake_run(tmp_path, 3)
    env = dict(os.environ, SELFTAUGHT_DB_URL=layout.db_url, SELFTAUGHT_HOME=str(layout.home))
    for command in ("prune", "checkpoints"):
        helped = _cli(command, "--help", env=env)
        assert helped.returncode == 0 and "Example" in helped.stdout, helped.stderr

    dry = _cli("prune", "r", "--keep", "1", "--dry-run", env=env)
    assert dry.returncode == 0, dry.stderr
    assert "would prune r/r0" in dry.stdout and "would prune r/r1" in dry.stdout
    assert not any(c.pruned for c in store.list_checkpoints("r"))

    done = _cli("prune", "r", "--keep", "1", env=env)
    assert done.returncode == 0, done.stderr
    assert "pruned 2 checkpoints" in done.stdout
    listed = json.loads(_cli("checkpoints", "r", "--json", env=env).stdout)
    assert [(c["id"], c["weights"].split()[0]) for c in listed] == [
        ("r/r0", "pruned"), ("r/r1", "pruned"), ("r/r2", "on"),
    ]
    table = _cli("checkpoints", "r", env=env)
    assert table.returncode == 0 and table.stdout.count("pruned") >= 2

    missing = _cli("prune", "nope", "--keep", "1", env=env)
    assert missing.returncode == 1 and "no run 'nope'" in missing.stderr and "Traceback" not in missing.stderr


# ------------------------------------------------------------------------- a real run


def test_a_real_run_keeps_one_checkpoint_and_resumes(tmp_path, prefect_server):
    """Tiny rft run, ``keep_checkpoints: 1``, 2 rounds: rounds 0 and 1 pruned on disk and in
    the store, round 2 complete; run again (nothing to do), extended to 3 rounds (round 3
    starts from round 2's kept weights), then made to need a pruned checkpoint."""
    from prefect.settings import PREFECT_API_URL, PREFECT_LOGGING_TO_API_ENABLED, temporary_settings

    from selftaught.flows.context import local_run_settings
    from selftaught.flows.rounds import run_flow
    from selftaught.recipe import load_recipe

    path = tmp_path / "recipe.yaml"
    path.write_text(tiny_recipe_text(
        name="prune", method="rft", keep_checkpoints="1",
        task="{n_train: 16, prompts_per_round: 6, n_heldout: 4, n_cold_start: 16}",
        policy="{cold_start_steps: 6, cold_start_batch_size: 8}",
        generate="{k: 2, max_new_tokens: 24, batch_size: 16}", train="{steps: 2, batch_size: 4}",
        evaluate="{k: 1}",
    ))  # fmt: skip
    recipe = load_recipe(path).model_dump(mode="json")
    url, home = f"sqlite:///{tmp_path / 'store.db'}", tmp_path / "home"
    run_dir = home / "runs" / "p"

    def run(rounds: int) -> None:
        # no log shipping: the session's server may be gone before this process flushes
        settings = {PREFECT_API_URL: prefect_server, PREFECT_LOGGING_TO_API_ENABLED: False}
        with temporary_settings(updates=settings), local_run_settings():
            run_flow("p", {**recipe, "rounds": rounds}, url, str(home), threads=1)

    run(2)
    with Store(url, upgrade=False) as store:
        ckpts = store.list_checkpoints("p")
        assert [(c.id, c.pruned) for c in ckpts] == [("p/r0", True), ("p/r1", True), ("p/r2", False)]
        assert [c.id for c in store.checkpoint_chain("p/r2")] == ["p/r2", "p/r1", "p/r0"]  # lineage intact
        assert store.get_run("p").status == "done"
    for i in (0, 1):
        assert sorted(p.name for p in (run_dir / f"round-{i:03d}").iterdir()) == [PRUNED, MANIFEST]
    assert verify_checkpoint(run_dir / "round-002")["sha256"] == ckpts[2].sha256

    run(2)  # a finished run run again: nothing runs, nothing more is pruned
    run(3)  # resumed with one more round: it starts from round 2's weights, then prunes them
    with Store(url, upgrade=False) as store:
        assert [(c.id, c.pruned) for c in store.list_checkpoints("p")] == [
            ("p/r0", True), ("p/r1", True), ("p/r2", True), ("p/r3", False),
        ]
        assert store.get_checkpoint("p/r3").parent_id == "p/r2"
        assert store.get_run("p").status == "done"
    verify_checkpoint(run_dir / "round-003")

    with sa.create_engine(url).begin() as conn:  # round 3 must train again, from pruned round 2
        conn.execute(sa.text("DELETE FROM stages WHERE stage = 'train' AND round_id = "
                             "(SELECT id FROM rounds WHERE run_id = 'p' AND \"index\" = 3)"))
    with pytest.raises(CheckpointError, match="round 3 needs checkpoint p/r2, whose weights were pruned"):
        run(3)
