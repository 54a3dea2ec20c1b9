"""Ctrl-C, SIGTERM and kill -9 of a real ``selftaught run``, mid-round.

Each run is the tiny recipe with one round, interrupted as soon as round 0's train stage
(the cold start) is running. Ctrl-C and SIGTERM go to the whole process group, as a terminal
and ``timeout`` send them; ``kill -9`` to the run's process alone. The SIGTERM and kill -9
runs have no PREFECT_API_URL, so Prefect's temporary server is the one a user gets: it must
stay up while the run reports its end, and must not outlive the run.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from selftaught.records import Stage
from selftaught.store import Store
from tests.conftest import tiny_recipe_text
from tests.helpers import cli_env, kill_group, prefect_servers, run_cli, start_cli, wait_gone, wait_until

#: what the issue asks: stopped within this many seconds of the signal
STOP_WITHIN = 10


def _recipe(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(tiny_recipe_text(rounds="1"))
    return path


def _cold_start_running(url: str):
    def check() -> bool:
        try:
            with Store(url, upgrade=False) as s:
                return s.stage_status("victim", 0).get(Stage.TRAIN) == "running"
        except Exception:  # the store does not exist yet
            return False

    return check


def _cold_start_error(url: str) -> str:
    with sa.create_engine(url).connect() as conn:
        return conn.execute(sa.text(
            "SELECT s.error FROM stages s JOIN rounds r ON r.id = s.round_id "
            "WHERE r.run_id = 'victim' AND r.\"index\" = 0 AND s.stage = 'train'")).scalar_one()  # fmt: skip


def _interrupt(proc, log: Path, sig: int, *, group: bool) -> tuple[int, float, list[str]]:
    """Send ``sig``; (exit status, seconds until the exit, lines written after the signal)."""
    offset = log.stat().st_size
    clock = time.monotonic()
    (os.killpg if group else os.kill)(proc.pid, sig)
    try:
        rc = proc.wait(timeout=60)
    except Exception:
        kill_group(proc)
        raise
    seconds = time.monotonic() - clock
    return rc, seconds, log.read_bytes()[offset:].decode(errors="replace").splitlines()


def _no_api_url(tmp_path: Path) -> dict[str, str]:
    env = cli_env(tmp_path, "")
    env.pop("PREFECT_API_URL")
    return env


def test_the_resume_command_names_the_store_and_home_only_when_the_environment_would_not(monkeypatch, tmp_path):
    from selftaught.cli.options import resume_command

    monkeypatch.setenv("SELFTAUGHT_DB_URL", "sqlite:///runs.db")
    monkeypatch.setenv("SELFTAUGHT_HOME", str(tmp_path))
    recipe = Path("my recipes/star.yaml")
    assert resume_command("run", recipe, "r1", "sqlite:///runs.db", tmp_path) == (
        "selftaught run 'my recipes/star.yaml' --resume r1")
    assert resume_command("cai", recipe, "r1", "sqlite:///other.db", tmp_path / "h") == (
        f"selftaught cai 'my recipes/star.yaml' --resume r1 --db sqlite:///other.db --home {tmp_path / 'h'}")


@pytest.mark.slow  # a cold start interrupted, then a one-round run resumed to its end (~60 s)
def test_ctrl_c_stops_at_once_says_how_to_resume_and_the_resume_finishes(tmp_path, prefect_server):
    recipe, env, log = _recipe(tmp_path), cli_env(tmp_path, prefect_server), tmp_path / "cli.log"
    url = env["SELFTAUGHT_DB_URL"]
    proc = start_cli(["run", str(recipe), "--run-id", "victim"], env, log)
    wait_until(_cold_start_running(url), proc, log)
    rc, seconds, after = _interrupt(proc, log, signal.SIGINT, group=True)

    assert rc == 130, after
    assert seconds < STOP_WITHIN
    assert after[-1] == f"interrupted; resume with: selftaught run {recipe} --resume victim"
    assert len(after) <= 3, after  # the line, maybe the progress bar's last newline: no tracebacks
    with Store(url, upgrade=False) as s:
        assert s.stage_status("victim", 0)[Stage.TRAIN] == "failed"
        assert s.get_run("victim").status == "failed"
    assert _cold_start_error(url) == "interrupted (SIGINT)"

    # what a kill -9 mid-save leaves (a signal cleans up after itself): the next start removes it
    run_dir = Path(env["SELFTAUGHT_HOME"]) / "runs" / "victim"
    leftovers = [run_dir / ".round-001.tmp-k9xq", run_dir / ".init-3hz0", run_dir / "round-000.invalid-17"]
    for folder in leftovers:
        folder.mkdir(parents=True)
        (folder / "model.safetensors").write_bytes(b"\0" * 1024)
    run_cli(["run", str(recipe), "--resume", "victim"], env, log)
    assert not [f for f in leftovers if f.exists()]
    with Store(url, upgrade=False) as s:
        assert s.get_run("victim").status == "done"
        assert all(set(s.stage_status("victim", i).values()) == {"done"} for i in (0, 1))


@pytest.mark.slow  # starts Prefect's temporary server (~20-30 s in all)
def test_sigterm_to_the_group_stops_at_once_and_the_temporary_server_goes_with_the_run(tmp_path):
    recipe, env, log = _recipe(tmp_path), _no_api_url(tmp_path), tmp_path / "cli.log"
    proc = start_cli(["run", str(recipe), "--run-id", "victim"], env, log)
    wait_until(_cold_start_running(env["SELFTAUGHT_DB_URL"]), proc, log)
    servers = prefect_servers(proc.pid)
    assert len(servers) == 1  # the temporary server, found where the test looks
    rc, seconds, after = _interrupt(proc, log, signal.SIGTERM, group=True)

    assert rc == 143, after
    assert seconds < STOP_WITHIN
    assert after[-1] == f"interrupted; resume with: selftaught run {recipe} --resume victim"
    assert len(after) <= 3, after  # no ConnectError tracebacks from a server stopped too early
    assert wait_gone(servers, timeout=5) == []
    with Store(env["SELFTAUGHT_DB_URL"], upgrade=False) as s:
        assert s.stage_status("victim", 0)[Stage.TRAIN] == "failed"
    assert _cold_start_error(env["SELFTAUGHT_DB_URL"]) == "interrupted (SIGTERM)"


@pytest.mark.slow  # starts Prefect's temporary server (~20-30 s in all)
def test_kill_9_of_the_run_alone_takes_the_temporary_server_along(tmp_path):
    recipe, env, log = _recipe(tmp_path), _no_api_url(tmp_path), tmp_path / "cli.log"
    proc = start_cli(["run", str(recipe), "--run-id", "victim"], env, log)
    wait_until(_cold_start_running(env["SELFTAUGHT_DB_URL"]), proc, log)
    servers = prefect_servers(proc.pid)
    assert len(servers) == 1
    os.kill(proc.pid, signal.SIGKILL)  # the leader only: nothing else is signalled
    proc.wait(timeout=30)
    left = wait_gone(servers, timeout=5)
    for pid in left:  # ours: clean up before failing
        os.kill(pid, signal.SIGKILL)
    assert left == [], "Prefect's temporary server outlived a kill -9 of the run"
