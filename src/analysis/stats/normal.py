"""Normal-theory helpers shared by the papers (scipy's normal distribution, not constants by hand)."""

from __future__ import annotations

import numpy as np
from scipy import stats

#: the two-sided 95% normal quantile
Z95 = float(stats.norm.ppf(0.975))


def two_sided_p(z: np.ndarray | float) -> np.ndarray:
    """Two-sided p-value of a Wald statistic."""
    return 2 * stats.norm.sf(np.abs(z))
