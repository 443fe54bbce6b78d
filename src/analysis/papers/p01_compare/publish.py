"""Paper 01's publishing: headline metrics for metrics.json, the report context and the chart specifications."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from analysis.papers.p01_compare.paper import Results

import numpy as np
import pandas as pd

from analysis.papers.p01_compare.analysis import MIX_CATEGORIES, RANKED_PANELS, comparator_values, flag_text, funnel_units, placement_mix, trend_table
from analysis.papers.p01_compare.inputs import MEASURE_BY_ID, MEASURES, Data, Settings, comparator_names
from analysis.report.disclosure import Gated, gate, published_figures
from analysis.report.reporting import SYMBOLS_NOTE


def headline_metrics(details: dict[str, dict]) -> dict[str, dict]:
    """Machine-readable headline figures (for metrics.json): one record per measure."""

    def num(v: object) -> object:
        return float(v) if isinstance(v, (int, float, np.floating)) and not pd.isna(v) else v

    return {
        mid: {
            "label": d["label"],
            "unit": d["unit"],
            "year": int(d["year"]),
            "la": num(d["la"]),
            "comparators": num(d["comparators"]),
            "comparators_n": d["comparators_n"],
            "region": num(d["region"]),
            "england": num(d["england"]),
            "rank": d["rank"],
            "ranked": d["ranked"],
            "flag": d["flag"] or None,
            "count": num(d.get("count")),
        }
        for mid, d in details.items()
    }


def report_context(data: Data, settings: Settings) -> dict:
    """Who and what the report is about, for metrics.json and the workbook's About sheet."""
    return {
        "la_code": settings.la_code,
        "la_name": settings.la_name,
        "old_la_code": str(settings.la["old_la_code"]),
        "region": str(settings.la["region_name"]),
        "comparator": settings.comparator_label,
        "comparator_las": ", ".join(comparator_names(data, settings)),
        "years": f"{settings.first_year}-{settings.last_year}",
        "data_vintage": {
            "DfE children looked after (latest year at 31 March)": int(data.la_indicators["year"].max()),
            "RO3 spend (latest financial year)": str(data.ro3["financial_year"].max()),
            "Ofsted children's homes (latest year at 31 March)": int(data.ofsted["year"].max()),
        },
    }


def funnel_specs(panel: pd.DataFrame, settings: Settings, details: dict[str, dict]) -> list[dict]:
    """Data for :func:`analysis.report.charts.funnel_panels`, one per measure with a funnel."""
    specs = []
    for m in MEASURES:
        if not m.funnel or m.id not in details:
            continue
        f = details[m.id].get("funnel") or funnel_units(panel, m, details[m.id]["year"], settings.la_code)
        if f is None:
            continue
        units, theta, disp = f
        specs.append(
            {  # published LA figures (DfE's own suppression applies), gated so the chart may draw them
                "measure": m.id,
                "units": gate(units, counts=[]),
                "theta": theta * m.scale,
                "kind": "rate" if m.kind == "rate" else "proportion",
                "scale": m.scale,
                "tau2": disp.tau2,
                "short": f"{m.short} ({details[m.id]['year']})",
                "unit": m.unit,
                "x_label": m.x_label,
                "dispersion": disp,
            }
        )
    return specs


def funnel_notes(specs: list[dict], settings: Settings) -> pd.DataFrame:
    """Per funnel: England target, LAs plotted, the over-dispersion test and the LA's position."""
    rows = []
    for s in specs:
        units = s["units"].frame
        me = units[units["is_la"].astype(bool)]
        disp = s["dispersion"]
        rows.append(
            {
                "Measure": s["short"],
                "England": round(s["theta"], 1),
                "LAs plotted": len(units),
                "Over-dispersed?": (
                    f"yes (phi = {disp.phi:.1f}): limits widened"
                    if disp.overdispersed
                    else f"no (phi = {disp.phi:.2f}): exact limits"
                    if disp.k >= 3
                    else "too few LAs to test"
                ),
                settings.la_name: flag_text(str(me["flag"].iloc[0]), MEASURE_BY_ID[s["measure"]]) if not me.empty else "not published",
            }
        )
    return pd.DataFrame(rows)


def ranked_specs(panel: pd.DataFrame, settings: Settings, details: dict[str, dict]) -> list[dict]:
    specs = []
    for mid in RANKED_PANELS:
        if mid not in details:
            continue
        d = details[mid]
        england = d["england"] if not isinstance(d["england"], str) else np.nan
        specs.append(
            {
                "data": gate(comparator_values(panel, settings, mid, d["year"]), counts=[]),
                "england": england,
                "short": f"{MEASURE_BY_ID[mid].short} ({d['year']})",
                "unit": MEASURE_BY_ID[mid].unit,
            }
        )
    return specs


def record_metrics(report, res: Results, s: Settings) -> None:
    """The headline figures into metrics.json (what paper 04 reads), one record per measure."""
    for mid, d in headline_metrics(res.details).items():
        report.metric(mid, d["la"], **{k: v for k, v in d.items() if k != "la"})


#: the measures whose yearly series the paper tables (the trend charts draw more)
TREND_TABLES = ("cla_rate", "three_plus_pct", "stability_pct")


def mix_year(res: Results, s: Settings) -> int:
    """The year of the placement mix: the latest with the foster-care share published, else the last year."""
    return res.details["foster_pct"]["year"] if "foster_pct" in res.details else s.last_year


def publish_tables(report, res: Results, s: Settings) -> dict[str, Gated]:
    """Register every table of the paper with the report, gated once, in the order the paper shows them
    (``report.show(name)`` displays each where it belongs); returns the gated tables by name."""
    report.register(
        "summary",
        res.summary,
        title=f"{s.la_name}: latest published figures",
        **published_figures(res.summary, "Number (LA)"),
        notes="Number (LA): the LA's count of children behind each rate or percentage (z: not a count of children). "
        "Rates per 10,000 children aged 0-17; percentages of children looked after (care leavers: of care leavers of that age; "
        "re-referrals: of referrals); spend in £. "
        "Comparator average: simple mean of the comparator LAs' values. " + SYMBOLS_NOTE,
    )
    for mid in TREND_TABLES:
        m = MEASURE_BY_ID[mid]
        report.register(f"trend_{mid}", trend_table(res.panel, s, mid), title=f"{m.label}, by year", counts=[], notes=SYMBOLS_NOTE)
    report.register(
        "funnels",
        funnel_notes(funnel_specs(res.panel, s, res.details), s),
        title="Funnel plots: England value, over-dispersion and the LA's position",
        counts=[],
        decimals={"England": 1},
    )
    year = mix_year(res, s)
    report.register(
        "placement_mix",
        placement_mix(res.panel, s, year).rename(columns=dict(MIX_CATEGORIES) | {"area": "Area"}),
        title=f"Placement type, % of children looked after at 31 March {year}",
        counts=[],
    )
    return report.registered()
