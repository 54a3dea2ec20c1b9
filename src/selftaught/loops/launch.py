"""launch: the train stage on several processes (DDP) through ``accelerate launch``.

In: the arguments of ``train.train_sft`` / ``dpo.train_dpo``; the settings' ``processes``
says how many processes. Out: the same ``Checkpoint`` the in-process function returns,
verified against its manifest. With ``processes == 1`` (or nothing to train) the call is
the in-process function itself; the flow's train stage always calls these two.

How, for ``processes`` = N > 1:

0. This process verifies the checkpoint training starts from (``checkpoint.verify_for_load``:
   a damaged one is one ``CheckpointError`` here, not N failing workers); the workers load it
   with ``SELFTAUGHT_VERIFY=sizes`` (sizes only: it was hashed a moment ago).
1. The call is written to a scratch folder: the rows as JSONL, everything else (settings,
   base path, destination, checkpoint id, prompt style, tracking target...) as ``call.json``.
2. ``python -m accelerate.commands.launch --multi_gpu --num_processes N -m
   selftaught.loops.train_worker SCRATCH`` starts N processes (torchrun underneath), each
   running the same train function on the same rows. TRL's trainer finds the process group
   in the environment: each process takes ``batch_size / N`` rows of every optimizer step
   (``per_process``), gradients are averaged across processes, so the global batch stays
   ``batch_size`` and the data order is the one a single process would see.
3. Only rank 0 writes the checkpoint (``save_checkpoint`` writes nothing in other ranks)
   and ``result.json``; this process then verifies the checkpoint and returns it. The worker
   never touches the store: the flow records what this function returns, once.

``--multi_gpu`` on a CPU too: accelerate's ``--cpu --num_processes N`` starts *one*
process (its multi-CPU mode needs ``mpirun``), while ``--multi_gpu`` is simply its
torchrun launcher and starts N on any machine. The trainer arguments decide the device
(``use_cpu`` builds a gloo process group on the CPU). accelerate reads a config file written
here, never a user's default one, so the recipe alone decides how training runs.

Progress: rank 0 prints one tagged line per optimizer step (and one per logged loss);
this process turns them into ``progress(step)`` (``progress(step, note="loss 0.41")``)
calls. Every line of every rank goes to ``<out_dir>.train.log`` beside the checkpoint (kept: the record of how the checkpoint was made, or of why it was not). A
failing worker raises ``TrainError`` in one line with the worker's own error and the log's
last lines; no checkpoint folder is left behind (the save is atomic and happens after
training; a temporary folder of a killed save is removed).

The launcher stays in the caller's process group (Ctrl-C in a terminal reaches it; an
exception here, Ctrl-C or SIGTERM included, stops it and torchrun stops its workers) and
dies with the caller (``selftaught.lifeline``: a ``kill -9`` of the run); torchrun starts
each worker in a session of its own, so every worker dies with the launcher in the same way.
They import the caller's selftaught (its folder leads their ``PYTHONPATH``).

Threads: each process gets ``threads // N`` torch threads (at least 1); with ``threads``
0, the cores divided by N. Not supported here: the cold start's stop-at-accuracy probe
(the cold start always trains in-process) and RL (GRPO/RLOO generate inside the trainer).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import selftaught
from selftaught.errors import CheckpointError, TrainError
from selftaught.loops.checkpoint import VERIFY_ENV
from selftaught.lifeline import linked
from selftaught.records import Checkpoint, TrainingSet

if TYPE_CHECKING:
    from selftaught.loops.dpo import DPOSettings, VerifiedPair
    from selftaught.loops.lora import LoRASettings
    from selftaught.loops.prompting import PromptStyle
    from selftaught.loops.tracking import TrackingTarget
    from selftaught.loops.train import SFTSettings

#: how rank 0 reports a finished optimizer step on its output: "<tag> <step>", or
#: "<tag> <step> <note>" when the trainer logged a loss (``train._progress_callback``)
PROGRESS_TAG = "selftaught-progress:"
#: how a worker reports the exception that ended it: "<tag> rank R: Type: message"
ERROR_TAG = "selftaught-worker-error:"
WORKER = "selftaught.loops.train_worker"
#: the log lines a failure message quotes
TAIL_LINES = 3
_TEE = re.compile(r"\[default(\d+)\]:(.*)", re.DOTALL)


def train_sft(
    base_path: str,
    ts: TrainingSet,
    out_dir: str,
    *,
    cfg: SFTSettings,
    checkpoint_id: str,
    parent_id: str | None,
    round_index: int | None,
    progress: Callable[[int], None] | None = None,
    threads: int = 0,
    lora: LoRASettings | None = None,
    style: PromptStyle | None = None,
    tracking: TrackingTarget | None = None,
) -> Checkpoint:
    """``train.train_sft`` on ``cfg.processes`` processes (in-process when 1)."""
    from selftaught.loops import train
    from selftaught.loops.prompting import RAW

    style = style or RAW
    kwargs = dict(cfg=cfg, checkpoint_id=checkpoint_id, parent_id=parent_id, round_index=round_index,
                  progress=progress, threads=threads, lora=lora, style=style, tracking=tracking)  # fmt: skip
    if cfg.processes == 1 or not ts.examples:
        return train.train_sft(base_path, ts, out_dir, **kwargs)
    call = {
        "kind": "sft", "base_path": str(base_path), "out_dir": str(out_dir), "cfg": cfg.record(),
        "checkpoint_id": checkpoint_id, "parent_id": parent_id, "round_index": round_index,
        "lora": None if lora is None else lora.record(), "style": asdict(style),
        "method": ts.method, "stats": dict(ts.stats), "tracking": None if tracking is None else asdict(tracking),
    }  # fmt: skip
    rows = [asdict(e) for e in ts.examples]
    return launch(call, rows, processes=cfg.processes, threads=threads, progress=progress)


def train_dpo(
    base_path: str,
    pairs: Sequence[VerifiedPair],
    out_dir: str,
    *,
    cfg: DPOSettings,
    checkpoint_id: str,
    parent_id: str | None,
    round_index: int | None,
    progress: Callable[[int], None] | None = None,
    threads: int = 0,
    style: PromptStyle | None = None,
    tracking: TrackingTarget | None = None,
) -> Checkpoint:
    """``dpo.train_dpo`` on ``cfg.processes`` processes (in-process when 1)."""
    from selftaught.loops import dpo
    from selftaught.loops.prompting import RAW

    style = style or RAW
    kwargs = dict(cfg=cfg, checkpoint_id=checkpoint_id, parent_id=parent_id, round_index=round_index,
                  progress=progress, threads=threads, style=style, tracking=tracking)  # fmt: skip
    if cfg.processes == 1 or not pairs:
        return dpo.train_dpo(base_path, pairs, out_dir, **kwargs)
    call = {
        "kind": "dpo", "base_path": str(base_path), "out_dir": str(out_dir), "cfg": cfg.record(),
        "checkpoint_id": checkpoint_id, "parent_id": parent_id, "round_index": round_index,
        "style": asdict(style), "tracking": None if tracking is None else asdict(tracking),
    }  # fmt: skip
    rows = [asdict(p) for p in pairs]
    return launch(call, rows, processes=cfg.processes, threads=threads, progress=progress)


def threads_per_process(threads: int, processes: int) -> int:
    """Torch threads for each of ``processes`` processes sharing ``threads`` (0: every core).

    >>> threads_per_process(4, 2), threads_per_process(1, 2)
    (2, 1)
    """
    total = threads if threads > 0 else (os.cpu_count() or 1)
    return max(1, total // processes)


def accelerate_command(scratch: Path, processes: int) -> list[str]:
    """The ``accelerate launch`` command line that runs the worker on ``processes`` processes."""
    config = scratch / "accelerate.json"
    config.write_text(json.dumps({
        "compute_environment": "LOCAL_MACHINE", "distributed_type": "MULTI_GPU", "mixed_precision": "no",
        "use_cpu": False, "debug": False, "num_processes": processes, "num_machines": 1, "machine_rank": 0,
        "gpu_ids": "all", "main_process_port": 0, "rdzv_backend": "static", "same_network": True,
        "dynamo_config": {"dynamo_backend": "NO"},
    }))  # fmt: skip
    return [
        sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(config),
        "--multi_gpu", "--num_processes", str(processes), "--num_machines", "1",
        "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", "0",
        # each rank's output comes through prefixed "[default<rank>]:" (kept under scratch)
        "--tee", "3", "--log_dir", str(scratch / "ranks"),
        "-m", WORKER, str(scratch),
    ]  # fmt: skip


def launch(
    call: dict[str, Any],
    rows: Sequence[dict[str, Any]],
    *,
    processes: int,
    threads: int = 0,
    progress: Callable[[int], None] | None = None,
) -> Checkpoint:
    """Run one train call (``call`` + its ``rows``) in the worker on ``processes`` processes."""
    from selftaught.loops.checkpoint import verify_for_load

    verify_for_load(call["base_path"])  # once here, in one line; the workers then check sizes only
    out_dir = Path(call["out_dir"])
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    log_path = out_dir.with_name(out_dir.name + ".train.log")
    with tempfile.TemporaryDirectory(prefix="selftaught-launch-") as tmp:
        scratch = Path(tmp)
        with (scratch / "rows.jsonl").open("w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row) + "\n")
        call = {**call, "threads": threads_per_process(threads, processes), "processes": processes}
        (scratch / "call.json").write_text(json.dumps(call))
        rc, errors, tail = _run(accelerate_command(scratch, processes), log_path, progress)
        if rc != 0:
            _remove_partial_saves(out_dir)
            why = errors[0] if errors else f"exit status {rc}"
            raise TrainError(
                f"training on {processes} processes failed: {why}; last lines of {log_path}: " + " | ".join(tail)
            )
        result_file = scratch / "result.json"
        if not result_file.is_file():
            raise TrainError(f"training on {processes} processes wrote no result; see {log_path}")
        result = json.loads(result_file.read_text())
    from selftaught.loops.checkpoint import verify_checkpoint

    manifest = verify_checkpoint(result["path"])
    if manifest["sha256"] != result["sha256"]:
        raise CheckpointError(f"{result['path']}: the workers reported sha256 {result['sha256']}, "
                              f"the manifest says {manifest['sha256']}")  # fmt: skip
    return Checkpoint(**result)


def _run(cmd: list[str], log_path: Path, progress: Callable[[int], None] | None) -> tuple[int, list[str], list[str]]:
    """Run ``cmd``, its output going to ``log_path``; (exit status, worker errors, last lines).

    The last lines are the workers' own (torchrun's failure summary after them says only
    which rank exited how), or the launcher's when no worker printed anything.
    """
    # the workers import this very selftaught, whatever put it on this process's path
    here = str(Path(selftaught.__file__).resolve().parents[1])
    env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONPATH=os.pathsep.join(
        p for p in (here, os.environ.get("PYTHONPATH")) if p))  # fmt: skip
    env[VERIFY_ENV] = "sizes"  # ``launch`` verified the starting checkpoint fully: not once more per worker
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    launcher_tail: deque[str] = deque(maxlen=TAIL_LINES)
    errors: list[str] = []
    with log_path.open("w", encoding="utf-8") as log:
        log.write("$ " + " ".join(cmd) + "\n")
        log.flush()
        proc = subprocess.Popen(
            linked(cmd), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=env, text=True, errors="replace",  # our process group: a kill of the run reaches them
        )  # fmt: skip
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                log.write(line)
                log.flush()
                rank, text = _worker_line(line)
                if rank == 0 and text.startswith(PROGRESS_TAG):
                    step, _, note = text.removeprefix(PROGRESS_TAG).strip().partition(" ")
                    if progress is not None and note:
                        progress(int(step), note=note)
                    elif progress is not None:
                        progress(int(step))
                    continue
                if ERROR_TAG in text:
                    errors.append(text.split(ERROR_TAG, 1)[1].strip())
                if text and not set(text) <= set("^~ "):  # not a traceback's underline
                    (launcher_tail if rank is None else tail).append(line.strip()[:300])
            rc = proc.wait()
        except BaseException:  # interrupted (or progress raised): take every worker down with us
            _stop(proc)
            raise
    return rc, errors, list(tail or launcher_tail)


def _worker_line(line: str) -> tuple[int | None, str]:
    """(rank, text) of a line a worker printed, as torchrun's ``--tee`` prefixes it; (None, line) else.

    >>> _worker_line("[default1]:ValueError: boom\\n"), _worker_line("E1207 torch/...: failed")
    ((1, 'ValueError: boom'), (None, 'E1207 torch/...: failed'))
    """
    match = _TEE.match(line)
    if match is None:
        return None, line.strip()
    return int(match.group(1)), match.group(2).strip()


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM to the launcher (torchrun passes it on to every worker), SIGKILL after 20 s."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _remove_partial_saves(out_dir: Path) -> None:
    """The temporary folders a killed ``save_checkpoint`` may leave beside ``out_dir``."""
    for tmp in out_dir.parent.glob(f".{out_dir.name}.tmp-*"):
        shutil.rmtree(tmp, ignore_errors=True)
