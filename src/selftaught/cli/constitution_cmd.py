"""``selftaught constitution``: copy a bundled constitution, validate, show, diff and safely
edit constitution files.

Every failure is one line, ``error: file:line: reason``, on stderr with exit code 1 (no
traceback). ``init`` copies a bundled constitution (``default``, ``concise``) to a file
you own; ``edit`` works on a temporary copy and writes the file back only if the edit
validates, so a broken constitution can never reach the next round through this command.
``diff`` names the principles added, removed and changed, then shows the unified diff of
the two files' text (``difflib``; colored on a terminal).
"""

from __future__ import annotations

import difflib
import os
import shlex
import shutil
import subprocess
import tempfile
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, Callable, Optional, TypeVar

import typer

from selftaught.errors import ConfigError, SelftaughtError

F = TypeVar("F", bound=Callable[..., Any])

EditArg = Annotated[Path, typer.Argument(help="A constitution YAML file (`constitution init` makes one).", show_default=False)]
ReadArg = Annotated[
    Path,
    typer.Argument(help="A constitution YAML file, or a bundled one: default, concise.", show_default=False),
]


def _resolve(path: Path) -> Path:
    """A bundled constitution's name (``default``, ``concise``) stands for its file."""
    from selftaught.constitution import BUNDLED, bundled_path

    if not path.exists() and str(path) in BUNDLED:
        return bundled_path(str(path))
    return path

