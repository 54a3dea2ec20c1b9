"""Atomic checkpoints: manifest, verification, tamper detection, keeping a valid destination."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from selftaught.errors import CheckpointError
from selftaught.loops.checkpoint import (
    MANIFEST,
    checkpoint_sha256,
    forget_verified,
    remove_temporary_folders,
    save_checkpoint,
    verify_checkpoint,
)


class FakeSaver:
    """Anything with ``save_pretrained`` writing a few files (no torch needed)."""

    def __init__(self, files: dict[str, str], fail: bool = False):
        self.files, self.fail = files, fail

    def save_pretrained(self, path):
        for name, text in self.files.items():
            (Path(path) / name).write_text(text)
        if self.fail:
            raise RuntimeError("killed mid-save")


MODEL = FakeSaver({"config.json": "{}", "model.safetensors": "weights"})
TOKENIZER = FakeSaver({"tokenizer.json": "{}"})


def test_save_writes_a_manifest_and_verifies(tmp_path):
    dest = tmp_path / "ckpt"
    sha = save_checkpoint(MODEL, TOKENIZER, dest, meta={"round": 1})
    manifest = verify_checkpoint(dest)
    assert manifest["sha256"] == sha == checkpoint_sha256(dest)
    assert sorted(manifest["files"]) == ["config.json", "model.safetensors", "tokenizer.json"]
    assert manifest["meta"] == {"round": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt"]  # no temp dir left behind


def test_same_content_same_hash(tmp_path):
    assert save_checkpoint(MODEL, TOKENIZER, tmp_path / "a", meta={}) == save_checkpoint(
        MODEL, TOKENIZER, tmp_path / "b", meta={"other": "meta"}
    )


def test_existing_valid_destination_is_kept(tmp_path):
    dest = tmp_path / "ckpt"
    sha = save_checkpoint(MODEL, TOKENIZER, dest, meta={})
    other = FakeSaver({"config.json": "{}", "model.safetensors": "other weights"})
    assert save_checkpoint(other, TOKENIZER, dest, meta={}) == sha
    assert (dest / "model.safetensors").read_text() == "weights"


def test_invalid_destination_is_replaced(tmp_path):
    dest = tmp_path / "ckpt"
    dest.mkdir()
    (dest / "model.safetensors").write_text("half")
    sha = save_checkpoint(MODEL, TOKENIZER, dest, meta={})
    assert checkpoint_sha256(dest) == sha
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]


def test_a_failed_save_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError):
        save_checkpoint(FakeSaver({"config.json": "{}"}, fail=True), TOKENIZER, tmp_path / "ckpt", meta={})
    assert list(tmp_path.iterdir()) == []


def test_a_run_start_removes_what_killed_saves_left_and_nothing_else(tmp_path):
    # what save_checkpoint and the cold start write for a while, as a kill -9 leaves them
    save_checkpoint(MODEL, TOKENIZER, tmp_path / "round-000", meta={})
    left = [".round-001.tmp-k9xq", "round-001.invalid-1733", ".init-3hz0"]
    for name in left:
        (tmp_path / name).mkdir()
        (tmp_path / name / "model.safetensors").write_text("half")
    (tmp_path / "round-001.train.log").write_text("kept")  # a file, and not temporary
    (tmp_path / ".notes").mkdir()  # not a pattern of ours
    assert remove_temporary_folders(tmp_path) == sorted(left)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".notes", "round-000", "round-001.train.log"]
    assert verify_checkpoint(tmp_path / "round-000")
    assert remove_temporary_folders(tmp_path / "no-such-run") == []


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda d: (d / "model.safetensors").write_text("WEIGHTS"),
         r": model.safetensors is damaged \(sha256 mismatch; expected [0-9a-f]{12}\.\., got [0-9a-f]{12}\.\.\)$"),
        (lambda d: (d / "model.safetensors").write_text("tampered"),
         r": model.safetensors is damaged \(8 bytes, the manifest says 7\)$"),
        (lambda d: (d / "model.safetensors").write_text("wei"),
         r": model.safetensors is damaged \(truncated: 3 of 7 bytes\)$"),
        (lambda d: (d / "model.safetensors").unlink(), ": model.safetensors is missing$"),
        (lambda d: (d / "extra.bin").write_text("x"), "extra.bin is not in the manifest"),
        (lambda d: (d / MANIFEST).unlink(), "no manifest.json"),
        (lambda d: (d / MANIFEST).write_text("{"), "unreadable manifest"),
        (
            lambda d: (d / MANIFEST).write_text(
                json.dumps(json.loads((d / MANIFEST).read_text()) | {"sha256": "0" * 64})
            ),
            "does not match its file list",
        ),
    ],
)
def test_verify_detects_damage(tmp_path, damage, message):
    dest = tmp_path / "ckpt"
    save_checkpoint(MODEL, TOKENIZER, dest, meta={})
    damage(dest)
    forget_verified()  # as a later process finds it (a write within the same clock tick keeps the mtime)
    with pytest.raises(CheckpointError, match=message):
        verify_checkpoint(dest)


def test_verify_missing_directory(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        verify_checkpoint(tmp_path / "nope")
