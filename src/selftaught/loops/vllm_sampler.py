"""The vLLM sampler: a ``Completer`` on a ``vllm.LLM`` engine (``generate.backend: vllm``).

In: a checkpoint folder and the same ``complete(texts, n=, params=, seed=)`` calls the HF
``Policy`` answers (``loops/policy.py``). Out: per text, ``n`` ``Completion``s in order.
The generate, rationalize and evaluate stages (and ``selftaught prm label --backend vllm``)
load one per stage and release it when the stage ends, so the GPU is free again before the
train stage loads its own copy of the model. GRPO/RLOO do not use it: their rollouts come
from TRL's own vLLM mode (the recipe's top-level ``backend``, ``loops/rl.py``).

What is kept identical to the HF path, so that the two backends differ only in their
random numbers and kernels:

- **tokens in.** vLLM never tokenizes our text. Each prompt goes in as token ids, made by
  the HF path's own ``encode_prompts`` (a rendered chat prompt that starts with BOS gets no
  second one) with the left padding removed, as ``{"prompt_token_ids": ids}``. That dict is
  vLLM's ``TokensPrompt`` (a ``TypedDict``): every vLLM release TRL supports accepts it in
  ``LLM.generate``, and it is how TRL 1.16 calls the engine itself
  (``trl/generation/vllm_generation.py``); the older ``generate(prompt_token_ids=...)``
  keyword was removed from vLLM, so it is not used.
- **stops.** ``stop_token_ids`` = every EOS id of the checkpoint's generation config and
  tokenizer (``policy.eos_ids``); Llama-3 Instruct lists three.
- **sampling.** ``n``, ``temperature``, ``top_p``, ``top_k`` (selftaught's 0 = off is
  vLLM's -1), ``max_tokens`` = ``max_new_tokens``. Greedy (``do_sample=False``) asks for
  one completion at temperature 0 and repeats it ``n`` times, as the HF path does.
- **counts and text.** ``n_tokens`` = ``len(output.token_ids)``: vLLM keeps the stop token
  in ``token_ids`` (not in the text), as ``_count_tokens`` counts the first EOS; the text
  is vLLM's detokenization with special tokens skipped, as the HF path's ``batch_decode``.

Seeds: prompt ``i`` of a call is its own request, seeded with ``prompt_seed(seed, i)``
(vLLM's per-request ``SamplingParams.seed``), so a call's random stream depends only on its
seed and the prompt's place in it. vLLM's logits may still depend on how it batches
requests: bit-for-bit replay needs the same GPU and vLLM version and, per vLLM's
reproducibility guide, ``VLLM_ENABLE_V1_MULTIPROCESSING=0`` or ``VLLM_BATCH_INVARIANT=1``.
The same seed gives other samples than the HF path (another random stream); a stored
sample records the seed and params as before.

Adapters-only checkpoints (``lora.save: adapters``): vLLM needs a folder with full
weights, so the checkpoint is merged into a temporary folder (``lora.materialized``, the
same merge ``load_causal_lm`` does, on the CPU) that lives until ``release``. vLLM's own
``LoRARequest`` was not used: it serves one adapter on a base model, and a round's
adapters sit on a chain of earlier rounds' adapters that must be merged first anyway.

Release: ``release()`` shuts the engine down where the engine can (``LLM.shutdown`` in
newer vLLM), drops it, and frees what is left: ``vllm.distributed.cleanup_dist_env_and_memory``
(model-parallel groups, the process group, ``gc``, ``torch.cuda.empty_cache``), or
``gc.collect`` + ``torch.cuda.empty_cache`` where that function is missing -- what vLLM's
maintainers recommend (vllm-project/vllm#18806, #23793).

Tested on CPU through the seam: ``load_vllm_policy`` builds its engine with
``make_engine``, each request's params with ``make_sampling_params`` and frees memory with
``free_gpu_memory`` -- module attributes that the tests replace with a fake engine that
records what it was given and answers like ``RequestOutput`` (``tests/vllm_fake.py``). The
real engine has not run: vLLM cannot be installed on this project's CPU machines, and the
GPU machines lent to it cannot fetch it. Until it runs on a GPU it is untested
(``docs/vllm.md``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from selftaught.loops.policy import Completion, encode_prompts, eos_ids
from selftaught.records import SamplingParams

# ------------------------------------------------------------------- availability


def vllm_unavailable() -> str | None:
    """Why the vLLM sampler cannot run here, in a few words; None when it can.

    The recipe's load check (``recipe.load_recipe``) and ``load_vllm_policy`` ask this
    before any work; tests replace it to run the seam on a CPU.
    """
    import importlib.util

    if importlib.util.find_spec("vllm") is None:
        return "needs the `vllm` package (pip install 'selftaught[vllm]'), which is not installed here"
    import torch

    if not torch.cuda.is_available():
        return "needs a CUDA GPU, and torch sees none here"
    return None


def require_vllm(what: str = "the vLLM sampler") -> None:
    """``ModelUnavailable`` in one line (``what`` + why) unless vLLM can run here, or the
    engine factory was replaced (the fake engine of the tests needs neither vLLM nor a GPU)."""
    if make_engine is not vllm_engine:
        return
    why = vllm_unavailable()
    if why is not None:
        from selftaught.errors import ModelUnavailable

        raise ModelUnavailable(f"{what} {why}")


# --------------------------------------------------------------------- the mapping


def prompt_seed(seed: int, index: int) -> int:
    """The seed of prompt ``index`` of a call seeded ``seed`` (32 bits, stable across processes).

    >>> prompt_seed(7, 0) == prompt_seed(7, 0) != prompt_seed(7, 1)
    True
    """
    h = hashlib.sha256(f"vllm:{seed}:{index}".encode()).digest()
    return int.from_bytes(h[:4], "big")


def sampling_kwargs(params: SamplingParams, *, n: int, seed: int, stop_ids: Sequence[int]) -> dict[str, Any]:
    """vLLM ``SamplingParams`` fields for one request (greedy: one sample at temperature 0).

    >>> kw = sampling_kwargs(SamplingParams(top_k=0), n=4, seed=1, stop_ids=[2])
    >>> kw["n"], kw["top_k"], kw["stop_token_ids"]
    (4, -1, [2])
    >>> kw = sampling_kwargs(SamplingParams(do_sample=False), n=4, seed=1, stop_ids=[2])
    >>> kw["n"], kw["temperature"]
    (1, 0.0)
    """
    kw: dict[str, Any] = dict(max_tokens=params.max_new_tokens, seed=seed, stop_token_ids=list(stop_ids),
                              skip_special_tokens=True)  # fmt: skip
    if params.do_sample:
        kw.update(n=n, temperature=params.temperature, top_p=params.top_p, top_k=params.top_k if params.top_k > 0 else -1)
    else:
        kw.update(n=1, temperature=0.0, top_p=1.0, top_k=-1)
    return kw


def prompt_token_ids(tokenizer: Any, texts: Sequence[str]) -> list[list[int]]:
    """The ids the HF path samples after (``encode_prompts``), one unpadded list per text."""
    enc = encode_prompts(tokenizer, texts)
    return [
        [int(t) for t, keep in zip(ids, mask, strict=True) if keep]
        for ids, mask in zip(enc["input_ids"].tolist(), enc["attention_mask"].tolist(), strict=True)
    ]


def vllm_sampling_params(**kw: Any) -> Any:
    """One request's ``vllm.SamplingParams``."""
    from vllm import SamplingParams as VSamplingParams

    return VSamplingParams(**kw)


