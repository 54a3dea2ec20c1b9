"""``selftaught report RUN``: one self-contained HTML page about a run.

What comes in: a store and a run id (and a judge version: the verdicts read are each
round's own unless ``--judge-version`` names one added by ``selftaught rejudge``). What goes
out: an HTML file with no external resources (plots are base64 PNGs, loss curves inline
SVG, styles and the filter script inline), so it can be mailed, attached to a CI run or
opened offline. The page is rendered from the Jinja2 template ``templates/report.html.j2``
(autoescaping on: every stored text reaches the page escaped). It shows:

* the run (id, name, status, created, recipe);
* held-out accuracy per round (greedy, pass@1, pass@k, maj@k);
* the distribution of per-problem pass rates per round (how many problems went from
  never solved to sometimes or always solved), as box plots over the training problems;
* verdict score histograms per round (reward distribution), counted in SQL;
* samples per round by source (generated, rationalized, evaluation);
* the round table (the same numbers ``selftaught rounds RUN`` prints);
* per round: the training-loss curve of that round's trainer (the checkpoint config's
  ``loss_curve``, one value per optimizer step, which SFT and DPO record), and the held-out
  problems newly solved and newly lost relative to the previous evaluated round, where
  *solved* means at least one of the round's held-out evaluation samples passes (its K
  sampled completions or its greedy one; ``Store.heldout_solved``). Each problem links to
  its rows in the sample browser;
* a sample browser: a bounded, deterministic sample of the run's (sample, verdict) rows
  (``Store.sample_rows``: up to an equal share of ``ROW_BUDGET`` per (round, outcome), so
  passes and failures of every round appear), plus the linked problems' evaluation rows
  (at most ``LINKED_ROWS``; past that a link shows the rows of the sample it holds),
  with the exact counts beside them (``Store.sample_counts``) and a small inline script
  that filters them by round, outcome, judge, problem and text. Texts are cut at
  ``PROMPT_CHARS`` / ``COMPLETION_CHARS``, so a run of a million samples still gives a page
  of a few megabytes.

A tiny inline script marks ``<body data-plots-rendered="N">`` once the page has loaded and
N images have decoded: the headless-browser test reads that mark.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from selftaught.errors import StoreError
from selftaught.records import Stage

if TYPE_CHECKING:
    from selftaught.records import Checkpoint
    from selftaught.store import ProblemPassRate, ProblemSolved, RoundRow, SampleCount, SampleHit, ScoreHistogram

#: sampled rows of the sample browser, shared equally among the (round, outcome) strata
ROW_BUDGET = 1500
#: newly solved / newly lost problems listed (and linked) per round and list
LISTED_PROBLEMS = 10
#: evaluation rows fetched for each listed problem, and at most this many in all
ROWS_PER_LISTED, LINKED_ROWS = 3, 500
#: characters of a prompt and of a completion kept in the page (at most ~2,000 rows of
#: ~1,300 characters plus markup: a page of a few megabytes, however large the run)
PROMPT_CHARS, COMPLETION_CHARS = 300, 1000
#: characters of the completion shown on a row before it is expanded
PREVIEW_CHARS = 60
#: points of a loss curve drawn (longer curves are thinned, the last step always kept)
CURVE_POINTS = 300


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
    changes = round_changes(store.heldout_solved(run_id, judge_version=judge_version))
    training = {r: _training(c) for r, c in _round_checkpoints(store.list_checkpoints(run_id)).items()}
    counts = store.sample_counts(run_id, judge_version=judge_version)
    browser = _browser_rows(store, run_id, counts, changes, judge_version)
    return _template().render(
        title=f"selftaught run {run_id}",
        run=run,
        created=str(run.created_at)[:19],
        generated=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        plots=plots,
        k=next((r.heldout_k for r in rows if r.heldout_k), "k"),
        table=[_table_cells(r) for r in rows],
        rounds=[
            {"index": r.index, "training": training.get(r.index), "change": changes.get(r.index)}
            for r in rows
        ],
        listed=LISTED_PROBLEMS,
        browser=browser,
        counts=_count_table(counts),
        total=sum(c.n for c in counts),
        recipe=json.dumps(run.recipe, indent=1, sort_keys=True),
    )


def _template():
    """The page's Jinja2 template (a package file, so it ships in the wheel)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("selftaught.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["thousands"] = lambda n: f"{n:,}"
    return env.get_template("report.html.j2")


