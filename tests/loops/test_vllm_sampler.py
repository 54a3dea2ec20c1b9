"""The vLLM sampler's seam, on a CPU: a fake engine with ``vllm.LLM.generate``'s interface
records what it was given (token-id prompts, one sampling-params record per prompt) and
answers like ``RequestOutput``. What the real engine does with them is not tested here
(no GPU, no vLLM): see docs/vllm.md."""

from __future__ import annotations

import doctest
from pathlib import Path
from types import SimpleNamespace

import pytest

from selftaught.errors import ModelUnavailable
from selftaught.loops import vllm_sampler
from selftaught.loops.policy import encode_prompts, eos_ids, load_policy
from selftaught.loops.vllm_sampler import (
    VLLMPolicy,
    load_vllm_policy,
    prompt_seed,
    prompt_token_ids,
    sampling_kwargs,
    vllm_policy,
)
from selftaught.records import SamplingParams
from tests.vllm_fake import FakeEngine, install_fake_vllm


@pytest.fixture
def fake_vllm(monkeypatch):
    """vLLM replaced by a recording fake (``tests/vllm_fake.py``): ``.engines``, ``.freed``, ``.fail``."""
    return install_fake_vllm(monkeypatch)


# ------------------------------------------------------------------- the mapping


@pytest.mark.parametrize(
    "params, n, expected",
    [
        # sampling: every field carried over; top_k 0 (off in selftaught and HF) is vLLM's -1
        (SamplingParams(temperature=0.7, top_p=0.9, top_k=0, max_new_tokens=33), 8,
         dict(n=8, temperature=0.7, top_p=0.9, top_k=-1, max_tokens=33)),
        # a real top-k stays as it is
        (SamplingParams(top_k=5), 2, dict(n=2, temperature=1.0, top_p=1.0, top_k=5, max_tokens=64)),
        # greedy: one completion at temperature 0 (repeated by complete), no top-p/top-k cut
        (SamplingParams(temperature=0.7, top_p=0.9, top_k=5, do_sample=False), 8,
         dict(n=1, temperature=0.0, top_p=1.0, top_k=-1, max_tokens=64)),
    ],
)  # fmt: skip
def test_sampling_params_map_to_vllm_fields(params, n, expected):
    kw = sampling_kwargs(params, n=n, seed=11, stop_ids=[2, 9])
    assert {k: kw[k] for k in expected} == expected
    assert (kw["seed"], kw["stop_token_ids"], kw["skip_special_tokens"]) == (11, [2, 9], True)


def test_prompt_seeds_are_stable_and_distinct():
    seeds = [prompt_seed(3, i) for i in range(100)]
    assert len(set(seeds)) == 100 and seeds == [prompt_seed(3, i) for i in range(100)]
    assert all(0 <= s < 2**32 for s in seeds) and prompt_seed(4, 0) != seeds[0]


# ------------------------------------------------------------------------- tokens in


def test_token_ids_are_the_hf_paths_without_padding_and_without_a_second_bos(monkeypatch):
    from tests.loops.test_prompting import _bos_tokenizer

    from selftaught.loops.prompting import PromptStyle
    from selftaught.records import Problem

    tok = _bos_tokenizer()
    chat = PromptStyle(chat=True)
    texts = [chat.render(Problem(id="a", prompt="hi"), tok), chat.render(Problem(id="b", prompt="hi hi hi"), tok)]
    ids = prompt_token_ids(tok, texts)
    enc = encode_prompts(tok, texts)
    for row, padded, mask in zip(ids, enc["input_ids"].tolist(), enc["attention_mask"].tolist(), strict=True):
        assert row == [t for t, m in zip(padded, mask, strict=True) if m]  # the HF ids, left padding gone
        assert row.count(tok.bos_token_id) == 1 and row[0] == tok.bos_token_id
    assert len(ids[0]) < len(ids[1])  # the shorter prompt really was padded in the HF batch
    monkeypatch.setattr(vllm_sampler, "make_sampling_params", SimpleNamespace)
    engine = FakeEngine()
    VLLMPolicy(engine=engine, tokenizer=tok, stop_ids=[2], path="mem").complete(texts, n=1, params=SamplingParams(), seed=0)
    assert engine.calls[0][0] == [{"prompt_token_ids": row} for row in ids]  # what the engine is given


