"""progress: the plain reporter's lines and their rate limit (an injected clock), and
``step`` around work outside a flow."""

from __future__ import annotations

import io

import pytest

from selftaught import progress
from selftaught.progress import PlainReporter, interval_from_env, set_reporter, step


class Clock:
    """Seconds that pass only when a test says so."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _plain(interval: float = 10.0) -> tuple[PlainReporter, io.StringIO, Clock]:
    out, clock = io.StringIO(), Clock()
    return PlainReporter(out=out, interval=interval, clock=clock), out, clock


def test_at_most_one_line_per_interval_with_elapsed_and_time_left():
    rep, out, clock = _plain(interval=10)
    advance = rep.start("round 1 train", 200)
    for done, at in ((10, 103), (20, 106), (40, 112), (50, 115), (80, 124)):
        clock.now = at
        advance(done)
    assert out.getvalue().splitlines() == [
        "round 1 train: 40/200 (20%), 12 s elapsed, ~48 s left",  # the first once 10 s have passed
        "round 1 train: 80/200 (40%), 24 s elapsed, ~36 s left",  # 12 s later, not at 115
    ]


def test_a_step_shorter_than_the_interval_prints_only_its_done_line():
    rep, out, clock = _plain(interval=10)
    advance = rep.start("round 1 judge", 8)
    clock.now += 3
    advance(8)
    rep.finish("round 1 judge", 3.0, {"pass_rate": 0.25, "n_pass": 2}, where="cpu/float32")
    assert out.getvalue() == "done round 1 judge  3.0 s  cpu/float32  pass_rate=0.25, n_pass=2\n"


def test_the_note_and_a_total_given_later_appear_in_the_next_line():
    rep, out, clock = _plain(interval=0)
    advance = rep.start("prm label", None)
    advance(0)  # no total yet: a count, no time left
    advance(0, total=50)
    clock.now += 30
    advance(10, note="loss 0.412")
    clock.now += 3600
    advance(25)  # the note stays until the next one
    assert out.getvalue().splitlines() == [
        "prm label: 0 done, 0 s elapsed",
        "prm label: 0/50 (0%), 0 s elapsed",
        "prm label: 10/50 (20%), 30 s elapsed, ~2 min 00 s left, loss 0.412",
        "prm label: 25/50 (50%), 1 h 00 min elapsed, ~1 h 00 min left, loss 0.412",
    ]


def test_no_escape_codes_in_plain_lines():
    rep, out, clock = _plain(interval=0)
    rep.start("x", 2)(1, note="loss 1")
    rep.skip("y", "already done")
    rep.finish("x", 1.0, {"a": 1})
    assert "\x1b" not in out.getvalue() and out.getvalue().count("\n") == 3


@pytest.mark.parametrize(("value", "seconds"), [("2.5", 2.5), ("0", 0.0), ("soon", 10.0), (None, 10.0)],
                         ids=["a number", "zero: every update", "not a number: the default", "unset"])  # fmt: skip
def test_the_interval_comes_from_the_environment(monkeypatch, value, seconds):
    if value is None:
        monkeypatch.delenv(progress.INTERVAL_ENV, raising=False)
    else:
        monkeypatch.setenv(progress.INTERVAL_ENV, value)
    assert interval_from_env() == seconds
    assert PlainReporter(out=io.StringIO()).interval == seconds


def test_step_reports_done_or_drops_a_quick_step_and_restores_nothing_on_error():
    rep, out, _ = _plain(interval=0)
    previous = set_reporter(rep)
    try:
        with step("export: writing x.jsonl", total=3) as advance:
            advance(3)
        with step("import: reading y.jsonl", min_seconds=60):
            pass
        with pytest.raises(ValueError), step("search"):
            raise ValueError("boom")
    finally:
        set_reporter(previous)
    lines = out.getvalue().splitlines()
    assert lines[0] == "export: writing x.jsonl: 3/3 (100%), 0 s elapsed"
    assert lines[1].startswith("done export: writing x.jsonl  0.0 s")
    assert len(lines) == 2  # the quick step dropped, the failed one silent (its error is the command's line)


def test_time_left_counts_from_the_first_report_not_from_the_model_load_before_it():
    rep, out, clock = _plain(interval=0)
    advance = rep.start("prm label", None)
    clock.now += 60  # loading the policy: no item done yet
    advance(0, total=10)
    clock.now += 10
    advance(5)
    assert out.getvalue().splitlines()[-1] == "prm label: 5/10 (50%), 1 min 10 s elapsed, ~10 s left"
