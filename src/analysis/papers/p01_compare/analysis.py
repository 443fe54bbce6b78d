"""Paper 01's analysis: comparator averages, trends, ranks, funnel-plot flags, the summary and mix tables."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.io.indicators import Measure
from analysis.papers.p01_compare.inputs import ENGLAND, MEASURES, NOT_PUBLISHED, SHARES_OF_MONEY, Settings
from analysis.stats import funnel


# --- comparisons -------------------------------------------------------------------------------
def cell(value: float, flag: object) -> object:
    """A value for a published table: the number, its DfE symbol if suppressed, or ``..``."""
    if pd.notna(value):
        return value
    if flag is not None and not (isinstance(flag, float) and np.isnan(flag)) and not pd.isna(flag):
        return str(flag)
    return NOT_PUBLISHED


def latest_year(panel: pd.DataFrame, measure: str, last_year: int) -> int | None:
    """The latest year up to ``last_year`` with any LA-level value for the measure."""
    s = panel[
        (panel["measure"] == measure) & (panel["geographic_level"] == "local_authority") & (panel["year"] <= last_year) & panel["value"].notna()
    ]
    return int(s["year"].max()) if not s.empty else None


def comparator_average(panel: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """Mean of the comparator LAs' values per measure and year, with how many had a value."""
    s = panel[panel["area_code"].isin(settings.comparator_codes)]
    g = s.groupby(["measure", "year"])["value"].agg(["mean", "count"]).reset_index()
    return g.rename(columns={"mean": "comparators", "count": "comparators_n"})


