"""The embedded model: a character tokenizer trained here and a ~2.1M-parameter Llama.

Nothing is downloaded. ``build_tokenizer`` trains a ``tokenizers`` BPE model over the
printable ASCII alphabet with a vocabulary so small that no merges are learned: every
character is one token, so digits are never glued together (a BPE merge such as
``"45"`` makes addition much harder for a model this small). ``<think>`` and
``</think>`` are single ordinary tokens, so they survive ``skip_special_tokens``.

``init_policy`` builds a randomly initialised Llama config sized for the embedded
task and saves model and tokenizer with ``save_pretrained`` (atomically, with a
manifest: ``checkpoint.save_checkpoint``); the Auto classes load it back. Not Qwen2: ``AutoTokenizer`` would replace our tokenizer with
``Qwen2Tokenizer`` (see STACK-NOTES).

torch and transformers are imported inside the functions.
"""

from __future__ import annotations

import string
from pathlib import Path
from typing import Any

from selftaught.judges.base import THINK_CLOSE, THINK_OPEN

PAD, BOS, EOS, UNK = "<pad>", "<s>", "</s>", "<unk>"

#: Printable ASCII minus the whitespace we never emit; digits are single characters.
ALPHABET = sorted(set(string.printable) - set("\t\n\r\x0b\x0c"))

#: Model sizes: name -> Llama config fields. "tiny" is the embedded default.
SIZES: dict[str, dict[str, int]] = {
    "micro": dict(hidden_size=64, intermediate_size=256, num_hidden_layers=2, num_attention_heads=4),
    "tiny": dict(hidden_size=192, intermediate_size=640, num_hidden_layers=4, num_attention_heads=4),
    "small": dict(hidden_size=256, intermediate_size=768, num_hidden_layers=6, num_attention_heads=8),
}


def build_tokenizer() -> Any:
    """A character-level ``PreTrainedTokenizerFast`` with pad/bos/eos/unk, left padding."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, trainers
    from transformers import PreTrainedTokenizerFast

    specials = [PAD, BOS, EOS, UNK]
    tok = Tokenizer(models.BPE(unk_token=UNK))
    tok.decoder = decoders.Fuse()
    trainer = trainers.BpeTrainer(
        vocab_size=len(specials) + len(ALPHABET),  # room for the alphabet only: no merges
        special_tokens=specials,
        initial_alphabet=ALPHABET,
        show_progress=False,
    )
    tok.train_from_iterator(["".join(ALPHABET)], trainer=trainer)
    tok.add_tokens([AddedToken(t, normalized=False, special=False) for t in (THINK_OPEN, THINK_CLOSE)])
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token=PAD,
        bos_token=BOS,
        eos_token=EOS,
        unk_token=UNK,
        padding_side="left",  # given to the constructor so that save_pretrained keeps it
        model_max_length=512,
    )


def init_policy(out_dir: str | Path, *, seed: int = 0, size: str = "tiny") -> str:
    """Build, randomly initialise and save a Llama policy plus tokenizer; return the path."""
    if size not in SIZES:
        raise ValueError(f"unknown size {size!r}; choose one of {sorted(SIZES)}")
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from selftaught.loops.checkpoint import save_checkpoint
    from selftaught.loops.policy import quiet_transformers

    quiet_transformers()

    tokenizer = build_tokenizer()
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        max_position_embeddings=256,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=True,
        **SIZES[size],
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    meta = {"kind": "init", "size": size, "seed": seed, "n_parameters": count_parameters(model)}
    save_checkpoint(model, tokenizer, out_dir, meta=meta)
    return str(Path(out_dir))


def count_parameters(model: Any) -> int:
    return sum(p.numel() for p in model.parameters())


TINY_CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }} {% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def build_tiny_chat_model(out_dir: Path, *, seed: int = 0) -> str:
    """A randomly initialised ~60k-parameter Llama with a character tokenizer and a chat
    template (``policy: {init: tiny}`` of a CAI recipe): for tests of the plumbing, not of
    the method."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from selftaught.loops.checkpoint import save_checkpoint

    tok = build_tokenizer()
    tok.chat_template = TINY_CHAT_TEMPLATE
    config = LlamaConfig(
        vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
        num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=4096,
        pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
        tie_word_embeddings=True,
    )  # fmt: skip
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tok.pad_token_id
    model.generation_config.eos_token_id = tok.eos_token_id
    save_checkpoint(model, tok, out_dir, meta={"kind": "init", "init": "tiny-chat", "seed": seed})
    return str(out_dir)
