"""tracking: experiment tracking through the libraries users already use (TensorBoard,
MLflow, Weights & Biases, Trackio).

In: the recipe's ``log:`` section (``LogSettings``: which backends, a project name, a folder).
Out: nothing returned -- metrics written to those backends, in two places:

- every TRL trainer reports its own step-level logs (``train/loss``, learning rate, ...) as
  transformers' ``report_to`` integrations do: ``trainer_args`` gives the trainer arguments
  (``report_to``, ``run_name``, ``project``) and ``trainer_env`` the environment those
  integrations read (``TENSORBOARD_LOGGING_DIR``, ``MLFLOW_TRACKING_URI``, ...; for W&B, the
  run itself) while one trainer runs. Both take a ``TrackingTarget``: where one trainer of one
  round logs (its run name is ``RUN/round-N-train``);
- ``log_round`` writes one round's metrics (held-out accuracy, judge pass rate, training
  rows, stage seconds; computed by the flow) with the round index as the step.

Where things go, under the target's folder (``dir``, default ``HOME/tracking``):

    tensorboard/RUN/rounds/            the round metrics, step = round
    tensorboard/RUN/round-N-train/     round N's trainer (transformers' TensorBoard callback)
    mlflow.db                          an MLflow SQLite store: experiment = project; one run
                                       per selftaught run (tag ``selftaught.run``) with the
                                       round metrics, one run per trainer (``RUN/round-N-train``)
    wandb/                             W&B's files (online, or offline with WANDB_MODE=offline)

Trackio keeps its own local store (its ``TRACKIO_DIR``, default under the HF cache).

No backend is imported unless the recipe names it, and none is a core dependency:
``pip install 'selftaught[tracking]'`` (TensorBoard, MLflow) or the backend's own package.
``not_installed`` is the check a recipe load and a run's start make, before any work. A
backend that fails while a round is logged costs that backend's copy of the round only:
``log_round`` returns one line per failure and the run goes on.

This module knows nothing of the store or of Prefect (``flows/tracking.py`` joins them).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from pydantic import field_validator

from selftaught.loops.section import Section

#: a tracking backend, as transformers' ``report_to`` names it
Tracker = Literal["tensorboard", "mlflow", "wandb", "trackio"]
#: each backend -> (the module it needs, the pip package that brings it)
NEEDS: dict[str, tuple[str, str]] = {
    "tensorboard": ("tensorboard", "tensorboard"),
    "mlflow": ("mlflow", "mlflow-skinny"),
    "wandb": ("wandb", "wandb"),
    "trackio": ("trackio", "trackio"),
}
#: the extra that installs the backends the tests use
EXTRA = "selftaught[tracking]"


class LogSettings(Section):
    """The recipe's ``log:`` section: where metrics go besides the store (off when absent)."""

    to: tuple[Tracker, ...] = ()
    "Backends: tensorboard, mlflow, wandb, trackio (each an optional package; `pip install 'selftaught[tracking]'` brings the first two)."
    project: str | None = None
    "MLflow experiment / W&B and Trackio project; None = the recipe's name."
    dir: str | None = None
    "Folder of the local stores (tensorboard/, mlflow.db, wandb/), relative to the recipe's folder; None = HOME/tracking."

    @field_validator("to", mode="before")
    @classmethod
    def _known(cls, value: Any) -> Any:
        names = [value] if isinstance(value, str) else value
        if isinstance(names, list | tuple):
            for name in names:
                if name not in NEEDS:
                    raise ValueError(f"unknown backend {name!r}; valid: {', '.join(NEEDS)}")
        return names


def not_installed(to: tuple[str, ...]) -> str | None:
    """Why the first of ``to`` cannot run here (its package is missing), or None.

    >>> not_installed(())
    """
    for name in to:
        module, package = NEEDS[name]
        if importlib.util.find_spec(module) is None:
            extra = f"pip install '{EXTRA}'" if name in ("tensorboard", "mlflow") else f"pip install {package}"
            return f"{name} is not installed: {extra}"
    return None


@dataclass(frozen=True)
class TrackingTarget:
    """Where one run's metrics go: the backends, project and folder, the selftaught run id,
    and ``name``, the run name of one trainer (``RUN/round-N-train``; the run id for the
    round metrics). Plain data: it travels to a train worker process as JSON."""

    to: tuple[str, ...]
    project: str
    dir: str
    run_id: str
    name: str

    def tensorboard_dir(self) -> Path:
        """This target's TensorBoard folder: ``DIR/tensorboard/RUN/<last part of name>``."""
        leaf = "rounds" if self.name == self.run_id else self.name.rsplit("/", 1)[-1]
        return Path(self.dir) / "tensorboard" / _safe(self.run_id) / _safe(leaf)

    def mlflow_uri(self) -> str:
        return "sqlite:///" + str(Path(self.dir).resolve() / "mlflow.db")


