"""Paper 02's words: the plain-English findings from the results."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from analysis.papers.p02_breakdown.paper import Results

import numpy as np
import pandas as pd

from analysis.papers.p02_breakdown.classifiers import CALIBRATED_SLOPE, CALIBRATION_RULE, ClassifierResult, is_calibrated
from analysis.papers.p02_breakdown.inputs import Settings
from analysis.papers.p02_breakdown.models import RATES_DISCLOSURE, ModelResult
from analysis.report.disclosure import MIN_COUNT, count_text, gate
from analysis.stats import planted


# --- words --------------------------------------------------------------------------------------
def _ratio_words(row) -> str:
    change = (row.ratio - 1) * 100
    direction = "higher" if change > 0 else "lower"
    return f"{row.label.lower()}: a {abs(change):.0f}% {direction} hazard (95% interval {row.lower:.2f} to {row.upper:.2f})"


def findings_markdown(
    c: pd.DataFrame, s: Settings, rates_t: pd.DataFrame, cox: ModelResult | None, clf: ClassifierResult | str | None, truth: pd.DataFrame | None
) -> str:
    g = gate(rates_t, **RATES_DISCLOSURE)  # the words say only what the published table shows
    overall = g.frame.iloc[0]
    rate = (
        f"**{overall.rate_per_100_years:.1f} per 100 placement-years** (95% interval {overall.lower_95:.1f} to {overall.upper_95:.1f})"
        if not isinstance(overall.rate_per_100_years, str)
        else "too few to give a rate that can be published"
    )
    lines = [
        f"- **{count_text(overall.unplanned)} of {count_text(overall.placements)} placements** that started between April {s.first_year - 1} "
        f"and March {s.last_year} ended unplanned ({s.definition} definition): {rate}."
    ]
    shown = rates_t.assign(rate_per_100_years=g.numbers("rate_per_100_years").to_numpy())
    by_type = shown[(shown["grouping"] == "Placement type") & (shown["placements"] >= 50) & shown["rate_per_100_years"].notna()]
    if len(by_type) >= 2:
        hi, lo = by_type.sort_values("rate_per_100_years").iloc[-1], by_type.sort_values("rate_per_100_years").iloc[0]
        lines.append(
            f"- The rate is highest for **{hi.group}** placements ({hi.rate_per_100_years:.1f} per 100 placement-years) and "
            f"lowest for **{lo.group}** ({lo.rate_per_100_years:.1f})."
        )
    if isinstance(cox, ModelResult):
        sig = cox.table[cox.table["p"] < 0.05].copy()
        sig["size"] = np.abs(sig["estimate"])
        up = sig[sig["estimate"] > 0].sort_values("size", ascending=False).head(3)
        down = sig[sig["estimate"] < 0].sort_values("size", ascending=False).head(2)
        if len(up):
            lines.append(
                "- Taking the other factors into account, the clearest risks are " + "; ".join(_ratio_words(r_) for r_ in up.itertuples()) + "."
            )
        if len(down):
            lines.append("- Lower risk: " + "; ".join(_ratio_words(r_) for r_ in down.itertuples()) + ".")
    else:
        lines.append(f"- The regression models were not fitted: {cox}")
    if isinstance(clf, ClassifierResult):
        m = clf.metrics.set_index("key")
        best = m.drop(index="baseline")["auc"].idxmax()
        b, g = m.loc[best], m.loc["baseline"]
        quality = "only moderately possible" if b.auc < 0.75 else "possible to a useful degree"
        lines.append(
            f"- Predicting which placements end unplanned within {s.model_horizon} months is {quality}: the better model "
            f"({b.model.lower()}) has an AUC of {b.auc:.2f} in the test years, against {g.auc:.2f} for a baseline that uses only "
            f"the number of earlier placements. "
            + (
                f"Of the 10% of placements it rates riskiest, {100 * b.top_decile_precision:.0f}% ended unplanned; they hold "
                f"{100 * b.top_decile_recall:.0f}% of all unplanned endings. "
                if b.top_decile_events >= MIN_COUNT
                else "Fewer than 5 of the 10% of placements it rates riskiest ended unplanned in the test years. "
            )
            + "That can guide support for groups of placements, not decisions about a child."
        )
        slope, intercept = b.calibration_slope, b.calibration_intercept
        if is_calibrated(slope, intercept):
            lines.append(f"- Its probabilities are calibrated in the test years (slope {slope:.2f}, intercept {intercept:+.2f}; {CALIBRATION_RULE}).")
        elif np.isfinite(slope):
            how = (
                "too cautious: real risks differ more than predicted"
                if slope > CALIBRATED_SLOPE[1]
                else "too extreme: real risks differ less than predicted"
                if slope < CALIBRATED_SLOPE[0]
                else "off on average: overall risk is " + ("under" if intercept > 0 else "over") + "-predicted"
            )
            lines.append(
                f"- Its probabilities are not calibrated in the test years: {how} (calibration slope {slope:.2f}, intercept "
                f"{intercept:+.2f}; {CALIBRATION_RULE}), so read them as a ranking rather than as exact chances."
            )
        worse = clf.subgroups[
            ~clf.subgroups["assessment"].isin(["no significant difference", "too few to judge", "a significant but small difference, not flagged"])
        ]
        tests = clf.subgroups.attrs.get("tests", 0)
        if len(worse):
            lines.append(
                "- The model works differently for: "
                + "; ".join(f"{w.group} ({w.assessment})" for w in worse.itertuples())
                + f" (significant after Holm's correction for {tests} tests, and large enough to matter)."
            )
        elif tests:
            lines.append(
                f"- No group of children differs materially from the rest in how well the model ranks or predicts risk "
                f"({tests} tests, Holm's correction, family-wise 5%)."
            )
    elif clf:
        lines.append(f"- The prediction models were not fitted: {clf}")
    if truth is not None and len(truth):
        lines.append(f"- *Synthetic data check:* {planted.summary(truth['assessment'].tolist())}.")
    return "\n".join(lines)


def findings(res: Results, s: Settings) -> str:
    """The paper's findings in plain English (markdown), from its results."""
    return findings_markdown(res.cohort, s, res.rates, res.cox, res.classifier, res.truth)
