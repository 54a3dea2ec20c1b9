"""How long work tells a person how far along it is.

Work that takes more than a few seconds -- a stage of a round, ``prm label``, ``search``,
``eval``, ``rejudge``, an export -- asks ``reporter()`` for the current reporter and calls
``start(label, total)``; the ``Advance`` it gets back is called with the number of items
done so far (and, when known later, the ``total``; for training, a ``note`` such as
``loss 0.412``). ``finish`` prints the step's one-line summary.

Which reporter is current is process-local state, not a parameter, so Prefect never tries
to serialise it and the loops below the flows need not know a reporter exists: they take a
plain ``progress`` callable. The CLI installs one (``cli/progress.py``: rich bars with an
ETA on a terminal, ``PlainReporter``'s periodic lines otherwise); everything else gets
``LogReporter`` (logging, one line per start and finish).

This module imports nothing of selftaught, so every floor may use it.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol, TextIO

log = logging.getLogger("selftaught")

#: seconds between two of ``PlainReporter``'s lines for one step (default 10)
INTERVAL_ENV = "SELFTAUGHT_PROGRESS_SECONDS"


class Advance(Protocol):
    def __call__(self, done: int, /, *, total: int | None = None, note: str | None = None) -> None:
        """``done`` items so far; ``total`` when it became known only now; ``note``: a short
        text shown beside the bar until the next note (e.g. the latest training loss)."""


class Reporter(Protocol):
    def start(self, label: str, total: int | None) -> Advance:
        """A long step begins (``total`` None: not known yet); returns its ``Advance``."""

    def finish(self, label: str, seconds: float, metrics: dict[str, Any], where: str | None = None) -> None:
        """The step ended; ``where`` is the device/dtype its model ran on (e.g. ``cpu/float32``)."""

    def skip(self, label: str, why: str) -> None:
        """The step had nothing to do (already done, or not part of this method)."""

    def drop(self, label: str) -> None:
        """The step ended too soon to be worth a line of its own: forget it quietly."""


def brief(metrics: dict[str, Any]) -> str:
    """``k=v`` pairs of a step's metrics, floats to three significant digits."""
    return ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in metrics.items())


class LogReporter:
    """One log line when a step starts and one when it ends (no per-item output)."""

    def start(self, label: str, total: int | None) -> Advance:
        log.info("%s: started (%s items)", label, total if total is not None else "?")
        return lambda done, total=None, note=None: None

    def finish(self, label: str, seconds: float, metrics: dict[str, Any], where: str | None = None) -> None:
        log.info("%s: done in %.1f s%s (%s)", label, seconds, f" on {where}" if where else "", brief(metrics))

    def skip(self, label: str, why: str) -> None:
        log.info("%s: skipped (%s)", label, why)

    def drop(self, label: str) -> None:
        pass


def interval_from_env(default: float = 10.0) -> float:
    """``SELFTAUGHT_PROGRESS_SECONDS`` as a number of seconds (``default`` if unset or not a number)."""
    try:
        return max(0.0, float(os.environ.get(INTERVAL_ENV, default)))
    except ValueError:
        return default


def _duration(seconds: float) -> str:
    """``12 s``, ``4 min 05 s``, ``1 h 02 min``."""
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def _time_left(first: tuple[float, int], now: float, done: int, total: int | None) -> float | None:
    """Seconds left at the rate since the step first reported progress (so the minutes a
    model takes to load before its first item do not count as work), or None: no total, or
    no rate yet.

    >>> _time_left((10.0, 0), 20.0, 25, 100)  # 25 items in 10 s: 75 more take 30 s
    30.0
    """
    t0, d0 = first
    if not total or done >= total or done <= d0 or now <= t0:
        return None
    return (total - done) * (now - t0) / (done - d0)


class PlainReporter:
    """Plain lines for logs that are not a terminal (CI, ``nohup``, a pipe): while a step
    runs, at most one line every ``interval`` seconds (the first once it has run that long),
    and one when it ends::

        round 1 train: 40/200 (20%), 12 s elapsed, ~48 s left, loss 0.41
        done round 1 train  61.2 s  cpu/float32  train_loss=0.398

    Lines are written when the work reports progress (no thread of its own), so a step that
    reports nothing for a while (a model loading) is quiet until it does; a step that ends
    sooner than ``interval``, or fails at once, prints no progress line at all (a failure
    stays the command's one ``error:`` line). "left" assumes the remaining items go at the
    rate since the step's first report (for a training run that may stop early: at most that).
    No colour, no cursor movement: the file reads as text. ``clock`` is injectable for tests.
    """

    def __init__(self, out: TextIO | None = None, interval: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self.out = out
        self.interval = interval_from_env() if interval is None else interval
        self.clock = clock

    def _say(self, line: str) -> None:
        print(line, file=self.out or sys.stderr, flush=True)

    def start(self, label: str, total: int | None) -> Advance:
        began = self.clock()
        state: dict[str, Any] = {"total": total, "note": None, "last": began, "first": None}

        def advance(done: int, total: int | None = None, note: str | None = None) -> None:
            now = self.clock()
            state["total"] = state["total"] if total is None else total
            state["note"] = state["note"] if note is None else note
            state["first"] = state["first"] or (now, done)
            if now - state["last"] < self.interval:
                return
            state["last"] = now
            left = _time_left(state["first"], now, done, state["total"])
            self._say(self._line(label, done, state["total"], now - began, left, state["note"]))

        return advance

    @staticmethod
    def _line(label: str, done: int, total: int | None, elapsed: float, left: float | None, note: str | None) -> str:
        parts = [f"{done}/{total} ({100 * done / total:.0f}%)" if total else f"{done} done",
                 f"{_duration(elapsed)} elapsed"]  # fmt: skip
        if left is not None:
            parts.append(f"~{_duration(left)} left")
        if note:
            parts.append(note)
        return f"{label}: " + ", ".join(parts)

    def finish(self, label: str, seconds: float, metrics: dict[str, Any], where: str | None = None) -> None:
        self._say("  ".join(p for p in (f"done {label}", f"{seconds:.1f} s", where or "", brief(metrics)) if p))

    def skip(self, label: str, why: str) -> None:
        self._say(f"skip {label} ({why})")

    def drop(self, label: str) -> None:
        pass


_current: Reporter = LogReporter()


def reporter() -> Reporter:
    return _current


def set_reporter(r: Reporter) -> Reporter:
    """Install ``r``; returns the previous reporter so callers can restore it."""
    global _current
    previous, _current = _current, r
    return previous


@contextmanager
def step(label: str, total: int | None = None, *, min_seconds: float = 0.0) -> Iterator[Advance]:
    """A step that may be long, outside a flow's stages (``prm label``, ``search``, ``eval``,
    an export): start it on the current reporter, yield its ``Advance``, and when the block
    ends without an error report it done with its seconds -- or, if it took less than
    ``min_seconds``, drop it without a line."""
    clock = time.perf_counter()
    advance = reporter().start(label, total)
    yield advance
    seconds = time.perf_counter() - clock
    if seconds < min_seconds:
        reporter().drop(label)
    else:
        reporter().finish(label, seconds, {})
