"""Policies: something that completes prompts. The HF one, and a fake one for tests.

``generate`` needs only ``policy.complete(texts, n=..., params=..., seed=...)``, which
returns, per prompt, ``n`` ``Completion``s (text and generated-token count). Two
implementations:

- ``Policy``: a causal LM in eval mode plus its tokenizer, loaded by ``load_policy``
  (after ``checkpoint.verified`` checked the folder) with the Auto classes on the device and in the dtype of a ``hardware.Placement`` (the
  CPU in float32 unless a GPU is there); ``complete`` runs one batched HF ``generate``
  with left padding and ``num_return_sequences=n`` on the model's device, seeded with
  ``seed``. ``load_policy`` sets torch's thread count (``threads=0`` leaves torch's
  default: one per core) because on a shared 2-core box 1 thread can be 3-6x faster than
  2 (STACK-NOTES). Nothing is cached: a flow task that retries loads the weights from
  disk again.

  Instruct models: a text that already starts with the tokenizer's BOS (a chat template
  renders it) is tokenized without adding another; generation stops at every EOS id the
  model's generation config lists (Llama-3 Instruct has three) as well as the tokenizer's,
  and a completion's token count ends at the first of them.
- ``FakePolicy``: maps prompts to canned completions (cycled over the ``n`` samples);
  no torch. For logic tests of the stages and flows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from selftaught.hardware import Placement, place, resolve
from selftaught.records import SamplingParams


@dataclass(frozen=True)
class Completion:
    """One generated continuation and how many tokens it took (EOS included)."""

    text: str
    n_tokens: int


class Completer(Protocol):
    """What ``generate`` needs from a policy."""

    def complete(
        self, texts: Sequence[str], *, n: int, params: SamplingParams, seed: int
    ) -> list[list[Completion]]: ...


def set_threads(threads: int) -> None:
    """Set torch's intra-op threads; 0 leaves the default."""
    if threads > 0:
        import torch

        torch.set_num_threads(threads)


def quiet_transformers() -> None:
    """No per-call progress bars or load reports from transformers/datasets."""
    import transformers

    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    try:
        import datasets

        datasets.disable_progress_bars()
        datasets.utils.logging.set_verbosity_error()
    except ImportError:  # pragma: no cover
        pass


def _count_tokens(ids: Sequence[int], eos_ids: int | Sequence[int] | None, pad_id: int | None) -> int:
    """Generated tokens up to and including the first EOS, padding excluded.

    >>> _count_tokens([5, 6, 2, 0, 0], [2, 7], 0), _count_tokens([5, 7, 0], [2, 7], 0), _count_tokens([5, 6, 0], 2, 0)
    (3, 2, 2)
    """
    stops = {eos_ids} if isinstance(eos_ids, int) else set(eos_ids or ())
    n = 0
    for t in ids:
        if t in stops:
            return n + 1
        if t == pad_id:
            break
        n += 1
    return n


def eos_ids(model: Any, tokenizer: Any) -> list[int]:
    """Every id that ends a completion: the generation config's (one or a list) and the tokenizer's."""
    ids: list[int] = []
    gen = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    for value in (gen, tokenizer.eos_token_id):
        for i in value if isinstance(value, list | tuple) else [value]:
            if isinstance(i, int) and i not in ids:
                ids.append(i)
    return ids


def encode_prompts(tokenizer: Any, texts: Sequence[str]) -> Any:
    """Left-padded tensors for ``texts``; no second BOS when a text already starts with it."""
    bos = tokenizer.bos_token
    add = not (bos and texts and all(t.startswith(bos) for t in texts))
    tokenizer.padding_side = "left"
    return tokenizer(list(texts), return_tensors="pt", padding=True, add_special_tokens=add)


def on_device(enc: Any, model: Any) -> Any:
    """A tokenizer's tensors moved to where ``model`` is (a no-op on the CPU)."""
    device = getattr(model, "device", None)
    return enc if device is None or str(device) == "cpu" else enc.to(device)


@dataclass(frozen=True)
class Policy:
    """A causal LM in eval mode, its tokenizer and where it came from."""

    model: Any
    tokenizer: Any
    path: str

    def _generation_kwargs(self, params: SamplingParams, n: int) -> dict[str, Any]:
        tok = self.tokenizer
        kw: dict[str, Any] = dict(
            max_new_tokens=params.max_new_tokens,
            pad_token_id=tok.pad_token_id,
            eos_token_id=eos_ids(self.model, tok),
        )
        if params.do_sample:
            kw.update(
                do_sample=True,
                temperature=params.temperature,
                top_p=params.top_p,
                top_k=params.top_k,  # 0 disables top-k (a generation config may say 50)
                num_return_sequences=n,
            )
        else:
            kw.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        return kw

    def complete(
        self, texts: Sequence[str], *, n: int, params: SamplingParams, seed: int
    ) -> list[list[Completion]]:
        """``n`` completions per text from one batched ``generate`` (greedy: one, repeated)."""
        import torch

        tok, model = self.tokenizer, self.model
        enc = on_device(encode_prompts(tok, texts), model)
        stops = eos_ids(model, tok)
        torch.manual_seed(seed)
        with torch.inference_mode():
            out = model.generate(**enc, **self._generation_kwargs(params, n))
        tail = out[:, enc["input_ids"].shape[1] :].tolist()
        decoded = tok.batch_decode(tail, skip_special_tokens=True)
        per = n if params.do_sample else 1
        rows = [
            Completion(decoded[i], _count_tokens(tail[i], stops, tok.pad_token_id))
            for i in range(len(tail))
        ]
        return [[rows[i * per + (j if per > 1 else 0)] for j in range(n)] for i in range(len(texts))]


