"""From 903 episodes to placements and periods of care, unplanned endings and the DfE measures.

Conventions (``shared/reference/ssda903.md`` sections 5-7):

* A **period of care** runs from an episode with ``RNE = S`` to the first episode whose ``REC``
  is not ``X1`` (a new period also starts after any episode that ended care).
* A **placement** is a run of episodes with the same carer: a new one starts at ``RNE`` S, P or B
  (a carer change); L, T and U (legal status or placement type changed, same carer) continue it.
* **Temporary placements** (T0-T4) are interruptions, not placements: they are folded into the
  placement around them, and a return to the same setting (same PLACE and placement postcode or
  URN) after one continues that placement.
* A placement **ends in a move** when the child's next placement starts within the same period;
  it **ends care** when its last episode's REC is not X1; otherwise it is **open**.
* **Unplanned ending** of a move, by the reason for placement change on the episode that ended it:
  narrow (CREQB, CREQO, CHILD); standard (narrow + ALLEG, STAND, APPRR, CLOSE); broad (standard +
  LAREQ, CUSTOD). CARPL is planned; PLACE (status change only) is not a move; OTHER and blank are
  unknown (flagged as not unplanned, and counted separately so the sensitivity can be checked).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.io import ssda903_rules as r
from analysis.io.dates import parse_dates, whole_years

PLACEMENT_COLUMNS = [
    "child",
    "period",
    "placement",
    "placement_in_period",
    "start",
    "end",
    "place",
    "place_group",
    "provider",
    "provider_group",
    "kinship",
    "pl_distance",
    "pl_la",
    "pl_location",
    "urn",
    "episodes",
    "interruptions",
    "status_changes",
    "ending",
    "rec",
    "reason_place_change",
    "unplanned_narrow",
    "unplanned_standard",
    "unplanned_broad",
    "reason_unknown",
    "days",
    "age_at_start",
    "previous_placements",
    "previous_unplanned",
]
PERIOD_COLUMNS = [
    "child",
    "period",
    "start",
    "end",
    "legal_status_at_start",
    "cin",
    "placements",
    "first_place_group",
    "rec",
    "exit_group",
    "days",
    "age_at_start",
    "short_breaks_only",
]

EXIT_GROUP = {
    "E11": "adoption",
    "E12": "adoption",
    "E41": "child arrangements order",
    "E43": "special guardianship",
    "E44": "special guardianship",
    "E45": "special guardianship",
    "E46": "special guardianship",
    "E47": "special guardianship",
    "E48": "special guardianship",
    "E4A": "returned home (planned)",
    "E4B": "returned home (not planned)",
    "E13": "other family",
    "E5": "independent living",
    "E6": "independent living",
    "E17": "staying put",
    "E7": "adult services",
    "E9": "custody",
    "E14": "youth justice",
    "E15": "age assessed 18+",
    "E16": "moved abroad",
    "E2": "died",
    "E3": "transferred to another LA",
    "E8": "other",
}


def _dates(eps: pd.DataFrame) -> pd.DataFrame:
    if "_decom" not in eps.columns:
        eps = eps.assign(_decom=parse_dates(eps["DECOM"]), _dec=parse_dates(eps["DEC"]))
    return eps


def _in_order(e: pd.DataFrame, child: str) -> bool:
    """Whether episodes are already sorted by child and start (as stitched returns are)."""
    if not pd.api.types.is_numeric_dtype(e[child]):
        return False
    c, d = e[child].to_numpy(), e["_decom"].to_numpy()
    return bool(np.all((c[1:] > c[:-1]) | ((c[1:] == c[:-1]) & (d[1:] > d[:-1]))))


def _shift_within(values: pd.Series, first: np.ndarray) -> pd.Series:
    """The previous row's value within the same child (missing on each child's first row); rows sorted by child."""
    return values.shift(1).where(~first)


def number_episodes(episodes: pd.DataFrame, child: str = "CHILD") -> pd.DataFrame:
    """Episodes sorted by child and start, with ``period`` and ``placement`` numbers added."""
    e = _dates(episodes)
    e = e.reset_index(drop=True) if _in_order(e, child) else e.sort_values([child, "_decom"]).reset_index(drop=True)
    first = (e[child] != e[child].shift(1)).to_numpy()
    prev_rec = _shift_within(e["REC"], first)
    new_period = first | (e["RNE"] == "S") | (prev_rec.notna() & (prev_rec != "X1"))
    e["period"] = new_period.groupby(e[child]).cumsum().astype(int)
    for col in ("PL_POST", "URN"):
        if col not in e.columns:
            e[col] = ""
    temp = e["PLACE"].isin(r.TEMPORARY)
    e["temporary"] = temp
    # the last non-temporary episode before each row (within the child's history)
    nt = e.loc[~temp, [child, "PLACE", "PL_POST", "URN"]]
    nt_first = (nt[child] != nt[child].shift(1)).to_numpy()
    prev_nt_place = _shift_within(nt["PLACE"], nt_first).reindex(e.index)
    prev_nt_post = _shift_within(nt["PL_POST"], nt_first).reindex(e.index)
    prev_nt_urn = _shift_within(nt["URN"], nt_first).reindex(e.index)
    after_temp = pd.Series(np.r_[False, temp.to_numpy()[:-1]] & ~first, index=e.index) if len(e) else temp
    same_setting = (e["PLACE"] == prev_nt_place) & (
        ((e["PL_POST"] == prev_nt_post) & (e["PL_POST"].fillna("") != "")) | ((e["URN"] == prev_nt_urn) & (e["URN"].fillna("") != ""))
    )
    returns_after_temp = after_temp & same_setting & ~new_period
    carer_change = e["RNE"].isin(r.CARER_CHANGE_RNE) & ~returns_after_temp
    new_placement = (~temp) & (new_period | carer_change)
    # a period that opens with a temporary episode (invalid, but seen) starts its placement there
    first_in_period = new_period & temp
    counter = (new_placement | first_in_period).groupby(e[child]).cumsum().astype(int)
    e["placement"] = counter.where(counter > 0, 1)
    return e


def _runs(*keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First and last positions of each run of equal keys (rows sorted so each group is one run)."""
    n = len(keys[0])
    if n == 0:
        return np.array([], dtype=np.int64), np.array([], dtype=np.int64)
    change = np.zeros(n, dtype=bool)
    change[0] = True
    for k in keys:
        change[1:] |= k[1:] != k[:-1]
    firsts = np.flatnonzero(change)
    return firsts, np.r_[firsts[1:] - 1, n - 1]


