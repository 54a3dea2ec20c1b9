"""``import selftaught.loops`` (and its stage modules) stays cheap and never pulls in the store or Prefect."""

from __future__ import annotations

import subprocess
import sys

MODULES = [
    "selftaught.loops",
    "selftaught.loops.arithmetic",
    "selftaught.loops.checkpoint",
    "selftaught.loops.curate",
    "selftaught.loops.defaults",
    "selftaught.loops.evaluate",
    "selftaught.loops.generate",
    "selftaught.loops.policy",
    "selftaught.loops.rounds",
    "selftaught.loops.tinymodel",
    "selftaught.loops.train",
    "selftaught.loops.verify",
    "selftaught.loops.vllm_sampler",
]
FORBIDDEN = ["prefect", "sqlalchemy", "torch", "transformers", "trl", "datasets"]


def test_loops_import_without_heavy_or_forbidden_modules():
    code = (
        "import importlib, sys\n"
        f"for m in {MODULES!r}: importlib.import_module(m)\n"
        f"print(sorted(m for m in {FORBIDDEN!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
