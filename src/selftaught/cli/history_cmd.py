"""``selftaught problem``, ``export`` and ``import``: the sample history as people and datasets use it.

    selftaught problem add-0042                       # one problem across rounds
    selftaught export sft.jsonl --run R --round 3     # passing samples as TRL prompt/completion
    selftaught export prefs.parquet --kind preference # pairs of a passing and a failing sample
    selftaught export ds/ --kind messages --run R     # a DatasetDict + the chat template
    selftaught import gsm.parquet --map prompt=question --map answer=final --id-prefix gsm-
    selftaught import gsm8k_train.jsonl --preset gsm8k --heldout 40 --out data/

Export formats follow TRL's dataset conventions:

* ``sft``: ``prompt`` / ``completion`` (standard, SFTTrainer's prompt-completion format);
* ``messages``: ``messages`` = [user prompt, assistant completion] (conversational). TRL
  renders these with the tokenizer's chat template, so the export carries the template of
  the policy that wrote the samples (its newest checkpoint, or ``--checkpoint``'s) as
  ``chat_template.jinja`` beside the data (``SFTConfig(chat_template_path=...)``); a policy
  without one (the embedded tiny model) is refused in one line pointing to ``--kind sft``;
* ``preference``: ``prompt`` / ``chosen`` / ``rejected`` (DPOTrainer), pairing a passing and
  a non-passing sample of the same problem from the same round (same policy);
* ``prompt``: one row per problem that has exported samples, as a task file row (``id`` --
  the row's own id --, ``prompt``, ``answer``, ...; ``selftaught eval --problems`` reads it)
  plus the stored ``problem_id``, and a ``split`` column with ``--split all`` (prompt-only,
  GRPO/RLOO: extra columns reach the reward functions as keyword arguments).

``--trained --run R --round N`` writes instead exactly the rows round N's checkpoint trained
on, in order (``prompt``/``completion``, or ``prompt``/``chosen``/``rejected`` for DPO, as the
trainer got them), refused if they no longer hash to the checkpoint's recorded
``training_set_sha256`` and for GRPO/RLOO rounds, which have no fixed set (``loops/trained.py``).

The prompt is always the problem's own prompt (as the curate stage trains on), never the
hinted prompt a STaR rationalization was sampled from. A sample passes when every verdict
on it passes. By default only training-split problems are exported (``--split all`` to
include held-out ones: training on held-out problems would void the evaluation).

The file format comes from the output path: ``.jsonl``, ``.parquet``, or a folder (a path
ending in ``/`` or without an extension) written with ``DatasetDict.save_to_disk`` (splits
``train`` and ``test``, from the problems' split); any other extension is an error, as is
a ``--run`` the store does not hold (exit code 1): nothing is written then. ``datasets``
and ``pyarrow`` are imported only by these commands.

Import stores each row under a content-scoped id, ``NAME@hash`` (``records.scope_problem``,
the same id that ``task: {kind: file}`` gives the row), so a changed row is a new problem
beside the old one, never a conflict. ``--preset gsm8k`` reads GSM8K's own rows
(``parse_gsm8k_answer``); ``--heldout N`` sets aside N rows chosen by their ids alone
(``hold_out``); ``--out DIR`` writes ``DIR/train.jsonl`` and ``DIR/heldout.jsonl`` for a
recipe's ``task: {kind: file, train: DIR/train.jsonl, heldout: DIR/heldout.jsonl}``.
``selftaught problem NAME`` then shows every stored version of a row.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Callable, Iterable, Iterator, Literal, Optional

import typer

from selftaught.errors import ConfigError, DataError

if TYPE_CHECKING:
    from selftaught.store import ExportedSample

Kind = Literal["sft", "messages", "preference", "prompt"]
KINDS: tuple[str, ...] = ("sft", "messages", "preference", "prompt")
PROBLEM_FIELDS = ("id", "prompt", "answer", "solution", "split", "tests", "choices", "keywords")
_SPLIT_NAMES = {"train": "train", "heldout": "test"}


# ------------------------------------------------------------------------------ export


def _sample_groups(rows: Iterable[ExportedSample]) -> Iterator[tuple[ExportedSample, bool]]:
    """(first row, passed) per sample: rows come in sample-id order, one per verdict."""
    current: ExportedSample | None = None
    passed = True
    for row in rows:
        if current is not None and row.sample_id != current.sample_id:
            yield current, passed
            current = None
        if current is None:
            current, passed = row, True
        if row.outcome != "pass":  # no verdict (None) is not a pass either
            passed = False
    if current is not None:
        yield current, passed


def _meta(row: ExportedSample) -> dict:
    return {"problem_id": row.problem_id, "run": row.run, "round": row.round,
            "sample_id": row.sample_id, "source": row.source.value}  # fmt: skip


def dataset_rows(rows: Iterable[ExportedSample], kind: str, *, with_meta: bool = False,
                 pairs_per_problem: int = 1) -> list[dict]:  # fmt: skip
    """Rows of ``Store.export_samples`` -> TRL dataset rows of ``kind`` (each with ``split``);
    ``prompt`` rows come from the problems themselves (``prompt_rows``)."""
    if kind not in KINDS or kind == "prompt":
        raise ConfigError(f"--kind must be one of {', '.join(KINDS)}, not {kind!r}")
    out: list[dict] = []
    if kind in ("sft", "messages"):
        for row, passed in _sample_groups(rows):
            if not passed:
                continue
            if kind == "sft":
                item: dict[str, Any] = {"prompt": row.problem_prompt, "completion": row.completion}
            else:
                item = {"messages": [{"role": "user", "content": row.problem_prompt},
                                     {"role": "assistant", "content": row.completion}]}  # fmt: skip
            out.append({**item, **(_meta(row) if with_meta else {}), "split": row.split.value})
        return out
    # preference: a passing and a non-passing sample of one problem in one round
    good: dict[tuple, list[ExportedSample]] = defaultdict(list)
    bad: dict[tuple, list[ExportedSample]] = defaultdict(list)
    for row, passed in _sample_groups(rows):
        if row.outcome is None:
            continue  # never judged: neither chosen nor rejected
        key = (row.run, row.round, row.problem_id)
        (good if passed else bad)[key].append(row)
    for key in sorted(good.keys() & bad.keys(), key=str):
        for chosen, rejected in list(zip(good[key], bad[key]))[:pairs_per_problem]:
            item = {"prompt": chosen.problem_prompt, "chosen": chosen.completion,
                    "rejected": rejected.completion}  # fmt: skip
            if with_meta:
                item |= {**_meta(chosen), "rejected_sample_id": rejected.sample_id}
                item.pop("sample_id")
                item["chosen_sample_id"] = chosen.sample_id
            out.append({**item, "split": chosen.split.value})
    return out


def problem_ids(rows: Iterable[ExportedSample]) -> list[str]:
    """The distinct problem ids of ``Store.export_samples`` rows, in first-seen order."""
    return list(dict.fromkeys(row.problem_id for row in rows))


def prompt_rows(problems: list) -> list[dict]:
    """Problems -> prompt-only rows: a task-file row each (``_task_row``: ``id``, ``prompt``,
    ``answer``, ``split``, ...; what ``eval --problems`` reads) plus the stored
    ``problem_id``. Every row gets every column present in any (None where absent), so
    Parquet and ``datasets`` see one schema."""
    rows = [{**_task_row(p), "problem_id": p.id} for p in problems]
    columns = list(dict.fromkeys(k for row in rows for k in row))
    return [{k: row.get(k) for k in columns} for row in rows]


def write_dataset(rows: list[dict], out: Path, fmt: str, *, keep_split: bool = False) -> dict[str, int]:
    """Write rows (each with ``split``) as JSONL, Parquet or a DatasetDict; returns rows per
    split. ``split`` chooses the DatasetDict split and is a column only with ``keep_split``."""
    by_split: dict[str, list[dict]] = defaultdict(list)
    flat = [r if keep_split else {k: v for k, v in r.items() if k != "split"} for r in rows]
    for row, item in zip(rows, flat):
        by_split[_SPLIT_NAMES.get(row["split"], "train")].append(item)
    counts = {k: len(v) for k, v in sorted(by_split.items())}
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


def _format_of(out: str, fmt: str | None) -> str:
    """``--format``, else OUT's form: ``.jsonl``, ``.parquet``, or a folder (a path ending in
    ``/``, without an extension, or an existing folder). Any other extension is an error:
    ``x.csv`` must not silently become a folder named ``x.csv``."""
    if fmt:
        if fmt not in ("jsonl", "parquet", "hf"):
            raise ConfigError(f"--format must be jsonl, parquet or hf, not {fmt!r}")
        return fmt
    path = Path(out)
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".parquet"):
        return suffix[1:]
    if not suffix or out.endswith(("/", os.sep)) or path.is_dir():
        return "hf"
    raise ConfigError(
        f"unknown output extension {path.suffix!r}; write FILE.jsonl, FILE.parquet or a folder (a path "
        "ending in '/' or without an extension: a DatasetDict), or choose with --format jsonl|parquet|hf",
        file=out,
    )


def _checkpoint_dirs(store, run: str | None, checkpoint: str | None) -> list[Path]:
    """The folders of the policy whose samples are exported, newest first: ``--checkpoint``'s,
    else the run's round checkpoints (pruned ones have no tokenizer left)."""
    if checkpoint is not None:
        found = store.get_checkpoint(checkpoint)
        return [Path(found.path)] if found is not None else []
    if run is None:
        raise ConfigError("--kind messages needs --run or --checkpoint: the dataset carries that policy's chat template")
    policies = [c for c in store.list_checkpoints(run) if c.round_index is not None and not c.pruned]
    return [Path(c.path) for c in reversed(policies)]  # round-less ones are reward models