#: how a request's sampling params are built from ``sampling_kwargs`` (tests: a plain record)
make_sampling_params: Callable[..., Any] = vllm_sampling_params


# ------------------------------------------------------------------------ the policy


@dataclass
class VLLMPolicy:
    """A vLLM engine behind ``complete``, the tokenizer prompts are rendered and encoded
    with, the stop ids, and what to close on ``release`` (a merged temporary folder)."""

    engine: Any
    tokenizer: Any
    stop_ids: list[int]
    path: str
    free_memory: Callable[[], None] | None = None
    "Frees what the engine left on the GPU after it is dropped (default: ``free_gpu_memory``)."
    closing: ExitStack = field(default_factory=ExitStack)

    def complete(
        self, texts: Sequence[str], *, n: int, params: SamplingParams, seed: int
    ) -> list[list[Completion]]:
        """``n`` completions per text, one seeded request per text (greedy: one, repeated)."""
        if self.engine is None:
            raise RuntimeError(f"the vLLM sampler of {self.path} was released")
        if not texts:
            return []
        prompts = [{"prompt_token_ids": ids} for ids in prompt_token_ids(self.tokenizer, texts)]
        requests = [
            make_sampling_params(**sampling_kwargs(params, n=n, seed=prompt_seed(seed, i), stop_ids=self.stop_ids))
            for i in range(len(texts))
        ]
        outputs = self.engine.generate(prompts, requests, use_tqdm=False)
        if len(outputs) != len(texts):
            raise RuntimeError(f"vLLM answered {len(outputs)} requests for {len(texts)} prompts")
        rows = []
        for out in outputs:
            got = [Completion(o.text, len(o.token_ids)) for o in out.outputs]
            rows.append(got * n if not params.do_sample else got)
        for row in rows:
            if len(row) != n:
                raise RuntimeError(f"vLLM returned {len(row)} completions where {n} were asked")
        return rows

    def release(self) -> None:
        """Shut the engine down and free its GPU memory; a second call does nothing."""
        engine, self.engine = self.engine, None
        if engine is not None:
            shutdown = getattr(engine, "shutdown", None)
            if callable(shutdown):
                shutdown()
            del engine
            (self.free_memory or free_gpu_memory)()
        self.closing.close()


