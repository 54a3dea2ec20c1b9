"""Checkpoint locations relative to the home (``selftaught/homepaths.py``), through a real
SQLite store, and the mode of a saved checkpoint folder under the user's umask."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import pytest

from selftaught.homepaths import resolve_location, stored_location
from selftaught.loops.checkpoint import save_checkpoint
from selftaught.loops.lora import LoRASettings, adapter_meta
from selftaught.records import Checkpoint
from selftaught.store import Store


def test_inside_the_home_is_stored_relative_outside_absolute(tmp_path, monkeypatch):
    home = tmp_path / "home"
    assert stored_location(home / "runs" / "r" / "round-001", home) == "runs/r/round-001"
    assert stored_location(tmp_path / "models" / "mine", home) == str(tmp_path / "models" / "mine")
    monkeypatch.chdir(tmp_path)  # relative to the working directory, as a run writes them
    assert stored_location("home/runs/r/round-000", "home") == "runs/r/round-000"
    assert stored_location("models/mine", "home") == str(tmp_path / "models" / "mine")


def test_a_home_reached_through_a_symlink_is_still_the_home(tmp_path):
    (tmp_path / "real" / "runs" / "r").mkdir(parents=True)
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert stored_location(tmp_path / "real" / "runs" / "r", tmp_path / "link") == "runs/r"


def test_resolving_tries_the_home_then_the_path_as_given(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    home = tmp_path / "moved"
    (home / "runs" / "r" / "round-001").mkdir(parents=True)
    (tmp_path / "selftaught-home" / "runs" / "r" / "round-000").mkdir(parents=True)  # an old store's path
    assert resolve_location("runs/r/round-001", home) == str(home / "runs" / "r" / "round-001")
    assert resolve_location("selftaught-home/runs/r/round-000", home) == str(
        tmp_path / "selftaught-home" / "runs" / "r" / "round-000")  # fmt: skip
    assert resolve_location("runs/r/round-009", home) == str(home / "runs" / "r" / "round-009")  # named where looked
    assert resolve_location("/abs/model", home) == "/abs/model"


def test_a_store_records_relative_and_reads_back_under_its_home(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 's.db'}"
    ckpt = Checkpoint(id="r/r0", path="home/runs/r/round-000", sha256="0" * 64, round_index=0)
    mine = Checkpoint(id="mine", path="/models/mine", sha256="1" * 64)
    with Store(url, home="home") as store:
        store.create_run("r", name="t", recipe={})
        store.add_checkpoint("r", mine)
        store.add_checkpoint("r", ckpt)
        store.add_checkpoint("r", Checkpoint(**{**ckpt.__dict__, "path": str(tmp_path / ckpt.path)}))  # same folder
        assert store.get_checkpoint("r/r0").path == str(tmp_path / "home" / "runs" / "r" / "round-000")
    with sqlite3.connect(tmp_path / "s.db") as conn:
        assert dict(conn.execute("SELECT id, path FROM checkpoints").fetchall()) == {
            "r/r0": "runs/r/round-000", "mine": "/models/mine"}  # fmt: skip
    with Store(url, home=tmp_path / "elsewhere") as moved:
        assert [c.path for c in moved.list_checkpoints("r")] == [
            str(tmp_path / "elsewhere" / "runs" / "r" / "round-000"), "/models/mine"]  # fmt: skip


def test_the_default_home_is_selftaught_home(tmp_path, monkeypatch):
    monkeypatch.setenv("SELFTAUGHT_HOME", str(tmp_path / "h"))
    with Store("sqlite://") as store:
        assert store.home == tmp_path / "h"


def test_adapters_name_a_base_in_the_home_relatively_and_a_users_model_absolutely(tmp_path):
    lora = LoRASettings(save="adapters")
    run = tmp_path / "home" / "runs" / "r"
    sibling = adapter_meta(lora, parent_id="r/r0", base_path=str(run / "round-000"), out_dir=str(run / "round-001"))
    assert sibling["adapter_base_path"] == "../round-000"
    own = adapter_meta(lora, parent_id="r/r0", base_path=str(tmp_path / "models" / "mine"), out_dir=str(run / "round-001"))
    assert own["adapter_base_path"] == str(tmp_path / "models" / "mine")


class _Writes:
    """Something with ``save_pretrained`` that writes one file ``-rw-------`` (a model stand-in)."""

    def __init__(self, name: str):
        self.name = name

    def save_pretrained(self, folder: Path) -> None:
        fd = os.open(Path(folder) / self.name, os.O_WRONLY | os.O_CREAT, 0o600)  # as safetensors does
        os.write(fd, self.name.encode())
        os.close(fd)


@pytest.mark.parametrize("mask", [0o022, 0o027])
def test_a_saved_checkpoint_has_the_mode_the_umask_gives(tmp_path, mask):
    before = os.umask(mask)
    try:
        save_checkpoint(_Writes("config.json"), _Writes("tokenizer.json"), tmp_path / "round-001", meta={})
    finally:
        os.umask(before)
    folder = tmp_path / "round-001"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o777 & ~mask
    assert {stat.S_IMODE(f.stat().st_mode) for f in folder.iterdir()} == {0o666 & ~mask}
