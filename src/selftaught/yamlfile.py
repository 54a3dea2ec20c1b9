"""Load a YAML file into a pydantic model, with errors that name the file and line.

Recipes and constitutions are edited by hand, so a mistake must point at itself:

    recipe.yaml:7: rounds: Input should be a valid integer (got 'three')

PyYAML's composer gives every node a start mark; after pydantic validates the plain data
we walk the error's location (``("train", "lr")``) down the node tree to find the line.
Duplicate mapping keys, which PyYAML silently accepts, are rejected here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from selftaught.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


def _check_duplicates(node: yaml.Node, file: str) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key, value in node.value:
            k = key.value if isinstance(key, yaml.ScalarNode) else id(key)
            if k in seen:
                raise ConfigError(
                    f"duplicate key {k!r} (first at line {seen[k]})",
                    file=file,
                    line=key.start_mark.line + 1,
                )
            seen[k] = key.start_mark.line + 1
            _check_duplicates(value, file)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _check_duplicates(item, file)


def line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """1-based line of the deepest node along ``loc`` that exists."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                    # an unknown key points at the key itself; otherwise at its value
                    node, line = value, key.start_mark.line + 1
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                return line
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def parse_yaml(text: str, file: str) -> tuple[Any, yaml.Node | None]:
    """Parse YAML text into plain data plus its node tree, or raise ConfigError."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        reason = f"invalid YAML: {e.problem or e.context}"
        raise ConfigError(reason, file=file, line=mark.line + 1 if mark else None) from None
    except yaml.YAMLError as e:
        raise ConfigError(f"invalid YAML: {e}", file=file) from None
    if root is not None:
        _check_duplicates(root, file)
    return data, root


def validate(model: type[M], data: Any, root: yaml.Node | None, file: str) -> M:
    """Validate plain data against ``model``; the first error becomes a ConfigError."""
    if data is None:
        raise ConfigError("file is empty", file=file, line=1)
    if not isinstance(data, dict):
        raise ConfigError("top level must be a mapping of keys to values", file=file, line=1)
    try:
        return model.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        loc = tuple(err["loc"])
        path = ".".join(str(p) for p in loc) or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif "input" in err and err["type"] not in ("missing",) and not isinstance(
            err["input"], (dict, list)
        ):
            msg = f"{msg} (got {err['input']!r})"
        more = f" (and {e.error_count() - 1} more)" if e.error_count() > 1 else ""
        raise ConfigError(f"{path}: {msg}{more}", file=file, line=line_of(root, loc)) from None


def load_model(model: type[M], path: str | Path) -> M:
    """Read ``path`` and validate it as ``model``; every failure is a ConfigError."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("file not found", file=file) from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read file: {e}", file=file) from None
    data, root = parse_yaml(text, file)
    return validate(model, data, root, file)
