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
