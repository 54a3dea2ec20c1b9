"""benchmarks/seedstats.py: the t-interval, paired t-test and sign test the seed study prints."""

import doctest
import importlib.util
import math
from pathlib import Path

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "seedstats.py"
_SPEC = importlib.util.spec_from_file_location("seedstats", _PATH)
seedstats = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(seedstats)


def test_doctests_pass():
    result = doctest.testmod(seedstats)
    assert result.attempted >= 10 and result.failed == 0


def test_t_quantile_inverts_the_cdf_and_approaches_the_normal():
    for df in (2, 3, 4, 9):
        assert math.isclose(seedstats.t_cdf(seedstats.t_quantile(0.975, df), df), 0.975, abs_tol=1e-9)
    assert math.isclose(seedstats.t_quantile(0.975, 10_000), 1.95996, abs_tol=1e-3)


def test_paired_tests_on_identical_and_one_sided_data():
    assert seedstats.paired_t([0.4, 0.5], [0.4, 0.5]) == (0.0, 1.0)
    assert seedstats.sign_test([0.1, 0.2], [0.1, 0.2]) == (0, 0, 1.0)
    wins, losses, p = seedstats.sign_test([0.5] * 6, [0.4] * 5 + [0.6])
    assert (wins, losses) == (5, 1) and math.isclose(p, 2 * 7 / 64)
