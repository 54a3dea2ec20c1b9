"""selftaught: rounds of generate -> judge -> curate -> train -> evaluate, recorded in SQL.

Import is cheap: no torch, Prefect or SQLAlchemy at import time.
"""

from selftaught.errors import (
    CheckpointError,
    ConfigError,
    DataError,
    JudgeError,
    SandboxUnavailable,
    SelftaughtError,
    StoreError,
)
from selftaught.records import (
    Checkpoint,
    Evaluation,
    Judged,
    Outcome,
    Problem,
    Sample,
    SampleSource,
    SamplingParams,
    Split,
    Stage,
    TrainingExample,
    TrainingSet,
    Verdict,
)

__version__ = "0.1.0"

__all__ = [
    "Checkpoint",
    "CheckpointError",
    "ConfigError",
    "DataError",
    "Evaluation",
    "Judged",
    "JudgeError",
    "Outcome",
    "Problem",
    "Sample",
    "SampleSource",
    "SamplingParams",
    "SandboxUnavailable",
    "SelftaughtError",
    "Split",
    "Stage",
    "StoreError",
    "TrainingExample",
    "TrainingSet",
    "Verdict",
    "__version__",
]
