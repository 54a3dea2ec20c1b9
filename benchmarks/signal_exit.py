"""How a signalled ``selftaught run`` stops: seconds from the signal to the exit, the exit
status, the stderr lines written after the signal, and whether Prefect's temporary server
outlives the run.

Each try starts ``selftaught run`` on a tiny recipe (the tests' size) with no
``PREFECT_API_URL``, so Prefect's temporary server is the one a user gets; waits until
round 1's generate stage is running; then sends the signal either to the whole process
group (what Ctrl-C in a terminal and ``timeout`` do) or to the run's process only
(``kill -9`` of the parent). Servers still running 15 s after the run ended are counted as
orphans, then killed. Run from the repository root:

    .venv/bin/python benchmarks/signal_exit.py --signal INT --target group --tries 2
    .venv/bin/python benchmarks/signal_exit.py --signal KILL --target leader

``--src FOLDER`` runs another checkout's ``src`` (e.g. the code before a change).
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.helpers import prefect_servers, start_cli, wait_gone  # noqa: E402

RECIPE = """name: tiny
method: star
rounds: 2
task: {n_train: 24, prompts_per_round: 12, n_heldout: 12, n_cold_start: 24}
policy: {cold_start_steps: 12, cold_start_batch_size: 8}
generate: {k: 3, max_new_tokens: 32, batch_size: 16}
train: {steps: 4, batch_size: 8}
evaluate: {k: 2}
"""


def _generate_running(url: str) -> bool:
    from selftaught.records import Stage
    from selftaught.store import Store

    try:
        with Store(url, upgrade=False) as s:
            return s.stage_status("victim", 1).get(Stage.GENERATE) == "running"
    except Exception:  # the store does not exist yet
        return False


def one_try(root: Path, sig: signal.Signals, target: str, src: str | None, prefect_home: str) -> dict:
    (root / "tiny.yaml").write_text(RECIPE)
    url = f"sqlite:///{root / 'store.db'}"
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env.update(SELFTAUGHT_DB_URL=url, SELFTAUGHT_HOME=str(root / "home"), SELFTAUGHT_TORCH_THREADS="1",
               PREFECT_HOME=prefect_home)  # fmt: skip
    if src:
        env["PYTHONPATH"] = src
    log = root / "cli.log"
    proc = start_cli(["run", str(root / "tiny.yaml"), "--run-id", "victim"], env, log)
    while not _generate_running(url):
        if proc.poll() is not None:
            raise SystemExit(f"the run ended before round 1 (rc {proc.returncode}):\n{log.read_text()[-2000:]}")
        time.sleep(0.2)
    servers = prefect_servers(proc.pid)
    offset = log.stat().st_size
    clock = time.perf_counter()
    (os.killpg if target == "group" else os.kill)(proc.pid, sig)
    rc = proc.wait()
    seconds = time.perf_counter() - clock
    orphans = wait_gone(servers, timeout=15)
    for pid in orphans:  # ours: we started them
        os.kill(pid, signal.SIGKILL)
    after = log.read_bytes()[offset:].decode(errors="replace").splitlines()
    return {"seconds": seconds, "rc": rc, "stderr_lines": len(after), "servers": len(servers),
            "orphans": len(orphans), "after": after}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--signal", choices=["INT", "TERM", "KILL"], default="INT")
    ap.add_argument("--target", choices=["group", "leader"], default="group")
    ap.add_argument("--tries", type=int, default=1)
    ap.add_argument("--src", help="PYTHONPATH for the run (another checkout's src)")
    ap.add_argument("--show", action="store_true", help="print what the run wrote after the signal")
    args = ap.parse_args()
    sig = signal.Signals[f"SIG{args.signal}"]
    prefect_home = tempfile.mkdtemp(prefix="signal-exit-prefect-")
    rows = []
    for i in range(args.tries):
        with tempfile.TemporaryDirectory(prefix="signal-exit-") as tmp:
            row = one_try(Path(tmp), sig, args.target, args.src, prefect_home)
        rows.append(row)
        after = row.pop("after")
        print(f"try {i + 1}: {row}", flush=True)
        if args.show:
            print("  stderr after the signal:", *after[-40:], sep="\n  | ", flush=True)
    secs = [r["seconds"] for r in rows]
    print(f"SIG{args.signal} to the {args.target}: exit after median {statistics.median(secs):.1f} s "
          f"(min {min(secs):.1f}, max {max(secs):.1f}); exit codes {[r['rc'] for r in rows]}; "
          f"stderr lines after the signal {[r['stderr_lines'] for r in rows]}; "
          f"orphaned servers {sum(r['orphans'] for r in rows)} of {sum(r['servers'] for r in rows)}")  # fmt: skip


if __name__ == "__main__":
    main()
