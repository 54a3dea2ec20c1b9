"""Atomic checkpoints with a manifest, and the one check every load of weights goes through.

In: a model and tokenizer (anything with ``save_pretrained``) and a destination.
Out: the destination directory, complete or absent, holding ``manifest.json``::

    {"format": 2, "sha256": "<overall>", "files": {"model.safetensors": "<sha256>", ...},
     "sizes": {"model.safetensors": <bytes>, ...}, "meta": {...}}

The overall hash is the sha256 of the sorted ``name  sha256`` lines of every file
except the manifest, so it identifies the weights, config and tokenizer together.
Format 1 (before sizes were recorded) is the same without ``sizes``.

transformers' own saving is not atomic (a kill leaves half a directory that
``from_pretrained`` may still half load). Here everything is written to a temp
directory beside the destination, each file is fsynced, then the temp directory is
renamed into place, with the mode of any new folder (``0o777 & ~umask``: ``drwxr-xr-x``
under umask 022, readable by the other users and hosts sharing a home). If the
destination already holds a valid checkpoint (a retried task that finished before it was
killed) it is kept and its hash returned; an invalid one is moved aside and replaced.
What a ``kill -9`` leaves of a temp directory is removed by ``remove_temporary_folders``
when the run starts again.

Every load verifies (``verified``, the seam): each function that reads weights from a folder
-- ``policy.load_policy`` / ``load_for_training``, ``lora.load_causal_lm`` / ``materialized``,
``hardware.load_model``, the reward-model and vLLM loaders -- enters ``with verified(path):``
first, so training, generation, rationalization, evaluation, labelling, search, CAI and a
distillation teacher all refuse a damaged checkpoint the same way: one ``CheckpointError``
line naming the folder and the file (``checkpoint .../round-001: model.safetensors is
damaged (sha256 mismatch; expected 1a2b3c4d5e6f.., got 3c4d5e6f7a8b..)``). What is checked:

- a selftaught checkpoint (a ``manifest.json``): no file missing or added, every size as
  recorded (always: a ``stat`` per file), then every sha256 (the default). The environment
  variable ``SELFTAUGHT_VERIFY=sizes`` skips the hashing for multi-GB models: a truncated or
  missing file is still caught, a same-size corruption is not (``docs/checkpoints.md`` has
  the cost of each at 135M and 1B parameters). A format-1 manifest has no sizes, so it is
  hashed in either mode. A pruned folder fails with "pruned", never a half-loaded model.
- a folder without a manifest (a user's model given as ``policy.init``, a teacher, a model
  rebuilt from a package): not a selftaught checkpoint, so nothing to compare against here;
  it must hold ``config.json`` (or ``adapter_config.json``) and a weights file. A run's round
  0 registered from such a folder is compared with the sha256 the store recorded for it
  (``inspect_recorded``, before a round starts from it; ``folder_sha256``).
- whatever still goes wrong inside the block (a safetensors header that does not parse,
  a file unreadable) becomes the same one-line ``CheckpointError``, never a traceback.

A successful sha256 verification is remembered for the rest of the process, keyed by the
folder and the name, size, mtime and inode of every file in it: a round that loads the same
checkpoint three times (generate, rationalize, train) hashes it once, and a checkpoint this
process has just saved is not hashed again (``save_checkpoint`` primes the memory with the
hashes it wrote). Any write to a file changes its mtime, so it is hashed again.

Pruning (``keep_checkpoints``): a 135M-parameter round writes ~520 MB, so a run may keep
the weights of only its newest rounds. ``checkpoints_to_prune`` is the rule (pure: which
ones), ``prune_checkpoint`` the deed (which files). A pruned folder keeps ``manifest.json``
-- what the weights were, their hashes and lineage -- plus a small ``PRUNED`` note, and
loses every file its manifest lists; ``verify_checkpoint`` then fails with a "pruned"
``CheckpointError``, never a half-loaded model. Only the manifest's own files are deleted,
and only in a selftaught checkpoint (a manifest) inside the run's folder: a user's model
registered as round 0 (``policy.init``) lives elsewhere and is never touched.

Under DDP (``loops/launch.py``: every process runs the same train function) only rank 0
writes: ``save_checkpoint`` in any other rank writes nothing and returns ``""`` -- its
caller's result is discarded by the launcher, which returns rank 0's checkpoint.

No torch import here: the model object does the serialising.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Mapping

from selftaught.errors import CheckpointError, ConfigError
from selftaught.homepaths import readable_folder
from selftaught.records import Checkpoint

MANIFEST = "manifest.json"
FORMAT = 2
#: the note a pruned checkpoint folder holds beside its manifest
PRUNED = "PRUNED"
#: where a user picks how much a load checks (``verify_mode``)
VERIFY_ENV = "SELFTAUGHT_VERIFY"
VerifyMode = Literal["sha256", "sizes"]
VERIFY_MODES: tuple[VerifyMode, ...] = ("sha256", "sizes")
#: what a folder without a manifest must hold to be loadable: a config and weights
MODEL_CONFIGS = ("config.json", "adapter_config.json")
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf")
#: the folders a run writes beside its checkpoints for a while, as glob patterns: a save in
#: progress (``.round-001.tmp-*``), an invalid checkpoint moved aside to be deleted
#: (``round-001.invalid-*``), the cold start's freshly built model (``.init-*``)
TEMPORARY_FOLDERS = (".*.tmp-*", "*.invalid-*", ".init-*")


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


def secondary_rank() -> bool:
    """Whether this is a DDP process other than rank 0 (``RANK``/``WORLD_SIZE`` as torchrun sets them)."""
    return os.environ.get("RANK", "0") != "0" and int(os.environ.get("WORLD_SIZE", "1")) > 1


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
    if secondary_rank():
        return ""  # DDP: rank 0 writes the one checkpoint (see the module's docstring)
    dest = Path(dest_dir)
    if dest.exists():
        try:
            return verify_checkpoint(dest)["sha256"]
        except CheckpointError:
            aside = dest.with_name(f"{dest.name}.invalid-{int(time.time() * 1000)}")  # TEMPORARY_FOLDERS
            dest.rename(aside)
            shutil.rmtree(aside, ignore_errors=True)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-", dir=dest.parent))  # TEMPORARY_FOLDERS
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        for name, text in (extra_files or {}).items():
            (tmp / name).write_text(text, encoding="utf-8")
        files = _hash_tree(tmp)
        digest = _overall(files)
        sizes = {name: (tmp / name).stat().st_size for name in files}
        manifest = {"format": FORMAT, "sha256": digest, "files": files, "sizes": sizes, "meta": dict(meta)}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str))
        readable_folder(tmp)  # mkdtemp: 0700, safetensors: 0600 -> 0755/0644 under umask 022
        _fsync_tree(tmp)
        os.rename(tmp, dest)
        _fsync_dir(dest.parent)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if exc.filename is None:  # a failed write (a full disk) names no file: name the checkpoint
            raise OSError(exc.errno, exc.strerror, str(dest)) from exc
        raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _remember(dest, digest)  # hashed just now, as written: the next load need not hash it again
    return digest


def remove_temporary_folders(run_dir: str | Path) -> list[str]:
    """Delete the ``TEMPORARY_FOLDERS`` a killed run left in its folder; return their names.

    A save or a cold start removes its own temporary folder when it fails or is interrupted;
    a ``kill -9`` (or a power cut) leaves it, ~8 MB for the tiny model, more for a real one.
    Call it only while no other process works on the run: another live process may be
    writing one of these folders right now.
    """
    root = Path(run_dir)
    found = sorted({p for pattern in TEMPORARY_FOLDERS for p in root.glob(pattern)
                    if p.is_dir() and not p.is_symlink()})  # fmt: skip
    for folder in found:
        shutil.rmtree(folder, ignore_errors=True)
    return [p.name for p in found]


def _read_manifest(root: Path) -> dict[str, Any]:
    """The folder's manifest, checked for shape; ``CheckpointError`` if absent or unreadable."""
    mf = root / MANIFEST
    if not root.is_dir():
        raise CheckpointError(f"checkpoint {root}: checkpoint directory does not exist")
    if not mf.is_file():
        raise CheckpointError(f"checkpoint {root}: no {MANIFEST} (incomplete or not written by selftaught)")
    try:
        manifest = json.loads(mf.read_text())
        if not isinstance(manifest["files"], dict) or not isinstance(manifest["sha256"], str):
            raise TypeError("files must be an object and sha256 a string")
        if not isinstance(manifest.get("sizes", {}), dict):
            raise TypeError("sizes must be an object")
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"checkpoint {root}: unreadable manifest {MANIFEST} ({exc})") from exc
    return manifest


