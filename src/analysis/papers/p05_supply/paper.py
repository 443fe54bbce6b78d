"""Paper 05: local supply and the sufficiency gap, for every LA from published data, with child-level
detail where the LA's 903 is loaded.

Are there enough homes of the right kind near the children who need them, now and in three years?
The paper sets Ofsted's registered homes and places in the LA (by kind and sector, 2019-2025, beside
its statistical neighbours, region and England) and the DfE's net-gain figures (who uses local homes)
against the pack's forecast of the LA's own children by placement type (the same function and settings
as paper 04, :mod:`analysis.stats.demand`). It says the places to build or commission to meet the LA's
targets for children placed inside its area and in its own homes, the foster households to recruit,
where unaccompanied children stand against the National Transfer Scheme threshold, and how many care
leavers the LA supports. Paper 04 reads its metrics and opens with them ("Sufficiency at a glance").

Modules: :mod:`.inputs` (Data, Settings, setup), :mod:`.supply` (registered places, homes opened and
closed, ratings, net gain), :mod:`.gap` (demand against supply, fostering households, UASC, care
leavers), :mod:`.child_level` (with the 903: where children in homes live, the homes' ratings, missing),
:mod:`.words` (findings), :mod:`.publish` (gated tables, charts' data, metrics.json).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from analysis.papers.p05_supply.child_level import homes_903, missing_by_location, ratings_903  # noqa: F401
from analysis.papers.p05_supply.gap import (  # noqa: F401
    HOME_KINDS,
    TYPE_LABELS,
    TYPES,
    care_leavers,
    children_now,
    demand_forecast,
    foster_households,
    gap_table,
    uasc_threshold,
)
from analysis.papers.p05_supply.inputs import Data, Levers, Settings, history_too_short, setup  # noqa: F401
from analysis.papers.p05_supply.publish import (  # noqa: F401
    GAP_DISCLOSURE,
    HOMES_DISCLOSURE,
    MISSING_DISCLOSURE,
    RATINGS_903_DISCLOSURE,
    publish_tables,
    record_metrics,
    report_context,
    supply_chart_data,
)
from analysis.papers.p05_supply.supply import (  # noqa: F401
    KINDS,
    by_sector,
    homes_flow,
    inside_share,
    la_supply,
    net_gain,
    net_gain_neighbours,
    new_placements,
    places_per_10k,
    places_per_child,
    ratings,
    registered,
)
from analysis.papers.p05_supply.words import findings  # noqa: F401
from analysis.stats import forecast as fc


@dataclass(kw_only=True)
class Results:
    """What paper 05 found (counts of children are gated in :mod:`.publish` before anyone sees them)."""

    supply: pd.DataFrame  # the LA's homes and places by year and kind (LA-run beside)
    sectors: pd.DataFrame  # children's home places by year and sector
    flow: pd.DataFrame  # children's homes each year: opened, closed, short-break-only (Ofsted's provider files)
    ratings: pd.DataFrame  # children's homes by latest overall judgement: LA, region, England
    rates: pd.DataFrame  # places per 10,000 children: LA, neighbours, region, England
    per_child: pd.DataFrame  # places per child of the LA in that placement
    net_gain: pd.DataFrame  # children of other LAs placed inside against own placed outside
    net_gain_neighbours: pd.DataFrame
    inside: pd.DataFrame  # share of all the LA's children placed inside its boundary
    new_placements: pd.DataFrame  # new placements in each year by location and distance (DfE)
    new_placements_england: pd.DataFrame
    forecast: fc.Forecast | None
    no_forecast: str | None  # why there is no forecast, or None
    now: dict[str, float]  # the LA's children by type at the last 31 March
    gap: pd.DataFrame | None
    households: pd.DataFrame | None
    uasc: pd.DataFrame
    care_leavers: pd.DataFrame
    homes: dict[str, float] | None  # with the 903: where its children in children's homes live
    missing: pd.DataFrame | None  # with the 903: missing episodes by placement location
    ratings_903: pd.DataFrame | None  # with the 903: its children in homes by the home's Ofsted judgement


def analyse(data: Data, s: Settings) -> Results:
    """Every figure paper 05 shows."""
    if s.as_at_past_year:
        data = data.up_to(s.last_year)
    reg = registered(data.places)
    supply = la_supply(reg, s.la_code)
    inside = inside_share(data.indicators, s.la_code)
    forecast, no_forecast = demand_forecast(data, s)
    now = children_now(data, s)
    homes = homes_903(data, s)
    if homes is not None:
        inside_now = homes["inside"] / homes["children"] if homes["children"] else float("nan")
    else:
        known = inside.dropna(subset=["inside_pct"])
        inside_now = float(known["inside_pct"].iloc[-1]) / 100 if len(known) else float("nan")
    own_now = None  # the places the LA runs stand in (public counts), with or without the 903
    ng = net_gain(data.indicators, s.la_code)
    ng_year = int(ng["year"].max()) if len(ng) else s.last_year
    return Results(
        supply=supply,
        sectors=by_sector(reg, s.la_code),
        flow=homes_flow(data.providers, s.la_code),
        ratings=ratings(data.providers, s.la_code, s.region_las),
        rates=places_per_10k(reg, data.population, data.lookup, s),
        per_child=places_per_child(supply, data.indicators, s.la_code),
        net_gain=ng,
        net_gain_neighbours=net_gain_neighbours(data.indicators, data.population, s, ng_year),
        inside=inside,
        new_placements=new_placements(data.indicators, s.la_code),
        new_placements_england=new_placements(data.indicators, "E92000001"),
        forecast=forecast,
        no_forecast=no_forecast,
        now=now,
        gap=gap_table(forecast, now, supply, inside_now, own_now, s) if forecast is not None else None,
        households=foster_households(forecast, now.get("fostering", float("nan")), s) if forecast is not None else None,
        uasc=uasc_threshold(data.indicators, data.population, s.la_code),
        care_leavers=care_leavers(data.indicators, s.la_code),
        homes=homes,
        missing=missing_by_location(data, s),
        ratings_903=ratings_903(data, s),
    )


def prime() -> None:
    """Nothing to warm: paper 05 reads the processed tables when it runs."""
