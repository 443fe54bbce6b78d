"""Paper 05's supply side: Ofsted-registered homes and places located in each LA, by kind and sector,
31 March 2019-2025, per 10,000 children and per child of the LA in that kind of placement, beside the
statistical neighbours, region and England; and who uses them (the DfE's net-gain figures: children of
other LAs placed inside the LA against the LA's own placed outside).

Places and providers are public counts (Ofsted's registers); nothing here counts children but the
published DfE figures, which the DfE has already suppressed where it must.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.io.geography import ENGLAND_CODE

#: the kinds of home the paper counts, and Ofsted's provision types in each (case as in ofsted_places)
KINDS = {
    "children's homes": ("Children's home",),
    "secure children's homes": ("Secure children's home",),
    "residential special schools registered as children's homes": ("Residential special school (registered as a children's home)",),
    "supported accommodation": ("Supported accommodation",),
    "independent fostering agencies": ("Independent fostering agency",),
}
#: kinds that are agencies: counted as providers, never as capacity
AGENCIES = ("independent fostering agencies",)
#: Ofsted's sectors in the paper's words
SECTORS = {"Local Authority": "LA", "Private": "private", "Voluntary": "voluntary", "Health Authority": "other public", "Academy": "other public"}
SECTOR_ORDER = ("LA", "private", "voluntary", "other public")
#: the published count of the LA's children in the placement each kind serves (denominator of places per child)
CHILDREN_IN = {
    "children's homes": "placement_secure_and_childrens_homes",
    "supported accommodation": "placement_independent_supported",
}
#: first 31 March with supported accommodation registered (Ofsted registration began in 2023-24)
SUPPORTED_FROM = 2025


def registered(places: pd.DataFrame) -> pd.DataFrame:
    """Active registrations of the paper's kinds: year, LA code, region, kind, sector, providers, places."""
    kind_of = {t: k for k, types in KINDS.items() for t in types}
    o = places[(places["registration_status"].astype(str) == "Active") & places["provision_type"].isin(kind_of)]
    out = o.assign(kind=o["provision_type"].map(kind_of), sector=o["sector"].astype(str).map(SECTORS).fillna("other public"))
    out = out.groupby(["year", "new_la_code", "region_code", "kind", "sector"], as_index=False)[["providers", "places"]].sum()
    return out.astype({"year": int})


def la_supply(reg: pd.DataFrame, la_code: str) -> pd.DataFrame:
    """The LA's homes and places by year and kind, with the LA-run part; places blank for agencies
    and for supported accommodation before it was registered."""
    r = reg[reg["new_la_code"] == la_code]
    years = sorted(reg["year"].unique())
    rows = []
    for year in years:
        for kind in KINDS:
            k = r[(r["year"] == year) & (r["kind"] == kind)]
            before = kind == "supported accommodation" and year < SUPPORTED_FROM
            agency = kind in AGENCIES
            rows.append(
                {
                    "year": year,
                    "kind": kind,
                    "providers": np.nan if before else float(k["providers"].sum()),
                    "places": np.nan if (before or agency) else float(k["places"].sum()),
                    "la_run_places": np.nan if (before or agency) else float(k.loc[k["sector"] == "LA", "places"].sum()),
                }
            )
    return pd.DataFrame(rows)


def by_sector(reg: pd.DataFrame, la_code: str, kind: str = "children's homes") -> pd.DataFrame:
    """Places of one kind in the LA by year and sector (wide: a column per sector)."""
    r = reg[(reg["new_la_code"] == la_code) & (reg["kind"] == kind)]
    t = r.pivot_table(index="year", columns="sector", values="places", aggfunc="sum").reindex(sorted(reg["year"].unique()))
    t = t.reindex(columns=[c for c in SECTOR_ORDER if c in t.columns or c in ("LA", "private", "voluntary")]).fillna(0.0)
    t.columns.name = None
    return t.reset_index()


CHILDRENS_HOME = "Children's home"
RATING_ORDER = ("Outstanding", "Good", "Requires improvement", "Inadequate", "not yet inspected")


