"""A pooled panel model of the change in children looked after, fitted across every LA (issue 28).

One LA's eleven published points are close to a random walk; 153 LAs over ten years are enough to
learn what tends to come before a change. For each target (the total, and each placement group of
:data:`analysis.stats.forecast.GROUPS`) and each horizon ``h`` (1 to 3 years), a ridge regression of

    y = log((count at t + h + 1) / (count at t + 1))

on what is published at ``t`` for every LA (:data:`FEATURES`): the LA's own last change (of the target
and of the total), the change in child protection plans, children in need and referrals at 31 March
(the edge of care), the share of the children looked after aged 10-15 and 16 or over (ageing towards
supported accommodation and leaving care), the share who are UASC, the LA's size (log) and its region.
Coefficients are shared by all LAs and shrunk (ridge, the penalty chosen by generalised cross-validation
on the training rows; features standardised on the training rows). A forecast from origin ``o`` is
fitted only on rows whose outcome was published by ``o`` (``t + h <= o``): nothing after the origin.

Intervals: the training rows' residuals (log scale), in three size bands of the target's count at ``t``
(small counts swing more); the 10/90% and 2.5/97.5% quantiles of the band are added to the forecast.

Groups are **reconciled proportionally** to the total: each group's forecast (and its interval) is
scaled by total / sum of the groups, so the parts always add to the whole and none exceeds it.

:func:`evaluate` is the rolling-origin back-test on the real published series (every LA, each origin,
one to three years ahead) beside "no change" and a linear trend; :func:`adoption` is the rule the pack
uses: the pooled model for a target only where it beats "no change" across LAs, with a bootstrap
interval (over LAs) of the mean difference in absolute % error that lies wholly below zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.linear_model import RidgeCV

from analysis.stats.forecast import GROUPS
from analysis.stats.published_forecast import GROUPS_FROM, published_panel

TARGETS = ("total", *GROUPS)
#: the published LA indicators the model reads besides the children looked after (indicator -> column)
INDICATORS = {
    "cpp_31_march": "cp_plans",
    "cin_31_march": "children_in_need",
    "referrals": "referrals",
    "uasc": "uasc",
    "age_10_to_15": "aged_10_15",
    "age_16_and_over": "aged_16_plus",
}
#: the model's features, with the words a reader sees
FEATURES = {
    "own_change": "the figure's own change over the last year (children looked after, or the group)",
    "total_change": "the change in all children looked after over the last year (log)",
    "cp_plans_change": "the change in child protection plans at 31 March over the last year (log)",
    "children_in_need_change": "the change in children in need at 31 March over the last year (log)",
    "referrals_change": "the change in referrals over the last year (log)",
    "share_aged_10_15": "share of children looked after aged 10-15",
    "share_aged_16_plus": "share of children looked after aged 16 or over",
    "share_uasc": "share of children looked after who are UASC",
    "log_size": "children looked after (log)",
}
HORIZONS = (1, 2, 3)
ALPHAS = (1.0, 10.0, 100.0, 1000.0, 10000.0, 100000.0)
SEED = 20281


def panel(li: pd.DataFrame) -> pd.DataFrame:
    """Index (la_code, year): the forecast groups and ``total`` as published (:func:`published_panel`), the
    leading indicators of :data:`INDICATORS` and ``region``. Nothing is filled in here."""
    base = published_panel(li)
    parts = _group_parts(li)
    for g in GROUPS:  # a suppressed part (1 to 4 children) or one not published counts as none, if another part of the group is
        base[g] = base[g].fillna(parts[g].reindex(base.index))
    la = li[(li["geographic_level"] == "local_authority") & (li["measure"] == "number") & li["indicator"].isin(INDICATORS)]
    wide = la.pivot_table(index=["area_code", "year"], columns="indicator", values="value", aggfunc="first").rename(columns=INDICATORS)
    wide.index = wide.index.set_names(["la_code", "year"])
    out = base.join(wide.reindex(columns=list(INDICATORS.values())), how="left")
    region = li[li["geographic_level"] == "local_authority"].drop_duplicates("area_code").set_index("area_code")["region_code"]
    out["region"] = out.index.get_level_values("la_code").map(region).fillna("unknown")
    return out.sort_index()


def _group_parts(li: pd.DataFrame) -> pd.DataFrame:
    from analysis.io import published_counts as st
    from analysis.stats.published_forecast import GROUP_OF_PUBLISHED

    indicators = {ind: GROUP_OF_PUBLISHED[cat] for cat, inds in st.DIMENSIONS["placement"].items() for ind in inds}
    la = li[(li["geographic_level"] == "local_authority") & (li["measure"] == "number") & li["indicator"].isin(indicators)]
    wide = la.pivot_table(index=["area_code", "year"], columns="indicator", values="value", aggfunc="first").reindex(columns=list(indicators))
    wide.index = wide.index.set_names(["la_code", "year"])
    return pd.DataFrame({g: wide[[i for i, grp in indicators.items() if grp == g]].sum(axis=1, min_count=1) for g in GROUPS})


def _change(s: pd.Series) -> pd.Series:
    """log((x_t + 1) / (x_{t-1} + 1)) within each LA (NaN where either year is missing)."""
    prev = s.groupby(level="la_code").shift(1)
    return np.log1p(s) - np.log1p(prev)


def design(pan: pd.DataFrame, target: str) -> pd.DataFrame:
    """The features at each (LA, year) for one target, before filling and scaling (NaN where not published)."""
    total = pan["total"]
    f = pd.DataFrame(index=pan.index)
    f["own_change"] = _change(pan[target])
    if target != "total":  # for the total it is its own change
        f["total_change"] = _change(total)
    for col in ("cp_plans", "children_in_need", "referrals"):
        f[f"{col}_change"] = _change(pan[col])
    f["share_aged_10_15"] = pan["aged_10_15"] / total
    f["share_aged_16_plus"] = pan["aged_16_plus"] / total
    f["share_uasc"] = pan["uasc"] / total
    f["log_size"] = np.log1p(total)
    return f.replace([np.inf, -np.inf], np.nan)


def outcome(pan: pd.DataFrame, target: str, h: int) -> pd.Series:
    """log((count at t + h + 1) / (count at t + 1)) at each (LA, t)."""
    s = pan[target]
    return np.log1p(s.groupby(level="la_code").shift(-h)) - np.log1p(s)


@dataclass
class Fit:
    """One pooled fit: the target, horizon and origin; the scaling, coefficients (per unit of each raw
    feature; no intercept: the national change is taken as none); the residual quantiles by size band."""

    target: str
    h: int
    origin: int
    columns: list[str]
    fill: pd.Series  # training medians, for features not published
    scale: pd.Series  # of the year-demeaned training features
    coef: pd.Series  # on the standardised features
    alpha: float
    bands: list[float]  # size-band edges (count at t)
    quantiles: pd.DataFrame  # band x (q025, q10, q90, q975): the pooled model's errors
    unchanged: pd.DataFrame  # band x (q025, q10, q90, q975): the change itself, the errors of "no change"
    n: int

    def matrix(self, X: pd.DataFrame) -> np.ndarray:
        """The features of one year's LAs, each less that year's mean over the LAs given (every LA, for a forecast)."""
        Z = X.reindex(columns=self.columns).fillna(self.fill).fillna(0.0)
        return ((Z - Z.mean()) / self.scale).to_numpy()

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Each LA's log change against the national one, with the national change taken as none (a random walk)."""
        return self.matrix(X) @ self.coef.to_numpy()

    def band_of(self, count: pd.Series) -> np.ndarray:
        return np.clip(np.searchsorted(self.bands, count.fillna(0).to_numpy(), side="right"), 0, len(self.quantiles) - 1)

    def per_unit(self) -> pd.Series:
        """The coefficients per unit of each raw feature (region effects left out)."""
        return (self.coef / self.scale)[[c for c in self.columns if not c.startswith("region: ")]]


