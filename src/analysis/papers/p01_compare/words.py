"""Paper 01's words: the plain-English findings, sentences and chart titles, from the analysis's results."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from analysis.papers.p01_compare.paper import Results

import numpy as np
import pandas as pd

from analysis.io.indicators import Measure
from analysis.papers.p01_compare.analysis import TREND_PANELS, _la_cla_years
from analysis.papers.p01_compare.inputs import ENGLAND, MEASURE_BY_ID, MEASURES, Settings
from analysis.report.disclosure import count_text
from analysis.report.labels import SYMBOL_WORDS


# --- words ---------------------------------------------------------------------------------------
def fmt(value: object, unit: str, decimals: int = 0) -> str:
    """A number in words-ready form: 12%, 125 per 10,000, £61,272."""
    if isinstance(value, str):
        return SYMBOL_WORDS.get(value, value)
    if value is None or pd.isna(value):
        return "not published"
    v = float(value)
    if unit == "%":
        return f"{v:.0f}%"
    if unit == "£":
        return f"£{v:,.0f}"
    return f"{v:,.{decimals}f} {unit}"


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _direction(la: object, other: object) -> str | None:
    if not isinstance(la, (int, float)) or not isinstance(other, (int, float)) or pd.isna(la) or pd.isna(other):
        return None
    if la > other:
        return "higher than"
    if la < other:
        return "lower than"
    return "the same as"


def _lower(text: str) -> str:
    """Lower-case the first letter unless the word is an acronym (LA's stays LA's)."""
    return text if len(text) > 1 and text[1].isupper() else text[:1].lower() + text[1:]


def _position(rank: int | None, of: int) -> str:
    if not rank:
        return ""
    return "the highest" if rank == 1 else "the lowest" if rank == of else f"{ordinal(rank)} highest"


def significance_phrase(flag: str, better: str | None = None) -> str:
    """The funnel result in words."""
    if flag in ("above 99.8%", "below 99.8%"):
        direction = "higher" if flag.startswith("above") else "lower"
        text = f"significantly {direction} than England (outside the 99.8% limits)"
        if better:
            text += ": a strength" if direction == better else ": a concern"
        return text
    if flag in ("above 95%", "below 95%"):
        direction = "higher" if flag.startswith("above") else "lower"
        return f"{direction} than England at the 95% level only: worth watching, not conclusive"
    if flag == "within":
        return "within England's funnel limits"
    return ""


def measure_sentence(d: dict, la_name: str, comparator_label: str) -> str:
    """The numbers for one measure in a short plain-English line (Markdown)."""
    unit, dp = d["unit"], d["decimals"]
    text = (
        f"**{d['short']} ({d['year']})**: {fmt(d['la'], unit, dp)} in {la_name}; England {fmt(d['england'], unit, dp)}, "
        f"region {fmt(d['region'], unit, dp)}, comparator average {fmt(d['comparators'], unit, dp)}."
    )
    if isinstance(d["la"], str):
        return text + " The LA figure is not available, so it is not ranked or tested."
    if d["rank"]:
        text += f" {_position(d['rank'], d['ranked']).capitalize()} of {d['ranked']} LAs"
        text += (
            f"; {_position(d['comparator_rank'], d['comparator_ranked'])} of {d['comparator_ranked']} in its comparator group."
            if d["comparator_rank"]
            else "."
        )
    phrase = significance_phrase(d["flag"], d["better"])
    return text + (f" {phrase[0].upper()}{phrase[1:]}." if phrase else "")


def trend_shape(years: list[int], values: list[float], show) -> str:
    """How a series moved, in words: its start, a peak or low in between (when the series turned there),
    and where it ended, with the latest year-on-year direction. ``show`` formats a value.

    >>> trend_shape([2015, 2020, 2021, 2022, 2025], [87, 133, 133, 133, 125], lambda x: f"{x:.0f}")
    'rose from 87 in 2015 to a peak of 133 in 2020-2022, then fell to 125 in 2025'
    """
    v = np.asarray(values, float)
    if len(v) < 2:
        return ""
    first, last = v[0], v[-1]
    span = max(abs(v.max() - v.min()), 1e-9)
    hi, lo = int(np.argmax(v)), int(np.argmin(v))

    def when(i: int, extreme: float) -> str:
        run = [years[j] for j in range(len(v)) if v[j] == extreme]
        return f"{run[0]}-{run[-1]}" if len(run) > 1 and run[-1] != run[0] else f"{years[i]}"

    turned = max(0.05 * abs(v.max()), 1.0)  # a turn of at least 5% of the peak (and more than one unit) is named
    if 0 < hi < len(v) - 1 and v[hi] - last > turned and v[hi] - first > turned:
        text = f"rose from {show(first)} in {years[0]} to a peak of {show(v[hi])} in {when(hi, v[hi])}, then fell to {show(last)} in {years[-1]}"
    elif 0 < lo < len(v) - 1 and last - v[lo] > turned and first - v[lo] > turned:
        text = f"fell from {show(first)} in {years[0]} to a low of {show(v[lo])} in {when(lo, v[lo])}, then rose to {show(last)} in {years[-1]}"
    else:
        change = "rose" if last > first else "fell" if last < first else "was unchanged"
        text = f"{change} from {show(first)} in {years[0]} to {show(last)} in {years[-1]}"
        if len(v) >= 3 and span > 0:
            prev = v[-2]
            latest = "rose" if last > prev else "fell" if last < prev else "held steady"
            if (latest == "fell" and change == "rose") or (latest == "rose" and change == "fell"):
                text += f" (it {latest} in the latest year, from {show(prev)} in {years[-2]})"
    return text


def trend_sentence(panel: pd.DataFrame, settings: Settings, measure: Measure) -> str | None:
    """How the LA's value moved over the years shown (peak or low and the latest direction), and England's."""
    s = panel[
        (panel["measure"] == measure.id)
        & (panel["area_code"] == settings.la_code)
        & panel["year"].between(settings.first_year, settings.last_year)
        & panel["value"].notna()
    ].sort_values("year")
    if len(s) < 2:
        return None
    u, dp = measure.unit, measure.decimals
    show = lambda x: fmt(x, u, dp)  # noqa: E731
    text = f"{measure.short}: {trend_shape([int(y) for y in s['year']], s['value'].tolist(), show)} in {settings.la_name}"
    first, last = s.iloc[0], s.iloc[-1]
    e = panel[(panel["measure"] == measure.id) & (panel["area_code"] == ENGLAND) & panel["year"].isin([first["year"], last["year"]])].set_index(
        "year"
    )["value"]
    if first["year"] in e.index and last["year"] in e.index and pd.notna(e[first["year"]]) and pd.notna(e[last["year"]]):
        text += f" (England: {fmt(e[first['year']], u, dp)} to {fmt(e[last['year']], u, dp)})"
    return text + "."


def coverage_notes(panel: pd.DataFrame, settings: Settings) -> list[str]:
    """When the LA's own published series starts, and why (a new council after a boundary change)."""
    years = _la_cla_years(panel, settings)
    if years.empty:
        return [f"No children looked after figures are published for {settings.la_name} in these files"]
    first = int(years.min())
    brk = settings.la.get("series_break_year") if hasattr(settings.la, "get") else None
    notes = []
    if brk is not None and not pd.isna(brk):
        change = str(settings.la.get("change_note") or "").rstrip(".")
        notes.append(
            f"{settings.la_name} was created by a boundary change ({change}); its own published figures start at 31 March {first}. "
            f"Earlier years belong to the council(s) it replaced and are not comparable, so its trends start in {first}"
        )
    elif first > settings.first_year:
        notes.append(f"Published figures for {settings.la_name} start in {first}")
    return notes


