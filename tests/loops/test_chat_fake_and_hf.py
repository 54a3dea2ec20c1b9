"""FakeChatModel and HFChatModel on a tiny randomly initialised model (no downloads)."""

from __future__ import annotations

import math

import pytest

from selftaught.loops.chat import ChatError, ChatModel, FakeChatModel, HFChatModel

CONV = [{"role": "user", "content": "hi"}]


def test_fake_canned_and_calls():
    m = FakeChatModel.canned({"hi": "hello"}, default="?")
    assert isinstance(m, ChatModel)
    assert m.complete([CONV, [{"role": "user", "content": "x"}]]) == ["hello", "?"]
    assert m.option_logprobs([CONV], ["A", "B"]) == [[-math.log(2)] * 2]
    assert [k for k, _ in m.calls] == ["complete", "complete", "option_logprobs"]


def test_fake_can_fail():
    m = FakeChatModel(lambda msgs: ChatError("down", attempts=4))
    (out,) = m.complete([CONV])
    assert isinstance(out, ChatError) and "after 4 attempt(s)" in str(out)


@pytest.fixture(scope="module")
def tiny_hf():
    """A ~100k-parameter Llama with a character-level tokenizer and a chat template."""
    torch = pytest.importorskip("torch")
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    chars = sorted(set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,?!:()\n<>|_"))
    vocab = {c: i for i, c in enumerate(["<pad>", "<eos>"] + chars)}
    raw = Tokenizer(models.WordLevel(vocab, unk_token="<pad>"))
    raw.pre_tokenizer = pre_tokenizers.Split("", "isolated")
    tok = PreTrainedTokenizerFast(tokenizer_object=raw, pad_token="<pad>", eos_token="<eos>", padding_side="left")
    tok.chat_template = (
        "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
        "{% if add_generation_prompt %}<|assistant|>{% endif %}"
    )
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                      num_attention_heads=2, num_key_value_heads=2, pad_token_id=0, eos_token_id=1, bos_token_id=1)
    return HFChatModel(LlamaForCausalLM(cfg), tok, batch_size=2)


def test_hf_complete_batched_and_seeded(tiny_hf):
    batch = [CONV, [{"role": "user", "content": "a longer question?"}], CONV]
    greedy = tiny_hf.complete(batch, max_new_tokens=5, temperature=0.0)
    assert len(greedy) == 3 and all(isinstance(t, str) for t in greedy)
    assert greedy[0] == greedy[2]  # same prompt, different batch and padding, same greedy text
    s1 = tiny_hf.complete(batch, max_new_tokens=5, temperature=1.0, seed=5)
    s2 = tiny_hf.complete(batch, max_new_tokens=5, temperature=1.0, seed=5)
    assert s1 == s2


def test_hf_option_logprobs_match_a_manual_forward(tiny_hf):
    import torch

    (scores,) = tiny_hf.option_logprobs([CONV], ["A", "(B)"])
    tok, model = tiny_hf.tokenizer, tiny_hf.model
    ctx = tok(tok.apply_chat_template(CONV, tokenize=False, add_generation_prompt=True), add_special_tokens=False)["input_ids"]
    opt = tok("(B)", add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logp = torch.log_softmax(model(torch.tensor([ctx + opt])).logits[0], -1)
    manual = sum(float(logp[len(ctx) + i - 1, t]) for i, t in enumerate(opt))
    assert scores[1] == pytest.approx(manual, abs=1e-4)
    assert scores[0] < 0 and len(scores) == 2
    # batching/padding does not change the scores
    again = tiny_hf.option_logprobs([[{"role": "user", "content": "a much longer question here"}], CONV], ["A", "(B)"])
    assert again[1] == pytest.approx(scores, abs=1e-4)


def test_load_chat_puts_the_model_on_the_placement(tmp_path):
    import torch

    from selftaught.loops.chat import load_chat
    from selftaught.loops.tinymodel import build_tiny_chat_model
    from selftaught.hardware import Placement

    path = build_tiny_chat_model(tmp_path / "chat")
    for placement, dtype in ((Placement(), torch.float32), (Placement("cpu", "bfloat16"), torch.bfloat16)):
        chat = load_chat(path, name="t", threads=1, placement=placement)
        assert {(p.dtype, p.device.type) for p in chat.model.parameters()} == {(dtype, "cpu")}
        assert len(chat.complete([[{"role": "user", "content": "hi"}]], max_new_tokens=3)) == 1
