"""The hardware decides: one rule for device and dtype, and every trainer's arguments follow it.

CUDA is *reported* (``fake_cuda`` patches torch's queries; no kernel runs), so the GPU rows
run on a CPU-only machine too.
"""

from __future__ import annotations

import doctest

import pytest

from selftaught import hardware
from selftaught.hardware import Placement, decide

# TRL's RewardConfig still sets transformers' renamed gradient_checkpointing
pytestmark = pytest.mark.filterwarnings("ignore:.*gradient_checkpointing.*:FutureWarning")


def test_doctests():
    assert doctest.testmod(hardware).failed == 0


# (device, dtype) asked -> placement decided; each row says why it exists
ON_CPU_ONLY = [
    ("auto", "auto", Placement("cpu", "float32")),  # no GPU: the CPU path, bf16 is slow there
    ("cpu", "auto", Placement("cpu", "float32")),
    ("auto", "float32", Placement("cpu", "float32")),
    ("cpu", "bfloat16", Placement("cpu", "bfloat16")),  # asked for explicitly: honoured (slow)
]
ON_A_GPU = [
    ("auto", "auto", True, Placement("cuda", "bfloat16")),  # a GPU with bf16: bf16 mixed precision
    ("auto", "auto", False, Placement("cuda", "float16")),  # an older GPU: fp16
    ("cuda", "float32", True, Placement("cuda", "float32")),  # full precision on the GPU when asked
    ("cpu", "auto", True, Placement("cpu", "float32")),  # the CPU when asked, even beside a GPU
    ("cuda", "float16", True, Placement("cuda", "float16")),
]


@pytest.mark.parametrize("device, dtype, expected", ON_CPU_ONLY)
def test_without_a_gpu(no_cuda, device, dtype, expected):
    assert decide(device, dtype) == expected


@pytest.mark.parametrize("device, dtype, bf16, expected", ON_A_GPU)
def test_with_a_gpu(fake_cuda, device, dtype, bf16, expected):
    fake_cuda.bf16 = bf16
    assert decide(device, dtype) == expected


@pytest.mark.parametrize("device, dtype, gpu, bf16, reason", [
    ("cuda", "auto", False, False, "torch sees no CUDA GPU"),
    ("cpu", "float16", False, False, "float16 needs a CUDA device"),
    ("auto", "float16", False, False, "float16 needs a CUDA device"),  # auto fell back to the CPU
    ("cuda", "bfloat16", True, False, "does not support it"),
    ("tpu", "auto", False, False, "device must be one of"),
])  # fmt: skip
def test_what_this_machine_cannot_do_is_one_line(request, device, dtype, gpu, bf16, reason):
    if gpu:
        request.getfixturevalue("fake_cuda").bf16 = bf16
    else:
        request.getfixturevalue("no_cuda")
    with pytest.raises(ValueError, match=reason) as e:
        decide(device, dtype)
    assert "\n" not in str(e.value)


def test_check_imports_no_torch_for_the_defaults():
    import subprocess
    import sys

    code = ("import sys; from selftaught.hardware import check; "
            "check('auto'); check('cpu', 'auto'); check('auto', 'float32'); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ----------------------------------------------------------------- trainer arguments


def _sft(placement, out):
    from selftaught.loops.train import SFTSettings, build_sft_config

    return build_sft_config(SFTSettings(placement=placement), out)


def _dpo(placement, out):
    from selftaught.loops.dpo import DPOSettings, build_dpo_config

    return build_dpo_config(DPOSettings(placement=placement), out)


def _grpo(placement, out):
    from selftaught.loops.rl import RLSettings, build_grpo_config

    return build_grpo_config(RLSettings(placement=placement), out)


def _rloo(placement, out):
    from selftaught.loops.rl import RLSettings, build_rloo_config

    return build_rloo_config(RLSettings(placement=placement), out)


def _reward_model(placement, out):  # the PRM and the classifier ORM: transformers' own arguments
    from selftaught.prm.train import RMSettings, build_args

    return build_args(RMSettings(placement=placement), out)


def _pairwise_orm(placement, out):  # TRL's RewardConfig, through the same builder
    from trl import RewardConfig

    from selftaught.prm.train import RMSettings, build_args

    return build_args(RMSettings(placement=placement), out, RewardConfig)


TRAINERS = [_sft, _dpo, _grpo, _rloo, _reward_model, _pairwise_orm]
TRAINER_IDS = ["sft", "dpo", "grpo", "rloo", "reward-model", "pairwise-orm"]


@pytest.mark.parametrize("build", TRAINERS, ids=TRAINER_IDS)
@pytest.mark.parametrize("bf16, flags", [
    (True, (False, True, False)),  # (use_cpu, bf16, fp16): bf16 mixed precision on the GPU
    (False, (False, False, True)),  # no bf16 on this GPU: fp16 mixed precision
])  # fmt: skip
def test_trainers_follow_a_gpu(fake_cuda, tmp_path, build, bf16, flags):
    fake_cuda.bf16 = bf16
    args = build(decide(), str(tmp_path))  # what a recipe with device/dtype auto decides
    assert (args.use_cpu, args.bf16, args.fp16) == flags
    assert args.device.type == "cuda"


@pytest.mark.parametrize("build", TRAINERS, ids=TRAINER_IDS)
def test_trainers_on_the_cpu_stay_float32(no_cuda, tmp_path, build):
    for placement in (None, decide()):  # None: settings built outside a recipe decide the same
        args = build(placement, str(tmp_path))
        assert (args.use_cpu, args.bf16, args.fp16) == (True, False, False)
        assert args.device.type == "cpu"
