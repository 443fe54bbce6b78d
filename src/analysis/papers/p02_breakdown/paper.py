"""Paper 02: the risk that a placement ends unplanned ("breaks down"), and what goes with it.

Data flow: ``data/processed/ssda903/`` (placements, periods, children, OC2) -> :func:`cohort` (one
row per placement at risk, with its follow-up time, outcome and covariates, and a reconciled table
of exclusions) -> descriptives (:func:`rates`, :func:`km_curves`, :func:`cumulative_incidence`)
-> models (:func:`fit_cox`, :func:`fit_discrete_time`, :func:`fit_classifiers`) -> the comparison
with the planted truth when the data is synthetic (:func:`planted_truth`).

Definitions (``shared/reference/ssda903.md`` section 6):

* **Outcome**: a placement that ends in a move to another placement within the same period of
  care, with a reason for placement change in the chosen definition (narrow, standard or broad).
* **Follow-up** runs from the placement's start to the earliest of: its end, the end of the data
  (31 March of the last year analysed) and the child's 18th birthday (estimated from the birth
  month: mid-month). Any other ending (a planned move, a move for an unknown reason, leaving
  care) censors the placement: it is a competing event, so the hazard ratios are cause-specific.
* **In scope**: placements starting within the years analysed, in periods of care that began on or
  after the first day of the data (so every earlier move in the period is visible). Temporary
  placements (T0-T4) are not placements: they are folded into the placement around them at
  ingest. Excluded, and counted: placements for adoption (A3-A6; disruption before an adoption
  order is a different process), periods made up only of agreed short breaks (V3, V4), and
  placements with no age at start.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from difflib import get_close_matches

import numpy as np
import pandas as pd

from analysis.config import Paths, paths
from analysis.errors import AnalysisError, ParameterError
from analysis.io import placements as placements_mod
from analysis.io import ssda903_rules as r
from analysis.report.disclosure import MIN_COUNT, SUPPRESSED, Gated, count_text, gate
from analysis.report.labels import TERM_LABELS
from analysis.stats import planted
from analysis.stats.classify import rank_auc, scores
from analysis.stats.normal import Z95, two_sided_p
from analysis.stats.rates import poisson_interval
from analysis.stats.survival import clustered_covariance, cox_score_residuals, cumulative_incidence, km_curve

DEFINITIONS = tuple(r.UNPLANNED)
DAYS_PER_MONTH = 365.25 / 12
#: the planted-effect names (synthetic truth file) and the model terms that estimate them
TERMS = [
    "age_10_15",
    "age_16_plus",
    "kinship",
    "childrens_home",
    "supported",
    "other_type",
    "private_provider",
    "over_20_miles",
    "outside_la",
    "uasc",
    "distance_unknown",
    "previous_moves",
    "sdq_per_5_points",
    "sdq_missing",
    "male",
]
SDQ_CENTRE = 14  # about the average SDQ total difficulties score of children looked after in England
MODEL_TYPE = {"foster": "foster", "kinship foster": "kinship", "children's home": "childrens_home", "independent or supported": "supported"}
ETHNIC_GROUP = {"W": "White", "M": "Mixed", "A": "Asian", "B": "Black", "C": "Other", "O": "Other"}
FEATURES = ["age_at_start", "place_group", "provider_group", "pl_distance", "outside_la", "previous_moves", "sdq", "male", "uasc"]
CATEGORICAL = ["place_group", "provider_group"]
#: the fewest outcome events per model term before a regression is fitted (a common rule of thumb)
EVENTS_PER_TERM = 10
MIN_CLASSIFIER_EVENTS = (100, 30)  # in training, in the test years


# --- loading and settings -----------------------------------------------------------------------
@dataclass
class Data:
    """The processed 903 tables the paper reads, the ingest report, and the truth file if synthetic."""

    placements: pd.DataFrame
    periods: pd.DataFrame
    children: pd.DataFrame
    oc2: pd.DataFrame
    report: dict
    truth: dict | None

    @classmethod
    def load(cls, p: Paths | None = None) -> Data:
        from analysis.io.ingest903 import NO_903, read_processed

        d = read_processed(p or paths(), ("placements", "periods", "children", "oc2"))
        if d is None:
            raise AnalysisError(NO_903)
        t = d.tables
        return cls(t["placements"], t["periods"], t["children"], t["oc2"], d.report, d.truth)

    @property
    def synthetic(self) -> bool:
        return self.truth is not None


@dataclass
class Settings:
    la_code: str
    la_name: str
    first_year: int
    last_year: int
    definition: str
    horizons: list[int]
    model_horizon: int
    test_years: int
    notes: list[str] = field(default_factory=list)
    resamples: int = 200  # bootstrap resamples of the test years for the subgroup checks

    @property
    def data_start(self) -> pd.Timestamp:
        return pd.Timestamp(self.first_year - 1, 4, 1)

    @property
    def data_end(self) -> pd.Timestamp:
        return pd.Timestamp(self.last_year, 3, 31)

    @property
    def reasons(self) -> frozenset[str]:
        return r.UNPLANNED[self.definition]


def setup(
    data: Data,
    *,
    la_code: str,
    first_year: int,
    last_year: int,
    definition: str,
    horizons: list,
    model_horizon: int,
    test_years: int,
    resamples: int = 200,
    p: Paths | None = None,
) -> Settings:
    """Check the parameters against the data; a clear message for each problem."""
    from analysis.papers.params import resolve_la_param

    la = resolve_la_param(la_code, p)
    data_la = data.report.get("la_code")
    if la["la_code"] != data_la:
        raise ParameterError(
            f"the 903 data in this project is for {data_la}, not {la['la_name']} ({la['la_code']}): "
            "put that LA's 903 files in data/raw/ssda903/ (with a one-line LA_CODE file) and run `analysis ingest`"
        )
    if definition not in DEFINITIONS:
        close = get_close_matches(str(definition), DEFINITIONS, n=2, cutoff=0.3)
        raise ParameterError(
            f"parameter 'definition' should be one of {', '.join(DEFINITIONS)}, got {definition!r}"
            + (f"; did you mean {' or '.join(close)}?" if close else "")
        )
    years = [int(y) for y in data.report.get("collection_years", [])]
    lo, hi = min(years), max(years)
    first = first_year or lo
    last = last_year or hi
    if not (lo <= first <= last <= hi):
        raise ParameterError(
            f"years {first} to {last} are outside the 903 data, which covers collection years {lo} to {hi} "
            "(a year is named by the 31 March it ends; 0 means the first or last available)"
        )
    if not horizons or not all(isinstance(h, int) and not isinstance(h, bool) and 1 <= h <= 36 for h in horizons):
        raise ParameterError(f"parameter 'horizons' should be a list of whole months from 1 to 36, got {horizons!r}")
    if not 1 <= model_horizon <= 36:
        raise ParameterError(f"parameter 'model_horizon' should be whole months from 1 to 36, got {model_horizon!r}")
    if not 1 <= test_years <= max(1, last - first):
        raise ParameterError(f"parameter 'test_years' should be from 1 to {max(1, last - first)} for years {first} to {last}, got {test_years}")
    if not RESAMPLES_RANGE[0] <= resamples <= RESAMPLES_RANGE[1]:
        raise ParameterError(
            f"parameter 'resamples' should be from {RESAMPLES_RANGE[0]} to {RESAMPLES_RANGE[1]} bootstrap resamples, got {resamples!r}"
        )
    notes = []
    if last - first + 1 < 4:
        notes.append(f"only {last - first + 1} year(s) of data: the models need a long history and may be skipped")
    return Settings(la["la_code"], la["la_name"], first, last, definition, sorted(set(horizons)), model_horizon, test_years, notes, resamples)


# --- the analysis set ---------------------------------------------------------------------------
def age_band(age: pd.Series) -> pd.Series:
    """Age at the start of the placement in four bands ("not known" where missing)."""
    bands = pd.cut(age.astype(float), [0, 5, 10, 16, 99], right=False, labels=["under 5", "5 to 9", "10 to 15", "16 and over"])
    return bands.astype(object).where(bands.notna(), "not known")


def distance_band(miles: pd.Series) -> pd.Series:
    """Straight-line miles from home in four bands ("not known" where missing)."""
    bands = pd.cut(miles.astype(float), [-np.inf, 5, 10, 20, np.inf], labels=["up to 5 miles", "5 to 10 miles", "10 to 20 miles", "over 20 miles"])
    return bands.astype(object).where(bands.notna(), "not known")


def cohort(data: Data, s: Settings) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row per placement in scope, and the reconciliation of placements in and set aside.

    Columns: child, start, time (days of follow-up), event (ended unplanned), censor (why follow-up
    stopped), the descriptive groups, and the model terms in :data:`TERMS`.
    """
    p = data.placements.copy()
    periods = data.periods.set_index(["child", "period"])
    key = pd.MultiIndex.from_frame(p[["child", "period"]])
    p["period_start"] = periods["start"].reindex(key).to_numpy()
    p["short_breaks"] = periods["short_breaks_only"].reindex(key).fillna(False).astype(bool).to_numpy()
    kids = data.children.set_index("child")
    born = placements_mod.estimated_birth_date(pd.Series(kids["birth_month"].reindex(p["child"]).to_numpy(), index=p.index))
    eighteen = born + pd.DateOffset(years=18)
    steps = [
        ("started outside the years analysed", (p["start"] < s.data_start) | (p["start"] > s.data_end)),
        ("period of care began before the data (earlier moves not visible)", p["period_start"] < s.data_start),
        ("placed for adoption (A3-A6)", p["place_group"] == "adoption"),
        ("agreed short breaks only (V3, V4)", p["short_breaks"]),
        ("no age at start (no date of birth)", p["age_at_start"].isna() | born.isna()),
        ("started at 18 or over", eighteen <= p["start"]),
    ]
    rows, keep = [{"step": "placements in the 903 data", "placements": len(p)}], pd.Series(True, index=p.index)
    for reason, mask in steps:
        drop = keep & mask.fillna(False).astype(bool)
        rows.append({"step": f"set aside: {reason}", "placements": -int(drop.sum())})
        keep &= ~drop
    rows.append({"step": "placements analysed", "placements": int(keep.sum())})
    flow = pd.DataFrame(rows)
    p, eighteen = p[keep].copy(), eighteen[keep]
    ended = p["end"].notna() & (p["end"] <= s.data_end)
    stop = p["end"].where(ended, s.data_end)
    at_18 = eighteen.notna() & (eighteen < stop)
    stop = stop.where(~at_18, eighteen)
    event = ended & ~at_18 & (p["ending"] == "moved") & p["reason_place_change"].isin(s.reasons)
    censor = np.select([event, at_18, ~ended, p["ending"] == "moved"], ["", "18th birthday", "end of data", "other move"], default="left care")
    p["event"] = event
    p["censor"] = censor
    p["time"] = ((stop - p["start"]).dt.days).clip(lower=1).astype(float)
    p["ethnic_group"] = kids["ethnic"].reindex(p["child"]).fillna("").str[0].map(ETHNIC_GROUP).fillna("Not known").to_numpy()
    p["sex"] = kids["sex"].reindex(p["child"]).map({"M": "Boy", "F": "Girl"}).fillna("Not known").to_numpy()
    p["uasc"] = kids["uasc"].reindex(p["child"]).fillna(False).astype(bool).to_numpy()
    p["male"] = (p["sex"] == "Boy").astype(float)
    p["sdq"] = placements_mod.sdq_before_start(p, data.oc2)
    p["age_band"] = age_band(p["age_at_start"])
    p["distance_band"] = distance_band(p["pl_distance"])
    p["location"] = p["pl_location"].map({"IN": "inside the LA", "OUT": "outside the LA"}).fillna("not known")
    p["previous_moves"] = (p["placement_in_period"] - 1).astype(int)
    p["previous_band"] = p["previous_moves"].clip(upper=3).map({0: "none", 1: "1", 2: "2", 3: "3 or more"})
    p["kinship_group"] = np.where(p["kinship"], "kinship", "not kinship")
    p["uasc_group"] = np.where(p["uasc"], "UASC", "not UASC")
    p["outside_la"] = (p["pl_location"] == "OUT").astype(float)
    age = p["age_at_start"].astype(float)
    t = p["place_group"].map(MODEL_TYPE).fillna("other_type")
    terms = pd.DataFrame(
        {
            "age_10_15": ((age >= 10) & (age < 16)).astype(float),
            "age_16_plus": (age >= 16).astype(float),
            "kinship": (t == "kinship").astype(float),
            "childrens_home": (t == "childrens_home").astype(float),
            "supported": (t == "supported").astype(float),
            "other_type": (t == "other_type").astype(float),
            "private_provider": p["provider_group"].isin(["private", "voluntary"]).astype(float),
            "over_20_miles": (p["pl_distance"] > 20).astype(float),
            "outside_la": p["outside_la"],
            "distance_unknown": p["pl_distance"].isna().astype(float),
            "previous_moves": p["previous_moves"].clip(upper=5).astype(float),
            "sdq_per_5_points": ((p["sdq"] - SDQ_CENTRE) / 5).fillna(0.0),
            "sdq_missing": p["sdq"].isna().astype(float),
            "male": p["male"],
            "uasc": p["uasc"].astype(float),
        },
        index=p.index,
    )
    p = pd.concat([p.drop(columns=[c for c in TERMS if c in p.columns]), terms], axis=1)
    return p.sort_values(["child", "start"]).reset_index(drop=True), flow


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
RESAMPLES_RANGE = (50, 5000)
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


