"""What a long command shows while it works, as a user runs it (a real subprocess of
``selftaught prm label`` on a micro policy, the cheapest command that takes seconds):
on a terminal (a pseudo-terminal) a live bar with an ``eta`` column; in a pipe, plain
lines with the time left and no escape codes. The bars' columns are checked on a recorded
console too."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rich.console import Console

from selftaught.store import Store
from tests.prm.conftest import RUN, _fill

BIN = Path(sys.executable).parent / "selftaught"
ETA = re.compile(r"eta +(-:--:--|\d+:\d\d:\d\d)")


@pytest.fixture(scope="module")
def micro_policy(tmp_path_factory) -> str:
    """A freshly initialised micro policy (untrained) saved with a manifest."""
    from selftaught.loops.tinymodel import init_policy

    return str(init_policy(tmp_path_factory.mktemp("progress") / "policy", seed=0, size="micro"))


@pytest.fixture
def label_command(tmp_path, micro_policy) -> list[str]:
    """``selftaught prm label`` over a store holding one generated round (8 samples), with a
    micro policy and batches of 2 prefixes, so the bar moves several times."""
    next(_fill(Store(f"sqlite:///{tmp_path / 'prm.db'}")))
    return [str(BIN), "prm", "label", RUN, "--round", "1", "--rollouts", "2", "--max-new-tokens", "8",
            "--checkpoint", micro_policy, "--db", f"sqlite:///{tmp_path / 'prm.db'}", "--threads", "1",
            "--batch-size", "2"]  # fmt: skip


def _run_in_a_terminal(argv: list[str], env: dict[str, str], timeout: float = 240) -> tuple[int, str]:
    """Run ``argv`` with a pseudo-terminal as its stdin, stdout and stderr; (exit status, all it wrote)."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: becomes the command
        os.execve(argv[0], argv, env)
    chunks, deadline = [], time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 1.0)
            if not ready:
                continue
            try:
                data = os.read(fd, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
    finally:
        if time.monotonic() >= deadline:
            os.kill(pid, 9)
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    return os.waitstatus_to_exitcode(status), b"".join(chunks).decode("utf-8", "replace")


@pytest.mark.slow
def test_a_terminal_shows_a_live_bar_with_an_eta_column(label_command):
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "160"}
    env.pop("NO_COLOR", None)
    code, raw = _run_in_a_terminal(label_command, env)
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", raw)  # the colours and cursor moves taken out
    assert code == 0, text[-2000:]
    assert "\x1b[2K" in raw  # lines erased and redrawn in place: a live display
    # the bar once the total is known: done/total, elapsed, and the time left (an estimate
    # once two updates give a rate; -:--:-- before)
    bar = r"prm label: prefixes of round 1 .* \d+/13 0:\d\d:\d\d eta (-:--:--|0:\d\d:\d\d)"
    assert re.search(bar, text), text[-2000:]
    assert "labelled 8 samples" in text


@pytest.mark.slow
def test_a_pipe_gets_plain_periodic_lines_without_escape_codes(label_command):
    env = {**os.environ, "SELFTAUGHT_PROGRESS_SECONDS": "0"}  # every update, for the test
    result = subprocess.run(label_command, capture_output=True, text=True, env=env, timeout=240, check=False)
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stderr + result.stdout
    lines = result.stderr.splitlines()
    moving = [line for line in lines if re.fullmatch(r"prm label: prefixes of round 1: \d+/13 \(\d+%\), .*", line)]
    assert len(moving) >= 3, lines  # 13 prefixes in batches of 2: a line per batch at interval 0
    assert any(re.search(r", ~\d+ s left$", line) for line in moving), lines
    assert lines[-1].startswith("done prm label: prefixes of round 1  ")
    assert "labelled 8 samples" in result.stdout


def test_the_rich_bar_has_an_eta_column_and_a_note():
    from selftaught.cli.progress import RichReporter

    console = Console(record=True, force_terminal=True, width=140)
    with RichReporter(console) as rep:
        advance = rep.start("round 1 train", 40)
        advance(10, note="loss 0.412")
        shown = console.export_text(clear=False) + _render(rep)
    assert ETA.search(shown) and "loss 0.412" in shown and "10/40" in shown, shown


def _render(rep) -> str:
    """The progress display as text (what its next refresh draws)."""
    console = Console(record=True, width=140)
    console.print(rep.progress.make_tasks_table(rep.progress.tasks))
    return console.export_text()
