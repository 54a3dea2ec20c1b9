"""tracking (flows): what a run sends to the recipe's ``log:`` backends.

In: a run's context (its recipe's ``log:`` section, its id, its home folder) and, after each
round, that round's row of the store's round table. Out: the ``TrackingTarget`` each train
stage hands its trainer (``trainer_target``: run name ``RUN/round-N-train``), and the round's
metrics written with the round index as the step (``log_round``):

    heldout/greedy, heldout/pass_at_1, heldout/pass_at_k, heldout/maj_at_k   (when evaluated)
    judge/pass_rate        the generated samples the judge passed (when judged)
    train/rows             rows the round trained on (SFT rows; 0 for DPO/RL rounds)
    samples/generated      samples the generate stage wrote
    seconds/<stage>        each stage's seconds, and seconds/round their sum

Without a ``log:`` section both are no-ops (nothing imported, nothing written). A round is
logged when it finishes, so a resumed run logs the rounds it runs; a backend that fails
costs its copy of the round only (one warning line, the run goes on). The backends
themselves: ``loops/tracking.py``.
"""

from __future__ import annotations

import logging

from selftaught.errors import ConfigError
from selftaught.flows.context import RunContext
from selftaught.loops.tracking import TrackingTarget, log_round as write_round, not_installed, target_for
from selftaught.recipe import Recipe
from selftaught.store.rows import RoundRow


def check_installed(recipe: Recipe, run_id: str) -> None:
    """Before a run's first stage (its stored recipe, on a resume too): every ``log.to``
    backend can be imported, else one ConfigError line."""
    why = None if recipe.log is None else not_installed(recipe.log.to)
    if why is not None:
        raise ConfigError(f"log.to: {why}", file=f"the recipe of run {run_id}")


def run_target(ctx: RunContext, name: str | None = None) -> TrackingTarget | None:
    """Where this run's metrics go (``name``: a trainer's run name; default the run id), or
    None without a ``log:`` section."""
    return target_for(ctx.recipe.log, project=ctx.recipe.name, home=ctx.home, run_id=ctx.run_id, name=name)


def trainer_target(ctx: RunContext, index: int, stage: str = "train") -> TrackingTarget | None:
    """The target of round ``index``'s trainer: run name ``RUN/round-N-<stage>``."""
    return run_target(ctx, f"{ctx.run_id}/round-{index}-{stage}")


def round_metrics(row: RoundRow) -> dict[str, float]:
    """One round's row as the metrics ``log_round`` writes (absent values left out).

    >>> from selftaught.store.rows import ROUND_TABLE_KEYS
    >>> row = RoundRow(**{k: None for k in ROUND_TABLE_KEYS} | dict(index=1, n_train=4, n_generate=8,
    ...                pass_rate=0.5, seconds={"train": 2.0, "evaluate": 1.0}, heldout_greedy=0.25))
    >>> sorted(round_metrics(row).items())  # doctest: +NORMALIZE_WHITESPACE
    [('heldout/greedy', 0.25), ('judge/pass_rate', 0.5), ('samples/generated', 8.0),
     ('seconds/evaluate', 1.0), ('seconds/round', 3.0), ('seconds/train', 2.0), ('train/rows', 4.0)]
    """
    values = {
        "heldout/greedy": row.heldout_greedy, "heldout/pass_at_1": row.heldout_pass_at_1,
        "heldout/pass_at_k": row.heldout_pass_at_k, "heldout/maj_at_k": row.heldout_maj_at_k,
        "judge/pass_rate": row.pass_rate, "train/rows": row.n_train, "samples/generated": row.n_generate,
    }  # fmt: skip
    seconds = dict(row.seconds or {})
    values.update({f"seconds/{stage}": s for stage, s in seconds.items()})
    if seconds:
        values["seconds/round"] = sum(seconds.values())
    return {key: float(value) for key, value in values.items() if value is not None}


def log_round(ctx: RunContext, index: int) -> None:
    """Round ``index``'s metrics to the recipe's backends, step = ``index`` (no-op without
    ``log:``); a backend's failure is one warning line."""
    target = run_target(ctx)
    if target is None:
        return
    rows = [row for row in ctx.store.round_table(ctx.run_id) if row.index == index]
    if not rows:
        return
    for line in write_round(target, index, round_metrics(rows[0])):
        logging.getLogger("selftaught").warning("tracking: %s", line)
