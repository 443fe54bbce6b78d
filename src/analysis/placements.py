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

from . import ssda903_rules as r

PLACEMENT_COLUMNS = [
    "child", "period", "placement", "placement_in_period", "start", "end", "place", "place_group", "provider",
    "provider_group", "kinship", "pl_distance", "pl_la", "pl_location", "urn", "episodes", "interruptions",
    "status_changes", "ending", "rec", "reason_place_change", "unplanned_narrow", "unplanned_standard",
    "unplanned_broad", "reason_unknown", "days", "age_at_start", "previous_placements", "previous_unplanned",
]
PERIOD_COLUMNS = [
    "child", "period", "start", "end", "legal_status_at_start", "cin", "placements", "first_place_group",
    "rec", "exit_group", "days", "age_at_start", "short_breaks_only",
]

EXIT_GROUP = {
    "E11": "adoption", "E12": "adoption", "E41": "child arrangements order", "E43": "special guardianship",
    "E44": "special guardianship", "E45": "special guardianship", "E46": "special guardianship",
    "E47": "special guardianship", "E48": "special guardianship", "E4A": "returned home (planned)",
    "E4B": "returned home (not planned)", "E13": "other family", "E5": "independent living", "E6": "independent living",
    "E17": "staying put", "E7": "adult services", "E9": "custody", "E14": "youth justice", "E15": "age assessed 18+",
    "E16": "moved abroad", "E2": "died", "E3": "transferred to another LA", "E8": "other",
}


def _dates(eps: pd.DataFrame) -> pd.DataFrame:
    if "_decom" not in eps.columns:
        from .ssda903 import parse_dates

        eps = eps.assign(_decom=parse_dates(eps["DECOM"]), _dec=parse_dates(eps["DEC"]))
    return eps


def number_episodes(episodes: pd.DataFrame, child: str = "CHILD") -> pd.DataFrame:
    """Episodes sorted by child and start, with ``period`` and ``placement`` numbers added."""
    e = _dates(episodes).sort_values([child, "_decom"]).reset_index(drop=True)
    first = e[child] != e[child].shift(1)
    prev_rec = e.groupby(child)["REC"].shift(1)
    new_period = first | (e["RNE"] == "S") | (prev_rec.notna() & (prev_rec != "X1"))
    e["period"] = new_period.groupby(e[child]).cumsum().astype(int)
    for col in ("PL_POST", "URN"):
        if col not in e.columns:
            e[col] = ""
    temp = e["PLACE"].isin(r.TEMPORARY)
    e["temporary"] = temp
    # the last non-temporary episode before each row (within the child's history)
    nt = e[~temp]
    prev_nt_place = nt.groupby(child)["PLACE"].shift(1).reindex(e.index)
    prev_nt_post = nt.groupby(child)["PL_POST"].shift(1).reindex(e.index)
    prev_nt_urn = nt.groupby(child)["URN"].shift(1).reindex(e.index)
    after_temp = e.groupby(child)["temporary"].shift(1).fillna(False).astype(bool)
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


