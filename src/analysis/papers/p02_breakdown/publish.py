"""Paper 02's publishing: gated tables, chart data and metrics.json."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from analysis.papers.p02_breakdown.classifiers import CALIBRATION_RULE, ClassifierResult, fairness_note, is_calibrated
from analysis.papers.p02_breakdown.inputs import Data, Settings
from analysis.papers.p02_breakdown.models import HORIZON_MIN_PLACEMENTS, MIN_AT_RISK, RATES_DISCLOSURE, ModelResult, truth_metrics
from analysis.report.disclosure import MIN_COUNT, SUPPRESSED, Gated, gate
from analysis.report.reporting import SYMBOLS_NOTE

if TYPE_CHECKING:
    from analysis.papers.p02_breakdown.paper import Results


def scope_table(flow: pd.DataFrame) -> pd.DataFrame:
    """The reconciliation as published: each step's count of placements (set-aside steps as positive counts)."""
    return pd.DataFrame({"step": flow["step"], "placements": flow["placements"].abs().astype(int)})


def model_comparison(cox: ModelResult, discrete: ModelResult) -> pd.DataFrame:
    """Cox hazard ratios beside the discrete-time odds ratios, term by term."""
    a = cox.table.set_index("term")
    b = discrete.table.set_index("term")
    return pd.DataFrame(
        {
            "term": a["label"],
            "cox_hazard_ratio": a["ratio"].round(2),
            "cox_95": [f"{lo:.2f} to {hi:.2f}" for lo, hi in zip(a["lower"], a["upper"])],
            "discrete_odds_ratio": b["ratio"].reindex(a.index).round(2),
            "discrete_95": [f"{lo:.2f} to {hi:.2f}" for lo, hi in zip(b["lower"].reindex(a.index), b["upper"].reindex(a.index))],
        }
    ).reset_index(drop=True)


def hazard_table(cox: ModelResult) -> pd.DataFrame:
    t = cox.table
    return pd.DataFrame(
        {
            "term": t["label"],
            "hazard_ratio": t["ratio"].round(2),
            "lower_95": t["lower"].round(2),
            "upper_95": t["upper"].round(2),
            "p_value": t["p"].round(4),
        }
    )


#: the proportional-hazards check flags a term at this p-value (stated wherever the check is summarised)
PH_ALPHA = 0.01


def ph_table(cox: ModelResult) -> pd.DataFrame:
    d = cox.diagnostics.copy()
    d["verdict"] = np.where(
        d["p"] < PH_ALPHA,
        f"hazard ratio may change over time (p < {PH_ALPHA})",
        np.where(d["p"] < 0.05, f"weak sign of change over time (p < 0.05, not below {PH_ALPHA})", "no sign of change over time (p >= 0.05)"),
    )
    return d[["label", "rho", "chi2", "p", "verdict"]].rename(columns={"label": "term", "p": "p_value"}).round({"p_value": 4})


def metrics_table(clf: ClassifierResult) -> pd.DataFrame:
    m = clf.metrics
    return pd.DataFrame(
        {
            "model": m["model"],
            "placements": m["n"],
            "unplanned": m["events"],
            "auc": m["auc"].round(3),
            "brier": m["brier"].round(3),
            "calibration_slope": m["calibration_slope"].round(2),
            "calibration_intercept": m["calibration_intercept"].round(2),
            "calibrated": [is_calibrated(a, b_) for a, b_ in zip(m["calibration_slope"], m["calibration_intercept"])],
            "unplanned_in_top_10pct": m["top_decile_events"].astype(int),
            "top_10pct_precision_pct": (100 * m["top_decile_precision"]).round(1),
            "top_10pct_recall_pct": (100 * m["top_decile_recall"]).round(1),
        }
    )


#: how the prediction table is gated: precision and recall in the top 10% reveal how many of those placements ended unplanned
PREDICTION_DISCLOSURE = {
    "counts": ["placements", "unplanned", "unplanned_in_top_10pct"],
    "linked": {"unplanned_in_top_10pct": ["top_10pct_precision_pct", "top_10pct_recall_pct"]},
}


def truth_table(truth: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "effect": truth["label"],
            "planted_hazard_ratio": np.exp(truth["planted"]).round(2),
            "estimated_hazard_ratio": np.exp(truth["estimate"]).round(2),
            "lower_95": np.exp(truth["lower"]).round(2),
            "upper_95": np.exp(truth["upper"]).round(2),
            "interval_ratio": np.exp(truth["interval_width"]).round(2),
            "power_pct": (100 * truth["power"]).round(0),
            "assessment": truth["assessment"],
        }
    )


