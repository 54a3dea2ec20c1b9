"""``selftaught report RUN``: one self-contained HTML page about a run.

What comes in: a store and a run id (and a judge version: the verdicts read are each
round's own unless ``--judge-version`` names one added by ``selftaught rejudge``). What goes out: an HTML file with no external
resources (plots are base64 PNGs, styles inline), so it can be mailed, attached to a CI run
or opened offline. It shows:

* the run (id, name, status, created, recipe);
* held-out accuracy per round (greedy, pass@1, pass@k, maj@k);
* the distribution of per-problem pass rates per round (how many problems went from
  never solved to sometimes or always solved), as box plots over the training problems;
* verdict score histograms per round (reward distribution), counted in SQL;
* samples per round by source (generated, rationalized, evaluation);
* the round table (the same numbers ``selftaught rounds RUN`` prints).

A tiny inline script marks ``<body data-plots-rendered="N">`` once the page has loaded and
N images have decoded: the headless-browser test reads that mark.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from selftaught.errors import StoreError
from selftaught.records import Stage

if TYPE_CHECKING:
    from selftaught.store import ProblemPassRate, RoundRow, ScoreHistogram


def write_report(store, run_id: str, out: str | Path, *, judge_version: str | None = None) -> Path:
    """Write the report of ``run_id`` to ``out`` (folders created); returns the path."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_report(store, run_id, judge_version=judge_version), encoding="utf-8")
    return out


def render_report(store, run_id: str, *, judge_version: str | None = None) -> str:
    """The report's HTML text; verdicts are each round's own, or ``judge_version``'s
    (``selftaught rejudge``; held-out accuracy is the evaluation's own either way)."""
    run = store.get_run(run_id)
    if run is None:
        raise StoreError(f"no run {run_id!r} in the store")
    rows = store.round_table(run_id, judge_version=judge_version)
    rates = store.problem_pass_rates(run_id, judge_version=judge_version)
    hist = store.score_histogram(run_id, bins=10, source="generate", judge_version=judge_version)
    plots = [
        ("heldout", "Held-out accuracy per round", _plot_heldout(rows)),
        ("pass-rates", "Per-problem pass rate per round (training problems)", _plot_pass_rates(rates)),
        ("scores", "Verdict scores of generated samples per round", _plot_scores(hist)),
        ("samples", "Samples per round", _plot_samples(rows)),
    ]
    figures = "\n".join(
        f'<figure id="plot-{key}"><img class="plot" alt="{html.escape(caption)}" '
        f'src="data:image/png;base64,{png}"><figcaption>{html.escape(caption)}</figcaption></figure>'
        for key, caption, png in plots
    )
    e = html.escape
    recipe = json.dumps(run.recipe, indent=1, sort_keys=True)
    return _PAGE.format(
        title=e(f"selftaught run {run_id}"),
        run_id=e(run_id),
        name=e(str(run.name)),
        status=e(str(run.status)),
        created=e(str(run.created_at)[:19]),
        n_rounds=len(rows),
        generated=e(dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")),
        figures=figures,
        table=_round_table_html(rows),
        recipe=e(recipe),
        n_plots=len(plots),
    )


# ----------------------------------------------------------------------------- plots


def _figure(width: float = 6.4, height: float = 3.6):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(width, height), dpi=100)


