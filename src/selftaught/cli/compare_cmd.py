"""``selftaught compare RUN_A RUN_B [RUN_C ...]``: did one run beat the other on held-out problems?

    selftaught compare star-0042 rft-0042                 # table, solved-set differences, plot
    selftaught compare star-0042 rft-0042 --show 10       # ... and up to 10 ids per run
    selftaught compare star-0042 rft-0042 --json          # one JSON object, no plot

In: two or more run ids of one store. Out, on stdout:

* held-out metrics per round side by side, one row per run in each round (greedy, pass@1,
  pass@k, maj@k at the largest k evaluated, as ``selftaught rounds`` shows them:
  ``Store.round_table``);
* per run, the held-out problems it solved in its latest evaluated round, and how many of
  them no other run solved. A problem is *solved* when its greedy completion or any of its
  K sampled completions passes (greedy correct or pass@1 > 0), every verdict counted
  (``Store.problem_pass_rates`` over ``eval`` samples);
* a PNG of held-out sampled accuracy (pass@1) per round, one line per run (``cli/plots.py``), at
  ``HOME/compare-A-B.png`` or ``--plot PATH``. ``--json`` writes a plot only with ``--plot``.

Only the store is read (no model, no Prefect): ``service/compare.py`` computes it all, this
module prints it. An unknown run id is a ``StoreError``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Optional

import typer

from selftaught.cli.options import DbOpt, HomeOpt

def compare_table(result: dict):
    """One block of rows per round, one row per run in it: k and the four held-out metrics."""
    from rich import box
    from rich.table import Table

    from selftaught.cli.tables import _pct
    from selftaught.service.compare import METRICS

    t = Table(title="held-out accuracy per round", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True,
              caption="round 0 is the cold start; pass@1 = sampled accuracy")  # fmt: skip
    for col in ("round", "run", "k", "greedy", "pass@1", "pass@k", "maj@k"):
        t.add_column(col, justify="left" if col == "run" else "right", no_wrap=col != "run")
    by_run = {r: {m["index"]: m for m in rows} for r, rows in result["metrics"].items()}
    for index in sorted({i for rows in by_run.values() for i in rows}):
        for n, run in enumerate(r for r in result["runs"] if index in by_run[r]):
            m = by_run[run][index]
            t.add_row(str(index) if n == 0 else "", run, str(m["k"] or "-"), *(_pct(m[key]) for key in METRICS),
                      end_section=False)  # fmt: skip
        t.add_section()
    return t


def solved_lines(result: dict, show: int) -> list[str]:
    """The solved-set section: per run, solved of evaluated and how many only it solved."""
    runs = result["runs"]
    others = "the other run" if len(runs) == 2 else "any other run"
    lines = [f"held-out problems solved: {result['definition']}"]
    width = max(len(r) for r in runs)
    for r in runs:
        s = result["solved"][r]
        if s is None:
            lines.append(f"  {r:<{width}}  no held-out evaluation samples")
            continue
        only = result["only"][r]
        lines.append(f"  {r:<{width}}  round {s['round']}: solved {len(s['solved'])} of {s['n_evaluated']}; "
                     f"{len(only)} not solved by {others}")  # fmt: skip
        if show and only:
            more = f" (+{len(only) - show} more)" if len(only) > show else ""
            lines.append(f"  {'':<{width}}    {', '.join(only[:show])}{more}")
    if not result["same_problems"]:
        lines.append("note: the runs evaluated different held-out problems; a problem one run never saw counts as not solved by it")
    return lines


def default_plot_path(home: Path, run_ids: list[str]) -> Path:
    return Path(home) / ("compare-" + "-".join(re.sub(r"[^A-Za-z0-9_.-]", "_", r) for r in run_ids) + ".png")


def compare(
    run_ids: Annotated[list[str], typer.Argument(metavar="RUN", help="Two or more run ids.")],
    show: Annotated[int, typer.Option("--show", min=0, metavar="N", help="List up to N ids of the problems only one run solved.")] = 0,
    plot: Annotated[Optional[Path], typer.Option("--plot", show_default="HOME/compare-A-B.png; none with --json", help="Where to write the PNG.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object for scripts (every id; a plot only with --plot).")] = False,
    db: DbOpt = None,
    home: HomeOpt = None,
) -> None:
    """Compare runs: held-out metrics per round side by side, the held-out problems each run
    solved that the other(s) did not, and a plot of held-out accuracy per round.

    A problem counts as solved when its greedy completion is correct or pass@1 > 0 (any of its K sampled completions passes), in each run's latest evaluated round.

    Example:  selftaught compare star-0042 rft-0042 --show 10
    """
    from selftaught.cli.options import console, resolve, store_at
    from selftaught.cli.plots import plot_runs
    from selftaught.service.compare import compare_runs

    if len(run_ids) < 2:
        raise typer.BadParameter("give at least two run ids to compare", param_hint="RUN")
    if len(set(run_ids)) < len(run_ids):
        raise typer.BadParameter("a run id is given twice", param_hint="RUN")
    db, home, _ = resolve(db, home)
    tables, result = compare_runs(store_at(db), run_ids, db)
    if plot is not None or not as_json:
        out = plot or default_plot_path(home, run_ids)
        result["plot"] = str(plot_runs(tables, out, title=" vs ".join(run_ids)))
    else:
        result["plot"] = None
    if as_json:
        print(json.dumps(result, indent=1))
        return
    console.print(compare_table(result))
    for line in solved_lines(result, show):
        console.print(line, highlight=False, markup=False, soft_wrap=True)
    console.print(f"wrote {result['plot']}", highlight=False, markup=False)


def register(app: typer.Typer) -> None:
    app.command("compare")(compare)
