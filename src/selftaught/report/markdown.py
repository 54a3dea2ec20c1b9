"""The round table as markdown: what each round publishes to the Prefect UI.

``round_table_markdown(rows)`` takes ``Store.round_table`` rows and returns a GitHub-style
table (one line per round: samples, train pass rate, rationalized, curated rows, held-out
greedy / pass@1 / pass@k / maj@k, seconds, device). ``artifact_key(run_id)`` is the Prefect
artifact key for a run (lowercase letters, digits and dashes only), so the UI shows the
latest table of each run under one key with its history of versions.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from selftaught.hardware import describe
from selftaught.records import Stage

if TYPE_CHECKING:
    from selftaught.store import RoundRow


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v:.1%}"


def round_table_markdown(rows: list[RoundRow], *, title: str = "") -> str:
    """A markdown table of a run's rounds.

    >>> from selftaught.store import RoundRow, StagePlacement
    >>> print(round_table_markdown([RoundRow(index=0, stages_done=("train",), stage_status={"train": "done"},
    ...     n_samples=0, n_generate=0, n_rationalized=0, n_judged=0, pass_rate=None, n_train=0,
    ...     n_train_rationalized=0, checkpoint_id=None, heldout_k=2, heldout_greedy=0.5,
    ...     heldout_pass_at_1=0.25, heldout_pass_at_k=0.5, heldout_maj_at_k=0.25, seconds={"train": 1.5},
    ...     placement={"train": StagePlacement(device="cpu", dtype="float32", peak_gpu_mb=None)},
    ...     constitution_hash=None)]).splitlines()[2])
    | 0 (1/6 stages) | 0 | - | 0 | 0 | 50.0% | 25.0% | 50.0% | 25.0% | 2 | cpu/float32 |
    """
    k = next((r.heldout_k for r in rows if r.heldout_k), "k")
    head = ["round", "samples", "train pass", "rationalized", "train rows", "greedy", "pass@1",
            f"pass@{k}", f"maj@{k}", "seconds", "device"]  # fmt: skip
    lines = [f"### {title}", ""] if title else []
    lines += ["| " + " | ".join(head) + " |", "|" + "---:|" * len(head)]
    for r in rows:
        label = str(r.index)
        done = len(r.stages_done)
        if done < len(Stage):
            label += f" ({done}/{len(Stage)} stages)"
        cells = [
            label, str(r.n_samples), _pct(r.pass_rate), str(r.n_rationalized),
            str(r.n_train), _pct(r.heldout_greedy), _pct(r.heldout_pass_at_1),
            _pct(r.heldout_pass_at_k), _pct(r.heldout_maj_at_k),
            f"{sum(r.seconds.values()):.0f}", describe(r.placement),
        ]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def artifact_key(run_id: str) -> str:
    """A Prefect artifact key for ``run_id``.

    >>> artifact_key("Demo_Star/2026-11-25 10:15")
    'selftaught-demo-star-2026-11-25-10-15'
    """
    slug = re.sub(r"[^a-z0-9]+", "-", run_id.lower()).strip("-")
    return f"selftaught-{slug}"[:100].rstrip("-")
