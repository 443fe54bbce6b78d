"""Paper 03: what drives the cost of placements, and of placing outside the LA's area.

Two halves, which answer different questions:

* **Across LAs** (published data, every LA): RO3 net spend per child looked after against placement
  location, mix, providers, local children's home supply and the looked-after rate, with region and
  year effects (:func:`across_la_panel`, :func:`fit_across`). This is association *between councils*:
  it says which kinds of council spend more, not what one council would save by changing.
* **Within the LA** (its 903 and placement costs): a log-link Gamma GLM of weekly cost on placement
  type and provider, location, distance, age and needs (:func:`fit_within`); an Oaxaca-Blinder split
  of the out-of-area premium (:func:`oaxaca`); volume, mix and price between two years
  (:func:`volume_mix_price`); and what-if scenarios with intervals (:func:`scenarios`).

On synthetic data the within-LA estimates are set beside the effects planted in ``truth.json``.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from analysis.papers.p03_costs.across import ACROSS_TERMS, AcrossFit, across_la_panel, fit_across, la_position  # noqa: F401
from analysis.papers.p03_costs.inputs import (  # noqa: F401
    EVIDENCE_UNIT_COSTS,
    MIN_CLA_FOR_PANEL,
    SPEND_LINES,
    UNIT_COST_TYPES,
    WEEKS_PER_YEAR,
    Data,
    Settings,
    check_unit_costs,
    require,
    setup,
)
from analysis.papers.p03_costs.publish import publish_tables, record_metrics, report_context, truth_table  # noqa: F401
from analysis.papers.p03_costs.within import (  # noqa: F401
    COST_TERMS_LABELS,
    EXTERNAL,
    MIN_CELL,
    OAXACA_GROUPS,
    REFERENCE_CELL,
    VMP_DISCLOSURE,
    VMP_TOTAL,
    Within,
    WithinFit,
    cells_in_model,
    cost_design,
    cost_reconciliation,
    costed_placements,
    fit_within,
    oaxaca,
    placement_weeks,
    planted_cost_truth,
    predict,
    scenarios,
    sensitivity,
    truth_metrics,
    volume_mix_price,
    within_la,
)
from analysis.papers.p03_costs.words import findings, findings_markdown, position_note, within_missing  # noqa: F401

#: this module's names and those of the modules it is made of, so callers need only this one
__all__ = [
    "ACROSS_TERMS",
    "AcrossFit",
    "COST_TERMS_LABELS",
    "Data",
    "EVIDENCE_UNIT_COSTS",
    "EXTERNAL",
    "MIN_CELL",
    "MIN_CLA_FOR_PANEL",
    "OAXACA_GROUPS",
    "REFERENCE_CELL",
    "Results",
    "SPEND_LINES",
    "Settings",
    "UNIT_COST_TYPES",
    "VMP_DISCLOSURE",
    "VMP_TOTAL",
    "WEEKS_PER_YEAR",
    "Within",
    "WithinFit",
    "across_la_panel",
    "analyse",
    "cells_in_model",
    "check_unit_costs",
    "cost_design",
    "cost_reconciliation",
    "costed_placements",
    "findings",
    "findings_markdown",
    "fit_across",
    "fit_within",
    "la_position",
    "oaxaca",
    "placement_weeks",
    "planted_cost_truth",
    "position_note",
    "predict",
    "publish_tables",
    "record_metrics",
    "report_context",
    "require",
    "scenarios",
    "sensitivity",
    "setup",
    "truth_metrics",
    "truth_table",
    "volume_mix_price",
    "within_la",
    "within_missing",
]


@dataclass(kw_only=True)
class Results:
    """What paper 03 found: the across-LA model, the LA's position against it, and the within-LA
    analysis (or the reason it could not be done)."""

    across: AcrossFit
    position: pd.DataFrame
    within: Within | str


def analyse(panel: pd.DataFrame, ro3: pd.DataFrame, data: Data | None, s: Settings) -> Results:
    """Across LAs from paper 01's panel of published measures and RO3 spend; within the LA from its 903."""
    across = fit_across(across_la_panel(panel, ro3), "cla_total")
    position = la_position(across, s.la_code, s.neighbours, s.names)
    return Results(across=across, position=position, within=within_la(data, s))