# ------------------------------------------------------------------------ verification


def verify_mode() -> VerifyMode:
    """How much a load checks: ``sha256`` (the default) or ``sizes`` (env ``SELFTAUGHT_VERIFY``)."""
    value = os.environ.get(VERIFY_ENV, "").strip().lower() or "sha256"
    if value not in VERIFY_MODES:
        raise ConfigError(f"{VERIFY_ENV}={value!r}: must be sha256 (hash every file) or sizes (sizes only)")
    return value  # type: ignore[return-value]


@dataclass(frozen=True)
class Finding:
    """What a check found in one folder: ``ok``, ``damaged`` or ``pruned``; for the latter two
    the file at fault (None: the folder or its manifest as a whole) and why, in words."""

    root: Path
    status: Literal["ok", "damaged", "pruned"] = "ok"
    file: str | None = None
    why: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def message(self) -> str:
        """The one line a ``CheckpointError`` carries."""
        return f"checkpoint {self.root}: {self.file + ' ' if self.file else ''}{self.why}"


#: folder -> (fingerprint, digest) of its last successful full verification in this process
_known: dict[str, tuple[tuple, str]] = {}


def _stat_files(root: Path) -> dict[str, os.stat_result]:
    """Every file under ``root`` but the manifest, by relative name."""
    return {p.relative_to(root).as_posix(): p.stat() for p in root.rglob("*") if p.is_file() and p.name != MANIFEST}


