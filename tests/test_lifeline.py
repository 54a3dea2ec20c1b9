"""``selftaught.lifeline``: a child started through ``linked`` dies the moment its parent
dies, however it died; started plainly, the same child outlives a ``kill -9`` of its parent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from selftaught.lifeline import linked
from tests.helpers import cmdline, wait_gone

#: a parent that starts `sleep 60` (through ``linked`` or not), prints its pid, then waits
PARENT = """
import subprocess, sys, time
from selftaught.lifeline import linked
command = ["sleep", "60"]
child = subprocess.Popen(linked(command) if sys.argv[1] == "linked" else command)
print(child.pid, flush=True)
time.sleep(60)
"""


@pytest.mark.parametrize("how", ["linked", "plain"])
def test_a_linked_child_dies_with_its_killed_parent_and_a_plain_one_does_not(how):
    parent = subprocess.Popen([sys.executable, "-c", PARENT, how], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    deadline = time.monotonic() + 10
    while not cmdline(child).startswith("sleep") and time.monotonic() < deadline:  # exec'd
        time.sleep(0.02)
    parent.kill()
    parent.wait()
    left = wait_gone([child], timeout=3 if how == "linked" else 1)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert left == ([] if how == "linked" else [child])


def test_a_child_whose_parent_is_already_gone_never_starts(tmp_path):
    # pid 1 is not the lifeline's parent: as if the parent had died before the death signal was set
    marker = tmp_path / "ran"
    done = subprocess.run(linked(["touch", str(marker)], parent=1))
    assert done.returncode == 1
    assert not marker.exists()
