"""Dataset export: the sample history as TRL-format datasets (``selftaught export``).

In: a ``Store``, the sample filters of ``selftaught samples``, a dataset kind and an output
path and format. Out: the file or folder written, and an ``Exported`` record (rows per
split, the chat template written beside a ``messages`` export); ``export_trained`` writes
instead exactly the rows one round's checkpoint trained on. Prints nothing:
``cli/history_cmd.py`` reports.

Export formats follow TRL's dataset conventions:

* ``sft``: ``prompt`` / ``completion`` (standard, SFTTrainer's prompt-completion format);
* ``messages``: ``messages`` = [user prompt, assistant completion] (conversational). TRL
  renders these with the tokenizer's chat template, so the export carries the template of
  the policy that wrote the samples (its newest checkpoint, or ``--checkpoint``'s) as
  ``chat_template.jinja`` beside the data (``SFTConfig(chat_template_path=...)``); a policy
  without one (the embedded tiny model) is refused in one line pointing to ``--kind sft``;
* ``preference``: ``prompt`` / ``chosen`` / ``rejected`` (DPOTrainer): the pairs
  ``loops/dpo.build_pairs`` makes -- the one definition the DPO rounds train on --, per
  run and round (same policy), from the samples that pass (every verdict on them passes)
  and those judged that do not: distinct completions, up to ``--pairs-per-problem`` pairs
  per problem, the shorter side cycled (before issue 16 export kept its own copy of this
  rule, which stopped at the shorter side);
* ``prompt``: one row per problem that has exported samples, as a task file row (``id`` --
  the row's own id --, ``prompt``, ``answer``, ...; ``selftaught eval --problems`` reads it)
  plus the stored ``problem_id``, and a ``split`` column with ``--split all`` (prompt-only,
  GRPO/RLOO: extra columns reach the reward functions as keyword arguments).

``export_trained`` (``--trained --run R --round N``) writes exactly the rows round N's
checkpoint trained on, in order (``prompt``/``completion``, or ``prompt``/``chosen``/
``rejected`` for DPO, as the trainer got them), refused if they no longer hash to the
checkpoint's recorded ``training_set_sha256`` and for GRPO/RLOO rounds, which have no fixed
set (``loops/trained.py``).

The prompt is always the problem's own prompt (as the curate stage trains on), never the
hinted prompt a STaR rationalization was sampled from. The file format comes from the
output path (``format_of``): ``.jsonl``, ``.parquet``, or a folder written with
``DatasetDict.save_to_disk`` (splits ``train`` and ``test``, from the problems' split).
``datasets`` and ``pyarrow`` are imported only when a Parquet file or a folder is written.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Literal

from selftaught.errors import ConfigError, DataError
from selftaught.progress import step
from selftaught.records import Outcome
from selftaught.service.problems import task_row

if TYPE_CHECKING:
    from selftaught.store import ExportedSample

Kind = Literal["sft", "messages", "preference", "prompt"]
KINDS: tuple[str, ...] = ("sft", "messages", "preference", "prompt")
_SPLIT_NAMES = {"train": "train", "heldout": "test"}
#: a JSONL export reports its progress every this many rows
PROGRESS_ROWS = 1000

def _sample_outcomes(rows: Iterable[ExportedSample]) -> Iterator[tuple[ExportedSample, Outcome | None]]:
    """(first row, outcome) per sample: rows come in sample-id order, one per verdict. The
    outcome is None for a sample never judged, PASS when every verdict passes, ERROR or TIMEOUT
    when a verdict could not judge it (not a trustworthy failure), else FAIL."""
    current: ExportedSample | None = None
    outcomes: list[Outcome | None] = []
    for row in rows:
        if current is not None and row.sample_id != current.sample_id:
            yield current, _combined(outcomes)
            current = None
        if current is None:
            current, outcomes = row, []
        outcomes.append(row.outcome)
    if current is not None:
        yield current, _combined(outcomes)


def _combined(outcomes: list[Outcome | None]) -> Outcome | None:
    if all(o is None for o in outcomes):
        return None
    if all(o == Outcome.PASS for o in outcomes):
        return Outcome.PASS
    unsure = [o for o in outcomes if o in (Outcome.ERROR, Outcome.TIMEOUT)]
    return Outcome(unsure[0]) if unsure else Outcome.FAIL


def _sample_groups(rows: Iterable[ExportedSample]) -> Iterator[tuple[ExportedSample, bool]]:
    """(first row, passed) per sample: passed when every verdict on it passes."""
    for row, outcome in _sample_outcomes(rows):
        yield row, outcome is Outcome.PASS


def _meta(row: dict) -> dict:
    return {"problem_id": row.problem_id, "run": row.run, "round": row.round,
            "sample_id": row.sample_id, "source": row.source.value}  # fmt: skip


def dataset_rows(rows: Iterable[dict], kind: str, *, with_meta: bool = False,
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
    # preference: loops/dpo.build_pairs over each round's judged samples
    for chosen, rejected in _preference_pairs(rows, pairs_per_problem):
        item = {"prompt": chosen.problem_prompt, "chosen": chosen.completion,
                "rejected": rejected.completion}  # fmt: skip
        if with_meta:
            item |= {**_meta(chosen), "rejected_sample_id": rejected.sample_id}
            item.pop("sample_id")
            item["chosen_sample_id"] = chosen.sample_id
        out.append({**item, "split": chosen.split.value})
    return out


def _preference_pairs(rows: Iterable[dict], pairs_per_problem: int) -> Iterator[tuple[dict, dict]]:
    """(chosen row, rejected row) per pair: ``loops/dpo.build_pairs`` on each (run, round)'s
    samples. Each sample becomes one ``Judged`` whose outcome is PASS when every verdict on
    it passes, ERROR/TIMEOUT when a verdict could not judge it, FAIL otherwise (``_sample_outcomes``);
    a sample never judged takes no part. A sample's index is
    its place in sample-id order, so build_pairs pairs in that order; rounds come in the
    order of ``str((run, round))``, as export has always written them."""
    from selftaught.loops.dpo import build_pairs
    from selftaught.records import Judged, Problem, Sample, SampleSource, SamplingParams, Verdict

    rounds: dict[tuple, list[Judged]] = defaultdict(list)
    problems: dict[str, Problem] = {}
    by_key: dict[tuple, dict] = {}
    for n, (row, outcome) in enumerate(_sample_outcomes(rows)):
        if outcome is None:
            continue  # never judged: neither chosen nor rejected
        sample = Sample(row.problem_id, n, row.problem_prompt, row.completion, SampleSource(row.source),
                        seed=0, params=SamplingParams())  # fmt: skip
        by_key[sample.key] = row
        problems.setdefault(row.problem_id, Problem(row.problem_id, row.problem_prompt))
        # build_pairs' rule, as in a DPO round: PASS is chosen, FAIL rejected, ERROR/TIMEOUT neither
        verdict = Verdict("export", outcome, float(outcome is Outcome.PASS))
        rounds[(row.run, row.round)].append(Judged(sample, verdict))
    for key in sorted(rounds, key=str):
        for pair in build_pairs(rounds[key], problems, max_pairs_per_problem=pairs_per_problem):
            yield by_key[pair.chosen_key], by_key[pair.rejected_key]


def problem_ids(rows: Iterable[dict]) -> list[str]:
    """The distinct problem ids of ``Store.export_samples`` rows, in first-seen order."""
    return list(dict.fromkeys(row.problem_id for row in rows))


def prompt_rows(problems: list) -> list[dict]:
    """Problems -> prompt-only rows: a task-file row each (``service/problems.task_row``: ``id``, ``prompt``,
    ``answer``, ``split``, ...; what ``eval --problems`` reads) plus the stored
    ``problem_id``. Every row gets every column present in any (None where absent), so
    Parquet and ``datasets`` see one schema."""
    rows = [{**task_row(p), "problem_id": p.id} for p in problems]
    columns = list(dict.fromkeys(k for row in rows for k in row))
    return [{k: row.get(k) for k in columns} for row in rows]


def write_dataset(rows: list[dict], out: Path, fmt: str, *, keep_split: bool = False,
                  progress: Callable[[int], None] | None = None) -> dict[str, int]:  # fmt: skip
    """Write rows (each with ``split``) as JSONL, Parquet or a DatasetDict; returns rows per
    split. ``split`` chooses the DatasetDict split and is a column only with ``keep_split``.
    ``progress(rows_written)`` every ``PROGRESS_ROWS`` rows of a JSONL file and at the end."""
    by_split: dict[str, list[dict]] = defaultdict(list)
    flat = [r if keep_split else {k: v for k, v in r.items() if k != "split"} for r in rows]
    for row, item in zip(rows, flat):
        by_split[_SPLIT_NAMES.get(row["split"], "train")].append(item)
    counts = {k: len(v) for k, v in sorted(by_split.items())}
    if out.parent and not out.parent.exists():
        out.parent.mkdir(parents=True)
    if fmt == "jsonl":
        with out.open("w", encoding="utf-8") as f:
            for n, r in enumerate(flat, 1):
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
                if progress is not None and n % PROGRESS_ROWS == 0:
                    progress(n)
        if progress is not None:
            progress(len(flat))
        return counts
    import datasets

    if fmt == "parquet":
        datasets.Dataset.from_list(flat).to_parquet(str(out))
    elif not by_split:
        raise DataError("nothing to export: no rows match (a DatasetDict needs at least one split)")
    else:
        datasets.DatasetDict({k: datasets.Dataset.from_list(v) for k, v in by_split.items()}).save_to_disk(str(out))
    if progress is not None:
        progress(len(flat))
    return counts


def format_of(out: str, fmt: str | None) -> str:
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


@dataclass(frozen=True)
class Exported:
    """What ``export_dataset``/``export_trained`` wrote: rows, rows per split, the chat
    template's file (``messages`` only), and for ``--trained`` the round's method and the
    rows' sha256."""

    n_rows: int
    counts: dict[str, int]
    template: Path | None = None
    method: str | None = None
    sha256: str | None = None


