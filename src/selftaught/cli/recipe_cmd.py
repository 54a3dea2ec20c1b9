"""``selftaught recipe keys [SECTION]``: every key a recipe may set, with its type, default and doc.

In: nothing, or one section's name (``grpo``, ``train``, ...). Out: one line per key --
``section.key (type, default D): doc`` -- read from the recipe's models themselves
(``recipe.Recipe`` and the loops' settings it composes), so the list cannot drift from
what ``load_recipe`` accepts. Keys that are set per run (a stage's seed, the placement)
are not recipe keys and are not listed. The defaults shown are the tiny profile's; a
recipe for a real model gets its profile's (``profiles.py``).
"""

from __future__ import annotations

import enum
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal, Optional, Union, get_args, get_origin

import typer

recipe_app = typer.Typer(
    help="Recipes: the keys a recipe file may set.\n\nExample: selftaught recipe keys grpo",
    no_args_is_help=True,
)


def section_of(annotation: Any) -> type | None:
    """The settings model a field holds (``X`` or ``X | None``), or None for a plain value."""
    from selftaught.loops.section import Section

    for t in (annotation, *get_args(annotation)):
        if isinstance(t, type) and issubclass(t, Section):
            return t
    return None


def type_name(annotation: Any) -> str:
    """A field's type as a recipe writer reads it: ``int``, ``hf | vllm``, ``list of float``.

    >>> type_name(Optional[int]), type_name(Literal["a", "b"]), type_name(tuple[float, ...])
    ('int | null', 'a | b', 'list of float')
    """
    origin, args = get_origin(annotation), get_args(annotation)
    if annotation is type(None):
        return "null"
    if origin is Literal:
        return " | ".join(str(a) for a in args)
    if origin in (Union, types.UnionType):
        return " | ".join(type_name(a) for a in args)
    if origin is tuple:
        return f"list of {type_name(args[0])}" if len(args) == 2 and args[1] is Ellipsis else "list"
    if origin is dict:
        return f"mapping of {type_name(args[0])} to {type_name(args[1])}"
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return " | ".join(str(m.value) for m in annotation)
    if annotation is Path:
        return "path"
    return getattr(annotation, "__name__", str(annotation))


def _default(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, tuple):
        return "[" + ", ".join(_default(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_default(v)}" for k, v in value.items()) + "}"
    return str(value)


def keys(model: type, prefix: str = "") -> Iterator[tuple[str, str, str, str]]:
    """(dotted key, type, default, doc) of every recipe key of ``model``, sections recursively."""
    for name in model.recipe_keys():
        field = model.model_fields[name]
        section = section_of(field.annotation)
        key, doc = prefix + name, field.description or ""
        if section is not None:
            absent = field.default is None
            yield key, "section", "absent (off)" if absent else "{...}", doc
            yield from keys(section, key + ".")
        else:
            yield key, type_name(field.annotation), _default(field.get_default(call_default_factory=True)), doc


@recipe_app.command("keys")
def keys_command(
    section: Annotated[Optional[str], typer.Argument(metavar="SECTION", help="Only this section (e.g. grpo, train, search).")] = None,
) -> None:
    """Print every key a recipe may set, with its type, default and one-line doc.

    Example:  selftaught recipe keys          (every key)
              selftaught recipe keys dpo      (the dpo: section)
    """
    from selftaught.recipe import Recipe

    model, prefix = Recipe, ""
    if section is not None:
        sections = [n for n in Recipe.recipe_keys() if section_of(Recipe.model_fields[n].annotation) is not None]
        if section not in sections:
            from selftaught.cli.options import usage

            usage(f"unknown recipe section {section!r}; sections: {', '.join(sections)}")
        model, prefix = section_of(Recipe.model_fields[section].annotation), section + "."
    for key, kind, default, doc in keys(model, prefix):
        typer.echo(f"{key} ({kind}, default {default}): {doc}")


def register(app: typer.Typer) -> None:
    """Add the ``recipe`` sub-command group to the main app."""
    app.add_typer(recipe_app, name="recipe")
