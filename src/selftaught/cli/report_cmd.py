"""``selftaught report RUN``: a self-contained HTML page about a run (``selftaught.report``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from selftaught.cli.options import RunArg, StoreUrlOpt


def report(
    run_id: RunArg,
    out: Annotated[Optional[Path], typer.Option("-o", "--out", help="Where to write the page [default: HOME/runs/RUN/report.html].")] = None,
    db: StoreUrlOpt = None,
    home: Annotated[Optional[Path], typer.Option("--home", help="Folder for checkpoints and reports [env SELFTAUGHT_HOME].")] = None,
    judge_version: Annotated[Optional[str], typer.Option("--judge-version", help="Read the verdicts of this judge version (`selftaught rejudge`) [default: the version each round used].")] = None,
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