def record_metrics(report, res: Results, s: Settings) -> None:
    """Headline numbers for metrics.json (rates, horizons, hazard ratios, model scores, planted truth)."""
    # every figure from the gated tables, as published: a suppressed count's rate stays suppressed here too
    rates = gate(res.rates, **RATES_DISCLOSURE)
    overall = rates.frame.iloc[0]
    report.metric("placements_analysed", overall["placements"], kind="count")
    report.metric("unplanned_endings", overall["unplanned"], kind="count")
    report.metric(
        "rate_per_100_placement_years",
        overall["rate_per_100_years"],
        lower_95=overall["lower_95"],
        upper_95=overall["upper_95"],
        definition=s.definition,
    )
    by_type = rates.subset(rates.frame["grouping"] == "Placement type")
    report.metric(
        "rate_by_placement_type", {g: float(v) for g, v in zip(by_type.frame["group"], by_type.numbers("rate_per_100_years")) if pd.notna(v)}
    )
    if len(res.horizons):
        first = gate(res.horizons, **horizon_disclosure(s.horizons)).frame.iloc[0]
        for h in s.horizons:
            report.metric(
                f"ended_unplanned_within_{h}_months_pct",
                first[f"cif_{h}m_pct"],
                one_minus_km_pct=first[f"km_{h}m_pct"],
                method="Aalen-Johansen, other endings competing",
            )
    if isinstance(res.cox, ModelResult):
        report.metric(
            "hazard_ratios",
            {
                row.term: {
                    # rounded once, as paper 02's own tables print them (two places), so the pack quotes the same figure
                    "hazard_ratio": round(float(row.ratio), 2),
                    "lower_95": round(float(row.lower), 2),
                    "upper_95": round(float(row.upper), 2),
                    "p": float(row.p),
                }
                for row in res.cox.table.itertuples()
            },
        )
    else:
        report.metric("models_skipped", res.cox)
    if isinstance(res.classifier, ClassifierResult):
        for row in res.classifier.metrics.itertuples():
            report.metric(
                f"classifier_{row.key}",
                {
                    "auc": round(row.auc, 4),
                    "brier": round(row.brier, 4),
                    "calibration_slope": round(row.calibration_slope, 3),
                    "calibration_intercept": round(row.calibration_intercept, 3),
                    "calibrated": is_calibrated(row.calibration_slope, row.calibration_intercept),
                    # as in the published table: suppressed when fewer than 5 of the top 10% ended unplanned
                    "top_decile_precision": round(row.top_decile_precision, 4) if row.top_decile_events >= MIN_COUNT else SUPPRESSED,
                    "top_decile_recall": round(row.top_decile_recall, 4) if row.top_decile_events >= MIN_COUNT else SUPPRESSED,
                    "horizon_months": s.model_horizon,
                },
            )
    elif isinstance(res.cox, ModelResult):
        report.metric("classifier_skipped", res.classifier)
    if res.truth is not None:
        report.section("planted_truth", truth_metrics(res.truth))


def report_context(data: Data, s: Settings) -> dict:
    return {
        "la_code": s.la_code,
        "la_name": s.la_name,
        "years": f"{s.first_year}-{s.last_year}",
        "breakdown_definition": f"{s.definition}: reasons {', '.join(sorted(s.reasons))}",
        "horizons_months": ", ".join(map(str, s.horizons)),
        "data": "synthetic 903 (generated; not real children)" if data.synthetic else "the LA's own 903 returns",
        "data_vintage": {"903 collection years": f"{min(data.report['collection_years'])}-{max(data.report['collection_years'])}"},
    }


def horizon_disclosure(horizons: list[int]) -> dict:
    """How the horizon table is gated: each horizon's shares go with the unplanned endings seen by then;
    the groups add up to the "All placements" row."""
    return {
        "counts": ["placements", *[f"unplanned_by_{h}m" for h in horizons]],
        "total_row": "All placements",
        "label_column": "group",
        "linked": {f"unplanned_by_{h}m": [f"km_{h}m_pct", f"cif_{h}m_pct"] for h in horizons},
    }


def rate_chart_rows(rates: Gated, min_placements: int = 20) -> Gated:
    """The rows of the gated rates table charted: all placements, placement types and age bands with enough
    placements (a suppressed group stays in, so the chart can say it is not shown)."""
    f = rates.frame
    n = pd.to_numeric(f["placements"], errors="coerce")
    keep = f["grouping"].isin(["All", "Placement type", "Age at start"]) & ((n >= min_placements) | rates.is_suppressed("rate_per_100_years"))
    rows = rates.subset(keep)
    label = np.where(rows.frame["grouping"] == "All", rows.frame["group"], rows.frame["grouping"] + ": " + rows.frame["group"].astype(str))
    return rows.with_labels(label=label)


def hazard_chart_data(res: Results) -> Gated:
    """The Cox hazard ratios for the forest plot (model estimates, not counts), with the planted values on synthetic data."""
    t = res.cox.table[["term", "label", "ratio", "lower", "upper"]].copy()
    marks = planted_marks(res)
    if marks is not None:
        t["planted"] = marks
    return gate(t, counts=[], independent=["planted"] if marks is not None else [])


def curve_chart_data(curves: pd.DataFrame, min_at_risk: int = MIN_AT_RISK) -> Gated:
    """Kaplan-Meier steps for a chart: each curve stops once fewer than ``min_at_risk`` placements are
    followed (so no step shows the ending of one of a handful of placements), and the event and at-risk
    counts are not carried into the chart."""
    keep = curves["at_risk"] >= min_at_risk
    return gate(curves.loc[keep, ["group", "days", "surv", "lower", "upper"]].reset_index(drop=True), counts=[])


