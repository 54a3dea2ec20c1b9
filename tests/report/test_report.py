"""`selftaught report RUN`: a self-contained page that a real (headless) browser renders with
every plot decoded; and the markdown round table each round publishes to Prefect."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import urllib.request

import pytest
from typer.testing import CliRunner

from selftaught.cli.main import app
from selftaught.report.markdown import artifact_key, round_table_markdown
from selftaught.store import Store
from tests.history.synthetic import build

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run"]  # fmt: skip


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    """(path, text) of the report of the synthetic run."""
    root = tmp_path_factory.mktemp("report")
    db = f"sqlite:///{root / 'store.db'}"
    build(db)
    out = root / "report.html"
    result = CliRunner().invoke(app, ["report", "syn", "--db", db, "-o", str(out)])
    assert result.exit_code == 0, result.output
    return out, out.read_text()


def _browser(tmp_path, *args: str) -> subprocess.CompletedProcess:
    if CHROMIUM is None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("chromium not installed (make system-deps)")
        pytest.skip("chromium not installed (apt-get install chromium, or make system-deps)")
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args],
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def test_page_is_self_contained(page):
    _, text = page
    assert len(re.findall(r'<img class="plot"[^>]+src="data:image/png;base64,', text)) == 4
    assert not re.search(r'(src|href)="(https?:)?//', text)  # nothing fetched from anywhere
    for key in ("heldout", "pass-rates", "scores", "samples"):
        assert f'id="plot-{key}"' in text
    assert text.count("<tr>") == 3 + 1  # three rounds and the header


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
