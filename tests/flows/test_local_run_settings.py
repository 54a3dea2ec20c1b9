"""``local_run_settings``: flow runs started by this process do not wait on Prefect's
heartbeat thread at exit (Prefect 3.9 joins it, costing up to a second per flow run), and a
user who configured heartbeats keeps them."""

from __future__ import annotations

import statistics
import time

from prefect import flow, task
from prefect.settings import get_current_settings

from selftaught.flows.context import HEARTBEAT_ENV, local_run_settings


@task
def _step(x: int) -> int:
    return x + 1


@flow
def _child(i: int) -> int:
    return _step(i)


@flow
def _parent(n: int) -> list[float]:
    walls = []
    for i in range(n):
        clock = time.perf_counter()
        _child(i)
        walls.append(time.perf_counter() - clock)
    return walls


def test_heartbeats_are_off_inside_and_restored_after(monkeypatch):
    for name in HEARTBEAT_ENV:
        monkeypatch.delenv(name, raising=False)
    before = get_current_settings().flows.heartbeat_frequency
    with local_run_settings():
        assert get_current_settings().flows.heartbeat_frequency is None
    assert get_current_settings().flows.heartbeat_frequency == before


def test_a_user_who_set_heartbeats_keeps_them(monkeypatch):
    monkeypatch.setenv("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", "60")
    before = get_current_settings().flows.heartbeat_frequency
    with local_run_settings():
        assert get_current_settings().flows.heartbeat_frequency == before is not None


def test_a_subflow_no_longer_waits_for_the_heartbeat_thread(monkeypatch):
    for name in HEARTBEAT_ENV:
        monkeypatch.delenv(name, raising=False)
    _parent(1)  # the temporary server is up before anything is timed
    with_heartbeats = statistics.median(_parent(5))
    with local_run_settings():
        without = statistics.median(_parent(5))
    # measured: ~1.10 s against ~0.17 s per subflow on an idle 2-core box; both medians
    # move together with load, the join's ~1 s wait does not
    assert without < with_heartbeats - 0.5, (without, with_heartbeats)
