"""Estimators moved out of the papers into stats/ (issue 25): each against a hand-worked case or the
library that defines it. Kaplan-Meier, cumulative incidence, Cox score residuals and the clustered sandwich
are checked against statsmodels in tests/test_breakdown.py; rank AUC against scikit-learn in
tests/test_publishing.py; variance inflation against statsmodels in tests/test_costs.py."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.stats import classify, decompose


def test_the_twofold_split_adds_up_and_recovers_a_known_gap():
    """y = 1 + 2x + 0.5 g exactly, with x higher in group g: the gap is 2 x (difference in mean x) + 0.5;
    x explains 2 x the difference, and 0.5 (the group's own effect) remains."""
    rng = np.random.default_rng(3)
    g = rng.random(400) < 0.4
    x = rng.normal(1.0, 1.0, 400) + 0.8 * g
    y = 1 + 2 * x + 0.5 * g
    X = pd.DataFrame({"const": 1.0, "x": x, "g": g.astype(float)})
    gap, explained, rest = decompose.twofold_pooled(y, X, g, {"x": ["x"]})
    dx = x[g].mean() - x[~g].mean()
    assert gap == pytest.approx(2 * dx + 0.5)
    assert explained["x"] == pytest.approx(2 * dx) and rest == pytest.approx(0.5)
    assert gap == pytest.approx(sum(explained.values()) + rest)


def test_scores_match_scikit_learn():
    from sklearn.metrics import brier_score_loss, roc_auc_score

    rng = np.random.default_rng(5)
    p = rng.uniform(0.05, 0.6, 2000)
    y = (rng.random(2000) < p).astype(int)
    s = classify.scores(y, p)
    assert s["auc"] == pytest.approx(roc_auc_score(y, p)) and s["brier"] == pytest.approx(brier_score_loss(y, p))
    assert s["calibration_slope"] == pytest.approx(1.0, abs=0.2) and abs(s["calibration_intercept"]) < 0.15, "true probabilities are calibrated"
    assert s["events"] == y.sum() and s["n"] == 2000
