"""Where models run and in which precision: the one place that decides.

Every stage that touches a model -- SFT, DPO, GRPO/RLOO and reward-model training;
generation, evaluation, STaR rationalization, a local distillation teacher, PRM labelling,
search and reward-model scoring; the Constitutional AI chat models -- follows one
``Placement(device, dtype)``. A recipe's ``device`` and ``dtype`` keys become that placement
(``decide``), and the loops take it from their settings; code outside a recipe passes None,
which ``resolve`` turns into what ``auto`` decides. Nothing else picks a device.

The rule::

    device  auto      cuda if torch.cuda.is_available(), else cpu
            cpu|cuda  as asked; cuda without a GPU is an error (a recipe fails at load)
    dtype   auto      cuda: bfloat16 if torch.cuda.is_bf16_supported(), else float16
                      cpu:  float32
            float32|bfloat16|float16  as asked; float16 needs cuda, and bfloat16 on cuda
                      needs a GPU that supports it (bfloat16 on a CPU is allowed, and slow)

What the dtype means:

- sampling and scoring load the model in ``dtype`` on ``device`` (``load_model``, which
  verifies the folder first: ``loops/checkpoint.py``) and move each batch of inputs to
  ``model.device``;
- training keeps float32 master weights (``policy.load_for_training``); the dtype is the
  trainer's mixed precision (``trainer_flags``: ``bf16``/``fp16``, and ``use_cpu`` on cpu).

On a CPU, ``auto`` is float32 with no mixed precision: bf16 trained ~19x slower on the
AVX2 CPUs this was built on (STACK-NOTES), so the CPU path is exactly what it was before
this module existed. Each stage records the placement it used, and on CUDA its peak GPU
memory (``reset_peak_memory`` / ``peak_memory_mb``), in the store's ``stages`` table.

torch is imported only inside functions: importing this module stays cheap.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

Device = Literal["cpu", "cuda"]
DType = Literal["float32", "bfloat16", "float16"]
#: what a recipe may ask for (``auto``: decided here)
DeviceChoice = Literal["auto", "cpu", "cuda"]
DTypeChoice = Literal["auto", "float32", "bfloat16", "float16"]
DEVICE_CHOICES: tuple[str, ...] = get_args(DeviceChoice)
DTYPE_CHOICES: tuple[str, ...] = get_args(DTypeChoice)

#: how the round table writes a dtype
SHORT_DTYPE = {"float32": "float32", "bfloat16": "bf16", "float16": "fp16"}


@dataclass(frozen=True)
class Placement:
    """A decided device and dtype (never ``auto``). The default is the CPU in float32."""

    device: Device = "cpu"
    dtype: DType = "float32"

    @property
    def on_cuda(self) -> bool:
        return self.device == "cuda"

    @property
    def label(self) -> str:
        """``cpu/float32``, ``cuda/bf16``: what logs and the round table show."""
        return f"{self.device}/{SHORT_DTYPE[self.dtype]}"

    def torch_dtype(self) -> Any:
        import torch

        return getattr(torch, self.dtype)

    def trainer_flags(self) -> dict[str, bool]:
        """The device and precision arguments of every TRL config and ``TrainingArguments``.

        >>> Placement().trainer_flags()
        {'use_cpu': True, 'bf16': False, 'fp16': False}
        >>> Placement("cuda", "bfloat16").trainer_flags()
        {'use_cpu': False, 'bf16': True, 'fp16': False}
        """
        return {"use_cpu": self.device == "cpu", "bf16": self.dtype == "bfloat16", "fp16": self.dtype == "float16"}


CPU = Placement()


def decide(device: str = "auto", dtype: str = "auto") -> Placement:
    """The placement for a recipe's ``device`` and ``dtype`` on this machine (the rule above).

    Raises ``ValueError`` with a one-line reason when this machine cannot do what was asked.

    >>> decide("cpu")
    Placement(device='cpu', dtype='float32')
    >>> decide("cpu", "float16")
    Traceback (most recent call last):
    ValueError: dtype float16 needs a CUDA device (device is cpu); use float32 or bfloat16
    """
    if device not in DEVICE_CHOICES:
        raise ValueError(f"device must be one of {', '.join(DEVICE_CHOICES)}, not {device!r}")
    if dtype not in DTYPE_CHOICES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPE_CHOICES)}, not {dtype!r}")
    if device == "cpu":  # no torch needed to decide this
        return _on_cpu(dtype)
    import torch

    has_cuda = torch.cuda.is_available()
    if device == "cuda" and not has_cuda:
        raise ValueError("device cuda, but torch sees no CUDA GPU here (torch.cuda.is_available() is False); "
                         "use auto or cpu")
    if not has_cuda:
        return _on_cpu(dtype)
    bf16 = torch.cuda.is_bf16_supported()
    if dtype == "auto":
        return Placement("cuda", "bfloat16" if bf16 else "float16")
    if dtype == "bfloat16" and not bf16:
        raise ValueError("dtype bfloat16, but this GPU does not support it (torch.cuda.is_bf16_supported() is False); "
                         "use float16 or auto")
    return Placement("cuda", dtype)  # type: ignore[arg-type]


def check(device: str, dtype: str = "auto") -> None:
    """Raise what ``decide`` would, importing torch only when the answer depends on the GPU:
    recipes call this when they are read, where ``auto`` must stay cheap."""
    if device == "cuda" or dtype not in ("auto", "float32"):
        decide(device, dtype)


def _on_cpu(dtype: str) -> Placement:
    if dtype == "float16":
        raise ValueError("dtype float16 needs a CUDA device (device is cpu); use float32 or bfloat16")
    return Placement("cpu", "float32" if dtype == "auto" else dtype)  # type: ignore[arg-type]


def resolve(placement: Placement | None) -> Placement:
    """``placement``, or (None) what ``auto`` decides here: callers outside a recipe."""
    return decide() if placement is None else placement


def load_model(auto_class: Any, path: Any, placement: Placement, **kwargs: Any) -> Any:
    """``auto_class.from_pretrained(path)`` in the placement's dtype, moved to its device; the
    folder is verified first (``loops.checkpoint.verified``: a local folder, never a hub name)."""
    from selftaught.loops.checkpoint import verified

    with verified(path) as root:
        model = auto_class.from_pretrained(root, dtype=placement.torch_dtype(), **kwargs)
    return place(model, placement)


def place(model: Any, placement: Placement) -> Any:
    """A loaded model cast to the placement's dtype and moved to its device (no-op when already there)."""
    return model.to(device=placement.device, dtype=placement.torch_dtype())


