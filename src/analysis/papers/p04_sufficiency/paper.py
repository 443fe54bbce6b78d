"""Paper 04: the sufficiency evidence pack, for every LA.

It brings together, for one LA: the needs profile of its children in care, the demand forecast,
supply (Ofsted places in the LA; in-house against external provision) against forecast demand,
projected placement cost by placement type under each scenario, and the headline results of papers
01-03 **from the same run** (their ``metrics.json``). A paper that failed or did not run is named as
missing; its numbers are never taken from an older run without saying so.

Where the project holds the LA's own 903, the forecast is the monthly stock-and-flow model of
:mod:`analysis.stats.forecast` and the profile, provision and truth check come from the 903; for every
other LA the pack is built from the DfE's published figures (:mod:`analysis.stats.published_forecast`)
and says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from analysis.config import Paths, paths
from analysis.io.published_counts import targets_for
from analysis.papers.p04_sufficiency import scenarios as scn
from analysis.papers.p04_sufficiency.analysis import (  # noqa: F401
    ALL_GROUPS,
    FORECAST_DISCLOSURE,
    NOT_SPLIT_IN_PUBLISHED,
    PUBLISHED_PROFILE,
    SCENARIO_COSTS_DISCLOSURE,
    cost_by_type,
    forecast_903,
    forecast_published_data,
    forecast_table,
    gap_table,
    heldout_check,
    monthly_projection,
    needs_disclosure,
    ofsted_supply,
    outside_now,
    own_weekly_costs,
    prior_for,
    profile,
    provision,
    published_flows,
    published_profile,
    scenario_costs,
    type_shares_903,
    type_shares_published,
)
from analysis.papers.p04_sufficiency.inputs import (  # noqa: F401
    AGE_BANDS,
    CURRENT,
    FROM_903,
    FROM_PUBLISHED,
    LEGAL,
    NEED,
    PAPERS,
    Data,
    Settings,
    history_ok,
    setup,
    sibling_metrics,
)
from analysis.papers.p04_sufficiency.publish import (  # noqa: F401
    BACKTEST_DISCLOSURE,
    FLOWS_DISCLOSURE,
    GROUP_FORECAST_DISCLOSURE,
    HELDOUT_DISCLOSURE,
    MONTHLY_DISCLOSURE,
    PROVIDER_PARTS,
    backtest_table,
    data_quality,
    forecast_chart_data,
    gap_disclosure,
    group_forecast_table,
    leading_table,
    pooled_adoption_table,
    publish_tables,
    record_figures,
    record_metrics,
    register_supply,
    report_context,
    scores_table,
    supply_keys,
)
from analysis.papers.p04_sufficiency.siblings import (  # noqa: F401
    P01_MEASURES,
    PUBLISHED_SOURCE,
    glance_table,
    paper01_table,
    paper02_table,
    paper03_empty_reason,
    paper03_table,
    paper_summary,
)
from analysis.papers.p04_sufficiency.words import findings, forecast_caption, key_messages, missing_reason  # noqa: F401
from analysis.stats import forecast as fc
from analysis.stats import published_forecast as fp

#: this module's names and those of the modules it is made of, so callers need only this one
__all__ = [
    "AGE_BANDS",
    "ALL_GROUPS",
    "BACKTEST_DISCLOSURE",
    "CURRENT",
    "Data",
    "FLOWS_DISCLOSURE",
    "FORECAST_DISCLOSURE",
    "FROM_903",
    "FROM_PUBLISHED",
    "GROUP_FORECAST_DISCLOSURE",
    "HELDOUT_DISCLOSURE",
    "LEGAL",
    "MONTHLY_DISCLOSURE",
    "NEED",
    "NOT_SPLIT_IN_PUBLISHED",
    "P01_MEASURES",
    "PAPERS",
    "PROVIDER_PARTS",
    "PUBLISHED_PROFILE",
    "PUBLISHED_SOURCE",
    "Results",
    "SCENARIO_COSTS_DISCLOSURE",
    "Settings",
    "analyse",
    "backtest_table",
    "cost_by_type",
    "data_quality",
    "findings",
    "forecast_caption",
    "forecast_903",
    "forecast_chart_data",
    "forecast_published_data",
    "forecast_table",
    "gap_disclosure",
    "gap_table",
    "glance_table",
    "group_forecast_table",
    "heldout_check",
    "history_ok",
    "key_messages",
    "missing_reason",
    "monthly_projection",
    "needs_disclosure",
    "ofsted_supply",
    "outside_now",
    "own_weekly_costs",
    "paper01_table",
    "paper02_table",
    "paper03_empty_reason",
    "paper03_table",
    "leading_table",
    "paper_summary",
    "pooled_adoption_table",
    "publish_tables",
    "prior_for",
    "profile",
    "provision",
    "published_flows",
    "published_profile",
    "record_figures",
    "record_metrics",
    "register_supply",
    "report_context",
    "scenario_costs",
    "scores_table",
    "setup",
    "sibling_metrics",
    "supply_keys",
    "type_shares_903",
    "type_shares_published",
]


@dataclass(kw_only=True)
class Results:
    found: dict[str, dict | None]
    source: str
    history: pd.DataFrame  # children at 31 March by group (year index)
    needs: dict[str, pd.DataFrame]
    too_short: str | None
    forecasts: dict[str, fc.Forecast] | None
    backtest: pd.DataFrame | None  # every back-test forecast (rolling origins)
    backtest_scores: pd.DataFrame | None
    flows: pd.DataFrame
    truth: pd.DataFrame | None
    heldout: pd.DataFrame | None
    provision: pd.DataFrame | None
    supply: pd.DataFrame
    gap: pd.DataFrame | None
    costs: pd.DataFrame | None
    costs_by_type: pd.DataFrame | None
    unit_costs: pd.DataFrame
    pooled_adoption: pd.DataFrame | None = None  # the pooled model against no change, across LAs, per target (published path)
    leading: pd.DataFrame | None = None  # what the pooled model leans on (all LAs)
    quality: pd.DataFrame  # the data-quality table: what the 903 ingest set aside and flagged, or the published figures' gaps
    notes: list[str] = field(default_factory=list)


def analyse(data: Data, s: Settings, output_dir: str, p: Paths | None = None) -> Results:
    """Every number the pack shows; the forecast is skipped, with the reason, when the history is too short."""
    p = p or paths()
    if s.as_at_past_year:  # nothing published after the pack's 31 March (pre-2019 starts are estimated from the years to it)
        data = data.up_to(s.last_year)
    found, source = sibling_metrics(output_dir, s.la_code, p)
    if s.as_at_past_year:  # the other papers use the latest figures: a pack as at a past year does not draw on them
        found = dict.fromkeys(found)
    too_short = history_ok(s)
    notes = list(s.notes)
    forecasts = bt = truth = heldout = prov = gap = pooled = None
    if s.source == FROM_903:
        snap = fc.snapshots(
            data.placements, data.periods, data.children, fc.month_ends(pd.Timestamp(s.years[0] - 1, 4, 1), pd.Timestamp(s.last_year, 3, 31))
        )
        hist = fc.history(snap, s.years)
        needs = profile(data, s, snap)
        if not too_short:
            forecasts, bt, weight = forecast_903(data, s, snap)
            beside = data.pooled(s.last_year)  # the model pooled across LAs, in the back-test beside the 903 model's
            rows = beside.la_backtest(s.la_code, hist) if beside is not None else pd.DataFrame()
            if len(rows):  # none for an LA the published figures do not hold
                bt = pd.concat([bt, rows], ignore_index=True)
        flows_t = fc.annual_flows(snap, data.periods, s.years)
        window = s.years[-min(s.fit_years, len(s.years) - 1) :]
        planted = fc.planted_rates(data.truth, window) if data.truth is not None and len(s.years) > 1 else None
        if planted is not None:
            truth = fc.truth_check(fc.fit(snap, pd.Timestamp(s.last_year, 3, 31), len(window)), planted, window)
            heldout = heldout_check(bt, s) if bt is not None else None
        prov = provision(data, s)
        shares = type_shares_903(data, s)
        own = own_weekly_costs(data)
    else:
        t = targets_for(data.indicators, s.la_code)  # the LA's published counts, read once
        h = fp.published_history(t)
        hist = h.loc[s.years[0] : s.last_year, list(fc.GROUPS)]
        needs = published_profile(t, s.years)
        if not too_short:
            pooled = data.pooled(s.last_year)
            published = fp.own_published(data.published_panel(), s.la_code)  # the LA's own swings are measured on it
            forecasts, bt, weight, more = forecast_published_data(h, s, prior_for(data, s), pooled, published)
            notes += more
        flows_t = published_flows(h, s.years)
        shares = type_shares_published(t, s.last_year)
        own = {}
    if forecasts:
        gap = gap_table(forecasts[CURRENT], prov, s.last_year + s.forecast_years) if prov is not None else None
    unit = scn.unit_cost_table(s.unit_costs, own)
    costs = scenario_costs(forecasts, shares, unit) if forecasts else None
    unknown = {} if s.source == FROM_903 else NOT_SPLIT_IN_PUBLISHED
    by_type = cost_by_type(forecasts[CURRENT], shares, unit, unknown) if forecasts else None
    return Results(
        found=found,
        source=source,
        history=hist,
        needs=needs,
        too_short=too_short,
        forecasts=forecasts,
        backtest=bt,
        backtest_scores=scores_table(bt) if bt is not None and len(bt) else None,
        flows=flows_t,
        truth=truth,
        heldout=heldout,
        provision=prov,
        supply=ofsted_supply(p, s.la_code, s.last_year),
        gap=gap,
        costs=costs,
        costs_by_type=by_type,
        unit_costs=unit,
        quality=data_quality(data, s),
        pooled_adoption=pooled_adoption_table(pooled) if pooled is not None else None,
        leading=pooled.explain() if pooled is not None else None,
        notes=notes,
    )
