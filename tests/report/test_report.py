"""`selftaught report RUN`: a self-contained page that a real (headless) browser renders with
every plot decoded, whose sample browser filters in that browser without a JavaScript error,
and whose size stays bounded for a large run; and the markdown round table each round
publishes to Prefect.

The browser tests drive the system chromium (``make system-deps``) through Playwright's
Python package (``launch(executable_path=...)``: no browser download). Playwright rather
than hand-written DevTools-protocol messages: its ``pageerror``/``console`` events and
``select_option``/``fill`` are stable, documented calls, where a CDP client would pin
message shapes and session handling that change between Chromium releases. Like the
``--dump-dom`` test, they skip locally without chromium and fail in CI."""

from __future__ import annotations

import doctest
import json
import os
import re
import shutil
import subprocess
import time
import urllib.request

import pytest
from typer.testing import CliRunner

import selftaught.report.html as report_html
from selftaught.cli.main import app
from selftaught.records import Checkpoint, Sample, SampleSource, SamplingParams
from selftaught.report.html import RoundChange, per_stratum_cap, round_changes
from selftaught.report.markdown import artifact_key, round_table_markdown
from selftaught.store import ProblemSolved, Store
from tests.history.synthetic import build
from tests.report import big_store

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run"]  # fmt: skip


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    """(path, text) of the report of the synthetic run."""
    root = tmp_path_factory.mktemp("report")
    db = f"sqlite:///{root / 'store.db'}"
    build(db)
    with Store(db) as store:  # a hostile text, never judged: it must reach the page escaped
        store.add_samples("syn", 2, [Sample("t1", 9, "<b>bold?</b>", "</pre><script>alert(1)</script>",
                                            SampleSource.GENERATE, seed=0, params=SamplingParams())])  # fmt: skip
    out = root / "report.html"
    result = CliRunner().invoke(app, ["report", "syn", "--db", db, "-o", str(out)])
    assert result.exit_code == 0, result.output
    return out, out.read_text()


def _need_chromium() -> None:
    if CHROMIUM is None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("chromium not installed (make system-deps)")
        pytest.skip("chromium not installed (apt-get install chromium, or make system-deps)")


def _browser(tmp_path, *args: str) -> subprocess.CompletedProcess:
    _need_chromium()
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args],
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def test_page_is_self_contained(page):
    _, text = page
    assert len(re.findall(r'<img class="plot"[^>]+src="data:image/png;base64,', text)) == 4
    assert not re.search(r'(src|href)="(https?:)?//', text)  # nothing fetched from anywhere
    for key in ("heldout", "pass-rates", "scores", "samples"):
        assert f'id="plot-{key}"' in text
    rounds = re.search(r'<table id="rounds">.*?</table>', text, re.S).group(0)
    assert rounds.count("<tr>") == 3 + 1  # three rounds and the header (the page has other tables now)