def _features(pan: pd.DataFrame, target: str) -> pd.DataFrame:
    X = design(pan, target)
    regions = pd.get_dummies(pan["region"], prefix="region", prefix_sep=": ", dtype=float)
    return X.join(regions.iloc[:, 1:])  # one region is the reference


def training_rows(pan: pd.DataFrame, target: str, h: int, origin: int, X: pd.DataFrame) -> np.ndarray:
    """The rows a fit from ``origin`` may learn from: the outcome ``h`` years on published by the origin."""
    y = outcome(pan, target, h)
    t = pan.index.get_level_values("year")
    comparable = (t - 1 >= GROUPS_FROM) if target != "total" else np.ones(len(t), dtype=bool)
    return comparable & (t + h <= origin) & y.notna().to_numpy() & X["own_change"].notna().to_numpy() & pan[target].notna().to_numpy()


def fit(pan: pd.DataFrame, target: str, h: int, origin: int, X: pd.DataFrame | None = None) -> Fit | None:
    """The pooled ridge fit for ``target`` ``h`` years ahead, on rows whose outcome was published by ``origin``."""
    X = _features(pan, target) if X is None else X
    rows = training_rows(pan, target, h, origin, X)
    if rows.sum() < 50:
        return None
    return _fit_rows(X[rows], outcome(pan, target, h)[rows].to_numpy(), pan.loc[rows, target], target, h, origin)