@dataclass
class FakePolicy:
    """Canned completions per prompt text, cycled over the samples; records every call.

    >>> fake = FakePolicy({"Q: 1+1=? A:": [" 2", " 3"]})
    >>> [c.text for c in fake.complete(["Q: 1+1=? A:"], n=3, params=SamplingParams(), seed=0)[0]]
    [' 2', ' 3', ' 2']
    """

    completions: Mapping[str, Sequence[str]]
    default: str | Callable[[str], str] = ""
    calls: list[tuple[tuple[str, ...], int, int]] = field(default_factory=list)

    def complete(
        self, texts: Sequence[str], *, n: int, params: SamplingParams, seed: int
    ) -> list[list[Completion]]:
        self.calls.append((tuple(texts), n, seed))
        out = []
        for text in texts:
            canned = self.completions.get(text)
            if not canned:
                canned = [self.default(text) if callable(self.default) else self.default]
            picks = [canned[0]] * n if not params.do_sample else [canned[j % len(canned)] for j in range(n)]
            out.append([Completion(t, len(t) + 1) for t in picks])
        return out


def load_tokenizer(root: Path) -> Any:
    """The folder's tokenizer, with a pad token (its EOS where it has none)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(root)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_policy(path: str | Path, *, threads: int = 0, placement: Placement | None = None) -> Policy:
    """Load a saved policy with the Auto classes (or LoRA adapters on their base), in eval mode,
    in the placement's dtype on its device (None: what ``hardware.decide`` picks here). The
    folder is verified first (``checkpoint.verified``)."""
    from selftaught.loops.checkpoint import verified
    from selftaught.loops.lora import load_causal_lm

    placement = resolve(placement)
    with verified(path) as root:
        set_threads(threads)
        quiet_transformers()
        tokenizer = load_tokenizer(root)
        model = load_causal_lm(root, dtype=placement.torch_dtype())
    tokenizer.padding_side = "left"
    model = place(model, placement)
    model.eval()
    return Policy(model=model, tokenizer=tokenizer, path=str(root))


def saved_dtype(path: str | Path) -> str | None:
    """The dtype a checkpoint was saved in (``config.json``), e.g. ``"bfloat16"``; None if unsaid."""
    import json

    try:
        config = json.loads((Path(path) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    value = config.get("dtype") or config.get("torch_dtype")
    return str(value) if value else None


#: floats in one (tokens x vocabulary) tile of TRL's log-probability head in plain torch
LOGPROB_TILE_FLOATS = 1 << 24


def logprob_tile(vocab_size: int, default: int = 4096) -> int:
    """Tokens per tile so that one tile holds ~16M floats (a power of two, 128..``default``).

    >>> logprob_tile(49152), logprob_tile(151936), logprob_tile(100)
    (256, 128, 4096)
    """
    tokens = max(128, min(default, LOGPROB_TILE_FLOATS // max(vocab_size, 1)))
    return 1 << (tokens.bit_length() - 1)


def bound_trl_logprob_tiles(vocab_size: int, placement: Placement) -> None:
    """Smaller tiles for TRL's fused log-probability head where it has no Triton kernel.

    TRL 1.16's SFT, DPO, GRPO and RLOO trainers compute token log-probabilities with a tiled
    head (``trl.kernels.chunked_logprob``); without Triton (a CPU) each tile of up to 4,096
    tokens x the vocabulary is folded in plain torch with 6-8 temporaries of that size.
    Measured with SmolLM2 (vocabulary 49,152): the head alone added 4.36 GB at 4,096 tokens,
    0.39 GB with 256-token tiles, at the same speed. The tile follows the vocabulary
    (``logprob_tile``), so the embedded model (vocabulary ~100) keeps TRL's 4,096 and its
    figures; on CUDA (Triton kernels) TRL's own tile stays. A TRL without the module is left
    alone.
    """
    if placement.on_cuda:
        return
    try:
        from trl.kernels import chunked_logprob
    except ImportError:
        return
    if isinstance(getattr(chunked_logprob, "TOKEN_CHUNK_SIZE", None), int):
        chunked_logprob.TOKEN_CHUNK_SIZE = logprob_tile(vocab_size)


def load_for_training(
    path: str | Path, *, master_dtype: str = "float32", placement: Placement | None = None
) -> tuple[Any, Any]:
    """Model and tokenizer to train from ``path``.

    transformers 5 loads a checkpoint in its saved dtype, so a bf16 model (how Qwen2.5 and
    Llama-3.2 ship) would train in pure bf16, where most small updates round away (measured:
    2 SFT steps at lr 1e-5 changed 1.8% of one layer's weights, against 99.99% from float32).
    So the weights the optimizer updates are float32 ("master weights"; the trainer's mixed
    precision computes in half precision where the hardware has it) unless ``master_dtype``
    is ``"saved"``. The trained checkpoint is saved as trained: casting float32 master
    weights back to bf16 would round the same small updates away at every round's end
    (the next round starts from what was saved). Prune old rounds (``keep_checkpoints``) or
    train LoRA adapters where disk matters.

    The model stays on the CPU: the trainer moves it to the placement's device (``use_cpu``).
    The folder is verified first (``checkpoint.verified``).
    """
    import torch

    from selftaught.loops.checkpoint import verified
    from selftaught.loops.lora import load_causal_lm

    dtype = torch.float32 if master_dtype == "float32" else "auto"
    with verified(path) as root:
        tokenizer = load_tokenizer(root)
        model = load_causal_lm(root, dtype=dtype)
    bound_trl_logprob_tiles(model.config.vocab_size, resolve(placement))
    return model, tokenizer

