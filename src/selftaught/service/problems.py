"""Problem import: rows of a JSONL, Parquet or saved ``datasets`` file -> content-scoped
``Problem`` records in the store (``selftaught import``), and problems -> task files.

In: a file, a column mapping (``--map FIELD=COLUMN``) or a dataset preset (``gsm8k``), a
split rule. Out: an ``Imported`` record (the problems kept, the rows rejected as
``"where: reason"``, how many were new to the store) and, on request, task files a recipe's
``task: {kind: file}`` reads. Prints nothing: ``cli/history_cmd.py`` reports.

Import stores each row under a content-scoped id, ``NAME@hash`` (``records.scope_problem``,
the same id that ``task: {kind: file}`` gives the row), so a changed row is a new problem
beside the old one, never a conflict. ``--preset gsm8k`` reads GSM8K's own rows
(``parse_gsm8k_answer``); ``--heldout N`` sets aside N rows chosen by their ids alone
(``hold_out``); ``write_task_files`` writes ``DIR/train.jsonl`` and ``DIR/heldout.jsonl``.
A problem never crosses the train / held-out wall: a stored id in the other split is
rejected (``conflicts``). ``datasets`` is imported only to read Parquet or saved datasets.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from selftaught.errors import ConfigError, DataError

PROBLEM_FIELDS = ("id", "prompt", "answer", "solution", "split", "tests", "choices", "keywords")


def parse_mapping(items: list[str]) -> dict[str, str]:
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


def conflicts(store, problems: list) -> tuple[list, list[str]]:
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


def task_row(p) -> dict:
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
                f.write(json.dumps(task_row(p), ensure_ascii=False) + "\n")
    return {path: len(rows) for path, rows in files.items()}


@dataclass(frozen=True)
class Imported:
    """What ``import_problems`` did: the problems now in the store (new or already there),
    the rejected rows (``"where: reason"``) and how many problems were new."""

    problems: list
    rejected: list[str]
    new: int


def import_problems(db: str, source: Path, fmt: str, *, mapping: list[str], preset: str | None, split: str | None,
                    heldout: int | None, hf_split: str | None, id_prefix: str | None) -> Imported:  # fmt: skip
    """Read ``source`` (``fmt``: jsonl, parquet or hf), keep the good rows as problems
    (``problems_from_rows``; ``--heldout``: ``hold_out``), reject those that would cross
    the split wall (``conflicts``), and store the rest in the store at ``db`` (opened once
    the rows are read)."""
    from selftaught.progress import step
    from selftaught.store import Store

    fields = parse_mapping(mapping)
    layout = PRESETS[preset] if preset is not None else None
    if id_prefix is None and layout is not None:
        id_prefix = layout.id_prefix
    with step(f"import: reading {source.name}", min_seconds=1.0):
        problems, bad = problems_from_rows(read_rows(source, fmt, hf_split), fields, split=split,
                                           id_prefix=id_prefix, preset=layout)  # fmt: skip
    if heldout is not None and problems:
        if heldout >= len(problems):
            raise ConfigError(f"--heldout {heldout}: only {len(problems)} usable rows, and training needs at least one")
        problems = hold_out(problems, heldout)
    with step(f"import: storing {len(problems)} problems", min_seconds=1.0):
        store = Store(db)
        problems, rejected = conflicts(store, problems)
        new = store.add_problems(problems) if problems else 0
    return Imported(problems, bad + rejected, new)
