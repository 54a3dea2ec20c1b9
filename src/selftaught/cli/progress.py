"""What long commands show while they work: rich bars with an ETA on a terminal, plain
periodic lines otherwise (``reporting``).

In: the console the command writes its progress to (stderr). Out: a reporter
(``selftaught.progress.Reporter``) installed for the length of a ``with`` block. On a
terminal each step is a bar -- label, bar, done/total, elapsed, ``eta`` with the time left
(Rich's estimate from the recent rate; ``-:--:--`` until it has one, or while the total is
unknown), and a note such as the latest training loss -- that becomes a one-line summary
when the step ends. Not a terminal (a CI log, a pipe): ``PlainReporter``'s lines, no escape
codes, at most one per step every ``SELFTAUGHT_PROGRESS_SECONDS`` (default 10).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from selftaught.progress import Advance, PlainReporter, Reporter, set_reporter


def _brief(metrics: dict[str, Any]) -> str:
    keys = ("n_samples", "pass_rate", "n_pass", "n_examples", "train_loss", "greedy_accuracy", "pass_at_1")
    parts = []
    for k in keys:
        v = metrics.get(k)
        if v is None:
            continue
        parts.append(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}")
    return " ".join(parts)


class RichReporter:
    """One bar per step; a finished step becomes a one-line summary."""

    def __init__(self, console: Console):
        self.console = console
        self.progress = Progress(
            TextColumn("{task.description:<26}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[note]}"),
            console=console,
            transient=True,
        )
        self._tasks: dict[str, Any] = {}

    def __enter__(self) -> RichReporter:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def start(self, label: str, total: int | None) -> Advance:
        task_id = self.progress.add_task(label, total=total, note="")
        self._tasks[label] = task_id

        def advance(done: int, total: int | None = None, note: str | None = None) -> None:
            changes: dict[str, Any] = {} if note is None else {"note": note}
            if total is not None:
                changes["total"] = total
            self.progress.update(task_id, completed=done, **changes)

        return advance

    def finish(self, label: str, seconds: float, metrics: dict[str, Any], where: str | None = None) -> None:
        task_id = self._tasks.pop(label, None)
        if task_id is not None:
            self.progress.remove_task(task_id)
        on = f"[dim]{where:<12}[/] " if where else ""
        self.console.print(f"[green]done[/] {label:<26} {seconds:7.1f} s  {on}{_brief(metrics)}", highlight=False)

    def skip(self, label: str, why: str) -> None:
        self.console.print(f"[dim]skip {label:<26} ({why})[/]", highlight=False)

    def drop(self, label: str) -> None:
        task_id = self._tasks.pop(label, None)
        if task_id is not None:
            self.progress.remove_task(task_id)


@contextmanager
def reporting(console: Console) -> Iterator[Reporter]:
    """Install the reporter that suits ``console`` (rich bars on a terminal, plain lines
    otherwise) until the block ends; the previous one comes back after."""
    if console.is_terminal and not console.is_dumb_terminal:
        with RichReporter(console) as rep:
            previous = set_reporter(rep)
            try:
                yield rep
            finally:
                set_reporter(previous)
        return
    plain = PlainReporter(out=console.file)
    previous = set_reporter(plain)
    try:
        yield plain
    finally:
        set_reporter(previous)
