"""Scores of a classifier's predicted probabilities: AUC from ranks, calibration slope and intercept,
precision and recall in the riskiest 10%, and the set of them together; each tested against
scikit-learn, statsmodels or a hand-worked case."""

from __future__ import annotations

import math

import numpy as np


def calibration(y: np.ndarray, prob: np.ndarray) -> dict[str, float]:
    """Calibration slope (logistic regression of the outcome on the logit of the prediction) and
    intercept (calibration-in-the-large: the intercept with the logit as an offset); 1 and 0 are ideal."""
    import statsmodels.api as sm

    p = np.clip(prob, 1e-6, 1 - 1e-6)
    lp = np.log(p / (1 - p))
    try:
        slope = sm.GLM(y, sm.add_constant(lp), family=sm.families.Binomial()).fit().params[1]
        intercept = sm.GLM(y, np.ones((len(y), 1)), family=sm.families.Binomial(), offset=lp).fit().params[0]
    except Exception:  # noqa: BLE001 - perfect separation on tiny data
        return {"calibration_slope": float("nan"), "calibration_intercept": float("nan")}
    return {"calibration_slope": float(slope), "calibration_intercept": float(intercept)}


def top_decile(y: np.ndarray, prob: np.ndarray, seed: int = 0) -> dict[str, float]:
    """Precision and recall among the 10% of placements with the highest predicted risk (ties broken at random, seeded)."""
    rng = np.random.default_rng(seed)
    jitter = rng.random(len(prob)) * 1e-9
    order = np.lexsort((jitter, -np.asarray(prob)))
    n = max(1, int(math.ceil(0.1 * len(prob))))
    top = np.asarray(y)[order[:n]]
    events = int(np.sum(y))
    return {
        "top_decile_precision": float(top.mean()),
        "top_decile_recall": float(top.sum() / events) if events else float("nan"),
        "top_decile_events": int(top.sum()),
    }


def scores(y: np.ndarray, prob: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import brier_score_loss, roc_auc_score

    y = np.asarray(y).astype(int)
    out = {"n": int(len(y)), "events": int(y.sum()), "observed_pct": float(100 * y.mean()), "mean_predicted_pct": float(100 * np.mean(prob))}
    two = 0 < y.sum() < len(y)
    out["auc"] = float(roc_auc_score(y, prob)) if two else float("nan")
    out["brier"] = float(brier_score_loss(y, prob))
    out |= calibration(y, prob) if two else {"calibration_slope": float("nan"), "calibration_intercept": float("nan")}
    out |= top_decile(y, prob)
    return out


def rank_auc(y: np.ndarray, p: np.ndarray) -> float:
    """AUC from ranks (the Mann-Whitney statistic; ties share ranks): the same number as scikit-learn's
    ``roc_auc_score`` (tested), without its overhead inside a bootstrap. NaN with only one outcome."""
    from scipy.stats import rankdata

    n1 = int(y.sum())
    n0 = len(y) - n1
    if n1 == 0 or n0 == 0:
        return float("nan")
    return float((rankdata(p)[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))