constitution_app = typer.Typer(
    help="Constitutions: YAML principles for Constitutional AI (init, validate, show, diff, edit).\n\n"
    "Example: selftaught constitution init default -o my-constitution.yaml",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add the ``constitution`` sub-command group to the main app."""
    app.add_typer(constitution_app, name="constitution")


def _one_line_errors(fn: F) -> F:
    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except SelftaughtError as e:
            from selftaught.cli.options import fail

            fail(str(e))

    return wrapper  # type: ignore[return-value]


def _console():
    from rich.console import Console

    return Console()


@constitution_app.command("init")
@_one_line_errors
def init_cmd(
    name: Annotated[str, typer.Argument(metavar="NAME", help="A bundled constitution: default or concise.", show_default=False)],
    out: Annotated[Optional[Path], typer.Option("-o", "--out", metavar="FILE", show_default="NAME.yaml", help="The file to write (never overwritten).")] = None,
) -> None:
    """Copy a bundled constitution to a file of your own, to edit and name in a recipe.

    Example: selftaught constitution init default -o my-constitution.yaml
             selftaught constitution edit my-constitution.yaml
    """
    from selftaught.constitution import BUNDLED, bundled_path, constitution_hash, load_constitution

    if name not in BUNDLED:
        from selftaught.cli.options import usage

        usage(f"no bundled constitution {name!r} (have: {', '.join(BUNDLED)})")
    dest = out or Path(f"{name}.yaml")
    if dest.exists():
        raise ConfigError("exists already; give another file with -o", file=str(dest))
    dest.write_text(bundled_path(name).read_text(encoding="utf-8"), encoding="utf-8")
    c = load_constitution(dest)
    typer.echo(f"{dest}: a copy of {name!r} ({len(c.principles)} principles, hash {constitution_hash(c)[:12]}); "
               f"edit it with: selftaught constitution edit {dest}")  # fmt: skip


@constitution_app.command("validate")
@_one_line_errors
def validate_cmd(file: ReadArg) -> None:
    """Check a constitution file; print its name, size and content hash.

    Exit code 0 if valid, 1 with one line 'error: file:line: reason' if not.

    Example: selftaught constitution validate my-constitution.yaml
    """
    from selftaught.constitution import constitution_hash, load_constitution

    c = load_constitution(_resolve(file))
    typer.echo(f"{file}: ok: {c.name!r}, {len(c.principles)} principles, hash {constitution_hash(c)[:12]}")


@constitution_app.command("show")
@_one_line_errors
def show_cmd(
    file: ReadArg,
    all_fields: Annotated[
        bool, typer.Option("--all", help="Also show revision requests and comparison questions.")
    ] = False,
) -> None:
    """Show a constitution's principles as a table (share = weight / total weight).

    Example: selftaught constitution show default --all
    """
    from rich.table import Table

    from selftaught.constitution import constitution_hash, load_constitution

    c = load_constitution(_resolve(file))
    total = sum(p.weight for p in c.principles)
    table = Table(title=f"{c.name} — {c.description}", title_justify="left", show_lines=all_fields)
    for col in ("id", "weight", "share"):
        table.add_column(col, no_wrap=True)
    for col in ("tags", "applies to", "critique request"):
        table.add_column(col, overflow="fold")
    if all_fields:
        table.add_column("revision request", overflow="fold")
        table.add_column("comparison question", overflow="fold")
    for p in c.principles:
        row = [
            p.id,
            f"{p.weight:g}",
            f"{p.weight / total:.0%}",
            ", ".join(p.tags),
            ", ".join(p.applies_to) if p.applies_to is not None else "all",
            p.critique_request,
        ]
        if all_fields:
            row += [p.revision_request, p.comparison_question]
        table.add_row(*row)
    con = _console()
    con.print(table)
    extra = f"system prompt: {'yes' if c.system_prompt else 'no'}; few-shot examples: {len(c.few_shot)}"
    con.print(f"{extra}; hash {constitution_hash(c)}", highlight=False)


def diff_constitutions(a: Any, b: Any) -> dict[str, Any]:
    """Differences between two constitutions, principles matched by id.

    Returns ``{"fields": [top-level fields changed], "added": [ids], "removed": [ids],
    "changed": {id: [fields changed]}}``.
    """
    pa, pb = {p.id: p for p in a.principles}, {p.id: p for p in b.principles}
    changed: dict[str, list[str]] = {}
    for pid in pa.keys() & pb.keys():
        da, db = pa[pid].model_dump(), pb[pid].model_dump()
        fields = [f for f in da if da[f] != db[f]]
        if fields:
            changed[pid] = fields
    top = [f for f in ("name", "description", "system_prompt", "few_shot") if getattr(a, f) != getattr(b, f)]
    if [p.id for p in a.principles if p.id in pb] != [p.id for p in b.principles if p.id in pa]:
        top.append("principle order")
    return {
        "fields": top,
        "added": [pid for pid in pb if pid not in pa],
        "removed": [pid for pid in pa if pid not in pb],
        "changed": {pid: changed[pid] for pid in pb if pid in changed},
    }


@constitution_app.command("diff")
@_one_line_errors
def diff_cmd(
    a: Annotated[Path, typer.Argument(help="The old constitution (file or bundled name).", show_default=False)],
    b: Annotated[Path, typer.Argument(help="The new constitution (file or bundled name).", show_default=False)],
    exit_code: Annotated[
        bool, typer.Option("--exit-code", help="Exit 1 if the two differ (like git diff --exit-code).")
    ] = False,
) -> None:
    """Principles added, removed and changed (by id, naming the fields that changed), then
    the unified diff of the two files' text.

    Example: selftaught constitution diff default my-constitution.yaml
    """
    from selftaught.constitution import constitution_hash, load_constitution

    ca, cb = load_constitution(_resolve(a)), load_constitution(_resolve(b))
    ha, hb = constitution_hash(ca), constitution_hash(cb)
    if ha == hb:
        typer.echo(f"no differences (hash {ha[:12]})")
        return
    d = diff_constitutions(ca, cb)
    pa, pb = {p.id: p for p in ca.principles}, {p.id: p for p in cb.principles}
    con = _console()
    con.print(f"hash {ha[:12]} -> {hb[:12]}", highlight=False)
    for f in d["fields"]:
        con.print(f"[yellow]~ {f}[/] changed", highlight=False)
    for pid in d["added"]:
        con.print(f"[green]+ {pid}[/] (weight {pb[pid].weight:g})", highlight=False)
    for pid in d["removed"]:
        con.print(f"[red]- {pid}[/] (weight {pa[pid].weight:g})", highlight=False)
    for pid, fields in d["changed"].items():
        con.print(f"[yellow]~ {pid}[/]: {', '.join(fields)}", highlight=False)
    print_unified_diff(con, _resolve(a), _resolve(b), str(a), str(b))
    if exit_code:
        raise typer.Exit(1)


#: the style of a unified diff's lines, by their first character (as git colors them)
DIFF_STYLES = {"+": "green", "-": "red", "@": "cyan"}


def print_unified_diff(con: Any, a: Path, b: Path, name_a: str, name_b: str) -> None:
    """The unified diff of two files' text (3 lines of context), colored on a terminal."""
    from rich.text import Text

    old = a.read_text(encoding="utf-8").splitlines(keepends=True)
    new = b.read_text(encoding="utf-8").splitlines(keepends=True)
    for line in difflib.unified_diff(old, new, fromfile=name_a, tofile=name_b):
        line = line.rstrip("\n")
        style = "bold" if line.startswith(("---", "+++")) else DIFF_STYLES.get(line[:1], "")
        con.print(Text(line, style=style), highlight=False, soft_wrap=True)


@constitution_app.command("edit")
@_one_line_errors
def edit_cmd(file: EditArg) -> None:
    """Edit a constitution in $VISUAL/$EDITOR; save only if the result validates.

    The file is edited as a temporary copy. If the edit is invalid the original is left
    unchanged, the error names the line in the kept copy, and the exit code is 1. A bundled
    constitution is not edited in place: copy it first with `selftaught constitution init`.

    Example: EDITOR=nano selftaught constitution edit my-constitution.yaml
    """
    from selftaught.constitution import BUNDLED, constitution_hash, load_constitution, parse_constitution

    if not file.exists() and str(file) in BUNDLED:
        raise ConfigError(f"a bundled constitution; copy it to edit it: selftaught constitution init {file} "
                          "-o my-constitution.yaml", file=str(file))  # fmt: skip

    before = load_constitution(file)  # refuse to start from a broken or missing file
    original = file.read_text(encoding="utf-8")
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    work = Path(tempfile.mkdtemp(prefix="selftaught-edit-"))
    tmp = work / file.name
    tmp.write_text(original, encoding="utf-8")
    try:
        rc = subprocess.call([*shlex.split(editor), str(tmp)])
    except OSError as e:
        shutil.rmtree(work, ignore_errors=True)
        raise ConfigError(f"cannot run editor {editor!r}: {e}", file=str(file)) from None
    if rc != 0:
        shutil.rmtree(work, ignore_errors=True)
        raise ConfigError(f"editor {editor!r} exited with {rc}; file unchanged", file=str(file))
    edited = tmp.read_text(encoding="utf-8")
    if edited == original:
        shutil.rmtree(work, ignore_errors=True)
        typer.echo(f"{file}: no changes")
        return
    try:
        after = parse_constitution(edited, str(tmp))
    except ConfigError as e:
        raise ConfigError(f"{e.reason} (not saved: {file} is unchanged)", file=e.file, line=e.line) from None
    if file.read_text(encoding="utf-8") != original:
        raise ConfigError(f"file changed on disk while editing; your edit is in {tmp}", file=str(file))
    staged = file.with_name(f".{file.name}.selftaught-edit")
    staged.write_text(edited, encoding="utf-8")
    shutil.copymode(file, staged)
    os.replace(staged, file)
    shutil.rmtree(work, ignore_errors=True)
    typer.echo(f"{file}: saved; hash {constitution_hash(before)[:12]} -> {constitution_hash(after)[:12]}")
