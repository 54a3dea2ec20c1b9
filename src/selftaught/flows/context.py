"""What a run's stages share: the run's store, folders, problems and placement
(``RunContext``), and ``run_stage``, the one rule every stage follows (skip if the store says
done; else record start, run the body, record finish or failure -- ``interrupted (SIGINT)``
for a signal -- with its timing and, for a stage that runs a model, the device, dtype and
peak GPU memory it used). Also what every run flow does first (``start_run``: the run's row,
its lease, its leftovers) and the Prefect settings of a run in this process
(``local_run_settings``). See ``flows/rounds.py`` for how rounds are assembled from stages,
``flows/lease.py`` for the one process that may write a run's stages."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path

from selftaught.errors import CheckpointError
from selftaught.progress import Advance, reporter
from selftaught.hardware import Placement, peak_memory_mb, reset_peak_memory
from selftaught.judges.base import Verifier
from selftaught.judges.registry import judge_for
from selftaught.recipe import Method, Recipe
from selftaught.records import Checkpoint, Problem, SampleSource, Split, Stage
from selftaught.store import RunStatus, Store

# ------------------------------------------------------------------------ prefect

#: where a user turns Prefect's flow-run heartbeats on (the second is the legacy name)
HEARTBEAT_ENV = ("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", "PREFECT_RUNNER_HEARTBEAT_FREQUENCY")


@contextmanager
def local_run_settings() -> Iterator[None]:
    """Prefect settings for flows this process runs itself (``selftaught run|demo|cai``).

    Without ``PREFECT_API_URL``, Prefect's temporary server is started first, in a session
    of its own and tied to this process's life (``flows/temporary_server.py``): a signal to
    the run's process group does not stop it before the run has reported its end, and a
    ``kill -9`` of the run takes it along.

    Prefect 3.9 gives every flow run a heartbeat thread that sleeps in 1 s steps and is
    joined when the run ends, so each flow run's exit waits up to a second -- each round is
    a flow run, so a ~15 s demo round spent 0.7-0.9 s there (its whole "Prefect share").
    Heartbeats only feed a server's zombie-run detection, which a run in this process on
    Prefect's temporary server has no use for: unless the user set a heartbeat frequency
    (``HEARTBEAT_ENV``), they are off here. Scheduled runs executed by a worker keep
    Prefect's own settings.
    """
    from selftaught.flows.temporary_server import start_linked_server

    start_linked_server()
    with _run_logs_to_api_only():
        if any(os.environ.get(name) for name in HEARTBEAT_ENV):
            yield
            return
        from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

        with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
            yield


#: Prefect's loggers of flow and task runs: they log a failed stage's traceback at ERROR
RUN_LOGGERS = ("prefect.flow_runs", "prefect.task_runs")


@contextmanager
def _run_logs_to_api_only() -> Iterator[None]:
    """Flow and task run logs go to Prefect's API (its UI shows them), not to the terminal.

    A failed stage is reported once by the CLI, as one line; Prefect would also print its
    traceback twice more (task run, then each flow run). ``SELFTAUGHT_TRACEBACK=1`` keeps them.
    """
    if os.environ.get("SELFTAUGHT_TRACEBACK"):
        yield
        return
    import logging

    import prefect.logging.configuration  # noqa: F401 - configures the loggers on import

    loggers = [logging.getLogger(name) for name in RUN_LOGGERS]
    before = [lg.propagate for lg in loggers]
    for lg in loggers:
        lg.propagate = False
    try:
        yield
    finally:
        for lg, value in zip(loggers, before):
            lg.propagate = value


# ---------------------------------------------------------------------------- context

_stores: dict[tuple[str, str | None], Store] = {}


def open_store(db_url: str, home: str | Path | None = None) -> Store:
    """One Store per URL and home folder per process (schema upgraded on first open); its
    checkpoint paths are relative to ``home`` (default SELFTAUGHT_HOME; ``homepaths``)."""
    key = (db_url, None if home is None else os.path.abspath(home))
    if key not in _stores:
        _stores[key] = Store(db_url, home=home)
    return _stores[key]


class RunLayout:
    """Where a run keeps things: its store, folder and checkpoints (needs run_id, db_url, home)."""

    run_id: str
    db_url: str
    home: Path

    @property
    def store(self) -> Store:
        return open_store(self.db_url, self.home)

    def run_dir(self) -> Path:
        return self.home / "runs" / re.sub(r"[^A-Za-z0-9_.-]", "_", self.run_id)

    def checkpoint_dir(self, index: int) -> Path:
        return self.run_dir() / f"round-{index:03d}"

    def checkpoint_id(self, index: int) -> str:
        return f"{self.run_id}/r{index}"

    def checkpoint(self, index: int) -> Checkpoint:
        ckpt = self.store.get_checkpoint(self.checkpoint_id(index))
        if ckpt is None:
            raise CheckpointError(f"run {self.run_id}: round {index} has no checkpoint in the store")
        return ckpt


@dataclass(frozen=True)
class RunContext(RunLayout):
    """What every stage needs to know; rebuilt from plain flow parameters."""

    run_id: str
    recipe: Recipe
    db_url: str
    home: Path
    threads: int = 0


    @property
    def placement(self) -> Placement:
        """The device and dtype every model of this run uses here (the recipe's, decided)."""
        return self.recipe.placement()


    # -- problems are a pure function of the recipe; the store gets a copy on run start
    @cached_property
    def train_pool(self) -> list[Problem]:
        return _load_problems(self.recipe, Split.TRAIN)

    @cached_property
    def heldout(self) -> list[Problem]:
        return _load_problems(self.recipe, Split.HELDOUT)

    def round_problems(self, index: int) -> list[Problem]:
        from selftaught.loops.rounds import problems_for_round

        split = self.round_curriculum(index)
        if split is not None:
            return list(split.kept)
        return problems_for_round(self.train_pool, index, self.recipe.task.prompts_per_round)

    def judge(self) -> Verifier:
        """The recipe's judge, from the registry, reading the prompt's answer format."""
        prompt = self.recipe.prompt
        return judge_for(self.recipe.judge, answer_format=prompt.answer_format, strict=bool(prompt.strict))

    @cached_property
    def style(self):
        """How problems are shown to the policy (``loops/prompting.py``)."""
        return self.recipe.prompt.style()

    def answer_fn(self) -> Callable[[str], str | None]:
        """How maj@k reads a final answer: the judge's own reading (``judges.extract``)."""
        from functools import partial

        from selftaught.judges import VERIFIERS
        from selftaught.judges.extract import extract_answer

        prompt = self.recipe.prompt
        plain = VERIFIERS[self.recipe.judge].plain_answers
        return partial(extract_answer, fmt=prompt.answer_format, strict=bool(prompt.strict), plain=plain)

    def format_style(self) -> str:
        """What the ``format`` reward checks: the prompt's answer format."""
        fmt = self.recipe.prompt.answer_format
        return fmt if fmt in ("think", "boxed", "answer_is") else "think"

    def method(self, index: int) -> Method:
        return self.recipe.method_for_round(index)

    def family(self, index: int):
        return self.recipe.family_for_round(index)

    def plan(self, index: int):
        """Which step fills each stage slot of round ``index`` (``loops/methods.PLANS``)."""
        from selftaught.loops.methods import plan_for

        return plan_for(self.family(max(index, 1)), index)

    def round_curriculum(self, index: int):
        """The round's block of problems split by the recipe's pass-rate band (or None)."""
        spec = self.recipe.curriculum
        if spec is None:
            return None
        from selftaught.loops.curriculum import (
            CurriculumBand,
            band_filter,
            pass_rate_map,
        )
        from selftaught.loops.rounds import problems_for_round

        rows = [
            row
            for source in (SampleSource.GENERATE, SampleSource.ROLLOUT)
            for row in self.store.problem_pass_rates(self.run_id, source=source)
        ]
        band = CurriculumBand(low=spec.low, high=spec.high, keep_unseen=spec.keep_unseen)
        block = problems_for_round(self.train_pool, index, self.recipe.task.prompts_per_round)
        return band_filter(block, pass_rate_map(rows, before_round=index), band)


@contextmanager
def start_run(ctx: RunLayout, *, name: str, recipe: dict, problems: list[Problem]) -> Iterator[None]:
    """What every run flow does first, and holds while it runs: the run's row (kept if there),
    its lease (``flows/lease.py``; the CLI may hold it already), its problems, status
    ``running``, then the temporary folders a killed attempt left in the run's folder removed
    -- only now that the run is this process's own."""
    from selftaught.flows.lease import hold_run
    from selftaught.loops.checkpoint import remove_temporary_folders

    store = ctx.store
    store.create_run(ctx.run_id, name=name, recipe=recipe)
    with hold_run(store, ctx.run_id):
        store.add_problems(problems)
        store.set_run_status(ctx.run_id, RunStatus.RUNNING)
        remove_temporary_folders(ctx.run_dir())
        yield


def check_task(recipe: Recipe) -> None:
    """Load both splits' problems once, before a run exists: a bad problem file (a line that
    is not UTF-8, not JSON, without an answer) or a task too small for its split is a
    one-line ``DataError`` here, not a failed flow after the first stage."""
    for split in (Split.TRAIN, Split.HELDOUT):
        _load_problems(recipe, split)


def _load_problems(recipe: Recipe, split: Split) -> list[Problem]:
    task = recipe.task
    if task.kind == "prompts":
        return _load_prompts(recipe, split)
    if task.kind == "arithmetic":
        from selftaught.loops.arithmetic import make_problems

        n = task.n_train if split is Split.TRAIN else task.n_heldout
        return make_problems(n, split, recipe.seed, task.digits)
    from selftaught.loops.arithmetic import load_problems_jsonl

    path = task.train if split is Split.TRAIN else task.heldout
    problems = load_problems_jsonl(path)
    return [replace(p, split=split) for p in problems]


def _load_prompts(recipe: Recipe, split: Split) -> list[Problem]:
    """CAI prompts: the bundled split or the task's JSONL file (held out: the first n_heldout)."""
    from selftaught.constitution import load_prompts, read_prompts

    task = recipe.task
    path = task.train if split is Split.TRAIN else task.heldout
    problems = load_prompts(split) if path is None else read_prompts(Path(path), split)
    # tags as a list: what the store's JSON gives back, so a resumed run re-adds them unchanged
    problems = [replace(p, meta={**p.meta, "tags": list(p.meta.get("tags", ()))}) for p in problems]
    return problems if split is Split.TRAIN else problems[: task.n_heldout]


def _seed(ctx: RunContext, index: int, stage: str) -> int:
    from selftaught.loops.rounds import stage_seed

    return stage_seed(ctx.recipe.seed, index, stage)


# ------------------------------------------------------------------------- one stage


def release_memory() -> None:
    """Give the memory a stage freed back to the OS.

    Every stage of a run shares one process: without this, glibc keeps what a stage's model
    and activations freed (measured with SmolLM2: 1.7 GB resident after a generate + SFT pair
    with gc alone, 0.5 GB after ``malloc_trim``), so the next stage starts from a higher floor.
    On a GPU, torch's cached blocks go back too, so the next stage's model fits beside nothing.
    """
    import gc
    import sys

    gc.collect()
    torch = sys.modules.get("torch")  # never imported just for this
    if torch is not None and torch.cuda.is_initialized():
        torch.cuda.empty_cache()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (macOS, musl): nothing to trim
        pass


def failure_reason(exc: BaseException) -> str:
    """What a failed stage records: ``Type: message``, or ``interrupted (SIGINT)`` /
    ``interrupted (SIGTERM)`` for a signal (Ctrl-C; ``cli/interrupts.py``'s or Prefect's SIGTERM)."""
    import signal

    from prefect.exceptions import TerminationSignal

    if isinstance(exc, TerminationSignal):
        return f"interrupted ({signal.Signals(exc.signal).name})"
    if isinstance(exc, KeyboardInterrupt):
        return f"interrupted ({str(exc) or 'SIGINT'})"
    return f"{type(exc).__name__}: {exc}"


def run_stage(
    ctx: RunContext, index: int, stage: Stage, body: Callable[[Advance], dict], total: int | None,
    placement: Placement | None = None,
):  # fmt: skip
    """Run ``body`` unless the store says this stage is done; record status and timing, and
    ``placement`` (where the body runs its model; None: it runs none) with its peak GPU memory.

    Ownership is checked where the status is written: if this process lost the run's lease
    (``flows/lease.py``), ``start_stage``/``finish_stage``/``fail_stage`` raise ``LeaseLost``
    in the same transaction, so a stage is never marked done (or failed) over another
    process's work."""
    label = f"round {index} {stage.value}"
    store = ctx.store
    if store.stage_status(ctx.run_id, index).get(stage) == "done":
        reporter().skip(label, "already done")
        return
    store.start_stage(ctx.run_id, index, stage)
    reset_peak_memory(placement)
    clock = time.perf_counter()
    try:
        metrics = body(reporter().start(label, total))
    except BaseException as exc:  # includes KeyboardInterrupt: record it, then re-raise
        store.fail_stage(ctx.run_id, index, stage, error=failure_reason(exc)[:2000])
        raise
    finally:
        release_memory()
    seconds = time.perf_counter() - clock
    peak = peak_memory_mb(placement)
    store.finish_stage(
        ctx.run_id, index, stage, seconds=seconds, metrics=metrics, peak_gpu_mb=peak,
        device=None if placement is None else placement.device, dtype=None if placement is None else placement.dtype,
    )  # fmt: skip
    where = None if placement is None else placement.label + ("" if peak is None else f", peak {peak / 1024:.1f} GB")
    reporter().finish(label, seconds, metrics, where=where)


