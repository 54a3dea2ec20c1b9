"""Re-judging speed: ``selftaught rejudge`` against the judge stage on the same samples.

One round of N samples (K=8 per addition problem, completions in the embedded task's format)
in a fresh SQLite store. The judge stage's work, as ``flows/stages.judge_stage`` does it:
``get_samples`` of the round, ``judge_all`` with the arithmetic judge, one ``add_verdicts``.
Then ``flows/rejudge.rejudge`` with the strict boxed arithmetic judge on the same samples:
a query for the samples without a verdict of that version, ``verify_batch``, one
transaction per batch (``--batch``, 1024 as the CLI). Both write N verdicts; the ratio is
rejudge seconds / judge-stage seconds (the price of being resumable in batches).

    python benchmarks/rejudge_throughput.py              # N = 100,000
    python benchmarks/rejudge_throughput.py -n 20000 --batch 256
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from selftaught.flows.rejudge import rejudge
from selftaught.judges import get_verifier
from selftaught.loops.arithmetic import make_problems
from selftaught.loops.verify import ARITHMETIC, judge_all
from selftaught.records import Sample, SampleSource, SamplingParams, Split
from selftaught.store import Store

RUN = "bench"
K = 8


def _samples(problems) -> list[Sample]:
    params = SamplingParams(temperature=0.7, max_new_tokens=32)
    out = []
    for p in problems:
        for i in range(K):
            answer = p.answer if i % 2 == 0 else str(int(p.answer) + i)
            out.append(Sample(problem_id=p.id, index=i, prompt=p.prompt, completion=f" <think>work {i}</think> {answer}",
                              source=SampleSource.GENERATE, seed=i, params=params, checkpoint_id="c0", n_tokens=12))  # fmt: skip
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=100_000, help="samples (a multiple of 8)")
    ap.add_argument("--batch", type=int, default=1024)
    args = ap.parse_args()
    problems = make_problems(args.n // K, Split.TRAIN, 0, 4)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{Path(tmp) / 'store.db'}")
        store.create_run(RUN, name="bench", recipe={})
        store.add_problems(problems)
        store.add_samples(RUN, 1, _samples(problems))
        by_id = {p.id: p for p in problems}

        t0 = time.perf_counter()
        samples = store.get_samples(RUN, 1, SampleSource.GENERATE)
        n_stage = store.add_verdicts(RUN, 1, judge_all(samples, by_id, ARITHMETIC))
        stage_s = time.perf_counter() - t0

        strict = get_verifier("arithmetic", answer_format="boxed", strict=True)
        t0 = time.perf_counter()
        (done,) = rejudge(store, RUN, strict, batch=args.batch)
        rejudge_s = time.perf_counter() - t0
        store.close()
    assert n_stage == done["n_added"] == len(samples), (n_stage, done)
    print(f"N={len(samples)} batch={args.batch}: judge stage {stage_s:.2f} s ({len(samples) / stage_s:,.0f}/s), "
          f"rejudge {rejudge_s:.2f} s ({len(samples) / rejudge_s:,.0f}/s), ratio rejudge/stage {rejudge_s / stage_s:.2f}")


if __name__ == "__main__":
    main()