# ----------------------------------------------------------------------------- per round


@dataclass(frozen=True)
class RoundChange:
    """Held-out problems a round solved that the previous evaluated round had not
    (``solved``) and the other way round (``lost``), both sorted by problem id."""

    previous: int
    solved: tuple[str, ...]
    lost: tuple[str, ...]


def round_changes(solved: Iterable[ProblemSolved]) -> dict[int, RoundChange]:
    """Per evaluated round after the first: problems newly solved and newly lost relative
    to the previous evaluated round. A problem that only one of the two rounds evaluated
    is in neither list.

    >>> from selftaught.store import ProblemSolved as P
    >>> round_changes([P(0, "a", False), P(0, "b", True), P(1, "a", True), P(1, "b", False)])[1]
    RoundChange(previous=0, solved=('a',), lost=('b',))
    """
    by_round: dict[int, dict[str, bool]] = {}
    for s in solved:
        by_round.setdefault(s.round, {})[s.problem_id] = s.solved
    out: dict[int, RoundChange] = {}
    order = sorted(by_round)
    for before, now in zip(order, order[1:]):
        old, new = by_round[before], by_round[now]
        both = sorted(old.keys() & new.keys())
        out[now] = RoundChange(
            previous=before,
            solved=tuple(p for p in both if new[p] and not old[p]),
            lost=tuple(p for p in both if old[p] and not new[p]),
        )
    return out


def _round_checkpoints(checkpoints: Sequence[Checkpoint]) -> dict[int, Checkpoint]:
    """The latest checkpoint of each round (as the round table picks it)."""
    return {c.round_index: c for c in checkpoints if c.round_index is not None}


@dataclass(frozen=True)
class Training:
    """What the report says about a round's trainer: its loss curve as SVG points, or why
    there is none (``note``)."""

    method: str
    note: str
    points: str = ""
    steps: int = 0
    first: float | None = None
    last: float | None = None


def _training(ckpt: Checkpoint) -> Training:
    config: Mapping[str, Any] = ckpt.config or {}
    method = str(config.get("method") or config.get("init") or "")
    if config.get("skipped"):
        return Training(method, "training skipped: nothing to train on, the weights are the parent's")
    curve = [float(v) for v in config.get("loss_curve") or []]
    if not curve:
        loss = config.get("train_loss")
        note = "no per-step loss recorded for this trainer"
        return Training(method, note + (f" (mean training loss {loss:.4g})" if loss is not None else ""))
    return Training(method, "", points=svg_points(curve), steps=len(curve), first=curve[0], last=curve[-1])