FEATURE_LABELS = {
    "age_at_start": "Age at start",
    "place_group": "Placement type",
    "provider_group": "Provider",
    "pl_distance": "Distance from home",
    "outside_la": "Outside the LA",
    "previous_moves": "Earlier placements in the period",
    "sdq": "SDQ score",
    "male": "Sex",
    "uasc": "UASC",
}


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


# --- words --------------------------------------------------------------------------------------
def _ratio_words(row) -> str:
    change = (row.ratio - 1) * 100
    direction = "higher" if change > 0 else "lower"
    return f"{row.label.lower()}: a {abs(change):.0f}% {direction} hazard (95% interval {row.lower:.2f} to {row.upper:.2f})"


def findings_markdown(
    c: pd.DataFrame, s: Settings, rates_t: pd.DataFrame, cox: ModelResult | None, clf: ClassifierResult | str | None, truth: pd.DataFrame | None
) -> str:
    g = gate(rates_t, **RATES_DISCLOSURE)  # the words say only what the published table shows
    overall = g.frame.iloc[0]
    rate = (
        f"**{overall.rate_per_100_years:.1f} per 100 placement-years** (95% interval {overall.lower_95:.1f} to {overall.upper_95:.1f})"
        if not isinstance(overall.rate_per_100_years, str)
        else "too few to give a rate that can be published"
    )
    lines = [
        f"- **{count_text(overall.unplanned)} of {count_text(overall.placements)} placements** that started between April {s.first_year - 1} "
        f"and March {s.last_year} ended unplanned ({s.definition} definition): {rate}."
    ]
    shown = rates_t.assign(rate_per_100_years=g.numbers("rate_per_100_years").to_numpy())
    by_type = shown[(shown["grouping"] == "Placement type") & (shown["placements"] >= 50) & shown["rate_per_100_years"].notna()]
    if len(by_type) >= 2:
        hi, lo = by_type.sort_values("rate_per_100_years").iloc[-1], by_type.sort_values("rate_per_100_years").iloc[0]
        lines.append(
            f"- The rate is highest for **{hi.group}** placements ({hi.rate_per_100_years:.1f} per 100 placement-years) and "
            f"lowest for **{lo.group}** ({lo.rate_per_100_years:.1f})."
        )
    if isinstance(cox, ModelResult):
        sig = cox.table[cox.table["p"] < 0.05].copy()
        sig["size"] = np.abs(sig["estimate"])
        up = sig[sig["estimate"] > 0].sort_values("size", ascending=False).head(3)
        down = sig[sig["estimate"] < 0].sort_values("size", ascending=False).head(2)
        if len(up):
            lines.append(
                "- Taking the other factors into account, the clearest risks are " + "; ".join(_ratio_words(r_) for r_ in up.itertuples()) + "."
            )
        if len(down):
            lines.append("- Lower risk: " + "; ".join(_ratio_words(r_) for r_ in down.itertuples()) + ".")
    else:
        lines.append(f"- The regression models were not fitted: {cox}")
    if isinstance(clf, ClassifierResult):
        m = clf.metrics.set_index("key")
        best = m.drop(index="baseline")["auc"].idxmax()
        b, g = m.loc[best], m.loc["baseline"]
        quality = "only moderately possible" if b.auc < 0.75 else "possible to a useful degree"
        lines.append(
            f"- Predicting which placements end unplanned within {s.model_horizon} months is {quality}: the better model "
            f"({b.model.lower()}) has an AUC of {b.auc:.2f} in the test years, against {g.auc:.2f} for a baseline that uses only "
            f"the number of earlier placements. "
            + (
                f"Of the 10% of placements it rates riskiest, {100 * b.top_decile_precision:.0f}% ended unplanned; they hold "
                f"{100 * b.top_decile_recall:.0f}% of all unplanned endings. "
                if b.top_decile_events >= MIN_COUNT
                else "Fewer than 5 of the 10% of placements it rates riskiest ended unplanned in the test years. "
            )
            + "That can guide support for groups of placements, not decisions about a child."
        )
        slope, intercept = b.calibration_slope, b.calibration_intercept
        if is_calibrated(slope, intercept):
            lines.append(f"- Its probabilities are calibrated in the test years (slope {slope:.2f}, intercept {intercept:+.2f}; {CALIBRATION_RULE}).")
        elif np.isfinite(slope):
            how = (
                "too cautious: real risks differ more than predicted"
                if slope > CALIBRATED_SLOPE[1]
                else "too extreme: real risks differ less than predicted"
                if slope < CALIBRATED_SLOPE[0]
                else "off on average: overall risk is " + ("under" if intercept > 0 else "over") + "-predicted"
            )
            lines.append(
                f"- Its probabilities are not calibrated in the test years: {how} (calibration slope {slope:.2f}, intercept "
                f"{intercept:+.2f}; {CALIBRATION_RULE}), so read them as a ranking rather than as exact chances."
            )
        worse = clf.subgroups[
            ~clf.subgroups["assessment"].isin(["no significant difference", "too few to judge", "a significant but small difference, not flagged"])
        ]
        tests = clf.subgroups.attrs.get("tests", 0)
        if len(worse):
            lines.append(
                "- The model works differently for: "
                + "; ".join(f"{w.group} ({w.assessment})" for w in worse.itertuples())
                + f" (significant after Holm's correction for {tests} tests, and large enough to matter)."
            )
        elif tests:
            lines.append(
                f"- No group of children differs materially from the rest in how well the model ranks or predicts risk "
                f"({tests} tests, Holm's correction, family-wise 5%)."
            )
    elif clf:
        lines.append(f"- The prediction models were not fitted: {clf}")
    if truth is not None and len(truth):
        lines.append(f"- *Synthetic data check:* {planted.summary(truth['assessment'].tolist())}.")
    return "\n".join(lines)


