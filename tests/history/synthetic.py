"""A small finished run written straight through the Store (no model, no Prefect): seconds to build.

Run ``syn``: 6 training problems, 2 held-out ones, rounds 0-2. Round r gives problem i
``3`` generated samples of which ``min(3, i * r // 2)`` pass (so pass rates rise per round
and problem ``t0`` is never solved), one STaR rationalization per unsolved problem, a
training set, a checkpoint (with a 12-step loss curve) and a held-out evaluation; every stage is marked done.
"""

from __future__ import annotations

from selftaught.records import (
    Checkpoint, Evaluation, Judged, Outcome, Problem, Sample, SampleSource, SamplingParams, Split,
    Stage, TrainingExample, TrainingSet, Verdict,
)  # fmt: skip
from selftaught.store import Store

RUN = "syn"
TRAIN = [Problem(id=f"t{i}", prompt=f"Q: {i}+{i}=? A:", answer=str(2 * i)) for i in range(6)]
HELDOUT = [Problem(id=f"h{i}", prompt=f"Q: {i}+1=? A:", answer=str(i + 1), split=Split.HELDOUT) for i in range(2)]
K = 3


def n_pass(i: int, r: int) -> int:
    return min(K, i * r // 2)


def build(url: str) -> str:
    store = Store(url)
    store.create_run(RUN, name="synthetic", recipe={"method": "star", "rounds": 2})
    store.add_problems(TRAIN + HELDOUT)
    params = SamplingParams(max_new_tokens=8)
    parent = None
    for r in range(3):
        ckpt = f"{RUN}/r{r}"
        if r:
            samples = [Sample(p.id, k, p.prompt, f"<think>r{r}</think> {p.answer if k < n_pass(i, r) else 'x'}",
                              SampleSource.GENERATE, seed=k, params=params, checkpoint_id=parent)
                       for i, p in enumerate(TRAIN) for k in range(K)]  # fmt: skip
            store.add_samples(RUN, r, samples)
            judged = [Judged(s, Verdict("arithmetic", Outcome.PASS if s.completion.endswith(tuple("0123456789")) else Outcome.FAIL,
                                        1.0 if s.completion[-1].isdigit() else 0.25)) for s in samples]  # fmt: skip
            store.add_verdicts(RUN, r, judged)
            unsolved = [p for i, p in enumerate(TRAIN) if n_pass(i, r) == 0]
            rat = [Sample(p.id, 0, p.prompt + " (the answer is " + p.answer + ")", f"<think>hint</think> {p.answer}",
                          SampleSource.RATIONALIZE, seed=0, params=params, checkpoint_id=parent) for p in unsolved]  # fmt: skip
            store.add_samples(RUN, r, rat)
            store.add_verdicts(RUN, r, [Judged(s, Verdict("arithmetic", Outcome.PASS, 1.0)) for s in rat])
            good = [j.sample for j in judged if j.verdict.passed] + rat
            store.add_training_set(RUN, r, TrainingSet("star", tuple(
                TrainingExample(s.prompt.split(" (")[0], s.completion, s.problem_id, s.key) for s in good)))  # fmt: skip
        curve = [round(2.0 / (1 + r + step / 4), 4) for step in range(12)]  # what SFT records per step
        store.add_checkpoint(RUN, Checkpoint(ckpt, f"/nowhere/{r}", sha256=f"{r:064d}", parent_id=parent, round_index=r,
                                             config={"method": "sft", "loss_curve": curve}))  # fmt: skip
        evals = [Sample(p.id, k, p.prompt, f"{p.answer if k < r else 'y'}", SampleSource.EVAL, seed=k, params=params,
                        checkpoint_id=ckpt) for p in HELDOUT for k in range(2)]  # fmt: skip
        store.add_samples(RUN, r, evals)
        store.add_verdicts(RUN, r, [Judged(s, Verdict("arithmetic", Outcome.PASS if s.completion != "y" else Outcome.FAIL,
                                                      1.0 if s.completion != "y" else 0.0)) for s in evals])  # fmt: skip
        store.add_evaluation(RUN, r, Evaluation(ckpt, Split.HELDOUT, 2, 2, greedy_accuracy=r / 2, pass_at_1=r / 2,
                                                pass_at_k=min(1.0, r / 1.5), maj_at_k=r / 2))  # fmt: skip
        for stage in Stage:
            store.finish_stage(RUN, r, stage, seconds=1.0, metrics={})
        parent = ckpt
    store.close()
    return RUN