def policy_chat_template(store, run: str | None, checkpoint: str | None) -> str:
    """The chat template of the policy that wrote the exported samples (its newest checkpoint
    on disk). TRL's SFTTrainer renders ``messages`` rows with its tokenizer's template, so a
    policy without one cannot train on them: that is an error saying to use ``--kind sft``."""
    from selftaught.profiles import is_model_folder, read_chat_template

    dirs = _checkpoint_dirs(store, run, checkpoint)
    here = next((d for d in dirs if is_model_folder(d)), None)
    whose = f"checkpoint {checkpoint}" if checkpoint is not None else f"run {run}"
    if here is None:
        where = f" (looked in {dirs[0]})" if dirs else ""
        raise DataError(f"--kind messages: no saved policy of {whose} here{where}, so its chat template is "
                        "unknown; use --kind sft (prompt/completion)")  # fmt: skip
    template = read_chat_template(here)
    if template is None:
        raise DataError(f"--kind messages: the policy of {whose} ({here}) has no chat template, so TRL cannot "
                        "render conversations with its tokenizer; use --kind sft (prompt/completion)")  # fmt: skip
    return template


def template_path(out: Path, fmt: str) -> Path:
    """Where the chat template goes beside a ``messages`` export: inside a DatasetDict
    folder, else ``NAME.chat_template.jinja`` next to the file (SFTConfig's ``chat_template_path``)."""
    return out / "chat_template.jinja" if fmt == "hf" else out.with_name(f"{out.stem}.chat_template.jinja")


