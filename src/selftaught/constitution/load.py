"""Loading constitutions and the bundled prompts; hashing; sampling a principle.

``load_constitution(path)`` turns a YAML file into a validated ``Constitution`` or raises
``ConfigError`` naming the file, the line and the reason. Nothing else in this package reads
YAML, so an invalid file stops a round before anything runs.

``constitution_hash`` is the sha256 of a canonical JSON form (defaults filled in, keys
sorted), so re-indenting the YAML, reordering keys or adding comments keeps the hash, while
any change of meaning (a word of a request, a weight) changes it. Rounds record this hash
with every critique, revision and preference pair.
"""

from __future__ import annotations

import hashlib
import json
import random
from importlib import resources
from pathlib import Path
from typing import Iterable

from selftaught.constitution.schema import Constitution, Principle
from selftaught.errors import ConfigError, DataError
from selftaught.records import Problem, Split
from selftaught.yamlfile import line_of, parse_yaml, validate

BUNDLED = ("default", "concise")


def bundled_path(name: str) -> Path:
    """Path of a constitution shipped with the package: ``default`` or ``concise``."""
    if name not in BUNDLED:
        raise ConfigError(f"no bundled constitution {name!r} (have: {', '.join(BUNDLED)})")
    return Path(str(resources.files("selftaught.constitution") / "data" / f"{name}.yaml"))


def parse_constitution(text: str, file: str = "<input>") -> Constitution:
    """Validate YAML text as a constitution (``file`` is only used in error messages)."""
    data, root = parse_yaml(text, file)
    c = validate(Constitution, data, root, file)
    seen: dict[str, int] = {}
    for i, p in enumerate(c.principles):
        line = line_of(root, ("principles", i, "id"))
        if p.id in seen:
            first = seen[p.id]
            where = f" (first at line {first})" if first else ""
            raise ConfigError(
                f"principles.{i}.id: duplicate principle id {p.id!r}{where}", file=file, line=line
            )
        seen[p.id] = line or 0
    return c


def load_constitution(path: str | Path) -> Constitution:
    """Read and validate a constitution file; every failure is a ``ConfigError``."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("file not found", file=file) from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read file: {e}", file=file) from None
    return parse_constitution(text, file)


def canonical_json(c: Constitution) -> str:
    """The canonical JSON text of a constitution (what the hash is computed over)."""
    return json.dumps(
        c.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )


def constitution_hash(c: Constitution) -> str:
    """sha256 hex digest of ``canonical_json(c)``: stable under YAML formatting changes."""
    return hashlib.sha256(canonical_json(c).encode("utf-8")).hexdigest()


def sample_principle(
    c: Constitution, rng: random.Random, prompt_tags: Iterable[str] = ()
) -> Principle:
    """Draw one principle with probability proportional to its weight.

    Only principles that apply to a prompt with ``prompt_tags`` take part; if none
    applies (every principle is restricted to other tags), all of them take part.
    """
    tags = frozenset(prompt_tags)
    pool = [p for p in c.principles if p.applies(tags)] or list(c.principles)
    return rng.choices(pool, weights=[p.weight for p in pool], k=1)[0]


def load_prompts(split: Split | str = Split.TRAIN) -> list[Problem]:
    """The bundled CAI prompts of one split as ``Problem``s (tags in ``meta["tags"]``).

    >>> len(load_prompts("train")) > 0 and load_prompts("heldout")[0].split.value
    'heldout'
    """
    split = Split(split)
    name = "prompts_train.jsonl" if split is Split.TRAIN else "prompts_heldout.jsonl"
    path = resources.files("selftaught.constitution") / "data" / name
    return read_prompts(Path(str(path)), split)


def read_prompts(path: Path, split: Split | str = Split.TRAIN) -> list[Problem]:
    """Read a JSONL file of ``{"id", "prompt", "tags"}`` rows as ``Problem``s."""
    out: list[Problem] = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            out.append(
                Problem(
                    id=str(row["id"]),
                    prompt=str(row["prompt"]),
                    split=Split(split),
                    meta={"tags": tuple(row.get("tags", ()))},
                )
            )
        except (ValueError, KeyError, TypeError) as e:
            raise DataError(f"{path}:{n}: bad prompt row: {e}") from None
    return out


def prompt_tags(problem: Problem) -> tuple[str, ...]:
    """The tags of a CAI prompt (``()`` when it has none)."""
    return tuple(problem.meta.get("tags", ()))
