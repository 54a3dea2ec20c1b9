"""A disk that fills in the middle of a run: one line naming the path, exit 1, and a store
that resumes (issue 14, part 5). The home folder is a small tmpfs, filled to the last byte
once the cold start's checkpoint is written, so the next checkpoint cannot be saved."""

from __future__ import annotations

import errno
import os
import subprocess
import time

import pytest

from selftaught.records import Stage
from selftaught.store import Store
from tests.cli.test_bad_inputs import _tmpfs
from tests.conftest import tiny_recipe_text
from tests.helpers import cli_env, kill_group, run_cli, start_cli, wait_until


def _fill(folder) -> None:
    """Write zeros until the file system has no byte left (unbuffered, so nothing is pending)."""
    fd = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        for size in (1 << 20, 4096, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)


@pytest.mark.slow
def test_a_full_disk_mid_run_is_one_line_and_the_run_resumes(tmp_path, prefect_server):
    recipe = tmp_path / "tiny.yaml"
    recipe.write_text(tiny_recipe_text(rounds="1"))
    env = cli_env(tmp_path, prefect_server)
    log = tmp_path / "cli.log"
    with _tmpfs(tmp_path / "mnt", "120m") as mnt:
        env["SELFTAUGHT_HOME"] = str(mnt / "home")
        url = env["SELFTAUGHT_DB_URL"]

        def cold_start_done() -> bool:
            try:
                with Store(url, upgrade=False) as s:
                    return s.stage_status("full", 0).get(Stage.TRAIN) == "done"
            except Exception:  # the store may not exist yet
                return False

        proc = start_cli(["run", str(recipe), "--run-id", "full"], env, log)
        wait_until(cold_start_done, proc, log)
        _fill(mnt)
        try:
            rc = proc.wait(timeout=300)
        except subprocess.TimeoutExpired:
            kill_group(proc)
            raise
        text = log.read_text()
        last = text.strip().splitlines()[-1]
        assert rc == 1, text[-3000:]
        assert "Traceback" not in text, text[-3000:]
        assert last.startswith("error: No space left on device: ") and str(mnt) in last, last

        with Store(url, upgrade=False) as s:
            assert s.get_run("full").status == "failed"
            status = s.stage_status("full", 1)
        assert status.get(Stage.TRAIN) == "failed" and status.get(Stage.EVALUATE) != "done", status

        (mnt / "filler").unlink()
        time.sleep(0.1)
        run_cli(["run", str(recipe), "--resume", "full"], env, log)
        with Store(url, upgrade=False) as s:
            assert s.get_run("full").status == "done"
            assert all(v == "done" for v in s.stage_status("full", 1).values())