#: the episode columns placements and periods are built from
DERIVE_COLUMNS = (
    "_decom",
    "_dec",
    "DECOM",
    "DEC",
    "RNE",
    "LS",
    "CIN",
    "PLACE",
    "PLACE_PROVIDER",
    "REC",
    "REASON_PLACE_CHANGE",
    "PL_POST",
    "URN",
    "PL_DISTANCE",
    "PL_LA",
    "PL_LOCATION",
)


def derive(episodes: pd.DataFrame, birth: pd.Series | None = None, child: str = "CHILD") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Placements and periods of care from (stitched) episodes.

    ``birth`` maps child -> date of birth (used only for ages; not carried into the outputs).
    """
    e = number_episodes(episodes[[child, *(c for c in DERIVE_COLUMNS if c in episodes.columns)]], child)
    e["status_change"] = e["RNE"].isin(["T", "U"]) & ~e["temporary"]
    for col in ("PL_DISTANCE", "PL_LA", "PL_LOCATION", "URN", "REASON_PLACE_CHANGE"):
        if col not in e.columns:
            e[col] = ""
    # rows are sorted by child and start, so each placement (and each period) is one run of rows
    nt = e[~e["temporary"]]
    firsts, lasts = _runs(nt[child].to_numpy(), nt["placement"].to_numpy())
    first = nt[[child, "placement", "period", "_decom", "PLACE", "PLACE_PROVIDER", "PL_DISTANCE", "PL_LA", "PL_LOCATION", "URN"]].iloc[firsts]
    last = nt[["_dec", "REC", "REASON_PLACE_CHANGE"]].iloc[lasts]
    p = pd.DataFrame(
        {
            "child": first[child].to_numpy(),
            "placement": first["placement"].to_numpy(),
            "period": first["period"].to_numpy(),
            "start": first["_decom"].to_numpy(),
            "end": last["_dec"].to_numpy(),
            "place": first["PLACE"].array,
            "provider": first["PLACE_PROVIDER"].array,
            "pl_distance": pd.to_numeric(first["PL_DISTANCE"], errors="coerce").to_numpy(),
            "pl_la": first["PL_LA"].array,
            "pl_location": first["PL_LOCATION"].array,
            "urn": first["URN"].array,
            "episodes": lasts - firsts + 1,
            "status_changes": np.add.reduceat(nt["status_change"].to_numpy().astype(int), firsts) if len(firsts) else np.array([], dtype=int),
            "rec": last["REC"].fillna("").array,
            "reason_place_change": last["REASON_PLACE_CHANGE"].fillna("").array,
        }
    )
    interruptions = e[e["temporary"]].groupby([child, "placement"]).size()
    p["interruptions"] = interruptions.reindex(pd.MultiIndex.from_frame(p[["child", "placement"]]), fill_value=0).astype(int).to_numpy()
    p = p.sort_values(["child", "start"]).reset_index(drop=True)
    p_first = (p["child"] != p["child"].shift(1)).to_numpy()
    nxt_period = p["period"].shift(-1).where(~np.r_[p_first[1:], True])
    moved = nxt_period.notna() & (nxt_period == p["period"])
    left = p["end"].notna() & (p["rec"] != "X1") & (p["rec"] != "")
    p["ending"] = np.select([moved, left, p["end"].isna()], ["moved", "left care", "open"], default="ended")
    for name, codes in r.UNPLANNED.items():
        p[f"unplanned_{name}"] = moved & p["reason_place_change"].isin(codes)
    p["reason_unknown"] = moved & p["reason_place_change"].isin(["", "OTHER"])
    p["place_group"] = p["place"].map(r.PLACE_GROUP).fillna("other")
    p["provider_group"] = p["provider"].map(r.PROVIDER_GROUP).fillna("")
    p["kinship"] = p["place"].isin(["U1", "U2", "U3"])
    p["placement_in_period"] = p.groupby(["child", "period"], sort=False).cumcount() + 1
    p["previous_placements"] = p.groupby("child", sort=False).cumcount()
    unplanned = p["unplanned_standard"].astype(int)
    p["previous_unplanned"] = unplanned.groupby(p["child"], sort=False).cumsum() - unplanned
    p["days"] = (p["end"] - p["start"]).dt.days
    p["age_at_start"] = _age(p["start"], p["child"].map(birth)) if birth is not None else np.nan
    p = p[PLACEMENT_COLUMNS]

    pf, pl = _runs(e[child].to_numpy(), e["period"].to_numpy())
    pfirst = e[[child, "period", "_decom", "LS", "CIN"]].iloc[pf]
    plast = e[["_dec", "REC"]].iloc[pl]
    short = e["LS"].isin(r.SHORT_BREAKS_LS).to_numpy()
    periods = pd.DataFrame(
        {
            "child": pfirst[child].to_numpy(),
            "period": pfirst["period"].to_numpy(),
            "start": pfirst["_decom"].to_numpy(),
            "end": plast["_dec"].where(plast["REC"].fillna("X1") != "X1").to_numpy(),
            "legal_status_at_start": pfirst["LS"].array,
            "cin": pfirst["CIN"].array,
            "rec": plast["REC"].where(plast["REC"] != "X1", "").fillna("").array,
            "short_breaks_only": np.logical_and.reduceat(short, pf) if len(pf) else np.array([], dtype=bool),
        }
    )
    keys = pd.MultiIndex.from_frame(periods[["child", "period"]])
    counts = p.groupby(["child", "period"]).size()
    periods["placements"] = counts.reindex(keys, fill_value=0).astype(int).to_numpy()
    firsts = p[p["placement_in_period"] == 1].set_index(["child", "period"])["place_group"]
    periods["first_place_group"] = firsts.reindex(keys).fillna("").to_numpy()
    periods["exit_group"] = periods["rec"].map(EXIT_GROUP).fillna("")
    periods["days"] = (periods["end"] - periods["start"]).dt.days
    periods["age_at_start"] = _age(periods["start"], periods["child"].map(birth)) if birth is not None else np.nan
    return p, periods[PERIOD_COLUMNS].sort_values(["child", "period"]).reset_index(drop=True)


def _age(at: pd.Series, born: pd.Series) -> pd.Series:
    """Whole years of age on a date (Int64)."""
    return whole_years(at, born).astype("Int64")


# --- DfE measures --------------------------------------------------------------------------------------
def looked_after_on(episodes: pd.DataFrame, day: pd.Timestamp, child: str = "CHILD") -> pd.DataFrame:
    """The episode each child was in on a day (DfE: excluding agreed short breaks, V3/V4)."""
    e = _dates(episodes)
    on = e[(e["_decom"] <= day) & (e["_dec"].isna() | (e["_dec"] > day)) & ~e["LS"].isin(r.SHORT_BREAKS_LS)]
    return on.sort_values("_decom").drop_duplicates(child, keep="last")


def measures(
    episodes: pd.DataFrame, placements: pd.DataFrame, birth: pd.Series, year: int, child: str = "CHILD", numbered: pd.DataFrame | None = None
) -> dict[str, float]:
    """DfE measures for the year ending 31 March ``year`` (counts and percentages).

    * ``cla_31_march``: children looked after at 31 March (not short breaks only).
    * ``placements_3plus``: of those, children with 3 or more placements (carer changes, temporary
      placements excluded) overlapping 1 April to 31 March; the placement held on 1 April counts.
    * ``long_term_stability``: of children at 31 March aged under 16 and looked after
      continuously for at least 2.5 years, those in the same placement for at least 2 years.
    * ``over_20_miles`` / ``outside_boundary``: PL_DISTANCE over 20 miles / PL_LOCATION ``OUT``
      at 31 March, as % of all children at 31 March; ``distance_unknown`` is reported beside them.
    """
    return measures_by_year(episodes, placements, birth, [year], child, numbered)[0]


def measures_by_year(
    episodes: pd.DataFrame, placements: pd.DataFrame, birth: pd.Series, years: list[int], child: str = "CHILD", numbered: pd.DataFrame | None = None
) -> list[dict[str, float]]:
    """:func:`measures` for several years, sharing the work that does not depend on the year."""
    e = _dates(episodes)
    cols = [c for c in (child, "_decom", "_dec", "LS", "PL_DISTANCE", "PL_LOCATION") if c in e.columns]
    e = e[cols]
    e = e.assign(
        _distance=pd.to_numeric(e["PL_DISTANCE"], errors="coerce") if "PL_DISTANCE" in e.columns else np.nan,
        _outside=e["PL_LOCATION"].fillna("").eq("OUT") if "PL_LOCATION" in e.columns else False,
    )
    p = placements[["child", "period", "start", "end"]]
    numbered = numbered if numbered is not None else number_episodes(episodes, child)
    period_start = numbered.groupby([child, "period"], as_index=False)["_decom"].min().rename(columns={child: "child", "_decom": "period_start"})
    return [_measures_one(e, p, period_start, birth, year, child) for year in years]


def _measures_one(e: pd.DataFrame, placements: pd.DataFrame, period_start: pd.DataFrame, birth: pd.Series, year: int, child: str) -> dict[str, float]:
    end = pd.Timestamp(year, 3, 31)
    start = pd.Timestamp(year - 1, 4, 1)
    on = looked_after_on(e, end, child)
    kids = on[child].unique()
    n = len(kids)
    p = placements[placements["child"].isin(kids)]
    in_year = p[(p["start"] <= end) & (p["end"].isna() | (p["end"] >= start))]
    per_child = in_year.groupby("child").size()
    three = int((per_child >= 3).sum())
    # long-term stability
    current = p[(p["start"] <= end) & (p["end"].isna() | (p["end"] > end))].sort_values("start").drop_duplicates("child", keep="last")
    cur = current[["child", "period"]].merge(period_start, on=["child", "period"], how="left").set_index("child")
    cur_period = cur["period"]
    cohort_start = cur["period_start"]
    age = _age(pd.Series(end, index=cur_period.index), birth.reindex(cur_period.index))
    long_cohort = cohort_start[(cohort_start <= end - pd.DateOffset(months=30)) & (age < 16).reindex(cohort_start.index, fill_value=False)]
    same = current.set_index("child").loc[long_cohort.index, "start"] <= end - pd.DateOffset(years=2)
    dist = on["_distance"]
    outside = int(on["_outside"].sum())

    def pct(a: int, b: int) -> float:
        return round(100 * a / b, 1) if b else float("nan")

    return {
        "cla_31_march": n,
        "placements_3plus": three,
        "placements_3plus_pct": pct(three, n),
        "long_term_cohort": int(len(long_cohort)),
        "long_term_stable": int(same.sum()),
        "long_term_stability_pct": pct(int(same.sum()), int(len(long_cohort))),
        "over_20_miles": int((dist > 20).sum()),
        "over_20_miles_pct": pct(int((dist > 20).sum()), n),
        "distance_unknown": int(dist.isna().sum()),
        "outside_boundary": outside,
        "outside_boundary_pct": pct(outside, n),
    }


# --- child characteristics at a placement's start ---------------------------------------------------------
def sdq_before_start(placements: pd.DataFrame, oc2: pd.DataFrame) -> pd.Series:
    """Each placement's child's most recent SDQ score from a return for a year *before* the one the
    placement started in (a score from the same year may have been taken after the start; a later one
    would let the placement's outcome leak into its predictors)."""
    start_year = r.collection_years(placements["start"]).astype("int64")
    left = pd.DataFrame({"child": placements["child"].to_numpy(), "year": start_year.to_numpy(), "_i": np.arange(len(placements))}).astype(
        {"child": "str"}
    )
    right = oc2.dropna(subset=["sdq_score"])[["child", "collection_year", "sdq_score"]].rename(columns={"collection_year": "year"})
    right = right.astype({"child": "str", "year": "int64", "sdq_score": float}).assign(year=lambda d: d["year"] + 1).sort_values(["year", "child"])
    merged = pd.merge_asof(left.sort_values(["year", "child"]), right, on="year", by="child", direction="backward")
    return pd.Series(merged.sort_values("_i")["sdq_score"].to_numpy(dtype=float), index=placements.index)


def estimated_birth_date(birth_month: pd.Series) -> pd.Series:
    """The date of birth as the processed data can know it: the 15th of the birth month (``"2014-07"``).
    NaT where the month is not known. Same index as ``birth_month``."""
    return pd.to_datetime(birth_month, format="%Y-%m", errors="coerce") + pd.Timedelta(days=14)


def exact_age(on: pd.Series, birth_month: pd.Series) -> pd.Series:
    """Age in years (with the fraction) on each date, from :func:`estimated_birth_date`; NaN where the
    birth month is not known."""
    born = estimated_birth_date(pd.Series(pd.Series(birth_month).to_numpy(), index=on.index))
    return (pd.to_datetime(on) - born).dt.days / 365.25