def _fingerprint(root: Path, stats: Mapping[str, os.stat_result]) -> tuple:
    """What must stay the same for a remembered verification to hold: every file's name,
    size, mtime and inode, and the manifest's own."""
    mf = root / MANIFEST
    own = mf.stat() if mf.is_file() else None
    files = tuple(sorted((n, s.st_size, s.st_mtime_ns, s.st_ino) for n, s in stats.items()))
    return files, None if own is None else (own.st_size, own.st_mtime_ns, own.st_ino)


def _remember(root: Path, digest: str, stats: Mapping[str, os.stat_result] | None = None) -> None:
    _known[str(root.resolve())] = (_fingerprint(root, _stat_files(root) if stats is None else stats), digest)


def _remembered(root: Path, stats: Mapping[str, os.stat_result], digest: str) -> bool:
    return _known.get(str(root.resolve())) == (_fingerprint(root, stats), digest)


def forget_verified() -> None:
    """Drop every remembered verification (the next load of each folder hashes it again)."""
    _known.clear()


def _short(digest: str) -> str:
    return f"{digest[:12]}.."


def _damaged(root: Path, bad: list[tuple[str, str]]) -> Finding:
    """The finding for ``bad`` (file, why) pairs: the first named, the rest counted."""
    (name, why), rest = bad[0], bad[1:]
    more = f"; and {len(rest)} more: {', '.join(n for n, _ in rest)}" if rest else ""
    return Finding(root, "damaged", name, why + more)


def _size_problem(actual: int, recorded: int) -> str | None:
    """
    >>> _size_problem(10, 10), _size_problem(4, 10), _size_problem(12, 10)
    (None, 'is damaged (truncated: 4 of 10 bytes)', 'is damaged (12 bytes, the manifest says 10)')
    """
    if actual == recorded:
        return None
    if actual < recorded:
        return f"is damaged (truncated: {actual:,} of {recorded:,} bytes)"
    return f"is damaged ({actual:,} bytes, the manifest says {recorded:,})"


