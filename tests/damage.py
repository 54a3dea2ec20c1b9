"""Ways disks and people damage a checkpoint's weights file, for the verification tests."""

from __future__ import annotations

import struct
from pathlib import Path

WEIGHTS = "model.safetensors"


def _data_start(path: Path) -> int:
    """Where a safetensors file's tensor bytes begin (after the 8-byte length and the header)."""
    with path.open("rb") as f:
        return 8 + struct.unpack("<Q", f.read(8))[0]


def zero_tensor_bytes(folder: Path) -> None:
    """Zero half of the tensor bytes in place: same size (what the issue's 2 MB zeroing did)."""
    path = folder / WEIGHTS
    start = _data_start(path)
    length = (path.stat().st_size - start) // 2
    with path.open("r+b") as f:
        f.seek(start)
        f.write(b"\0" * length)


def truncate(folder: Path) -> None:
    path = folder / WEIGHTS
    with path.open("r+b") as f:
        f.truncate(path.stat().st_size // 2)


def garble_header(folder: Path) -> None:
    """Overwrite the start of the JSON header, same size: safetensors cannot parse it."""
    with (folder / WEIGHTS).open("r+b") as f:
        f.seek(8)
        f.write(b"\xff" * 16)
