"""The embedded model: a character tokenizer and a Llama policy that reload with the Auto classes."""

from __future__ import annotations

from selftaught.loops.arithmetic import gold_completion
from selftaught.loops.checkpoint import verify_checkpoint
from selftaught.loops.tinymodel import build_tokenizer, count_parameters, init_policy


def test_tokenizer_round_trips_and_keeps_digits_apart():
    tok = build_tokenizer()
    text = "Q: 87+45=? A:" + gold_completion(87, 45)
    ids = tok(text)["input_ids"]
    assert tok.decode(ids) == text
    assert tok.convert_ids_to_tokens(tok("132")["input_ids"]) == ["1", "3", "2"]
    assert tok.convert_ids_to_tokens(tok("<think>1</think>")["input_ids"]) == ["<think>", "1", "</think>"]
    assert tok.decode(ids + [tok.eos_token_id, tok.pad_token_id], skip_special_tokens=True) == text
    assert tok.padding_side == "left" and tok.pad_token != tok.eos_token


def test_init_policy_saves_a_llama_that_auto_classes_reload(tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = init_policy(tmp_path / "p", seed=0, size="tiny")
    manifest = verify_checkpoint(path)
    model = AutoModelForCausalLM.from_pretrained(path)
    tok = AutoTokenizer.from_pretrained(path)
    assert model.config.model_type == "llama"
    assert 2_000_000 <= count_parameters(model) <= 3_000_000
    assert manifest["meta"]["n_parameters"] == count_parameters(model)
    assert tok.padding_side == "left"  # survives save_pretrained
    assert tok("Q: 1+2=? A:")["input_ids"] == build_tokenizer()("Q: 1+2=? A:")["input_ids"]
    assert init_policy(tmp_path / "q", seed=0, size="tiny") and (
        verify_checkpoint(tmp_path / "q")["sha256"] == manifest["sha256"]
    )  # same seed, same weights