def inspect_checkpoint(path: str | Path, *, mode: VerifyMode | None = None) -> tuple[dict[str, Any] | None, Finding]:
    """Check a selftaught checkpoint folder against its manifest without raising for damage:
    (the manifest or None, what was found). ``mode``: None reads ``SELFTAUGHT_VERIFY``."""
    root = Path(path)
    mode = mode or verify_mode()
    if is_pruned(root):
        why = (f"was pruned (keep_checkpoints / `selftaught prune` deleted its weights; only {MANIFEST} is "
               "left): it cannot be loaded")  # fmt: skip
        return None, Finding(root, "pruned", None, why)
    try:
        manifest = _read_manifest(root)
    except CheckpointError as exc:
        return None, Finding(root, "damaged", None, str(exc).removeprefix(f"checkpoint {root}: "))
    files: dict[str, str] = manifest["files"]
    sizes: dict[str, int] = manifest.get("sizes", {})
    stats = _stat_files(root)
    bad = [(n, "is missing") for n in sorted(set(files) - set(stats))]
    bad += [(n, "is not in the manifest (added after the checkpoint was saved)") for n in sorted(set(stats) - set(files))]
    bad += [(n, why) for n in sorted(set(files) & set(stats) & set(sizes))
            if (why := _size_problem(stats[n].st_size, sizes[n]))]  # fmt: skip
    if bad:
        return manifest, _damaged(root, bad)
    if _overall(files) != manifest["sha256"]:
        return manifest, Finding(root, "damaged", MANIFEST, "is damaged (its sha256 does not match its file list)")
    if (mode == "sha256" or set(sizes) != set(files)) and not _remembered(root, stats, manifest["sha256"]):
        got = {n: _file_sha256(root / n) for n in sorted(files)}
        bad = [(n, f"is damaged (sha256 mismatch; expected {_short(files[n])}, got {_short(got[n])})")
               for n in sorted(files) if got[n] != files[n]]  # fmt: skip
        if bad:
            return manifest, _damaged(root, bad)
        _remember(root, manifest["sha256"], stats)
    return manifest, Finding(root)


def verify_checkpoint(path: str | Path, *, mode: VerifyMode | None = None) -> dict[str, Any]:
    """Check every file against the manifest; return the manifest or raise ``CheckpointError``
    (one line naming the folder and the file). ``mode``: None reads ``SELFTAUGHT_VERIFY``."""
    manifest, found = inspect_checkpoint(path, mode=mode)
    if not found.ok:
        raise CheckpointError(found.message())
    assert manifest is not None
    return manifest


def checkpoint_sha256(path: str | Path) -> str:
    """The overall sha256 of a verified checkpoint."""
    return verify_checkpoint(path)["sha256"]


def is_selftaught_checkpoint(path: str | Path) -> bool:
    """Whether the folder is (or was, before pruning) one ``save_checkpoint`` wrote."""
    root = Path(path)
    return (root / MANIFEST).is_file() or is_pruned(root)


def _model_files_finding(root: Path) -> Finding:
    """A folder without a manifest: ok when it holds a model config and a weights file."""
    if not root.is_dir():
        return Finding(root, "damaged", None, "does not exist (not a saved model)")
    if not any((root / name).is_file() for name in MODEL_CONFIGS):
        return Finding(root, "damaged", None, "not a saved model (no config.json)")
    if not any(p.is_file() and p.name.endswith(WEIGHT_SUFFIXES) for p in root.iterdir()):
        return Finding(root, "damaged", None, f"not a saved model (no weights file: *{', *'.join(WEIGHT_SUFFIXES)})")
    return Finding(root)


def verify_for_load(path: str | Path) -> Path:
    """Raise a one-line ``CheckpointError`` unless the folder may be loaded (the module's
    docstring: a manifest is verified, any other folder must hold a config and weights)."""
    root = Path(path)
    if is_selftaught_checkpoint(root):
        verify_checkpoint(root)
    else:
        found = _model_files_finding(root)
        if not found.ok:
            raise CheckpointError(found.message())
    return root


def _load_errors() -> tuple[type[BaseException], ...]:
    """What ``from_pretrained`` raises for a file it cannot read or parse."""
    errors: tuple[type[BaseException], ...] = (OSError, json.JSONDecodeError, UnicodeDecodeError)
    try:
        from safetensors import SafetensorError
    except ImportError:  # pragma: no cover - installed with transformers
        return errors
    return (*errors, SafetensorError)


