"""Tables people read: rounds, runs, samples, checkpoints and their verification."""

from __future__ import annotations

from rich import box
from rich.markup import escape
from rich.table import Table

from typing import TYPE_CHECKING, Sequence

from selftaught.hardware import describe
from selftaught.records import Stage

if TYPE_CHECKING:
    from selftaught.store import RoundRow, RunInfo, SampleHit


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v:.1%}"


def round_table(rows: list[RoundRow], timings: list[dict] | None = None, *, title: str = "") -> Table:
    """One row per round: samples, train pass rate, rationalized, curated rows, held-out accuracy.

    Held-out columns: greedy accuracy, sampled accuracy (pass@1), pass@k and maj@k. ``orch``
    is the share of the round's wall time spent outside the stages (Prefect and the
    store's bookkeeping): ``timings`` from a run in this process, else the wall time the
    store recorded for the round (``RoundRow.orchestration_share``; ``-`` if none was). ``const.`` (only for
    runs with a constitution) is the first 8 hex digits of the round's constitution hash.

    The title says where the run's stages ran their models: ``run R on cpu/float32``, or
    ``on cuda/bf16 (12.3 GB)`` with the peak GPU memory of its hungriest stage (each stage's
    is in ``selftaught rounds R --json``, and per round in the Prefect artifact). Not a column:
    the table already fills 80 characters, and one placement per run is the rule.
    """
    where = describe({(r.index, stage): p for r in rows for stage, p in r.placement.items()})
    if where != "-":
        title = f"{title} on {where}" if title else where
    t = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True, caption="round 0 is the cold-start policy; orch = share of wall time outside the stages")
    k = next((r.heldout_k for r in rows if r.heldout_k), "k")
    for col in ("round", "samples", "pass", "ration.", "rows", "greedy", "pass@1", f"pass@{k}", f"maj@{k}", "sec", "orch"):
        t.add_column(col, justify="right", no_wrap=True, min_width=len(col))
    constitutional = any(r.constitution_hash for r in rows)
    if constitutional:
        t.add_column("const.", no_wrap=True)
    overhead = {x["index"]: x for x in timings or []}
    for r in rows:
        secs = sum(r.seconds.values())
        o = overhead.get(r.index)
        done = len(r.stages_done)
        label = str(r.index)
        if done < len(Stage):
            label += f" ({done}/{len(Stage)} stages)"
        cells = [
            label,
            str(r.n_samples),
            _pct(r.pass_rate),
            str(r.n_rationalized),
            str(r.n_train),
            _pct(r.heldout_greedy),
            _pct(r.heldout_pass_at_1),
            _pct(r.heldout_pass_at_k),
            _pct(r.heldout_maj_at_k),
            f"{secs:.0f}",
            _pct(r.orchestration_share if o is None else o["orchestration_share"]),
        ]
        if constitutional:
            cells.append((r.constitution_hash or "-")[:8])
        t.add_row(*cells)
    return t


def checkpoints_table(rows: list[dict], *, title: str = "") -> Table:
    """One row per checkpoint: round, id, parent, whether its weights are on disk, folder."""
    t = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    for col in ("round", "id", "parent", "weights", "path"):
        t.add_column(col, justify="right" if col == "round" else "left", overflow="fold")
    for r in rows:
        weights = r["weights"]
        t.add_row(
            "-" if r["round"] is None else str(r["round"]), r["id"], r["parent_id"] or "-",
            f"[yellow]{weights}[/]" if weights.startswith("pruned") else weights, r["path"],
        )
    return t


def verify_table(rows: list[dict], *, title: str = "") -> Table:
    """One row per checkpoint: round, id, ok / damaged / pruned, the file at fault and why."""
    t = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    for col in ("round", "id", "status", "file", "why", "path"):
        t.add_column(col, justify="right" if col == "round" else "left", overflow="fold")
    colour = {"ok": "green", "damaged": "red", "pruned": "yellow"}
    for r in rows:
        t.add_row(
            "-" if r["round"] is None else str(r["round"]), r["id"], f"[{colour[r['status']]}]{r['status']}[/]",
            escape(r["file"] or "-"), escape(r["why"] or ""), escape(r["path"]),
        )
    return t


def runs_table(runs: list[RunInfo]) -> Table:
    t = Table(title="runs")
    for col in ("id", "name", "status", "created"):
        t.add_column(col)
    for r in runs:
        t.add_row(r.id, r.name, r.status, str(r.created_at)[:19])
    return t


def samples_table(rows: Sequence[SampleHit], width: int = 60, *, title: str | None = None) -> Table:
    """One row per (sample, verdict); titled ``title``, else by how many rows it holds."""
    t = Table(title=f"{len(rows):,} samples" if title is None else title)
    for col in ("run", "round", "problem", "source", "#", "outcome", "score", "completion"):
        t.add_column(col, overflow="fold")
    for r in rows:
        text = (r.completion or "").replace("\n", " ")
        t.add_row(
            str(r.run), str(r.round), str(r.problem_id), str(r.source),
            str(r.index), str(r.outcome or "-"),
            "-" if r.score is None else f"{r.score:.2f}",
            text if len(text) <= width else text[: width - 1] + "…",
        )
    return t
