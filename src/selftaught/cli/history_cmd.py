"""``selftaught problem``, ``export`` and ``import``: the sample history as people and datasets use it.

    selftaught problem add-0042                       # one problem across rounds
    selftaught export sft.jsonl --run R --round 3     # passing samples as TRL prompt/completion
    selftaught export prefs.parquet --kind preference # pairs of a passing and a failing sample
    selftaught export ds/ --kind messages --run R     # a DatasetDict + the chat template
    selftaught import gsm.parquet --map prompt=question --map answer=final --id-prefix gsm-
    selftaught import gsm8k_train.jsonl --preset gsm8k --heldout 40 --out data/

Each command checks its options, makes one call, and prints what came back: ``problem``
reads ``Store.problem_history``; ``export`` calls ``service/export.py`` (the dataset kinds,
formats and the preference pairs are described there); ``import`` calls
``service/problems.py`` (content-scoped ids, presets, ``--heldout``).

By default only training-split problems are exported (``--split all`` to include held-out
ones: training on held-out problems would void the evaluation). An output extension other
than ``.jsonl``, ``.parquet`` or a folder is an error, as is a ``--run`` the store does not
hold (exit code 1): nothing is written then. ``datasets`` and ``pyarrow`` are imported only
by these commands. ``selftaught problem NAME`` shows every stored version of an imported row.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from selftaught.cli.options import HomeOpt, JudgeVersionOpt, StoreUrlOpt
from selftaught.errors import ConfigError

# ------------------------------------------------------------------------------ export


def export(
    out: Annotated[str, typer.Argument(help="Output: FILE.jsonl, FILE.parquet, or a folder DIR/ (DatasetDict).")],
    kind: Annotated[str, typer.Option(help="sft, messages, preference or prompt.")] = "sft",
    fmt: Annotated[Optional[str], typer.Option("--format", show_default="from OUT's suffix", help="jsonl, parquet or hf.")] = None,
    run: Annotated[Optional[str], typer.Option(help="Run id.")] = None,
    round_index: Annotated[Optional[int], typer.Option("--round", min=0, help="Round index.")] = None,
    problem: Annotated[Optional[str], typer.Option(help="Problem id (a row's own id: every stored version, ID@HASH).")] = None,
    prompt_contains: Annotated[Optional[str], typer.Option("--prompt-contains", metavar="TEXT", help="Substring of the problem's prompt (case-insensitive).")] = None,
    judge: Annotated[Optional[str], typer.Option(help="Only this judge's verdicts count.")] = None,
    source: Annotated[Optional[str], typer.Option(help="generate, rationalize, eval or rollout.")] = None,
    rationalized: Annotated[Optional[bool], typer.Option("--rationalized/--not-rationalized", help="Only STaR rationalizations, or none.")] = None,
    checkpoint: Annotated[Optional[str], typer.Option(help="Checkpoint that produced the samples.")] = None,
    split: Annotated[str, typer.Option(help="train, heldout or all (problems' split).")] = "train",
    pairs_per_problem: Annotated[int, typer.Option("--pairs-per-problem", min=1, help="preference: pairs per problem and round.")] = 1,
    with_meta: Annotated[bool, typer.Option("--with-meta", help="Add problem_id, run, round, sample ids.")] = False,
    trained: Annotated[bool, typer.Option("--trained", help="Exactly the rows round --round of --run trained on, in order.")] = False,
    db: StoreUrlOpt = None,
    home: HomeOpt = None,
) -> None:
    """Export samples as a TRL-format dataset: a round's, or whatever the filters select.

    Example:  selftaught export round3-sft.jsonl --run RUN --round 3
              selftaught export prefs.parquet --kind preference --run RUN
              selftaught export prompts/ --kind prompt --split all    # DatasetDict (train, test)
              selftaught export r3-trained.jsonl --trained --run RUN --round 3
    """
    from selftaught.cli.options import console, err, fail, resolve, store_at, usage
    from selftaught.cli.progress import reporting
    from selftaught.service.export import KINDS, export_dataset, export_trained, format_of

    try:
        fmt = format_of(out, fmt)  # OUT's extension or --format: part of the command line
    except ConfigError as e:
        usage(e.reason)
    if kind not in KINDS:
        usage(f"--kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if split not in ("train", "heldout", "all"):
        usage(f"--split must be train, heldout or all, not {split!r}")
    db, home, _ = resolve(db, home)
    store = store_at(db, home)
    if run is not None and store.get_run(run) is None:  # exit 1, nothing written (issue 15)
        fail(f"no run {run!r} in {db}")
    if trained:
        if run is None or round_index is None:
            usage("--trained needs --run and --round: the rows one round's checkpoint trained on")
        done = export_trained(store, run, round_index, Path(out), fmt)
        console.print(f"wrote {done.n_rows} {done.method} rows round {round_index} trained on to {out} "
                      f"(sha256 {done.sha256[:12]})", highlight=False)  # fmt: skip
        return
    with reporting(err):
        done = export_dataset(store, Path(out), fmt, kind, run=run, round_index=round_index, problem=problem,
                              prompt_contains=prompt_contains, judge=judge, source=source, rationalized=rationalized,
                              checkpoint=checkpoint, split=split, pairs_per_problem=pairs_per_problem,
                              with_meta=with_meta)  # fmt: skip
    detail = ", ".join(f"{k} {v}" for k, v in done.counts.items()) or "no rows"
    console.print(f"wrote {done.n_rows} {kind} rows to {out} ({fmt}: {detail})")
    if done.template is not None:
        console.print(f"chat template: {done.template} (TRL: SFTConfig(chat_template_path=...))", highlight=False)


# ------------------------------------------------------------------------------ import


def import_(
    source: Annotated[Path, typer.Argument(metavar="FILE", help="JSONL, Parquet, or a folder saved by datasets.")],
    mapping: Annotated[Optional[list[str]], typer.Option("--map", help="FIELD=COLUMN (fields: id, prompt, answer, solution, split, tests, choices, keywords); repeatable.")] = None,
    preset: Annotated[Optional[str], typer.Option(help="A dataset's own row layout instead of --map: gsm8k (prompt = question; answer = after the last '####', commas dropped; solution = the rationale without <<...>> annotations; ids gsm8k-ROW unless the rows have one).")] = None,
    fmt: Annotated[Optional[str], typer.Option("--format", show_default="from the path", help="jsonl, parquet or hf.")] = None,
    split: Annotated[Optional[str], typer.Option(help="Put every problem in this split (train or heldout).")] = None,
    heldout: Annotated[Optional[int], typer.Option("--heldout", min=1, metavar="N", help="Put N problems in the heldout split and the rest in train: the N whose ids have the smallest sha256 (the same N each time the same rows are imported).")] = None,
    hf_split: Annotated[Optional[str], typer.Option("--hf-split", help="Only this split of a saved DatasetDict.")] = None,
    id_prefix: Annotated[Optional[str], typer.Option("--id-prefix", help="Rows with no id get PREFIX + row number (with --preset: the preset's prefix unless given, e.g. gsm8k-).")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", help="Also write the good problems as task files: FILE.jsonl (one file), or a folder DIR (DIR/train.jsonl and DIR/heldout.jsonl, for `task: {kind: file}`).")] = None,
    db: StoreUrlOpt = None,
) -> None:
    """Load problems into the store from JSONL, Parquet or a saved HF dataset, mapping columns
    to fields. Bad rows are reported with their line (or row) number and skipped; the good
    ones are kept. Exit code 1 only if no row was usable.

    Each problem is stored as NAME@HASH (its id and a hash of its content), so a changed
    row is a new problem next to the old one; `selftaught problem NAME` shows both.

    Example:  selftaught import problems.jsonl
              selftaught import gsm8k.parquet --map prompt=question --map answer=final --id-prefix gsm-
              selftaught import saved_ds/ --hf-split test --split heldout --map id=uid
              selftaught import gsm8k_train.jsonl --preset gsm8k --heldout 40 --out data/
              # then, in the recipe:
              # task: {kind: file, train: data/train.jsonl, heldout: data/heldout.jsonl}
    """
    from selftaught.cli.options import console, err, fail, resolve, usage
    from selftaught.cli.progress import reporting
    from selftaught.service.problems import PRESETS, import_problems, write_task_files

    if not source.exists():
        raise ConfigError("file not found", file=str(source))
    if split is not None and split not in ("train", "heldout"):
        usage(f"--split must be train or heldout, not {split!r}")
    if split is not None and heldout is not None:
        usage("choose one of --split and --heldout")
    if preset is not None and preset not in PRESETS:
        usage(f"--preset must be one of {', '.join(PRESETS)}, not {preset!r}")
    if preset is not None and mapping:
        usage("--preset reads the dataset's own columns: leave out --map")
    kind = fmt or ("jsonl" if source.suffix.lower() in (".jsonl", ".json") else
                   "parquet" if source.suffix.lower() == ".parquet" else "hf")  # fmt: skip
    if kind not in ("jsonl", "parquet", "hf"):
        usage(f"--format must be jsonl, parquet or hf, not {kind!r}")
    with reporting(err):
        done = import_problems(resolve(db)[0], source, kind, mapping=mapping or [], preset=preset, split=split,
                               heldout=heldout, hf_split=hf_split, id_prefix=id_prefix)  # fmt: skip
    problems, bad, new = done.problems, done.rejected, done.new
    for line in bad[:20]:
        err.print(f"rejected {source}: {line}", highlight=False, soft_wrap=True)
    if len(bad) > 20:
        err.print(f"... and {len(bad) - 20} more rejected rows")
    console.print(f"imported {len(problems)} problems from {source} ({new} new, {len(problems) - new} already stored); "
                  f"rejected {len(bad)}")  # fmt: skip
    if out is not None:
        for path, n in write_task_files(problems, out).items():
            console.print(f"wrote {n} problems to {path}", highlight=False)
    if not problems and bad:
        fail(f"no usable row in {source}")


# ------------------------------------------------------------------------------ problem


def problem(
    problem_id: Annotated[str, typer.Argument(metavar="ID", help="The problem id: a stored id, or a row's own id (every stored version, ID@HASH).")],
    run: Annotated[Optional[str], typer.Option(help="Only this run.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON for scripts: a list, one object per stored version.")] = False,
    judge_version: JudgeVersionOpt = None,
    db: StoreUrlOpt = None,
) -> None:
    """One problem across rounds: pass rate per round, first round solved, best and latest samples.
    A row imported (or read by a file task) again with changed content is another version,
    stored as ID@HASH: each version is shown under its own header.

    Example:  selftaught problem add-0042
              selftaught problem add-0042 --run demo-star-20261125-101500-0042 --json
              selftaught problem gsm8k-17      # every stored version of the row gsm8k-17
    """
    from rich.table import Table

    from selftaught.cli.options import console, resolve, store_at
    from selftaught.cli.tables import samples_table
    from selftaught.errors import StoreError

    versions = store_at(resolve(db)[0]).problem_history(problem_id, run_id=run, judge_version=judge_version)
    if not versions:
        raise StoreError(f"no problem {problem_id!r} in the store")
    if as_json:
        print(json.dumps([v.as_dict() for v in versions], default=str, indent=1))
        return
    if len(versions) > 1:
        console.print(f"{len(versions)} versions of {problem_id!r} (a changed row is a new problem):")
    for history in versions:
        console.print(f"[bold]{history.problem_id}[/] ({history.split}): {history.prompt!r}  answer {history.answer!r}")
        first = history.first_solved
        console.print("first solved: " + (f"run {first.run} round {first.round}" if first else "never"))
        t = Table(title="pass rate per round")
        for col in ("run", "round", "source", "judged", "passed", "pass rate"):
            t.add_column(col, justify="right")
        for r in history.rounds:
            rate = "-" if r.pass_rate is None else f"{r.pass_rate:.0%}"
            t.add_row(r.run, str(r.round), r.source, str(r.n_judged), str(r.n_pass), rate)
        console.print(t)
        console.print(samples_table(history.best, title=f"best {len(history.best)} samples (highest score)"),
                      samples_table(history.latest, title=f"latest {len(history.latest)} samples (newest first)"))  # fmt: skip


def register(app: typer.Typer) -> None:
    app.command("problem")(problem)
    app.command("export")(export)
    app.command("import")(import_)