def _safe(name: str) -> str:
    """A name usable as one folder or run id.

    >>> _safe("arith-2026/round-1 train")
    'arith-2026_round-1_train'
    """
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def target_for(
    log: LogSettings | Mapping[str, Any] | None, *, project: str, home: Path, run_id: str, name: str | None = None
) -> TrackingTarget | None:
    """Where run ``run_id``'s metrics go under its recipe's ``log`` section (or its stored
    form), or None without one: ``project`` and ``HOME/tracking`` where the section names
    none; ``name`` a trainer's run name (default: the run id, for the round metrics)."""
    if log is not None and not isinstance(log, LogSettings):
        log = LogSettings.model_validate(log)
    if log is None or not log.to:
        return None
    folder = log.dir if log.dir is not None else str(Path(home) / "tracking")
    return TrackingTarget(to=tuple(log.to), project=log.project or project, dir=folder, run_id=run_id,
                          name=name or run_id)  # fmt: skip


def target_from(data: Mapping[str, Any] | None) -> TrackingTarget | None:
    """A ``TrackingTarget`` read back from its JSON form (a train worker's call)."""
    return None if data is None else TrackingTarget(**{**data, "to": tuple(data["to"])})


# ----------------------------------------------------------------------- trainers


def trainer_args(target: TrackingTarget | None) -> dict[str, Any]:
    """The trainer arguments that send a TRL trainer's logs to ``target`` (``report_to``
    "none" without one).

    >>> trainer_args(None)
    {'report_to': 'none'}
    """
    if target is None or not target.to:
        return {"report_to": "none"}
    return {"report_to": list(target.to), "run_name": target.name, "project": target.project}


#: backend -> the environment its transformers integration reads, for one target
_ENV: dict[str, Callable[[TrackingTarget], dict[str, str]]] = {
    "tensorboard": lambda t: {"TENSORBOARD_LOGGING_DIR": str(t.tensorboard_dir())},
    "mlflow": lambda t: {
        "MLFLOW_TRACKING_URI": t.mlflow_uri(), "MLFLOW_EXPERIMENT_NAME": t.project,
        "MLFLOW_TAGS": json.dumps({"selftaught.run": t.run_id, "selftaught.kind": "trainer"}),
    },
    "wandb": lambda t: {"WANDB_PROJECT": t.project},  # and the run opened by ``trainer_env``
    "trackio": lambda t: {},
}


def _open_mlflow(target: TrackingTarget) -> None:
    import mlflow

    _quiet_mlflow()
    mlflow.set_tracking_uri(target.mlflow_uri())  # the callback keeps a URI set earlier


def _open_wandb(target: TrackingTarget) -> None:
    """W&B reads WANDB_DIR once per process: the trainer's run is opened here (rank 0), and
    transformers' callback logs into it."""
    import wandb

    if int(os.environ.get("RANK", "0")) == 0:
        wandb.init(project=target.project, dir=str(Path(target.dir).resolve()), name=target.name,
                   job_type="train", reinit="finish_previous")  # fmt: skip


def _close_mlflow(failed: bool) -> None:
    import mlflow

    if mlflow.active_run() is not None:
        mlflow.end_run(status="FAILED" if failed else "FINISHED")


def _close_wandb(failed: bool) -> None:
    import wandb

    if wandb.run is not None:
        wandb.finish(exit_code=1 if failed else 0)


#: backend -> what it needs before a trainer starts / after it ends (the others: nothing)
_OPEN: dict[str, Callable[[TrackingTarget], None]] = {"mlflow": _open_mlflow, "wandb": _open_wandb}
_CLOSE: dict[str, Callable[[bool], None]] = {"mlflow": _close_mlflow, "wandb": _close_wandb}


