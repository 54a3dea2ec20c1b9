"""Policies: something that completes prompts. The HF one, and a fake one for tests.

``generate`` needs only ``policy.complete(texts, n=..., params=..., seed=...)``, which
returns, per prompt, ``n`` ``Completion``s (text and generated-token count). Two
implementations:

- ``Policy``: a causal LM in eval mode plus its tokenizer, loaded by ``load_policy``
  with the Auto classes; ``complete`` runs one batched HF ``generate`` with left
  padding and ``num_return_sequences=n``, seeded with ``seed``. ``load_policy`` sets
  torch's thread count (``threads=0`` leaves torch's default: one per core) because on
  a shared 2-core box 1 thread can be 3-6x faster than 2 (STACK-NOTES). Nothing is
  cached: a flow task that retries loads the weights from disk again.
- ``FakePolicy``: maps prompts to canned completions (cycled over the ``n`` samples);
  no torch. For logic tests of the stages and flows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from selftaught.errors import CheckpointError
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


def _count_tokens(ids: Sequence[int], eos_id: int | None, pad_id: int | None) -> int:
    """Generated tokens up to and including the first EOS, padding excluded."""
    n = 0
    for t in ids:
        if t == eos_id:
            return n + 1
        if t == pad_id:
            break
        n += 1
    return n


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
            eos_token_id=tok.eos_token_id,
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
        tok.padding_side = "left"
        enc = tok(list(texts), return_tensors="pt", padding=True)
        torch.manual_seed(seed)
        with torch.inference_mode():
            out = model.generate(**enc, **self._generation_kwargs(params, n))
        tail = out[:, enc["input_ids"].shape[1] :].tolist()
        decoded = tok.batch_decode(tail, skip_special_tokens=True)
        per = n if params.do_sample else 1
        rows = [
            Completion(decoded[i], _count_tokens(tail[i], tok.eos_token_id, tok.pad_token_id))
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


def load_policy(path: str | Path, *, threads: int = 0) -> Policy:
    """Load a saved policy with the Auto classes, in eval mode."""
    root = Path(path)
    if not (root / "config.json").is_file():
        raise CheckpointError(f"{root}: not a saved model (no config.json)")
    set_threads(threads)
    quiet_transformers()
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(root)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(root)
    model.eval()
    return Policy(model=model, tokenizer=tokenizer, path=str(root))
