"""Paper 04's summaries of the other papers of the same run (01, 02, 03 and 05), from their metrics.json: the
headline table, the stability and cost findings, the glance at supply and the gap, and which papers were found."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.io import indicators
from analysis.papers.p04_sufficiency.inputs import FROM_903, PAPERS, Settings
from analysis.papers.p04_sufficiency.words import missing_reason
from analysis.report import metrics
from analysis.report.disclosure import SUPPRESSED
from analysis.report.labels import TERM_LABELS


def paper_summary(found: dict[str, dict | None], where: str, s: Settings) -> pd.DataFrame:
    """What each paper contributed, or why it is missing."""
    rows = []
    for pid, title in PAPERS.items():
        m = found.get(pid)
        rows.append(
            {
                "paper": title,
                "status": "included" if m else f"missing: {missing_reason(pid, s)}",
                "title": m.get("title", "") if m else "not included",
                "source": where if m else "not included",
            }
        )
    return pd.DataFrame(rows)


# --- the other papers' headline tables ---------------------------------------------------------------
#: paper 01's measures shown in the pack's headline table, with their labels there (``indicators.yaml``, ``pack``)
P01_MEASURES = {m.id: m.pack for m in indicators.MEASURES if m.pack}


def paper01_table(m: dict | None) -> pd.DataFrame | None:
    if not m:
        return None
    rows = []
    for mid, label in P01_MEASURES.items():
        d = metrics.entry(m, mid)
        if isinstance(d, dict):
            count = d.get("count")
            rows.append(
                {
                    "measure": label,
                    "year": d.get("year"),
                    "number": count if count is not None else "z",
                    "LA": d.get("value"),
                    "comparator_average": d.get("comparators"),
                    "England": d.get("england"),
                    "against_England": d.get("flag") or "not tested",
                }
            )
    return pd.DataFrame(rows)


def paper02_table(m: dict | None) -> pd.DataFrame | None:
    if not m:
        return None
    by_type = metrics.value(m, "rate_by_placement_type") or {}
    hr = metrics.value(m, "hazard_ratios") or {}
    rows = [{"item": f"Unplanned endings per 100 placement-years: {k}", "value": v} for k, v in by_type.items()]
    rows += [
        {"item": f"Hazard ratio: {TERM_LABELS.get(k, k)}", "value": v["hazard_ratio"]}  # as paper 02 printed it (rounded once)
        for k, v in hr.items()
        if isinstance(v, dict) and v.get("p", 1) < 0.05
    ]
    return pd.DataFrame(rows, columns=["item", "value"]).assign(source=_903_source(m))


def _903_source(m: dict) -> str:
    """Where a paper's child-level figures come from, in a reader's words."""
    return "SYNTHETIC 903 (not real children)" if m.get("synthetic") else "the LA's 903"


PUBLISHED_SOURCE = "published (RO3, DfE)"


def paper03_table(m: dict | None) -> pd.DataFrame | None:
    if not m:
        return None
    rows = []
    sp = metrics.entry(m, "spend_per_child")
    local = _903_source(m)
    if isinstance(sp, dict):
        rows.append({"item": f"Net spend per child looked after, {sp.get('year')} (£)", "value": sp.get("value"), "source": PUBLISHED_SOURCE})
        rows.append({"item": "Against the across-LA model's prediction (%)", "value": sp.get("unexplained_pct"), "source": PUBLISHED_SOURCE})
    prem = metrics.value(m, "out_of_area_premium")
    if isinstance(prem, dict):
        for part, d in prem.items():
            rows.append({"item": f"Out-of-area premium: {part} (%)", "value": d.get("pct"), "source": local})
    for sc in metrics.value(m, "scenarios") or []:
        v = sc.get("annual_change_gbp")
        rows.append(
            {
                "item": f"Scenario {sc['scenario']} ({sc['basis']}): {sc['what']} (£ a year)",
                "value": round(v, -2) if isinstance(v, (int, float)) else v,
                "source": local,
            }
        )
    return pd.DataFrame(rows, columns=["item", "value", "source"])


def paper03_empty_reason() -> str:
    """Why paper 03 gave the pack nothing to show for this LA, in a reader's words."""
    return (
        "Paper 03 ran, but has no figures for this LA that the pack can show: its RO3 spend per child is not published or "
        "not comparable (the across-LA model leaves out LAs with too few children looked after), and the project holds "
        "no 903 and placement cost file for it."
    )


