"""Schedules on a real Prefect server: a deployment on a short interval, a process worker, and
two firings that grow one run by a round each; then pause, delete and stop everything."""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from selftaught.records import Stage
from selftaught.store import Store
from tests.cli.test_cli import cli
from tests.conftest import tiny_recipe_text
from tests.helpers import cli_env, start_cli


def _children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (the worker's flow-run subprocesses run in their own sessions)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _stop_worker(proc, timeout: float) -> None:
    """Let an in-flight firing finish (up to ``timeout`` s), then stop the worker and its children."""
    deadline = time.monotonic() + timeout
    while _children(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.5)
    leftovers = _children(proc.pid)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    for pid in leftovers:  # by id: the flow-run processes this worker started
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _complete_rounds(url: str, run_id: str) -> list[int]:
    with Store(url) as store:
        return [r.index for r in store.round_table(run_id) if len(r.stages_done) == len(Stage)]


@pytest.mark.slow
def test_a_schedule_grows_one_run_round_by_round(prefect_server, tmp_path):
    recipe = tmp_path / "tiny.yaml"
    recipe.write_text(tiny_recipe_text(rounds="1"))
    env = cli_env(tmp_path, prefect_server) | {"PREFECT_WORKER_QUERY_SECONDS": "1"}
    url = env["SELFTAUGHT_DB_URL"]
    pool = f"test-{uuid.uuid4().hex[:8]}"

    start = time.monotonic()
    added = cli("schedule", str(recipe), "--interval", "15", "--run-id", "sched", "--pool", pool, env=env)
    assert added.returncode == 0, added.stderr

    log = tmp_path / "worker.log"
    worker = start_cli(["worker", "--pool", pool], env, log)
    try:
        # each `selftaught schedule ...` costs a Prefect import (~2 CPU s): check the listing
        # while the worker starts up, not before
        (listed,) = json.loads(cli("schedule", "list", "--json", env=env).stdout)
        assert (listed["name"], listed["run_id"], listed["schedule"], listed["paused"]) == ("sched", "sched", "every 15 s", False)
        # firing 1 runs the recipe as written (cold start + 1 round); firing 2 adds round 2
        deadline = time.monotonic() + 150
        while _complete_rounds(url, "sched") != [0, 1, 2]:
            assert worker.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, f"rounds {_complete_rounds(url, 'sched')}:\n{log.read_text()[-3000:]}"
            time.sleep(0.5)
        print(f"rounds 0-2 complete {time.monotonic() - start:.0f} s after `schedule` was called")
    finally:
        # a third firing may have begun: interrupting it is safe, and stopping it first
        # leaves the CPU to the checks below
        _stop_worker(worker, timeout=0)
    assert cli("schedule", "pause", "sched", env=env).returncode == 0
    (paused,) = json.loads(cli("schedule", "list", "--json", env=env).stdout)
    assert paused["paused"] is True and paused["next_run"] is None

    with Store(url) as store:
        run = store.get_run("sched")
        assert run.recipe["rounds"] == 1  # the stored recipe is the one the run started with
        chain = [c.id for c in store.checkpoint_chain(store.round_table("sched")[2].checkpoint_id)]
        assert chain[:3] == ["sched/r2", "sched/r1", "sched/r0"]  # round 2 trained from round 1
        n = len(store.query_samples(run_id="sched", round_index=2, source="generate", limit=None))
        assert n == 12 * 3  # once each, however many firings touched the run

    assert cli("schedule", "delete", "sched", env=env).returncode == 0
    with ThreadPoolExecutor(2) as pool_:  # two independent checks, one Prefect import each
        listing = pool_.submit(cli, "schedule", "list", "--json", env=env)
        gone = pool_.submit(cli, "schedule", "pause", "sched", env=env).result()
    assert json.loads(listing.result().stdout) == []
    assert gone.returncode == 1 and "no scheduled run named 'sched'" in gone.stderr
    print(f"test body {time.monotonic() - start:.0f} s")


def test_schedule_without_a_server_is_one_line(tmp_path):
    recipe = tmp_path / "tiny.yaml"
    recipe.write_text(tiny_recipe_text())
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"} | {"PREFECT_HOME": str(tmp_path / "ph")}
    result = cli("schedule", str(recipe), "--interval", "60", env=env)
    assert result.returncode == 1 and "prefect server start" in result.stderr and "Traceback" not in result.stderr


def test_schedule_needs_exactly_one_timing(tmp_path, prefect_server):
    recipe = tmp_path / "tiny.yaml"
    recipe.write_text(tiny_recipe_text())
    env = cli_env(tmp_path, prefect_server)
    for args in ([], ["--cron", "0 3 * * *", "--interval", "60"]):
        result = cli("schedule", str(recipe), *args, env=env)
        assert result.returncode == 2 and "exactly one of --cron or --interval" in result.stderr
    bad = cli("schedule", str(recipe), "--cron", "not a cron", env=env)
    assert bad.returncode == 1 and "Invalid cron string"  # checked by Prefect when registering: a runtime error in bad.stderr and "Traceback" not in bad.stderr


@pytest.mark.parametrize("command", [["schedule"], ["schedule", "add"], ["schedule", "list"], ["schedule", "pause"],
                                     ["schedule", "resume"], ["schedule", "delete"], ["worker"]], ids=" ".join)
def test_schedule_commands_have_help_with_an_example(command):
    result = cli(*command, "--help")
    assert result.returncode == 0 and "Example" in result.stdout, result.stdout + result.stderr
