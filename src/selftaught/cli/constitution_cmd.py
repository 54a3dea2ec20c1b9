"""``selftaught constitution``: validate, show, diff and safely edit constitution files.

Every failure is one line, ``file:line: reason``, on stderr with exit code 2 (no traceback).
``edit`` works on a temporary copy and writes the file back only if the edit validates, so a
broken constitution can never reach the next round through this command.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tempfile
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, Callable, TypeVar

import typer

from selftaught.errors import ConfigError, SelftaughtError

F = TypeVar("F", bound=Callable[..., Any])

FileArg = Annotated[Path, typer.Argument(help="A constitution YAML file.", show_default=False)]
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
    help="Constitutions: YAML principles for Constitutional AI (validate, show, diff, edit).\n\n"
    "Example: selftaught constitution show my-constitution.yaml",
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
            typer.echo(str(e), err=True)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


def _console():
    from rich.console import Console

    return Console()


@constitution_app.command("validate")
@_one_line_errors
def validate_cmd(file: ReadArg) -> None:
    """Check a constitution file; print its name, size and content hash.

    Exit code 0 if valid, 2 with one line 'file:line: reason' if not.

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
    """Principles added, removed and changed (by id, naming the fields that changed).

    Example: selftaught constitution diff old.yaml new.yaml
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
        for f in fields:
            old, new = getattr(pa[pid], f), getattr(pb[pid], f)
            con.print(f"    {f}: {_short(old)} -> {_short(new)}", highlight=False, markup=False)
    if exit_code:
        raise typer.Exit(1)


def _short(v: Any, n: int = 70) -> str:
    s = repr(v) if not isinstance(v, str) else repr(" ".join(v.split()))
    return s if len(s) <= n else s[: n - 3] + "..."


@constitution_app.command("edit")
@_one_line_errors
def edit_cmd(file: FileArg) -> None:
    """Edit a constitution in $VISUAL/$EDITOR; save only if the result validates.

    The file is edited as a temporary copy. If the edit is invalid the original is left
    unchanged, the error names the line in the kept copy, and the exit code is 2.

    Example: EDITOR=nano selftaught constitution edit my-constitution.yaml
    """
    from selftaught.constitution import constitution_hash, load_constitution, parse_constitution

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