def _fit_rows(Xt: pd.DataFrame, yt: np.ndarray, count: pd.Series, target: str, h: int, origin: int, alpha: float | None = None) -> Fit:
    """Ridge on the features and outcome each less its year's mean over the LAs: the model learns how an LA's change
    differs from the national one, which is unknowable at the origin and taken as none. The residual quantiles are
    of the outcome itself (national swings included), so the intervals carry them."""
    years = Xt.index.get_level_values("year")
    fill = Xt.median()
    Z = Xt.fillna(fill).fillna(0.0)
    Zd = Z - Z.groupby(years).transform("mean")
    scale = Zd.std(ddof=0).replace(0, 1.0)
    S = (Zd / scale).to_numpy()
    yd = yt - pd.Series(yt).groupby(np.asarray(years)).transform("mean").to_numpy()
    model = RidgeCV(alphas=list(ALPHAS) if alpha is None else [alpha], fit_intercept=False).fit(S, yd)
    resid = yt - model.predict(S)
    edges = list(np.quantile(count, [1 / 3, 2 / 3]))
    band = np.clip(np.searchsorted(edges, count.to_numpy(), side="right"), 0, 2)
    probs = [0.025, 0.10, 0.90, 0.975]

    def by_band(errors: np.ndarray) -> pd.DataFrame:
        rows = [np.quantile(errors[band == b] if (band == b).sum() >= 20 else errors, probs) for b in range(3)]
        return pd.DataFrame(rows, columns=["q025", "q10", "q90", "q975"])

    coef = pd.Series(model.coef_, index=Xt.columns)
    return Fit(target, h, origin, list(Xt.columns), fill, scale, coef, float(model.alpha_), edges, by_band(resid), by_band(yt), len(yt))


def _reconcile(frame: pd.DataFrame) -> pd.DataFrame:
    """Groups made to add to the total (proportional reconciliation: each scaled by total / sum of the groups,
    interval limits likewise). Where a group is not published for the LA (suppressed), the groups shown are
    scaled down only if they would add to more than the total: the missing group is the rest."""
    out = frame.copy()
    groups = out[out["target"] != "total"]
    sums = groups.groupby(["la_code", "year"])["mean"].sum()
    complete = groups.groupby(["la_code", "year"])["target"].nunique() == len(GROUPS)
    total = out[out["target"] == "total"].set_index(["la_code", "year"])["mean"]
    factor = (total / sums.replace(0, np.nan)).reindex(sums.index)
    factor = factor.where(complete, np.minimum(factor, 1.0)).fillna(1.0)
    key = pd.MultiIndex.from_frame(out[["la_code", "year"]])
    f = np.where(out["target"] != "total", factor.reindex(key).fillna(1.0).to_numpy(), 1.0)
    for c in ("mean", *LIMITS):
        out[c] = out[c] * f
    return out


