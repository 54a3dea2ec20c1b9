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



def test_loops_and_search_never_import_the_recipe():
    """The recipe composes the loops' settings models; loops and search never read the recipe
    (nor the flows or the CLI above it), not even inside a function."""
    import ast
    from pathlib import Path

    import selftaught

    root = Path(selftaught.__file__).parent
    above = ("selftaught.recipe", "selftaught.flows", "selftaught.cli")
    found = []
    for path in sorted([*(root / "loops").glob("*.py"), *(root / "search").glob("*.py")]):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])  # fmt: skip
            found += [f"{path.name}: {n}" for n in names if n.startswith(above)]
    assert not found, found
