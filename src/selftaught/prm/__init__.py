"""Process and outcome reward models (issue #7, labelling side).

- ``steps``: split a completion into steps, join steps back, check arithmetic steps
  exactly (measurement only).
- ``scorers``: the ``OutcomeScorer`` / ``StepScorer`` protocols test-time search codes
  against, ``aggregate``, and ``load_orm`` / ``load_prm`` for trained checkpoints.
- ``label``: Math-Shepherd Monte-Carlo step labels (rollouts from every step prefix).
- ``train``: train the ORM (verified samples) and the PRM (step labels).
- ``quality``: held-out figures (ORM AUC/accuracy; PRM step accuracy and AUC against the
  MC labels and the exact checker; first-wrong-step agreement).
- ``stored``: what ``selftaught prm label|train|export`` do with the store.
- ``pipeline``: build both reward models from a policy in one call (benchmarks).

Importing this package imports no torch.
"""

from selftaught.prm.scorers import (
    AGGREGATIONS,
    OutcomeScorer,
    StepScorer,
    aggregate,
    load_orm,
    load_prm,
)
from selftaught.prm.steps import (
    check_arithmetic_steps,
    first_error,
    join_steps,
    split_steps,
)

__all__ = [
    "AGGREGATIONS",
    "OutcomeScorer",
    "StepScorer",
    "aggregate",
    "check_arithmetic_steps",
    "first_error",
    "join_steps",
    "load_orm",
    "load_prm",
    "split_steps",
]
