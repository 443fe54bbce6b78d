"""Words a reader sees: one dictionary of column labels, and how each kind of value is written.

Tables keep short snake_case column names in code (they are what tests and metrics.json use);
:func:`column_label` turns them into the header a reader sees in the HTML report and the workbook,
and :func:`cell_text` writes each value: counts as whole numbers with thousands separators, money
as £, booleans as yes/no, and no ``NaN`` or ``None`` (``x`` = not available, as DfE writes it).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

NOT_AVAILABLE = "x"

#: DfE symbols in a sentence, in words
SYMBOL_WORDS = {"c": "suppressed", "..": "not published", "x": "not available", "z": "not applicable", "k": "under 0.5", "low": "under 0.5"}

#: the one dictionary of column labels (a column not named here gets a label made from its name)
COLUMN_LABELS: dict[str, str] = {
    # paper 05: supply and the gap
    "places_registered": "Places registered in the area",
    "places_la_run": "of which run by the LA",
    "needed_inside": "Places needed inside the area",
    "extra_inside": "Extra inside the area",
    "extra_inside_lower": "Extra inside: low",
    "extra_inside_upper": "Extra inside: high",
    "needed_own": "Places needed in own homes",
    "extra_own": "Extra in own homes",
    "extra_own_lower": "Extra in own homes: low",
    "extra_own_upper": "Extra in own homes: high",
    "households_needed": "In-house households needed",
    "to_recruit": "Households to recruit",
    "to_recruit_lower": "To recruit: low",
    "to_recruit_upper": "To recruit: high",
    "uasc_looked_after": "UASC looked after",
    "child_population": "Children aged 0-17",
    "population_year": "Population estimate of",
    "threshold": "Transfer scheme threshold",
    "placer": "In- or out-placer",
    "per_10k": "Per 10,000 children",
    "net_change": "Net change",
    "places_per_child": "Places per child",
    "within_20_miles": "Within 20 miles",
    "distance_known": "Distance known",
    # paper 04: forecast, back-test, costs, truth check
    "planted_rate": "Planted rate",
    "estimated_rate": "Estimated rate",
    "rate_lower_95": "Lower 95% (rate)",
    "rate_upper_95": "Upper 95% (rate)",
    "events": "Events counted",
    "forecast_from": "Forecast made at 31 March",
    "recorded": "Recorded",
    "mape_total": "Error in the total (mean %)",
    "coverage_80_pct": "Inside the 80% interval (%)",
    "coverage_95_pct": "Inside the 95% interval (%)",
    "forecasts": "Forecasts tested",
    "lower_80": "Lower 80%",
    "upper_80": "Upper 80%",
    "weekly_cost_gbp": "Cost a week (£)",
    "cost_basis": "Costed from",
    "published_weekly": "Published cost a week (£)",
    "price_year": "Prices of",
    "uprating_factor": "Uprated by (x)",
    "weekly": "Cost a week (£, price base)",
    "daily": "Cost a day (£)",
    "type": "Key (for a scenario file)",
    "label": "Placement type",
    "origin": "Forecast made at 31 March",
    "month": "Month",
    "band": "Age band",
    "who": "Children",
    "rate": "Rate",
    "bias_pct": "Bias (mean %, + too high)",
    "abs_pct_error_total": "Error in the total (% of recorded)",
    "actual": "Recorded",
    "actual_spend_per_child": "Actual spend per child (£)",
    "against_England": "Compared with England",
    "annual_change_gbp": "Change a year (£)",
    "annual_cost_gbp": "Cost a year (£)",
    "area": "Area",
    "assessment": "Assessment",
    "auc": "AUC (ranking, 0.5 = chance)",
    "basis": "Costed from",
    "brier": "Brier score (lower is better)",
    "calibration_intercept": "Calibration intercept (0 = ideal)",
    "calibration_slope": "Calibration slope (1 = ideal)",
    "calibrated": "Calibrated?",
    "cell": "Type and provider",
    "change": "Change",
    "characteristic": "Characteristic",
    "chi2": "Chi-squared",
    "children": "Children",
    "children_now": "Children now",
    "cif_12m_pct": "Ended unplanned by 12 months, other endings competing (%)",
    "cif_6m_pct": "Ended unplanned by 6 months, other endings competing (%)",
    "cla_31_march": "Looked after at 31 March",
    "comparator_average": "Comparator average",
    "cox_95": "Cox 95% interval",
    "cox_hazard_ratio": "Cox hazard ratio",
    "difference_pct": "Difference from the rest (percentage points)",
    "auc_difference": "AUC against all (difference)",
    "difference_lower": "Difference: lower 95%",
    "difference_upper": "Difference: upper 95%",
    "p_auc_holm": "p-value, AUC (Holm-adjusted)",
    "p_calibration_holm": "p-value, observed against predicted (Holm-adjusted)",
    "unplanned_in_top_10pct": "Ended unplanned among the top 10%",
    "interval_ratio": "Interval width (upper / lower)",
    "power_pct": "Power to detect it (%)",
    "inside_95": "Inside the 95% interval?",
    "number": "Number (LA)",
    "discrete_95": "Discrete-time 95% interval",
    "discrete_odds_ratio": "Discrete-time odds ratio",
    "effect": "Effect",
    "entries": "Entered care",
    "estimate": "Estimate",
    "estimated_hazard_ratio": "Estimated hazard ratio",
    "estimated_per_year": "Estimated a year",
    "exits": "Left care",
    "extra_places_needed_if_own_share_kept": "Extra own places needed to keep today's share",
    "flow": "Flow",
    "forecast": "Forecast",
    "group": "Group",
    "grouping": "Grouped by",
    "hazard_ratio": "Hazard ratio",
    "in_own_provision_now": "In the LA's own provision now",
    "inside_interval": "Inside the 95% interval?",
    "interval_width": "Width of the 95% interval",
    "item": "Item",
    "km_12m_pct": "Ended unplanned by 12 months, others censored (%)",
    "km_6m_pct": "Ended unplanned by 6 months, others censored (%)",
    "log_points": "Log points",
    "lower": "Lower 95%",
    "lower_95": "Lower 95%",
    "lower_pct": "Lower 95% (%)",
    "mape_groups": "Mean error across placement groups (%)",
    "measure": "Measure",
    "method": "Method",
    "model": "Model",
    "observed_pct": "Observed (%)",
    "p": "p-value",
    "p_value": "p-value",
    "paper": "Paper",
    "part": "Part",
    "pct_change": "Difference (%)",
    "pct_premium": "Premium (%)",
    "placement_years": "Placement-years",
    "placements": "Placements",
    "places": "Places",
    "planted": "Planted",
    "planted_hazard_ratio": "Planted hazard ratio",
    "planted_per_year": "Planted a year",
    "power": "Power",
    "predicted_pct": "Predicted (%)",
    "predicted_spend_per_child": "Predicted spend per child (£)",
    "price0": "Cost a week, first year (£)",
    "price1": "Cost a week, second year (£)",
    "providers": "Providers",
    "provision_type": "Type of provision",
    "rate_per_100_years": "Rate per 100 placement-years",
    "recovered": "Recovered?",
    "rho": "Correlation (rho)",
    "rows": "Rows",
    "scenario": "Scenario",
    "scenario_a_gbp": "Scenario A (£ a year)",
    "scenario_b_gbp": "Scenario B (£ a year)",
    "sector": "Sector",
    "share_of_gap_pct": "Share of the gap (%)",
    "source": "Source",
    "spend0": "Spend, first year (£)",
    "spend1": "Spend, second year (£)",
    "status": "Status",
    "step": "Step",
    "term": "Term",
    "title": "Title",
    "top_10pct_precision_pct": "Precision in the top 10% (%)",
    "top_10pct_recall_pct": "Recall in the top 10% (%)",
    "total": "Total",
    "unexplained_pct": "Above (+) or below (-) prediction (%)",
    "unit_cost": "Unit cost",
    "unplanned": "Ended unplanned",
    "upper": "Upper 95%",
    "upper_95": "Upper 95%",
    "upper_pct": "Upper 95% (%)",
    "value": "Value",
    "verdict": "Verdict",
    "vif": "Variance inflation factor",
    "weeks0": "Placement-weeks, first year",
    "weeks1": "Placement-weeks, second year",
    "what": "What changes",
    "year": "Year",
    "years": "Years",
    "years_ahead": "Years ahead",
    "gbp": "£",
}

_WORDS = {
    "pct": "(%)",
    "gbp": "(£)",
    "la": "LA",
    "las": "LAs",
    "sdq": "SDQ",
    "uasc": "UASC",
    "ofsted": "Ofsted",
    "cla": "children looked after",
    "95": "95%",
}

#: p-values below 0.0001 are written "<0.0001", not 0.0000
P_VALUE_COLUMNS = frozenset({"p", "p_value", "p_auc_holm", "p_calibration_holm"})

SNAKE = re.compile(r"^[a-z0-9]+(?:_[a-z0-9]+)+$|^[a-z]+[0-9]+$")


def column_label(name: object) -> str:
    """The header a reader sees for a column (from :data:`COLUMN_LABELS`, or made from a snake_case name)."""
    key = str(name)
    if key in COLUMN_LABELS:
        return COLUMN_LABELS[key]
    if re.fullmatch(r"forecast_\d{4}", key):
        return f"Forecast for {key[-4:]}"
    m = re.fullmatch(r"(children|weeks|spend|price)([01])", key)  # paper 03's two compared years
    if m:
        what, which = m.groups()
        year = "first year" if which == "0" else "second year"
        return {"children": "Children", "weeks": "Placement-weeks", "spend": "Spend (£)", "price": "Cost a week (£)"}[what] + f", {year}"
    m = re.fullmatch(r"(km|cif|unplanned_by)_(\d+)m(?:_pct)?", key)
    if m:
        kind, months = m.groups()
        return {
            "km": f"Ended unplanned by {months} months, others censored (%)",
            "cif": f"Ended unplanned by {months} months, other endings competing (%)",
            "unplanned_by": f"Ended unplanned by {months} months",
        }[kind]
    if key.isalpha() and key.islower():  # one plain word: a header starts with a capital
        return key.capitalize()
    if not SNAKE.match(key):
        return key
    words = [_WORDS.get(w, w) for w in key.split("_")]
    text = " ".join(words)
    return text[0].upper() + text[1:]


#: columns holding a year (or a count of years): written without a thousands separator ("2017", never "2,017")
YEAR_COLUMNS = frozenset(
    {
        "year",
        "years",
        "financial_year",
        "years_ahead",
        "price_year",
        "forecast_from",
        "origin",
        "collection_year",
        "first_year",
        "last_year",
        "price_base",
    }
)


def is_year(column: object) -> bool:
    c = str(column).strip().lower()
    return c in YEAR_COLUMNS or c.endswith("_year") or str(column) in ("Year", "Prices of", "Forecast made at 31 March")


def is_money(column: str) -> bool:
    c = str(column).lower()
    return c.endswith("_gbp") or c in ("gbp", "spend0", "spend1", "price0", "price1") or "spend_per_child" in c or c.startswith("cost_")


def cell_text(value: Any, column: str = "", *, count: bool = False, decimals: int | None = None) -> str:
    """One cell as a reader sees it (HTML): symbols as they are, counts whole, money in £, yes/no."""
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return NOT_AVAILABLE
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, str):
        return {"True": "yes", "False": "no", "nan": NOT_AVAILABLE, "None": NOT_AVAILABLE, "NaN": NOT_AVAILABLE}.get(value, value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        v = float(value)
        if is_year(column):
            return f"{v:.0f}"
        if str(column) in P_VALUE_COLUMNS and 0 <= v < 0.0001:
            return "<0.0001"
        if is_money(column):
            sign = "-" if v < 0 else ""
            return f"{sign}£{abs(v):,.{decimals or 0}f}"
        if count or (decimals is None and float(v).is_integer()) or decimals == 0:
            return f"{round(v):,}"
        if decimals is None:  # not said: as the value was rounded, to at most two places
            return f"{v:,.2f}".rstrip("0").rstrip(".")
        return f"{v:,.{decimals}f}"
    return str(value)


def decimals_for(decimals: int | Mapping[str, int] | None, column: str) -> int | None:
    """Decimal places asked for a column; None (not said): whole numbers as they are, others to at most two places."""
    if decimals is None:
        return None
    return decimals.get(column) if isinstance(decimals, Mapping) else decimals


#: paper 02's model terms in a reader's words (the forest plot, the tables, the pack)
TERM_LABELS = {
    "age_10_15": "Aged 10-15 at start (vs under 10)",
    "age_16_plus": "Aged 16-17 at start (vs under 10)",
    "kinship": "Kinship foster care (vs other fostering)",
    "childrens_home": "Children's home (vs fostering)",
    "supported": "Independent or supported living (vs fostering)",
    "other_type": "Other placement types (vs fostering)",
    "private_provider": "Private or voluntary provider",
    "over_20_miles": "Placed over 20 miles from home",
    "outside_la": "Placed outside the LA boundary",
    "distance_unknown": "Distance not known",
    "previous_moves": "Each earlier placement in the period (up to 5)",
    "sdq_per_5_points": "Each 5 points of SDQ score",
    "sdq_missing": "No SDQ score recorded",
    "male": "Boy (vs girl)",
    "uasc": "Unaccompanied asylum-seeking child",
}
