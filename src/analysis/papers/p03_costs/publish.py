"""Paper 03's publishing: gated tables, the report context and metrics.json."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from analysis.papers.p03_costs.paper import Results

import numpy as np
import pandas as pd

from analysis.papers.p03_costs.inputs import EVIDENCE_UNIT_COSTS, Data, Settings
from analysis.papers.p03_costs.within import VMP_DISCLOSURE, Within, cost_reconciliation, truth_metrics
from analysis.report.disclosure import Gated
from analysis.report.reporting import SYMBOLS_NOTE


def truth_table(truth: pd.DataFrame) -> pd.DataFrame:
    """The planted cost effects as the paper shows them (log scale)."""
    t = truth.rename(columns={"label": "effect_label"})
    return pd.DataFrame(
        {
            "effect": t["effect_label"],
            "planted": t["planted"],
            "estimate": t["estimate"],
            "lower": t["lower"],
            "upper": t["upper"],
            "interval_width": t["interval_width"],
            "power_pct": (100 * t["power"]).round(0),
            "assessment": t["assessment"],
        }
    )


def report_context(data: Data | None, s: Settings) -> dict:
    held = data is not None and data.report.get("la_code") == s.la_code
    return {
        "la_code": s.la_code,
        "la_name": s.la_name,
        "region": str(s.la["region_name"]),
        "statistical_neighbours": ", ".join(s.names.get(c, c) for c in s.neighbours),
        "unit_costs": {
            k: f"£{v:,.0f} a week ({EVIDENCE_UNIT_COSTS[k][1]})" if v == EVIDENCE_UNIT_COSTS[k][0] else f"£{v:,.0f} a week (set by the user)"
            for k, v in s.unit_costs.items()
        },
        "data": (  # the 903 counts only when it is this LA's: another LA's synthetic 903 makes nothing here synthetic
            "synthetic 903 and costs (generated; not real children)"
            if held and data.truth is not None
            else "the LA's own 903 and costs"
            if held and data.costs is not None
            else "published data only"
        ),
    }


def record_metrics(report, res: Results, s: Settings) -> None:
    across, position, within = res.across, res.position, res.within
    report.metric(
        "across_la_coefficients",
        {
            r.term: {
                "pct_change_per_unit": round(r.pct_change, 2),
                "lower_95": round(r.lower_pct, 2),
                "upper_95": round(r.upper_pct, 2),
                "p": float(r.p),
            }
            for r in across.table.itertuples()
        },
        r2=round(across.r2, 3),
        las=across.n_las,
        observations=across.n_obs,
    )
    me = position[position["is_la"]]
    if len(me):
        r = me.iloc[0]
        report.metric(
            "spend_per_child",
            float(r.actual_spend_per_child),
            predicted=float(r.predicted_spend_per_child),
            unexplained_pct=float(r.unexplained_pct),
            year=int(r.year),
        )
    if isinstance(within, Within):
        report.metric(
            "within_la_cost_effects",
            {
                r.term: {"pct_change": round(r.pct_change, 2), "lower_95": round(r.lower_pct, 2), "upper_95": round(r.upper_pct, 2)}
                for r in within.fit.table.itertuples()
            },
            placements=within.fit.n,
        )
        report.metric(
            "out_of_area_premium",
            {
                r.part: {
                    "log_points": round(r.log_points, 4),
                    "lower_95": round(r.lower, 4),
                    "upper_95": round(r.upper, 4),
                    "pct": round(r.pct_premium, 2),
                }
                for r in within.oaxaca.itertuples()
            },
        )
        report.metric("volume_mix_price", {r.part: round(r.gbp, 0) for r in within.vmp.itertuples()}, years=list(within.years))
        report.metric(
            "scenarios",
            [
                {k: (round(v, 0) if isinstance(v, float) and np.isfinite(v) else (None if isinstance(v, float) else v)) for k, v in row.items()}
                for row in within.scenarios.to_dict("records")
            ],
        )
        if within.truth is not None:
            report.section("planted_truth", truth_metrics(within.truth))
    else:
        report.metric("within_la", within)


def publish_tables(report, res: Results, s: Settings) -> dict[str, Gated]:
    """Register every table of the paper with the report, gated once, in the order the paper shows them
    (``report.show(name)`` displays each where it belongs); returns the gated tables by name. The within-LA
    tables are absent when the LA's 903 and costs are not held."""
    t = res.across.table
    report.register(
        "across_la_model",
        t[["label", "pct_change", "lower_pct", "upper_pct", "p"]].rename(columns={"label": "measure"}),
        title="Across LAs: % difference in spend per child looked after per 10-point difference",
        counts=[],
        published=True,
        decimals={"pct_change": 1, "lower_pct": 1, "upper_pct": 1, "p": 4},
    )
    report.register(
        "across_la_vif",
        res.across.vif,
        title="Diagnostics: variance inflation factors (above 5 means the measures overlap strongly)",
        counts=[],
        published=True,
        decimals={"vif": 2},
    )
    report.register(
        "la_against_prediction",
        res.position.drop(columns="is_la"),
        title="Actual and predicted spend per child looked after (£)",
        counts=[],
        published=True,
        decimals={"unexplained_pct": 1},
    )
    within = res.within
    if not isinstance(within, Within):
        return report.registered()
    report.register(
        "cost_model",
        within.fit.table[["label", "pct_change", "lower_pct", "upper_pct", "p"]].rename(columns={"label": "term"}),
        title="Within the LA: % difference in weekly cost",
        counts=[],
        decimals={"pct_change": 1, "lower_pct": 1, "upper_pct": 1, "p": 4},
    )
    report.register("cost_coverage", within.coverage, title="Placements with a cost", counts=["placements"])
    report.register(
        "cost_rows",
        cost_reconciliation(within.cost_report),
        title="Cost file rows: matched and set aside",
        counts=["rows"],
        total_row="cost rows in the file(s)",
        label_column="step",
        notes="Rows in = matched + set aside. " + SYMBOLS_NOTE,
    )
    report.register(
        "out_of_area_premium",
        within.oaxaca,
        title="Out-of-area premium: Oaxaca-Blinder decomposition (log points and %)",
        counts=[],
        decimals={"log_points": 3, "lower": 3, "upper": 3, "share_of_gap_pct": 0, "pct_premium": 1},
    )
    report.register(
        "volume_mix_price",
        within.vmp.round({"gbp": 0}),
        title=f"Spend on costed placements, {within.years[0]} to {within.years[1]} (£)",
        counts=[],
        decimals={"gbp": 0},
    )
    report.register(
        "volume_mix_price_cells",
        within.vmp_cells,
        title="By type and provider: children, placement-weeks, spend and cost a week",
        decimals=0,
        notes="Children: those whose costed placements ran in the year (a child in two kinds of placement counts in each). " + SYMBOLS_NOTE,
        **VMP_DISCLOSURE,
    )
    report.register(
        "scenarios",
        within.scenarios,
        title="Annual change in placement spend under each scenario (£)",
        counts=[],
        decimals={"annual_change_gbp": 0, "lower_95": 0, "upper_95": 0},
    )
    report.register(
        "unit_cost_sensitivity",
        within.sensitivity,
        title="Sensitivity: each unit cost 20% lower or higher (£ a year)",
        counts=[],
        decimals={"value": 0, "scenario_a_gbp": 0, "scenario_b_gbp": 0},
    )
    if within.truth is not None:
        report.register(
            "planted_truth",
            truth_table(within.truth),
            title="Cost effects planted in the synthetic data against the estimates (log scale)",
            counts=[],
            decimals={"planted": 3, "estimate": 3, "lower": 3, "upper": 3, "interval_width": 3, "power_pct": 0},
            notes="Recovered: the planted value lies inside the 95% interval and the data had at least 80% power to tell it from no "
            "effect; not detectable with this much data: inside the interval, but too wide to tell from none; not estimated: "
            "the model left the term out. Type and provider effects are the planted base costs against in-house fostering.",
        )
    return report.registered()
