"""How a running flow tells a person what it is doing.

Flows call ``reporter()`` for the current reporter; the CLI installs one that draws rich
progress bars, everything else gets the logging one. A reporter is process-local state,
not a flow parameter, so Prefect never tries to serialise it.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Protocol

log = logging.getLogger("selftaught")

Advance = Callable[[int], None]


class Reporter(Protocol):
    def start(self, label: str, total: int | None) -> Advance:
        """A long step begins; the returned callback gets the number of items done so far."""

    def finish(self, label: str, seconds: float, metrics: dict[str, Any], where: str | None = None) -> None:
        """The step ended; ``where`` is the device/dtype its model ran on (e.g. ``cpu/float32``)."""

    def skip(self, label: str, why: str) -> None:
        """The step had nothing to do (already done, or not part of this method)."""


class LogReporter:
    def start(self, label: str, total: int | None) -> Advance:
        log.info("%s: started (%s items)", label, total if total is not None else "?")
        return lambda done: None

    def finish(self, label: str, seconds: float, metrics: dict[str, Any], where: str | None = None) -> None:
        brief = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in metrics.items())
        log.info("%s: done in %.1f s%s (%s)", label, seconds, f" on {where}" if where else "", brief)

    def skip(self, label: str, why: str) -> None:
        log.info("%s: skipped (%s)", label, why)


_current: Reporter = LogReporter()


def reporter() -> Reporter:
    return _current


def set_reporter(r: Reporter) -> Reporter:
    """Install ``r``; returns the previous reporter so callers can restore it."""
    global _current
    previous, _current = _current, r
    return previous