def homes_flow(providers: pd.DataFrame, la_code: str) -> pd.DataFrame:
    """The LA's children's homes at each 31 March by URN (Ofsted's provider-level files): how many, how
    many opened since the year before (a URN new to the LA) and closed (a URN gone), and their places;
    short-break-only homes apart (Ofsted's flag, from 2021), as they do not take children to live."""
    h = providers[(providers["provision_type"] == CHILDRENS_HOME) & (providers["new_la_code"] == la_code)]
    years = sorted(providers["year"].unique())
    rows, before = [], None
    for year in years:
        now = h[h["year"] == year].drop_duplicates("urn").set_index("urn")
        flags_known = providers.loc[providers["year"] == year, "short_break_only"].notna().any()
        sbo = now["short_break_only"].fillna(False).astype(bool)
        row = {
            "year": int(year),
            "homes": float(len(now)),
            "places": float(now["places"].sum()),
            "short_break_only": float(sbo.sum()) if flags_known else np.nan,
            "opened": np.nan,
            "closed": np.nan,
            "places_opened": np.nan,
            "places_closed": np.nan,
        }
        if before is not None:
            opened, closed = now.index.difference(before.index), before.index.difference(now.index)
            row |= {
                "opened": float(len(opened)),
                "closed": float(len(closed)),
                "places_opened": float(now.loc[opened, "places"].sum()),
                "places_closed": float(before.loc[closed, "places"].sum()),
            }
        rows.append(row)
        before = now
    return pd.DataFrame(rows)


def ratings(providers: pd.DataFrame, la_code: str, region_las: list[str]) -> pd.DataFrame:
    """Children's homes (not short-break-only) at the latest 31 March by their latest overall judgement:
    in the LA, its region and England, with the share of those inspected rated good or outstanding."""
    year = int(providers["year"].max())
    h = providers[
        (providers["year"] == year) & (providers["provision_type"] == CHILDRENS_HOME) & ~providers["short_break_only"].fillna(False).astype(bool)
    ]
    rows = []
    for area, mask in (
        ("LA", h["new_la_code"] == la_code),
        ("region", h["new_la_code"].isin(region_las)),
        ("England", pd.Series(True, index=h.index)),
    ):
        counts = h.loc[mask, "rating"].value_counts().reindex(list(RATING_ORDER), fill_value=0)
        inspected = counts.drop("not yet inspected").sum()
        rows.append(
            {
                "year": year,
                "area": area,
                **{k: float(v) for k, v in counts.items()},
                "good_or_outstanding_pct": 100 * (counts["Outstanding"] + counts["Good"]) / inspected if inspected else np.nan,
            }
        )
    return pd.DataFrame(rows)


def _population(population: pd.DataFrame, year: int) -> pd.Series:
    """Children aged 0-17 by area code for a year (the latest estimate at or before it)."""
    pop = population[population["year"] <= year]
    latest = pop["year"].max()
    return pop[pop["year"] == latest].set_index("area_code")["population"]


def places_per_10k(reg: pd.DataFrame, population: pd.DataFrame, lookup: pd.DataFrame, s) -> pd.DataFrame:
    """Places of each kind (homes for agencies) per 10,000 children aged 0-17, each year: the LA, its
    statistical neighbours' average (simple mean of their rates, as LAIT does), its region and England."""
    current = lookup[lookup["status"] == "current"]
    region_las = set(current.loc[current["region_code"] == s.region_code, "la_code"])
    rows = []
    for year in sorted(reg["year"].unique()):
        pop = _population(population, year)
        ry = reg[reg["year"] == year]
        for kind in KINDS:
            if kind == "supported accommodation" and year < SUPPORTED_FROM:
                continue
            col = "providers" if kind in AGENCIES else "places"
            per_la = ry[ry["kind"] == kind].groupby("new_la_code")[col].sum()
            la_pop = pop.reindex(list(current["la_code"]))
            per_la = per_la.reindex(la_pop.index, fill_value=0.0)
            rate = 10000 * per_la / la_pop
            sn = rate.reindex(s.neighbours).dropna()
            rows.append(
                {
                    "year": year,
                    "kind": kind,
                    "measure": "agencies" if kind in AGENCIES else "places",
                    "la": rate.get(s.la_code, np.nan),
                    "neighbours": sn.mean() if len(sn) else np.nan,
                    "region": 10000 * per_la.reindex(list(region_las)).sum() / la_pop.reindex(list(region_las)).sum(),
                    "england": 10000 * per_la.sum() / pop.get(ENGLAND_CODE, la_pop.sum()),
                }
            )
    return pd.DataFrame(rows)