def reset_peak_memory(placement: Placement | None) -> None:
    """Start counting a stage's peak GPU memory (nothing to do off CUDA, or before CUDA's first use)."""
    if placement is not None and placement.on_cuda:
        import torch

        if torch.cuda.is_initialized():
            torch.cuda.reset_peak_memory_stats()


def peak_memory_mb(placement: Placement | None) -> float | None:
    """The most GPU memory torch held since ``reset_peak_memory``, in MiB; None off CUDA."""
    if placement is None or not placement.on_cuda:
        return None
    import torch

    return torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_initialized() else 0.0


def describe(stages: Mapping[Any, Any]) -> str:
    """The round table's device column: each distinct device/dtype among a round's stages
    (``Store.round_table``'s ``placement``: ``StagePlacement``s) and, on CUDA, the largest
    peak GPU memory.

    >>> from selftaught.store.rows import StagePlacement
    >>> describe({"generate": StagePlacement(device="cpu", dtype="float32", peak_gpu_mb=None)})
    'cpu/float32'
    >>> describe({"train": StagePlacement(device="cuda", dtype="bfloat16", peak_gpu_mb=12595.2)}), describe({})
    ('cuda/bf16 (12.3 GB)', '-')
    """
    labels = dict.fromkeys(f"{p.device}/{SHORT_DTYPE.get(p.dtype, p.dtype)}" for p in stages.values())
    peaks = [p.peak_gpu_mb for p in stages.values() if p.peak_gpu_mb is not None]
    text = ", ".join(labels) or "-"
    return f"{text} ({max(peaks) / 1024:.1f} GB)" if peaks else text


__all__ = [
    "CPU", "Placement", "check", "decide", "describe", "load_model", "peak_memory_mb", "place",
    "reset_peak_memory", "resolve",
]  # fmt: skip
