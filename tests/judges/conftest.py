"""Fixtures for the judge tests: verifiers built once, and a skip when bwrap is missing."""

from __future__ import annotations

import pytest

from selftaught.judges import CodeVerifier, MathVerifier, find_bwrap


@pytest.fixture(scope="session")
def math_verifier() -> MathVerifier:
    """The default math judge (2 workers, 5 s deadline); its pool is shared per process."""
    return MathVerifier()


@pytest.fixture(scope="session")
def code_verifier() -> CodeVerifier:
    """A sandboxed code judge with a short deadline."""
    if find_bwrap() is None:
        pytest.skip("bubblewrap is not installed (make system-deps)")
    return CodeVerifier(timeout_s=5)
