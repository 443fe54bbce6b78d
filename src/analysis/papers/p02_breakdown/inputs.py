"""Paper 02's inputs: the parameters checked (Settings, setup), the 903 tables it reads (Data), and the
cohort of placements started in the window with their features and outcome."""

from __future__ import annotations

from dataclasses import dataclass, field
from difflib import get_close_matches

import numpy as np
import pandas as pd

from analysis.config import Paths, paths
from analysis.errors import AnalysisError, ParameterError
from analysis.io import placements as placements_mod
from analysis.io import ssda903_rules as r

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


RESAMPLES_RANGE = (50, 5000)


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
