"""``selftaught cai RECIPE.yaml``: an alias of ``selftaught run`` for Constitutional AI recipes
(``method: sl-cai | rl-cai``; an old CAI recipe file is read in the new form, with a note)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer


def cai(
    recipe_file: Annotated[Path, typer.Argument(metavar="RECIPE.yaml", help="The CAI recipe (see recipes/cai-smollm2.yaml).")],
    resume: Annotated[Optional[str], typer.Option(help="Continue this run id (its stages marked done are skipped).")] = None,
    run_id: Annotated[Optional[str], typer.Option("--run-id", help="Id for a new run [default: name-date-time].")] = None,
    force: Annotated[bool, typer.Option("--force", help="With --resume: take the run over from another live process (as `selftaught run --force`).")] = False,
    db: Annotated[Optional[str], typer.Option("--db", help="Store URL [env SELFTAUGHT_DB_URL].")] = None,
    home: Annotated[Optional[Path], typer.Option("--home", help="Folder for checkpoints [env SELFTAUGHT_HOME].")] = None,
    threads: Annotated[Optional[int], typer.Option(min=0, help="torch threads [env SELFTAUGHT_TORCH_THREADS].")] = None,
) -> None:
    """Run (or resume) Constitutional AI rounds -- `selftaught run` under another name: SL
    (critique -> revise -> SFT) or RL (AI-feedback pairs -> DPO), then the held-out violation rate.

    The constitution file is read again at the start of every round: edit it between rounds
    (`selftaught constitution edit FILE`) and the next round follows it; `selftaught rounds
    RUN` shows each round's constitution hash. To add rounds to a run, raise `rounds:` in the
    recipe and resume; any other change to the recipe needs a new run.

    Example:  selftaught cai recipes/cai-smollm2.yaml
              selftaught cai recipes/cai-smollm2.yaml --resume cai-smollm2-20261125-101500-0042
    """
    from selftaught.cli.main import err, run

    run(recipe_file, resume=resume, run_id=run_id, force=force, retrain_from=None, db=db, home=home, threads=threads)
    err.print("greedy/pass@1 = share of held-out answers with no violation of the checked principles")


def register(app: typer.Typer) -> None:
    app.command("cai")(cai)
