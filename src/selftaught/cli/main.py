"""The ``selftaught`` command.

Start-up is cheap: torch, transformers, Prefect and SQLAlchemy are imported inside the
commands that need them, so ``selftaught --help`` and ``selftaught --version`` answer at
once. Every command takes ``-h``/``--help``; ``--help`` shows each option's environment
variable and default.

Exit codes (tested for every command by ``tests/cli/test_conventions.py``):

* 0: done.
* 1: the command ran and failed: a file, run or checkpoint that does not exist or is
  damaged, a recipe or constitution that does not validate, a full disk, no server.
  Every error selftaught raises on purpose (``SelftaughtError``) and every ``OSError`` (the
  reason and the path; ``SELFTAUGHT_TRACEBACK=1`` shows its traceback) ends here. A few
  commands also exit 1 to answer a question: ``verify`` (a bad input line),
  ``checkpoint verify`` (a damaged checkpoint), ``constitution diff --exit-code``.
* 2: the command line is wrong: an unknown command or option, a missing argument, a value
  of the wrong type or outside its choices, options that cannot go together (``usage`` in
  ``cli/options.py``). Nothing has run.
* 130 / 143: Ctrl-C / SIGTERM. During ``run``/``demo``/``cai`` one line says how to resume
  (``cli/interrupts.py``).

Every error is one ``error: ...`` line on stderr, never a traceback.

The options and helpers every command shares live in ``cli/options.py``; the other commands
live beside their feature in ``cli/*_cmd.py`` and are registered below. A command parses its
arguments and makes one call into ``flows/`` or ``service/`` (``docs/architecture.md``).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from contextlib import ExitStack
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.markup import escape

from selftaught.cli.options import (
    FORCE_HELP, DbOpt, HomeOpt, JudgeVersionOpt, ThreadsOpt, check_home, checkpoint_folder, console, err,
    own_run, print_rounds, quiet_prefect, resolve, resume_command, run_flow_here, store_at, usage,
)  # fmt: skip
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
    context_settings={"help_option_names": ["-h", "--help"]},  # inherited by every sub-command
)

#: the packages ``--version`` names after selftaught itself (read without importing them)
VERSION_OF = ("torch", "transformers", "trl", "prefect", "sqlalchemy")


def version_lines() -> list[str]:
    """``selftaught X.Y.Z``, then Python's and the main libraries' versions, one a line."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    def of(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "not installed"

    width = max(map(len, VERSION_OF))
    return [f"selftaught {of('selftaught')}", f"{'python':<{width}}  {platform.python_version()}",
            *(f"{name:<{width}}  {of(name)}" for name in VERSION_OF)]  # fmt: skip


def _print_version(given: bool) -> None:
    if given:
        for line in version_lines():
            typer.echo(line)
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", is_eager=True, callback=_print_version,
                                          help="Print selftaught's version (and its main libraries') and exit.")] = False,
) -> None:  # fmt: skip
    """Self-improvement rounds for language models."""

# the names the `run` body below uses (issue 16 reworks that body in parallel; new code
# calls the options module's names)
_settings, _store, _check_home, _owned, _print_rounds = resolve, store_at, check_home, own_run, print_rounds


# ----------------------------------------------------------------------- run / demo


def _run(recipe, run_id: str, db: str, home: Path, threads: int, fresh: bool, recipe_file: Path,
         held: ExitStack | None = None) -> list[dict]:
    from selftaught.flows.rounds import run_flow

    verb = "starting" if fresh else "resuming"
    err.print(f"[bold]{verb} run[/] {run_id}  (store {db}, home {home})")
    resume = resume_command("run", recipe_file, run_id, db, home)
    return run_flow_here(lambda: run_flow(run_id, recipe.model_dump(mode="json"), db, str(home), threads), resume, held)