def export(
    out: Annotated[str, typer.Argument(help="Output: FILE.jsonl, FILE.parquet, or a folder DIR/ (DatasetDict).")],
    kind: Annotated[str, typer.Option(help="sft, messages, preference or prompt.")] = "sft",
    fmt: Annotated[Optional[str], typer.Option("--format", help="jsonl, parquet or hf [default: from OUT's suffix].")] = None,
    run: Annotated[Optional[str], typer.Option(help="Run id.")] = None,
    round_index: Annotated[Optional[int], typer.Option("--round", min=0, help="Round index.")] = None,
    problem: Annotated[Optional[str], typer.Option(help="Problem id (a row's own id: every stored version, ID@HASH).")] = None,
    search: Annotated[Optional[str], typer.Option(help="Substring of the problem's prompt.")] = None,
    judge: Annotated[Optional[str], typer.Option(help="Only this judge's verdicts count.")] = None,
    source: Annotated[Optional[str], typer.Option(help="generate, rationalize, eval or rollout.")] = None,
    rationalized: Annotated[Optional[bool], typer.Option("--rationalized/--not-rationalized", help="Only STaR rationalizations, or none.")] = None,
    checkpoint: Annotated[Optional[str], typer.Option(help="Checkpoint that produced the samples.")] = None,
    split: Annotated[str, typer.Option(help="train, heldout or all (problems' split).")] = "train",
    pairs_per_problem: Annotated[int, typer.Option("--pairs-per-problem", min=1, help="preference: pairs per problem and round.")] = 1,
    with_meta: Annotated[bool, typer.Option("--with-meta", help="Add problem_id, run, round, sample ids.")] = False,
    trained: Annotated[bool, typer.Option("--trained", help="Exactly the rows round --round of --run trained on, in order.")] = False,
    db: Annotated[Optional[str], typer.Option("--db", help="Store URL [env SELFTAUGHT_DB_URL].")] = None,
    home: Annotated[Optional[Path], typer.Option("--home", help="Folder holding runs/ (the policy's chat template) [env SELFTAUGHT_HOME].")] = None,
) -> None:
    """Export samples as a TRL-format dataset: a round's, or whatever the filters select.

    Example:  selftaught export round3-sft.jsonl --run RUN --round 3
              selftaught export prefs.parquet --kind preference --run RUN
              selftaught export prompts/ --kind prompt --split all    # DatasetDict (train, test)
              selftaught export r3-trained.jsonl --trained --run RUN --round 3
    """
    from rich.markup import escape

    from selftaught.cli.main import _settings, _store, console, err

    fmt = _format_of(out, fmt)
    if kind not in KINDS:
        raise ConfigError(f"--kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if split not in ("train", "heldout", "all"):
        raise ConfigError(f"--split must be train, heldout or all, not {split!r}")
    db, home, _ = _settings(db, home)
    store = _store(db, home)
    if run is not None and store.get_run(run) is None:  # exit 1, nothing written (issue 15)
        err.print(f"[red]error:[/] {escape(f'no run {run!r} in {db}')}", highlight=False, soft_wrap=True)
        raise typer.Exit(1)
    if trained:
        return _export_trained(store, run, round_index, Path(out), fmt)
    template = policy_chat_template(store, run, checkpoint) if kind == "messages" else None
    rows = store.export_samples(
        run_id=run, round_index=round_index, problem=problem, problem_text=search, judge=judge,
        source=source, rationalized=rationalized, checkpoint_id=checkpoint,
        split=None if split == "all" else split,
    )  # fmt: skip
    if kind == "prompt":
        data = prompt_rows(store.get_problems(problem_ids(rows)))
    else:
        data = dataset_rows(rows, kind, with_meta=with_meta, pairs_per_problem=pairs_per_problem)
    counts = write_dataset(data, Path(out), fmt, keep_split=kind == "prompt" and split == "all")
    detail = ", ".join(f"{k} {v}" for k, v in counts.items()) or "no rows"
    console.print(f"wrote {len(data)} {kind} rows to {out} ({fmt}: {detail})")
    if template is not None:
        path = template_path(Path(out), fmt)
        path.write_text(template, encoding="utf-8")
        console.print(f"chat template: {path} (TRL: SFTConfig(chat_template_path=...))", highlight=False)


def _export_trained(store, run: str | None, round_index: int | None, out: Path, fmt: str) -> None:
    """``--trained``: the rows the round's checkpoint trained on, in order, in TRL's format
    (``loops/trained.py``: re-rendered from the store and checked against the checkpoint's hash)."""
    from selftaught.cli.main import console
    from selftaught.loops.trained import rows_sha256, trained_rows

    if run is None or round_index is None:
        raise ConfigError("--trained needs --run and --round: the rows one round's checkpoint trained on")
    method, rows = trained_rows(store, run, round_index)
    write_dataset([{**r, "split": "train"} for r in rows], out, fmt)
    console.print(f"wrote {len(rows)} {method} rows round {round_index} trained on to {out} "
                  f"(sha256 {rows_sha256(rows)[:12]})", highlight=False)  # fmt: skip


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
        with path.open("rb") as f:  # bytes: one undecodable line is reported, not the file
            for n, raw in enumerate(f, 1):
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    yield f"line {n}", DataError(f"not UTF-8 (byte {raw[exc.start]:#04x} at column {exc.start + 1})")
                    continue
                if not line.strip():
                    continue
                try:
                    yield f"line {n}", json.loads(line)
                except json.JSONDecodeError as exc:
                    yield f"line {n}", DataError(f"not valid JSON ({exc.msg})")
                except RecursionError:
                    yield f"line {n}", DataError("not valid JSON (nested too deeply)")
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


_CALCULATOR = re.compile(r"<<[^<>]*>>")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")


def parse_gsm8k_answer(text: str) -> tuple[str, str]:
    """A GSM8K ``answer`` -> (solution, final answer).

    The final answer is the text after the last ``####``, stripped, thousands commas
    removed; the solution is the rationale before it without the ``<<...>>`` calculator
    annotations, trailing whitespace stripped. No ``####`` (or nothing after it) is a
    ``DataError``.

    >>> parse_gsm8k_answer("Natalia sold 48/2 = <<48/2=24>>24 clips.\\n#### 1,072")
    ('Natalia sold 48/2 = 24 clips.', '1072')
    """
    rationale, sep, final = text.rpartition("####")
    if not sep:
        raise DataError("answer has no '####' before the final answer (is this GSM8K?)")
    final = _THOUSANDS.sub("", final.strip())
    if not final:
        raise DataError("nothing after '####' in answer")
    return _CALCULATOR.sub("", rationale).rstrip(), final


def gsm8k_row(row: dict) -> dict:
    """A GSM8K row ``{question, answer[, id]}`` -> the fields ``problems_from_rows`` reads."""
    question, text = row.get("question"), row.get("answer")
    if not isinstance(question, str) or not question.strip():
        raise DataError("no question (column 'question') or it is not text")
    if not isinstance(text, str):
        raise DataError("no answer (column 'answer') or it is not text")
    solution, answer = parse_gsm8k_answer(text)
    return {"id": row.get("id"), "prompt": question, "answer": answer, "solution": solution or None,
            "split": row.get("split")}  # fmt: skip


@dataclass(frozen=True)
class Preset:
    """A dataset's own row layout: how a row becomes problem fields, and its id prefix."""

    fields: Callable[[dict], dict]  # one row -> {id, prompt, answer, solution, ...}; DataError if bad
    id_prefix: str  # for rows with no id, unless --id-prefix says otherwise


PRESETS: dict[str, Preset] = {"gsm8k": Preset(gsm8k_row, "gsm8k-")}


def problems_from_rows(rows: Iterable[tuple[str, Any]], mapping: dict[str, str], *,
                       split: str | None, id_prefix: str | None,
                       preset: Preset | None = None) -> tuple[list, list[str]]:  # fmt: skip
    """Good rows as content-scoped Problems (``meta["name"]``: the row's id), bad rows as
    ``"where: reason"``. A ``preset`` turns each row into fields first (``mapping`` is
    then the identity). Duplicates are found by the rows' own ids."""
    from selftaught.records import Problem, Split, scope_problem

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
            if preset is not None:
                item = preset.fields(item)
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
        good.append(scope_problem(Problem(id=pid, prompt=prompt, **fields)))
    return good, bad


def _name(p) -> str:
    """The user's own id of a (content-scoped) problem."""
    return str(p.meta.get("name", p.id))


def hold_out(problems: list, n: int) -> list:
    """The same problems, the ``n`` whose own ids (``meta["name"]``) have the smallest
    sha256 in the held-out split and the rest in train: a choice made by the set of ids
    alone, so importing the same rows again, in any order, puts each on the same side
    of the wall (with ``--id-prefix`` ids, which are row numbers, keep the order)."""
    from selftaught.records import Split

    def key(p) -> str:
        return hashlib.sha256(_name(p).encode()).hexdigest()

    chosen = {p.id for p in sorted(problems, key=key)[:n]}
    return [replace(p, split=Split.HELDOUT if p.id in chosen else Split.TRAIN) for p in problems]


def _conflicts(store, problems: list) -> tuple[list, list[str]]:
    """Problems already stored under the same (content-scoped) id but in the other split
    are rejected: a problem never crosses the train / held-out wall. A changed row has a
    new id, so it is simply a new problem."""
    stored = {p.id: p for p in store.get_problems([p.id for p in problems])}
    keep, bad = [], []
    for p in problems:
        old = stored.get(p.id)
        if old is None or old == p:
            keep.append(p)
        elif old.split != p.split:
            bad.append(f"id {_name(p)!r}: already in the store as a {old.split.value} problem (its split never changes)")
        else:
            bad.append(f"id {_name(p)!r}: already in the store with different content")
    return keep, bad


def _task_row(p) -> dict:
    """A problem as a row of a task file (``loops.arithmetic.load_problems_jsonl``), under
    its own id: loading the file gives back the same content-scoped id."""
    from selftaught.records import Split

    row: dict[str, Any] = {"id": _name(p), "prompt": p.prompt, "answer": p.answer, "split": Split(p.split).value}
    if p.solution:
        row["solution"] = p.solution
    if p.tests is not None:
        row["tests"] = p.tests
    for name in ("choices", "keywords"):
        if getattr(p, name):
            row[name] = list(getattr(p, name))
    return row


def write_task_files(problems: list, out: Path) -> dict[Path, int]:
    """Write problems as task files: ``out`` itself if it ends in ``.jsonl``, else the
    folder ``out`` with ``train.jsonl`` and ``heldout.jsonl`` (by split). Rows per file."""
    from selftaught.records import Split

    if out.suffix.lower() == ".jsonl":
        files = {out: list(problems)}
    else:
        files = {out / f"{s.value}.jsonl": [p for p in problems if Split(p.split) is s] for s in Split}
    for path, rows in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8") as f:
            for p in rows:
                f.write(json.dumps(_task_row(p), ensure_ascii=False) + "\n")
    return {path: len(rows) for path, rows in files.items()}


def import_(
    source: Annotated[Path, typer.Argument(metavar="FILE", help="JSONL, Parquet, or a folder saved by datasets.")],
    mapping: Annotated[Optional[list[str]], typer.Option("--map", help="FIELD=COLUMN (fields: id, prompt, answer, solution, split, tests, choices, keywords); repeatable.")] = None,
    preset: Annotated[Optional[str], typer.Option(help="A dataset's own row layout instead of --map: gsm8k (prompt = question; answer = after the last '####', commas dropped; solution = the rationale without <<...>> annotations; ids gsm8k-ROW unless the rows have one).")] = None,
    fmt: Annotated[Optional[str], typer.Option("--format", help="jsonl, parquet or hf [default: from the path].")] = None,
    split: Annotated[Optional[str], typer.Option(help="Put every problem in this split (train or heldout).")] = None,
    heldout: Annotated[Optional[int], typer.Option("--heldout", min=1, metavar="N", help="Put N problems in the heldout split and the rest in train: the N whose ids have the smallest sha256 (the same N each time the same rows are imported).")] = None,
    hf_split: Annotated[Optional[str], typer.Option("--hf-split", help="Only this split of a saved DatasetDict.")] = None,
    id_prefix: Annotated[Optional[str], typer.Option("--id-prefix", help="Rows with no id get PREFIX + row number (with --preset: the preset's prefix unless given, e.g. gsm8k-).")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", help="Also write the good problems as task files: FILE.jsonl (one file), or a folder DIR (DIR/train.jsonl and DIR/heldout.jsonl, for `task: {kind: file}`).")] = None,
    db: Annotated[Optional[str], typer.Option("--db", help="Store URL [env SELFTAUGHT_DB_URL].")] = None,
) -> None:
    """Load problems into the store from JSONL, Parquet or a saved HF dataset, mapping columns
    to fields. Bad rows are reported with their line (or row) number and skipped; the good
    ones are kept. Exit code 2 only if no row was usable.

    Each problem is stored as NAME@HASH (its id and a hash of its content), so a changed
    row is a new problem next to the old one; `selftaught problem NAME` shows both.

    Example:  selftaught import problems.jsonl
              selftaught import gsm8k.parquet --map prompt=question --map answer=final --id-prefix gsm-
              selftaught import saved_ds/ --hf-split test --split heldout --map id=uid
              selftaught import gsm8k_train.jsonl --preset gsm8k --heldout 40 --out data/
              # then, in the recipe:
              # task: {kind: file, train: data/train.jsonl, heldout: data/heldout.jsonl}
    """
    from selftaught.cli.main import _settings, _store, console, err

    if not source.exists():
        raise ConfigError("file not found", file=str(source))
    if split is not None and split not in ("train", "heldout"):
        raise ConfigError(f"--split must be train or heldout, not {split!r}")
    if split is not None and heldout is not None:
        raise ConfigError("choose one of --split and --heldout")
    if preset is not None and preset not in PRESETS:
        raise ConfigError(f"--preset must be one of {', '.join(PRESETS)}, not {preset!r}")
    if preset is not None and mapping:
        raise ConfigError("--preset reads the dataset's own columns: leave out --map")
    kind = fmt or ("jsonl" if source.suffix.lower() in (".jsonl", ".json") else
                   "parquet" if source.suffix.lower() == ".parquet" else "hf")  # fmt: skip
    if kind not in ("jsonl", "parquet", "hf"):
        raise ConfigError(f"--format must be jsonl, parquet or hf, not {kind!r}")
    fields = _parse_mapping(mapping or [])
    layout = PRESETS[preset] if preset is not None else None
    if id_prefix is None and layout is not None:
        id_prefix = layout.id_prefix
    problems, bad = problems_from_rows(read_rows(source, kind, hf_split), fields, split=split,
                                       id_prefix=id_prefix, preset=layout)  # fmt: skip
    if heldout is not None and problems:
        if heldout >= len(problems):
            raise ConfigError(f"--heldout {heldout}: only {len(problems)} usable rows, and training needs at least one")
        problems = hold_out(problems, heldout)
    store = _store(_settings(db)[0])
    problems, conflicts = _conflicts(store, problems)
    bad += conflicts
    new = store.add_problems(problems) if problems else 0
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
        sys.exit(2)


# ------------------------------------------------------------------------------ problem


def problem(
    problem_id: Annotated[str, typer.Argument(metavar="ID", help="The problem id: a stored id, or a row's own id (every stored version, ID@HASH).")],
    run: Annotated[Optional[str], typer.Option(help="Only this run.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON for scripts: a list, one object per stored version.")] = False,
    judge_version: Annotated[Optional[str], typer.Option("--judge-version", help="Read the verdicts of this judge version (`selftaught rejudge`) [default: the version each round used].")] = None,
    db: Annotated[Optional[str], typer.Option("--db", help="Store URL [env SELFTAUGHT_DB_URL].")] = None,
) -> None:
    """One problem across rounds: pass rate per round, first round solved, best and latest samples.
    A row imported (or read by a file task) again with changed content is another version,
    stored as ID@HASH: each version is shown under its own header.

    Example:  selftaught problem add-0042
              selftaught problem add-0042 --run demo-star-20261125-101500-0042 --json
              selftaught problem gsm8k-17      # every stored version of the row gsm8k-17
    """
    from rich.table import Table

    from selftaught.cli.main import _settings, _store, console
    from selftaught.cli.tables import samples_table
    from selftaught.errors import StoreError

    versions = _store(_settings(db)[0]).problem_history(problem_id, run_id=run, judge_version=judge_version)
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
        console.print(samples_table(history.best), samples_table(history.latest))


def register(app: typer.Typer) -> None:
    app.command("problem")(problem)
    app.command("export")(export)
    app.command("import")(import_)