def key_findings(details: dict[str, dict], la_name: str) -> list[str]:
    """The headline bullets, each written from the numbers."""
    tested = [d for d in details.values() if d["flag"]]
    strong = [d for d in tested if d["flag"].endswith("99.8%")]
    watch = [d for d in tested if d["flag"].endswith(" 95%")]
    out = []
    cla = details.get("cla_rate")
    if cla and not isinstance(cla["la"], str):
        count = cla.get("count")
        number = f"{count_text(count)} children" if count is not None and not isinstance(count, str) else "children"
        out.append(
            f"{la_name} looked after {number} at 31 March {cla['year']}: {fmt(cla['la'], cla['unit'], cla['decimals'])} "
            f"(England {fmt(cla['england'], cla['unit'], cla['decimals'])}, comparator average {fmt(cla['comparators'], cla['unit'], cla['decimals'])})."
        )
    if strong:
        items = "; ".join(
            f"{_lower(d['short'])} {fmt(d['la'], d['unit'], d['decimals'])} against {fmt(d['england'], d['unit'], d['decimals'])} "
            f"({'higher' if d['flag'].startswith('above') else 'lower'})"
            for d in strong
        )
        out.append(
            f"{la_name} is significantly different from England on {len(strong)} of the {len(tested)} measures tested with funnel plots: {items}."
        )
    elif tested:
        far = [
            d
            for d in tested
            if isinstance(d.get("la"), (int, float))
            and isinstance(d.get("england"), (int, float))
            and d["england"] > 0
            and not 1 / 1.5 < d["la"] / d["england"] < 1.5
        ]
        note = (
            " Within the limits does not mean close to England: the limits are widened for how much LAs really differ "
            "from one another, so a figure far from England's can still be inside them ("
            + "; ".join(f"{_lower(d['short'])} {d['la'] / d['england']:.1f} times England's" for d in far)
            + "). It means no more unusual than LAs commonly are."
            if far
            else ""
        )
        out.append(
            f"None of the {len(tested)} measures tested with funnel plots puts {la_name} outside England's 99.8% limits, "
            "once the normal variation between LAs is allowed for." + note
        )
    else:
        out.append(
            f"No measure could be tested with funnel plots for {la_name}: its published figures are suppressed (fewer than "
            "5 children) or not published, so it is not compared with England's limits."
        )
    if watch:
        out.append(
            "Worth watching (outside the 95% limits only): "
            + "; ".join(
                f"{_lower(d['short'])} ({fmt(d['la'], d['unit'], d['decimals'])} against {fmt(d['england'], d['unit'], d['decimals'])} for England)"
                for d in watch
            )
            + "."
        )
    ratios = []
    for d in details.values():
        la, eng = d["la"], d["england"]
        if isinstance(la, (int, float)) and isinstance(eng, (int, float)) and la > 0 and eng > 0:
            ratios.append((abs(np.log(la / eng)), d))
    ratios.sort(key=lambda t: t[0], reverse=True)
    if ratios:
        parts = []
        for _, d in ratios[:3]:
            r = d["la"] / d["england"]
            how = (
                f"{r:.1f} times England's"
                if r >= 1.5
                else f"{(r - 1) * 100:.0f}% above England's"
                if r > 1
                else f"{(1 - r) * 100:.0f}% below England's"
            )
            parts.append(f"{_lower(d['short'])} ({fmt(d['la'], d['unit'], d['decimals'])}, {how})")
        out.append("Largest differences from England: " + "; ".join(parts) + ".")
    top = [_lower(d["short"]) for d in details.values() if d["rank"] and d["ranked"] and d["rank"] <= d["ranked"] / 4]
    bottom = [_lower(d["short"]) for d in details.values() if d["rank"] and d["ranked"] and d["rank"] > d["ranked"] * 3 / 4]
    if top:
        out.append(f"Among the highest quarter of LAs: {', '.join(top)}.")
    if bottom:
        out.append(f"Among the lowest quarter of LAs: {', '.join(bottom)}.")
    edge = [details[m] for m in ("cin_rate", "cpp_rate", "referrals_rate") if m in details and not isinstance(details[m]["la"], str)]
    if edge:
        out.append(
            "Edge of care: "
            + "; ".join(
                f"{_lower(d['short']).replace(', per 10,000', '')} {fmt(d['la'], d['unit'], d['decimals'])} in {d['year']} (England {fmt(d['england'], d['unit'], d['decimals'])}, "
                f"comparator average {fmt(d['comparators'], d['unit'], d['decimals'])})"
                for d in edge
            )
            + "."
        )
    leavers = [details[m] for m in ("cl_eet_19_21_pct", "cl_suitable_19_21_pct") if m in details and not isinstance(details[m]["la"], str)]
    if leavers:
        out.append(
            "Care leavers aged 19-21: "
            + "; ".join(
                f"{fmt(d['la'], '%')} {'in education, employment or training' if 'eet' in d['measure'] else 'in suitable accommodation'} "
                f"(England {fmt(d['england'], '%')}, comparator average {fmt(d['comparators'], '%')})"
                for d in leavers
            )
            + f" in {leavers[0]['year']}."
        )
    share = details.get("residential_spend_share")
    if share and not isinstance(share["la"], str):
        out.append(
            f"Residential care took {fmt(share['la'], '%')} of net spend on children looked after in {share['year'] - 1}-{str(share['year'])[2:]} "
            f"(England {fmt(share['england'], '%')}, comparator average {fmt(share['comparators'], '%')})."
        )
    money = details.get("spend_per_child")
    if money and not isinstance(money["la"], str):
        out.append(
            f"Net spend per child looked after in {money['year']} was {fmt(money['la'], '£')} ({_position(money['rank'], money['ranked'])} of {money['ranked']} LAs), "
            f"against {fmt(money['england'], '£')} for England and {fmt(money['comparators'], '£')} for the comparator average."
        )
    return out


