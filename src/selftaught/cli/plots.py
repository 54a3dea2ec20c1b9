"""The plots people look at: held-out accuracy per round, of one run or of several.

In: rows of ``Store.round_table`` (one list per run). Out: a PNG file. matplotlib is
imported only when a plot is drawn (the Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from selftaught.store import RoundRow


def plot_heldout(rows: list[RoundRow], out: Path, *, title: str = "") -> Path:
    """Greedy, pass@1, pass@k and maj@k on the held-out split, one point per round."""
    plt = _pyplot()
    rows = [r for r in rows if r.heldout_pass_at_1 is not None]
    x = [r.index for r in rows]
    k = rows[0].heldout_k if rows else "k"
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=110)
    for key, label, style in (
        ("heldout_pass_at_1", "sampled accuracy (pass@1)", "o-"),
        ("heldout_greedy", "greedy accuracy", "s--"),
        ("heldout_maj_at_k", f"maj@{k}", "^:"),
        ("heldout_pass_at_k", f"pass@{k}", "d:"),
    ):
        ax.plot(x, [100 * getattr(r, key) for r in rows], style, label=label)
    return _finish(plt, fig, ax, x, title, out)


def plot_runs(runs: dict[str, list[RoundRow]], out: Path, *, title: str = "") -> Path:
    """Held-out sampled accuracy (pass@1) per round, one line per run."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=110)
    xs: set[int] = set()
    for run_id, rows in runs.items():
        done = [r for r in rows if r.heldout_pass_at_1 is not None]
        xs.update(r.index for r in done)
        ax.plot([r.index for r in done], [100 * r.heldout_pass_at_1 for r in done], "o-", label=run_id)
    return _finish(plt, fig, ax, sorted(xs), title, out, ylabel="held-out sampled accuracy, pass@1 (%)")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _finish(plt, fig, ax, x: list[int], title: str, out: Path, *, ylabel: str = "held-out accuracy (%)") -> Path:
    """Round axis (0 = cold start), percent axis, legend, title; saved to ``out``."""
    ax.set_xticks(x, ["cold\nstart" if i == 0 else str(i) for i in x])
    ax.set_xlabel("round")
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out