LIMITS = ("lower_95", "lower_80", "upper_80", "upper_95")  # in the order of the quantile columns
METHODS = {"pooled": "pooled panel model", "no_change": "no change (the last published number)"}


def forecast(pan: pd.DataFrame, origin: int, horizons=HORIZONS, las: list[str] | None = None, features: dict | None = None) -> pd.DataFrame:
    """Every LA's (or ``las``') forecasts from ``origin`` by both methods: one row per LA, year, target and method
    (``pooled``, ``no_change``) with mean and 80%/95% limits from the pooled errors of LAs of a similar size, groups
    not yet reconciled (:func:`choose`). Uses only what was published by ``origin``."""
    keep = pan.index.get_level_values("year") <= origin
    pan = pan[keep]
    rows = []
    for target in TARGETS:
        # the features look back only (a change to t, shares at t): those of the whole panel, cut at the origin, are the same
        X = features[target][keep] if features is not None else _features(pan, target)
        at = (pan.index.get_level_values("year") == origin) & pan[target].notna().to_numpy()  # every LA: the cross-section
        now = pan.loc[at, target]
        base = np.log1p(now.to_numpy())
        for h in horizons:
            f = fit(pan, target, h, origin, X)
            if f is None or not at.any():
                continue
            band = f.band_of(now)
            for method, centre, q in (("pooled", f.predict(X[at]), f.quantiles), ("no_change", np.zeros(len(now)), f.unchanged)):
                qs = q.iloc[band].to_numpy()
                frame = {"la_code": now.index.get_level_values("la_code"), "origin": origin, "year": origin + h, "years_ahead": h}
                frame |= {"target": target, "method": method, "now": now.to_numpy(), "mean": np.expm1(base + centre)}
                frame |= {name: np.expm1(base + centre + qs[:, k]) for k, name in enumerate(LIMITS)}
                rows.append(pd.DataFrame(frame))
    columns = ["la_code", "origin", "year", "years_ahead", "target", "method", "now", "mean", *sorted(LIMITS)]
    if not rows:
        return pd.DataFrame(columns=columns)
    out = pd.concat(rows, ignore_index=True)
    if las is not None:
        out = out[out["la_code"].isin(las)]
    for c in ("mean", *LIMITS):
        out[c] = out[c].clip(lower=0)
    return out[columns].reset_index(drop=True)


def choose(fc_rows: pd.DataFrame, use_pooled: dict[str, bool]) -> pd.DataFrame:
    """One forecast per LA, year and target: the pooled model's where ``use_pooled[target]``, else "no change";
    groups then reconciled to the total (proportionally)."""
    want = fc_rows["target"].map(lambda t: "pooled" if use_pooled.get(t, False) else "no_change")
    return _reconcile(fc_rows[fc_rows["method"] == want].reset_index(drop=True))


def linear_trend(pan: pd.DataFrame, target: str, origin: int, h: int, years: int = 5) -> pd.Series:
    """Each LA's least-squares line through the ``years`` published counts to the origin, ``h`` years on (not below 0)."""
    s = pan[target].unstack("year")
    cols = [y for y in range(origin - years + 1, origin + 1) if y in s.columns]
    Y = s[cols]
    x = np.array(cols, dtype=float)
    ok = Y.notna()
    n = ok.sum(axis=1)
    xm = (ok * x).sum(axis=1) / n
    ym = Y.sum(axis=1) / n
    slope = (ok * (x - xm.to_numpy()[:, None]) * (Y.fillna(0) - ym.to_numpy()[:, None])).sum(axis=1) / (ok * (x - xm.to_numpy()[:, None]) ** 2).sum(
        axis=1
    )
    return (ym + slope * (origin + h - xm)).clip(lower=0).where(n >= 3)