def findings_markdown(details: dict[str, dict], settings: Settings, panel: pd.DataFrame) -> str:
    """The plain-English findings, written from the numbers, as Markdown."""
    lines = [f"- {t}" for t in key_findings(details, settings.la_name)]
    lines.append("")
    lines.append("**Measure by measure** (latest year published; comparisons with England use funnel-plot limits):")
    lines.append("")
    for topic in dict.fromkeys(m.topic for m in MEASURES):
        lines.append(f"*{topic}*")
        lines.append("")
        for m in MEASURES:
            if m.topic == topic and m.id in details:
                lines.append(f"- {measure_sentence(details[m.id], settings.la_name, settings.comparator_label)}")
        lines.append("")
    return "\n".join(lines)


def trend_findings(panel: pd.DataFrame, settings: Settings, measures: tuple[str, ...] = TREND_PANELS) -> str:
    sentences = [trend_sentence(panel, settings, MEASURE_BY_ID[mid]) for mid in measures]
    return "\n".join(f"- {s}" for s in sentences if s)


def trend_title(panel: pd.DataFrame, settings: Settings) -> str:
    """A title that states the headline trend: the looked-after rate against England."""
    s = panel[
        (panel["measure"] == "cla_rate")
        & panel["area_code"].isin([settings.la_code, ENGLAND])
        & (panel["year"] <= settings.last_year)
        & panel["value"].notna()
    ]
    la = s[s["area_code"] == settings.la_code].sort_values("year")
    eng = s[s["area_code"] == ENGLAND].set_index("year")["value"]
    if la.empty or la["year"].iloc[-1] not in eng.index:
        return f"{settings.la_name}: trends against comparators, region and England"
    year, value = int(la["year"].iloc[-1]), float(la["value"].iloc[-1])
    ratio = value / float(eng[year]) if eng[year] else float("nan")
    if ratio > 1.1:
        where = f"{ratio:.1f} times the England rate" if ratio >= 1.5 else "above the England rate"
    elif ratio < 0.9:
        where = "below the England rate"
    else:
        where = "close to the England rate"
    return f"{settings.la_name} looked after {value:,.0f} children per 10,000 in {year}, {where}"


