"""The hostile battery: model-written programs that attack the judge or the host.

Every row is one attack from the issue. For each: the verdict is not a pass, it
comes back within the deadline + 1 s, no sandbox process is left alive, nothing is
written outside the sandbox, the parent's secret appears in no output, and a correct
solution judged at the same time still passes.

Each hostile program also defines ``add`` WRONGLY (or not at all), so a pass could
only come from a forged result, not from the tests.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from selftaught.judges import CodeVerifier
from selftaught.judges.sandbox import _HOST_UID_BASE, _HOST_UID_SPAN
from selftaught.records import Outcome, Problem

from .marks import needs_bwrap

pytestmark = needs_bwrap

DEADLINE_S = 3.0
SECRET = "selftaught-test-secret-7c1f9e"
TESTS = "assert add(1, 2) == 3\nassert add(-1, 1) == 0\n"
CORRECT = "def add(a, b):\n    return a + b\n"

# (why the row exists, program). Placeholders: OUTSIDE (a world-writable host dir),
# PORT (a loopback port the test listens on), SENTINEL (a host pid), HOST (pytest's pid).
HOSTILE = [
    ("infinite loop: must hit the wall deadline", "def add(a, b):\n    while True:\n        pass\n"),
    (
        "fork bomb: RLIMIT_NPROC on a per-run uid bounds it; the pid namespace ends it",
        "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n",
    ),
    (
        "memory bomb: RLIMIT_AS turns it into MemoryError (or the deadline)",
        "blocks = []\nwhile True:\n    blocks.append(bytearray(50 * 2**20))\n",
    ),
    (
        "writing outside the temp dir: only a private tmpfs is writable",
        "import os\nfor path in ['OUTSIDE/pwned', '/tmp/selftaught-pwned', os.path.expanduser('~/pwned')]:\n"
        "    try:\n        open(path, 'w').write('x')\n    except OSError as e:\n        print(e)\n"
        "def add(a, b):\n    return None\n",
    ),
    (
        "reading a secret from the parent's environment: --clearenv and a fresh /proc",
        "import os, glob\nprint(dict(os.environ))\nfor p in glob.glob('/proc/*/environ'):\n"
        "    try:\n        print(open(p, 'rb').read())\n    except OSError as e:\n        print(e)\n"
        "import sys\nprint(open('/proc/HOST/environ', 'rb').read() if os.path.exists('/proc/HOST') else 'no host pid')\n"
        "def add(a, b):\n    return None\n",
    ),
    (
        "connecting to a loopback port the test opened: the network namespace is empty",
        "import socket\ntry:\n    s = socket.create_connection(('127.0.0.1', PORT), timeout=1)\n"
        "    s.sendall(b'leak')\nexcept OSError as e:\n    print(e)\ndef add(a, b):\n    return None\n",
    ),
    (
        "killing the parent (and a host process): host pids are not in the pid namespace",
        "import os, signal\nfor pid in (os.getppid(), HOST, SENTINEL):\n    try:\n"
        "        os.kill(pid, signal.SIGKILL)\n    except OSError as e:\n        print(pid, e)\n"
        "try:\n    os.kill(-1, signal.SIGKILL)\nexcept OSError as e:\n    print(e)\n",
    ),
    ("os._exit(0) before the tests: exit status proves nothing", "import os\nos._exit(0)\n"),
    ("sys.exit(0) before the tests: SystemExit is caught", "import sys\nsys.exit(0)\n"),
    (
        "an object whose __eq__ always returns True: comparisons refuse untrusted types",
        "class Yes:\n    def __eq__(self, other):\n        return True\n    def __bool__(self):\n"
        "        return True\n\ndef add(a, b):\n    return Yes()\n",
    ),
    ("100 MB of output: the output cap stops the run", "import sys\nsys.stdout.write('x' * (100 * 2**20))\n"),
    (
        "ignoring SIGTERM: the parent sends SIGKILL at the deadline",
        "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nwhile True:\n    time.sleep(0.1)\n",
    ),
    (
        "a detached daemon: setsid + double fork still dies with the pid namespace",
        "import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
        "        time.sleep(DELAY)\n        try:\n            open('OUTSIDE/daemon', 'w').write('x')\n"
        "        except OSError:\n            pass\n        os._exit(0)\n    os._exit(0)\n"
        "def add(a, b):\n    return None\n",
    ),
]


@pytest.fixture()
def listener():
    """A loopback TCP server socket the sandbox must not reach."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    yield server
    server.close()


@pytest.fixture()
def sentinel():
    """A host process the sandbox must not be able to kill."""
    proc = subprocess.Popen(["sleep", "120"])
    yield proc
    proc.kill()
    proc.wait()


@pytest.fixture()
def outside(tmp_path):
    """A world-writable host directory: only the mount namespace keeps writes out."""
    os.chmod(tmp_path, 0o777)
    return tmp_path


def sandbox_processes() -> list[str]:
    """Live (non-zombie) processes running under a sandbox host uid."""
    out = subprocess.run(
        ["ps", "-eo", "pid=,uid=,stat=,args="], capture_output=True, text=True
    ).stdout
    alive = []
    for line in out.splitlines():
        pid, uid, stat, *args = line.split(None, 3)
        if _HOST_UID_BASE <= int(uid) < _HOST_UID_BASE + _HOST_UID_SPAN and not stat.startswith("Z"):
            alive.append(line)
    return alive


@pytest.mark.parametrize("why, program", HOSTILE, ids=[w.split(":")[0] for w, _ in HOSTILE])
def test_hostile_program_is_contained(why, program, listener, sentinel, outside, monkeypatch):
    monkeypatch.setenv("SELFTAUGHT_TEST_SECRET", SECRET)
    program = (
        program.replace("OUTSIDE", str(outside))
        .replace("PORT", str(listener.getsockname()[1]))
        .replace("SENTINEL", str(sentinel.pid))
        .replace("HOST", str(os.getpid()))
        .replace("DELAY", "1.5")
    )
    problem = Problem(id="add", prompt="Write add(a, b).", tests=TESTS)
    hostile_judge = CodeVerifier(timeout_s=DEADLINE_S, memory_mb=512)
    honest_judge = CodeVerifier(timeout_s=20)

    def judged_hostile():
        start = time.monotonic()
        run, nonce = hostile_judge.execute(problem, program)
        return run, hostile_judge.grade(run, nonce), time.monotonic() - start

    with ThreadPoolExecutor(max_workers=2) as pool:
        hostile = pool.submit(judged_hostile)
        honest = pool.submit(honest_judge.verify, problem, CORRECT)
        run, verdict, elapsed = hostile.result()
        honest_verdict = honest.result()

    assert verdict.outcome is not Outcome.PASS, verdict
    assert verdict.score < 1.0
    assert elapsed <= DEADLINE_S + 1.0, f"{elapsed:.2f} s"
    assert honest_verdict.outcome is Outcome.PASS, honest_verdict
    for text in (run.stdout, run.stderr, verdict.detail.encode()):
        assert SECRET.encode() not in text
    try:
        listener.accept()
        pytest.fail("the sandbox reached a loopback port on the host")
    except TimeoutError:
        pass
    assert sentinel.poll() is None, "a host process was killed from the sandbox"
    time.sleep(2.0 if "daemon" in why else 0.2)  # give a surviving daemon time to act
    assert sandbox_processes() == []
    assert list(outside.iterdir()) == []
    assert not os.path.exists("/tmp/selftaught-pwned")
