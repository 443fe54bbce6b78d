"""Paper 04's publishing: gated tables (provision and gap through the report's ledger), chart data,
the sibling papers' summaries and metrics.json."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from analysis.papers.p04_sufficiency import scenarios as scn
from analysis.papers.p04_sufficiency.analysis import (
    ALL_GROUPS,
    FORECAST_DISCLOSURE,
    SCENARIO_COSTS_DISCLOSURE,
    forecast_table,
    monthly_projection,
    needs_disclosure,
)
from analysis.papers.p04_sufficiency.inputs import CURRENT, FROM_903, Data, Settings
from analysis.papers.p04_sufficiency.siblings import glance_table, paper01_table, paper02_table, paper03_table, paper_summary
from analysis.papers.p04_sufficiency.words import backtest_note
from analysis.report.disclosure import Gated, gate, published_figures
from analysis.report.ledger import Keys
from analysis.stats import forecast as fc

if TYPE_CHECKING:
    from analysis.papers.p04_sufficiency.paper import Results


#: the provider columns of the provision table, and the part each holds in the report's ledger
PROVIDER_PARTS = {
    "LA's own": "LA's own",
    "external (private or voluntary)": "external (private or voluntary)",
    "other (parents, other LAs, public bodies)": "other",
    "total": "all providers",
}


def supply_keys(s: Settings) -> tuple[Keys, Keys]:
    """What the provision and gap tables count, for the report's ledger: children at the last 31 March by
    placement group and provider. The gap table repeats the total and the LA's own, so they are one quantity."""
    what = f"children at 31 March {s.last_year}"
    return Keys(what, "group", PROVIDER_PARTS), Keys(what, "group", {"children_now": "all providers", "in_own_provision_now": "LA's own"})


def register_supply(report, res: Results, s: Settings) -> tuple[Gated | None, Gated | None]:
    """Register the provision and gap tables in the report (shown later, under "Supply and gaps"), so that
    the key messages quote them as the tables print them and neither table can be set against the other
    to work out a suppressed count. Returns the gated tables (None where there is none)."""
    prov_keys, gap_keys = supply_keys(s)
    prov = gap = None
    if res.provision is not None:
        prov = report.table(
            "provision",
            res.provision,
            title=f"Children at 31 March {s.last_year} by placement group and provider",
            counts=[c for c in res.provision.columns if c not in ("group", "total")],
            row_total="total",
            total_row=ALL_GROUPS,
            label_column="group",
            keys=prov_keys,
            show=False,
        )
    if res.gap is not None:
        gap = report.table(
            "gap",
            res.gap,
            title=f"Forecast demand in {s.last_year + s.forecast_years} against the LA's own provision now",
            **gap_disclosure(res.gap),
            keys=gap_keys,
            show=False,
            notes="Extra places needed to keep today's share of each group in the LA's own provision, on current trends.",
        )
    return prov, gap


def gap_disclosure(gap: pd.DataFrame) -> dict:
    """How the gap table is gated: every figure in it is a number of children (forecast or now)."""
    # the extra places follow from the forecast, the children now and the LA's own: hidden with the LA's own
    extra = [c for c in gap.columns if c.startswith("extra_places")]
    return {
        "counts": [c for c in gap.columns if c != "group"],
        "total_row": ALL_GROUPS,
        "label_column": "group",
        "linked": {"in_own_provision_now": extra},
    }


#: the back-test's forecast and recorded totals are counts; its errors go with them
BACKTEST_DISCLOSURE = {"counts": ["forecast", "actual"]}
GROUP_FORECAST_DISCLOSURE = {"counts": ["children", "lower_80", "upper_80", "lower_95", "upper_95"], "groups": "year"}
#: children at 31 March, entries and exits by year: counts tied by stock = last year's stock + entries - exits
FLOWS_DISCLOSURE = {"counts": ["entries", "cla_31_march", "exits"], "stock_flow": ("cla_31_march", "entries", "exits")}


MONTHLY_DISCLOSURE = {"counts": ["children", "lower_95", "upper_95"], "groups": "month"}


def forecast_chart_data(hist: pd.DataFrame, forecasts: dict[str, fc.Forecast], *, synthetic: bool = False, source: str = FROM_903) -> Gated:
    """The recorded series and each scenario's forecast, gated (every point is a number of children); with
    synthetic data every series label says so."""
    mark = " (synthetic)" if synthetic and source == FROM_903 else ""
    where = "Recorded in the 903" if source == FROM_903 else "Published by the DfE"
    rows = [{"series": f"{where}{mark}", "year": int(y), "mean": float(v), "lower": np.nan, "upper": np.nan} for y, v in hist.sum(axis=1).items()]
    for name, f in forecasts.items():
        rows += [
            {"series": f"Forecast: {name}{mark}", "year": int(r.year), "mean": round(r.mean), "lower": round(r.lower), "upper": round(r.upper)}
            for r in f.total.itertuples()
        ]
    return gate(pd.DataFrame(rows), counts=["mean", "lower", "upper"])