def test_a_chat_rendered_smollm2_prompt_reaches_the_engine_as_the_hf_ids(smollm2_dir, fake_vllm):
    from transformers import AutoTokenizer

    from selftaught.loops.prompting import INSTRUCTIONS, PromptStyle
    from selftaught.records import Problem

    tok = AutoTokenizer.from_pretrained(smollm2_dir)
    style = PromptStyle(chat=True, instruction=INSTRUCTIONS["boxed"])
    problems = [Problem(id="w", prompt="Tom has 2 apples and buys 3 more. How many?"), Problem(id="x", prompt="1+1?")]
    texts = [style.render(p, tok) for p in problems]
    hf = encode_prompts(tok, texts)
    policy = load_vllm_policy(smollm2_dir, seed=0)
    policy.complete(texts, n=2, params=SamplingParams(), seed=0)
    sent = [p["prompt_token_ids"] for p in fake_vllm.engines[0].calls[0][0]]
    assert sent == [[t for t, m in zip(r, a, strict=True) if m]
                    for r, a in zip(hf["input_ids"].tolist(), hf["attention_mask"].tolist(), strict=True)]  # fmt: skip
    policy.release()


# ---------------------------------------------------------------------- complete


def test_n_completions_per_prompt_in_order_with_one_seeded_request_each(micro_policy_path, fake_vllm):
    policy = load_vllm_policy(micro_policy_path, gpu_memory_utilization=0.3, dtype="bfloat16", seed=5)
    engine = fake_vllm.engines[0]
    assert {k: engine.built_with[k] for k in ("gpu_memory_utilization", "dtype", "seed")} == {
        "gpu_memory_utilization": 0.3, "dtype": "bfloat16", "seed": 5}  # fmt: skip
    texts = ["Q: 1+2=? A:", "Q: 10+20=? A:", "Q: 3+4=? A:"]
    rows = policy.complete(texts, n=3, params=SamplingParams(top_k=0), seed=42)
    assert [[c.text for c in row] for row in rows] == [[f"p{i}s{j}" for j in range(3)] for i in range(3)]
    assert [c.n_tokens for c in rows[0]] == [1, 2, 3]  # len(token_ids): the stop token counts, as in HF
    prompts, requests = engine.calls[0]
    assert [r.seed for r in requests] == [prompt_seed(42, i) for i in range(3)]
    assert {(r.n, r.top_k) for r in requests} == {(3, -1)}
    assert all(r.stop_token_ids == policy.stop_ids for r in requests)
    assert prompts == [{"prompt_token_ids": ids} for ids in prompt_token_ids(policy.tokenizer, texts)]
    policy.release()


def test_greedy_asks_once_and_repeats_like_the_hf_path(micro_policy_path, fake_vllm):
    policy = load_vllm_policy(micro_policy_path)
    rows = policy.complete(["Q: 1+2=? A:"], n=4, params=SamplingParams(do_sample=False), seed=0)
    assert [c.text for c in rows[0]] == ["p0s0"] * 4
    assert fake_vllm.engines[0].calls[0][1][0].n == 1
    policy.release()


def test_stop_ids_are_every_eos_id_the_hf_policy_stops_at(micro_policy_path, fake_vllm):
    hf = load_policy(micro_policy_path)
    assert load_vllm_policy(micro_policy_path).stop_ids == eos_ids(hf.model, hf.tokenizer)


def test_the_stop_ids_include_every_eos_of_the_generation_config(micro_policy_path, fake_vllm, tmp_path):
    import json
    import shutil

    folder = tmp_path / "multi-eos"
    shutil.copytree(micro_policy_path, folder)
    gen = folder / "generation_config.json"
    config = json.loads(gen.read_text()) if gen.is_file() else {}
    gen.write_text(json.dumps({**config, "eos_token_id": [2, 40, 41]}))  # as Llama-3 Instruct lists three
    (folder / "manifest.json").unlink()  # edited by hand: a user's model folder now, not a selftaught checkpoint
    policy = load_vllm_policy(folder)
    assert {40, 41} <= set(policy.stop_ids) and policy.stop_ids == eos_ids(load_policy(folder).model, policy.tokenizer)


