"""Decompositions and diagnostics for linear models: the twofold Oaxaca-Blinder split of a gap between two
groups with pooled coefficients (Jann 2008), and variance inflation factors (statsmodels'). Tested on
hand-worked cases and against statsmodels."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd


def twofold_pooled(y: np.ndarray, X: pd.DataFrame, group: np.ndarray, parts: Mapping[str, Sequence[str]]) -> tuple[float, dict[str, float], float]:
    """The gap in mean ``y`` between ``group`` and the rest, split into what each named set of columns of ``X``
    explains (the difference in their means times the coefficients of one least-squares fit of ``y`` on ``X``,
    which should include the group indicator: the pooled model of Jann 2008) and what remains. Returns
    (gap, explained by part, unexplained); the parts and the remainder add up to the gap exactly."""
    y = np.asarray(y, float)
    g = np.asarray(group, bool)
    beta, *_ = np.linalg.lstsq(X.to_numpy(float), y, rcond=None)
    beta = pd.Series(beta, index=X.columns)
    gap = float(y[g].mean() - y[~g].mean())
    diff = X[g].mean() - X[~g].mean()
    explained = {name: float((diff[list(cols)] * beta[list(cols)]).sum()) for name, cols in parts.items()}
    return gap, explained, gap - sum(explained.values())


def variance_inflation(X: pd.DataFrame) -> pd.Series:
    """Each column's variance inflation factor, 1 / (1 - R^2) of it on the others and a constant
    (statsmodels' ``variance_inflation_factor``); huge (about 1e15, or infinite) for a column the others determine."""
    import statsmodels.api as sm
    from statsmodels.stats.outliers_influence import variance_inflation_factor

    exog = sm.add_constant(X.to_numpy(float), has_constant="add")
    with np.errstate(divide="ignore"):
        return pd.Series([float(variance_inflation_factor(exog, j + 1)) for j in range(X.shape[1])], index=X.columns)
