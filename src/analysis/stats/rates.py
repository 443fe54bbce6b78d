"""Rates of events over exposure."""

from __future__ import annotations

import numpy as np
from statsmodels.stats.rates import confint_poisson


def poisson_interval(events: np.ndarray, exposure: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Exact (Garwood) interval for a rate events / exposure: statsmodels' ``confint_poisson``
    with the central exact method (``exact-c``); the lower limit is 0 when there are no events."""
    k, t = np.broadcast_arrays(np.asarray(events, dtype=float), np.asarray(exposure, dtype=float))
    lo, hi = confint_poisson(k, t, method="exact-c", alpha=1 - level)
    return np.reshape(lo, k.shape), np.reshape(hi, k.shape)  # (statsmodels squeezes a single value to a scalar)