def evaluate(pan: pd.DataFrame, origins, horizons=HORIZONS, last_year: int | None = None) -> pd.DataFrame:
    """The rolling-origin back-test: for every LA, origin and horizon with the outcome published (by ``last_year``),
    the pooled forecast (fitted only on what was published by the origin; groups reconciled to its total), "no change"
    and the linear trend, beside the published count, per target. Long: la_code, origin, years_ahead, target, actual,
    now, pooled, no_change, trend, each method's 80%/95% limits (``pooled_lower_95`` ...) and whether the count fell
    inside them (``pooled_inside_95`` ...)."""
    last = int(pan.index.get_level_values("year").max()) if last_year is None else last_year
    actual = pan[list(TARGETS)].stack().rename("actual").reset_index().rename(columns={"level_2": "target"})
    features = {t: _features(pan, t) for t in TARGETS}
    frames = []
    for o in origins:
        hs = [h for h in horizons if o + h <= last]
        if not hs:
            continue
        rows = forecast(pan, o, hs, features=features)
        key = ["la_code", "origin", "year", "years_ahead", "target"]
        parts = [choose(rows, dict.fromkeys(TARGETS, m == "pooled")).set_index(key) for m in METHODS]
        f = parts[0][["now"]].join([p[["mean", *LIMITS]].add_prefix(f"{m}_") for m, p in zip(METHODS, parts)], how="outer").reset_index()
        f = f.merge(actual, on=["la_code", "year", "target"], how="inner")
        past = pan[pan.index.get_level_values("year") <= o]
        trend = pd.concat([linear_trend(past, t, o, h).rename("trend").to_frame().assign(target=t, years_ahead=h) for t in TARGETS for h in hs])
        frames.append(f.merge(trend.reset_index(), on=["la_code", "target", "years_ahead"], how="left"))
    ev = pd.concat(frames, ignore_index=True).rename(columns={"pooled_mean": "pooled", "no_change_mean": "no_change"})
    ev = ev[ev["actual"].notna()].reset_index(drop=True)
    for m in METHODS:
        for level in ("80", "95"):
            ev[f"{m}_inside_{level}"] = (ev["actual"] >= ev[f"{m}_lower_{level}"]) & (ev["actual"] <= ev[f"{m}_upper_{level}"])
    return ev


def ape(forecast_: pd.Series, actual: pd.Series) -> pd.Series:
    """Absolute % error, on a count of at least 1."""
    return 100 * (forecast_ - actual).abs() / actual.clip(lower=1)


def la_differences(ev: pd.DataFrame, method: str = "pooled", against: str = "no_change") -> pd.DataFrame:
    """Per LA and target: the mean over its back-test forecasts of (APE of ``method`` - APE of ``against``);
    below zero, ``method`` erred less for that LA."""
    d = ev.assign(diff=ape(ev[method], ev["actual"]) - ape(ev[against], ev["actual"]))
    return d.groupby(["target", "la_code"], as_index=False)["diff"].mean()


def bootstrap_mean(values: np.ndarray, reps: int = 2000, seed: int = SEED) -> tuple[float, float, float]:
    """(mean, 2.5%, 97.5%) of the mean, resampling the values (LAs) with replacement."""
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    if len(v) == 0:
        return (np.nan, np.nan, np.nan)
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, len(v), size=(reps, len(v)))].mean(axis=1)
    return float(v.mean()), float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))


