"""The ``selftaught`` command.

Start-up is cheap: torch, transformers, Prefect and SQLAlchemy are imported inside the
commands that need them, so ``selftaught --help`` answers at once. Every error that
selftaught raises on purpose (``SelftaughtError``), every ``OSError`` (a full disk, a
read-only folder: reason and path) and every usage error (a bad option value) is printed as
one line on stderr with exit code 2, never as a traceback (``SELFTAUGHT_TRACEBACK=1`` shows
the traceback of an ``OSError``). Ctrl-C or SIGTERM during ``run``/``demo``/``cai`` prints
one line with the resume command and exits 130 / 143 (``cli/interrupts.py``); in other
commands Ctrl-C exits 130.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from collections.abc import Callable
from contextlib import ExitStack
from typing import TYPE_CHECKING, Annotated, Optional, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from selftaught.errors import SelftaughtError

if TYPE_CHECKING:
    from selftaught.store import RoundRow

app = typer.Typer(
    name="selftaught",
    help="Self-improvement rounds for language models: generate, judge, curate, train, evaluate; "
    "everything recorded in a SQL store.\n\nStart with: selftaught demo",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
db_app = typer.Typer(help="The store's schema (Alembic migrations).", no_args_is_help=True)
app.add_typer(db_app, name="db")

console = Console()
err = Console(stderr=True)
T = TypeVar("T")
JudgeVersionOpt = Annotated[
    Optional[str],
    typer.Option("--judge-version", help="Read the verdicts of this judge version (from `selftaught rejudge`) "
                 "[default: the version each round used]."),
]

DbOpt = Annotated[
    Optional[str],
    typer.Option("--db", help="SQLAlchemy URL of the store [env SELFTAUGHT_DB_URL; default sqlite:///selftaught.db]."),
]
HomeOpt = Annotated[
    Optional[Path],
    typer.Option("--home", help="Folder for checkpoints and plots [env SELFTAUGHT_HOME; default ./selftaught-home]."),
]
#: --force of `run --resume` and `cai --resume` (docs/beyond-one-machine.md, "One process per run")
FORCE_HELP = (
    "With --resume: take the run over even if another live process holds its lease. That "
    "process stops with one line at its next heartbeat (within a third of SELFTAUGHT_LEASE_SECONDS, "
    "default 60 s), before writing more."
)
ThreadsOpt = Annotated[
    Optional[int], typer.Option("--threads", min=0, help="torch threads (0 = all cores) [env SELFTAUGHT_TORCH_THREADS].")
]


def _settings(db: str | None = None, home: Path | None = None, threads: int | None = None):
    from selftaught.settings import get_settings

    s = get_settings()
    return (db or s.db_url, home or s.home, s.torch_threads if threads is None else threads)


def _quiet_prefect() -> None:
    """Keep Prefect's INFO logs out of the progress bars (set PREFECT_LOGGING_LEVEL to see them)."""
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # the temporary server Prefect starts without PREFECT_API_URL needs >20 s on a busy 2-core box
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")


def _check_home(home: Path, init: str) -> None:
    """The home folder is writable and has room for a round, before any run row exists."""
    from selftaught.preflight import check_home, checkpoint_bytes

    check_home(home, checkpoint_bytes(init))


def _store(db: str, home: Path | str | None = None):
    from selftaught.store import Store

    return Store(db, home=home)


def _checkpoint_folder(given: str, db: str | None, home: Path | None) -> tuple[Path, str]:
    """``--checkpoint``: a model folder as given, or else a checkpoint id of the store
    (``RUN/r3``), whose folder lies under HOME -> (the folder, what to record: the id or
    the path given). Neither: the path as given (its load then says what is missing)."""
    if Path(given).exists():
        return Path(given), given
    found = _store(*_settings(db, home)[:2]).get_checkpoint(given)
    return (Path(found.path), found.id) if found is not None else (Path(given), given)


# ----------------------------------------------------------------------- run / demo


def _owned(db: str, run_id: str, fresh: bool, force: bool, home: Path):
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


def _run(recipe, run_id: str, db: str, home: Path, threads: int, fresh: bool, recipe_file: Path,
         held: ExitStack | None = None) -> list[dict]:
    from selftaught.flows.rounds import run_flow

    verb = "starting" if fresh else "resuming"
    err.print(f"[bold]{verb} run[/] {run_id}  (store {db}, home {home})")
    resume = _resume_command("run", recipe_file, run_id, db, home)
    return run_flow_here(lambda: run_flow(run_id, recipe.model_dump(mode="json"), db, str(home), threads), resume, held)


