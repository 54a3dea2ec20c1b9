"""Ctrl-C and SIGTERM during ``selftaught run|demo|cai``: the run stops, one line says how to
resume it, the exit status says which signal (130 for SIGINT, 143 for SIGTERM: 128 + its
number, as a shell reports a process a signal ended).

In: the resume command to print. ``stops_on_signals(resume)`` wraps the flow call:

- SIGINT raises ``KeyboardInterrupt`` in the main thread (Python's own handler);
- SIGTERM raises ``Terminated``, a ``KeyboardInterrupt`` (Python's default would end the
  process on the spot, recording nothing). While a flow runs, Prefect's handler takes
  SIGTERM first (``TerminationSignal``); once the flow has reported its crash, Prefect sends
  SIGTERM again to the handler it replaced: this one.

Either way the exception unwinds the run as any failure does: the stage that was running is
recorded failed with the reason (``flows/context.py`` ``run_stage``), the run ``failed``,
Prefect reports its flow runs crashed (its temporary server is still up:
``flows/temporary_server.py``), the children stop (math workers, the code sandbox and
training launchers end on the way out or die with the process: ``selftaught.lifeline``).
Nothing needs undoing: ``--resume`` re-runs every stage not marked done. Then the line is
printed and the process ends at once (``_exit_at_once``: exit hooks, no interpreter
teardown), ~1 s after the signal in all (docs/measurements.md, "Signals").

Prefect's own crash reports ("Crash detected! Execution was aborted by a termination
signal", one per task and flow run) say what the one line says: what Prefect logs while it
handles a signal's exception is dropped (``QuietWhileInterrupted``). Its server still records
every flow run as crashed.
"""

from __future__ import annotations

import logging
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the main thread was (so it unwinds like Ctrl-C)."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated("SIGTERM")


def _signal_exceptions() -> tuple[type[BaseException], ...]:
    from prefect.exceptions import TerminationSignal

    return (KeyboardInterrupt, TerminationSignal)


class QuietWhileInterrupted(logging.Filter):
    """Drops the records logged while a signal's exception is being handled."""

    def __init__(self) -> None:
        super().__init__()
        self.signals = _signal_exceptions()

    def filter(self, record: logging.LogRecord) -> bool:
        return not isinstance(sys.exc_info()[1], self.signals)


#: the loggers Prefect's engines report crashes on
PREFECT_LOGGERS = ("prefect", "prefect.flow_runs", "prefect.task_runs")


def _exit_status(exc: BaseException) -> int:
    """128 + the signal's number."""
    sig = getattr(exc, "signal", None)  # Prefect's TerminationSignal carries it
    if isinstance(exc, Terminated) or sig == signal.SIGTERM:
        return 128 + signal.SIGTERM
    return 128 + signal.SIGINT


def _exit_at_once(status: int) -> NoReturn:
    """End the process now: the ``atexit`` hooks run (Prefect drains its log and event workers
    and stops its temporary server), the streams are flushed, and the interpreter's teardown
    is skipped -- after an interrupted round it spent 3.5-4.5 s of CPU freeing torch,
    transformers and the run's objects one by one, which the OS does at once."""
    import atexit
    import os

    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


@contextmanager
def stops_on_signals(resume: str) -> Iterator[None]:
    """Run the body; on SIGINT/SIGTERM print ``interrupted; resume with: RESUME`` on stderr
    and end the process with status 130/143."""
    quiet = QuietWhileInterrupted()
    loggers = [logging.getLogger(name) for name in PREFECT_LOGGERS]
    for logger in loggers:
        logger.addFilter(quiet)
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    # a process started in the background by a script (`cmd &`, `trap '' INT`) inherits SIGINT
    # ignored, and Python keeps it ignored; the run stops on SIGINT whatever its parent did.
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    except quiet.signals as exc:
        print(f"interrupted; resume with: {resume}", file=sys.stderr, flush=True)
        _exit_at_once(_exit_status(exc))
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_int)
        for logger in loggers:
            logger.removeFilter(quiet)
