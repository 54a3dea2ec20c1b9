"""What a run's lease costs: take + release, a heartbeat, and a stage's status writes with
and without a held lease (each then checks the lease in its own transaction).

    python benchmarks/run_lease.py -n 500                # a SQLite file in a temp folder
    python benchmarks/run_lease.py -n 500 --pg postgresql+psycopg://postgres@127.0.0.1:5432/test

``--pg`` works in a schema of its own on that server, dropped at the end. Prints median
milliseconds per operation and the ratio of a held-lease stage write to a plain one.
Target: a held lease adds under 5 ms to a stage's start + finish (stages take 0.4 s and up).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from selftaught.flows.lease import acquire
from selftaught.records import Stage
from selftaught.store import Store
from selftaught.store.models import utcnow


def _ms(fn, n: int) -> float:
    """Median milliseconds of ``fn`` over ``n`` calls."""
    times = []
    for _ in range(n):
        clock = time.perf_counter()
        fn()
        times.append((time.perf_counter() - clock) * 1000)
    return statistics.median(times)


def _paired_ms(a, b, n: int) -> tuple[float, float]:
    """Median milliseconds of ``a`` and of ``b``, called alternately (a busy machine's load
    drifts; alternating shares it out evenly)."""
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(n):
        for fn, out in zip((a, b), times):
            clock = time.perf_counter()
            fn()
            out.append((time.perf_counter() - clock) * 1000)
    return statistics.median(times[0]), statistics.median(times[1])


def _stage_writes(store: Store, run_id: str) -> None:
    store.start_stage(run_id, 0, Stage.GENERATE)
    store.finish_stage(run_id, 0, Stage.GENERATE, seconds=0.1, metrics={})


@contextmanager
def _scratch_url(pg: str | None, tmp: Path) -> Iterator[str]:
    """A SQLite file, or a new schema on the PostgreSQL server ``pg`` (dropped afterwards)."""
    if pg is None:
        yield f"sqlite:///{tmp / 'lease.db'}"
        return
    name = f"bench_lease_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(pg, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{name}"')
    try:
        yield sa.make_url(pg).update_query_dict({"options": f"-csearch_path={name}"}).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{name}" CASCADE')
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", metavar="URL", help="a PostgreSQL server (default: a SQLite file in a temp folder)")
    parser.add_argument("-n", type=int, default=200, help="calls per measurement")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, _scratch_url(args.pg, Path(tmp)) as url:
        store = Store(url)
        plain, leased = f"plain-{uuid.uuid4().hex[:8]}", f"leased-{uuid.uuid4().hex[:8]}"
        for run in (plain, leased):
            store.create_run(run, name="bench", recipe={})

        def take_release() -> None:
            lease = acquire(store, leased, seconds=60)
            store.release_lease(leased, lease.token)

        take = _ms(take_release, args.n)
        lease = acquire(store, leased, seconds=60)
        beat = _ms(lambda: store.renew_lease(leased, lease.token, expires_at=utcnow()), args.n)
        without, with_lease = _paired_ms(lambda: _stage_writes(store, plain), lambda: _stage_writes(store, leased), args.n)
        store.release_lease(leased, lease.token)
        store.close()
    backend = "postgresql" if args.pg else "sqlite"
    print(f"{backend}: take + release {take:.2f} ms, heartbeat {beat:.2f} ms, "
          f"stage start+finish {without:.2f} ms plain vs {with_lease:.2f} ms holding a lease "
          f"(ratio {with_lease / without:.2f})")  # fmt: skip


if __name__ == "__main__":
    main()
