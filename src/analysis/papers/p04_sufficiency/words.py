"""Paper 04's words: the key messages from the results and the sibling papers."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from analysis.papers.p04_sufficiency.paper import Results

import numpy as np
import pandas as pd

from analysis.papers.p04_sufficiency.analysis import FORECAST_DISCLOSURE, SCENARIO_COSTS_DISCLOSURE, forecast_table, outside_now
from analysis.papers.p04_sufficiency.inputs import CURRENT, FROM_903, PAPERS, Settings
from analysis.report import metrics
from analysis.report.disclosure import Gated, count_text, gate
from analysis.report.labels import SYMBOL_WORDS
from analysis.stats import forecast as fc


def key_messages(
    s: Settings,
    found: dict[str, dict | None],
    forecasts: dict[str, fc.Forecast] | None,
    scores: pd.DataFrame | None,
    costs_t: pd.DataFrame | None,
    gap: Gated | None,
    *,
    synthetic: bool = False,
    needs: dict[str, pd.DataFrame] | None = None,
) -> str:
    """The pack's key messages, each figure from a gated table or a paper's gated metrics. Each line says
    where its figures come from: published statistics (real) or the LA's 903 (synthetic, when it is)."""
    lines = []
    m1, m2, m3 = found.get("01"), found.get("02"), found.get("03")
    real = " (published DfE figures)"
    syn = " (SYNTHETIC 903: not real children)" if synthetic else " (the LA's 903)"
    src = syn if s.source == FROM_903 else " (projected from published DfE figures)"
    if m1:
        cla = metrics.entry(m1, "cla_rate") or {}
        if isinstance(cla, dict) and cla.get("value") is not None:
            count = cla.get("count")
            lead = f"{count_text(count)} children looked after at 31 March {cla.get('year')}, " if count is not None else ""
            lines.append(
                f"- **Demand{real}:** {lead}{_published(cla.get('value'))} per 10,000 children (England {_published(cla.get('england'))}, "
                f"comparator average {_published(cla.get('comparators'))})."
            )
        out = metrics.entry(m1, "outside_pct") or {}
        if isinstance(out, dict) and out.get("value") is not None:
            here = outside_now(needs or {}, s.last_year)
            if isinstance(out.get("value"), str) and here:  # the DfE's share is suppressed: the pack's own table says it
                where = syn if s.source == FROM_903 else real
                lines.append(
                    f"- **Location{where}:** {count_text(here[0])} of {count_text(here[1])} children looked after at 31 March "
                    f"{s.last_year} lived outside the LA boundary (the DfE's published share for the LA is suppressed; "
                    f"England {_published(out.get('england'), '%')})."
                )
            else:
                lines.append(
                    f"- **Location{real}:** {_published(out.get('value'), '%')} placed outside the LA boundary (England {_published(out.get('england'), '%')})."
                )
    if m2:
        rate = metrics.entry(m2, "rate_per_100_placement_years") or {}
        within12 = metrics.value(m2, "ended_unplanned_within_12_months_pct")
        if isinstance(rate, dict) and isinstance(rate.get("value"), (int, float)):
            share = f"; {within12:.1f}% of placements end unplanned within 12 months" if isinstance(within12, (int, float)) else ""
            lines.append(f"- **Stability{syn}:** {rate.get('value'):.1f} unplanned endings per 100 placement-years{share}.")
        elif isinstance(rate, dict):
            lines.append(f"- **Stability{syn}:** too few placements or unplanned endings to give a rate that can be published.")
    if m3:
        prem = metrics.value(m3, "out_of_area_premium")
        if isinstance(prem, dict) and "total gap" in prem:
            rest = prem.get("outside the area as such (and distance)", {})
            lines.append(
                f"- **Cost{syn}:** placements outside the LA cost {prem['total gap']['pct']:.0f}% more a week; "
                f"{rest.get('pct', float('nan')):.0f}% remains after type, provider, age and needs are allowed for."
            )
    if forecasts:
        ft = gate(forecast_table(forecasts), **FORECAST_DISCLOSURE)
        last = ft.frame.index[(ft.frame["scenario"] == CURRENT)][-1]
        lines.append(
            f"- **Forecast{src}:** on current trends about {ft.say(last, 'children')} children looked after by March "
            f"{int(ft.frame.at[last, 'year'])} (95% interval {ft.say(last, 'lower_95')} to {ft.say(last, 'upper_95')})."
        )
        if scores is not None:
            one = scores[scores["years_ahead"] == 1].set_index("method")
            if "Model (combined)" in one.index and "Last value" in one.index:
                mk, lv = one.at["Model (combined)", "mape_total"], one.at["Last value", "mape_total"]
                cov = one.at["Model (combined)", "coverage_95_pct"] if "coverage_95_pct" in one else float("nan")
                better = "better than" if mk < lv else "no better than"
                lines.append(
                    f"- **How far to trust it{src}:** forecasting each of the last years from the years before, the forecast one year "
                    f"ahead was out by {mk:.1f}% on average ({better} assuming no change: {lv:.1f}%), and the 95% interval held the "
                    f"recorded number in {cov:.0f}% of {int(one.at['Model (combined)', 'forecasts'])} tests."
                )
    if gap is not None:  # the gap table as the report publishes it (register_supply), so words and tables agree
        g = gap
        home = "children's home"
        lines.append(
            f"- **Children's homes{syn}:** children in children's homes now: {g.say(home, 'children_now', by='group')}, "
            f"of whom in the LA's own homes: {g.say(home, 'in_own_provision_now', by='group')}."
        )
    if costs_t is not None and "annual_cost_gbp" in costs_t.columns:
        gc = gate(costs_t, **SCENARIO_COSTS_DISCLOSURE)
        last_year = costs_t["year"].max()
        c = gc.numbers("annual_cost_gbp")[(costs_t["year"] == last_year).to_numpy()]
        c.index = costs_t.loc[costs_t["year"] == last_year, "scenario"]
        if c.notna().all():
            base_cost = c.iloc[0]
            parts = [f"{name.lower()}: {_gbp(v - base_cost)}" for name, v in c.iloc[1:].items()]
            lines.append(
                f"- **Cost of the scenarios{src}** in {last_year - 1}-{str(last_year)[2:]} against current trends "
                f"({_gbp(base_cost).lstrip('+')} a year in today's prices): " + "; ".join(parts) + "."
            )
    for pid, m in found.items():
        if m is None:
            lines.append(f"- **Missing from this pack:** {PAPERS[pid]}: {missing_reason(pid, s)}, so its results are not shown.")
    return "\n".join(lines)