def free_gpu_memory() -> None:
    """What a dropped vLLM engine leaves: its distributed state, Python garbage, CUDA's cache."""
    import gc

    try:
        from vllm.distributed import cleanup_dist_env_and_memory
    except ImportError:
        cleanup_dist_env_and_memory = None
    if cleanup_dist_env_and_memory is not None:
        cleanup_dist_env_and_memory()  # destroys the model-parallel groups, gc, empty_cache
        return
    gc.collect()
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


# ---------------------------------------------------------------------- the factory


def vllm_engine(model: str, *, gpu_memory_utilization: float, dtype: str, seed: int,
                max_model_len: int | None = None) -> Any:  # fmt: skip
    """A ``vllm.LLM`` on the full-weights folder ``model`` (its own tokenizer; prompts come as ids)."""
    from vllm import LLM

    kw: dict[str, Any] = dict(model=model, tokenizer=model, gpu_memory_utilization=gpu_memory_utilization,
                              dtype=dtype, seed=seed)  # fmt: skip
    if max_model_len is not None:
        kw["max_model_len"] = max_model_len
    return LLM(**kw)


#: how ``load_vllm_policy`` builds its engine (the seam: tests put a fake here)
make_engine: Callable[..., Any] = vllm_engine


def _generation_eos(folder: str, tokenizer: Any) -> list[int]:
    """Every EOS id of the folder's generation config (or model config) and its tokenizer."""
    from types import SimpleNamespace

    from transformers import AutoConfig, GenerationConfig

    try:
        gen = GenerationConfig.from_pretrained(folder)
    except OSError:  # no generation_config.json: what transformers derives from config.json
        gen = GenerationConfig.from_model_config(AutoConfig.from_pretrained(folder))
    return eos_ids(SimpleNamespace(generation_config=gen), tokenizer)


def load_vllm_policy(
    path: str | Path, *, gpu_memory_utilization: float = 0.5, dtype: str = "auto", seed: int = 0,
    max_model_len: int | None = None, engine_factory: Callable[..., Any] | None = None,
) -> VLLMPolicy:  # fmt: skip
    """A ``VLLMPolicy`` on the checkpoint at ``path`` (adapters only: merged into a temporary
    folder kept until ``release``). ``ModelUnavailable`` in one line without vLLM or a GPU,
    unless ``engine_factory`` (or ``make_engine``) is a stand-in that needs neither."""
    from selftaught.loops.checkpoint import verified, verify_for_load
    from selftaught.loops.lora import materialized
    from selftaught.loops.policy import quiet_transformers

    root = verify_for_load(path)
    if engine_factory is None:
        require_vllm()
    factory = engine_factory or make_engine
    quiet_transformers()
    from transformers import AutoTokenizer

    closing = ExitStack()
    try:
        with verified(root):
            folder = closing.enter_context(materialized(root))
            tokenizer = AutoTokenizer.from_pretrained(root)
            if tokenizer.pad_token is None:
                tokenizer.pad_token = tokenizer.eos_token
            tokenizer.padding_side = "left"
            stop_ids = _generation_eos(folder, tokenizer)
        engine = factory(folder, gpu_memory_utilization=gpu_memory_utilization, dtype=dtype, seed=seed,
                         max_model_len=max_model_len)  # fmt: skip
    except BaseException:
        closing.close()
        raise
    return VLLMPolicy(engine=engine, tokenizer=tokenizer, stop_ids=stop_ids, path=str(root), closing=closing)


@contextmanager
def vllm_policy(path: str | Path, **kwargs: Any) -> Iterator[VLLMPolicy]:
    """``load_vllm_policy`` for the length of a block, released (GPU memory freed) even when it raises."""
    policy = load_vllm_policy(path, **kwargs)
    try:
        yield policy
    finally:
        policy.release()


__all__ = ["VLLMPolicy", "free_gpu_memory", "load_vllm_policy", "make_engine", "make_sampling_params", "prompt_seed",
           "prompt_token_ids", "require_vllm", "sampling_kwargs", "vllm_engine", "vllm_policy", "vllm_sampling_params",
           "vllm_unavailable"]  # fmt: skip