def published_value(indicators: pd.DataFrame, area: str, indicator: str, year: int, measure: str = "number") -> float:
    """One published figure (NaN where not published or suppressed)."""
    li = indicators
    v = li.loc[(li["area_code"] == area) & (li["indicator"] == indicator) & (li["year"] == year) & (li["measure"] == measure), "value"]
    return float(v.iloc[0]) if len(v) and pd.notna(v.iloc[0]) else np.nan


def places_per_child(supply: pd.DataFrame, indicators: pd.DataFrame, la_code: str) -> pd.DataFrame:
    """Places registered in the LA per child of the LA in that kind of placement at 31 March (above 1:
    more places locally than the LA's own children in such homes; other LAs use them too)."""
    rows = []
    for kind, indicator in CHILDREN_IN.items():
        for r in supply[supply["kind"] == kind].itertuples():
            children = published_value(indicators, la_code, indicator, int(r.year))
            rows.append(
                {
                    "year": int(r.year),
                    "kind": kind,
                    "places": r.places,
                    "children": children,
                    "places_per_child": r.places / children if children and pd.notna(r.places) and pd.notna(children) else np.nan,
                }
            )
    return pd.DataFrame(rows)


NET_GAIN = {
    "placed_in_by_other_las": "children of other LAs placed inside",
    "placed_outside_boundary": "own children placed outside",
    "net_gain": "net gain",
}


def net_gain(indicators: pd.DataFrame, area: str) -> pd.DataFrame:
    """Children of other LAs placed inside the LA against the LA's own placed outside, at 31 March each
    year (DfE, 2018 on): a positive net gain makes the LA an in-placer (it hosts more than it sends)."""
    li = indicators[(indicators["area_code"] == area) & indicators["indicator"].isin(NET_GAIN) & (indicators["measure"] == "number")]
    # every year the DfE published a row for, suppressed values included (they stay NaN, never 0)
    t = li.groupby(["year", "indicator"])["value"].first().unstack("indicator").reindex(columns=list(NET_GAIN))
    t = t.reset_index()
    t.columns.name = None
    t["placer"] = np.select([t["net_gain"] > 0, t["net_gain"] < 0], ["in-placer", "out-placer"], default="balanced")
    t.loc[t["net_gain"].isna(), "placer"] = "not published"
    return t


def net_gain_neighbours(indicators: pd.DataFrame, population: pd.DataFrame, s, year: int) -> pd.DataFrame:
    """Net gain per 10,000 children in one year for the LA and each statistical neighbour."""
    pop = _population(population, year)
    rows = []
    for code in [s.la_code, *s.neighbours]:
        v = published_value(indicators, code, "net_gain", year)
        rows.append(
            {
                "area": s.names.get(code, code),
                "is_la": code == s.la_code,
                "net_gain": v,
                "per_10k": 10000 * v / pop.get(code, np.nan) if pd.notna(v) else np.nan,
            }
        )
    return pd.DataFrame(rows)


def inside_share(indicators: pd.DataFrame, la_code: str) -> pd.DataFrame:
    """The share of all the LA's children looked after placed inside its boundary at 31 March (DfE)."""
    li = indicators[(indicators["area_code"] == la_code) & (indicators["indicator"] == "locality_inside")]
    t = li.pivot_table(index="year", columns="measure", values="value", aggfunc="first")
    return pd.DataFrame({"year": t.index, "inside": t.get("number"), "inside_pct": t.get("percent")}).reset_index(drop=True)


NEW_PLACEMENTS = {
    "new_placements_inside_under_20": "inside, under 20 miles",
    "new_placements_inside_over_20": "inside, over 20 miles",
    "new_placements_outside_under_20": "outside, under 20 miles",
    "new_placements_outside_over_20": "outside, over 20 miles",
    "new_placements_distance_unknown": "distance not known",
}


def new_placements(indicators: pd.DataFrame, area: str) -> pd.DataFrame:
    """New placements made in each year by where they are (inside or outside the LA's boundary) and how far
    from home, as the DfE published them (numbers; the share of all new placements beside the total)."""
    li = indicators[
        (indicators["area_code"] == area) & indicators["indicator"].isin([*NEW_PLACEMENTS, "new_placements"]) & (indicators["measure"] == "number")
    ]
    t = li.groupby(["year", "indicator"])["value"].first().unstack("indicator").reindex(columns=["new_placements", *NEW_PLACEMENTS])
    t = t.rename(columns={"new_placements": "all new placements", **NEW_PLACEMENTS}).reset_index()
    t.columns.name = None
    return t
