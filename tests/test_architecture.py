"""docs/architecture.md lists every module of src/selftaught, and only those."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "selftaught"
DOC = ROOT / "docs" / "architecture.md"
#: a module's line in the doc: ``- `cli/main.py`: what it is``
LISTED = re.compile(r"^- `([\w/]+\.py)`: \S", re.MULTILINE)


def _modules() -> set[str]:
    return {p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py")}


def _listed() -> list[str]:
    return LISTED.findall(DOC.read_text(encoding="utf-8"))


def test_every_module_is_listed_once_with_what_it_is():
    listed = _listed()
    modules = _modules()
    add = sorted(modules - set(listed))
    remove = sorted(set(listed) - modules)
    twice = sorted({m for m in listed if listed.count(m) > 1})
    problems = []
    if add:
        problems.append("add to docs/architecture.md (one line each, '- `PATH`: what it is'): " + ", ".join(add))
    if remove:
        problems.append("remove from docs/architecture.md (no such module): " + ", ".join(remove))
    if twice:
        problems.append("listed more than once in docs/architecture.md: " + ", ".join(twice))
    assert not problems, "\n".join(problems)


def test_modules_are_listed_under_their_package():
    """Each module's line sits under the heading of its package (``### cli/ ...``)."""
    section = None
    misplaced = []
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith("### "):
            word = line.split()[1]
            section = word if word.endswith("/") else ""
        found = LISTED.match(line)
        if found and section is not None:
            path = found.group(1)
            package = path.rsplit("/", 1)[0] + "/" if "/" in path else ""
            if package != section:
                misplaced.append(f"{path} (under {section or 'the package root'})")
    assert not misplaced, "move to its package's section in docs/architecture.md: " + ", ".join(misplaced)
