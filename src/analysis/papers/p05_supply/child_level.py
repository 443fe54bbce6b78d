"""Paper 05 with the LA's own 903: where its children in children's homes live (inside its boundary,
within 20 miles), the Ofsted rating of the homes they live in (the placement's URN joined to Ofsted's
provider file of that 31 March), and missing episodes by where the child was placed. Counts of children:
gated in :mod:`.publish` before anyone sees them; no provider's name or URN is ever published."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.papers.p05_supply.inputs import Data, Settings
from analysis.papers.p05_supply.supply import CHILDRENS_HOME
from analysis.stats import demand
from analysis.stats import forecast as fc

GOOD = ("Outstanding", "Good")


def _homes_now(data: Data, s: Settings) -> pd.DataFrame:
    """The LA's children in children's homes at the last 31 March, one row each (their latest placement)."""
    day = pd.Timestamp(s.last_year, 3, 31)
    p = data.placements
    on = p[(p["start"] <= day) & (p["end"].isna() | (p["end"] > day))].sort_values("start").drop_duplicates("child", keep="last")
    return on[fc.group_of(on["place_group"]) == "children's home"]


def homes_903(data: Data, s: Settings) -> dict[str, float] | None:
    """From the 903, the LA's children in children's homes at the last 31 March: all, inside its
    boundary and within 20 miles of home (counts; gate before showing). Not split by provider: paper 04
    publishes that split with its own suppression, and a second split here could undo it."""
    if s.source != demand.FROM_903:
        return None
    homes = _homes_now(data, s)
    return {
        "children": float(len(homes)),
        "inside": float((homes["pl_location"] == "IN").sum()),
        "within_20_miles": float((homes["pl_distance"] <= 20).sum()),
        "distance_known": float(homes["pl_distance"].notna().sum()),
    }


def ratings_903(data: Data, s: Settings) -> pd.DataFrame | None:
    """The LA's children in children's homes at the last 31 March by the Ofsted judgement of the home
    they live in (its URN in Ofsted's provider file of that year), inside and outside the LA, with those
    whose URN is not in the file (a wrong or missing URN, a home registered since, or not a children's home)."""
    if s.source != demand.FROM_903:
        return None
    homes = _homes_now(data, s)
    pv = data.providers
    year = s.last_year if (pv["year"] == s.last_year).any() else int(pv["year"].max())
    register = pv[(pv["year"] == year) & (pv["provision_type"] == CHILDRENS_HOME)].drop_duplicates("urn").set_index("urn")["rating"]
    urn = homes["urn"].fillna("").astype(str).str.strip().str.upper()
    rating = urn.map(register)
    where = np.where(homes["pl_location"] == "IN", "inside the LA", "outside the LA")
    rows = []
    for label, mask in (
        ("inside the LA", where == "inside the LA"),
        ("outside the LA", where == "outside the LA"),
        ("all", np.ones(len(homes), bool)),
    ):
        r = rating[mask]
        found = r.notna()
        rows.append(
            {
                "where": label,
                "children": float(mask.sum()),
                "good_or_outstanding": float(r.isin(GOOD).sum()),
                "requires_improvement_or_inadequate": float(r.isin(("Requires improvement", "Inadequate")).sum()),
                "not_yet_inspected": float((r == "not yet inspected").sum()),
                "urn_not_found": float((~found).sum()),
            }
        )
    return pd.DataFrame(rows)


def missing_by_location(data: Data, s: Settings) -> pd.DataFrame | None:
    """With the 903: missing episodes in the last year by where the child was placed when they went
    missing (inside or outside the LA) and the type of placement (counts; gate before showing)."""
    if s.source != demand.FROM_903 or data.missing is None or data.missing.empty:
        return None
    m = data.missing.copy()
    m["start"] = pd.to_datetime(m["start"], errors="coerce")
    m = m[m["start"].between(pd.Timestamp(s.last_year - 1, 4, 1), pd.Timestamp(s.last_year, 3, 31))]
    p = data.placements[["child", "start", "end", "place_group", "pl_location"]]
    j = m[["child", "start"]].merge(p, on="child", suffixes=("", "_pl"))
    j = j[(j["start_pl"] <= j["start"]) & (j["end"].isna() | (j["end"] >= j["start"]))].drop_duplicates(["child", "start"])
    j = j.assign(group=fc.group_of(j["place_group"]), where=np.where(j["pl_location"] == "IN", "inside the LA", "outside the LA"))
    t = pd.crosstab(j["group"], j["where"]).reindex(index=list(fc.GROUPS), columns=["inside the LA", "outside the LA"], fill_value=0)
    t.index.name = "placement"
    t.columns.name = None
    t["all"] = t.sum(axis=1)
    t.loc["all placements"] = t.sum()
    return t.reset_index()
