"""Atomic checkpoints with a manifest.

In: a model and tokenizer (anything with ``save_pretrained``) and a destination.
Out: the destination directory, complete or absent, holding ``manifest.json``::

    {"format": 1, "sha256": "<overall>", "files": {"model.safetensors": "<sha256>", ...},
     "meta": {...}}

The overall hash is the sha256 of the sorted ``name  sha256`` lines of every file
except the manifest, so it identifies the weights, config and tokenizer together.

transformers' own saving is not atomic (a kill leaves half a directory that
``from_pretrained`` may still half load). Here everything is written to a temp
directory beside the destination, each file is fsynced, then the temp directory is
renamed into place. If the destination already holds a valid checkpoint (a retried
task that finished before it was killed) it is kept and its hash returned; an invalid
one is moved aside and replaced.

No torch import here: the model object does the serialising.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Mapping

from selftaught.errors import CheckpointError

MANIFEST = "manifest.json"
FORMAT = 1


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _overall(files: Mapping[str, str]) -> str:
    lines = "".join(f"{name}  {digest}\n" for name, digest in sorted(files.items()))
    return hashlib.sha256(lines.encode()).hexdigest()


def _hash_tree(root: Path) -> dict[str, str]:
    files = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.name != MANIFEST:
            files[p.relative_to(root).as_posix()] = _file_sha256(p)
    return files


def _fsync_tree(root: Path) -> None:
    for p in root.rglob("*"):
        if p.is_file():
            with p.open("rb") as f:
                os.fsync(f.fileno())
    _fsync_dir(root)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_checkpoint(
    model: Any,
    tokenizer: Any,
    dest_dir: str | Path,
    *,
    meta: Mapping[str, Any],
    extra_files: Mapping[str, str] | None = None,
) -> str:
    """Save ``model`` and ``tokenizer`` atomically to ``dest_dir``; return the overall sha256.

    ``extra_files`` (name -> text) are written beside the weights and covered by the
    manifest (RL rounds keep their rollouts there).
    """
    dest = Path(dest_dir)
    if dest.exists():
        try:
            return verify_checkpoint(dest)["sha256"]
        except CheckpointError:
            aside = dest.with_name(f"{dest.name}.invalid-{int(time.time() * 1000)}")
            dest.rename(aside)
            shutil.rmtree(aside, ignore_errors=True)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-", dir=dest.parent))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        for name, text in (extra_files or {}).items():
            (tmp / name).write_text(text, encoding="utf-8")
        files = _hash_tree(tmp)
        digest = _overall(files)
        manifest = {"format": FORMAT, "sha256": digest, "files": files, "meta": dict(meta)}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str))
        _fsync_tree(tmp)
        os.rename(tmp, dest)
        _fsync_dir(dest.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return digest


def verify_checkpoint(path: str | Path) -> dict[str, Any]:
    """Check every file against the manifest; return the manifest or raise ``CheckpointError``."""
    root = Path(path)
    mf = root / MANIFEST
    if not root.is_dir():
        raise CheckpointError(f"{root}: checkpoint directory does not exist")
    if not mf.is_file():
        raise CheckpointError(f"{root}: no {MANIFEST} (incomplete or not written by selftaught)")
    try:
        manifest = json.loads(mf.read_text())
        files: dict[str, str] = manifest["files"]
        recorded = manifest["sha256"]
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"{mf}: unreadable manifest ({exc})") from exc
    actual = _hash_tree(root)
    missing = sorted(set(files) - set(actual))
    if missing:
        raise CheckpointError(f"{root}: missing files {missing}")
    extra = sorted(set(actual) - set(files))
    if extra:
        raise CheckpointError(f"{root}: files not in the manifest {extra}")
    changed = sorted(n for n in files if files[n] != actual[n])
    if changed:
        raise CheckpointError(f"{root}: files do not match the manifest {changed}")
    if _overall(files) != recorded:
        raise CheckpointError(f"{root}: manifest sha256 does not match its file list")
    return manifest


def checkpoint_sha256(path: str | Path) -> str:
    """The overall sha256 of a verified checkpoint."""
    return verify_checkpoint(path)["sha256"]
