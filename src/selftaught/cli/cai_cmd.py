"""``selftaught cai RECIPE.yaml``: Constitutional AI rounds (``selftaught.flows.cai``)."""

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
    """Run (or resume) Constitutional AI rounds: SL (critique -> revise -> SFT) or RL
    (AI-feedback pairs -> DPO), then the held-out violation rate.

    The constitution file is read again at the start of every round: edit it between rounds
    (`selftaught constitution edit FILE`) and the next round follows it; `selftaught rounds
    RUN` shows each round's constitution hash. To add rounds to a run, raise `rounds:` in the
    recipe and resume; any other change to the recipe needs a new run.

    Example:  selftaught cai recipes/cai-smollm2.yaml
              selftaught cai recipes/cai-smollm2.yaml --resume cai-smollm2-20261125-101500-0042
    """
    from selftaught.cai_recipe import load_cai_recipe
    from selftaught.cli.main import _check_home, _owned, _print_rounds, _resume_command, _settings, _store, err, run_flow_here
    from selftaught.errors import ConfigError

    recipe = load_cai_recipe(recipe_file)
    db, home, threads = _settings(db, home, threads)
    params = recipe.model_dump(mode="json")
    if force and not resume:
        raise ConfigError("--force: only with --resume RUN (it takes over a run another process works on)")
    if resume:
        stored = _store(db).get_run(resume)
        if stored is None:
            raise ConfigError(f"--resume: no run {resume!r} in {db}")
        same = {k: v for k, v in stored.recipe.items() if k not in ("kind", "rounds")}
        if same != {k: v for k, v in params.items() if k != "rounds"}:
            raise ConfigError(
                f"the recipe differs from the one run {resume!r} started with (other than rounds:); "
                "start a new run instead",
                file=str(recipe_file),
            )
        run_id = resume
    elif run_id and _store(db).get_run(run_id) is not None:
        raise ConfigError(f"--run-id: run {run_id!r} already exists; use --resume {run_id}")
    from selftaught.flows.cai import new_cai_run_id

    run_id = run_id or new_cai_run_id(recipe)
    _check_home(home, recipe.policy)
    from selftaught.flows.cai import cai_run_flow

    held = _owned(db, run_id, not resume, force, home)  # refused here, in one line, if another process works on it
    err.print(f"[bold]{'resuming' if resume else 'starting'} CAI run[/] {run_id}  (store {db}, home {home})")
    resume_cmd = _resume_command("cai", recipe_file, run_id, db, home)
    run_flow_here(lambda: cai_run_flow(run_id, params, db, str(home), threads), resume_cmd, held)
    _print_rounds(db, run_id)
    err.print("greedy/pass@1 = share of held-out answers with no violation of the checked principles")


def register(app: typer.Typer) -> None:
    app.command("cai")(cai)
