"""Paper 02: the risk that a placement ends unplanned ("breaks down"), and what goes with it.

Data flow: ``data/processed/ssda903/`` (placements, periods, children, OC2) -> :func:`cohort` (one
row per placement at risk, with its follow-up time, outcome and covariates, and a reconciled table
of exclusions) -> descriptives (:func:`rates`, :func:`km_curves`, :func:`cumulative_incidence`)
-> models (:func:`fit_cox`, :func:`fit_discrete_time`, :func:`fit_classifiers`) -> the comparison
with the planted truth when the data is synthetic (:func:`planted_truth`).

Definitions (``shared/reference/ssda903.md`` section 6):

* **Outcome**: a placement that ends in a move to another placement within the same period of
  care, with a reason for placement change in the chosen definition (narrow, standard or broad).
* **Follow-up** runs from the placement's start to the earliest of: its end, the end of the data
  (31 March of the last year analysed) and the child's 18th birthday (estimated from the birth
  month: mid-month). Any other ending (a planned move, a move for an unknown reason, leaving
  care) censors the placement: it is a competing event, so the hazard ratios are cause-specific.
* **In scope**: placements starting within the years analysed, in periods of care that began on or
  after the first day of the data (so every earlier move in the period is visible). Temporary
  placements (T0-T4) are not placements: they are folded into the placement around them at
  ingest. Excluded, and counted: placements for adoption (A3-A6; disruption before an adoption
  order is a different process), periods made up only of agreed short breaks (V3, V4), and
  placements with no age at start.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from analysis.errors import AnalysisError
from analysis.papers.p02_breakdown.classifiers import (  # noqa: F401
    CALIBRATED_INTERCEPT,
    CALIBRATED_SLOPE,
    CALIBRATION_RULE,
    FAIRNESS_ALPHA,
    FAIRNESS_MIN_AUC_DIFFERENCE,
    FAIRNESS_MIN_CALIBRATION_POINTS,
    FAIRNESS_MIN_CALIBRATION_RATIO,
    FAIRNESS_MIN_EVENTS,
    FAIRNESS_RESAMPLES,
    FAIRNESS_RULE,
    MIN_CLASSIFIER_EVENTS,
    MODEL_NAMES,
    ClassifierResult,
    Split,
    fairness_note,
    fit_classifiers,
    is_calibrated,
    label_horizon,
    partial_dependence,
    subgroup_checks,
    temporal_split,
)
from analysis.papers.p02_breakdown.inputs import (  # noqa: F401
    CATEGORICAL,
    DAYS_PER_MONTH,
    DEFINITIONS,
    ETHNIC_GROUP,
    FEATURE_LABELS,
    FEATURES,
    MODEL_TYPE,
    RESAMPLES_RANGE,
    SDQ_CENTRE,
    TERMS,
    Data,
    Settings,
    age_band,
    cohort,
    distance_band,
    setup,
)
from analysis.papers.p02_breakdown.models import (  # noqa: F401
    EVENTS_PER_TERM,
    GROUP_ORDER,
    GROUPINGS,
    HORIZON_MIN_PLACEMENTS,
    KM_MIN_PLACEMENTS,
    MIN_AT_RISK,
    RATES_DISCLOSURE,
    ModelResult,
    enough_events,
    fit_cox,
    fit_discrete_time,
    horizon_table,
    km_curves,
    person_periods,
    planted_truth,
    rates,
    rates_table,
    truth_metrics,
    usable_terms,
)
from analysis.papers.p02_breakdown.publish import (  # noqa: F401
    PH_ALPHA,
    PREDICTION_DISCLOSURE,
    curve_chart_data,
    hazard_chart_data,
    hazard_table,
    horizon_disclosure,
    metrics_table,
    model_comparison,
    ph_table,
    planted_marks,
    publish_tables,
    rate_chart_rows,
    record_metrics,
    report_context,
    scope_table,
    truth_table,
)
from analysis.papers.p02_breakdown.words import findings, findings_markdown  # noqa: F401
from analysis.report.disclosure import count_text

#: this module's names and those of the modules it is made of, so callers need only this one
__all__ = [
    "CALIBRATED_INTERCEPT",
    "CALIBRATED_SLOPE",
    "CALIBRATION_RULE",
    "CATEGORICAL",
    "ClassifierResult",
    "DAYS_PER_MONTH",
    "DEFINITIONS",
    "Data",
    "ETHNIC_GROUP",
    "EVENTS_PER_TERM",
    "FAIRNESS_ALPHA",
    "FAIRNESS_MIN_AUC_DIFFERENCE",
    "FAIRNESS_MIN_CALIBRATION_POINTS",
    "FAIRNESS_MIN_CALIBRATION_RATIO",
    "FAIRNESS_MIN_EVENTS",
    "FAIRNESS_RESAMPLES",
    "FAIRNESS_RULE",
    "FEATURES",
    "FEATURE_LABELS",
    "GROUPINGS",
    "GROUP_ORDER",
    "HORIZON_MIN_PLACEMENTS",
    "KM_GROUPINGS",
    "KM_MIN_PLACEMENTS",
    "MIN_AT_RISK",
    "MIN_CLASSIFIER_EVENTS",
    "MODEL_NAMES",
    "MODEL_TYPE",
    "ModelResult",
    "PH_ALPHA",
    "PREDICTION_DISCLOSURE",
    "RATES_DISCLOSURE",
    "RESAMPLES_RANGE",
    "Results",
    "SDQ_CENTRE",
    "Settings",
    "Split",
    "TERMS",
    "age_band",
    "analyse",
    "cohort",
    "curve_chart_data",
    "distance_band",
    "enough_events",
    "fairness_note",
    "findings",
    "findings_markdown",
    "fit_classifiers",
    "fit_cox",
    "fit_discrete_time",
    "hazard_chart_data",
    "hazard_table",
    "horizon_disclosure",
    "horizon_table",
    "is_calibrated",
    "km_curves",
    "label_horizon",
    "metrics_table",
    "model_comparison",
    "partial_dependence",
    "person_periods",
    "ph_table",
    "planted_marks",
    "publish_tables",
    "planted_truth",
    "rate_chart_rows",
    "rates",
    "rates_table",
    "record_metrics",
    "report_context",
    "scope_table",
    "setup",
    "subgroup_checks",
    "temporal_split",
    "truth_metrics",
    "truth_table",
    "usable_terms",
]


# --- the whole paper's numbers ------------------------------------------------------------------
KM_GROUPINGS = {
    "place_group": "By placement type",
    "age_band": "By age at start",
    "location": "Inside or outside the LA",
    "previous_band": "By earlier placements in the period",
}


@dataclass
class Results:
    cohort: pd.DataFrame
    flow: pd.DataFrame
    rates: pd.DataFrame
    horizons: pd.DataFrame
    curves: dict[str, pd.DataFrame]
    cox: ModelResult | str
    discrete: ModelResult | str
    classifier: ClassifierResult | str
    truth: pd.DataFrame | None

    @property
    def modelled(self) -> bool:
        return isinstance(self.cox, ModelResult)


def analyse(data: Data, s: Settings) -> Results:
    """Every number the paper shows. Models are skipped, with the reason, when events are too few."""
    c, flow = cohort(data, s)
    if c.empty:
        raise AnalysisError(f"no placements in scope for {s.la_name} in {s.first_year} to {s.last_year}: see the scope table")
    rates_t = rates_table(c)
    horizons = horizon_table(c, s.horizons)
    curves = {label: km_curves(c, col) for col, label in KM_GROUPINGS.items()}
    terms, _ = usable_terms(c)
    events = int(c["event"].sum())
    if enough_events(events, len(terms)):
        cox: ModelResult | str = fit_cox(c)
        discrete: ModelResult | str = fit_discrete_time(c)
        clf = fit_classifiers(c, s)
    else:
        cox = discrete = clf = (
            f"{count_text(events)} unplanned endings are too few for {len(terms)} model terms (at least "
            f"{EVENTS_PER_TERM} per term, {EVENTS_PER_TERM * len(terms)} in all, are needed for stable estimates). "
            "The descriptive tables above still hold; use more years, the broad definition, or pool LAs."
        )
    truth = planted_truth(cox, data.truth) if data.truth is not None and isinstance(cox, ModelResult) else None
    return Results(c, flow, rates_t, horizons, curves, cox, discrete, clf, truth)