def group_forecast_table(f: fc.Forecast) -> pd.DataFrame:
    t = f.by_group[["year", "group", "mean", "lower_80", "upper_80", "lower", "upper"]].round(0)
    return t.rename(columns={"mean": "children", "lower": "lower_95", "upper": "upper_95"})


def record_figures(
    report,
    s: Settings,
    found: dict,
    forecasts: dict | None,
    scores: pd.DataFrame | None,
    truth_t: pd.DataFrame | None,
    costs_t: pd.DataFrame | None,
    heldout: pd.DataFrame | None = None,
) -> None:
    report.metric("papers_included", [pid for pid, m in found.items() if m], missing=[pid for pid, m in found.items() if not m])
    report.metric("forecast_source", s.source)
    if forecasts:  # from the gated forecast table: a forecast of 1 to 4 children is suppressed here as in the tables
        ft = gate(forecast_table(forecasts), **FORECAST_DISCLOSURE).frame
        report.metric(
            "forecast_children",
            {
                name: {str(int(r.year)): {"mean": r.children, "lower_95": r.lower_95, "upper_95": r.upper_95} for r in g.itertuples()}
                for name, g in ft.groupby("scenario", sort=False)
            },
        )
        report.metric("forecast_weight_on_model", round(forecasts[CURRENT].weight, 2))
    if scores is not None:
        report.metric(
            "backtest",
            {
                f"{r.method} {r.years_ahead}y": {
                    "mape_total": r.mape_total,
                    "bias_pct": r.bias_pct,
                    "forecasts": r.forecasts,
                    **(
                        {"coverage_95_pct": r.coverage_95_pct}
                        if isinstance(getattr(r, "coverage_95_pct", None), float) and not np.isnan(r.coverage_95_pct)
                        else {}
                    ),
                }
                for r in scores.itertuples()
            },
        )
    if costs_t is not None and "annual_cost_gbp" in costs_t.columns:
        gc = gate(costs_t, **SCENARIO_COSTS_DISCLOSURE).frame
        report.metric("scenario_annual_cost_gbp", {f"{r.scenario} {r.year}": r.annual_cost_gbp for r in gc.itertuples()})
    if truth_t is not None:
        section = {
            f"{r.rate}: {r.who}": {
                "planted": r.planted_rate,
                "estimate": r.estimated_rate,
                "lower_95": r.rate_lower_95,
                "upper_95": r.rate_upper_95,
                "recovered": bool(r.recovered),
            }
            for r in truth_t.itertuples()
        }
        if heldout is not None:
            g = gate(heldout, **HELDOUT_DISCLOSURE).frame
            section |= {
                f"children looked after at 31 March {r.year} (forecast from {r.forecast_from})": {
                    "recorded": r.recorded,
                    "forecast": r.forecast,
                    "lower_95": r.lower_95,
                    "upper_95": r.upper_95,
                    "recovered": r.inside_95 == "yes",
                }
                for r in g.itertuples()
            }
        report.section("planted_truth", section)


def report_context(data: Data, s: Settings) -> dict:
    if s.source == FROM_903:
        what = "synthetic 903 (generated; not real children)" if data.truth is not None else "the LA's own 903 returns"
        vintage = {
            "903 collection years": f"{min(data.report['collection_years'])}-{max(data.report['collection_years'])}",
            "published figures": "as in papers 01 and 03 of the same run",
        }
    else:
        what = "published DfE figures (children looked after in England, by LA)"
        vintage = {"published figures": f"years ending 31 March {s.years[0]}-{s.last_year}"}
    return {
        "la_code": s.la_code,
        "la_name": s.la_name,
        "years": f"{s.years[0]}-{s.years[-1]}",
        "data": what,
        "scenarios": "; ".join(s.scenario_names[1:]),
        "data_vintage": vintage,
    }


