"""How much the store grows per round, and how much of it is the training-set records.

    python benchmarks/store_growth.py                       # a 3-round tiny STaR run, then measure
    python benchmarks/store_growth.py --db sqlite:///selftaught.db --run RUN   # an existing store

A run's store holds its samples and verdicts and, per train stage, the rows the checkpoint
trained on (``training_examples``: SFT rows with their sample ids, in order;
``training_pairs``: DPO pairs). This prints, per round, the samples written and the training
rows recorded, and for the whole SQLite file the bytes of every table with its indexes
(SQLite's ``dbstat``), as bytes per stored sample: what the training-set records cost
beside the samples they point to.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

RECIPE = """name: growth
method: star
rounds: {rounds}
seed: 0
task: {{n_train: 200, prompts_per_round: 64, n_heldout: 50, n_cold_start: 200}}
generate: {{k: 4}}
evaluate: {{k: 2}}
"""


def _run_tiny(root: Path, rounds: int) -> tuple[str, str]:
    recipe = root / "growth.yaml"
    recipe.write_text(RECIPE.format(rounds=rounds))
    env = dict(os.environ, SELFTAUGHT_DB_URL=f"sqlite:///{root / 'store.db'}", SELFTAUGHT_HOME=str(root / "home"))
    cli = Path(sys.executable).parent / "selftaught"
    subprocess.run([str(cli), "run", str(recipe), "--run-id", "growth"], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return str(root / "store.db"), "growth"


def _table_bytes(conn: sqlite3.Connection) -> dict[str, int]:
    """Bytes per table, its indexes included (dbstat names each b-tree; map index -> table)."""
    owner = dict(conn.execute("SELECT name, tbl_name FROM sqlite_master WHERE type IN ('table', 'index')"))
    sizes: dict[str, int] = {}
    for name, pgsize in conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name"):
        table = owner.get(name, name)
        sizes[table] = sizes.get(table, 0) + pgsize
    return sizes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", help="sqlite:///PATH of an existing store (default: run a tiny STaR run first)")
    ap.add_argument("--run", default="growth")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.db:
            path, run = args.db.removeprefix("sqlite:///"), args.run
        else:
            print(f"running a {args.rounds}-round tiny STaR run ...", file=sys.stderr)
            path, run = _run_tiny(Path(tmp), args.rounds)
        conn = sqlite3.connect(path)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        per_round = conn.execute(
            """SELECT r."index",
                      (SELECT count(*) FROM samples s WHERE s.round_id = r.id),
                      (SELECT count(*) FROM training_examples t WHERE t.round_id = r.id),
                      (SELECT count(*) FROM training_pairs p WHERE p.round_id = r.id)
               FROM rounds r WHERE r.run_id = ? ORDER BY r."index" """, (run,)).fetchall()
        print("| round | samples | SFT rows | DPO pairs |\n|---|---:|---:|---:|")
        for index, samples, rows, pairs in per_round:
            print(f"| {index} | {samples:,} | {rows:,} | {pairs:,} |")
        sizes = _table_bytes(conn)
        n_samples = conn.execute("SELECT count(*) FROM samples").fetchone()[0]
        total = sum(sizes.values())
        print(f"\nstore: {total / 1e6:.2f} MB for {n_samples:,} samples = {total / max(n_samples, 1):,.0f} bytes per sample")
        print("| table (with its indexes) | MB | bytes per sample | share |\n|---|---:|---:|---:|")
        for table, size in sorted(sizes.items(), key=lambda kv: -kv[1])[:10]:
            print(f"| {table} | {size / 1e6:.2f} | {size / max(n_samples, 1):,.0f} | {size / total:.1%} |")
        training = sizes.get("training_examples", 0) + sizes.get("training_pairs", 0)
        print(f"\ntraining-set records: {training / max(n_samples, 1):,.0f} bytes per sample "
              f"({training / total:.1%} of the store)")


if __name__ == "__main__":
    main()
