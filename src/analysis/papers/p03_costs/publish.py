"""Paper 03's publishing: gated tables, the report context and metrics.json."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from analysis.papers.p03_costs.paper import Results

import numpy as np
import pandas as pd

from analysis.papers.p03_costs.inputs import EVIDENCE_UNIT_COSTS, Data, Settings
from analysis.papers.p03_costs.within import Within, truth_metrics


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
