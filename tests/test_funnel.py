"""Funnel-plot limits and the over-dispersion test, checked against hand-worked values."""

import math

import numpy as np
import pandas as pd
import pytest

from analysis.stats import funnel

Z95, Z998 = 1.959963984540054, 3.090232306167813


def _binom_cdf(r: int, n: int, p: float) -> float:
    return sum(math.comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(0, r + 1)) if r >= 0 else 0.0


def _poisson_cdf(r: int, mean: float) -> float:
    return sum(math.exp(-mean) * mean**k / math.factorial(k) for k in range(0, r + 1)) if r >= 0 else 0.0


def _spiegelhalter(cdf, q: float, denominator: float) -> float:
    """Spiegelhalter (2005) appendix: r = smallest count with F(r) >= q, interpolated."""
    r = 0
    while cdf(r) < q:
        r += 1
    alpha = (cdf(r) - q) / (cdf(r) - cdf(r - 1))
    return (r - alpha) / denominator


@pytest.mark.parametrize("n,theta,level", [(20, 0.3, 0.95), (20, 0.3, 0.998), (57, 0.1, 0.998), (300, 0.67, 0.95)])
def test_exact_binomial_limits_match_a_hand_calculation(n, theta, level):
    tail = (1 - level) / 2
    low = max(0.0, _spiegelhalter(lambda r: _binom_cdf(r, n, theta), tail, n))
    high = _spiegelhalter(lambda r: _binom_cdf(r, n, theta), 1 - tail, n)
    got_low, got_high = funnel.exact_limits(theta, n, "proportion", level)
    assert got_low[0] == pytest.approx(low, abs=1e-9)
    assert got_high[0] == pytest.approx(high, abs=1e-9)


@pytest.mark.parametrize("n,rate,level", [(1000, 0.0067, 0.95), (5000, 0.0067, 0.998), (40000, 0.0026, 0.998)])
def test_exact_poisson_limits_match_a_hand_calculation(n, rate, level):
    tail = (1 - level) / 2
    mean = rate * n
    low = max(0.0, _spiegelhalter(lambda r: _poisson_cdf(r, mean), tail, n))
    high = _spiegelhalter(lambda r: _poisson_cdf(r, mean), 1 - tail, n)
    got_low, got_high = funnel.exact_limits(rate, n, "rate", level)
    assert got_low[0] == pytest.approx(low, rel=1e-9, abs=1e-12)
    assert got_high[0] == pytest.approx(high, rel=1e-9)


def test_limits_narrow_as_the_denominator_grows():
    lo, hi = funnel.exact_limits(0.1, np.array([50, 500, 5000]), "proportion", 0.998)
    assert np.all(np.diff(hi - lo) < 0)
    assert np.all(lo <= 0.1) and np.all(hi >= 0.1)


def test_dispersion_hand_worked_example():
    # theta 0.5, n 100 -> s = 0.05; observed 0.50 0.55 0.60 0.30 0.80 -> z = 0 1 2 -4 6
    # winsorised at the 10th/90th percentiles (linear interpolation): -2.4 and 4.4
    # phi = (0 + 1 + 4 + 5.76 + 19.36) / 5 = 6.024; tau2 = (5*6.024 - 4) / (2000 - 800000/2000)
    n = np.full(5, 100.0)
    y = np.array([50, 55, 60, 30, 80], dtype=float)
    d = funnel.dispersion(y, n, 0.5, "proportion")
    assert d.k == 5
    assert d.phi == pytest.approx(6.024)
    assert d.overdispersed
    assert d.tau2 == pytest.approx((30.12 - 4) / 1600)


def test_no_overdispersion_for_data_drawn_at_the_target():
    rng = np.random.default_rng(7)
    n = rng.integers(100, 2000, size=150).astype(float)
    y = rng.binomial(n.astype(int), 0.12).astype(float)
    d = funnel.dispersion(y, n, 0.12, "proportion")
    assert not d.overdispersed and d.tau2 == 0
    assert 0.5 < d.phi < 1.5


def test_random_effect_limits_are_the_hand_formula():
    theta, n, tau2 = 0.2, 400.0, 0.0009
    s2 = theta * (1 - theta) / n
    lo, hi = funnel.limits(theta, n, "proportion", 0.998, tau2)
    assert lo == pytest.approx(theta - Z998 * math.sqrt(s2 + tau2))
    assert hi == pytest.approx(theta + Z998 * math.sqrt(s2 + tau2))
    lo95, hi95 = funnel.limits(theta, n, "proportion", 0.95, tau2)
    assert hi95 == pytest.approx(theta + Z95 * math.sqrt(s2 + tau2))


def test_proportion_limits_stay_between_0_and_1():
    lo, hi = funnel.limits(0.9, np.array([5.0, 20.0]), "proportion", 0.998, tau2=0.05)
    assert np.all(lo >= 0) and np.all(hi <= 1)


def test_classify_flags_each_band():
    theta, n = 0.1, np.full(5, 1000.0)
    lo95, hi95 = funnel.exact_limits(theta, 1000, "proportion", 0.95)
    lo998, hi998 = funnel.exact_limits(theta, 1000, "proportion", 0.998)
    observed = np.array([hi998[0] + 0.01, (hi95[0] + hi998[0]) / 2, theta, (lo95[0] + lo998[0]) / 2, lo998[0] - 0.01])
    flags = funnel.classify(observed, theta, n, "proportion")
    assert list(flags) == ["above 99.8%", "above 95%", "within", "below 95%", "below 99.8%"]


def test_classify_leaves_missing_values_untested():
    flags = funnel.classify(np.array([np.nan, 0.1]), 0.1, np.array([100.0, np.nan]), "proportion")
    assert list(flags) == ["", ""]


def test_funnel_frame_skips_units_without_a_denominator():
    units = pd.DataFrame({"numerator": [10, 30, 5, np.nan], "denominator": [100, 200, 0, 50]})
    out, disp = funnel.funnel_frame(units, 0.1, "proportion")
    assert disp.k == 2  # too few to test: exact limits
    assert not disp.overdispersed
    assert out["flag"].tolist()[2:] == ["", ""]
    assert out["observed"].iloc[1] == pytest.approx(0.15)


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="kind"):
        funnel.exact_limits(0.1, 10, "ratio", 0.95)
