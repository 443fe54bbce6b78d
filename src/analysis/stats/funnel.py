"""Funnel plots: control limits for proportions and rates, with a test for over-dispersion.

Method (Spiegelhalter 2002, *QSHC* 11:390; 2005, *Stat Med* 24:1185-1202):

* Each unit (an LA) has ``y`` events out of a denominator ``n``; the target is the England value
  ``theta`` (a proportion, or a rate per person).
* Without over-dispersion the limits are **exact**: binomial for proportions, Poisson for rates,
  with the interpolation of Spiegelhalter (2005, appendix A.1.1) so the limits are smooth in ``n``.
* **Over-dispersion**: z-scores ``(y/n - theta) / s`` with ``s`` the binomial or Poisson standard
  error are winsorised at the 10th and 90th percentiles, and ``phi = mean(z_w^2)``. If ``k*phi``
  exceeds the 95th percentile of chi-squared on ``k - 1`` degrees of freedom, the units vary more
  than chance allows (different populations and practice, not only noise), and the limits are
  widened with an additive random effect (DerSimonian-Laird style):
  ``tau^2 = (k*phi - (k-1)) / (sum w - sum w^2 / sum w)``, ``w = 1/s^2``; limits
  ``theta +/- z * sqrt(s^2 + tau^2)`` on the natural scale.

Limits are for two-sided 95% (z = 1.96) and 99.8% (z = 3.09) coverage.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import pandas as pd
from scipy import special, stats

LEVELS: tuple[float, ...] = (0.95, 0.998)
WINSOR = 0.10

#: flag for a unit, from furthest above the limits to furthest below
FLAG_ORDER = ("above 99.8%", "above 95%", "within", "below 95%", "below 99.8%")


def _interpolated_quantile(dist, q: float) -> np.ndarray:
    """Spiegelhalter's continuous quantile of a discrete distribution (2005, appendix A.1.1):
    ``r - (F(r) - q) / (F(r) - F(r - 1))`` with ``r`` the ordinary quantile (scipy's ``ppf``: the
    smallest integer with ``F(r) >= q``) and ``F`` the distribution's CDF."""
    r = dist.ppf(q)
    f_r, f_r1 = dist.cdf(r), dist.cdf(r - 1)
    step = f_r - f_r1
    with np.errstate(invalid="ignore", divide="ignore"):
        alpha = np.where(step > 0, (f_r - q) / step, 0.0)
    return r - alpha


