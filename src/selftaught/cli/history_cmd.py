"""``selftaught problem``, ``export`` and ``import``: the sample history as people and datasets use it.

    selftaught problem add-0042                       # one problem across rounds
    selftaught export sft.jsonl --run R --round 3     # passing samples as TRL prompt/completion
    selftaught export prefs.parquet --kind preference # pairs of a passing and a failing sample
    selftaught export ds/ --kind messages             # a datasets.DatasetDict on disk
    selftaught import gsm.parquet --map prompt=question --map answer=final --id-prefix gsm-

Export formats follow TRL's dataset conventions:

* ``sft``: ``prompt`` / ``completion`` (standard, SFTTrainer's prompt-completion format);
* ``messages``: ``messages`` = [user prompt, assistant completion] (conversational);
* ``preference``: ``prompt`` / ``chosen`` / ``rejected`` (DPOTrainer), pairing a passing and
  a non-passing sample of the same problem from the same round (same policy);
* ``prompt``: ``prompt`` plus ``answer`` and ``problem_id`` (prompt-only, GRPO/RLOO: extra
  columns reach the reward functions as keyword arguments).

The prompt is always the problem's own prompt (as the curate stage trains on), never the
hinted prompt a STaR rationalization was sampled from. A sample passes when every verdict
on it passes. By default only training-split problems are exported (``--split all`` to
include held-out ones: training on held-out problems would void the evaluation).

The file format comes from the output path: ``.jsonl``, ``.parquet``, otherwise a folder
written with ``DatasetDict.save_to_disk`` (splits ``train`` and ``test``, from the
problems' split). ``datasets`` and ``pyarrow`` are imported only by these commands.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any, Iterable, Iterator, Literal, Optional

import typer

from selftaught.errors import ConfigError, DataError

Kind = Literal["sft", "messages", "preference", "prompt"]
KINDS: tuple[str, ...] = ("sft", "messages", "preference", "prompt")
PROBLEM_FIELDS = ("id", "prompt", "answer", "solution", "split", "tests", "choices", "keywords")
_SPLIT_NAMES = {"train": "train", "heldout": "test"}


# ------------------------------------------------------------------------------ export


def _sample_groups(rows: Iterable[dict]) -> Iterator[tuple[dict, bool]]:
    """(first row, passed) per sample: rows come in sample-id order, one per verdict."""
    current: dict | None = None
    passed = True
    for row in rows:
        if current is not None and row["sample_id"] != current["sample_id"]:
            yield current, passed
            current = None
        if current is None:
            current, passed = row, True
        if row["outcome"] != "pass":  # no verdict (None) is not a pass either
            passed = False
    if current is not None:
        yield current, passed


def _meta(row: dict) -> dict:
    return {"problem_id": row["problem_id"], "run": row["run"], "round": row["round"],
            "sample_id": row["sample_id"], "source": row["source"]}  # fmt: skip


def dataset_rows(rows: Iterable[dict], kind: str, *, with_meta: bool = False,
                 pairs_per_problem: int = 1) -> list[dict]:  # fmt: skip
    """Rows of ``Store.export_samples`` -> TRL dataset rows of ``kind`` (each with ``split``)."""
    if kind not in KINDS:
        raise ConfigError(f"--kind must be one of {', '.join(KINDS)}, not {kind!r}")
    out: list[dict] = []
    if kind == "prompt":
        seen: set[str] = set()
        for row, _ in _sample_groups(rows):
            if row["problem_id"] in seen:
                continue
            seen.add(row["problem_id"])
            out.append({"prompt": row["problem_prompt"], "answer": row["answer"],
                        "problem_id": row["problem_id"], "split": row["split"]})  # fmt: skip
        return out
    if kind in ("sft", "messages"):
        for row, passed in _sample_groups(rows):
            if not passed:
                continue
            if kind == "sft":
                item: dict[str, Any] = {"prompt": row["problem_prompt"], "completion": row["completion"]}
            else:
                item = {"messages": [{"role": "user", "content": row["problem_prompt"]},
                                     {"role": "assistant", "content": row["completion"]}]}  # fmt: skip
            out.append({**item, **(_meta(row) if with_meta else {}), "split": row["split"]})
        return out
    # preference: a passing and a non-passing sample of one problem in one round
    good: dict[tuple, list[dict]] = defaultdict(list)
    bad: dict[tuple, list[dict]] = defaultdict(list)
    for row, passed in _sample_groups(rows):
        if row["outcome"] is None:
            continue  # never judged: neither chosen nor rejected
        key = (row["run"], row["round"], row["problem_id"])
        (good if passed else bad)[key].append(row)
    for key in sorted(good.keys() & bad.keys(), key=str):
        for chosen, rejected in list(zip(good[key], bad[key]))[:pairs_per_problem]:
            item = {"prompt": chosen["problem_prompt"], "chosen": chosen["completion"],
                    "rejected": rejected["completion"]}  # fmt: skip
            if with_meta:
                item |= {**_meta(chosen), "rejected_sample_id": rejected["sample_id"]}
                item.pop("sample_id")
                item["chosen_sample_id"] = chosen["sample_id"]
            out.append({**item, "split": chosen["split"]})
    return out


def write_dataset(rows: list[dict], out: Path, fmt: str) -> dict[str, int]:
    """Write rows (each with ``split``) as JSONL, Parquet or a DatasetDict; returns rows per split."""
    by_split: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        row = dict(row)
        by_split[_SPLIT_NAMES.get(row.pop("split"), "train")].append(row)
    counts = {k: len(v) for k, v in sorted(by_split.items())}
    flat = [{k: v for k, v in r.items() if k != "split"} for r in rows]
    if out.parent and not out.parent.exists():
        out.parent.mkdir(parents=True)
    if fmt == "jsonl":
        with out.open("w", encoding="utf-8") as f:
            for r in flat:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
        return counts
    import datasets

    if fmt == "parquet":
        datasets.Dataset.from_list(flat).to_parquet(str(out))
        return counts
    if not by_split:
        raise DataError("nothing to export: no rows match (a DatasetDict needs at least one split)")
    datasets.DatasetDict({k: datasets.Dataset.from_list(v) for k, v in by_split.items()}).save_to_disk(str(out))
    return counts


def _format_of(out: Path, fmt: str | None) -> str:
    if fmt:
        if fmt not in ("jsonl", "parquet", "hf"):
            raise ConfigError(f"--format must be jsonl, parquet or hf, not {fmt!r}")
        return fmt
    return {".jsonl": "jsonl", ".parquet": "parquet"}.get(out.suffix.lower(), "hf")


def export(
    out: Annotated[Path, typer.Argument(help="Output: FILE.jsonl, FILE.parquet, or a folder (DatasetDict).")],
    kind: Annotated[str, typer.Option(help="sft, messages, preference or prompt.")] = "sft",
    fmt: Annotated[Optional[str], typer.Option("--format", help="jsonl, parquet or hf [default: from OUT's suffix].")] = None,
    run: Annotated[Optional[str], typer.Option(help="Run id.")] = None,
    round_index: Annotated[Optional[int], typer.Option("--round", help="Round index.")] = None,
    problem: Annotated[Optional[str], typer.Option(help="Problem id.")] = None,
    search: Annotated[Optional[str], typer.Option(help="Substring of the problem's prompt.")] = None,
    judge: Annotated[Optional[str], typer.Option(help="Only this judge's verdicts count.")] = None,
    source: Annotated[Optional[str], typer.Option(help="generate, rationalize, eval or rollout.")] = None,
    rationalized: Annotated[Optional[bool], typer.Option("--rationalized/--not-rationalized", help="Only STaR rationalizations, or none.")] = None,
    checkpoint: Annotated[Optional[str], typer.Option(help="Checkpoint that produced the samples.")] = None,
    split: Annotated[str, typer.Option(help="train, heldout or all (problems' split).")] = "train",
    pairs_per_problem: Annotated[int, typer.Option("--pairs-per-problem", min=1, help="preference: pairs per problem and round.")] = 1,
    with_meta: Annotated[bool, typer.Option("--with-meta", help="Add problem_id, run, round, sample ids.")] = False,
    db: Annotated[Optional[str], typer.Option("--db", help="Store URL [env SELFTAUGHT_DB_URL].")] = None,
) -> None:
    """Export samples as a TRL-format dataset: a round's, or whatever the filters select.

    Example:  selftaught export round3-sft.jsonl --run RUN --round 3
              selftaught export prefs.parquet --kind preference --run RUN
              selftaught export prompts/ --kind prompt --split all    # DatasetDict (train, test)
    """
    from selftaught.cli.main import _settings, _store, console

    fmt = _format_of(out, fmt)
    if split not in ("train", "heldout", "all"):
        raise ConfigError(f"--split must be train, heldout or all, not {split!r}")
    store = _store(_settings(db)[0])
    rows = store.export_samples(
        run_id=run, round_index=round_index, problem=problem, problem_text=search, judge=judge,
        source=source, rationalized=rationalized, checkpoint_id=checkpoint,
        split=None if split == "all" else split,
    )  # fmt: skip
    data = dataset_rows(rows, kind, with_meta=with_meta, pairs_per_problem=pairs_per_problem)
    counts = write_dataset(data, out, fmt)
    detail = ", ".join(f"{k} {v}" for k, v in counts.items()) or "no rows"
    console.print(f"wrote {len(data)} {kind} rows to {out} ({fmt}: {detail})")


# ------------------------------------------------------------------------------ import


def _parse_mapping(items: list[str]) -> dict[str, str]:
    """``--map field=column`` options -> {field: column}."""
    mapping = {f: f for f in PROBLEM_FIELDS}
    for item in items:
        field, sep, column = item.partition("=")
        field, column = field.strip(), column.strip()
        if not sep or not column:
            raise ConfigError(f"--map {item!r}: expected FIELD=COLUMN, e.g. prompt=question")
        if field not in PROBLEM_FIELDS:
            raise ConfigError(f"--map {item!r}: unknown field {field!r}; fields: {', '.join(PROBLEM_FIELDS)}")
        mapping[field] = column
    return mapping


def read_rows(path: Path, fmt: str, hf_split: str | None = None) -> Iterator[tuple[str, Any]]:
    """(where, row) for each row: ``line N`` for JSONL (blank lines skipped), ``row N`` otherwise."""
    if fmt == "jsonl":
        with path.open(encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    yield f"line {n}", json.loads(line)
                except json.JSONDecodeError as exc:
                    yield f"line {n}", DataError(f"not valid JSON ({exc.msg})")
        return
    import datasets

    if fmt == "parquet":
        ds: Any = datasets.Dataset.from_parquet(str(path))
        parts = [("", ds)]
    else:
        loaded = datasets.load_from_disk(str(path))
        if isinstance(loaded, datasets.DatasetDict):
            names = [hf_split] if hf_split else list(loaded)
            missing = [n for n in names if n not in loaded]
            if missing:
                raise ConfigError(f"--hf-split {missing[0]!r}: the dataset has splits {list(loaded)}")
            parts = [(f"{n} ", loaded[n]) for n in names]
        else:
            parts = [("", loaded)]
    for prefix, ds in parts:
        split_name = prefix.strip()
        for n, row in enumerate(ds, 1):
            yield f"{prefix}row {n}", (row, split_name)


def problems_from_rows(rows: Iterable[tuple[str, Any]], mapping: dict[str, str], *,
                       split: str | None, id_prefix: str | None) -> tuple[list, list[str]]:  # fmt: skip
    """Good rows as Problems, bad rows as ``"where: reason"``."""
    from selftaught.records import Problem, Split

    good: list[Problem] = []
    bad: list[str] = []
    seen: dict[str, str] = {}
    for number, (where, item) in enumerate(rows, 1):
        hf_split = ""
        if isinstance(item, tuple):
            item, hf_split = item
        if isinstance(item, DataError):
            bad.append(f"{where}: {item}")
            continue
        if not isinstance(item, dict):
            bad.append(f"{where}: expected an object, got {type(item).__name__}")
            continue
        try:
            pid = item.get(mapping["id"])
            if pid is None and id_prefix is not None:
                pid = f"{id_prefix}{number}"
            if pid is None or (isinstance(pid, str) and not pid.strip()):
                raise DataError(f"no id (column {mapping['id']!r}; or give --id-prefix)")
            if not isinstance(pid, (str, int)) or isinstance(pid, bool):
                raise DataError(f"id must be a string or an integer, got {type(pid).__name__}")
            pid = str(pid)
            prompt = item.get(mapping["prompt"])
            if not isinstance(prompt, str) or not prompt.strip():
                raise DataError(f"no prompt (column {mapping['prompt']!r}) or it is not text")
            fields: dict[str, Any] = {}
            for name in ("answer", "solution", "tests"):
                value = item.get(mapping[name])
                if value is not None and not isinstance(value, (str, int, float)) or isinstance(value, bool):
                    raise DataError(f"{name} (column {mapping[name]!r}) must be text or a number")
                fields[name] = None if value is None else str(value)
            for name in ("choices", "keywords"):
                value = item.get(mapping[name]) or []
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise DataError(f"{name} (column {mapping[name]!r}) must be a list of strings")
                fields[name] = tuple(value)
            row_split = split or item.get(mapping["split"]) or {"test": "heldout", "validation": "heldout"}.get(hf_split, "train")
            try:
                fields["split"] = Split(row_split)
            except ValueError:
                raise DataError(f"split must be train or heldout, got {row_split!r}") from None
            if pid in seen:
                raise DataError(f"duplicate id {pid!r} (first at {seen[pid]})")
        except DataError as exc:
            bad.append(f"{where}: {exc}")
            continue
        seen[pid] = where
        good.append(Problem(id=pid, prompt=prompt, **fields))
    return good, bad


def _conflicts(store, problems: list) -> tuple[list, list[str]]:
    """Problems already stored with different content are rejected (give them new ids)."""
    stored = {p.id: p for p in store.get_problems([p.id for p in problems])}
    keep, bad = [], []
    for p in problems:
        old = stored.get(p.id)
        if old is not None and replace(old, meta={}) != replace(p, meta={}):
            bad.append(f"id {p.id!r}: already in the store with different content")
        else:
            keep.append(p)
    return keep, bad


def import_(
    source: Annotated[Path, typer.Argument(metavar="FILE", help="JSONL, Parquet, or a folder saved by datasets.")],
    mapping: Annotated[Optional[list[str]], typer.Option("--map", help="FIELD=COLUMN (fields: id, prompt, answer, solution, split, tests, choices, keywords); repeatable.")] = None,
    fmt: Annotated[Optional[str], typer.Option("--format", help="jsonl, parquet or hf [default: from the path].")] = None,
    split: Annotated[Optional[str], typer.Option(help="Put every problem in this split (train or heldout).")] = None,
    hf_split: Annotated[Optional[str], typer.Option("--hf-split", help="Only this split of a saved DatasetDict.")] = None,
    id_prefix: Annotated[Optional[str], typer.Option("--id-prefix", help="Rows with no id get PREFIX + row number.")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", help="Also write the good problems as JSONL (for `task: {kind: file}`).")] = None,
    db: Annotated[Optional[str], typer.Option("--db", help="Store URL [env SELFTAUGHT_DB_URL].")] = None,
) -> None:
    """Load problems into the store from JSONL, Parquet or a saved HF dataset, mapping columns
    to fields. Bad rows are reported with their line (or row) number and skipped; the good
    ones are kept. Exit code 2 only if no row was usable.

    Example:  selftaught import problems.jsonl
              selftaught import gsm8k.parquet --map prompt=question --map answer=final --id-prefix gsm-
              selftaught import saved_ds/ --hf-split test --split heldout --map id=uid
    """
    from selftaught.cli.main import _settings, _store, console, err

    if not source.exists():
        raise ConfigError("file not found", file=str(source))
    if split is not None and split not in ("train", "heldout"):
        raise ConfigError(f"--split must be train or heldout, not {split!r}")
    kind = fmt or ("jsonl" if source.suffix.lower() in (".jsonl", ".json") else
                   "parquet" if source.suffix.lower() == ".parquet" else "hf")  # fmt: skip
    if kind not in ("jsonl", "parquet", "hf"):
        raise ConfigError(f"--format must be jsonl, parquet or hf, not {kind!r}")
    fields = _parse_mapping(mapping or [])
    problems, bad = problems_from_rows(read_rows(source, kind, hf_split), fields, split=split, id_prefix=id_prefix)
    store = _store(_settings(db)[0])
    problems, conflicts = _conflicts(store, problems)
    bad += conflicts
    new = store.add_problems(problems) if problems else 0
    for line in bad[:20]:
        err.print(f"rejected {source}: {line}", highlight=False, soft_wrap=True)
    if len(bad) > 20:
        err.print(f"... and {len(bad) - 20} more rejected rows")
    if out is not None:
        from selftaught.records import Split

        with out.open("w", encoding="utf-8") as f:
            for p in problems:
                row = {"id": p.id, "prompt": p.prompt, "answer": p.answer, "split": Split(p.split).value}
                if p.solution:
                    row["solution"] = p.solution
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
    console.print(f"imported {len(problems)} problems from {source} ({new} new, {len(problems) - new} already stored); "
                  f"rejected {len(bad)}")  # fmt: skip
    if not problems and bad:
        sys.exit(2)


# ------------------------------------------------------------------------------ problem


def problem(
    problem_id: Annotated[str, typer.Argument(metavar="ID", help="The problem id.")],
    run: Annotated[Optional[str], typer.Option(help="Only this run.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON for scripts.")] = False,
    db: Annotated[Optional[str], typer.Option("--db", help="Store URL [env SELFTAUGHT_DB_URL].")] = None,
) -> None:
    """One problem across rounds: pass rate per round, first round solved, best and latest samples.

    Example:  selftaught problem add-0042
              selftaught problem add-0042 --run demo-star-20261125-101500-0042 --json
    """
    from rich.table import Table

    from selftaught.cli.main import _settings, _store, console
    from selftaught.cli.tables import samples_table
    from selftaught.errors import StoreError

    history = _store(_settings(db)[0]).problem_history(problem_id, run_id=run)
    if history is None:
        raise StoreError(f"no problem {problem_id!r} in the store")
    if as_json:
        print(json.dumps(history, default=str, indent=1))
        return
    console.print(f"[bold]{history['problem_id']}[/] ({history['split']}): {history['prompt']!r}  answer {history['answer']!r}")
    first = history["first_solved"]
    console.print("first solved: " + (f"run {first['run']} round {first['round']}" if first else "never"))
    t = Table(title="pass rate per round")
    for col in ("run", "round", "source", "judged", "passed", "pass rate"):
        t.add_column(col, justify="right")
    for r in history["rounds"]:
        rate = "-" if r["pass_rate"] is None else f"{r['pass_rate']:.0%}"
        t.add_row(r["run"], str(r["round"]), r["source"], str(r["n_judged"]), str(r["n_pass"]), rate)
    console.print(t)
    console.print(samples_table(history["best"]), samples_table(history["latest"]))


def register(app: typer.Typer) -> None:
    app.command("problem")(problem)
    app.command("export")(export)
    app.command("import")(import_)