# --- the whole paper's numbers ------------------------------------------------------------------
KM_GROUPINGS = {
    "place_group": "By placement type",
    "age_band": "By age at start",
    "location": "Inside or outside the LA",
    "previous_band": "By earlier placements in the period",
}


@dataclass
class Results:
    cohort: pd.DataFrame
    flow: pd.DataFrame
    rates: pd.DataFrame
    horizons: pd.DataFrame
    curves: dict[str, pd.DataFrame]
    cox: ModelResult | str
    discrete: ModelResult | str
    classifier: ClassifierResult | str
    truth: pd.DataFrame | None

    @property
    def modelled(self) -> bool:
        return isinstance(self.cox, ModelResult)


def analyse(data: Data, s: Settings) -> Results:
    """Every number the paper shows. Models are skipped, with the reason, when events are too few."""
    c, flow = cohort(data, s)
    if c.empty:
        raise AnalysisError(f"no placements in scope for {s.la_name} in {s.first_year} to {s.last_year}: see the scope table")
    rates_t = rates_table(c)
    horizons = horizon_table(c, s.horizons)
    curves = {label: km_curves(c, col) for col, label in KM_GROUPINGS.items()}
    terms, _ = usable_terms(c)
    events = int(c["event"].sum())
    if enough_events(events, len(terms)):
        cox: ModelResult | str = fit_cox(c)
        discrete: ModelResult | str = fit_discrete_time(c)
        clf = fit_classifiers(c, s)
    else:
        cox = discrete = clf = (
            f"{count_text(events)} unplanned endings are too few for {len(terms)} model terms (at least "
            f"{EVENTS_PER_TERM} per term, {EVENTS_PER_TERM * len(terms)} in all, are needed for stable estimates). "
            "The descriptive tables above still hold; use more years, the broad definition, or pool LAs."
        )
    truth = planted_truth(cox, data.truth) if data.truth is not None and isinstance(cox, ModelResult) else None
    return Results(c, flow, rates_t, horizons, curves, cox, discrete, clf, truth)


