"""Checks against the truth planted in synthetic data: was an effect recovered, or could it not be?

An estimate "recovers" a planted effect when the planted value lies inside its 95% interval **and**
the data had the power to tell that effect from no effect (at least 80%, two-sided 5% test, from
statsmodels' normal power). When the planted value is inside the interval but the power is low, the
interval is too wide to say anything: the effect is *not detectable with this much data*, which is
not the same as recovered. An effect the model could not estimate (a term dropped) is said so.
"""

from __future__ import annotations

import math

from statsmodels.stats.power import normal_power

from analysis.stats.normal import Z95

MIN_POWER = 0.8

RECOVERED = "recovered"
NOT_DETECTABLE = "not detectable with this much data"
NOT_RECOVERED = "not recovered"
NOT_ESTIMATED = "not estimated"


def power_to_detect(effect: float, se: float, alpha: float = 0.05) -> float:
    """Power of a two-sided Wald test at ``alpha`` to tell an effect of this size from zero, given the
    estimate's standard error (a normal approximation)."""
    if not (se > 0) or math.isnan(effect):
        return float("nan")
    return float(normal_power(abs(effect) / se, nobs=1, alpha=alpha, alternative="two-sided"))


def assess(planted: float, estimate: float, se: float, *, dropped_because: str = "") -> dict:
    """One planted effect against its estimate (all on the model's scale, e.g. log hazard ratio):
    the 95% interval, its width, the power, whether the planted value is inside, and the verdict."""
    if dropped_because or math.isnan(estimate) or not (se > 0):
        why = dropped_because or "the model could not estimate this term"
        return {
            "estimate": float("nan"),
            "lower": float("nan"),
            "upper": float("nan"),
            "interval_width": float("nan"),
            "power": float("nan"),
            "inside_95": False,
            "recovered": False,
            "assessment": f"{NOT_ESTIMATED}: {why}",
        }
    lo, hi = estimate - Z95 * se, estimate + Z95 * se
    inside = bool(lo <= planted <= hi)
    power = power_to_detect(planted, se)
    if not inside:
        verdict = NOT_RECOVERED
    elif power < MIN_POWER:
        verdict = f"{NOT_DETECTABLE} (power {100 * power:.0f}%)"
    else:
        verdict = RECOVERED
    return {
        "estimate": float(estimate),
        "lower": float(lo),
        "upper": float(hi),
        "interval_width": float(hi - lo),
        "power": power,
        "inside_95": inside,
        "recovered": inside and power >= MIN_POWER,
        "assessment": verdict,
    }


def summary(assessments: list[str], what: str = "planted effects") -> str:
    """One sentence: how many were recovered, not detectable, not recovered or not estimated."""
    n = len(assessments)
    rec = sum(a == RECOVERED for a in assessments)
    weak = sum(a.startswith(NOT_DETECTABLE) for a in assessments)
    miss = sum(a == NOT_RECOVERED for a in assessments)
    gone = sum(a.startswith(NOT_ESTIMATED) for a in assessments)
    parts = [f"{rec} of {n} {what} recovered (inside the 95% interval, with at least {100 * MIN_POWER:.0f}% power)"]
    if weak:
        parts.append(f"{weak} not detectable with this much data (inside the interval, but too little power to tell from no effect)")
    if miss:
        parts.append(f"{miss} not recovered (outside the interval)")
    if gone:
        parts.append(f"{gone} not estimated (dropped from the model)")
    return "; ".join(parts)