@app.command()
def demo(
    method: Annotated[str, typer.Option(help="rft or star (STaR adds rationalization).")] = "star",
    rounds: Annotated[int, typer.Option(min=1, help="Rounds after the cold start.")] = 3,
    seed: Annotated[int, typer.Option(help="Seeds problems, model, sampling and training.")] = 0,
    plot: Annotated[Optional[Path], typer.Option(show_default="HOME/runs/RUN/heldout.png", help="Where to write the PNG plot.")] = None,
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

    db, home, threads = resolve(db, home, threads)
    recipe = Recipe(name=f"demo-{method}", method=method, rounds=rounds, seed=seed)
    check_home(home, recipe.policy.init)
    run_id = new_run_id(recipe)
    run_dir = RunContext(run_id, recipe, db, home).run_dir()
    recipe_file = write_recipe(recipe, run_dir / "recipe.yaml")  # what `run --resume` reads
    clock = time.perf_counter()
    timings = _run(recipe, run_id, db, home, threads, fresh=True, recipe_file=recipe_file)
    wall = time.perf_counter() - clock
    rows = print_rounds(db, run_id, timings)
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
    run_id: Annotated[Optional[str], typer.Option("--run-id", show_default="name-date-time", help="Id for a new run.")] = None,
    force: Annotated[bool, typer.Option("--force", help=FORCE_HELP)] = False,
    retrain_from: Annotated[Optional[int], typer.Option("--retrain-from", min=0, metavar="N", help="With --resume: rebuild round N and every later round from round N-1's checkpoint, which must verify; the old rounds move to run RUN~superseded-K (docs/checkpoints.md).")] = None,
    db: DbOpt = None,
    home: HomeOpt = None,
    threads: ThreadsOpt = None,
) -> None:
    """Run (or resume) the rounds a recipe describes.

    The recipe is validated before anything runs; a bad key, type or path fails with file,
    line and reason. Resuming a run re-runs only the stages not marked done in the store (to
    add rounds, raise `rounds:` in the recipe and resume);
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

    if retrain_from is not None and resume is None:  # usage errors first: nothing has run
        usage("--retrain-from N rebuilds rounds of an existing run: give --resume RUN too")
    if force and resume is None:
        usage("--force: only with --resume RUN (it takes over a run another process works on)")
    recipe = load_recipe(recipe_file)
    from selftaught.flows.context import check_task

    check_task(recipe)  # the problems load, before any run row or stage
    verify_mode()  # a bad SELFTAUGHT_VERIFY fails here, not at the first load
    db, home, threads = _settings(db, home, threads)
    fresh = resume is None
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
        now = recipe.model_dump(mode="json")
        if not (started.get("stages") or now.get("stages")):  # more rounds (`rounds:` raised) resume the run
            started, now = {**started, "rounds": None}, {**now, "rounds": None}
        if started != now:
            raise ConfigError(
                f"the recipe differs from the one run {resume!r} started with (other than rounds:); start a new run instead",
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


@app.command("cai")
def cai(
    recipe_file: Annotated[Path, typer.Argument(metavar="RECIPE.yaml", help="The CAI recipe (see recipes/cai-smollm2.yaml).")],
    resume: Annotated[Optional[str], typer.Option(help="Continue this run id (its stages marked done are skipped).")] = None,
    run_id: Annotated[Optional[str], typer.Option("--run-id", show_default="name-date-time", help="Id for a new run.")] = None,
    force: Annotated[bool, typer.Option("--force", help=FORCE_HELP)] = False,
    db: DbOpt = None,
    home: HomeOpt = None,
    threads: ThreadsOpt = None,
) -> None:
    """Run (or resume) Constitutional AI rounds: `selftaught run` under another name.

    SL (critique -> revise -> SFT) or RL (AI-feedback pairs -> DPO), then the held-out
    violation rate.

    The constitution file is read again at the start of every round: edit it between rounds
    (`selftaught constitution edit FILE`) and the next round follows it; `selftaught rounds
    RUN` shows each round's constitution hash. To add rounds to a run, raise `rounds:` in the
    recipe and resume; any other change to the recipe needs a new run.

    Example:  selftaught cai recipes/cai-smollm2.yaml
              selftaught cai recipes/cai-smollm2.yaml --resume cai-smollm2-20261125-101500-0042
    """
    run(recipe_file, resume=resume, run_id=run_id, force=force, retrain_from=None, db=db, home=home, threads=threads)
    err.print("greedy/pass@1 = share of held-out answers with no violation of the checked principles")


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

    db = resolve(db)[0]
    store = store_at(db)
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
        print_rounds(db, run_id, judge_version=judge_version)


@app.command()
def samples(
    run: Annotated[Optional[str], typer.Option(help="Run id.")] = None,
    round_index: Annotated[Optional[int], typer.Option("--round", min=0, help="Round index.")] = None,
    problem: Annotated[Optional[str], typer.Option(help="Problem id: a stored id, or a row's own id (every stored version, ID@HASH).")] = None,
    prompt_contains: Annotated[Optional[str], typer.Option("--prompt-contains", metavar="TEXT", help="Substring of the problem's prompt (case-insensitive).")] = None,
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
    """Query the sample history: one row per (sample, verdict), and how many matched.

    Filters combine with AND; every value reaches SQL as a bound parameter. Unjudged samples
    show no outcome. Verdicts are those each round's judge wrote, or --judge-version's
    (`selftaught rejudge`). The table's title says how many rows the filters match ("20 of
    14,936 samples"); --limit 0 shows them all.

    Example:  selftaught samples --run demo-star-... --round 2 --outcome fail --limit 5
              selftaught samples --prompt-contains "23+45" --sort -score --jsonl
              selftaught samples --judge arithmetic --min-score 0.5 --max-score 1 --json
    """
    from selftaught.cli.tables import samples_table
    from selftaught.records import Outcome, SampleSource, Split

    from selftaught.store import QUERY_ORDERS

    if as_json and as_jsonl:
        usage("choose one of --json and --jsonl")
    if sort.removeprefix("-") not in QUERY_ORDERS:
        usage(f"cannot order samples by {sort!r}; choose one of {sorted(QUERY_ORDERS)} (prefix - for descending)")
    try:
        outcome_v = Outcome(outcome) if outcome else None
        source_v = SampleSource(source) if source else None
        split_v = Split(split) if split else None
    except ValueError as e:
        usage(str(e))
    store = store_at(resolve(db)[0])
    filters = dict(
        run_id=run, round_index=round_index, problem=problem, outcome=outcome_v, judge=judge,
        source=source_v, rationalized=rationalized, checkpoint_id=checkpoint, min_score=min_score,
        max_score=max_score, text=text, problem_text=prompt_contains, split=split_v, judge_version=judge_version,
    )  # fmt: skip
    rows = store.query_samples(**filters, order_by=sort, limit=limit or None)
    if as_json:
        print(json.dumps([r.as_dict() for r in rows], default=str, indent=1))
    elif as_jsonl:
        out = sys.stdout
        for row in rows:
            out.write(json.dumps(row.as_dict(), default=str) + "\n")
    else:
        matched = store.count_samples(**filters) if limit and len(rows) == limit else len(rows)
        console.print(samples_table(rows, title=f"{len(rows):,} of {matched:,} samples" if matched > len(rows)
                                    else f"{matched:,} samples"))  # fmt: skip


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
    from selftaught.cli.progress import reporting
    from selftaught.loops.arithmetic import load_problems_jsonl
    from selftaught.service.evaluate import evaluate_checkpoint

    threads = resolve(threads=threads)[2]
    probs = load_problems_jsonl(problems)
    folder, name = checkpoint_folder(checkpoint, db, home)
    prompt: dict = {"format": prompt_format, "answer_format": answer_format, "system": system}
    if instruction is not None:
        prompt["instruction"] = instruction or None
    with reporting(err):
        result = evaluate_checkpoint(folder, name, probs, problems, judge=judge, prompt=prompt, k=k, seed=seed,
                                     temperature=temperature, max_new_tokens=max_new_tokens,
                                     threads=threads)  # fmt: skip
    if as_json:
        print(json.dumps(result, indent=1))
    else:
        for key, value in result.items():
            console.print(f"{key:>16}: {value:.3f}" if isinstance(value, float) else f"{key:>16}: {value}")


# ----------------------------------------------------------------------- plug-ins


def _register_optional() -> None:
    """Commands that live beside their feature (judges, constitutions, ...)."""
    import importlib

    for name in ("verify_cmd", "constitution_cmd", "schedule_cmd", "history_cmd", "report_cmd", "prm_cmd",
                 "search_cmd", "db_cmd", "checkpoints_cmd", "model_cmd", "compare_cmd", "rejudge_cmd", "recipe_cmd"):
        try:
            module = importlib.import_module(f"selftaught.cli.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"selftaught.cli.{name}":
                raise
            continue
        module.register(app)


_register_optional()


def _reflow(doc: str) -> str:
    r"""A docstring's prose paragraphs on one line each, so the terminal wraps them (Rich help
    keeps a docstring's line breaks: a paragraph wrapped at 90 columns printed ragged at 80).
    Examples (``Example:``, indented lines) and lists keep their lines.

    >>> _reflow("One\nline.\n\nTwo\nlines.\n\nExample:  a\n          b")
    'One line.\n\nTwo lines.\n\nExample:  a\n          b'
    """
    paragraphs = []
    for paragraph in doc.split("\n\n"):
        lines = paragraph.split("\n")
        keep = any(line.startswith((" ", "Example")) or line.lstrip().startswith(("- ", "* ")) for line in lines)
        paragraphs.append(paragraph if keep else " ".join(line.strip() for line in lines))
    return "\n\n".join(paragraphs)


def _one_line_summaries(group: typer.Typer) -> None:
    """A command list shows each command's first paragraph, and its help the whole docstring,
    both reflowed (``_reflow``)."""
    import inspect

    for info in group.registered_commands:
        doc = info.help or inspect.getdoc(info.callback) or ""
        info.help = _reflow(doc)
        info.short_help = info.short_help or info.help.split("\n\n")[0]
    for sub in group.registered_groups:
        _one_line_summaries(sub.typer_instance)


_one_line_summaries(app)


def main() -> None:
    """Entry point: every error becomes one ``error:`` line; exit 2 for a usage error, 1 for
    a runtime error (the module docstring)."""
    from typer._click import exceptions as click_errors

    quiet_prefect()  # before anything imports prefect
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
        _error(where + e.format_message() + hint, 2)
    except (typer.Abort, KeyboardInterrupt):  # Ctrl-C outside a run (click turns it into Abort)
        err.print("interrupted")
        sys.exit(130)
    except SelftaughtError as e:
        _error(str(e), 1)
    except OSError as e:  # a full disk, a folder that vanished: the reason and the path, one line
        if os.environ.get("SELFTAUGHT_TRACEBACK"):
            raise
        where = ": ".join(str(f) for f in (e.filename, e.filename2) if f)
        _error((e.strerror or str(e)) + (f": {where}" if where else ""), 1)


def _error(message: str, code: int) -> None:
    err.print(f"[red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    sys.exit(code)


if __name__ == "__main__":
    main()