def run_flow_here(call: Callable[[], T], resume: str, held: ExitStack | None = None) -> T:
    """``call()`` (a flow) in this process: progress bars on stderr, Prefect's temporary
    server tied to this process, and Ctrl-C/SIGTERM ending in one line that says ``resume``.
    ``held`` (the run's lease, ``_owned``) is released on the way out, a signal's included."""
    _quiet_prefect()
    from selftaught.cli.interrupts import stops_on_signals
    from selftaught.cli.progress import RichReporter
    from selftaught.flows.context import local_run_settings
    from selftaught.flows.progress import set_reporter

    with stops_on_signals(resume), held or ExitStack(), RichReporter(err) as rep:
        previous = set_reporter(rep)
        try:
            with local_run_settings():
                return call()
        finally:
            set_reporter(previous)


def _resume_command(command: str, recipe_file: Path, run_id: str, db: str, home: Path) -> str:
    """``selftaught COMMAND RECIPE --resume RUN``, with ``--db``/``--home`` where they differ
    from what the environment gives."""
    import shlex

    default_db, default_home, _ = _settings()
    words = ["selftaught", command, str(recipe_file), "--resume", run_id]
    if db != default_db:
        words += ["--db", db]
    if Path(home) != Path(default_home):
        words += ["--home", str(home)]
    return shlex.join(words)


def _print_rounds(db: str, run_id: str, timings: list[dict] | None = None, judge_version: str | None = None) -> list[RoundRow]:
    from selftaught.cli.tables import round_table

    rows = _store(db).round_table(run_id, judge_version=judge_version)
    console.print(round_table(rows, timings, title=f"run {run_id}"))
    return rows


@app.command()
def demo(
    method: Annotated[str, typer.Option(help="rft or star (STaR adds rationalization).")] = "star",
    rounds: Annotated[int, typer.Option(min=1, help="Rounds after the cold start.")] = 3,
    seed: Annotated[int, typer.Option(help="Seeds problems, model, sampling and training.")] = 0,
    plot: Annotated[Optional[Path], typer.Option(help="Where to write the PNG plot [default HOME/runs/RUN/heldout.png].")] = None,
    db: DbOpt = None,
    home: HomeOpt = None,
    threads: ThreadsOpt = None,
) -> None:
    """Build a tiny model, cold-start it, and improve it for a few rounds on the embedded task.

    Multi-digit addition with a <think> chain of thought; no GPU, no downloads. Prints a
    per-round table and writes a plot of held-out accuracy per round. The recipe is written
    to HOME/runs/RUN/recipe.yaml: an interrupted demo resumes with `selftaught run` on it.

    Example:  selftaught demo --method star --rounds 3
    """
    from selftaught.flows.context import RunContext
    from selftaught.flows.rounds import new_run_id
    from selftaught.recipe import Recipe, write_recipe

    db, home, threads = _settings(db, home, threads)
    recipe = Recipe(name=f"demo-{method}", method=method, rounds=rounds, seed=seed)
    _check_home(home, recipe.policy.init)
    run_id = new_run_id(recipe)
    run_dir = RunContext(run_id, recipe, db, home).run_dir()
    recipe_file = write_recipe(recipe, run_dir / "recipe.yaml")  # what `run --resume` reads
    clock = time.perf_counter()
    timings = _run(recipe, run_id, db, home, threads, fresh=True, recipe_file=recipe_file)
    wall = time.perf_counter() - clock
    rows = _print_rounds(db, run_id, timings)
    from selftaught.cli.plots import plot_heldout

    out = plot or run_dir / "heldout.png"
    plot_heldout(rows, out, title=f"{run_id} ({method})")
    first, last = rows[0], rows[-1]
    gain = (last.heldout_pass_at_1 - first.heldout_pass_at_1) * 100
    console.print(
        f"held-out sampled accuracy (pass@1): {first.heldout_pass_at_1:.1%} after cold start -> "
        f"{last.heldout_pass_at_1:.1%} after round {last.index} ([bold]{gain:+.1f} points[/]); "
        f"wall time {wall:.0f} s; plot {out}"
    )


