"""A stand-in for ``vllm.LLM`` behind selftaught's seam (``loops/vllm_sampler.py``): it has
``generate(prompts, sampling_params, use_tqdm=...)`` and ``shutdown()``, records what it was
given, and answers like ``RequestOutput`` (``.outputs[j].text`` / ``.token_ids``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace


@dataclass
class FakeCompletion:
    """One of ``RequestOutput.outputs``: its text and generated ids (the stop token included)."""

    text: str
    token_ids: list[int]


@dataclass
class FakeRequestOutput:
    prompt_token_ids: list[int]
    outputs: list[FakeCompletion]


@dataclass
class FakeEngine:
    """Answers request ``i`` of a call with ``n`` completions ``"p{i}s{j}"`` of ``j + 1``
    tokens (``fail``: raises instead, as a GPU out of memory would); records every call, how
    it was built and how often it was shut down."""

    built_with: dict = field(default_factory=dict)
    calls: list = field(default_factory=list)
    shut_down: int = 0
    fail: bool = False

    def generate(self, prompts, sampling_params, use_tqdm=True):
        self.calls.append((list(prompts), list(sampling_params)))
        if self.fail:
            raise RuntimeError("CUDA out of memory (fake)")
        return [
            FakeRequestOutput(p["prompt_token_ids"], [FakeCompletion(f"p{i}s{j}", [7] * (j + 1)) for j in range(sp.n)])
            for i, (p, sp) in enumerate(zip(prompts, sampling_params, strict=True))
        ]

    def shutdown(self):
        self.shut_down += 1


def install_fake_vllm(monkeypatch) -> SimpleNamespace:
    """Put the fake behind the seam: ``make_engine`` builds a ``FakeEngine`` (recording the
    folder it was given and that folder's files), sampling params are plain records and
    ``free_gpu_memory`` is counted. Returns the state: ``engines``, ``freed``, ``fail`` (set it
    before the engine is made)."""
    from selftaught.loops import vllm_sampler

    state = SimpleNamespace(engines=[], freed=0, fail=False)

    def make_engine(model, **kw):
        files = sorted(p.name for p in Path(model).iterdir())
        engine = FakeEngine(built_with={"model": model, "files": files, **kw}, fail=state.fail)
        state.engines.append(engine)
        return engine

    def free():
        state.freed += 1

    monkeypatch.setattr(vllm_sampler, "make_engine", make_engine)
    monkeypatch.setattr(vllm_sampler, "make_sampling_params", SimpleNamespace)
    monkeypatch.setattr(vllm_sampler, "free_gpu_memory", free)
    return state