def scope_table(flow: pd.DataFrame) -> pd.DataFrame:
    """The reconciliation as published: each step's count of placements (set-aside steps as positive counts)."""
    return pd.DataFrame({"step": flow["step"], "placements": flow["placements"].abs().astype(int)})


def model_comparison(cox: ModelResult, discrete: ModelResult) -> pd.DataFrame:
    """Cox hazard ratios beside the discrete-time odds ratios, term by term."""
    a = cox.table.set_index("term")
    b = discrete.table.set_index("term")
    return pd.DataFrame(
        {
            "term": a["label"],
            "cox_hazard_ratio": a["ratio"].round(2),
            "cox_95": [f"{lo:.2f} to {hi:.2f}" for lo, hi in zip(a["lower"], a["upper"])],
            "discrete_odds_ratio": b["ratio"].reindex(a.index).round(2),
            "discrete_95": [f"{lo:.2f} to {hi:.2f}" for lo, hi in zip(b["lower"].reindex(a.index), b["upper"].reindex(a.index))],
        }
    ).reset_index(drop=True)


def hazard_table(cox: ModelResult) -> pd.DataFrame:
    t = cox.table
    return pd.DataFrame(
        {
            "term": t["label"],
            "hazard_ratio": t["ratio"].round(2),
            "lower_95": t["lower"].round(2),
            "upper_95": t["upper"].round(2),
            "p_value": t["p"].round(4),
        }
    )