def data_quality(data: Data, s: Settings) -> pd.DataFrame:
    if s.source != FROM_903:
        return pd.DataFrame(
            [("source", "published DfE figures; suppressed cells filled with an equal share of what the published categories leave")],
            columns=["item", "value"],
        )
    r = data.report
    rows = [
        ("903 collection years", f"{r['collection_years'][0]}-{r['collection_years'][-1]}"),
        ("rows set aside by validation", r.get("rows_set_aside")),
        ("warnings (rows kept)", r.get("warnings")),
        ("episodes after stitching", r.get("episodes_after_stitching")),
        ("episodes closed by stitching", r.get("episodes_closed_by_stitching")),
        ("placement postcodes not found", r.get("placement_postcodes_not_found")),
        ("placement cost rows matched / in", f"{r.get('cost_rows_matched', 0)} / {r.get('cost_rows_in', 0)}"),
    ]
    return pd.DataFrame(rows, columns=["item", "value"]).astype({"value": str})


def backtest_table(bt: pd.DataFrame) -> pd.DataFrame:
    """The back-test's forecasts of the total, for the pack (counts: gate with BACKTEST_DISCLOSURE)."""
    t = bt[["origin", "year", "years_ahead", "method", "forecast", "actual"]].copy()
    t["forecast"] = t["forecast"].round(0)
    t["abs_pct_error_total"] = (100 * (t["forecast"] - t["actual"]).abs() / t["actual"].clip(lower=1)).round(1)
    return t.sort_values(["origin", "year", "method"], key=lambda c: c.map({m: i for i, m in enumerate(fc.METHODS)}) if c.name == "method" else c)


def scores_table(bt: pd.DataFrame) -> pd.DataFrame:
    """Mean absolute % error, bias and interval coverage by method and years ahead (no counts of children)."""
    sc = fc.score(bt)
    sc["forecasts"] = sc["forecasts"].astype(int)
    for c in ("mape_total", "bias_pct", "mape_groups"):
        sc[c] = sc[c].round(1)
    for c in ("coverage_80", "coverage_95"):
        if c in sc:
            sc[c] = (100 * sc[c]).round(0)
    return sc.rename(columns={"coverage_80": "coverage_80_pct", "coverage_95": "coverage_95_pct"})


HELDOUT_DISCLOSURE = {"counts": ["recorded", "forecast", "lower_95", "upper_95"], "not_counts": ["forecast_from"]}


def record_metrics(report, res: Results, s: Settings) -> None:
    """The pack's figures into metrics.json, as its tables print them."""
    record_figures(report, s, res.found, res.forecasts, res.backtest_scores, res.truth, res.costs, res.heldout)


def pooled_adoption_table(pooled) -> pd.DataFrame:
    """The adoption rule's verdict per figure (no counts of children: LAs counted, % points of error)."""
    a = pooled.adoption.dropna(subset=["mean_difference"])
    return pd.DataFrame(
        {
            "figure": a["target"],
            "las_back_tested": a["las"].astype(int),
            "difference_in_error_points": a["mean_difference"].round(1),
            "lower_95": a["lower_95"].round(1),
            "upper_95": a["upper_95"].round(1),
            "point_forecast": np.where(a["use_pooled"], "pooled panel model", "no change"),
        }
    ).reset_index(drop=True)


def leading_table(leading: pd.DataFrame) -> pd.DataFrame:
    """What goes with a change in children looked after a year later, across all LAs (model estimates, not counts)."""
    return pd.DataFrame(
        {
            "indicator": leading["label"],
            "change_next_year_pct": leading["effect_pct"].round(1),
            "lower_95": leading["lower_95"].round(1),
            "upper_95": leading["upper_95"].round(1),
        }
    )