def funnel_title(details: dict[str, dict], settings: Settings) -> str:
    high = sum(d["flag"] == "above 99.8%" for d in details.values())
    low = sum(d["flag"] == "below 99.8%" for d in details.values())
    warn = sum(d["flag"] in ("above 95%", "below 95%") for d in details.values())
    if high or low:
        return f"{settings.la_name} is outside England's 99.8% limits on {high + low} measure(s)"
    if warn:
        return f"{settings.la_name} is within England's 99.8% limits on every measure, outside the 95% limits on {warn}"
    return f"{settings.la_name} is within England's funnel limits on every measure tested"


def ranked_title(details: dict[str, dict], settings: Settings) -> str:
    d = details.get("cla_rate")
    if not d or not d["comparator_rank"]:
        return f"{settings.la_name} among its comparator group"
    return f"{settings.la_name} has {_position(d['comparator_rank'], d['comparator_ranked'])} looked-after rate of the {d['comparator_ranked']} LAs in its comparator group"


def mix_title(mix: pd.DataFrame, settings: Settings) -> str:
    la, eng = mix.iloc[0], mix[mix["area"] == "England"].iloc[0]
    if pd.isna(la["foster_pct"]) or pd.isna(eng["foster_pct"]):
        return f"Where {settings.la_name}'s children live, against comparators, region and England"
    diff = float(la["foster_pct"]) - float(eng["foster_pct"])
    side = "more" if diff > 0 else "fewer"
    if abs(diff) < 1:
        return f"{settings.la_name} places the same share of children in foster care as England ({la['foster_pct']:.0f}%)"
    return f"{settings.la_name} places {side} children in foster care than England ({la['foster_pct']:.0f}% against {eng['foster_pct']:.0f}%)"


def findings(res: Results, s: Settings) -> str:
    """The paper's findings in plain English (markdown), from its results."""
    return findings_markdown(res.details, s, res.panel)