#: the proportional-hazards check flags a term at this p-value (stated wherever the check is summarised)
PH_ALPHA = 0.01


def ph_table(cox: ModelResult) -> pd.DataFrame:
    d = cox.diagnostics.copy()
    d["verdict"] = np.where(
        d["p"] < PH_ALPHA,
        f"hazard ratio may change over time (p < {PH_ALPHA})",
        np.where(d["p"] < 0.05, f"weak sign of change over time (p < 0.05, not below {PH_ALPHA})", "no sign of change over time (p >= 0.05)"),
    )
    return d[["label", "rho", "chi2", "p", "verdict"]].rename(columns={"label": "term", "p": "p_value"}).round({"p_value": 4})


def metrics_table(clf: ClassifierResult) -> pd.DataFrame:
    m = clf.metrics
    return pd.DataFrame(
        {
            "model": m["model"],
            "placements": m["n"],
            "unplanned": m["events"],
            "auc": m["auc"].round(3),
            "brier": m["brier"].round(3),
            "calibration_slope": m["calibration_slope"].round(2),
            "calibration_intercept": m["calibration_intercept"].round(2),
            "calibrated": [is_calibrated(a, b_) for a, b_ in zip(m["calibration_slope"], m["calibration_intercept"])],
            "unplanned_in_top_10pct": m["top_decile_events"].astype(int),
            "top_10pct_precision_pct": (100 * m["top_decile_precision"]).round(1),
            "top_10pct_recall_pct": (100 * m["top_decile_recall"]).round(1),
        }
    )