@contextmanager
def verified(path: str | Path) -> Iterator[Path]:
    """The seam every load goes through: ``with verified(folder) as root: ...from_pretrained(root)``.

    Verifies the folder first (``verify_for_load``); an unreadable file met inside the block
    becomes a one-line ``CheckpointError`` naming the folder. Keep the block to the loading."""
    root = verify_for_load(path)
    caught = _load_errors()
    try:
        yield root
    except caught as exc:
        reason = (str(exc).strip().splitlines() or [""])[0][:300]
        raise CheckpointError(f"checkpoint {root}: cannot be loaded ({type(exc).__name__}: {reason})") from exc


def folder_sha256(path: str | Path) -> str:
    """The sha256 of a folder without a manifest (a user's model registered as round 0): each
    file's relative name and sha256 digest, files in path order. Remembered like a verification."""
    root = Path(path)
    paths = sorted(p for p in root.rglob("*") if p.is_file())
    stats = {p.relative_to(root).as_posix(): p.stat() for p in paths}
    known = _known.get(str(root.resolve()))
    if known is not None and known[0] == _fingerprint(root, stats):
        return known[1]
    digest = hashlib.sha256()
    for p in paths:
        digest.update(p.relative_to(root).as_posix().encode())
        digest.update(bytes.fromhex(_file_sha256(p)))
    _remember(root, digest.hexdigest(), stats)
    return digest.hexdigest()


def inspect_recorded(ckpt: Checkpoint, *, mode: VerifyMode | None = None) -> Finding:
    """Check a checkpoint the store recorded: its folder as ``inspect_checkpoint`` does, and
    that it still holds what the store says (the overall sha256). A folder without a manifest
    (a user's model as round 0) is hashed and compared with the recorded sha256 -- in ``sizes``
    mode it is only checked for a config and weights (nothing recorded to compare sizes with)."""
    mode = mode or verify_mode()
    root = Path(ckpt.path)
    if not root.is_dir():
        return Finding(root, "damaged", None, "checkpoint directory does not exist")
    if not is_selftaught_checkpoint(root):
        found = _model_files_finding(root)
        if not found.ok or mode == "sizes" or folder_sha256(root) == ckpt.sha256:
            return found
        return Finding(root, "damaged", None, f"holds other files than when it was registered as {ckpt.id} "
                                              f"(sha256 {_short(ckpt.sha256)} recorded)")  # fmt: skip
    manifest, found = inspect_checkpoint(root, mode=mode)
    if found.ok and manifest is not None and manifest["sha256"] != ckpt.sha256:
        return Finding(root, "damaged", MANIFEST, f"describes other weights than the store recorded for {ckpt.id} "
                                                  f"(sha256 {_short(manifest['sha256'])}, recorded "
                                                  f"{_short(ckpt.sha256)})")  # fmt: skip
    return found


def move_checkpoint(src: str | Path, dest: str | Path) -> None:
    """Rename a checkpoint folder to ``dest`` (a new path on the same file system), durably:
    both parent folders are fsynced, so the move survives a crash that follows it."""
    src, dest = Path(src), Path(dest)
    if dest.exists():
        raise CheckpointError(f"checkpoint {src}: cannot move it to {dest}, which exists; move one of them away")
    dest.parent.mkdir(parents=True, exist_ok=True)
    os.rename(src, dest)
    _fsync_dir(dest.parent)
    _fsync_dir(src.parent)


# ----------------------------------------------------------------------------- pruning


def is_pruned(path: str | Path) -> bool:
    """Whether the folder holds a ``PRUNED`` note (its weights were deleted on purpose)."""
    return (Path(path) / PRUNED).is_file()


def _inside(path: str | Path, folder: str | Path) -> bool:
    """``path`` is strictly below ``folder``, compared as normalised absolute paths."""
    p, f = Path(os.path.abspath(path)), Path(os.path.abspath(folder))
    return p != f and p.is_relative_to(f)


