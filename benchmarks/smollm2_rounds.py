"""A real instruct model through real rounds: held-out accuracy, wall time and peak RSS per stage.

    .venv/bin/selftaught model smollm2 models/smollm2-135m-instruct      # once, offline
    .venv/bin/python benchmarks/smollm2_rounds.py [--recipe recipes/smollm2-word-problems.yaml]
        [--out DIR] [--threads 1] [--lora] [--set KEY=VALUE ...]

Runs ``selftaught run RECIPE`` as a user would (a subprocess with its own SQLite store and
home under ``--out``), samples the process's resident memory every 0.2 s, and afterwards
reads the store: each round's held-out greedy accuracy, pass@1, pass@k and maj@k (with the
ratio to round 0, the model before any round, from the same run), each stage's wall time
and the peak RSS while it ran, and each checkpoint's size on disk. ``--lora`` then runs one
more RFT round from the same model with ``lora: {save: adapters}`` and prints the adapter
checkpoint's size against the full one (the ratio). ``--set train.lr=3e-5`` overrides recipe
keys (dotted paths, YAML values) in a copy of the recipe.

Prints markdown tables; ``--json FILE`` writes the figures. Run it on a quiet machine: on 2
shared cores the wall times move with the load (``os.getloadavg()`` is printed).
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


class RssSampler(threading.Thread):
    """(unix time, RSS in MB) of one process every ``every`` seconds until it exits; also
    appended to ``log`` (so a resumed run's report still has the first process's samples)."""

    def __init__(self, pid: int, log: Path, every: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.pid, self.every, self.log = pid, every, log
        self.samples = [tuple(map(float, line.split())) for line in log.read_text().splitlines()] if log.exists() else []

    def run(self) -> None:
        status = Path(f"/proc/{self.pid}/status")
        with self.log.open("a") as out:
            while True:
                try:
                    text = status.read_text()
                except OSError:
                    return
                rss = next((int(line.split()[1]) for line in text.splitlines() if line.startswith("VmRSS:")), None)
                if rss is None:  # a zombie: gone
                    return
                self.samples.append((time.time(), rss / 1024))
                out.write(f"{self.samples[-1][0]:.2f} {self.samples[-1][1]:.1f}\n")
                out.flush()
                time.sleep(self.every)

    def peak(self, start: float | None = None, end: float | None = None) -> float | None:
        values = [mb for t, mb in self.samples if (start is None or t >= start) and (end is None or t <= end)]
        return max(values) if values else None


def _set(recipe: dict, dotted: str) -> None:
    key, _, value = dotted.partition("=")
    *path, last = key.split(".")
    node = recipe
    for part in path:
        node = node.setdefault(part, {})
    node[last] = yaml.safe_load(value)


def _write_recipe(src: Path, out: Path, overrides: list[str], **top: object) -> Path:
    recipe = yaml.safe_load(src.read_text())
    base = src.parent.resolve()
    for section, key in (("task", "train"), ("task", "heldout"), ("policy", "init")):
        value = recipe.get(section, {}).get(key)
        if isinstance(value, str) and value != "tiny" and not Path(value).is_absolute():
            recipe[section][key] = str((base / value).resolve())
    for item in overrides:
        _set(recipe, item)
    recipe.update(top)
    path = out / f"{recipe['name']}.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path


def run(recipe: Path, out: Path, run_id: str, threads: int, resume: bool = False) -> tuple[float, RssSampler]:
    env = dict(os.environ, SELFTAUGHT_DB_URL=f"sqlite:///{out / 'store.db'}", SELFTAUGHT_HOME=str(out / "home"),
               SELFTAUGHT_TORCH_THREADS=str(threads))  # fmt: skip
    log = open(out / f"{run_id}.log", "a")
    clock = time.time()
    which = ["--resume", run_id] if resume else ["--run-id", run_id]
    proc = subprocess.Popen([str(BIN / "selftaught"), "run", str(recipe), *which], env=env,
                            stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    sampler = RssSampler(proc.pid, out / f"{run_id}.rss")
    sampler.start()
    rc = proc.wait()
    sampler.join(timeout=5)
    if rc != 0:
        sys.exit(f"selftaught run failed (exit {rc}); see {out / f'{run_id}.log'}")
    return time.time() - clock, sampler


def _utc(text: str | None) -> float | None:
    if text is None:
        return None
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp()


def _size_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def report(out: Path, run_id: str, sampler: RssSampler) -> list[dict]:
    db = sqlite3.connect(out / "store.db")
    methods = json.loads(db.execute("select recipe from runs where id=?", (run_id,)).fetchone()[0])
    stages_of = {}
    for index, stage, start, end, seconds in db.execute(
        "select r.\"index\", s.stage, s.started_at, s.finished_at, s.seconds from stages s join rounds r "
        "on s.round_id = r.id where r.run_id=? order by r.\"index\"", (run_id,)
    ):  # fmt: skip
        stages_of.setdefault(index, {})[stage.lower()] = (seconds or 0.0, sampler.peak(_utc(start), _utc(end)))
    rows = []
    for index, ckpt_id, path in db.execute(
        "select round_index, id, path from checkpoints where run_id=? order by round_index", (run_id,)
    ):
        ev = db.execute("select greedy_accuracy, pass_at_1, pass_at_k, maj_at_k, k from evaluations "
                        "where checkpoint_id=?", (ckpt_id,)).fetchone()  # fmt: skip
        stages = methods.get("stages") or [methods["method"]] * methods["rounds"]
        rows.append({
            "round": index, "method": "start" if index == 0 else stages[index - 1],
            "greedy": ev[0], "pass_at_1": ev[1], "pass_at_k": ev[2], "maj_at_k": ev[3], "k": ev[4],
            "stages": stages_of.get(index, {}),
            "checkpoint_mb": _size_mb(Path(path)) if index else None,
        })  # fmt: skip
    return rows


def _print(rows: list[dict], wall: float, sampler: RssSampler) -> None:
    base = rows[0]
    k = base["k"]
    print(f"\n| round | method | greedy | pass@1 | pass@{k} | maj@{k} | greedy / start | pass@1 / start | checkpoint |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        ratio = lambda key: "-" if not base[key] else f"{r[key] / base[key]:.2f}x"  # noqa: E731
        size = "-" if r["checkpoint_mb"] is None else f"{r['checkpoint_mb']:.0f} MB"
        print(f"| {r['round']} | {r['method']} | {r['greedy']:.1%} | {r['pass_at_1']:.1%} | {r['pass_at_k']:.1%} | "
              f"{r['maj_at_k']:.1%} | {ratio('greedy')} | {ratio('pass_at_1')} | {size} |")  # fmt: skip
    print("\n| round | stage | seconds | peak RSS |")
    print("|---|---|---:|---:|")
    for r in rows:
        for stage, (seconds, peak) in r["stages"].items():
            if seconds >= 0.5:
                print(f"| {r['round']} | {stage} | {seconds:.0f} | {'-' if peak is None else f'{peak:,.0f} MB'} |")
    print(f"\nwall {wall:.0f} s, peak RSS of the run {sampler.peak() or 0:,.0f} MB, load {os.getloadavg()[0]:.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recipe", type=Path, default=ROOT / "recipes" / "smollm2-word-problems.yaml")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "smollm2")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--lora", action="store_true", help="also one RFT round saving LoRA adapters only")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a recipe key")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--resume", metavar="RUN", help="finish an interrupted run of this benchmark (same --out)")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = args.resume.removeprefix("bench-") if args.resume else time.strftime("%Y%m%d-%H%M%S")
    recipe = _write_recipe(args.recipe, args.out, args.set)
    wall, sampler = run(recipe, args.out, f"bench-{stamp}", args.threads, resume=bool(args.resume))
    rows = report(args.out, f"bench-{stamp}", sampler)
    print(f"recipe {args.recipe} {' '.join(args.set)}; {args.threads} torch thread(s)")
    _print(rows, wall, sampler)
    result = {"recipe": str(args.recipe), "overrides": args.set, "wall": wall, "peak_mb": sampler.peak(), "rounds": rows}
    if args.lora:
        lora = _write_recipe(args.recipe, args.out, args.set, name="smollm2-lora", stages=["rft"],
                             lora={"r": 16, "alpha": 32, "save": "adapters"})  # fmt: skip
        lwall, lsampler = run(lora, args.out, f"lora-{stamp}", args.threads)
        lrows = report(args.out, f"lora-{stamp}", lsampler)
        full = rows[1]["checkpoint_mb"]
        adapters = lrows[1]["checkpoint_mb"]
        print(f"\nLoRA r=16, adapters only: round-1 checkpoint {adapters:.1f} MB vs {full:.0f} MB full "
              f"({adapters / full:.3f}x); held-out greedy {lrows[1]['greedy']:.1%} (full fine-tuning "
              f"{rows[1]['greedy']:.1%}); peak RSS {lsampler.peak() or 0:,.0f} MB vs {sampler.peak() or 0:,.0f} MB")  # fmt: skip
        result["lora"] = {"wall": lwall, "peak_mb": lsampler.peak(), "rounds": lrows}
    if args.json:
        args.json.write_text(json.dumps(result, indent=1, default=str))


if __name__ == "__main__":
    main()