def adoption(ev: pd.DataFrame, reps: int = 2000) -> pd.DataFrame:
    """The pack's rule, per target: the pooled model is used when the mean per-LA difference in absolute % error
    against "no change" has a bootstrap 95% interval (over LAs) wholly below zero; otherwise "no change" is kept."""
    rows = []
    for target, g in la_differences(ev).groupby("target"):
        mean, lo, hi = bootstrap_mean(g["diff"].to_numpy(), reps)
        rows.append(
            {
                "target": target,
                "las": int(g["diff"].notna().sum()),
                "mean_difference": mean,
                "lower_95": lo,
                "upper_95": hi,
                "use_pooled": bool(hi < 0),
            }
        )
    return pd.DataFrame(rows).set_index("target").reindex(list(TARGETS)).reset_index()


def _ridge_per_unit(Z: np.ndarray, y: np.ndarray, year: np.ndarray, alpha: float) -> np.ndarray:
    """The fit of :func:`_fit_rows` (features and outcome less their year's mean, standardised, ridge without an
    intercept at ``alpha``) in closed form, its coefficients per unit of each raw feature: for the bootstrap."""
    Zd = Z - _year_means(Z, year)[year]
    yd = y - _year_means(y[:, None], year)[year][:, 0]
    scale = Zd.std(axis=0)
    scale[scale == 0] = 1.0
    S = Zd / scale
    b = np.linalg.solve(S.T @ S + alpha * np.eye(S.shape[1]), S.T @ yd)
    return b / scale


def _year_means(A: np.ndarray, year: np.ndarray) -> np.ndarray:
    """Each year's column means (years numbered 0, 1, ...)."""
    sums = np.zeros((year.max() + 1, A.shape[1]))
    np.add.at(sums, year, A)
    n = np.bincount(year, minlength=year.max() + 1).astype(float)
    n[n == 0] = 1.0
    return sums / n[:, None]


def explain(pan: pd.DataFrame, origin: int, target: str = "total", h: int = 1, reps: int = 200, rise_pct: float = 10.0) -> pd.DataFrame:
    """What the pooled model of ``target`` ``h`` years ahead leans on, in words a commissioner reads: for each
    indicator that is a change, the % change in the target that goes with a ``rise_pct``% rise in it (others held);
    for a share, with a 10-point higher share; with a 95% interval from refitting on LAs resampled with replacement."""
    X = _features(pan, target)
    rows = training_rows(pan, target, h, origin, X)
    if rows.sum() < 50:
        return pd.DataFrame(columns=["feature", "label", "effect_pct", "lower_95", "upper_95"])
    Xt, yt, count = X[rows], outcome(pan, target, h)[rows].to_numpy(), pan.loc[rows, target]
    base = _fit_rows(Xt, yt, count, target, h, origin)
    la = Xt.index.get_level_values("la_code").to_numpy()
    las, inverse = np.unique(la, return_inverse=True)
    where = [np.flatnonzero(inverse == k) for k in range(len(las))]
    Z = Xt.fillna(base.fill).fillna(0.0).to_numpy()
    _, year = np.unique(Xt.index.get_level_values("year").to_numpy(), return_inverse=True)
    rng = np.random.default_rng(SEED)
    draws = []
    for _ in range(reps):  # LAs resampled with replacement, the penalty held at the fit's
        idx = np.concatenate([where[k] for k in rng.integers(0, len(las), size=len(las))])
        draws.append(_ridge_per_unit(Z[idx], yt[idx], year[idx], base.alpha))
    coefs = pd.DataFrame(draws, columns=Xt.columns)
    step = {c: (np.log1p(rise_pct / 100) if c.endswith("change") else 0.10) for c in FEATURES if c != "log_size" and c in coefs}
    rows_out = []
    for c, k in step.items():
        sims = 100 * np.expm1(coefs[c] * k)
        rows_out.append(
            {
                "feature": c,
                "label": FEATURES[c],
                "effect_pct": float(100 * np.expm1(base.per_unit()[c] * k)),
                "lower_95": float(sims.quantile(0.025)),
                "upper_95": float(sims.quantile(0.975)),
            }
        )
    return pd.DataFrame(rows_out)