def trends(panel: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """Long table for trend charts: measure, year, series (LA/comparators/region/England), value."""
    years = panel["year"].between(settings.first_year, settings.last_year)
    p = panel[years]
    areas = {"LA": settings.la_code, "region": settings.la["region_code"], "England": ENGLAND}
    frames = [p[p["area_code"] == code][["measure", "year", "value"]].assign(series=series) for series, code in areas.items()]
    comp = comparator_average(p, settings)
    frames.append(comp.rename(columns={"comparators": "value"})[["measure", "year", "value"]].assign(series="comparators"))
    return pd.concat(frames, ignore_index=True)[["measure", "year", "series", "value"]]


def rank_of(panel: pd.DataFrame, measure: str, year: int, la_code: str, among: tuple[str, ...] | None = None) -> tuple[int | None, int]:
    """Rank of the LA (1 = highest value, ties share the best rank) and the number ranked."""
    s = panel[(panel["measure"] == measure) & (panel["year"] == year) & (panel["geographic_level"] == "local_authority") & panel["value"].notna()]
    if among is not None:
        s = s[s["area_code"].isin((*among, la_code))]
    if la_code not in set(s["area_code"]):
        return None, len(s)
    ranks = s.set_index("area_code")["value"].rank(ascending=False, method="min")
    return int(ranks[la_code]), len(s)


def funnel_units(panel: pd.DataFrame, measure: Measure, year: int, la_code: str) -> tuple[pd.DataFrame, float, funnel.Dispersion] | None:
    """All LAs' funnel data for one measure and year against the England figure."""
    s = panel[(panel["measure"] == measure.id) & (panel["year"] == year)]
    las = s[(s["geographic_level"] == "local_authority") & s["numerator"].notna() & (s["denominator"] > 0)]
    if len(las) < 3:
        return None
    eng = s[s["area_code"] == ENGLAND]
    if not eng.empty and pd.notna(eng["numerator"].iloc[0]) and eng["denominator"].iloc[0] > 0:
        theta = float(eng["numerator"].iloc[0] / eng["denominator"].iloc[0])
    else:
        theta = float(las["numerator"].sum() / las["denominator"].sum())
    kind = "rate" if measure.kind == "rate" else "proportion"
    units, disp = funnel.funnel_frame(las[["area_code", "area_name", "numerator", "denominator"]], theta, kind)
    units["value"] = units["observed"] * measure.scale
    units["is_la"] = units["area_code"] == la_code
    return units, theta, disp


def flag_text(flag: str, measure: Measure) -> str:
    """A flag from :data:`analysis.stats.funnel.FLAG_ORDER` in words for a table."""
    if not flag:
        return "not tested"
    if flag == "within":
        return "in line with England"
    direction = "higher" if flag.startswith("above") else "lower"
    strength = "significantly " if flag.endswith("99.8%") else "possibly "
    return f"{strength}{direction} ({flag.split()[1]} limits)"


def summary_table(panel: pd.DataFrame, settings: Settings) -> tuple[pd.DataFrame, dict[str, dict]]:
    """One row per measure for its latest year: LA, comparators, region, England, rank, flag.

    Returns the table (values with DfE symbols) and a dict of the same numbers per measure for
    findings and metrics.
    """
    comp = comparator_average(panel, settings)
    rows, details = [], {}
    region = settings.la["region_code"]
    for m in MEASURES:
        year = latest_year(panel, m.id, settings.last_year)
        if year is None:
            continue
        this = panel[(panel["measure"] == m.id) & (panel["year"] == year)]
        s = this.set_index("area_code")

        def get(code: str, s: pd.DataFrame = s) -> object:
            return cell(s.at[code, "value"], s.at[code, "flag"]) if code in s.index else NOT_PUBLISHED

        c = comp[(comp["measure"] == m.id) & (comp["year"] == year)]
        comp_value = round(float(c["comparators"].iloc[0]), 1 if m.kind == "ratio" else 0) if not c.empty else np.nan
        comp_n = int(c["comparators_n"].iloc[0]) if not c.empty else 0
        rank, n_ranked = rank_of(this, m.id, year, settings.la_code)
        crank, n_crank = rank_of(this, m.id, year, settings.la_code, settings.comparator_codes)
        flag, disp_text, f = "", "no funnel (not a count of children)", None
        if m.funnel:
            f = funnel_units(this, m, year, settings.la_code)
            if f is not None:
                units, _theta, disp = f
                me = units[units["is_la"]]
                flag = str(me["flag"].iloc[0]) if not me.empty else ""
                disp_text = disp.describe()
        count = (
            cell(s.at[settings.la_code, "numerator"], s.at[settings.la_code, "flag"])
            if m.kind in ("rate", "proportion") and m.id not in SHARES_OF_MONEY and settings.la_code in s.index
            else None
        )
        detail = {
            "measure": m.id,
            "label": m.label,
            "short": m.short,
            "topic": m.topic,
            "unit": m.unit,
            "year": year,
            "count": count,
            "la": get(settings.la_code),
            "comparators": comp_value if comp_n else NOT_PUBLISHED,
            "comparators_n": comp_n,
            "region": get(region),
            "england": get(ENGLAND),
            "rank": rank,
            "ranked": n_ranked,
            "comparator_rank": crank,
            "comparator_ranked": n_crank,
            "flag": flag,
            "dispersion": disp_text,
            "better": m.better,
            "decimals": m.decimals,
            "funnel": f,
        }
        details[m.id] = detail
        rows.append(
            {
                "Topic": m.topic,
                "Measure": m.label,
                "Year": year,
                "Number (LA)": count if count is not None else "z",
                settings.la_name: detail["la"],
                "Comparator average": detail["comparators"],
                "Region": detail["region"],
                "England": detail["england"],
                "Rank of LAs (1 = highest)": f"{rank} of {n_ranked}" if rank else NOT_PUBLISHED,
                "Compared with England": flag_text(flag, m) if m.funnel else "not tested",
            }
        )
    return pd.DataFrame(rows), details


def trend_table(panel: pd.DataFrame, settings: Settings, measure: str) -> pd.DataFrame:
    """Wide table of one measure by year for the LA, comparator average, region and England."""
    t = trends(panel, settings)
    t = t[t["measure"] == measure]
    wide = t.pivot_table(index="year", columns="series", values="value", aggfunc="first")
    la = panel[
        (panel["measure"] == measure) & (panel["area_code"] == settings.la_code) & panel["year"].between(settings.first_year, settings.last_year)
    ]
    out = pd.DataFrame({"Year": sorted(set(t["year"]))})
    la_cells = {int(r.year): cell(r.value, r.flag) for r in la.itertuples()}
    out[settings.la_name] = [la_cells.get(y, NOT_PUBLISHED) for y in out["Year"]]
    for series, name in (("comparators", "Comparator average"), ("region", "Region"), ("England", "England")):
        out[name] = [
            wide.at[y, series] if series in wide.columns and y in wide.index and pd.notna(wide.at[y, series]) else NOT_PUBLISHED for y in out["Year"]
        ]
    return out


def comparator_values(panel: pd.DataFrame, settings: Settings, measure: str, year: int) -> pd.DataFrame:
    """Values of the LA and each comparator LA for one measure and year (for ranked bars)."""
    s = panel[(panel["measure"] == measure) & (panel["year"] == year) & panel["area_code"].isin((*settings.comparator_codes, settings.la_code))]
    return pd.DataFrame({"name": s["area_name"].to_numpy(), "value": s["value"].to_numpy(), "is_la": (s["area_code"] == settings.la_code).to_numpy()})


def placement_mix(panel: pd.DataFrame, settings: Settings, year: int) -> pd.DataFrame:
    """Placement-type shares (%) for the LA, comparator average, region and England in one year."""
    ids = ["foster_pct", "homes_pct", "supported_pct", "parents_pct"]
    comp = comparator_average(panel, settings)
    rows = []
    for area, code in (
        (settings.la_name, settings.la_code),
        ("Comparator average", None),
        ("Region", settings.la["region_code"]),
        ("England", ENGLAND),
    ):
        row: dict[str, object] = {"area": area}
        for mid in ids:
            if code is None:
                c = comp[(comp["measure"] == mid) & (comp["year"] == year)]
                row[mid] = round(float(c["comparators"].iloc[0])) if not c.empty else np.nan
            else:
                s = panel[(panel["measure"] == mid) & (panel["year"] == year) & (panel["area_code"] == code)]
                row[mid] = s["value"].iloc[0] if not s.empty else np.nan
        known = [v for v in (row[mid] for mid in ids) if pd.notna(v)]
        row["other_pct"] = max(0.0, 100 - float(sum(known))) if len(known) == len(ids) else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def first_data_year(panel: pd.DataFrame, settings: Settings) -> int:
    """The first year shown that has the LA's own published figures."""
    years = _la_cla_years(panel, settings)
    return max(settings.first_year, int(years.min())) if not years.empty else settings.first_year


def _la_cla_years(panel: pd.DataFrame, settings: Settings) -> pd.Series:
    """The years with a published looked-after rate for the LA (its own series)."""
    return panel.loc[(panel["area_code"] == settings.la_code) & panel["value"].notna() & (panel["measure"] == "cla_rate"), "year"]


# --- what the notebook shows ---------------------------------------------------------------------
TREND_PANELS = ("cla_rate", "starts_rate", "ceased_rate", "foster_pct", "homes_pct", "outside_pct", "over20_pct", "three_plus_pct", "stability_pct")
RANKED_PANELS = ("cla_rate", "outside_pct", "three_plus_pct", "spend_per_child")
MIX_CATEGORIES = (
    ("foster_pct", "Foster care"),
    ("homes_pct", "Secure units and children's homes"),
    ("supported_pct", "Independent/semi-independent living"),
    ("parents_pct", "Placed with parents"),
    ("other_pct", "Other (adoption, residential schools, other)"),
)