def publish_tables(report, res: Results, s: Settings) -> dict[str, Gated]:
    """Register every table of the pack with the report, gated once, in the order the pack shows them
    (``report.show(name)`` displays each where it belongs): the glance first, then provision and gap through
    the ledger (so the key messages quote them as printed), then the rest. Returns the gated tables by name;
    a table whose part did not run is absent."""
    glance = glance_table(res.found["05"])
    if glance is not None:
        report.register("glance", glance, title="Sufficiency at a glance (paper 05)", counts=[])
    register_supply(report, res, s)
    report.register("papers", paper_summary(res.found, res.source, s), title="The papers this pack draws on", counts=[])
    t01 = paper01_table(res.found["01"])
    if t01 is not None:
        report.register(
            "paper01",
            t01,
            title="Headline measures, latest year published (published DfE, RO3 and Ofsted figures)",
            **published_figures(t01, "number"),
            published=True,
            notes="From paper 01 of the same run. Number: the LA's count of children behind the rate or percentage (z: not a count).",
        )
    t02 = paper02_table(res.found["02"])
    if t02 is not None and not t02.empty:
        report.register(
            "paper02",
            t02,
            title="Unplanned endings and the clearest risk factors",
            counts=[],
            notes="Hazard ratios shown where p < 0.05. From paper 02 of the same run.",
        )
    t03 = paper03_table(res.found["03"])
    if t03 is not None and not t03.empty:
        report.register(
            "paper03", t03, title="Spend, the out-of-area premium and the cost scenarios", counts=[], notes="From paper 03 of the same run."
        )
    for name, table in res.needs.items():
        report.register(f"needs_{name.replace(' ', '_')}", table, title=f"Children looked after at 31 March by {name}", **needs_disclosure(table))
    if res.forecasts:
        report.register(
            "forecast", forecast_table(res.forecasts), title="Forecast children looked after at 31 March, by scenario", **FORECAST_DISCLOSURE
        )
        report.register(
            "forecast_by_group",
            group_forecast_table(res.forecasts[CURRENT]),
            title="Forecast by placement group, current trends",
            **GROUP_FORECAST_DISCLOSURE,
        )
        if res.backtest_scores is not None:
            report.register(
                "backtest_scores",
                res.backtest_scores,
                title="How well each method forecast this LA's earlier years (rolling back-test)",
                counts=[],
                notes=backtest_note(s),
            )
            report.register("backtest", backtest_table(res.backtest), title="Back-test forecasts of the total", **BACKTEST_DISCLOSURE)
        if res.pooled_adoption is not None and len(res.pooled_adoption):
            report.register(
                "pooled_adoption",
                res.pooled_adoption,
                title="The pooled panel model against no change, back-tested on every LA's published figures",
                counts=[],
                published=True,
                notes="Difference: mean over LAs of each LA's mean absolute % error of the pooled model less that of no change, one to "
                "three years ahead from every 31 March since 2019 (below zero: the pooled model erred less); 95% interval from "
                "resampling LAs. The pooled model gives a figure's point forecast only where the whole interval is below zero.",
            )
        if res.leading is not None and len(res.leading):
            report.register(
                "leading_indicators",
                leading_table(res.leading),
                title="Across all LAs: % change in children looked after a year later that goes with each indicator",
                counts=[],
                published=True,
                notes="Pooled ridge regression on every LA's published figures (each LA's change against the national one). Changes: a 10% "
                "rise in the indicator over the last year; shares: 10 points higher; the others held. 95% intervals from resampling "
                "LAs. An association across LAs, not a cause, and small beside the year-to-year swings.",
            )
        monthly = monthly_projection(res.forecasts[CURRENT])
        if monthly is not None:
            report.register(
                "monthly_projection",
                monthly,
                title="Monthly projection by age band and placement group, current trends (workbook only)",
                **MONTHLY_DISCLOSURE,
            )
    report.register(
        "flows",
        res.flows,
        title="Entries, exits and children looked after by year",
        **FLOWS_DISCLOSURE,
        notes="From the 903: exits implied by the stock (children at the previous 31 March + entries - children at this 31 March). "
        "From published figures: started and ceased as published.",
    )
    report.register(
        "ofsted_supply",
        res.supply,
        title="Ofsted-registered settings located in the LA (latest year)",
        counts=[],
        published=True,
        notes="Providers and places of every sector located in the LA, whichever LA's children live there.",
    )
    report.register(
        "unit_costs", res.unit_costs, title="Unit costs used (£ a week and a day, price base shown)", counts=[], notes=scn.index_note(res.unit_costs)
    )
    if res.costs_by_type is not None:
        report.register(
            "cost_by_type",
            res.costs_by_type,
            title=f"Current trends in {s.last_year + s.forecast_years}: children and annual cost by placement type",
            counts=["children"],
            decimals={"children": 0, "annual_cost_gbp": 0},
        )
    if res.costs is not None:
        report.register(
            "scenario_costs",
            res.costs,
            title="Projected children and annual placement cost by scenario (£)",
            **SCENARIO_COSTS_DISCLOSURE,
            decimals={"children": 0, "annual_cost_gbp": 0},
            notes="Children at 31 March x the placement-type mix x cost a day x 365 days; prices held at the price base.",
        )
    if res.truth is not None:
        report.register(
            "planted_truth",
            res.truth,
            title="The model's estimated monthly rates against the rates the generator produced",
            counts=["events"],
            decimals={"planted_rate": 4, "estimated_rate": 4, "rate_lower_95": 4, "rate_upper_95": 4},
            notes="Rates: the generator's own count of each flow over the model's fitting years (from its records, not the 903 files) against the "
            "model's estimate from the 903 with an exact Poisson 95% interval; recovered when the planted rate is inside.",
        )
        if res.heldout is not None:
            report.register(
                "heldout", res.heldout, title="The forecast of the held-out years against what the generator produced", **HELDOUT_DISCLOSURE
            )
    report.register("data_quality", res.quality, title="Data quality", counts=[])
    return report.registered()
