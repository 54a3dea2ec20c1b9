"""Rich progress bars for the flows' stages (installed by the CLI as the flow reporter)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from selftaught.flows.progress import Advance


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
    """One bar per stage; a finished stage becomes a one-line summary."""

    def __init__(self, console: Console):
        self.console = console
        self.progress = Progress(
            TextColumn("{task.description:<26}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
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
        task_id = self.progress.add_task(label, total=total)
        self._tasks[label] = task_id

        def advance(done: int) -> None:
            self.progress.update(task_id, completed=done)

        return advance

    def finish(self, label: str, seconds: float, metrics: dict[str, Any], where: str | None = None) -> None:
        task_id = self._tasks.pop(label, None)
        if task_id is not None:
            self.progress.remove_task(task_id)
        on = f"[dim]{where:<12}[/] " if where else ""
        self.console.print(f"[green]done[/] {label:<26} {seconds:7.1f} s  {on}{_brief(metrics)}", highlight=False)

    def skip(self, label: str, why: str) -> None:
        self.console.print(f"[dim]skip {label:<26} ({why})[/]", highlight=False)