def planted_marks(res: Results) -> list[float] | None:
    """The planted hazard ratio for each Cox term (NaN where nothing was planted), or None on real data."""
    if res.truth is None or not isinstance(res.cox, ModelResult):
        return None
    planted = res.truth.set_index("effect")["planted"]
    return [float(np.exp(planted[t])) if t in planted.index else float("nan") for t in res.cox.table["term"]]


def publish_tables(report, res: Results, s: Settings) -> dict[str, Gated]:
    """Register every table of the paper with the report, gated once, in the order the paper shows them
    (``report.show(name)`` displays each where it belongs); returns the gated tables by name. A table whose
    part of the analysis did not run is absent."""
    report.register(
        "scope",
        scope_table(res.flow),
        title="Placements in the 903 data, set aside and analysed",
        counts=["placements"],
        total_row="placements in the 903 data",
        label_column="step",
        notes="Rows in = rows set aside + rows analysed. " + SYMBOLS_NOTE,
    )
    report.register(
        "rates",
        gate(res.rates, **RATES_DISCLOSURE),
        title="Unplanned endings per 100 placement-years, by group",
        decimals={"rate_per_100_years": 1, "lower_95": 1, "upper_95": 1},
        notes=SYMBOLS_NOTE,
    )
    if len(res.horizons):
        report.register(
            "by_horizon",
            res.horizons,
            title="Share ended unplanned within each horizon, by placement type (%)",
            decimals=1,
            **horizon_disclosure(s.horizons),
            notes="Others censored: 1 - Kaplan-Meier; other endings competing: the cumulative incidence (Aalen-Johansen); "
            "ended unplanned by the horizon: those seen in the data (the count behind both shares). "
            f"Groups with at least {HORIZON_MIN_PLACEMENTS} placements. " + SYMBOLS_NOTE,
        )
    if res.modelled:
        report.register(
            "hazard_ratios",
            hazard_table(res.cox),
            title="Cox model: hazard ratios with 95% intervals",
            counts=[],
            decimals={"hazard_ratio": 2, "lower_95": 2, "upper_95": 2, "p_value": 4},
        )
        report.register(
            "proportional_hazards",
            ph_table(res.cox),
            title="Check of proportional hazards",
            counts=[],
            decimals={"rho": 3, "chi2": 2, "p_value": 4},
            notes="Correlation of each term's Schoenfeld residuals with the rank of the event time. A term is flagged when "
            f"p < {PH_ALPHA} (a stricter threshold than 0.05 because every term is tested); p from 0.01 to 0.05 is "
            "reported as a weak sign. With large data, small departures are flagged.",
        )
        report.register(
            "model_comparison",
            model_comparison(res.cox, res.discrete),
            title="Cox hazard ratios against discrete-time odds ratios",
            counts=[],
            decimals={"cox_hazard_ratio": 2, "discrete_odds_ratio": 2},
            notes="; ".join(res.discrete.notes),
        )
    if isinstance(res.classifier, ClassifierResult):
        clf = res.classifier
        report.register(
            "prediction",
            metrics_table(clf),
            title=f"Predicting an unplanned ending within {s.model_horizon} months: test years",
            **PREDICTION_DISCLOSURE,
            decimals={
                "auc": 3,
                "brier": 3,
                "calibration_slope": 2,
                "calibration_intercept": 2,
                "top_10pct_precision_pct": 1,
                "top_10pct_recall_pct": 1,
            },
            notes=f"Calibrated: {CALIBRATION_RULE}. " + SYMBOLS_NOTE,
        )
        report.register(
            "prediction_by_group",
            clf.subgroups,
            title="Gradient-boosted model in the test years, by group",
            counts=["placements", "unplanned"],
            groups="characteristic",
            decimals={
                "observed_pct": 1,
                "predicted_pct": 1,
                "auc": 3,
                "auc_difference": 3,
                "difference_lower": 3,
                "difference_upper": 3,
                "p_auc_holm": 4,
                "p_calibration_holm": 4,
            },
            notes=fairness_note(clf.subgroups) + " " + SYMBOLS_NOTE,
        )
    if res.truth is not None:
        report.register(
            "planted_truth",
            truth_table(res.truth),
            title="Effects planted in the synthetic data against the Cox estimates",
            counts=[],
            decimals={"planted_hazard_ratio": 2, "estimated_hazard_ratio": 2, "lower_95": 2, "upper_95": 2, "interval_ratio": 2, "power_pct": 0},
            notes="The synthetic 903 was generated with these hazard ratios. Recovered: the planted value lies inside the 95% interval "
            "and the data had at least 80% power to tell it from no effect; not detectable with this much data: inside the "
            "interval, but the interval is too wide to tell the effect from none. Interval ratio: upper / lower limit.",
        )
    return report.registered()
