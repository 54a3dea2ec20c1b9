"""Typed errors. The CLI turns any ``SelftaughtError`` into one clear line and exit 1.

    SelftaughtError
    ├── ConfigError          a recipe, constitution or problem file is invalid (file, line, reason)
    ├── DataError            a dataset row is unusable (e.g. no answer)
    ├── StoreError           the store cannot do what was asked (unknown run, bad URL, ...)
    │   └── LeaseError       another process works on the run (its lease is live)
    │       └── LeaseLost    this process's lease was taken over: it stops before writing more
    ├── JudgeError           a judge cannot run at all (not: a wrong answer)
    │   └── SandboxUnavailable   bubblewrap is missing and unsandboxed mode was not chosen
    ├── CheckpointError      a checkpoint is missing or fails its manifest check
    ├── TrainError           a training subprocess failed (multi-process training, loops/launch.py)
    ├── ScheduleError        a schedule cannot be made or found (no Prefect server, unknown name)
    └── ModelUnavailable     a model cannot be loaded here (e.g. an optional package is missing)
"""

from __future__ import annotations


class SelftaughtError(Exception):
    """Base of every error selftaught raises on purpose."""


class ConfigError(SelftaughtError):
    """An input file is invalid. Carries the file, the line (1-based, if known) and why."""

    def __init__(self, reason: str, *, file: str | None = None, line: int | None = None):
        self.reason = reason
        self.file = file
        self.line = line
        where = file or "<input>"
        if line is not None:
            where = f"{where}:{line}"
        super().__init__(f"{where}: {reason}")


class DataError(SelftaughtError):
    """A data row cannot be used."""


class StoreError(SelftaughtError):
    """The store cannot do what was asked."""


class LeaseError(StoreError):
    """Another process holds the run's lease (``flows/lease.py``): one run, one owner."""


class LeaseLost(LeaseError):
    """This process held the run's lease and lost it (``--force`` elsewhere, or it expired)."""


class JudgeError(SelftaughtError):
    """A judge cannot run at all."""


class SandboxUnavailable(JudgeError):
    """The code sandbox (bubblewrap) is not available and unsandboxed mode was not chosen."""


class ScheduleError(SelftaughtError):
    """A schedule cannot be registered, found or changed (e.g. no Prefect server)."""


class CheckpointError(SelftaughtError):
    """A checkpoint is missing, incomplete, or does not match its manifest."""


class ModelUnavailable(SelftaughtError):
    """A model cannot be loaded here, e.g. the package that ships its weights is missing."""


class TrainError(SelftaughtError):
    """A training run failed outside this process (a worker of a multi-process run exited with an error)."""


class HomeError(SelftaughtError):
    """The home folder cannot take a run: not a folder, not writable, or too little free space."""
