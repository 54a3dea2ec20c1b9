"""A judge's version: a short hash of its name, its configuration and its code version.

In: the judge's name (``"math"``), the options it was built with, defaults filled in
(``{"answer_format": "boxed", "strict": True, ...}``), and its code version (the judge's
own revision, plus the version of a package it leans on, e.g. math-verify's). Out: 12 hex
digits, the ``judge_version`` of every verdict the judge writes.

Why: a verdict is only comparable to another made by the same rule. When an option or the
code changes (a math-verify upgrade, an extraction fix), the version changes, so
``selftaught rejudge`` can add the new verdicts beside the old ones instead of over them
(docs/history.md, "Judge versions and re-judging"). Options that only set resources
(``workers``) are left out by the judge before they reach here.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

#: The version of verdicts written before judges had versions (migration 0011).
UNKNOWN_VERSION = "unknown"


def judge_version(name: str, config: Mapping[str, Any], code_version: str) -> str:
    """12 hex digits of sha256 over the name, the config (keys sorted) and the code version.

    >>> judge_version("math", {"strict": True}, "1") == judge_version("math", {"strict": True}, "1")
    True
    >>> judge_version("math", {"strict": True}, "1") != judge_version("math", {"strict": False}, "1")
    True
    """
    blob = json.dumps({"judge": name, "config": dict(config), "code": code_version}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]
