"""Paper 03's words: the plain-English findings from the results."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from analysis.papers.p03_costs.paper import Results

import numpy as np
import pandas as pd

from analysis.papers.p03_costs.across import AcrossFit
from analysis.papers.p03_costs.inputs import MIN_CLA_FOR_PANEL, Settings
from analysis.papers.p03_costs.within import Within
from analysis.stats import planted


def position_note(position: pd.DataFrame, s: Settings) -> str | None:
    """Why the LA is missing from the chart of spend against prediction (None when it is there)."""
    if position["is_la"].any():
        return None
    return (
        f"**{s.la_name} is not in this chart.** The across-LA model leaves out LAs with fewer than {MIN_CLA_FOR_PANEL} "
        "children looked after, or with a measure suppressed or not published, so its spend is not set against a "
        "prediction; its statistical neighbours are shown."
    )


def within_missing() -> str:
    """The sentence a within-LA section shows when that part did not run (the reason is given under its first heading)."""
    return '**Not shown:** the within-LA part did not run for this LA (the reason is given above, under "Within the LA").'


# --- words -------------------------------------------------------------------------------------------------
def _pct(v: float) -> str:
    return f"{v:+.0f}%"


def _gbp(v: float) -> str:
    sign = "-" if v < 0 else ""
    v = abs(v)
    return f"{sign}£{v / 1e6:.2f}m" if v >= 1e6 else f"{sign}£{v:,.0f}"


def _change(v: float) -> str:
    return f"saves {_gbp(-v)}" if v < 0 else f"adds {_gbp(v)}"


def findings_markdown(s: Settings, across: AcrossFit, position: pd.DataFrame, within: Within | str) -> str:
    lines = []
    sig = across.table[across.table["p"] < 0.05]
    if len(sig):
        parts = [f"{r.label.split(' (')[0].lower()} ({_pct(r.pct_change)} per {r.label.split('(per ')[1].rstrip(')')})" for r in sig.itertuples()]
        lines.append(
            "- **Across councils**, higher spend per child looked after goes with: "
            + "; ".join(parts)
            + f" (region and year held equal; {across.n_las} LAs, R² {across.r2:.2f}). This is association between councils, not the effect of any change."
        )
    else:
        lines.append(
            f"- **Across councils**, none of the measures is clearly associated with spend per child once region and year are held equal ({across.n_las} LAs)."
        )
    me = position[position["is_la"]]
    if len(me):
        r = me.iloc[0]
        word = "more" if r.unexplained_pct > 0 else "less"
        lines.append(
            f"- {s.la_name} spent **{_gbp(r.actual_spend_per_child)} per child looked after** in {r.year - 1}-{str(r.year)[2:]}, "
            f"{abs(r.unexplained_pct):.0f}% {word} than the model predicts from its placement pattern, region and year "
            f"({_gbp(r.predicted_spend_per_child)})."
        )
    if isinstance(within, Within):
        ox = within.oaxaca.set_index("part")
        gap = ox.loc["total gap"]
        rest = ox.loc["outside the area as such (and distance)"]
        explained = gap["log_points"] - rest["log_points"]
        lines.append(
            f"- **Within {s.la_name}**, a placement outside the LA costs on average {gap['pct_premium']:.0f}% more a week than one inside. "
            f"Type, provider, age and needs explain {100 * explained / gap['log_points']:.0f}% of that gap; "
            f"the rest ({_pct(rest['pct_premium'])}, 95% interval {_pct(100 * np.expm1(rest['lower']))} to {_pct(100 * np.expm1(rest['upper']))}) "
            "goes with being outside the area as such."
            if gap["log_points"] > 0
            else f"- **Within {s.la_name}**, placements outside the LA do not cost more a week on average than those inside."
        )
        v = within.vmp.set_index("part")["gbp"]
        first, last = v.iloc[0], v.iloc[-1]
        lines.append(
            f"- Spend on costed placements went from {_gbp(first)} to {_gbp(last)} between {within.years[0] - 1}-{str(within.years[0])[2:]} and "
            f"{within.years[1] - 1}-{str(within.years[1])[2:]}: volume {_gbp(v.iloc[1])}, mix {_gbp(v.iloc[2])}, price {_gbp(v.iloc[3])}."
        )
        sc = within.scenarios
        for name in ("A", "B"):
            local = sc[(sc["scenario"] == name) & (sc["basis"] == "the LA's own costs (model)")]
            unit = sc[(sc["scenario"] == name) & (sc["basis"] == "unit-cost parameters")].iloc[0]
            if len(local) and np.isfinite(local.iloc[0]["annual_change_gbp"]):
                l_ = local.iloc[0]
                lines.append(
                    f"- Scenario {name}: {l_['what']}: **{_change(l_['annual_change_gbp'])} a year** on the LA's own costs "
                    f"(95% interval {_gbp(l_['lower_95'])} to {_gbp(l_['upper_95'])}); {_change(unit['annual_change_gbp'])} on the "
                    "unit-cost parameters."
                )
        if within.truth is not None and len(within.truth):
            lines.append(f"- *Synthetic data check:* {planted.summary(within.truth['assessment'].tolist(), 'planted cost effects')}.")
    else:
        lines.append(f"- **Within the LA:** not shown. {within}")
    return "\n".join(lines)


def findings(res: Results, s: Settings) -> str:
    """The paper's findings in plain English (markdown), from its results."""
    return findings_markdown(s, res.across, res.position, res.within)
