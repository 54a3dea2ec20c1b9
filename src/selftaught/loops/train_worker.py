"""train_worker: one process of a multi-process train call (``python -m`` this, under
``accelerate launch``; see ``launch.py``, which writes its inputs and reads its result).

In: a scratch folder holding ``call.json`` (what to train, from where, to where, with which
settings) and ``rows.jsonl`` (the training rows or DPO pairs). Out, from rank 0 only: the
checkpoint (written by the train function itself, atomically) and ``result.json`` (the
``Checkpoint`` it returned). Every rank runs the same call; ``save_checkpoint`` writes in
rank 0 alone. Rank 0 prints one ``PROGRESS_TAG`` line per optimizer step. An exception is
printed as one ``ERROR_TAG`` line before the process exits with status 1, so that the
launcher can quote it. The worker dies with its launcher (``selftaught.lifeline``), which dies
with the run. The worker knows nothing of the store or of Prefect.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from selftaught.loops.launch import ERROR_TAG, PROGRESS_TAG
from selftaught.loops.tracking import target_from


def _rank() -> int:
    return int(os.environ.get("RANK", "0"))


def _print_progress(step: int, note: str | None = None) -> None:
    print(f"{PROGRESS_TAG} {step}" + (f" {note}" if note else ""), flush=True)


def _lora(data: dict[str, Any] | None) -> Any:
    from selftaught.loops.lora import LoRASettings

    if data is None:
        return None
    return LoRASettings(**data)


def _sft(call: dict[str, Any], rows: list[dict[str, Any]], progress: Any) -> Any:
    from selftaught.loops.prompting import PromptStyle
    from selftaught.loops.train import SFTSettings, train_sft
    from selftaught.records import TrainingExample, TrainingSet

    examples = tuple(
        TrainingExample(**{**r, "sample_key": None if r.get("sample_key") is None else tuple(r["sample_key"])})
        for r in rows
    )
    return train_sft(
        call["base_path"], TrainingSet(call["method"], examples, call["stats"]), call["out_dir"],
        cfg=SFTSettings(**call["cfg"]), checkpoint_id=call["checkpoint_id"], parent_id=call["parent_id"],
        round_index=call["round_index"], progress=progress, threads=call["threads"], lora=_lora(call["lora"]),
        style=PromptStyle(**call["style"]), tracking=target_from(call.get("tracking")),
    )  # fmt: skip


def _dpo(call: dict[str, Any], rows: list[dict[str, Any]], progress: Any) -> Any:
    from selftaught.loops.dpo import DPOSettings, VerifiedPair, train_dpo
    from selftaught.loops.prompting import PromptStyle

    pairs = [VerifiedPair(**{**r, "chosen_key": tuple(r["chosen_key"]), "rejected_key": tuple(r["rejected_key"])})
             for r in rows]  # fmt: skip
    return train_dpo(
        call["base_path"], pairs, call["out_dir"], cfg=DPOSettings(**call["cfg"]), checkpoint_id=call["checkpoint_id"],
        parent_id=call["parent_id"], round_index=call["round_index"], progress=progress,
        threads=call["threads"], style=PromptStyle(**call["style"]), tracking=target_from(call.get("tracking")),
    )  # fmt: skip


#: call.json's "kind" -> the train function that runs it
KINDS = {"sft": _sft, "dpo": _dpo}


def run(scratch: Path) -> None:
    """Run the call in ``scratch`` in this process (one rank of the world the launcher made)."""
    call = json.loads((scratch / "call.json").read_text(encoding="utf-8"))
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world != call["processes"]:
        raise RuntimeError(f"started as one of {world} processes, but the call is for {call['processes']}")
    with (scratch / "rows.jsonl").open(encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    rank = _rank()
    ckpt = KINDS[call["kind"]](call, rows, _print_progress if rank == 0 else None)
    if rank == 0:
        tmp = scratch / "result.json.tmp"
        tmp.write_text(json.dumps(asdict(ckpt), default=str), encoding="utf-8")
        os.replace(tmp, scratch / "result.json")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print(f"usage: python -m {__spec__.name if __spec__ else 'train_worker'} SCRATCH", file=sys.stderr)
        return 2
    try:
        run(Path(argv[0]))
    except BaseException as exc:  # one line the launcher can quote, then the traceback for the log
        reason = " ".join(str(exc).split())[:500]
        print(f"{ERROR_TAG} rank {_rank()}: {type(exc).__name__}: {reason}", flush=True)
        raise
    finally:
        _close_process_group()
    return 0


def _close_process_group() -> None:
    """Leave the process group cleanly (torch warns at exit otherwise)."""
    if "torch" not in sys.modules:
        return
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


if __name__ == "__main__":
    from selftaught.lifeline import die_with_parent

    die_with_parent()  # torchrun starts workers in sessions of their own: a dead launcher takes them along
    sys.exit(main())
