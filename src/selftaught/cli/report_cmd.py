"""``selftaught report RUN``: a self-contained HTML page about a run (``selftaught.report``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from selftaught.cli.options import HomeOpt, JudgeVersionOpt, RunArg, StoreUrlOpt


def report(
    run_id: RunArg,
    out: Annotated[Optional[Path], typer.Option("-o", "--out", show_default="HOME/runs/RUN/report.html", help="Where to write the page.")] = None,
    db: StoreUrlOpt = None,
    home: HomeOpt = None,
    judge_version: JudgeVersionOpt = None,
) -> None:
    """Write an HTML report of a run: held-out accuracy, pass-rate distribution, score
    histograms and samples per round, the round table, each round's training-loss curve
    and held-out problems newly solved or lost, and a filterable sample browser (a bounded
    sample of rows with the exact counts). Plots are embedded: the file has no external
    resources.

    Example:  selftaught report demo-star-20261125-101500-0042 -o report.html
    """
    import re

    from selftaught.cli.options import console, resolve, store_at
    from selftaught.report.html import write_report

    db, home, _ = resolve(db, home)
    path = out or Path(home) / "runs" / re.sub(r"[^A-Za-z0-9_.-]", "_", run_id) / "report.html"
    write_report(store_at(db, home), run_id, path, judge_version=judge_version)
    console.print(f"wrote {path}")


def register(app: typer.Typer) -> None:
    app.command("report")(report)
