"""Paper 02's survival analysis: rates of unplanned endings, Kaplan-Meier curves, the Cox and
discrete-time models, and the check against the synthetic data's planted effects."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.papers.p02_breakdown.inputs import DAYS_PER_MONTH, TERMS
from analysis.report.labels import TERM_LABELS
from analysis.stats import planted
from analysis.stats.normal import Z95, two_sided_p
from analysis.stats.rates import poisson_interval
from analysis.stats.survival import clustered_covariance, cox_score_residuals, cumulative_incidence, km_curve

#: the fewest outcome events per model term before a regression is fitted (a common rule of thumb)
EVENTS_PER_TERM = 10


# --- descriptives -------------------------------------------------------------------------------
GROUPINGS = {
    "place_group": "Placement type",
    "provider_group": "Provider",
    "age_band": "Age at start",
    "location": "Inside or outside the LA",
    "distance_band": "Distance from home",
    "kinship_group": "Kinship care",
    "previous_band": "Earlier placements in the period",
    "uasc_group": "UASC",
}


def rates(c: pd.DataFrame, by: str) -> pd.DataFrame:
    """Placements, unplanned endings and the rate per 100 placement-years, with a 95% interval."""
    g = c.groupby(by, sort=True).agg(placements=("event", "size"), unplanned=("event", "sum"), days=("time", "sum"))
    g = g.reindex(
        pd.Index(_ordered(g.index), name=g.index.name)
    )  # ordered categories (age bands by age, distance bands by distance), not as text sorts them
    g = g.reset_index().rename(columns={by: "group"})
    blank = g["group"].map(lambda v: v is None or (isinstance(v, float) and np.isnan(v)) or (isinstance(v, str) and not v.strip()))
    g["group"] = g["group"].astype(object).where(~blank, "not recorded")  # a group with no value is named, never a blank row
    total = pd.DataFrame(
        {"group": ["All placements"], "placements": [len(c)], "unplanned": [int(c["event"].sum())], "days": [float(c["time"].sum())]}
    )
    g = pd.concat([g, total], ignore_index=True)
    years = g["days"] / 365.25
    lo, hi = poisson_interval(g["unplanned"].to_numpy(), years.to_numpy())
    return pd.DataFrame(
        {
            "group": g["group"],
            "placements": g["placements"].astype(int),
            "unplanned": g["unplanned"].astype(int),
            "placement_years": years.round(0),
            "rate_per_100_years": (100 * g["unplanned"] / years).round(1),
            "lower_95": (100 * lo).round(1),
            "upper_95": (100 * hi).round(1),
        }
    )


def rates_table(c: pd.DataFrame) -> pd.DataFrame:
    """:func:`rates` for every grouping in :data:`GROUPINGS`, stacked."""
    parts = []
    for col, label in GROUPINGS.items():
        t = rates(c, col)
        t = t[t["group"] != "All placements"]
        parts.append(t.assign(grouping=label))
    overall = rates(c, "place_group").tail(1).assign(grouping="All")
    out = pd.concat([overall, *parts], ignore_index=True)
    return out[["grouping", "group", "placements", "unplanned", "placement_years", "rate_per_100_years", "lower_95", "upper_95"]]


GROUP_ORDER = [
    "none",
    "1",
    "2",
    "3 or more",
    "under 5",
    "5 to 9",
    "10 to 15",
    "16 and over",
    "inside the LA",
    "outside the LA",
    "up to 5 miles",
    "5 to 10 miles",
    "10 to 20 miles",
    "over 20 miles",
    "not known",
]


def _ordered(groups) -> list:
    return sorted(groups, key=lambda g: (GROUP_ORDER.index(g) if g in GROUP_ORDER else len(GROUP_ORDER), str(g)))


#: a Kaplan-Meier curve is drawn while at least this many placements are followed
MIN_AT_RISK = 10
#: a group gets a Kaplan-Meier curve when it has at least this many placements
KM_MIN_PLACEMENTS = 50
#: a group is shown in the horizon table when it has at least this many placements
HORIZON_MIN_PLACEMENTS = 20


def km_curves(c: pd.DataFrame, by: str, *, max_months: int = 24, min_placements: int = KM_MIN_PLACEMENTS, max_groups: int = 5) -> pd.DataFrame:
    """Kaplan-Meier curves to ``max_months`` for the largest groups (at most ``max_groups``, each with at
    least ``min_placements`` placements)."""
    sizes = c[by].value_counts()
    chosen = _ordered(sizes[sizes >= min_placements].head(max_groups).index)
    parts = []
    for group in chosen:
        sub = c[c[by] == group]
        if len(sub) < min_placements:
            continue
        k = km_curve(sub["time"].to_numpy(), sub["event"].to_numpy())
        k = k[k["days"] <= max_months * DAYS_PER_MONTH]
        parts.append(k.assign(group=group))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["days", "at_risk", "events", "surv", "lower", "upper", "group"])


def horizon_table(c: pd.DataFrame, horizons: list[int], by: str = "place_group", min_placements: int = HORIZON_MIN_PLACEMENTS) -> pd.DataFrame:
    """For each group and horizon: 1 - Kaplan-Meier and the cumulative incidence with other endings competing."""
    competing = (~c["event"]) & c["censor"].isin(["other move", "left care"])
    rows = []
    groups = [("All placements", c.index)] + [(g, sub.index) for g, sub in c.groupby(by, sort=True)]
    for group, idx in groups:
        if len(idx) < min_placements:
            continue
        sub = c.loc[idx]
        k = km_curve(sub["time"].to_numpy(), sub["event"].to_numpy())
        row = {"group": group, "placements": len(idx)}
        for h in horizons:
            days = h * DAYS_PER_MONTH
            # the unplanned endings seen by the horizon: the count behind both shares (gated with them)
            row[f"unplanned_by_{h}m"] = int((sub["event"].astype(bool) & (sub["time"] <= days)).sum())
            before = k[k["days"] <= days]
            row[f"km_{h}m_pct"] = round(100 * (1 - (before["surv"].iloc[-1] if len(before) else 1.0)), 1)
            row[f"cif_{h}m_pct"] = round(100 * cumulative_incidence(sub["time"], sub["event"], competing.loc[idx], days), 1)
        rows.append(row)
    return pd.DataFrame(rows)


# --- regression models --------------------------------------------------------------------------
@dataclass
class ModelResult:
    name: str
    table: pd.DataFrame  # term, label, estimate (log scale), se, ratio, lower, upper, p
    n: int
    events: int
    notes: list[str] = field(default_factory=list)
    diagnostics: pd.DataFrame | None = None


def usable_terms(c: pd.DataFrame) -> tuple[list[str], list[str]]:
    """Model terms that can be estimated, and notes on those dropped.

    A term is dropped when it does not vary, or when it is a combination of the terms before it
    (for example "distance not known" when only unaccompanied children lack a distance).
    """
    kept, notes = [], []
    for t in TERMS:
        col = c[t].to_numpy(float)
        if np.nanstd(col) == 0:
            notes.append(f"{TERM_LABELS[t].lower()}: the same for every placement, so not estimated")
            continue
        X = np.column_stack([np.ones(len(c)), c[kept].to_numpy(float), col]) if kept else np.column_stack([np.ones(len(c)), col])
        if np.linalg.matrix_rank(X) < X.shape[1]:
            notes.append(f"{TERM_LABELS[t].lower()}: determined by the other terms, so not estimated separately")
            continue
        kept.append(t)
    return kept, notes


def enough_events(events: int, n_terms: int) -> bool:
    return events >= EVENTS_PER_TERM * n_terms


def _coef_table(names: list[str], params: np.ndarray, se: np.ndarray) -> pd.DataFrame:
    z = params / se
    return pd.DataFrame(
        {
            "term": names,
            "label": [TERM_LABELS.get(n, n) for n in names],
            "estimate": params,
            "se": se,
            "ratio": np.exp(params),
            "lower": np.exp(params - Z95 * se),
            "upper": np.exp(params + Z95 * se),
            "p": two_sided_p(z),
        }
    )


def fit_cox(c: pd.DataFrame, terms: list[str] | None = None) -> ModelResult:
    """Cox proportional-hazards model (Breslow ties), standard errors robust to clustering by child.

    The clustered sandwich is ours (:func:`clustered_covariance`), equal to statsmodels'
    ``PHReg.fit(groups=...)`` where that is defined; statsmodels 0.15 returns NaN when a placement is
    censored before the first event time, which 903 data often has (both tested in test_breakdown.py).

    ``diagnostics``: a proportional-hazards check for each term, the correlation of its Schoenfeld
    residuals with the rank of the event time (an approximation to Grambsch and Therneau's test).
    """
    from scipy.special import chdtrc
    from statsmodels.duration.hazard_regression import PHReg

    notes: list[str] = []
    if terms is None:
        terms, notes = usable_terms(c)
    X = c[terms].to_numpy(float)
    time, event = c["time"].to_numpy(float), c["event"].to_numpy(bool)
    model = PHReg(time, X, status=event.astype(int), ties="breslow")
    fit = model.fit()
    params = np.asarray(fit.params)
    cov = clustered_covariance(np.asarray(fit.cov_params()), cox_score_residuals(time, event, X, params), c["child"].to_numpy())
    table = _coef_table(terms, params, np.sqrt(np.diag(cov)))
    res = np.asarray(fit.schoenfeld_residuals)
    ev = c["event"].to_numpy(bool)
    rank = pd.Series(c["time"].to_numpy()[ev]).rank().to_numpy()
    rows = []
    for j, term in enumerate(terms):
        x = res[ev, j]
        ok = np.isfinite(x)
        rho = float(np.corrcoef(x[ok], rank[ok])[0, 1]) if ok.sum() > 2 and np.std(x[ok]) > 0 else float("nan")
        chi = ok.sum() * rho**2 if np.isfinite(rho) else float("nan")
        rows.append(
            {
                "term": term,
                "label": TERM_LABELS.get(term, term),
                "rho": round(rho, 3),
                "chi2": round(chi, 2),
                "p": float(chdtrc(1, chi)) if np.isfinite(chi) else float("nan"),
            }
        )
    return ModelResult("Cox proportional hazards", table, len(c), int(ev.sum()), notes, diagnostics=pd.DataFrame(rows))


def person_periods(c: pd.DataFrame, interval_months: int = 3, max_intervals: int = 8) -> pd.DataFrame:
    """One row per placement per interval at risk: ``interval`` (0, 1, ... capped), ``y`` (ended unplanned in it)."""
    width = interval_months * DAYS_PER_MONTH
    k = np.ceil(c["time"].to_numpy(float) / width).astype(int).clip(min=1)
    idx = np.repeat(np.arange(len(c)), k)
    within = np.arange(k.sum()) - np.repeat(np.cumsum(k) - k, k)
    last = within == np.repeat(k - 1, k)
    keep = ["child", *[t for t in TERMS if t in c.columns]]
    out = c[keep].iloc[idx].reset_index(drop=True)
    out["interval"] = np.minimum(within, max_intervals - 1)
    out["y"] = (last & np.repeat(c["event"].to_numpy(bool), k)).astype(float)
    return out


def fit_discrete_time(c: pd.DataFrame, terms: list[str] | None = None, interval_months: int = 3) -> ModelResult:
    """Discrete-time logistic model on placement-quarters, standard errors clustered by child.

    The odds ratios are per interval; with a small risk in each interval they approximate hazard ratios.
    """
    import statsmodels.api as sm

    if terms is None:
        terms, _ = usable_terms(c)
    pp = person_periods(c, interval_months)
    dummies = pd.get_dummies(pp["interval"], prefix="interval", dtype=float)
    X = pd.concat([dummies, pp[terms]], axis=1)  # one dummy per interval, no separate constant
    fit = sm.GLM(pp["y"].to_numpy(), X.to_numpy(float), family=sm.families.Binomial()).fit(
        cov_type="cluster", cov_kwds={"groups": pd.factorize(pp["child"])[0]}
    )
    k = dummies.shape[1]
    table = _coef_table(terms, np.asarray(fit.params)[k:], np.asarray(fit.bse)[k:])
    return ModelResult(
        f"Discrete-time logistic ({interval_months}-month intervals)",
        table,
        len(c),
        int(c["event"].sum()),
        notes=[f"{len(pp):,} placement-intervals"],
    )


# --- truth (synthetic data) -----------------------------------------------------------------------
def planted_truth(cox: ModelResult, truth: dict) -> pd.DataFrame:
    """Each planted log hazard ratio beside the Cox estimate: its 95% interval and width, the power to
    detect it, and whether it was recovered (:mod:`analysis.stats.planted`)."""
    effects = truth.get("breakdown_model", {}).get("effects", {})
    t = cox.table.set_index("term")
    rows = []
    for name, value in effects.items():
        if name in t.index:
            a = planted.assess(value, float(t.at[name, "estimate"]), float(t.at[name, "se"]))
        else:
            a = planted.assess(value, float("nan"), float("nan"), dropped_because=_dropped_reason(cox, name))
        rows.append({"effect": name, "label": TERM_LABELS.get(name, name), "planted": value, **a})
    return pd.DataFrame(rows)


def _dropped_reason(cox: ModelResult, term: str) -> str:
    why = [n for n in cox.notes if TERM_LABELS.get(term, term).lower() in n.lower() or term in n]
    return why[0] if why else "the term was dropped from the model"


def truth_metrics(table: pd.DataFrame) -> dict:
    """The ``planted_truth`` section of metrics.json (log hazard ratios)."""
    return {
        row.effect: {
            "planted": row.planted,
            "estimate": row.estimate,
            "lower_95": row.lower,
            "upper_95": row.upper,
            "interval_width": row.interval_width,
            "power": row.power,
            "inside_95": bool(row.inside_95),
            "recovered": bool(row.recovered),
            "assessment": row.assessment,
            "scale": "log hazard ratio",
        }
        for row in table.itertuples()
    }


#: how the rates table is gated (rates, intervals and placement-years of a suppressed group go with it)
RATES_DISCLOSURE = {"counts": ["placements", "unplanned"], "groups": "grouping"}