def test_headless_chromium_renders_it_with_every_plot_decoded(page, tmp_path):
    path, _ = page
    dom = _browser(tmp_path, "--virtual-time-budget=5000", "--dump-dom", path.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    body = re.search(r"<body[^>]*>", dom.stdout).group(0)
    assert 'data-plots-rendered="4"' in body, body  # the page's own onload check: 4 images decoded
    assert "selftaught run syn" in dom.stdout and 'id="rounds"' in dom.stdout
    shot = tmp_path / "shot.png"
    done = _browser(tmp_path, "--window-size=1200,1600", f"--screenshot={shot}", path.as_uri())
    assert done.returncode == 0 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000


def test_each_round_shows_its_loss_curve_and_the_held_out_problems_it_solved_or_lost(page):
    _, text = page
    assert len(re.findall(r'<svg class="loss"[^>]*>\s*<polyline points="[-0-9., ]+"/>', text)) == 3
    assert "sft loss, 12 steps: 2 &rarr; 0.5333" in text  # synthetic.py: round 0's curve, 2/(1 + s/4)
    assert "counts as <b>solved</b> when at least one" in text  # the criterion, stated
    card = re.search(r'<div class="round-card" id="round-1">.*?</div>\s*</div>', text, re.S).group(0)
    assert "newly solved vs round 0: <b>2</b>" in card and "newly lost vs round 0: <b>0</b>" in card
    assert 'href="#samples?round=1&amp;problem=h0"' in card and 'href="#samples?round=1&amp;problem=h1"' in card


def test_sample_browser_holds_every_row_of_a_small_run_with_its_exact_count(page):
    _, text = page
    # 51 judged rows of synthetic.py plus the unjudged hostile sample: all fit the row budget
    assert "showing <b>52</b> of <b>52</b> samples" in text
    assert len(re.findall(r'<tr id="s\d+"', text)) == 52
    assert 'data-outcome="unjudged"' in text and 'data-outcome="pass"' in text and 'data-outcome="fail"' in text


def test_stored_text_is_escaped(page):
    _, text = page
    assert "<script>alert(1)" not in text and "&lt;/pre&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "&lt;b&gt;bold?&lt;/b&gt;" in text and text.count("<script>") == 1  # the page's own script only


def test_the_template_ships_inside_the_package():
    from importlib.resources import files

    assert files("selftaught.report").joinpath("templates", "report.html.j2").is_file()


@pytest.mark.parametrize(
    ("solved", "expected"),
    [
        # why: a round is compared with the previous round; a flip either way is listed
        ([ProblemSolved(0, "a", False), ProblemSolved(0, "b", True), ProblemSolved(1, "a", True),
          ProblemSolved(1, "b", False)], {1: RoundChange(0, ("a",), ("b",))}),
        # why: a round without evaluation is skipped; round 2 compares with round 0
        ([ProblemSolved(0, "a", False), ProblemSolved(2, "a", True)], {2: RoundChange(0, ("a",), ())}),
        # why: a problem evaluated in only one of the two rounds is in neither list
        ([ProblemSolved(0, "a", True), ProblemSolved(1, "b", True)], {1: RoundChange(0, (), ())}),
        # why: the first evaluated round has nothing to compare with
        ([ProblemSolved(0, "a", True)], {}),
    ],
)  # fmt: skip
def test_round_changes(solved, expected):
    assert round_changes(solved) == expected


@pytest.mark.parametrize(
    ("sizes", "budget", "cap"),
    [
        ([5, 100, 100], 105, 50),  # why: a small stratum keeps all its rows, the rest share
        ([10, 10], 1000, 10),  # why: everything fits: the cap is the largest stratum
        ([1000] * 3, 10, 3),  # why: rounded down so the budget holds
        ([1000] * 30, 10, 1),  # why: at least one row per stratum, even over the budget
        ([], 10, 1),  # why: an empty run
    ],
)  # fmt: skip
def test_per_stratum_cap(sizes, budget, cap):
    assert per_stratum_cap(sizes, budget) == cap


def test_training_says_why_a_round_has_no_curve():
    def training(config):
        return report_html._training(Checkpoint("c", "/x", "0" * 64, round_index=1, config=config))

    assert training({"method": "sft", "skipped": True}).note.startswith("training skipped")
    grpo = training({"method": "grpo", "train_loss": 0.25})
    assert grpo.points == "" and grpo.note == "no per-step loss recorded for this trainer (mean training loss 0.25)"
    sft = training({"method": "sft", "loss_curve": [3.0, 2.0, 1.0]})
    assert (sft.steps, sft.first, sft.last, sft.note) == (3, 3.0, 1.0, "")
    assert len(report_html.svg_points([1.0] * 10_000).split()) <= report_html.CURVE_POINTS + 1


def test_doctests_of_the_report_module():
    result = doctest.testmod(report_html)
    assert result.attempted >= 3 and result.failed == 0


@pytest.fixture
def chromium_page():
    """A Playwright page in the system chromium, and the JavaScript errors and non-local
    requests it saw (both must stay empty)."""
    _need_chromium()
    try:
        from playwright import sync_api
    except ImportError:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("playwright not installed (pip install -e '.[dev]')")
        pytest.skip("playwright not installed (pip install -e '.[dev]')")
    seen: dict[str, list[str]] = {"errors": [], "requests": []}
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        tab = browser.new_page(viewport={"width": 1200, "height": 1600})
        tab.on("pageerror", lambda e: seen["errors"].append(f"pageerror: {e}"))
        tab.on("console", lambda m: seen["errors"].append(f"console: {m.text}") if m.type == "error" else None)
        tab.on("request", lambda r: None if r.url.startswith(("file:", "data:")) else seen["requests"].append(r.url))
        yield tab, seen
        browser.close()


def _visible(tab) -> list[dict[str, str]]:
    """The sample rows the filter leaves visible, as their data attributes and text."""
    return tab.eval_on_selector_all(
        "#sample-rows tbody tr:not([hidden])",
        "rows => rows.map(r => ({round: r.dataset.round, outcome: r.dataset.outcome,"
        " problem: r.dataset.problem, text: r.textContent}))",
    )


def test_in_chromium_the_filter_changes_the_visible_rows_without_errors(page, chromium_page):
    path, _ = page
    tab, seen = chromium_page
    tab.goto(path.as_uri())
    tab.wait_for_function("document.body.dataset.plotsRendered === '4'", timeout=30_000)
    # the plots: four decoded images and three loss curves
    assert tab.eval_on_selector_all("img.plot", "imgs => imgs.filter(i => i.naturalWidth > 0).length") == 4
    assert tab.locator("svg.loss polyline").count() == 3
    assert len(_visible(tab)) == 52 and tab.inner_text("#rows-shown") == "52"

    tab.select_option("#f-outcome", "pass")
    passing = _visible(tab)
    assert 0 < len(passing) < 52 and {r["outcome"] for r in passing} == {"pass"}
    assert tab.inner_text("#rows-shown") == str(len(passing))  # the count follows the filter

    tab.fill("#f-text", "HINT")  # case-insensitive, over problem, prompt and completion
    hinted = _visible(tab)
    assert 0 < len(hinted) < len(passing) and all("hint" in r["text"].lower() for r in hinted)

    tab.select_option("#f-outcome", "")
    tab.fill("#f-text", "")
    tab.click('#round-1 a[data-problem="h0"]')  # a newly solved problem's link
    tab.wait_for_function("document.getElementById('f-problem').value === 'h0'")
    linked = _visible(tab)
    assert linked and all(r["round"] == "1" and r["problem"] == "h0" for r in linked)
    assert tab.input_value("#f-round") == "1"
    assert seen == {"errors": [], "requests": []}


@pytest.mark.slow
def test_a_large_run_gives_a_bounded_page_with_exact_counts(tmp_path):
    started = time.perf_counter()
    run = big_store.build(str(tmp_path / "big.db"))
    built = time.perf_counter() - started
    out = tmp_path / "big.html"
    result = CliRunner().invoke(app, ["report", run, "--db", f"sqlite:///{tmp_path / 'big.db'}", "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    size = out.stat().st_size
    print(f"{big_store.total_rows():,} rows stored in {built:.1f} s; page {size / 1e6:.2f} MB "
          f"in {time.perf_counter() - started - built:.1f} s")  # fmt: skip
    assert size < 5_000_000
    shown = len(re.findall(r'<tr id="s\d+"', text))
    assert report_html.ROW_BUDGET // 2 < shown <= report_html.ROW_BUDGET + report_html.LINKED_ROWS
    assert f"showing <b>{shown:,}</b> of <b>{big_store.total_rows():,}</b> samples" in text
    assert "more characters]" in text  # long completions are cut


def test_a_run_without_rounds_gives_a_page_that_says_so(tmp_path):
    with Store(f"sqlite:///{tmp_path / 's.db'}") as store:
        store.create_run("empty", name="empty", recipe={})
        text = report_html.render_report(store, "empty")
    assert "showing <b>0</b> of <b>0</b> samples" in text and 'data-plots="4"' in text
    assert not re.search(r'<tr id="s\d+"', text) and '<div class="round-card"' not in text


def test_unknown_run_is_an_error(tmp_path):
    db = f"sqlite:///{tmp_path / 's.db'}"
    Store(db).close()
    result = CliRunner().invoke(app, ["report", "nope", "--db", db, "-o", str(tmp_path / "x.html")])
    assert result.exit_code != 0 and "no run 'nope'" in str(result.exception)


def test_markdown_round_table(tmp_path):
    db = f"sqlite:///{tmp_path / 's.db'}"
    build(db)
    with Store(db) as store:
        md = round_table_markdown(store.round_table("syn"), title="run syn")
    lines = md.splitlines()
    assert lines[0] == "### run syn" and lines[2].startswith("| round |") and len(lines) == 4 + 3
    assert "| 2 | 23 | 66.7% |" in md


def test_each_round_published_its_table_as_a_prefect_artifact(finished_run, prefect_server):
    _, _, run_id = finished_run
    request = urllib.request.Request(
        prefect_server + "/artifacts/filter",
        data=json.dumps({"artifacts": {"key": {"any_": [artifact_key(run_id)]}}}).encode(),
        headers={"Content-Type": "application/json"}, method="POST",
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=30) as r:
        artifacts = json.load(r)
    # rounds 0, 1, 2: one version each under the run's key (other tests that resume a copy of
    # this run, e.g. --retrain-from, may add versions under the same key: at least one per round)
    rounds = sorted({int(re.search(r"after round (\d+)", a["data"]).group(1)) for a in artifacts})
    assert rounds == [0, 1, 2] and len(artifacts) >= 3
    assert all(a["type"] == "markdown" for a in artifacts)
    latest = max(artifacts, key=lambda a: a["created"])
    assert "after round 2" in latest["data"] and "pass@1" in latest["data"]