def svg_points(values: Sequence[float], width: int = 320, height: int = 90) -> str:
    """A polyline's ``points`` for ``values`` scaled into width x height (y grows downward),
    thinned to ``CURVE_POINTS`` points.

    >>> svg_points([2.0, 1.0, 0.0], width=10, height=10)
    '0.0,0.0 5.0,5.0 10.0,10.0'
    """
    step = max(1, -(-len(values) // CURVE_POINTS))
    picked = list(range(0, len(values), step))
    if picked[-1] != len(values) - 1:
        picked.append(len(values) - 1)
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    last = max(1, len(values) - 1)
    return " ".join(
        f"{width * i / last:.1f},{height * (high - values[i]) / span:.1f}" for i in picked
    )


# ----------------------------------------------------------------------------- sample browser


def per_stratum_cap(sizes: Iterable[int], budget: int) -> int:
    """The largest per-stratum cap c with sum(min(n, c)) <= budget (at least 1), so small
    strata keep all their rows and large ones share the rest equally.

    >>> per_stratum_cap([5, 100, 100], 105)
    50
    """
    sizes = sorted(sizes)
    if not sizes:
        return 1
    low, high = 1, max(sizes)
    while low < high:  # bisect on c: the shown total grows with c
        mid = (low + high + 1) // 2
        if sum(min(n, mid) for n in sizes) <= budget:
            low = mid
        else:
            high = mid - 1
    return low


def _browser_rows(store, run_id: str, counts: Sequence[SampleCount], changes: Mapping[int, RoundChange],
                  judge_version: str | None) -> list[dict[str, Any]]:  # fmt: skip
    """The sample browser's rows: the stratified sample plus the listed problems'
    evaluation rows, each row once, by round and sample id, texts cut."""
    strata: dict[tuple[int, Any], int] = {}
    for c in counts:
        strata[(c.round, c.outcome)] = strata.get((c.round, c.outcome), 0) + c.n
    cap = per_stratum_cap(strata.values(), ROW_BUDGET)
    hits: dict[tuple[int, str | None, str | None], SampleHit] = {}
    for hit in store.sample_rows(run_id, per_stratum=cap, judge_version=judge_version):
        hits[(hit.sample_id, hit.judge, hit.judge_version)] = hit
    linked = [(index, pid) for index, change in sorted(changes.items())
              for pid in change.solved[:LISTED_PROBLEMS] + change.lost[:LISTED_PROBLEMS]]  # fmt: skip
    for index, pid in linked[: LINKED_ROWS // ROWS_PER_LISTED]:
        for hit in store.query_samples(run_id=run_id, round_index=index, problem=pid, source="eval",
                                       judge_version=judge_version, limit=ROWS_PER_LISTED):  # fmt: skip
            hits[(hit.sample_id, hit.judge, hit.judge_version)] = hit
    return [_row(h) for h in sorted(hits.values(), key=lambda h: (h.round, h.sample_id, h.judge or ""))]


def _cut(text: str, limit: int) -> tuple[str, int]:
    """``text`` cut to ``limit`` characters, and how many were cut."""
    return (text, 0) if len(text) <= limit else (text[:limit], len(text) - limit)


def _row(hit: SampleHit) -> dict[str, Any]:
    prompt, prompt_cut = _cut(hit.prompt, PROMPT_CHARS)
    completion, completion_cut = _cut(hit.completion, COMPLETION_CHARS)
    return {
        "id": hit.sample_id, "round": hit.round, "problem": hit.problem_id, "source": str(hit.source),
        "outcome": "unjudged" if hit.outcome is None else str(hit.outcome),
        "score": "-" if hit.score is None else f"{hit.score:.3g}", "judge": hit.judge or "-",
        "prompt": prompt, "prompt_cut": prompt_cut, "completion": completion, "completion_cut": completion_cut,
        "preview": " ".join(hit.completion[:PREVIEW_CHARS].split()),
    }  # fmt: skip


def _count_table(counts: Sequence[SampleCount]) -> dict[str, Any]:
    """Exact row counts by round (rows) and outcome (columns), for the page."""
    outcomes = sorted({"unjudged" if c.outcome is None else str(c.outcome) for c in counts})
    by_round: dict[int, dict[str, int]] = {}
    for c in counts:
        cell = by_round.setdefault(c.round, {})
        key = "unjudged" if c.outcome is None else str(c.outcome)
        cell[key] = cell.get(key, 0) + c.n
    return {
        "outcomes": outcomes,
        "rounds": [(r, [by_round[r].get(o, 0) for o in outcomes], sum(by_round[r].values())) for r in sorted(by_round)],
        "judges": sorted({c.judge for c in counts if c.judge is not None}),
    }


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


def _table_cells(r: RoundRow) -> list[Any]:
    """One line of the round table, as ``selftaught rounds`` prints it."""

    def pct(v: Any) -> str:
        return "-" if v is None else f"{v:.1%}"

    return [
        r.index, f"{len(r.stages_done)}/{len(Stage)}", r.n_samples, pct(r.pass_rate),
        r.n_rationalized, r.n_train, r.checkpoint_id or "-", pct(r.heldout_greedy),
        pct(r.heldout_pass_at_1), pct(r.heldout_pass_at_k), pct(r.heldout_maj_at_k),
        f"{sum(r.seconds.values()):.0f}",
    ]  # fmt: skip
