"""Paper 01: compare a local authority with its statistical neighbours, region and England.

Everything the notebook shows is computed here from ``data/processed/public`` (never from raw
files): one long *panel* of measures by area and year, the comparator group, trends, rankings,
funnel-plot flags and the plain-English findings.

Conventions
-----------
* A measure's **value** is the published figure where DfE publishes it (rates and percentages are
  rounded to whole numbers, as published). Where only counts are published (the 2015-2017
  SFR tables) the value is calculated from them and rounded the same way.
* Funnel plots and significance flags use the unrounded ``numerator / denominator`` against the
  England figure (see :mod:`analysis.stats.funnel`).
* The **comparator average** is the simple mean of the comparator LAs' values, as in DfE's LA
  Interactive Tool (LAIT); the number of LAs with a value is kept beside it.
* A suppressed value keeps its DfE symbol (``c``, ``x``, ``z``, ``k``); ``..`` marks a value not
  published for that LA and year. Neither is ever shown as zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from analysis.errors import InputError
from analysis.papers.p01_compare.analysis import (  # noqa: F401
    MIX_CATEGORIES,
    RANKED_PANELS,
    TREND_PANELS,
    cell,
    comparator_average,
    comparator_values,
    first_data_year,
    flag_text,
    funnel_units,
    latest_year,
    placement_mix,
    rank_of,
    summary_table,
    trend_table,
    trends,
)
from analysis.papers.p01_compare.inputs import (  # noqa: F401
    COMPARATORS,
    ENGLAND,
    HOME_TYPES,
    MEASURE_BY_ID,
    MEASURES,
    MIN_COMPARATORS,
    NOT_PUBLISHED,
    PANEL_COLUMNS,
    PANEL_KEYS,
    PUBLISHED,
    SHARES_OF_MONEY,
    Data,
    Groups,
    Settings,
    build_panel,
    comparator_names,
    load_panel,
    setup,
)
from analysis.papers.p01_compare.publish import (  # noqa: F401
    TREND_TABLES,
    funnel_notes,
    funnel_specs,
    headline_metrics,
    mix_year,
    publish_tables,
    ranked_specs,
    record_metrics,
    report_context,
)
from analysis.papers.p01_compare.words import (  # noqa: F401
    coverage_notes,
    findings,
    findings_markdown,
    fmt,
    funnel_title,
    key_findings,
    measure_sentence,
    mix_title,
    ordinal,
    ranked_title,
    significance_phrase,
    trend_findings,
    trend_sentence,
    trend_shape,
    trend_title,
)

#: this module's names and those of the modules it is made of, so callers need only this one
__all__ = [
    "TREND_TABLES",
    "COMPARATORS",
    "Data",
    "ENGLAND",
    "Groups",
    "HOME_TYPES",
    "MEASURES",
    "MEASURE_BY_ID",
    "MIN_COMPARATORS",
    "MIX_CATEGORIES",
    "NOT_PUBLISHED",
    "PANEL_COLUMNS",
    "PANEL_KEYS",
    "PUBLISHED",
    "RANKED_PANELS",
    "Results",
    "SHARES_OF_MONEY",
    "Settings",
    "TREND_PANELS",
    "analyse",
    "build_panel",
    "cell",
    "comparator_average",
    "comparator_names",
    "comparator_values",
    "coverage_notes",
    "findings",
    "findings_markdown",
    "first_data_year",
    "flag_text",
    "fmt",
    "funnel_notes",
    "funnel_specs",
    "funnel_title",
    "funnel_units",
    "headline_metrics",
    "key_findings",
    "latest_year",
    "load_panel",
    "measure_sentence",
    "mix_title",
    "mix_year",
    "ordinal",
    "placement_mix",
    "prime",
    "rank_of",
    "ranked_specs",
    "ranked_title",
    "publish_tables",
    "record_metrics",
    "report_context",
    "setup",
    "significance_phrase",
    "summary_table",
    "trend_findings",
    "trend_sentence",
    "trend_shape",
    "trend_table",
    "trend_title",
    "trends",
]


# --- priming -------------------------------------------------------------------------------------
def prime() -> None:
    """Read what every LA's job reads (the published tables and the panel, kept by
    :mod:`analysis.io.memo`), so kernels forked from a primed parent (:mod:`analysis.run.kernels`)
    start with them in memory. Writes nothing; quiet when the tables are not there yet (the job then
    says what is missing)."""
    try:
        load_panel(Data.load())
    except InputError:
        return


@dataclass(kw_only=True)
class Results:
    """What paper 01 found: the panel of measures, the summary table and each measure's details."""

    panel: pd.DataFrame
    summary: pd.DataFrame
    details: dict[str, dict]


def analyse(data: Data, s: Settings) -> Results:
    """The panel of published measures, and the LA's latest figures beside its comparators, region and England."""
    panel = load_panel(data)
    summary, details = summary_table(panel, s)
    return Results(panel=panel, summary=summary, details=details)