def exact_limits(theta: float, n: np.ndarray | float, kind: str, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper exact limits for the observed proportion or rate (per person) at size ``n``:
    binomial (proportions, ``n`` rounded to whole people) or Poisson (rates) quantiles from scipy."""
    n = np.atleast_1d(np.asarray(n, dtype=float))
    tail = (1 - level) / 2
    if kind == "proportion":
        counts = np.maximum(np.round(n), 1)
        dist = stats.binom(counts, theta)
    elif kind == "rate":
        counts = n
        dist = stats.poisson(theta * n)
    else:
        raise ValueError(f"kind must be 'proportion' or 'rate', not {kind!r}")
    low = _interpolated_quantile(dist, tail) / counts
    high = _interpolated_quantile(dist, 1 - tail) / counts
    return np.maximum(low, 0.0), high


def standard_error(theta: float, n: np.ndarray | float, kind: str) -> np.ndarray:
    n = np.asarray(n, dtype=float)
    if kind == "proportion":
        return np.sqrt(theta * (1 - theta) / n)
    return np.sqrt(theta / n)


@dataclass(frozen=True)
class Dispersion:
    """Result of the over-dispersion test across ``k`` units."""

    k: int
    phi: float
    p_value: float
    tau2: float

    @property
    def overdispersed(self) -> bool:
        return self.tau2 > 0

    def describe(self) -> str:
        if self.k < 3:
            return "too few LAs to test for over-dispersion; exact limits used"
        if self.overdispersed:
            return (
                f"over-dispersed (phi = {self.phi:.1f} across {self.k} LAs, p < 0.05): LAs differ more than "
                "chance alone would explain, so the limits are widened with a random effect"
            )
        return f"no evidence of over-dispersion (phi = {self.phi:.2f} across {self.k} LAs); exact limits used"


def dispersion(y: np.ndarray, n: np.ndarray, theta: float, kind: str, *, alpha: float = 0.05) -> Dispersion:
    """Spiegelhalter's winsorised over-dispersion test and the additive random-effect variance."""
    y = np.asarray(y, dtype=float)
    n = np.asarray(n, dtype=float)
    keep = np.isfinite(y) & np.isfinite(n) & (n > 0)
    y, n = y[keep], n[keep]
    k = int(len(y))
    s = standard_error(theta, n, kind)
    if k < 3 or not np.all(s > 0):
        return Dispersion(k=k, phi=float("nan"), p_value=float("nan"), tau2=0.0)
    z = (y / n - theta) / s
    lo, hi = np.quantile(z, [WINSOR, 1 - WINSOR])
    zw = np.clip(z, lo, hi)
    phi = float(np.mean(zw**2))
    p_value = float(special.chdtrc(k - 1, k * phi))
    tau2 = 0.0
    if p_value < alpha:
        w = 1 / s**2
        tau2 = max(0.0, (k * phi - (k - 1)) / (w.sum() - (w**2).sum() / w.sum()))
    return Dispersion(k=k, phi=phi, p_value=p_value, tau2=float(tau2))


def limits(theta: float, n: np.ndarray | float, kind: str, level: float, tau2: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Limits at size ``n``: exact when ``tau2`` is 0, random-effects normal otherwise."""
    if tau2 <= 0:
        return exact_limits(theta, n, kind, level)
    z = NormalDist().inv_cdf(1 - (1 - level) / 2)
    half = z * np.sqrt(standard_error(theta, n, kind) ** 2 + tau2)
    high = theta + half
    return np.maximum(theta - half, 0.0), (np.minimum(high, 1.0) if kind == "proportion" else high)


def classify(observed: np.ndarray, theta: float, n: np.ndarray, kind: str, tau2: float = 0.0) -> np.ndarray:
    """One of :data:`FLAG_ORDER` per unit (``""`` where the value or denominator is missing)."""
    observed = np.asarray(observed, dtype=float)
    n = np.asarray(n, dtype=float)
    out = np.full(observed.shape, "", dtype=object)
    ok = np.isfinite(observed) & np.isfinite(n) & (n > 0)
    if not ok.any():
        return out
    lo95, hi95 = limits(theta, n[ok], kind, 0.95, tau2)
    lo998, hi998 = limits(theta, n[ok], kind, 0.998, tau2)
    v = observed[ok]
    flag = np.select(
        [v > hi998, v > hi95, v < lo998, v < lo95],
        ["above 99.8%", "above 95%", "below 99.8%", "below 95%"],
        default="within",
    )
    out[ok] = flag
    return out


def funnel_frame(units: pd.DataFrame, theta: float, kind: str) -> tuple[pd.DataFrame, Dispersion]:
    """Per-unit limits and flags. ``units`` has ``numerator`` and ``denominator`` columns."""
    d = units.copy()
    ok = d["numerator"].notna() & d["denominator"].notna() & (d["denominator"] > 0)
    disp = dispersion(d.loc[ok, "numerator"], d.loc[ok, "denominator"], theta, kind)
    d["observed"] = np.where(ok, d["numerator"] / d["denominator"].where(ok), np.nan)
    d["flag"] = classify(d["observed"].to_numpy(), theta, d["denominator"].to_numpy(), kind, disp.tau2)
    return d, disp


def curve(theta: float, n_max: float, kind: str, tau2: float = 0.0, n_min: float = 1.0, points: int = 200) -> pd.DataFrame:
    """Limit curves for plotting across denominators from ``n_min`` to ``n_max`` (log-spaced)."""
    n = np.unique(np.round(np.geomspace(max(n_min, 1.0), max(n_max, n_min + 1), points)))
    out = {"n": n}
    for level in LEVELS:
        lo, hi = limits(theta, n, kind, level, tau2)
        out[f"lower_{level}"] = lo
        out[f"upper_{level}"] = hi
    return pd.DataFrame(out)