#: how the prediction table is gated: precision and recall in the top 10% reveal how many of those placements ended unplanned
PREDICTION_DISCLOSURE = {
    "counts": ["placements", "unplanned", "unplanned_in_top_10pct"],
    "linked": {"unplanned_in_top_10pct": ["top_10pct_precision_pct", "top_10pct_recall_pct"]},
}


def truth_table(truth: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "effect": truth["label"],
            "planted_hazard_ratio": np.exp(truth["planted"]).round(2),
            "estimated_hazard_ratio": np.exp(truth["estimate"]).round(2),
            "lower_95": np.exp(truth["lower"]).round(2),
            "upper_95": np.exp(truth["upper"]).round(2),
            "interval_ratio": np.exp(truth["interval_width"]).round(2),
            "power_pct": (100 * truth["power"]).round(0),
            "assessment": truth["assessment"],
        }
    )


def record_metrics(report, res: Results, s: Settings) -> None:
    """Headline numbers for metrics.json (rates, horizons, hazard ratios, model scores, planted truth)."""
    # every figure from the gated tables, as published: a suppressed count's rate stays suppressed here too
    rates = gate(res.rates, **RATES_DISCLOSURE)
    overall = rates.frame.iloc[0]
    report.metric("placements_analysed", overall["placements"], kind="count")
    report.metric("unplanned_endings", overall["unplanned"], kind="count")
    report.metric(
        "rate_per_100_placement_years",
        overall["rate_per_100_years"],
        lower_95=overall["lower_95"],
        upper_95=overall["upper_95"],
        definition=s.definition,
    )
    by_type = rates.subset(rates.frame["grouping"] == "Placement type")
    report.metric(
        "rate_by_placement_type", {g: float(v) for g, v in zip(by_type.frame["group"], by_type.numbers("rate_per_100_years")) if pd.notna(v)}
    )
    if len(res.horizons):
        first = gate(res.horizons, **horizon_disclosure(s.horizons)).frame.iloc[0]
        for h in s.horizons:
            report.metric(
                f"ended_unplanned_within_{h}_months_pct",
                first[f"cif_{h}m_pct"],
                one_minus_km_pct=first[f"km_{h}m_pct"],
                method="Aalen-Johansen, other endings competing",
            )
    if isinstance(res.cox, ModelResult):
        report.metric(
            "hazard_ratios",
            {
                row.term: {
                    # rounded once, as paper 02's own tables print them (two places), so the pack quotes the same figure
                    "hazard_ratio": round(float(row.ratio), 2),
                    "lower_95": round(float(row.lower), 2),
                    "upper_95": round(float(row.upper), 2),
                    "p": float(row.p),
                }
                for row in res.cox.table.itertuples()
            },
        )
    else:
        report.metric("models_skipped", res.cox)
    if isinstance(res.classifier, ClassifierResult):
        for row in res.classifier.metrics.itertuples():
            report.metric(
                f"classifier_{row.key}",
                {
                    "auc": round(row.auc, 4),
                    "brier": round(row.brier, 4),
                    "calibration_slope": round(row.calibration_slope, 3),
                    "calibration_intercept": round(row.calibration_intercept, 3),
                    "calibrated": is_calibrated(row.calibration_slope, row.calibration_intercept),
                    # as in the published table: suppressed when fewer than 5 of the top 10% ended unplanned
                    "top_decile_precision": round(row.top_decile_precision, 4) if row.top_decile_events >= MIN_COUNT else SUPPRESSED,
                    "top_decile_recall": round(row.top_decile_recall, 4) if row.top_decile_events >= MIN_COUNT else SUPPRESSED,
                    "horizon_months": s.model_horizon,
                },
            )
    elif isinstance(res.cox, ModelResult):
        report.metric("classifier_skipped", res.classifier)
    if res.truth is not None:
        report.section("planted_truth", truth_metrics(res.truth))


