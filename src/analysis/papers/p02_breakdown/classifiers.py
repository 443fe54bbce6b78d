"""Paper 02's classifiers: the temporal split, the baseline, logistic and boosted models, their
calibration, and the subgroup (fairness) checks."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.papers.p02_breakdown.inputs import CATEGORICAL, DAYS_PER_MONTH, FEATURE_LABELS, FEATURES, SDQ_CENTRE, Settings
from analysis.report.disclosure import count_text
from analysis.stats.classify import rank_auc, scores

MIN_CLASSIFIER_EVENTS = (100, 30)  # in training, in the test years


# --- prediction within a horizon ----------------------------------------------------------------
@dataclass
class Split:
    train: pd.DataFrame
    test: pd.DataFrame
    cut: pd.Timestamp
    horizon_days: float
    note: str


def label_horizon(c: pd.DataFrame, horizon_months: int, known_by: pd.Timestamp) -> pd.DataFrame:
    """Placements whose outcome within the horizon is known by a date, with ``y`` = ended unplanned within it.

    A placement that ended another way within the horizon is a 0; one still running when follow-up
    stopped for the end of the data (or ``known_by``) before the horizon is dropped.
    """
    days = horizon_months * DAYS_PER_MONTH
    y = c["event"] & (c["time"] <= days)
    decided_by = c["start"] + pd.to_timedelta(np.minimum(c["time"], days), unit="D")
    known = (decided_by <= known_by) & (c["event"] | (c["time"] >= days) | (c["censor"] != "end of data"))
    return c[known].assign(y=y[known].astype(int))


def temporal_split(c: pd.DataFrame, s: Settings) -> Split:
    """Train on placements starting before the test years, with outcomes known by then; test on later starts."""
    days = s.model_horizon * DAYS_PER_MONTH
    test_end = s.data_end - pd.Timedelta(days=days)
    cut = test_end - pd.DateOffset(years=s.test_years)
    train = label_horizon(c[c["start"] < cut], s.model_horizon, cut)
    test = label_horizon(c[(c["start"] >= cut) & (c["start"] <= test_end)], s.model_horizon, s.data_end)
    note = (
        f"trained on placements starting before {cut:%d %B %Y} (outcomes as known on that date); tested on the "
        f"{len(test):,} placements starting from then to {test_end:%d %B %Y}, whose {s.model_horizon}-month outcome is known"
    )
    return Split(train, test, cut, days, note)


def _feature_frame(df: pd.DataFrame) -> pd.DataFrame:
    X = df[FEATURES].copy()
    for col in CATEGORICAL:
        X[col] = X[col].astype("category")
    for col in ("male", "uasc", "outside_la"):
        X[col] = X[col].astype(float)
    X["age_at_start"] = X["age_at_start"].astype(float)
    X["previous_moves"] = X["previous_moves"].astype(float)
    return X


def _one_hot(train: pd.DataFrame, test: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, list[str]]:
    both = pd.get_dummies(pd.concat([_feature_frame(train), _feature_frame(test)]), columns=CATEGORICAL, dtype=float)
    both["sdq_missing"] = both["sdq"].isna().astype(float)
    both["pl_distance_missing"] = both["pl_distance"].isna().astype(float)
    both = both.fillna({"sdq": SDQ_CENTRE, "pl_distance": 0.0})
    return both.iloc[: len(train)].to_numpy(float), both.iloc[len(train) :].to_numpy(float), list(both.columns)


@dataclass
class ClassifierResult:
    split: Split
    metrics: pd.DataFrame  # one row per model
    calibration_bins: pd.DataFrame  # model, bin, mean predicted, observed, n
    subgroups: pd.DataFrame
    importance: pd.DataFrame
    dependence: pd.DataFrame
    test_predictions: pd.DataFrame  # kept in memory for charts only; never published
    notes: list[str] = field(default_factory=list)


MODEL_NAMES = {"baseline": "Baseline: earlier placements only", "logistic": "Logistic regression", "boosted": "Gradient-boosted trees"}

#: a model's probabilities are called calibrated only when both are near ideal in the test years
CALIBRATED_SLOPE = (0.8, 1.25)
CALIBRATED_INTERCEPT = 0.2
CALIBRATION_RULE = (
    f"calibrated = calibration slope {CALIBRATED_SLOPE[0]} to {CALIBRATED_SLOPE[1]} and intercept "
    f"-{CALIBRATED_INTERCEPT} to {CALIBRATED_INTERCEPT} in the test years"
)

#: subgroup checks: bootstrap resamples of the test years (the quick default; the parameter
#: ``resamples`` sets it, 2,000 in a full run), and the family-wise error rate (Holm)
FAIRNESS_RESAMPLES = 200
FAIRNESS_ALPHA = 0.05
FAIRNESS_MIN_EVENTS = 20  # a group is judged with at least this many placements that ended unplanned, and that did not
#: the smallest differences worth a flag (with many placements a trivial difference can be significant):
#: an AUC 0.05 away from the whole test set's, or observed and predicted shares 5 points and a fifth apart
FAIRNESS_MIN_AUC_DIFFERENCE = 0.05
FAIRNESS_MIN_CALIBRATION_POINTS = 5.0
FAIRNESS_MIN_CALIBRATION_RATIO = 0.2
FAIRNESS_RULE = (
    f"a group is flagged only when its difference from the whole test set is significant after Holm's correction "
    f"for the {{tests}} tests made (family-wise 5%) and large enough to matter: AUC difference by bootstrap "
    f"({{resamples:,}} resamples), at least {FAIRNESS_MIN_AUC_DIFFERENCE:.2f}; observed against predicted by an exact "
    f"binomial test, at least {FAIRNESS_MIN_CALIBRATION_POINTS:.0f} percentage points and "
    f"{FAIRNESS_MIN_CALIBRATION_RATIO:.0%} of the predicted share apart; groups with fewer than {FAIRNESS_MIN_EVENTS} "
    f"placements that ended unplanned (or {FAIRNESS_MIN_EVENTS} that did not) are not judged"
)


def fairness_note(subgroups: pd.DataFrame) -> str:
    """The rule the subgroup table follows, as a sentence for its notes."""
    rule = FAIRNESS_RULE.format(tests=subgroups.attrs.get("tests", 0), resamples=subgroups.attrs.get("resamples", FAIRNESS_RESAMPLES))
    return rule[0].upper() + rule[1:] + ". AUC difference: the group's AUC minus the AUC of the whole test set."


def is_calibrated(slope: float, intercept: float) -> bool:
    """Whether probabilities can be taken at face value (see :data:`CALIBRATION_RULE`)."""
    return bool(
        np.isfinite(slope)
        and np.isfinite(intercept)
        and CALIBRATED_SLOPE[0] <= slope <= CALIBRATED_SLOPE[1]
        and abs(intercept) <= CALIBRATED_INTERCEPT
    )


def subgroup_checks(
    test: pd.DataFrame, prob: str, groupings: list[tuple[str, str]], *, seed: int = 20252, resamples: int = FAIRNESS_RESAMPLES
) -> pd.DataFrame:
    """The model in each group of the test years against the whole test set: AUC and its difference
    from the overall AUC with a bootstrap 95% interval, observed against predicted with an exact binomial
    test, and p-values adjusted for the number of tests (Holm). Groups with too few outcomes are shown
    but not tested."""
    from scipy.stats import binomtest
    from sklearn.metrics import roc_auc_score
    from statsmodels.stats.multitest import multipletests

    y, p = test["y"].to_numpy().astype(int), test[prob].to_numpy(float)
    overall = roc_auc_score(y, p)
    rng = np.random.default_rng(seed)
    draws = [rng.integers(0, len(y), len(y)) for _ in range(resamples)]
    overall_draws = [rank_auc(y[d], p[d]) for d in draws]  # once per resample, shared by every group
    rows = []
    for by, label in groupings:
        for group, idx in test.groupby(by, sort=True).indices.items():
            gy, gp = y[idx], p[idx]
            row = {
                "characteristic": label,
                "group": group,
                "placements": len(gy),
                "unplanned": int(gy.sum()),
                "observed_pct": round(100 * gy.mean(), 1),
                "predicted_pct": round(100 * gp.mean(), 1),
                "auc": np.nan,
                "auc_difference": np.nan,
                "difference_lower": np.nan,
                "difference_upper": np.nan,
                "p_auc": np.nan,
                "p_calibration": np.nan,
            }
            judged = gy.sum() >= FAIRNESS_MIN_EVENTS and len(gy) - gy.sum() >= FAIRNESS_MIN_EVENTS
            if judged:
                row["auc"] = roc_auc_score(gy, gp)
                member = np.zeros(len(y), bool)
                member[idx] = True
                diffs = []
                for d, whole in zip(draws, overall_draws):
                    dm = member[d]
                    dy, dp = y[d][dm], p[d][dm]
                    if 0 < dy.sum() < len(dy) and np.isfinite(whole):
                        diffs.append(rank_auc(dy, dp) - whole)
                diffs = np.asarray(diffs)
                row["auc_difference"] = row["auc"] - overall
                row["difference_lower"], row["difference_upper"] = np.quantile(diffs, [0.025, 0.975])
                row["p_auc"] = min(1.0, 2 * min((diffs <= 0).mean(), (diffs >= 0).mean()))
                row["p_calibration"] = binomtest(int(gy.sum()), len(gy), float(np.clip(gp.mean(), 1e-9, 1 - 1e-9))).pvalue
            row["judged"] = judged
            rows.append(row)
    out = pd.DataFrame(rows)
    tested = out["judged"].to_numpy()
    pvals = np.concatenate([out.loc[tested, "p_auc"].to_numpy(float), out.loc[tested, "p_calibration"].to_numpy(float)])
    adjusted = multipletests(pvals, alpha=FAIRNESS_ALPHA, method="holm")[1] if len(pvals) else np.array([])
    k = int(tested.sum())
    out["p_auc_holm"], out["p_calibration_holm"] = np.nan, np.nan
    out.loc[tested, "p_auc_holm"] = adjusted[:k]
    out.loc[tested, "p_calibration_holm"] = adjusted[k:]
    out["assessment"] = [_subgroup_verdict(r) for r in out.itertuples()]
    out.attrs["tests"] = len(pvals)
    out.attrs["resamples"] = resamples
    for c in ("auc", "auc_difference", "difference_lower", "difference_upper"):
        out[c] = out[c].round(3)
    for c in ("p_auc_holm", "p_calibration_holm"):
        out[c] = out[c].round(4)
    return out.drop(columns=["p_auc", "p_calibration", "judged"])


def fit_classifiers(
    c: pd.DataFrame, s: Settings, *, seed: int = 20251, permutation_repeats: int = 5, max_dependence_rows: int = 5000
) -> ClassifierResult | str:
    """Train the three classifiers on earlier years and score them on the test years.

    Returns a message instead when there are too few outcomes to fit or test fairly.
    """
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.inspection import permutation_importance
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    split = temporal_split(c, s)
    tr_events, te_events = int(split.train["y"].sum()), int(split.test["y"].sum())
    need_tr, need_te = MIN_CLASSIFIER_EVENTS
    if tr_events < need_tr or te_events < need_te or split.train["y"].nunique() < 2 or split.test["y"].nunique() < 2:
        return (
            f"too few unplanned endings within {s.model_horizon} months to train and test a classifier fairly: "
            f"{count_text(tr_events)} in training (at least {need_tr} needed) and {count_text(te_events)} in the test years (at least {need_te} "
            f"needed). Use more years of data, a longer horizon, the broad definition, or pool LAs."
        )
    ytr, yte = split.train["y"].to_numpy(), split.test["y"].to_numpy()
    preds: dict[str, np.ndarray] = {}
    base = LogisticRegression().fit(split.train[["previous_moves"]].to_numpy(float), ytr)
    preds["baseline"] = base.predict_proba(split.test[["previous_moves"]].to_numpy(float))[:, 1]
    Xtr, Xte, names = _one_hot(split.train, split.test)
    logit = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(Xtr, ytr)
    preds["logistic"] = logit.predict_proba(Xte)[:, 1]
    Ftr, Fte = _feature_frame(split.train), _feature_frame(split.test)
    for col in CATEGORICAL:  # the same categories, in the same order, in both
        cats = sorted(set(Ftr[col].astype(str)) | set(Fte[col].astype(str)))
        Ftr[col], Fte[col] = pd.Categorical(Ftr[col].astype(str), cats), pd.Categorical(Fte[col].astype(str), cats)
    gbm = HistGradientBoostingClassifier(
        learning_rate=0.05,
        max_iter=200,
        max_leaf_nodes=15,
        min_samples_leaf=40,
        l2_regularization=1.0,
        categorical_features="from_dtype",
        random_state=seed,
    )
    boosted = CalibratedClassifierCV(gbm, method="isotonic" if len(ytr) >= 5000 else "sigmoid", cv=3).fit(Ftr, ytr)
    preds["boosted"] = boosted.predict_proba(Fte)[:, 1]

    metrics = pd.DataFrame([{"model": MODEL_NAMES[k], "key": k, **scores(yte, v)} for k, v in preds.items()])
    bins = []
    for k, v in preds.items():
        q = pd.qcut(pd.Series(v).rank(method="first"), 10, labels=False)
        g = pd.DataFrame({"bin": q, "p": v, "y": yte}).groupby("bin").agg(n=("y", "size"), predicted=("p", "mean"), observed=("y", "mean"))
        bins.append(g.reset_index().assign(model=MODEL_NAMES[k], key=k))
    test = split.test.assign(prob_boosted=preds["boosted"], prob_baseline=preds["baseline"], prob_logistic=preds["logistic"])
    subgroups = subgroup_checks(
        test,
        "prob_boosted",
        [("sex", "Sex"), ("ethnic_group", "Ethnic group"), ("age_band", "Age at start"), ("uasc_group", "UASC")],
        seed=seed,
        resamples=s.resamples,
    )

    imp = permutation_importance(boosted, Fte, yte, scoring="roc_auc", n_repeats=permutation_repeats, random_state=seed)
    importance = pd.DataFrame(
        {"feature": FEATURES, "label": [FEATURE_LABELS[f] for f in FEATURES], "auc_drop": imp.importances_mean, "sd": imp.importances_std}
    ).sort_values("auc_drop", ascending=False)
    sample = Fte.sample(min(len(Fte), max_dependence_rows), random_state=seed) if len(Fte) > max_dependence_rows else Fte
    dep = [
        partial_dependence(boosted, sample, f).assign(label=FEATURE_LABELS[f])
        for f in ("age_at_start", "previous_moves", "sdq", "pl_distance")
        if sample[f].notna().sum() >= 10
    ]
    dependence = pd.concat(dep, ignore_index=True) if dep else pd.DataFrame(columns=["feature", "label", "value", "risk_pct"])
    notes = [split.note, f"{len(split.train):,} placements in training ({tr_events} unplanned endings within {s.model_horizon} months)"]
    return ClassifierResult(
        split,
        metrics,
        pd.concat(bins, ignore_index=True),
        subgroups,
        importance,
        dependence,
        test[["y", "prob_boosted", "prob_baseline", "prob_logistic"]],
        notes,
    )


def partial_dependence(model, X: pd.DataFrame, feature: str, points: int = 15) -> pd.DataFrame:
    """Average predicted risk (%) with ``feature`` set to each of ``points`` values (between its 2nd and
    98th percentiles among known values), every other feature as observed (Friedman's partial dependence)."""
    from sklearn.inspection import partial_dependence as sk_partial_dependence

    known = X[feature].dropna().astype(float)
    grid = np.unique(np.round(np.quantile(known, np.linspace(0.02, 0.98, points)), 1))
    # scikit-learn's estimator on this grid (quantiles, not its evenly spaced default): brute force over the rows
    pd_ = sk_partial_dependence(model, X, [feature], custom_values={feature: grid}, kind="average", response_method="predict_proba", method="brute")
    return pd.DataFrame({"feature": feature, "value": grid, "risk_pct": 100 * pd_["average"][0]})


def _subgroup_verdict(row) -> str:
    if not row.judged:
        return "too few to judge"
    notes = []
    gap = abs(row.observed_pct - row.predicted_pct)
    material_calibration = gap >= FAIRNESS_MIN_CALIBRATION_POINTS and gap >= FAIRNESS_MIN_CALIBRATION_RATIO * max(row.predicted_pct, 1e-9)
    if row.p_auc_holm < FAIRNESS_ALPHA and abs(row.auc_difference) >= FAIRNESS_MIN_AUC_DIFFERENCE:
        notes.append(
            f"ranks risk {'less well' if row.auc_difference < 0 else 'better'} (AUC {row.auc:.2f}, {row.auc_difference:+.2f} against "
            f"all; 95% interval {row.difference_lower:+.2f} to {row.difference_upper:+.2f})"
        )
    if row.p_calibration_holm < FAIRNESS_ALPHA and material_calibration:
        word = "under" if row.observed_pct > row.predicted_pct else "over"
        notes.append(f"{word}-predicts ({row.predicted_pct:.1f}% predicted, {row.observed_pct:.1f}% observed)")
    if notes:
        return "; ".join(notes)
    small = row.p_auc_holm < FAIRNESS_ALPHA or row.p_calibration_holm < FAIRNESS_ALPHA
    return "a significant but small difference, not flagged" if small else "no significant difference"