def checkpoints_to_prune(
    checkpoints: Sequence[Checkpoint], keep: int, *, run_dir: str | Path, protected: Collection[str] = ()
) -> list[Checkpoint]:
    """Which of a run's round checkpoints lose their weights so that the newest ``keep`` stay.

    ``checkpoints``: the run's round checkpoints, pruned ones included (they count among
    the newest ``keep``). ``protected``: ids something else still needs (the parent of a
    round not yet finished; the adapter base of a checkpoint not in the list). Returns the
    ones to prune now, oldest first, none already pruned. A checkpoint is kept when:

    - it is among the newest ``keep`` by round index (so the newest is always kept);
    - it is protected, or the ``config["adapter_base"]`` of a kept checkpoint (a LoRA
      adapters-only checkpoint loads on top of it), transitively;
    - it has no round index (nothing to order it by);
    - its folder is not inside ``run_dir``, or it is a model the user registered
      (``config["init"]`` other than ``"tiny"``): not ours to delete.

    Paths are compared lexically (``prune_checkpoint`` checks the real folder again).

    >>> ck = [Checkpoint(f"r/r{i}", f"/h/runs/r/round-{i:03d}", "", round_index=i) for i in range(4)]
    >>> [c.id for c in checkpoints_to_prune(ck, 2, run_dir="/h/runs/r")]
    ['r/r0', 'r/r1']
    >>> [c.id for c in checkpoints_to_prune(ck, 1, run_dir="/h/runs/r", protected={"r/r1"})]
    ['r/r0', 'r/r2']
    """
    if keep < 1:
        raise ValueError(f"keep must be at least 1 (the newest checkpoint is never pruned), got {keep}")
    by_id = {c.id: c for c in checkpoints}
    ordered = sorted((c for c in checkpoints if c.round_index is not None), key=lambda c: (c.round_index, c.id))
    kept = {c.id for c in ordered[-keep:]} | set(protected)
    todo = list(kept)
    while todo:  # what the kept ones need to load, and what that needs
        needer = by_id.get(todo.pop())
        base = None if needer is None else needer.config.get("adapter_base")
        if isinstance(base, str) and base not in kept:
            kept.add(base)
            todo.append(base)
    return [
        c for c in ordered
        if c.id not in kept and not c.pruned and _inside(c.path, run_dir)
        and c.config.get("init", "tiny") == "tiny"
    ]  # fmt: skip


def prune_checkpoint(path: str | Path, *, run_dir: str | Path, dry_run: bool = False) -> int:
    """Delete the weights of one checkpoint folder, keeping ``manifest.json`` and a ``PRUNED``
    note; return the bytes freed (with ``dry_run``, that would be freed; nothing changes).

    Refuses with ``CheckpointError``, deleting nothing: a folder that is not strictly inside
    ``run_dir`` (symlinks resolved), a symlinked folder, one without a readable selftaught
    manifest, a manifest that names a file outside its folder. Deletes only the files the
    manifest lists (anything else someone put there stays), then empty subfolders. The note
    is written first, so a prune killed half-way leaves a folder that reads as pruned, and
    running it again finishes the job (idempotent: an already pruned folder frees 0 bytes).
    """
    root = Path(path)
    real_root, real_run = root.resolve(), Path(run_dir).resolve()
    if root.is_symlink() or real_root == real_run or not real_root.is_relative_to(real_run):
        raise CheckpointError(f"{root}: not a folder inside the run's folder {run_dir}; not pruning it")
    manifest = _read_manifest(root)
    targets = []
    for name in sorted(manifest["files"]):
        target = root / name
        if not _inside(target, root) or not target.parent.resolve().is_relative_to(real_root):
            raise CheckpointError(f"{root / MANIFEST}: lists {name!r}, outside the checkpoint folder; not pruning it")
        if target.is_symlink() or target.is_file():
            targets.append(target)
    freed = sum(t.lstat().st_size for t in targets)
    if dry_run:
        return freed
    if not is_pruned(root):
        note = {"pruned_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "sha256": manifest["sha256"],
                "why": f"weights deleted to save disk; {MANIFEST} kept for lineage"}  # fmt: skip
        tmp = root / f".{PRUNED}.tmp"
        tmp.write_text(json.dumps(note, indent=2) + "\n")
        os.replace(tmp, root / PRUNED)
    for target in targets:
        target.unlink(missing_ok=True)
    for sub in sorted((d for d in root.rglob("*") if d.is_dir() and not d.is_symlink()), key=lambda d: -len(d.parts)):
        try:
            sub.rmdir()  # only if empty
        except OSError:
            pass
    _fsync_dir(root)
    return freed