@contextmanager
def trainer_env(target: TrackingTarget | None) -> Iterator[TrackingTarget | None]:
    """While one trainer is built and trains: the environment its ``report_to`` integrations
    read (restored afterwards), and each backend's run closed at the end (W&B and MLflow keep
    a run open per process, which the next trainer would otherwise log into).

    Yields the target to build the trainer's arguments from: ``target`` less any backend that
    failed to open (one warning line each: a tracker never costs the training).
    """
    if target is None or not target.to:
        yield target
        return
    usable = []
    for name in target.to:
        try:
            Path(target.dir).mkdir(parents=True, exist_ok=True)
            _OPEN.get(name, lambda t: None)(target)
            usable.append(name)
        except Exception as exc:  # noqa: BLE001 - a tracker must never cost the training
            _warn(f"{name}: trainer {target.name} not logged: {_reason(exc)}")
    target = replace(target, to=tuple(usable))
    env: dict[str, str] = {}
    for name in target.to:
        env.update(_ENV[name](target))
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    failed = True
    try:
        yield target
        failed = False
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        for name in target.to:
            try:
                _CLOSE.get(name, lambda f: None)(failed)
            except Exception as exc:  # noqa: BLE001
                _warn(f"{name}: trainer {target.name}'s run not closed: {_reason(exc)}")


def _reason(exc: BaseException) -> str:
    """An exception as one short line."""
    return f"{type(exc).__name__}: " + " ".join(str(exc).split())[:200]


def _warn(line: str) -> None:
    """One warning line (``tracking: ...``) on the ``selftaught`` logger."""
    import logging

    logging.getLogger("selftaught").warning("tracking: %s", line)


def _quiet_mlflow() -> None:
    """MLflow logs at INFO when it creates its tables; a run's output stays ours."""
    import logging

    logging.getLogger("mlflow").setLevel(logging.WARNING)


# ----------------------------------------------------------------------- rounds


def log_round(target: TrackingTarget, step: int, metrics: Mapping[str, float]) -> list[str]:
    """Write ``metrics`` at ``step`` (the round index) to every backend of ``target``.

    Returns one line per backend that failed (the others are written regardless); never
    raises for a backend's failure.
    """
    failures = []
    for name in target.to:
        try:
            _ROUND_WRITERS[name](target, step, dict(metrics))
        except Exception as exc:  # noqa: BLE001 - a tracking backend must never cost the round
            failures.append(f"{name}: round {step} not logged: {_reason(exc)}")
    return failures


def _tensorboard_round(target: TrackingTarget, step: int, metrics: dict[str, float]) -> None:
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(log_dir=str(target.tensorboard_dir()))
    try:
        for key, value in metrics.items():
            writer.add_scalar(key, value, step)
    finally:
        writer.close()


def _mlflow_round(target: TrackingTarget, step: int, metrics: dict[str, float]) -> None:
    """The round metrics on the run's own MLflow run (found by its tag, so a resumed run
    goes on with the same one), through a client: no active run is left in this process."""
    import time

    from mlflow import MlflowClient
    from mlflow.entities import Metric

    _quiet_mlflow()
    Path(target.dir).mkdir(parents=True, exist_ok=True)
    client = MlflowClient(tracking_uri=target.mlflow_uri())
    experiment = client.get_experiment_by_name(target.project)
    exp_id = experiment.experiment_id if experiment is not None else client.create_experiment(target.project)
    found = client.search_runs(
        [exp_id], filter_string=f"tags.`selftaught.run` = '{target.run_id}' and tags.`selftaught.kind` = 'rounds'"
    )
    if found:
        run_id = found[0].info.run_id
    else:
        tags = {"selftaught.run": target.run_id, "selftaught.kind": "rounds"}
        run_id = client.create_run(exp_id, run_name=target.run_id, tags=tags).info.run_id
    now = int(time.time() * 1000)
    client.log_batch(run_id, metrics=[Metric(key, float(value), now, step) for key, value in metrics.items()])
    client.set_terminated(run_id)  # FINISHED between rounds; the next round logs to it again


def _wandb_round(target: TrackingTarget, step: int, metrics: dict[str, float]) -> None:
    """One W&B run per selftaught run (its id derived from the run id: a resume goes on with
    it), opened and finished around each round so no trainer logs into it."""
    import wandb

    run = wandb.init(project=target.project, dir=str(Path(target.dir).resolve()), name=target.run_id,
                     id=_safe(target.run_id), resume="allow", job_type="rounds", reinit="create_new")  # fmt: skip
    try:
        run.log(metrics, step=step)
    finally:
        run.finish()


def _trackio_round(target: TrackingTarget, step: int, metrics: dict[str, float]) -> None:
    import trackio

    trackio.init(project=target.project, name=target.run_id, resume="allow")
    try:
        trackio.log(metrics, step=step)
    finally:
        trackio.finish()


#: backend -> how it takes one round's metrics
_ROUND_WRITERS: dict[str, Callable[[TrackingTarget, int, dict[str, float]], None]] = {
    "tensorboard": _tensorboard_round,
    "mlflow": _mlflow_round,
    "wandb": _wandb_round,
    "trackio": _trackio_round,
}
