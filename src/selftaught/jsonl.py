"""Reading JSON-lines files the way every user-facing reader here does: blank lines skipped,
and a file that cannot be read, a line that is not JSON, or a line that is not an object
raises ``DataError`` naming the file and line. The callers check the fields themselves
(problems, CAI prompts, reward-model training rows) and name the same ``where``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

from selftaught.errors import DataError


def read_jsonl_objects(path: str | Path, what: str = "file") -> Iterator[tuple[str, dict]]:
    """``(where, row)`` for each non-blank line, ``where`` being ``"path:line"``.

    ``what`` names the file in the unreadable-file error (``"problem file"``).

    >>> import tempfile, os
    >>> f = tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False)
    >>> _ = f.write('{"a": 1}\\n\\n[2]\\n'); f.close()
    >>> rows = read_jsonl_objects(f.name)
    >>> next(rows)[1]
    {'a': 1}
    >>> next(rows)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    selftaught.errors.DataError: ...jsonl:3: expected a JSON object
    >>> os.unlink(f.name)
    """
    path = Path(path)
    try:
        lines = path.read_bytes().splitlines()
    except OSError as exc:
        raise DataError(f"{path}: cannot read {what} ({exc.strerror})") from exc
    for lineno, raw in enumerate(lines, 1):
        where = f"{path}:{lineno}"
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DataError(f"{where}: not UTF-8 (byte {raw[exc.start]:#04x} at column {exc.start + 1})") from None
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{where}: not valid JSON ({exc.msg})") from exc
        except RecursionError:
            raise DataError(f"{where}: not valid JSON (nested too deeply)") from None
        if not isinstance(row, dict):
            raise DataError(f"{where}: expected a JSON object")
        yield where, row


def stream_lines(stream, max_bytes: int) -> Iterator[tuple[int, str | None, str | None]]:
    """``(number, text, None)`` per line of a binary stream, or ``(number, None, why)`` for a
    line longer than ``max_bytes`` (skipped without holding it in memory) or not UTF-8.

    For readers that judge line by line and keep going (``selftaught verify``).

    >>> import io
    >>> list(stream_lines(io.BytesIO(b'ab\\n' + b'x' * 10 + b'\\n\\xff\\nok'), max_bytes=5))
    [(1, 'ab\\n', None), (2, None, 'line longer than 5 bytes'), (3, None, 'not UTF-8 (byte 0xff at column 1)'), (4, 'ok', None)]
    """
    number = 0
    while raw := stream.readline(max_bytes + 1):
        number += 1
        if len(raw) > max_bytes and not raw.endswith(b"\n"):
            while (rest := stream.readline(1 << 20)) and not rest.endswith(b"\n"):
                pass
            yield number, None, f"line longer than {max_bytes:,} bytes"
            continue
        try:
            yield number, raw.decode("utf-8"), None
        except UnicodeDecodeError as exc:
            yield number, None, f"not UTF-8 (byte {raw[exc.start]:#04x} at column {exc.start + 1})"
