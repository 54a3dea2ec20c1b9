"""The layering the design promises, checked in fresh interpreters."""

from __future__ import annotations

import subprocess
import sys


def _imported_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_loops_never_import_prefect_or_sqlalchemy():
    mods = _imported_after(
        "import selftaught.loops, selftaught.loops.rounds, selftaught.loops.evaluate, "
        "selftaught.loops.train, selftaught.loops.generate, selftaught.loops.curate"
    )
    assert not {m for m in mods if m.split(".")[0] in ("prefect", "sqlalchemy")}


def test_the_store_imports_neither_torch_nor_prefect():
    mods = _imported_after("import selftaught.store")
    assert not {m for m in mods if m.split(".")[0] in ("torch", "prefect", "transformers")}


def test_the_package_root_is_cheap():
    mods = _imported_after("import selftaught")
    assert not {m for m in mods if m.split(".")[0] in ("torch", "prefect", "sqlalchemy", "transformers", "trl")}


def test_the_store_stands_on_records_and_errors_only():
    """``selftaught.store`` depends on records/errors (and SQLAlchemy): importing it loads
    no selftaught layer above it."""
    mods = _imported_after("import selftaught.store")
    above = ("selftaught.loops", "selftaught.prm", "selftaught.judges", "selftaught.search", "selftaught.flows")
    assert not {m for m in mods if m.startswith(above)}
    assert {m for m in mods if m.startswith("selftaught.") and not m.startswith("selftaught.store")} <= {
        "selftaught.records", "selftaught.errors", "selftaught.homepaths",
    }


#: the floors of docs/architecture.md: a module may import its own floor or any below it
FLOORS = {
    "records": 0, "errors": 0, "settings": 0, "homepaths": 0, "yamlfile": 0, "jsonl": 0, "lifeline": 0,
    "preflight": 0, "progress": 0, "__init__": 0,
    "constitution": 1, "store": 1, "judges": 1.5,  # judges -> constitution.checks (the constitution judge)
    "loops": 2, "hardware": 2,
    "prm": 3,
    "search": 4,
    "recipe": 5, "recipe_cai": 5, "profiles": 5, "report": 5,
    "flows": 6,
    "service": 7,
    "cli": 8,
}


def _part(module: str) -> str:
    """``selftaught.loops.rl`` -> ``loops``; ``selftaught.recipe`` -> ``recipe``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_imports_follow_the_floors():
    """Every ``import selftaught.X`` in src/selftaught (inside functions too) goes to the
    importing module's floor or one below it (the drawing in docs/architecture.md)."""
    import ast
    from pathlib import Path

    root = Path(__file__).parents[1] / "src" / "selftaught"
    upward = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root.parent).with_suffix("")
        own = _part(".".join(rel.parts))
        assert own in FLOORS, f"{path}: add its package to FLOORS (and to docs/architecture.md's drawing)"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                if name.startswith("selftaught.") and FLOORS[_part(name)] > FLOORS[own]:
                    upward.append(f"{path.relative_to(root)}:{node.lineno} imports {name}")
    assert not upward, "imports that point upwards:\n" + "\n".join(upward)