def derive(episodes: pd.DataFrame, birth: pd.Series | None = None, child: str = "CHILD") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Placements and periods of care from (stitched) episodes.

    ``birth`` maps child -> date of birth (used only for ages; not carried into the outputs).
    """
    e = number_episodes(episodes, child)
    e["status_change"] = e["RNE"].isin(["T", "U"]) & ~e["temporary"]
    for col in ("PL_DISTANCE", "PL_LA", "PL_LOCATION", "URN", "REASON_PLACE_CHANGE"):
        if col not in e.columns:
            e[col] = ""
    nt = e[~e["temporary"]]
    g = nt.groupby([child, "placement"], sort=False)
    first, last = g.head(1).set_index([child, "placement"]), g.tail(1).set_index([child, "placement"])
    p = pd.DataFrame({
        "period": first["period"], "start": first["_decom"], "end": last["_dec"], "place": first["PLACE"],
        "provider": first["PLACE_PROVIDER"], "pl_distance": pd.to_numeric(first["PL_DISTANCE"], errors="coerce"),
        "pl_la": first["PL_LA"], "pl_location": first["PL_LOCATION"], "urn": first["URN"],
        "episodes": g.size(), "status_changes": g["status_change"].sum().astype(int),
        "rec": last["REC"].fillna(""), "reason_place_change": last["REASON_PLACE_CHANGE"].fillna(""),
    })
    interruptions = e[e["temporary"]].groupby([child, "placement"]).size()
    p["interruptions"] = interruptions.reindex(p.index, fill_value=0).astype(int)
    p = p.reset_index().rename(columns={child: "child"})
    p = p.sort_values(["child", "start"]).reset_index(drop=True)
    nxt_period = p.groupby("child")["period"].shift(-1)
    moved = nxt_period.notna() & (nxt_period == p["period"])
    left = p["end"].notna() & (p["rec"] != "X1") & (p["rec"] != "")
    p["ending"] = np.select([moved, left, p["end"].isna()], ["moved", "left care", "open"], default="ended")
    for name, codes in r.UNPLANNED.items():
        p[f"unplanned_{name}"] = moved & p["reason_place_change"].isin(codes)
    p["reason_unknown"] = moved & p["reason_place_change"].isin(["", "OTHER"])
    p["place_group"] = p["place"].map(r.PLACE_GROUP).fillna("other")
    p["provider_group"] = p["provider"].map(r.PROVIDER_GROUP).fillna("")
    p["kinship"] = p["place"].isin(["U1", "U2", "U3"])
    p["placement_in_period"] = p.groupby(["child", "period"]).cumcount() + 1
    p["previous_placements"] = p.groupby("child").cumcount()
    unplanned = p["unplanned_standard"].astype(int)
    p["previous_unplanned"] = unplanned.groupby(p["child"]).cumsum() - unplanned
    p["days"] = (p["end"] - p["start"]).dt.days
    p["age_at_start"] = _age(p["start"], p["child"].map(birth)) if birth is not None else np.nan
    p = p[PLACEMENT_COLUMNS]

    pg = e.groupby([child, "period"], sort=False)
    pf, pl = pg.head(1).set_index([child, "period"]), pg.tail(1).set_index([child, "period"])
    periods = pd.DataFrame({
        "start": pf["_decom"], "end": pl["_dec"].where(pl["REC"].fillna("X1") != "X1"), "legal_status_at_start": pf["LS"],
        "cin": pf["CIN"], "rec": pl["REC"].where(pl["REC"] != "X1", "").fillna(""),
        "short_breaks_only": e["LS"].isin(r.SHORT_BREAKS_LS).groupby([e[child], e["period"]], sort=False).all(),
    }).reset_index().rename(columns={child: "child"})
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
    """Whole years of age on a date."""
    born = pd.to_datetime(born)
    had_birthday = (at.dt.month > born.dt.month) | ((at.dt.month == born.dt.month) & (at.dt.day >= born.dt.day))
    return (at.dt.year - born.dt.year - (~had_birthday).astype(int)).astype("Int64")


# --- DfE measures --------------------------------------------------------------------------------------
def looked_after_on(episodes: pd.DataFrame, day: pd.Timestamp, child: str = "CHILD") -> pd.DataFrame:
    """The episode each child was in on a day (DfE: excluding agreed short breaks, V3/V4)."""
    e = _dates(episodes)
    on = e[(e["_decom"] <= day) & (e["_dec"].isna() | (e["_dec"] > day)) & ~e["LS"].isin(r.SHORT_BREAKS_LS)]
    return on.sort_values("_decom").drop_duplicates(child, keep="last")


def measures(episodes: pd.DataFrame, placements: pd.DataFrame, birth: pd.Series, year: int, child: str = "CHILD",
             numbered: pd.DataFrame | None = None) -> dict[str, float]:
    """DfE measures for the year ending 31 March ``year`` (counts and percentages).

    * ``cla_31_march``: children looked after at 31 March (not short breaks only).
    * ``placements_3plus``: of those, children with 3 or more placements (carer changes, temporary
      placements excluded) overlapping 1 April to 31 March; the placement held on 1 April counts.
    * ``long_term_stability``: of children at 31 March aged under 16 and looked after
      continuously for at least 2.5 years, those in the same placement for at least 2 years.
    * ``over_20_miles`` / ``outside_boundary``: PL_DISTANCE over 20 miles / PL_LOCATION ``OUT``
      at 31 March, as % of all children at 31 March; ``distance_unknown`` is reported beside them.
    """
    end = pd.Timestamp(year, 3, 31)
    start = pd.Timestamp(year - 1, 4, 1)
    on = looked_after_on(episodes, end, child)
    kids = set(on[child])
    n = len(kids)
    p = placements[placements["child"].isin(kids)]
    in_year = p[(p["start"] <= end) & (p["end"].isna() | (p["end"] >= start))]
    per_child = in_year.groupby("child").size()
    three = int((per_child >= 3).sum())
    # long-term stability
    current = p[(p["start"] <= end) & (p["end"].isna() | (p["end"] > end))].sort_values("start").drop_duplicates("child", keep="last")
    numbered = numbered if numbered is not None else number_episodes(episodes, child)
    period_start = numbered.groupby([child, "period"], as_index=False)["_decom"].min().rename(columns={child: "child", "_decom": "period_start"})
    cur = current[["child", "period"]].merge(period_start, on=["child", "period"], how="left").set_index("child")
    cur_period = cur["period"]
    cohort_start = cur["period_start"]
    age = _age(pd.Series(end, index=cur_period.index), birth.reindex(cur_period.index))
    long_cohort = cohort_start[(cohort_start <= end - pd.DateOffset(months=30)) & (age < 16).reindex(cohort_start.index, fill_value=False)]
    same = current.set_index("child").loc[long_cohort.index, "start"] <= end - pd.DateOffset(years=2)
    dist = pd.to_numeric(on.get("PL_DISTANCE", pd.Series(dtype=object)), errors="coerce")
    loc = on.get("PL_LOCATION", pd.Series("", index=on.index)).fillna("")

    def pct(a: int, b: int) -> float:
        return round(100 * a / b, 1) if b else float("nan")

    return {
        "cla_31_march": n,
        "placements_3plus": three, "placements_3plus_pct": pct(three, n),
        "long_term_cohort": int(len(long_cohort)), "long_term_stable": int(same.sum()),
        "long_term_stability_pct": pct(int(same.sum()), int(len(long_cohort))),
        "over_20_miles": int((dist > 20).sum()), "over_20_miles_pct": pct(int((dist > 20).sum()), n),
        "distance_unknown": int(dist.isna().sum()),
        "outside_boundary": int((loc == "OUT").sum()), "outside_boundary_pct": pct(int((loc == "OUT").sum()), n),
    }