# ------------------------------------------------------------------------- release


def test_release_shuts_the_engine_down_frees_memory_once_and_refuses_later_calls(micro_policy_path, fake_vllm):
    policy = load_vllm_policy(micro_policy_path)
    engine = policy.engine
    policy.release()
    policy.release()
    assert (engine.shut_down, fake_vllm.freed, policy.engine) == (1, 1, None)
    with pytest.raises(RuntimeError, match="released"):
        policy.complete(["Q: 1+2=? A:"], n=1, params=SamplingParams(), seed=0)


def test_the_block_releases_the_engine_even_when_sampling_raises(micro_policy_path, fake_vllm):
    fake_vllm.fail = True
    with pytest.raises(RuntimeError, match="out of memory"):
        with vllm_policy(micro_policy_path) as policy:
            policy.complete(["Q: 1+2=? A:"], n=2, params=SamplingParams(), seed=0)
    assert (fake_vllm.engines[0].shut_down, fake_vllm.freed, policy.engine) == (1, 1, None)


def test_adapters_only_checkpoints_reach_the_engine_merged_until_release(micro_policy_path, fake_vllm, tmp_path):
    from selftaught.loops.arithmetic import make_problems
    from selftaught.loops.lora import LoRASettings, is_adapters_only
    from selftaught.loops.train import SFTSettings, gold_training_set, train_sft
    from selftaught.records import Split

    ckpt = train_sft(micro_policy_path, gold_training_set(make_problems(8, Split.TRAIN, seed=1)), str(tmp_path / "r1"),
                     cfg=SFTSettings(lr=1e-3, steps=1, batch_size=4, warmup=0), checkpoint_id="r1", parent_id=None, round_index=1,
                     lora=LoRASettings(r=2, alpha=4, save="adapters"))  # fmt: skip
    assert is_adapters_only(ckpt.path)
    policy = load_vllm_policy(ckpt.path)
    merged = Path(fake_vllm.engines[0].built_with["model"])
    assert merged != Path(ckpt.path) and "config.json" in fake_vllm.engines[0].built_with["files"]
    assert "model.safetensors" in fake_vllm.engines[0].built_with["files"]  # full weights, not adapters
    assert merged.is_dir()  # vLLM may read the folder while it runs
    policy.release()
    assert not merged.exists()


def test_without_vllm_the_factory_fails_in_one_line_before_loading(micro_policy_path, monkeypatch):
    monkeypatch.setattr(vllm_sampler, "vllm_unavailable", lambda: "needs a CUDA GPU, and torch sees none here")
    with pytest.raises(ModelUnavailable) as err:
        load_vllm_policy(micro_policy_path)
    assert "\n" not in str(err.value) and str(err.value) == "the vLLM sampler needs a CUDA GPU, and torch sees none here"


def test_availability_names_the_missing_package_then_the_missing_gpu(monkeypatch):
    import importlib.util

    import torch

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "vllm" else real(name, *a))
    assert "pip install 'selftaught[vllm]'" in vllm_sampler.vllm_unavailable()
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: object() if name == "vllm" else real(name, *a))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert "CUDA" in vllm_sampler.vllm_unavailable()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert vllm_sampler.vllm_unavailable() is None


def test_a_policy_built_by_hand_is_a_completer(monkeypatch):
    """The class needs nothing from vLLM: any engine with ``generate`` will do."""
    from tests.loops.test_prompting import _bos_tokenizer

    monkeypatch.setattr(vllm_sampler, "make_sampling_params", SimpleNamespace)
    policy = VLLMPolicy(engine=FakeEngine(), tokenizer=_bos_tokenizer(), stop_ids=[2], path="mem", free_memory=lambda: None)
    rows = policy.complete(["hi", "hi hi"], n=2, params=SamplingParams(), seed=1)
    assert [[c.text for c in r] for r in rows] == [["p0s0", "p0s1"], ["p1s0", "p1s1"]]
    assert policy.complete([], n=2, params=SamplingParams(), seed=1) == []


def test_doctests():
    result = doctest.testmod(vllm_sampler)
    assert result.attempted >= 5 and result.failed == 0