@app.command()
def run(
    recipe_file: Annotated[Path, typer.Argument(metavar="RECIPE.yaml", help="The recipe to run.")],
    resume: Annotated[Optional[str], typer.Option(help="Continue this run id from its last completed stage.")] = None,
    run_id: Annotated[Optional[str], typer.Option("--run-id", help="Id for a new run [default: name-date-time].")] = None,
    force: Annotated[bool, typer.Option("--force", help=FORCE_HELP)] = False,
    retrain_from: Annotated[Optional[int], typer.Option("--retrain-from", min=0, metavar="N", help="With --resume: rebuild round N and every later round from round N-1's checkpoint, which must verify; the old rounds move to run RUN~superseded-K (docs/checkpoints.md).")] = None,
    db: DbOpt = None,
    home: HomeOpt = None,
    threads: ThreadsOpt = None,
) -> None:
    """Run (or resume) the rounds a recipe describes.

    The recipe is validated before anything runs; a bad key, type or path fails with file,
    line and reason. Resuming a run re-runs only the stages not marked done in the store;
    a round never starts from a checkpoint that fails its manifest check (SELFTAUGHT_VERIFY).
    One process works on a run at a time: resuming a run another live process works on is
    refused, naming it (a run whose process died on this machine resumes at once).

    Example:  selftaught run recipes/arithmetic-star.yaml
              selftaught run recipes/arithmetic-star.yaml --resume arithmetic-star-20261125-101500-0042
              selftaught run recipes/arithmetic-star.yaml --resume arithmetic-star-20261125-101500-0042 --retrain-from 2
    """
    from selftaught.errors import ConfigError
    from selftaught.flows.rounds import new_run_id
    from selftaught.loops.checkpoint import verify_mode
    from selftaught.recipe import load_recipe

    recipe = load_recipe(recipe_file)
    from selftaught.flows.context import check_task

    check_task(recipe)  # the problems load, before any run row or stage
    verify_mode()  # a bad SELFTAUGHT_VERIFY fails here, not at the first load
    if retrain_from is not None and resume is None:
        raise ConfigError("--retrain-from N rebuilds rounds of an existing run: give --resume RUN too")
    db, home, threads = _settings(db, home, threads)
    fresh = resume is None
    if force and fresh:
        raise ConfigError("--force: only with --resume RUN (it takes over a run another process works on)")
    if resume:
        stored = _store(db).get_run(resume)
        if stored is None:
            raise ConfigError(f"--resume: no run {resume!r} in {db}")
        from selftaught.store import RunStatus

        if stored.status is RunStatus.SUPERSEDED:
            raise ConfigError(f"--resume: run {resume!r} holds rounds that --retrain-from superseded; it is kept to be "
                              "read, not resumed")  # fmt: skip
        # a run stored by an older selftaught lacks keys added since: compare with their defaults
        from selftaught.recipe import recipe_from_dict

        try:
            started = recipe_from_dict(stored.recipe).model_dump(mode="json")
        except ConfigError:
            started = stored.recipe
        if started != recipe.model_dump(mode="json"):
            raise ConfigError(
                f"the recipe differs from the one run {resume!r} started with; start a new run instead",
                file=str(recipe_file),
            )
        run_id = resume
    elif run_id and _store(db).get_run(run_id) is not None:
        raise ConfigError(f"--run-id: run {run_id!r} already exists; use --resume {run_id}")
    run_id = run_id or new_run_id(recipe)
    _check_home(home, recipe.policy.init)
    held = _owned(db, run_id, fresh, force, home)  # refused here, in one line, before anything prints
    try:
        if retrain_from is not None:
            _supersede(run_id, retrain_from, db, home)
        if not fresh:  # a round never starts from a damaged or pruned checkpoint: one line, before Prefect
            from selftaught.flows.integrity import check_before_resume
            from selftaught.flows.prune import RunFolders

            check_before_resume(RunFolders(run_id, db, Path(home)), recipe.rounds)
    except BaseException:
        held.close()
        raise
    timings = _run(recipe, run_id, db, home, threads, fresh=fresh, recipe_file=recipe_file, held=held)
    _print_rounds(db, run_id, timings)


def _supersede(run_id: str, first: int, db: str, home: Path) -> None:
    """``--retrain-from``: move rounds ``first``.. aside so that the run rebuilds them."""
    from selftaught.flows.integrity import retrain_from
    from selftaught.flows.prune import RunFolders

    done = retrain_from(RunFolders(run_id, db, Path(home)), first)
    start = f"round {first - 1}'s checkpoint" if first else "a new cold start"
    err.print(escape(f"rounds {', '.join(map(str, done.rounds))} of {run_id} moved to run {done.archive_id} "
                     f"(`selftaught rounds {done.archive_id}`); rebuilding them from {start}"), highlight=False)


