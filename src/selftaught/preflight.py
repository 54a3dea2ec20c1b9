"""Checks a run makes before its first stage: can the home folder hold its checkpoints?

In: the home folder (``--home`` / ``SELFTAUGHT_HOME``) and the policy a run starts from.
Out: nothing, or one ``HomeError`` line -- before any run row, folder or stage exists.

Why: a read-only home used to fail after the cold start had trained (24 s, a 328-line
traceback), and a full disk as a raw ``ENOSPC`` traceback mid-round. Here:

- writable: the nearest existing folder on the path to ``runs/`` gets a probe file, created
  and deleted at once (permission bits say nothing for root or for a read-only mount; only
  a write does). A home that does not exist yet is not created here.
- free space: at least ``2 x checkpoint + 64 MB`` on that file system -- one round writes a
  checkpoint into a temp folder beside the final one, and the store and plots need a
  little. The checkpoint's size is the saved model folder's ``*.safetensors``/``*.bin``
  files, or ``TINY_CHECKPOINT_BYTES`` for the embedded model. This is a floor, not a
  promise: a run with many rounds and no ``keep_checkpoints`` needs one checkpoint per
  round, and a disk that fills later still fails as one line (the CLI turns every ``OSError``
  into ``error: <reason>: <path>``; the store keeps the failed stage, and resume re-runs it).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from selftaught.errors import HomeError

#: the embedded tiny model's checkpoint (weights, config, tokenizer) is ~8 MB; rounded up
TINY_CHECKPOINT_BYTES = 16 << 20
#: store growth, plots, logs
MARGIN_BYTES = 64 << 20
_WEIGHTS = ("*.safetensors", "*.bin", "*.gguf")


def checkpoint_bytes(init: str | Path) -> int:
    """About how big one checkpoint of this policy is: its weight files, or the tiny model's."""
    folder = Path(init)
    if str(init) in ("tiny", "") or not folder.is_dir():
        return TINY_CHECKPOINT_BYTES
    total = sum(p.stat().st_size for pattern in _WEIGHTS for p in folder.glob(pattern) if p.is_file())
    return max(total, TINY_CHECKPOINT_BYTES)


def _existing_ancestor(path: Path) -> Path:
    path = path.absolute()
    while not path.exists():
        path = path.parent
    return path


def check_home(home: str | Path, checkpoint_size: int = TINY_CHECKPOINT_BYTES) -> None:
    """Raise ``HomeError`` (one line, naming the folder) unless ``home`` can take a round.

    Nothing is left behind: the probe file is removed, and no folder is created.
    """
    home = Path(home).expanduser()
    where = _existing_ancestor(home / "runs")
    if not where.is_dir():
        raise HomeError(f"home folder {home}: {where} is a file, not a folder (set --home or SELFTAUGHT_HOME)")
    try:
        fd, probe = tempfile.mkstemp(prefix=".selftaught-probe-", dir=where)
    except OSError as exc:
        raise HomeError(f"home folder {home} is not writable ({exc.strerror}: {where}); "
                          "set --home or SELFTAUGHT_HOME to a writable folder") from None
    os.close(fd)
    os.unlink(probe)
    free = shutil.disk_usage(where).free
    need = 2 * checkpoint_size + MARGIN_BYTES
    if free < need:
        raise HomeError(f"home folder {home}: {_mb(free)} free on its disk, a round needs at least {_mb(need)} "
                          f"(two {_mb(checkpoint_size)} checkpoints and a margin); free space or set --home")


def _mb(n: int) -> str:
    return f"{n / (1 << 20):,.0f} MB"