def export_dataset(store, out: Path, fmt: str, kind: str, *, run: str | None, round_index: int | None,
                   problem: str | None, prompt_contains: str | None, judge: str | None, source: str | None,
                   rationalized: bool | None, checkpoint: str | None, split: str, pairs_per_problem: int,
                   with_meta: bool) -> Exported:  # fmt: skip
    """The samples the filters select as a ``kind`` dataset at ``out`` (``split``: train,
    heldout or all); a ``messages`` export also writes its policy's chat template
    (``policy_chat_template``: refused before anything is written if there is none)."""
    template = policy_chat_template(store, run, checkpoint) if kind == "messages" else None
    with step("export: reading the samples", min_seconds=1.0):
        rows = store.export_samples(
            run_id=run, round_index=round_index, problem=problem, problem_text=prompt_contains, judge=judge,
            source=source, rationalized=rationalized, checkpoint_id=checkpoint,
            split=None if split == "all" else split,
        )  # fmt: skip
        if kind == "prompt":
            data = prompt_rows(store.get_problems(problem_ids(rows)))
        else:
            data = dataset_rows(rows, kind, with_meta=with_meta, pairs_per_problem=pairs_per_problem)
    with step(f"export: writing {out.name}", total=len(data), min_seconds=1.0) as advance:
        counts = write_dataset(data, out, fmt, keep_split=kind == "prompt" and split == "all", progress=advance)
    path = None
    if template is not None:
        path = template_path(out, fmt)
        path.write_text(template, encoding="utf-8")
    return Exported(len(data), counts, path)


def export_trained(store, run: str | None, round_index: int | None, out: Path, fmt: str) -> Exported:
    """``--trained``: the rows the round's checkpoint trained on, in order, in TRL's format
    (``loops/trained.py``: re-rendered from the store and checked against the checkpoint's hash)."""
    from selftaught.loops.trained import rows_sha256, trained_rows

    if run is None or round_index is None:
        raise ConfigError("--trained needs --run and --round: the rows one round's checkpoint trained on")
    method, rows = trained_rows(store, run, round_index)
    write_dataset([{**r, "split": "train"} for r in rows], out, fmt)
    return Exported(len(rows), {"train": len(rows)}, method=method, sha256=rows_sha256(rows))