def report_context(data: Data, s: Settings) -> dict:
    return {
        "la_code": s.la_code,
        "la_name": s.la_name,
        "years": f"{s.first_year}-{s.last_year}",
        "breakdown_definition": f"{s.definition}: reasons {', '.join(sorted(s.reasons))}",
        "horizons_months": ", ".join(map(str, s.horizons)),
        "data": "synthetic 903 (generated; not real children)" if data.synthetic else "the LA's own 903 returns",
        "data_vintage": {"903 collection years": f"{min(data.report['collection_years'])}-{max(data.report['collection_years'])}"},
    }


#: how the rates table is gated (rates, intervals and placement-years of a suppressed group go with it)
RATES_DISCLOSURE = {"counts": ["placements", "unplanned"], "groups": "grouping"}


def horizon_disclosure(horizons: list[int]) -> dict:
    """How the horizon table is gated: each horizon's shares go with the unplanned endings seen by then;
    the groups add up to the "All placements" row."""
    return {
        "counts": ["placements", *[f"unplanned_by_{h}m" for h in horizons]],
        "total_row": "All placements",
        "label_column": "group",
        "linked": {f"unplanned_by_{h}m": [f"km_{h}m_pct", f"cif_{h}m_pct"] for h in horizons},
    }


def rate_chart_rows(rates: Gated, min_placements: int = 20) -> Gated:
    """The rows of the gated rates table charted: all placements, placement types and age bands with enough
    placements (a suppressed group stays in, so the chart can say it is not shown)."""
    f = rates.frame
    n = pd.to_numeric(f["placements"], errors="coerce")
    keep = f["grouping"].isin(["All", "Placement type", "Age at start"]) & ((n >= min_placements) | rates.is_suppressed("rate_per_100_years"))
    rows = rates.subset(keep)
    label = np.where(rows.frame["grouping"] == "All", rows.frame["group"], rows.frame["grouping"] + ": " + rows.frame["group"].astype(str))
    return rows.with_labels(label=label)