def _shown(v: object, unit: str = "") -> str:
    """A figure from paper 05's metrics as that paper printed it (``c`` stays "not shown")."""
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "not published"
    if isinstance(v, str):
        return "not shown (c)" if v == SUPPRESSED else v
    return f"{v:,.0f}{unit}"


def glance_table(m05: dict | None) -> pd.DataFrame | None:
    """Sufficiency at a glance, from paper 05's metrics.json (as that paper printed its figures): supply
    now, the gap by type at the furthest year shown, foster households to recruit, UASC against the
    National Transfer Scheme threshold and care leavers; with where each figure comes from."""
    if not m05:
        return None
    m = m05.get("metrics", {})
    synthetic = bool(m05.get("synthetic"))
    rows = []
    supply = (m.get("supply_now") or {}).get("value") or {}
    year = (m.get("supply_now") or {}).get("year")
    homes = supply.get("children's homes")
    rows.append(("Supply", f"Places in children's homes registered in the area, 31 March {year}", _shown(homes), "Ofsted (published)"))
    rows.append(("Supply", "of which run by the council", _shown(supply.get("children's homes run by the LA")), "Ofsted (published)"))
    rows.append(("Supply", "Supported accommodation places (16-17)", _shown(supply.get("supported accommodation")), "Ofsted (published)"))
    ng = m.get("net_gain") or {}
    if ng:
        rows.append(
            ("Who uses local homes", f"Net gain at 31 March {ng.get('year')}", f"{_shown(ng.get('value'))} ({ng.get('placer')})", "DfE (published)")
        )
    gap = (m.get("gap") or {}).get("value")
    source = "903 (synthetic)" if synthetic and (m.get("gap") or {}).get("source") == FROM_903 else "forecast from published figures"
    if gap:
        last = max(r["year"] for r in gap)
        for r in [r for r in gap if r["year"] == last]:
            lo, hi = r.get("lower_95"), r.get("upper_95")
            rng = "not shown (c)" if isinstance(lo, str) or isinstance(hi, str) else f"{lo:,.0f} to {hi:,.0f}"
            places = "" if r.get("places_registered") is None else f"; {_shown(r.get('places_registered'))} places registered in the area"
            rows.append(("Demand and gap", f"Children in {r['placement']}, March {last} (95% range)", rng + places, source))
    else:
        rows.append(("Demand and gap", "Forecast against supply", (m.get("gap") or {}).get("reason") or "not made", "paper 05"))
    hh = (m.get("foster_households") or {}).get("value")
    if hh:
        first = hh[0]
        rows.append(
            (
                "Fostering",
                f"In-house foster households to recruit in {first['year']} (range)",
                f"{_shown(first['to_recruit'])} ({_shown(first['to_recruit_lower'])} to {_shown(first['to_recruit_upper'])})",
                "forecast x national stand-ins (Ofsted), unless set",
            )
        )
    u = m.get("uasc") or {}
    if u:
        rows.append(
            (
                "UASC",
                f"Unaccompanied children at 31 March {u.get('year')}",
                f"{_shown(u.get('value'))}: {u.get('position')} ({_shown(u.get('threshold'))})",
                "DfE (published)",
            )
        )
    cl = m.get("care_leavers") or {}
    for age, d in (cl.get("value") or {}).items():
        pct = d.get("suitable_pct")
        rows.append(
            (
                "Care leavers",
                f"Aged {age}, {cl.get('year')}",
                f"{_shown(d.get('care_leavers'))}" + ("" if pct is None or isinstance(pct, str) else f" ({pct:.0f}% suitably housed)"),
                "DfE (published)",
            )
        )
    return pd.DataFrame(rows, columns=["topic", "measure", "figure", "source"])
