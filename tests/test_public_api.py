"""The public API is small and pinned: changing it should be a decision, not an accident."""

import selftaught
from selftaught import errors


def test_public_names():
    assert sorted(selftaught.__all__) == sorted([
        "Checkpoint", "CheckpointError", "ConfigError", "DataError", "Evaluation", "Judged",
        "JudgeError", "Outcome", "Problem", "Sample", "SampleSource", "SamplingParams",
        "SandboxUnavailable", "SelftaughtError", "Split", "Stage", "StoreError", "TrainingExample",
        "TrainingSet", "Verdict", "__version__",
    ])


def test_every_error_is_a_selftaught_error():
    for name in ("ConfigError", "DataError", "StoreError", "JudgeError", "SandboxUnavailable", "CheckpointError"):
        assert issubclass(getattr(errors, name), errors.SelftaughtError)


def test_config_error_names_file_and_line():
    e = errors.ConfigError("rounds: not an integer", file="r.yaml", line=3)
    assert str(e) == "r.yaml:3: rounds: not an integer" and (e.file, e.line) == ("r.yaml", 3)