def _published(v: object, unit: str = "") -> str:
    """A published figure in a sentence: its DfE symbol in words when it has none."""
    if isinstance(v, str):
        return "not published (suppressed by DfE)" if v == "c" else SYMBOL_WORDS.get(v, v)
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "not available"
    return f"{v:,.0f}{unit}" if float(v).is_integer() else f"{v:,.1f}{unit}"


def _gbp(v: float) -> str:
    sign = "-" if v < 0 else "+"
    v = abs(v)
    return f"{sign}£{v / 1e6:.2f}m" if v >= 1e6 else f"{sign}£{v:,.0f}"


def missing_reason(pid: str, s: Settings) -> str:
    """Why a paper's results are not in the pack, in a reader's words."""
    if s.as_at_past_year:
        return f"a pack as at 31 March {s.last_year} does not draw on paper {pid}, which uses the latest figures"
    if pid == "02" and s.source != FROM_903:
        return "paper 02 needs the LA's own 903 data, which this project does not hold for this LA"
    return f"paper {pid} did not run or failed in this run"


def findings(res: Results, s: Settings, *, gap=None, synthetic: bool = False) -> str:
    """The pack's key messages (markdown), from its results; ``gap`` is the gap table as the report
    published it (:func:`analysis.papers.p04_sufficiency.publish.register_supply`), so the words quote it as shown."""
    return key_messages(s, res.found, res.forecasts, res.backtest_scores, res.costs, gap, synthetic=synthetic, needs=res.needs)


def forecast_caption(res: Results, s: Settings) -> str:
    """The forecast chart's caption: how the point forecast was made."""
    f = res.forecasts[CURRENT]
    if s.source == FROM_903:
        how = f"rates from {s.fit_years} years to March {s.last_year}; weight on the model {f.weight:.1f} (the rest on the last recorded number)"
    else:
        how = f"published figures to March {s.last_year}; point: {f.method} (see the note above)"
    return f"{how[0].upper()}{how[1:]}. Scenarios change the rates from the start of the forecast."


def backtest_note(s: Settings) -> str:
    """The back-test table's note: how it was made, and which of its rows is the pack's own forecast."""
    how = (
        "Each year from the fourth of the history on was used as a starting point and the next one to three years "
        "forecast. Error: mean absolute % error of the total (and averaged over placement groups); bias: mean % error "
        "(+ = too high); coverage: % of recorded numbers inside the forecast's 80% and 95% intervals."
    )
    if s.source == FROM_903:
        return (
            how + " The pack's forecast is 'Model (combined)'. 'Pooled panel model (all LAs)': the model fitted on every LA's "
            "published figures (used for LAs without a 903 where it beats no change), its growth applied to this LA's 903 "
            "counts, for comparison."
        )
    return (
        how + " From published figures the pack's point is 'Last value' (no change), or 'Pooled panel model (all LAs)' for "
        "a figure where the table of the pooled model against no change says it is used; its intervals are those scored "
        "for 'Last value'. 'Model (combined)' is the published-data model it replaced, kept for comparison."
    )
