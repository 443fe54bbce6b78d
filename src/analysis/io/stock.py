"""Children looked after at 31 March by the characteristics DfE publishes, from a processed 903.

:func:`characteristics` counts, for each year, the children looked after at 31 March (DfE: not
those on agreed short breaks, V3/V4) by age, sex, ethnicity, UASC, category of need, legal status,
placement type, provider and placement locality with distance, plus the children who started and
ceased to be looked after during the year. The categories are the ones in DfE's published LA
tables (:data:`analysis.io.published_counts.DIMENSIONS`), so an LA's own 903 can be set beside what
DfE published for it, and the synthetic 903 is checked against the same figures.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.io import ssda903_rules as r
from analysis.io.dates import whole_years
from analysis.io.placements import estimated_birth_date, looked_after_on
from analysis.io.published_counts import DIMENSIONS

AGE_BAND_EDGES = [0, 1, 5, 10, 16, 200]
#: the project's placement groups (ssda903_rules.PLACE_GROUP) -> DfE's published placement categories
GROUP_CATEGORY = {
    "foster": "foster",
    "kinship foster": "foster",
    "children's home": "childrens_home",
    "secure": "childrens_home",
    "independent or supported": "independent",
    "with parents": "with_parents",
    "adoption": "adoption",
    "other residential": "other_residential",
    "custody": "other_residential",
    "residential school": "residential_school",
    "other": "other",
    "temporary": "other",
}
PLACEMENT_CATEGORY = {code: GROUP_CATEGORY[group] for code, group in r.PLACE_GROUP.items()}
PROVIDER_CATEGORY = {
    "PR0": "parents",
    "PR1": "own",
    "PR2": "other_la",
    "PR3": "other_public",
    "PR4": "private",
    "PR5": "voluntary",
    "": "not_reported",
}
LEGAL_CATEGORY = {
    "C1": "interim_care_order",
    "C2": "full_care_order",
    "E1": "placement_order",
    "D1": "placement_order",
    "V2": "section_20",
    "L1": "detained",
    "L2": "detained",
    "L3": "detained",
    "J1": "youth_justice",
    "J2": "youth_justice",
    "J3": "youth_justice",
}
ETHNIC_GROUP = {
    **{c: "white" for c in ("WBRI", "WIRI", "WOTH", "WIRT", "WROM")},
    **{c: "mixed" for c in ("MWBC", "MWBA", "MWAS", "MOTH")},
    **{c: "asian" for c in ("AIND", "APKN", "ABAN", "AOTH")},
    **{c: "black" for c in ("BCRB", "BAFR", "BOTH")},
    "CHNE": "other",
    "OOTH": "other",
    "REFU": "not_known",
    "NOBT": "not_known",
}


def _location(pl_location: pd.Series, distance: pd.Series) -> pd.Series:
    side = np.where(pl_location.fillna("").eq("OUT"), "outside", "inside")
    far = np.where(distance.isna(), "unknown", np.where(distance > 20, "over_20", "20_or_less"))
    return pd.Series([f"{a}_{b}" for a, b in zip(side, far)], index=pl_location.index)


def characteristics(episodes: pd.DataFrame, children: pd.DataFrame, years: list[int]) -> pd.DataFrame:
    """year, dimension, category, number: the stock at 31 March by characteristic, and the counts
    (dimension ``count``) looked after at 31 March, started and ceased in the year."""
    e = episodes.rename(columns={"decom": "_decom", "dec": "_dec", "ls": "LS"})
    kids = children.set_index("child")
    born = estimated_birth_date(kids["birth_month"])
    rows = []
    for year in years:
        y0, y1 = pd.Timestamp(year - 1, 4, 1), r.year_end(year)
        on = looked_after_on(e, y1, child="child")
        kid = kids.reindex(on["child"])
        age = whole_years(pd.Series(y1, index=on.index), pd.Series(born.reindex(on["child"]).to_numpy(), index=on.index))
        values = {
            "age": pd.cut(age, AGE_BAND_EDGES, right=False, labels=list(DIMENSIONS["age"])).astype(str),
            "sex": kid["sex"].map({"M": "male", "F": "female"}).fillna("unknown").to_numpy(),
            "ethnicity": kid["ethnic"].map(ETHNIC_GROUP).fillna("not_known").to_numpy(),
            "uasc": np.where(kid["uasc"].fillna(False).to_numpy(dtype=bool), "uasc", "not_uasc"),
            "need": on["cin"].to_numpy(),
            "legal": on["LS"].map(LEGAL_CATEGORY).fillna("other").to_numpy(),
            "placement": on["place"].map(PLACEMENT_CATEGORY).fillna("other").to_numpy(),
            "provider": on["place_provider"].fillna("").map(PROVIDER_CATEGORY).fillna("not_reported").to_numpy(),
            "location": _location(on["pl_location"], on["pl_distance"]).to_numpy(),
        }
        rows.append({"year": year, "dimension": "count", "category": "looked_after_31_march", "number": len(on)})
        for dim, v in values.items():
            counts = pd.Series(np.asarray(v, dtype=object)).value_counts()
            for cat in DIMENSIONS[dim]:
                rows.append({"year": year, "dimension": dim, "category": cat, "number": int(counts.get(cat, 0))})
        counted = e[~e["LS"].isin(r.SHORT_BREAKS_LS)]
        starts = counted[(counted["rne"] == "S") & counted["_decom"].between(y0, y1)]["child"].nunique()
        ceased = counted[counted["_dec"].between(y0, y1) & ~counted["rec"].isin(["X1", ""])]["child"].nunique()
        rows += [
            {"year": year, "dimension": "count", "category": "started", "number": int(starts)},
            {"year": year, "dimension": "count", "category": "ceased", "number": int(ceased)},
        ]
    return pd.DataFrame(rows)
