"""Paper 05's publishing: every table through the report's disclosure gate (registered before the
words quote them), the charts' data, the report context and metrics.json (what paper 04 reads for its
"Sufficiency at a glance").

Places and providers are Ofsted's public counts and are shown as registered; children are counted
only in the DfE's published figures (gated again, as published) and, with the LA's 903, in the gap,
homes and missing tables (gated here: 1 to 4 suppressed, and nothing derived from a suppressed count).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from analysis.papers.p05_supply.gap import TYPE_LABELS
from analysis.papers.p05_supply.inputs import Data, Settings
from analysis.papers.p05_supply.supply import AGENCIES, KINDS, NET_GAIN
from analysis.report.disclosure import SUPPRESSED, Gated, gate
from analysis.stats import demand

if TYPE_CHECKING:
    from analysis.papers.p05_supply.paper import Results

#: children in the gap table (forecasts and the places needed for children are counts of children too)
GAP_COUNTS = ["children_now", "forecast", "lower_95", "upper_95"]
#: places needed and extra: worked out from the forecast and today's shares (model quantities, not counts of
#: children); hidden with their row when its forecast is, and when the 903 count they come from is hidden
GAP_DERIVED = [
    "needed_inside",
    "extra_inside",
    "extra_inside_lower",
    "extra_inside_upper",
    "needed_own",
    "extra_own",
    "extra_own_lower",
    "extra_own_upper",
]
GAP_DISCLOSURE = {"not_counts": ["places_registered", "places_la_run", *GAP_DERIVED], "independent": ["places_registered", "places_la_run"]}
HOMES_DISCLOSURE = {"counts": ["children", "inside", "within_20_miles", "distance_known"]}
MISSING_DISCLOSURE = {
    "counts": ["inside the LA", "outside the LA", "all"],
    "row_total": "all",
    "total_row": "all placements",
    "label_column": "placement",
}
RATINGS_903_DISCLOSURE = {
    "counts": ["children", "good_or_outstanding", "requires_improvement_or_inadequate", "not_yet_inspected", "urn_not_found"],
    "row_total": "children",
    "total_row": "all",
    "label_column": "where",
}
#: columns of the gap derived from the LA's children in children's homes inside its area / in its own homes (903)
FROM_INSIDE = ["needed_inside", "extra_inside", "extra_inside_lower", "extra_inside_upper"]
FROM_OWN = ["needed_own", "extra_own", "extra_own_lower", "extra_own_upper"]


def supply_table(res: Results) -> pd.DataFrame:
    """The LA's registered places by kind (homes for agencies) and year, with the LA-run children's home places."""
    t = res.supply.pivot_table(index="year", columns="kind", values="places", aggfunc="first", dropna=False).reindex(
        columns=[k for k in KINDS if k not in AGENCIES]
    )
    t.columns = [f"{k}: places" for k in t.columns]
    homes = res.supply[res.supply["kind"] == "children's homes"].set_index("year")
    t["children's homes: run by the LA"] = homes["la_run_places"]
    for k in AGENCIES:
        t[f"{k}: agencies"] = res.supply[res.supply["kind"] == k].set_index("year")["providers"]
    t.columns.name = None
    return t.reset_index()


def rates_table(res: Results) -> pd.DataFrame:
    """Places (agencies for fostering agencies) per 10,000 children in the latest year, beside comparators."""
    r = res.rates[res.rates["year"] == res.rates["year"].max()]
    return r.rename(columns={"la": "LA", "neighbours": "statistical neighbours (mean)", "region": "region", "england": "England"}).round(1)


def supply_chart_data(res: Results, s: Settings) -> Gated:
    """Places per 10,000 children by year, LA beside comparators, for the trend chart (public counts)."""
    long = res.rates.melt(id_vars=["year", "kind", "measure"], value_vars=["la", "neighbours", "region", "england"], var_name="series")
    long["series"] = long["series"].map({"la": "LA", "neighbours": "comparators", "region": "region", "england": "England"})
    return gate(long.rename(columns={"kind": "measure", "measure": "what"}).drop(columns="what"), counts=[])


def _gap_force(res: Results, homes: Gated | None, gap: pd.DataFrame) -> pd.DataFrame | None:
    """Gap cells to hide because the 903 count they are worked out from (children's-home children inside
    the LA, or in its own homes) is hidden in the homes table: the gap would otherwise give it back."""
    if homes is None or res.homes is None:
        return None
    row = homes.frame.iloc[0]
    homes_rows = gap["placement"].eq(TYPE_LABELS["children's home"])
    mask = pd.DataFrame(False, index=gap.index, columns=[c for c in FROM_INSIDE + FROM_OWN if c in gap.columns])  # not counts: hidden here
    for col, derived in (("inside", FROM_INSIDE),):
        if row[col] == SUPPRESSED:
            for c in derived:
                if c in mask.columns:
                    mask[c] = homes_rows
    return mask if mask.to_numpy().any() else None


def _households_shown(households: pd.DataFrame, gap: Gated | None) -> pd.DataFrame:
    """The households table with a year's figures hidden (c) where that year's fostering forecast is: they
    are worked out from it and would give it back."""
    if gap is None:
        return households
    g = gap.frame
    hidden = set(g.loc[(g["placement"] == TYPE_LABELS["fostering"]) & g["forecast"].map(lambda v: isinstance(v, str)), "year"])
    out = households.astype({c: object for c in households.columns if c != "year"})
    for c in out.columns:
        if c != "year":
            out.loc[out["year"].isin(hidden), c] = SUPPRESSED
    return out


def publish_tables(report, res: Results, s: Settings) -> dict[str, Gated]:
    """Register every table with the report (shown later, where the notebook puts it) and return them gated."""
    src = "Source: Ofsted, children's social care providers and places at 31 March (active registrations)."
    report.register("supply", supply_table(res), title="Registered places in the LA at 31 March, by kind", counts=[], published=True, notes=src)
    report.register(
        "places_per_10k",
        rates_table(res),
        title="Places per 10,000 children aged 0-17, latest year, beside comparators",
        counts=[],
        published=True,
        notes=src + " Fostering agencies: agencies per 10,000 children (an agency is not a number of places). ONS mid-year child population.",
    )
    report.register("sectors", res.sectors, title="Children's home places in the LA by sector", counts=[], published=True, notes=src)
    report.register(
        "homes_flow",
        res.flow,
        title="Children's homes in the LA at 31 March: opened, closed and short-break-only",
        counts=[],
        not_counts=["homes", "places", "short_break_only", "opened", "closed", "places_opened", "places_closed"],
        published=True,
        notes="Source: Ofsted, provider-level data at 31 March (every registered children's home by URN). Opened: a home registered in the LA "
        "this year and not the year before; closed: the reverse (a home that moved LA counts as closed in one and opened in the other). "
        "Short-break-only homes (Ofsted's flag, from 2021) do not take children to live.",
    )
    report.register(
        "ratings",
        res.ratings,
        title="Children's homes by their latest Ofsted judgement (overall experiences and progress), latest 31 March",
        counts=[],
        not_counts=["Outstanding", "Good", "Requires improvement", "Inadequate", "not yet inspected"],
        published=True,
        decimals={"good_or_outstanding_pct": 0},
        notes="Homes that take children to live (short-break-only homes left out). Good or outstanding: of the homes inspected. Source: Ofsted.",
    )
    pc = res.per_child.copy()
    report.register(
        "per_child",
        pc,
        title="Places registered in the LA per child of the LA in that kind of placement at 31 March",
        counts=["children"],
        not_counts=["places"],
        published=True,
        decimals={"places_per_child": 2},
        notes="Children: the LA's own children looked after in children's homes (secure units, homes and hostels) or in independent "
        "and semi-independent living, as the DfE published them. Above 1: more places in the area than the LA's own children in such homes.",
    )
    ng = res.net_gain.rename(columns=NET_GAIN)
    report.register(
        "net_gain",
        ng,
        title="Who uses homes in the LA: children of other LAs placed inside it, and its own placed outside, at 31 March",
        counts=[NET_GAIN["placed_in_by_other_las"], NET_GAIN["placed_outside_boundary"]],
        not_counts=[NET_GAIN["net_gain"]],
        published=True,
        notes="Source: DfE, children looked after at 31 March by LA of placement. In-placer: hosts more children of other LAs than it places outside.",
    )
    report.register(
        "net_gain_neighbours",
        res.net_gain_neighbours.drop(columns="is_la"),
        title="Net gain per 10,000 children: the LA and its statistical neighbours",
        counts=[],
        not_counts=["net_gain"],
        published=True,
        decimals={"per_10k": 1},
    )
    npl = res.new_placements
    report.register(
        "new_placements",
        npl,
        title="New placements made in the year by where they are and how far from home",
        counts=[c for c in npl.columns if c != "year"],
        row_total="all new placements",
        published=True,
        notes="Source: DfE, new placements during the year by location (inside or outside the LA's boundary) and distance from home. "
        "The DfE did not publish this table for every year; a blank year was not published.",
    )
    homes = None
    if res.homes is not None:
        homes = report.register(
            "homes_903",
            pd.DataFrame([res.homes]),
            title="The LA's children in children's homes at the last 31 March: inside its area and within 20 miles of home (903)",
            **HOMES_DISCLOSURE,
        )
    gap = None
    if res.gap is not None:
        force = _gap_force(res, homes, res.gap)
        gap = report.register(
            "gap",
            gate(res.gap, counts=[c for c in GAP_COUNTS if c in res.gap.columns], force=force, **GAP_DISCLOSURE),
            title="Demand against supply by placement type: children forecast and places in the area",
            published=s.source == demand.FROM_PUBLISHED,
            notes="Forecast: the pack's current-trends forecast (paper 04's model and settings) with its 95% interval. Places: registered in the LA "
            "(children's homes include secure homes and residential special schools registered as homes); fostering capacity is households, below. "
            "Needed inside / in own homes: the forecast at the target share (or today's, when no target is set); extra: beyond what is used now.",
        )
    if res.households is not None:
        report.register(
            "foster_households",
            _households_shown(res.households, gap),
            title="The LA's own (in-house) foster households: needed and to recruit each year",
            counts=[],
            not_counts=["households_needed", "to_recruit", "to_recruit_lower", "to_recruit_upper"],
            published=s.source == demand.FROM_PUBLISHED,
            notes="; ".join(f"{k}: {v}" for k, v in s.levers.sources.items()),
        )
    report.register(
        "uasc",
        res.uasc.drop(columns=["flag"]),
        title="Unaccompanied asylum-seeking children looked after at 31 March, against the National Transfer Scheme threshold",
        counts=["uasc_looked_after"],
        independent=["child_population", "population_year", "threshold"],
        published=True,
        decimals={"threshold": 1},
        notes="Threshold: 0.1% of the LA's children aged 0-17 (ONS mid-year estimate of the year, or the latest before it). Source: DfE.",
    )
    report.register(
        "care_leavers",
        res.care_leavers,
        title="Care leavers the LA is in touch with, and those in suitable accommodation",
        counts=["care_leavers", "suitable"],
        published=True,
        notes="Source: DfE, care leavers by age. Not published by LA: staying put, and accommodation by type for 18-21s.",
    )
    if res.ratings_903 is not None:
        report.register(
            "ratings_903",
            res.ratings_903,
            title="The LA's children in children's homes at the last 31 March, by the Ofsted judgement of the home they live in (903)",
            notes="The placement's URN joined to Ofsted's provider-level file of the same 31 March. URN not found: missing or mistyped in "
            "the return, a home registered after 31 March, or a setting that is not a children's home. No home is named.",
            **RATINGS_903_DISCLOSURE,
        )
    if res.missing is not None:
        report.register(
            "missing",
            res.missing,
            title="Missing episodes in the last year by where the child was placed (903)",
            **MISSING_DISCLOSURE,
        )
    return report.registered()


def _value(v: object) -> object:
    if isinstance(v, (np.integer, np.floating)):
        v = v.item()
    return None if isinstance(v, float) and np.isnan(v) else v


def record_metrics(report, res: Results, s: Settings) -> None:
    """The figures paper 04 opens with, as this report's tables print them."""
    sup = report.published("supply").gated.frame
    last = sup[sup["year"] == sup["year"].max()].iloc[0]
    report.metric(
        "supply_now",
        {k: _value(last.get(f"{k}: places")) for k in KINDS if k not in AGENCIES}
        | {"children's homes run by the LA": _value(last.get("children's homes: run by the LA"))}
        | {k: _value(last.get(f"{k}: agencies")) for k in AGENCIES},
        year=int(last["year"]),
    )
    ng = report.published("net_gain").gated.frame
    if len(ng):
        r = ng.iloc[-1]
        report.metric("net_gain", _value(r[NET_GAIN["net_gain"]]), year=int(r["year"]), placer=r["placer"])
    if res.gap is not None:
        g = report.published("gap").gated.frame
        report.metric(
            "gap",
            [{k: _value(v) for k, v in row.items()} for row in g.to_dict(orient="records")],
            source=s.source,
        )
    else:
        report.metric("gap", None, reason=res.no_forecast)
    if res.households is not None:
        h = report.published("foster_households").gated.frame
        report.metric("foster_households", [{k: _value(v) for k, v in row.items()} for row in h.to_dict(orient="records")])
    u = report.published("uasc").gated.frame
    if len(u):
        r = u.iloc[-1]
        report.metric(
            "uasc", _value(r["uasc_looked_after"]), kind="count", year=int(r["year"]), threshold=_value(r["threshold"]), position=r["position"]
        )
    cl = report.published("care_leavers").gated.frame
    if len(cl):
        latest = cl[cl["year"] == cl["year"].max()]
        report.metric(
            "care_leavers",
            {
                r["age"]: {"care_leavers": _value(r["care_leavers"]), "suitable_pct": _value(r["suitable_pct"])}
                for r in latest.to_dict(orient="records")
            },
            year=int(latest["year"].iloc[0]),
        )
    fl = report.published("homes_flow").gated.frame
    last_flow = fl.iloc[-1]
    report.metric("homes_flow", {k: _value(last_flow[k]) for k in ("homes", "opened", "closed", "short_break_only")}, year=int(last_flow["year"]))
    rt = report.published("ratings").gated.frame.set_index("area")
    report.metric(
        "homes_good_or_outstanding_pct", _value(rt.at["LA", "good_or_outstanding_pct"]), england=_value(rt.at["England", "good_or_outstanding_pct"])
    )
    report.metric("levers", {"target_inside_share": s.levers.inside_share, "target_own_share": s.levers.own_share, **s.levers.sources})


def report_context(data: Data, s: Settings) -> dict:
    own = s.source == demand.FROM_903
    return {
        "la_code": s.la_code,
        "la_name": s.la_name,
        "data": ("synthetic 903 (generated; not real children)" if data.truth is not None else "the LA's own 903 returns")
        + " with the published figures"
        if own
        else "published data only",
        "data_vintage": {"demand history": f"{s.years[0]}-{s.years[-1]}", "Ofsted places": "31 March 2019-2025"},
        "forecast": f"fit on {s.fit_years} years, {s.bootstrap} resamples (paper 04's settings)",
    }