def _png(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _round_labels(ax, xs: list[int]) -> None:
    ax.set_xticks(xs, ["cold\nstart" if i == 0 else str(i) for i in xs])
    ax.set_xlabel("round")


def _empty(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="gray")
    ax.set_xticks([])
    ax.set_yticks([])


def _plot_heldout(rows: list[RoundRow]) -> str:
    fig, ax = _figure()
    done = [r for r in rows if r.heldout_pass_at_1 is not None]
    if not done:
        _empty(ax, "no held-out evaluation yet")
        return _png(fig)
    xs = [r.index for r in done]
    k = done[0].heldout_k
    for key, label, style in (
        ("heldout_pass_at_1", "sampled accuracy (pass@1)", "o-"),
        ("heldout_greedy", "greedy accuracy", "s--"),
        ("heldout_maj_at_k", f"maj@{k}", "^:"),
        ("heldout_pass_at_k", f"pass@{k}", "d:"),
    ):
        ax.plot(xs, [100 * getattr(r, key) for r in done], style, label=label)
    _round_labels(ax, xs)
    ax.set_ylabel("held-out accuracy (%)")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    return _png(fig)


def _plot_pass_rates(rates: list[ProblemPassRate]) -> str:
    fig, ax = _figure()
    by_round: dict[int, list[float]] = {}
    for r in rates:
        if r.n_judged:
            by_round.setdefault(r.round, []).append(100 * r.n_pass / r.n_judged)
    if not by_round:
        _empty(ax, "no judged training samples yet")
        return _png(fig)
    xs = sorted(by_round)
    ax.boxplot([by_round[x] for x in xs], positions=xs, widths=0.5, showmeans=True)
    for x in xs:
        solved = sum(v > 0 for v in by_round[x]) / len(by_round[x])
        ax.annotate(f"{solved:.0%} solved", (x, 102), ha="center", fontsize=7, color="gray")
    _round_labels(ax, xs)
    ax.set_ylabel("pass rate per problem (%)")
    ax.set_ylim(-3, 108)
    ax.grid(alpha=0.3, axis="y")
    return _png(fig)


def _plot_scores(hist: list[ScoreHistogram]) -> str:
    fig, ax = _figure()
    by_round: dict[int, list[int]] = {}
    for h in hist:  # judges summed per round
        counts = by_round.setdefault(h.round, [0] * len(h.counts))
        by_round[h.round] = [a + b for a, b in zip(counts, h.counts, strict=True)]
    if not by_round:
        _empty(ax, "no verdicts yet")
        return _png(fig)
    bins = len(next(iter(by_round.values())))
    edges = [i / bins for i in range(bins + 1)]
    import matplotlib

    cmap = matplotlib.colormaps["viridis"]
    rounds = sorted(by_round)
    for i, r in enumerate(rounds):
        counts = by_round[r]
        total = sum(counts) or 1
        ax.stairs([100 * c / total for c in counts], edges, label=f"round {r}",
                  color=cmap(i / max(1, len(rounds) - 1)), linewidth=1.5)  # fmt: skip
    ax.set_xlabel("score")
    ax.set_ylabel("share of verdicts (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    return _png(fig)


def _plot_samples(rows: list[RoundRow]) -> str:
    fig, ax = _figure()
    if not rows:
        _empty(ax, "no rounds yet")
        return _png(fig)
    xs = [r.index for r in rows]
    gen = [r.n_generate for r in rows]
    rat = [r.n_rationalized for r in rows]
    other = [r.n_samples - g - q for r, g, q in zip(rows, gen, rat, strict=True)]
    ax.bar(xs, gen, label="generated")
    ax.bar(xs, rat, bottom=gen, label="rationalized (STaR)")
    ax.bar(xs, other, bottom=[g + q for g, q in zip(gen, rat, strict=True)], label="evaluation")
    _round_labels(ax, xs)
    ax.set_ylabel("samples")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    return _png(fig)


# ----------------------------------------------------------------------------- table


def _round_table_html(rows: list[RoundRow]) -> str:
    def pct(v: Any) -> str:
        return "-" if v is None else f"{v:.1%}"

    k = next((r.heldout_k for r in rows if r.heldout_k), "k")
    head = ["round", "stages", "samples", "train pass", "rationalized", "train rows", "checkpoint",
            "greedy", "pass@1", f"pass@{k}", f"maj@{k}", "seconds"]  # fmt: skip
    out = ['<table id="rounds"><thead><tr>' + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr></thead><tbody>"]
    for r in rows:
        cells = [
            r.index, f"{len(r.stages_done)}/{len(Stage)}", r.n_samples, pct(r.pass_rate),
            r.n_rationalized, r.n_train, r.checkpoint_id or "-", pct(r.heldout_greedy),
            pct(r.heldout_pass_at_1), pct(r.heldout_pass_at_k), pct(r.heldout_maj_at_k),
            f"{sum(r.seconds.values()):.0f}",
        ]  # fmt: skip
        out.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }}
h1 {{ font-size: 1.4em; }} dl {{ display: grid; grid-template-columns: max-content auto; gap: .2em 1em; }}
dt {{ font-weight: 600; }} .plots {{ display: flex; flex-wrap: wrap; gap: 1em; }}
figure {{ margin: 0; }} figcaption {{ font-size: .9em; color: #555; text-align: center; }}
img.plot {{ width: 520px; border: 1px solid #ddd; }}
table {{ border-collapse: collapse; font-size: .9em; }} th, td {{ border: 1px solid #ccc; padding: .25em .6em; text-align: right; }}
th {{ background: #f3f3f3; }} pre {{ background: #f7f7f7; padding: 1em; overflow-x: auto; }}
</style></head>
<body data-plots="{n_plots}" data-plots-rendered="0">
<h1>{title}</h1>
<dl><dt>run</dt><dd>{run_id}</dd><dt>name</dt><dd>{name}</dd><dt>status</dt><dd>{status}</dd>
<dt>created</dt><dd>{created}</dd><dt>rounds</dt><dd>{n_rounds} (round 0 is the cold start)</dd>
<dt>report written</dt><dd>{generated}</dd></dl>
<div class="plots">
{figures}
</div>
<h2>Rounds</h2>
{table}
<details><summary>Recipe</summary><pre>{recipe}</pre></details>
<script>
window.addEventListener("load", function () {{
  var ok = Array.prototype.filter.call(document.images, function (i) {{ return i.complete && i.naturalWidth > 0; }});
  document.body.setAttribute("data-plots-rendered", String(ok.length));
}});
</script>
</body></html>
"""
