"""A quick headline profile of one LA beside its region and England, from published data."""

from __future__ import annotations

import pandas as pd

#: (indicator, measure, label) shown by ``analysis summary``
HEADLINES: tuple[tuple[str, str, str], ...] = (
    ("cla_31_march", "number", "Children looked after at 31 March"),
    ("cla_31_march", "rate_per_10000", "  per 10,000 children aged 0-17"),
    ("cla_started", "rate_per_10000", "Started to be looked after, per 10,000"),
    ("cla_ceased", "rate_per_10000", "Ceased to be looked after, per 10,000"),
    ("placements_3plus_year", "percent", "3+ placements in the year (%)"),
    ("long_term_stability", "percent", "Long-term stability (%)"),
    ("locality_outside", "percent", "Placed outside the LA boundary (%)"),
    ("distance_over_20", "percent", "Placed more than 20 miles from home (%)"),
    ("placement_foster", "percent", "In foster placements (%)"),
    ("placement_secure_and_childrens_homes", "percent", "In secure or children's homes (%)"),
    ("missing_children", "percent", "Had a missing incident in the year (%)"),
)


def format_value(value: float, flag: object) -> str:
    """A value for display: the DfE symbol where suppressed, never a zero in its place."""
    if pd.notna(value):
        return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"
    if flag is not None and not pd.isna(flag):
        return str(flag)
    return ".."


def headline_table(la_indicators: pd.DataFrame, la: pd.Series) -> pd.DataFrame:
    """Latest year of each headline indicator: LA, region and England values."""
    rows = []
    areas = {"LA": la["la_code"], "region": la["region_code"], "England": "E92000001"}
    for indicator, measure, label in HEADLINES:
        sub = la_indicators[(la_indicators["indicator"] == indicator) & (la_indicators["measure"] == measure)]
        la_rows = sub[sub["area_code"] == la["la_code"]]
        if la_rows.empty:
            continue
        year = int(la_rows["year"].max())
        row = {"indicator": label, "year": year}
        for column, code in areas.items():
            hit = sub[(sub["area_code"] == code) & (sub["year"] == year)]
            row[column] = format_value(hit["value"].iloc[0], hit["flag"].iloc[0]) if not hit.empty else ".."
        rows.append(row)
    return pd.DataFrame(rows, columns=["indicator", "year", "LA", "region", "England"])


def coverage(la_indicators: pd.DataFrame, area_code: str) -> pd.DataFrame:
    """Which years each indicator is published for an area: ✓ value, symbol if suppressed."""
    sub = la_indicators[(la_indicators["area_code"] == area_code) & la_indicators["measure"].isin(["number", "percent"])]
    if sub.empty:
        return pd.DataFrame()
    cell = sub.assign(cell=[("✓" if pd.notna(v) else (str(f) if pd.notna(f) else "..")) for v, f in zip(sub["value"], sub["flag"])])
    first = cell.sort_values("measure").drop_duplicates(["indicator", "year"])
    table = first.pivot(index="indicator", columns="year", values="cell").fillna("")
    return table