def hazard_chart_data(res: Results) -> Gated:
    """The Cox hazard ratios for the forest plot (model estimates, not counts), with the planted values on synthetic data."""
    t = res.cox.table[["term", "label", "ratio", "lower", "upper"]].copy()
    marks = planted_marks(res)
    if marks is not None:
        t["planted"] = marks
    return gate(t, counts=[], independent=["planted"] if marks is not None else [])


def curve_chart_data(curves: pd.DataFrame, min_at_risk: int = MIN_AT_RISK) -> Gated:
    """Kaplan-Meier steps for a chart: each curve stops once fewer than ``min_at_risk`` placements are
    followed (so no step shows the ending of one of a handful of placements), and the event and at-risk
    counts are not carried into the chart."""
    keep = curves["at_risk"] >= min_at_risk
    return gate(curves.loc[keep, ["group", "days", "surv", "lower", "upper"]].reset_index(drop=True), counts=[])


def planted_marks(res: Results) -> list[float] | None:
    """The planted hazard ratio for each Cox term (NaN where nothing was planted), or None on real data."""
    if res.truth is None or not isinstance(res.cox, ModelResult):
        return None
    planted = res.truth.set_index("effect")["planted"]
    return [float(np.exp(planted[t])) if t in planted.index else float("nan") for t in res.cox.table["term"]]