# ----------------------------------------------------------------------- history


@app.command()
def rounds(
    run_id: Annotated[Optional[str], typer.Argument(help="A run id; without it, list the runs.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON for scripts.")] = False,
    judge_version: JudgeVersionOpt = None,
    db: DbOpt = None,
) -> None:
    """Show a run's rounds (stages, samples, pass rate, held-out accuracy), or list runs.

    Example:  selftaught rounds            # the runs
              selftaught rounds demo-star-20261125-101500-0042
    """
    from selftaught.cli.tables import runs_table
    from selftaught.errors import StoreError

    db = _settings(db)[0]
    store = _store(db)
    if run_id is None:
        runs = store.list_runs()
        if as_json:
            print(json.dumps([r.as_dict() for r in runs], default=str, indent=1))
        else:
            console.print(runs_table(runs))
        return
    if store.get_run(run_id) is None:
        raise StoreError(f"no run {run_id!r} in {db}")
    if as_json:
        rows = store.round_table(run_id, judge_version=judge_version)
        print(json.dumps([r.as_dict() for r in rows], default=str, indent=1))
    else:
        _print_rounds(db, run_id, judge_version=judge_version)


@app.command()
def samples(
    run: Annotated[Optional[str], typer.Option(help="Run id.")] = None,
    round_index: Annotated[Optional[int], typer.Option("--round", min=0, help="Round index.")] = None,
    problem: Annotated[Optional[str], typer.Option(help="Problem id: a stored id, or a row's own id (every stored version, ID@HASH).")] = None,
    search: Annotated[Optional[str], typer.Option(help="Substring of the problem's prompt (case-insensitive).")] = None,
    outcome: Annotated[Optional[str], typer.Option(help="pass, fail, error or timeout.")] = None,
    judge: Annotated[Optional[str], typer.Option(help="Judge name.")] = None,
    min_score: Annotated[Optional[float], typer.Option("--min-score", help="Verdict score at least this.")] = None,
    max_score: Annotated[Optional[float], typer.Option("--max-score", help="Verdict score at most this.")] = None,
    source: Annotated[Optional[str], typer.Option(help="generate, rationalize, eval or rollout.")] = None,
    rationalized: Annotated[Optional[bool], typer.Option("--rationalized/--not-rationalized", help="Only STaR rationalizations, or none.")] = None,
    checkpoint: Annotated[Optional[str], typer.Option(help="Id of the checkpoint that produced them.")] = None,
    split: Annotated[Optional[str], typer.Option(help="Problem split: train or heldout.")] = None,
    text: Annotated[Optional[str], typer.Option(help="Substring of the completion (case-insensitive). 3+ characters use the store's trigram index (SQLite FTS5, PostgreSQL pg_trgm); shorter ones scan every completion (slow on a large store).")] = None,
    sort: Annotated[str, typer.Option(help="id, round, problem, score or created_at; prefix - for descending.")] = "id",
    limit: Annotated[int, typer.Option(min=0, help="At most this many rows (0 = all).")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON array, for scripts.")] = False,
    as_jsonl: Annotated[bool, typer.Option("--jsonl", help="One JSON object per line, for scripts and pipes.")] = False,
    judge_version: JudgeVersionOpt = None,
    db: DbOpt = None,
) -> None:
    """Query the sample history. Filters combine with AND; every value reaches SQL as a bound
    parameter. One row per (sample, verdict); unjudged samples show no outcome. Verdicts are
    those each round's judge wrote, or --judge-version's (`selftaught rejudge`).

    Example:  selftaught samples --run demo-star-... --round 2 --outcome fail --limit 5
              selftaught samples --search "23+45" --sort -score --jsonl
              selftaught samples --judge arithmetic --min-score 0.5 --max-score 1 --json
    """
    from selftaught.cli.tables import samples_table
    from selftaught.errors import ConfigError
    from selftaught.records import Outcome, SampleSource, Split

    if as_json and as_jsonl:
        raise ConfigError("choose one of --json and --jsonl")
    try:
        outcome_v = Outcome(outcome) if outcome else None
        source_v = SampleSource(source) if source else None
        split_v = Split(split) if split else None
    except ValueError as e:
        raise ConfigError(str(e)) from None
    rows = _store(_settings(db)[0]).query_samples(
        run_id=run, round_index=round_index, problem=problem, outcome=outcome_v, judge=judge,
        source=source_v, rationalized=rationalized, checkpoint_id=checkpoint, min_score=min_score,
        max_score=max_score, text=text, problem_text=search, split=split_v, judge_version=judge_version, order_by=sort,
        limit=limit or None,
    )
    if as_json:
        print(json.dumps([r.as_dict() for r in rows], default=str, indent=1))
    elif as_jsonl:
        out = sys.stdout
        for row in rows:
            out.write(json.dumps(row.as_dict(), default=str) + "\n")
    else:
        console.print(samples_table(rows))


@app.command("eval")
def eval_(
    checkpoint: Annotated[str, typer.Option(help="A saved model folder, or a checkpoint id of the store (RUN/r3; its folder under HOME).")],
    problems: Annotated[Path, typer.Option(help="JSONL: one {id, prompt, answer} per line.")],
    k: Annotated[int, typer.Option(min=1, help="Samples per problem for pass@1, pass@k, maj@k.")] = 8,
    temperature: Annotated[Optional[float], typer.Option(min=1e-6, help="Sampling temperature (> 0) (default: the model profile's).")] = None,
    max_new_tokens: Annotated[Optional[int], typer.Option(min=1, help="Tokens per completion (default: the model profile's).")] = None,
    seed: Annotated[int, typer.Option(help="Sampling seed.")] = 0,
    judge: Annotated[str, typer.Option(help="Verifier name: arithmetic or math.")] = "arithmetic",
    prompt_format: Annotated[str, typer.Option("--format", help="auto, raw or chat (the tokenizer's chat template).")] = "auto",
    answer_format: Annotated[str, typer.Option("--answer-format", help="auto, think, boxed, answer_is or free.")] = "auto",
    instruction: Annotated[Optional[str], typer.Option(help="Appended to the user turn (default: the answer format's).")] = None,
    system: Annotated[Optional[str], typer.Option(help="System message (chat).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON for scripts.")] = False,
    db: DbOpt = None,
    home: HomeOpt = None,
    threads: ThreadsOpt = None,
) -> None:
    """Greedy accuracy, pass@1, pass@k and maj@k of any checkpoint on any problem file.

    Prompts are shown the way a recipe with the same settings shows them: an instruct model
    (its tokenizer has a chat template) gets its template and the answer-format instruction,
    and only that format is judged; the embedded tiny model gets the raw prompt.

    Example:  selftaught eval --checkpoint selftaught-home/runs/RUN/round-003 --problems heldout.jsonl
              selftaught eval --checkpoint models/smollm2 --problems heldout.jsonl --judge math --k 4
              selftaught eval --checkpoint RUN/r3 --problems heldout.jsonl    # by id, from any directory
    """
    from selftaught.loops.arithmetic import load_problems_jsonl
    from selftaught.loops.evaluate import evaluate
    from selftaught.loops.checkpoint import verify_for_load
    from selftaught.loops.policy import load_policy
    from selftaught.recipe import Recipe

    threads = _settings(threads=threads)[2]
    probs = load_problems_jsonl(problems)
    folder, name = _checkpoint_folder(checkpoint, db, home)
    verify_for_load(folder)  # a damaged checkpoint: one line, before anything loads
    prompt: dict = {"format": prompt_format, "answer_format": answer_format, "system": system}
    if instruction is not None:
        prompt["instruction"] = instruction or None
    try:
        recipe = Recipe.model_validate({"judge": judge, "policy": {"init": str(folder.resolve())}, "prompt": prompt})
    except ValueError as e:  # pydantic's ValidationError: one line per the CLI's rule
        from selftaught.errors import ConfigError

        first = e.errors()[0] if hasattr(e, "errors") else {"loc": (), "msg": str(e)}
        raise ConfigError(f"{'.'.join(map(str, first['loc']))}: {first['msg'].removeprefix('Value error, ')}") from None
    from selftaught.flows.context import RunContext

    ctx = RunContext(run_id="eval", recipe=recipe, db_url="", home=Path("."))
    policy = load_policy(folder, threads=threads)
    from selftaught.loops.prompting import tokenizer_of

    ev, _, _ = evaluate(
        policy, probs, k=k, seed=seed, checkpoint_id=name,
        temperature=recipe.evaluate.temperature if temperature is None else temperature,
        judge_fn=ctx.judge_fn(), max_new_tokens=max_new_tokens or recipe.generate.max_new_tokens,
        prompts=ctx.style.render_all(probs, tokenizer_of(policy)), answer_fn=ctx.answer_fn(),
        batch_size=recipe.generate.batch_size,
    )
    result = {
        "checkpoint": name, "problems": str(problems), "n_problems": ev.n_problems, "k": ev.k,
        "prompt": recipe.prompt.format, "answer_format": recipe.prompt.answer_format, "strict": recipe.prompt.strict,
        "greedy_accuracy": ev.greedy_accuracy, "pass_at_1": ev.pass_at_1,
        f"pass_at_{k}": ev.pass_at_k, f"maj_at_{k}": ev.maj_at_k,
    }
    if as_json:
        print(json.dumps(result, indent=1))
    else:
        for key, value in result.items():
            console.print(f"{key:>16}: {value:.3f}" if isinstance(value, float) else f"{key:>16}: {value}")


# ----------------------------------------------------------------------- db


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head", db: DbOpt = None) -> None:
    """Create or migrate the store's tables up to REVISION.

    Example:  SELFTAUGHT_DB_URL=postgresql+psycopg://me@db/selftaught selftaught db upgrade
    """
    from selftaught.store import migrations

    url = _settings(db)[0]
    migrations.upgrade(url, revision)
    console.print(f"{_safe(url)}: at revision {migrations.current(url)}")


@db_app.command("current")
def db_current(db: DbOpt = None) -> None:
    """Print the store's schema revision (and the newest this selftaught knows).

    Example:  selftaught db current --db sqlite:///selftaught.db
    """
    from selftaught.store import migrations

    url = _settings(db)[0]
    cur = migrations.current(url)
    head = migrations.head()
    state = "up to date" if cur == head else ("empty: run `selftaught db upgrade`" if cur is None else f"behind head {head}")
    console.print(f"{_safe(url)}: {cur or '(none)'} ({state})")


def _safe(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


# ----------------------------------------------------------------------- plug-ins


def _register_optional() -> None:
    """Commands that live beside their feature (judges, constitutions, ...)."""
    import importlib

    for name in ("verify_cmd", "constitution_cmd", "schedule_cmd", "history_cmd", "report_cmd", "cai_cmd", "prm_cmd",
                 "search_cmd", "checkpoints_cmd", "model_cmd", "compare_cmd", "rejudge_cmd"):
        try:
            module = importlib.import_module(f"selftaught.cli.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"selftaught.cli.{name}":
                raise
            continue
        module.register(app)


_register_optional()


def main() -> None:
    """Entry point: known errors become one line and exit code 2."""
    try:  # typer vendors its own copy of click since 0.2x
        from typer._click import exceptions as click_errors
    except ImportError:  # pragma: no cover - older typer
        from click import exceptions as click_errors

    _quiet_prefect()  # before anything imports prefect
    try:
        code = app(standalone_mode=False)  # click returns typer.Exit's code instead of exiting
        sys.exit(code if isinstance(code, int) else 0)
    except click_errors.NoArgsIsHelpError as e:  # `selftaught prm`: the group's help
        from typer import rich_utils

        rich_utils.rich_format_error(e)
        sys.exit(e.exit_code)
    except click_errors.UsageError as e:  # a bad option value or a missing argument: one line, not a box
        where = f"{e.ctx.command_path}: " if e.ctx else ""
        hint = f" (see {e.ctx.command_path} --help)" if e.ctx else ""
        err.print(f"[red]error:[/] {escape(where + e.format_message())}{escape(hint)}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except (typer.Abort, KeyboardInterrupt):  # Ctrl-C outside a run (click turns it into Abort)
        err.print("interrupted")
        sys.exit(130)
    except SelftaughtError as e:
        err.print(f"[red]error:[/] {escape(str(e))}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except OSError as e:  # a full disk, a folder that vanished: the reason and the path, one line
        if os.environ.get("SELFTAUGHT_TRACEBACK"):
            raise
        where = ": ".join(str(f) for f in (e.filename, e.filename2) if f)
        err.print(f"[red]error:[/] {escape(e.strerror or str(e))}{': ' + escape(where) if where else ''}",
                  highlight=False, soft_wrap=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
