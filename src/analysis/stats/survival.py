"""Survival estimators the papers use, each tested against statsmodels or a hand-worked case
(``tests/test_breakdown.py``): Kaplan-Meier with log(-log) limits, cumulative incidence with competing
events, Cox score residuals (Breslow ties) and the sandwich covariance clustered by group."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.duration.survfunc import CumIncidenceRight


def km_curve(time: np.ndarray, event: np.ndarray, level: float = 0.95) -> pd.DataFrame:
    """Kaplan-Meier estimate of staying free of an unplanned ending, with log(-log) pointwise limits.

    Kept by hand because statsmodels' ``SurvfuncRight`` gives the estimate and Greenwood's standard
    error but no pointwise log(-log) band; the estimate and standard error are tested against it."""
    order = np.argsort(time, kind="stable")
    t, d = np.asarray(time, float)[order], np.asarray(event, bool)[order]
    times, first = np.unique(t, return_index=True)
    at_risk = len(t) - first
    deaths = np.add.reduceat(d.astype(int), first)
    surv = np.cumprod(1 - deaths / at_risk)
    with np.errstate(divide="ignore", invalid="ignore"):
        greenwood = np.cumsum(deaths / (at_risk * (at_risk - deaths)))
        z = float(stats.norm.ppf(0.5 + level / 2))
        se_loglog = np.sqrt(greenwood) / np.abs(np.log(surv))
        lo = surv ** np.exp(z * se_loglog)
        hi = surv ** np.exp(-z * se_loglog)
    lo, hi = np.where(np.isfinite(lo), lo, surv), np.where(np.isfinite(hi), hi, surv)
    return pd.DataFrame({"days": times, "at_risk": at_risk, "events": deaths, "surv": surv, "lower": lo, "upper": hi})


def cumulative_incidence(time: np.ndarray, event: np.ndarray, competing: np.ndarray, at_days: float) -> float:
    """Aalen-Johansen probability of an unplanned ending by ``at_days``, other endings competing
    (statsmodels' ``CumIncidenceRight``; tested against a hand-worked case and 1 - Kaplan-Meier)."""
    status = np.where(np.asarray(event, bool), 1, np.where(np.asarray(competing, bool), 2, 0))
    if not (status == 1).any():
        return 0.0
    with np.errstate(divide="ignore", invalid="ignore"):  # its variance (not used) divides by 0 when all at risk end together
        ci = CumIncidenceRight(np.asarray(time, float), status)
    i = int(np.searchsorted(ci.times, at_days, side="right")) - 1
    return float(ci.cinc[0][i]) if i >= 0 else 0.0


def cox_score_residuals(time: np.ndarray, event: np.ndarray, X: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """Score residuals of a Cox model with Breslow ties (one row per placement), vectorised.

    U_i = d_i (x_i - xbar(t_i)) - exp(eta_i) * sum over event times t_k <= t_i of d_k (x_i - xbar(t_k)) / S0(t_k),
    where the risk set at t_k is every placement with follow-up of at least t_k.
    """
    time, event, X = np.asarray(time, float), np.asarray(event, bool), np.asarray(X, float)
    risk = np.exp(X @ beta - np.max(X @ beta))
    order = np.argsort(time, kind="stable")
    t_sorted = time[order]
    times = np.unique(time[event])
    # S0, S1 over the risk set {t >= t_k}: reverse cumulative sums in time order
    rev_w = np.cumsum(risk[order][::-1])[::-1]
    rev_wx = np.cumsum((risk[:, None] * X)[order][::-1], axis=0)[::-1]
    first = np.searchsorted(t_sorted, times, side="left")
    s0, s1 = rev_w[first], rev_wx[first]
    xbar = s1 / s0[:, None]
    d = np.bincount(np.searchsorted(times, time[event]), minlength=times.size).astype(float)
    cum_a = np.cumsum(d / s0)
    cum_b = np.cumsum((d / s0)[:, None] * xbar, axis=0)
    k = np.searchsorted(times, time, side="right") - 1  # last event time <= t_i
    has = k >= 0
    a = np.where(has, cum_a[np.maximum(k, 0)], 0.0)
    b = np.where(has[:, None], cum_b[np.maximum(k, 0)], 0.0)
    own = np.zeros_like(X)
    ev_k = np.searchsorted(times, time[event])
    own[event] = X[event] - xbar[ev_k]
    return own - risk[:, None] * (X * a[:, None] - b)


def clustered_covariance(naive_cov: np.ndarray, score_residuals: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Sandwich covariance robust to dependence within groups (Lin and Wei 1989): V U'U V, U summed by group."""
    codes = pd.factorize(groups)[0]
    summed = np.zeros((codes.max() + 1, score_residuals.shape[1]))
    np.add.at(summed, codes, score_residuals)
    return naive_cov @ (summed.T @ summed) @ naive_cov
