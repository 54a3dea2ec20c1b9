"""What the ``selftaught`` commands share: option types, the consoles, and the few helpers
every command body calls before and after its one call into the flows or a service.

In: the values a command was given (``--db``, ``--home``, ``--threads``, ...). Out: those
values with the environment's defaults filled in (``resolve``), an open ``Store``
(``store_at``), a checkpoint folder for ``--checkpoint`` (``checkpoint_folder``), and for
``run``/``demo``/``cai``: the run's lease (``own_run``), the flow run in this process with
progress bars and signal handling (``run_flow_here``), the resume line (``resume_command``)
and the rounds table (``print_rounds``).

``cli/main.py`` and every ``cli/*_cmd.py`` import from here; no command module imports
from ``main``. Like ``main`` this module imports only typer and rich at import time:
torch, Prefect and SQLAlchemy load inside the helpers, so ``selftaught --help`` stays fast.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated, Any, NoReturn, Optional, TypeVar

import typer
from rich.console import Console

console = Console()  # results: tables, summaries
err = Console(stderr=True)  # progress, warnings and the one-line errors
T = TypeVar("T")

# ------------------------------------------------------------------------ option types
# The environment variable and the default of an option are shown by --help from
# ``envvar=``/``show_default=`` (never written into the help text: ``[...]`` there is Rich
# markup and vanishes). The value stays None when neither option nor variable is given:
# ``resolve`` then fills in ``selftaught.settings``' default.

DbOpt = Annotated[
    Optional[str],
    typer.Option("--db", metavar="URL", envvar="SELFTAUGHT_DB_URL", show_default="sqlite:///selftaught.db",
                 help="SQLAlchemy URL of the store."),
]
#: the same option under the name the feature commands import
StoreUrlOpt = DbOpt
HomeOpt = Annotated[
    Optional[Path],
    typer.Option("--home", metavar="DIR", envvar="SELFTAUGHT_HOME", show_default="./selftaught-home",
                 help="Folder for checkpoints, plots and reports (HOME/runs/RUN/)."),
]
ThreadsOpt = Annotated[
    Optional[int],
    typer.Option("--threads", min=0, envvar="SELFTAUGHT_TORCH_THREADS", show_default="0: all cores",
                 help="torch threads (0 = all cores)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="JSON for scripts.")]
RunArg = Annotated[str, typer.Argument(metavar="RUN", help="The run id.")]
JudgeVersionOpt = Annotated[
    Optional[str],
    typer.Option("--judge-version", show_default="the version each round used",
                 help="Read the verdicts of this judge version (from `selftaught rejudge`)."),
]
#: --force of `run --resume` and `cai --resume` (docs/beyond-one-machine.md, "One process per run")
FORCE_HELP = (
    "With --resume: take the run over even if another live process holds its lease. That "
    "process stops with one line at its next heartbeat (within a third of SELFTAUGHT_LEASE_SECONDS, "
    "default 60 s), before writing more."
)

# ------------------------------------------------------------------------ settings, store


def resolve(db: str | None = None, home: Path | None = None, threads: int | None = None) -> tuple[str, Path, int]:
    """(store URL, home folder, torch threads): the values given, else the environment's
    (``selftaught.settings``)."""
    from selftaught.settings import get_settings

    s = get_settings()
    return (db or s.db_url, home or s.home, s.torch_threads if threads is None else threads)


def store_at(db: str, home: Path | str | None = None):
    """The ``Store`` at URL ``db`` (checkpoint paths relative to ``home``)."""
    from selftaught.store import Store

    return Store(db, home=home)


def checkpoint_folder(given: str, db: str | None, home: Path | None) -> tuple[Path, str]:
    """``--checkpoint``: a model folder as given, or else a checkpoint id of the store
    (``RUN/r3``), whose folder lies under HOME -> (the folder, what to record: the id or
    the path given). Neither: the path as given (its load then says what is missing)."""
    if Path(given).exists():
        return Path(given), given
    found = store_at(*resolve(db, home)[:2]).get_checkpoint(given)
    return (Path(found.path), found.id) if found is not None else (Path(given), given)


def fail(message: str, code: int = 1) -> NoReturn:
    """One ``error: MESSAGE`` line on stderr and exit ``code`` (1: a runtime error; the
    format of ``main``'s handler, for a command that ends itself)."""
    from rich.markup import escape

    err.print(f"[red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def usage(message: str) -> NoReturn:
    """A usage error: the command line itself is wrong (options that cannot go together, a
    value outside its choices). ``main`` prints it as one ``error:`` line and exits 2."""
    from typer._click.exceptions import UsageError

    raise UsageError(message)


def _flags_take_no_value() -> None:
    """typer 0.29's Rich help prints a value type beside every flag (``--json <bool>``,
    ``--help <bool>``) as if it took a value; show none there, as click's plain help does."""
    from typer.core import TyperOption

    shown = TyperOption.display_type_rich

    def display_type_rich(self: TyperOption, ctx: Any) -> str | None:
        return None if self.is_flag and not self.count else shown(self, ctx)

    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]


_flags_take_no_value()


# ------------------------------------------------------------------------ run / demo / cai


def quiet_prefect() -> None:
    """Keep Prefect's INFO logs out of the progress bars (set PREFECT_LOGGING_LEVEL to see them)."""
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # the temporary server Prefect starts without PREFECT_API_URL needs >20 s on a busy 2-core box
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")


def check_home(home: Path, init: str) -> None:
    """The home folder is writable and has room for a round, before any run row exists."""
    from selftaught.preflight import check_home as check, checkpoint_bytes

    check(home, checkpoint_bytes(init))


def own_run(db: str, run_id: str, fresh: bool, force: bool, home: Path) -> ExitStack:
    """The run's lease, taken now (``flows/lease.py``) and released when the returned stack
    exits: a resumed run that another process works on is refused here in one line, before
    Prefect starts. A new run has no row yet: ``run_flow`` takes its lease once it has one.
    Taken by the Store the run's stages write through (``open_store(db, home)``), which
    checks the token on every stage write."""
    from selftaught.flows.context import open_store
    from selftaught.flows.lease import hold_run

    held = ExitStack()
    if not fresh:
        held.enter_context(hold_run(open_store(db, home), run_id, force=force))
    return held


def run_flow_here(call: Callable[[], T], resume: str, held: ExitStack | None = None) -> T:
    """``call()`` (a flow) in this process: progress bars on stderr, Prefect's temporary
    server tied to this process, and Ctrl-C/SIGTERM ending in one line that says ``resume``.
    ``held`` (the run's lease, ``own_run``) is released on the way out, a signal's included."""
    quiet_prefect()
    from selftaught.cli.interrupts import stops_on_signals
    from selftaught.cli.progress import reporting
    from selftaught.flows.context import local_run_settings

    with stops_on_signals(resume), held or ExitStack(), reporting(err), local_run_settings():
        return call()


def resume_command(command: str, recipe_file: Path, run_id: str, db: str, home: Path) -> str:
    """``selftaught COMMAND RECIPE --resume RUN``, with ``--db``/``--home`` where they differ
    from what the environment gives."""
    import shlex

    default_db, default_home, _ = resolve()
    words = ["selftaught", command, str(recipe_file), "--resume", run_id]
    if db != default_db:
        words += ["--db", db]
    if Path(home) != Path(default_home):
        words += ["--home", str(home)]
    return shlex.join(words)


def print_rounds(db: str, run_id: str, timings: list[dict] | None = None,
                 judge_version: str | None = None) -> list[dict]:  # fmt: skip
    """Print the run's rounds table; returns its rows."""
    from selftaught.cli.tables import round_table

    rows = store_at(db).round_table(run_id, judge_version=judge_version)
    console.print(round_table(rows, timings, title=f"run {run_id}"))
    return rows


def judge_options(kind: str, raw: list[str], timeout: float | None, workers: int | None, unsafe: bool) -> dict:
    """Turn CLI flags (``verify``, ``rejudge``) into get_verifier options (``part.key=value`` for weighted specs).
    A bad judge name or option is a usage error."""
    from selftaught.errors import ConfigError
    from selftaught.judges import parse_spec

    try:
        spec = parse_spec(kind)
    except ConfigError as e:
        usage(str(e))
    names = list(spec) if isinstance(spec, dict) else [spec]
    per_name: dict[str, dict[str, Any]] = {name: {} for name in names}
    for name in names:
        if timeout is not None and name in ("math", "code"):
            per_name[name]["deadline_s" if name == "math" else "timeout_s"] = timeout
        if workers is not None and name in ("math", "code"):
            per_name[name]["workers"] = workers
        if unsafe and name == "code":
            per_name[name]["unsafe_no_sandbox"] = True
    for item in raw:
        key, sep, value = item.partition("=")
        if not sep:
            usage(f"--option expects KEY=VALUE, got {item!r}")
        target, _, key = key.rpartition(".")
        target = target or names[0]
        if target not in per_name or (len(names) > 1 and "." not in item.split("=")[0]):
            usage(f"--option {item!r}: name the verifier as PART.KEY (one of {names})")
        try:
            parsed: Any = json.loads(value)
        except ValueError:
            parsed = value
        per_name[target][key] = parsed
    if isinstance(spec, dict):
        return {name: opts for name, opts in per_name.items() if opts}
    return per_name[names[0]]


def judge_from_options(kind: str, options: dict) -> Any:
    """``get_verifier(kind, **options)``; an unknown judge or option is a usage error (exit 2)."""
    from selftaught.errors import ConfigError
    from selftaught.judges import get_verifier

    try:
        return get_verifier(kind, **options)
    except ConfigError as e:
        usage(str(e))
