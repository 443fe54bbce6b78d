"""Writing the synthetic 903: the episodes, header, UASC, OC2, missing and review tables by year, and the
placement costs."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.io.costs import COST_COLUMNS
from analysis.io.ssda903_rules import collection_year_of
from analysis.synth.children import BASE_WEEKLY_COST, COST_EFFECTS, FIRST_YEAR, LAST_YEAR, Child, _fmt
from analysis.synth.simulation import Simulation


# --- writing the returns ---------------------------------------------------------------------------------
def _segments(child: Child, period: dict, rng: np.random.Generator) -> list[dict]:
    """A period's episodes: a new one at each placement change (RNE P) and legal status change
    (RNE L; B when both), plus an occasional holiday (T2) inside a long foster placement."""
    cuts = sorted({pl["start"] for pl in period["placements"]} | {d for d, _ in period["ls"] if d >= period["start"]})
    end = period["end"]
    out = []
    for i, a in enumerate(cuts):
        if end is not None and a >= end:
            break
        b = cuts[i + 1] if i + 1 < len(cuts) else end
        if end is not None and b is not None and b > end:
            b = end
        pl = [p for p in period["placements"] if p["start"] <= a][-1]
        ls = [x for d, x in period["ls"] if d <= a][-1]
        new_place = a == pl["start"]
        new_ls = any(d == a for d, _ in period["ls"]) and a != period["start"]
        rne = "S" if a == period["start"] else ("B" if new_place and new_ls else "P" if new_place else "L")
        out.append({"DECOM": a, "DEC": b, "RNE": rne, "LS": ls, "_pl": pl})
    for j, ep in enumerate(out):
        last = j == len(out) - 1
        if ep["DEC"] is None:
            ep["REC"], ep["REASON_PLACE_CHANGE"] = "", ""
        elif last:
            ep["REC"], ep["REASON_PLACE_CHANGE"] = period["exit"], ""
        else:
            ep["REC"] = "X1"
            nxt = out[j + 1]
            ep["REASON_PLACE_CHANGE"] = (ep["_pl"]["reason"] or "CARPL") if nxt["_pl"] is not ep["_pl"] else ""
    # holidays: a week in T2 inside long foster placements that do not span a 31 March
    result = []
    for ep in out:
        pl, a, b = ep["_pl"], ep["DECOM"], ep["DEC"]
        if pl["group"] in ("foster", "kinship foster") and b is not None and (b - a).days > 200 and rng.random() < 0.08:
            mid = pd.Timestamp((a + (b - a) / 2).date())
            back = mid + pd.Timedelta(days=7)
            if collection_year_of(mid) == collection_year_of(back) and back < b:
                result.append({**ep, "DEC": mid, "REC": "X1", "REASON_PLACE_CHANGE": ""})
                result.append({**ep, "DECOM": mid, "RNE": "P", "DEC": back, "REC": "X1", "REASON_PLACE_CHANGE": "", "_temp": True})
                ep = {**ep, "DECOM": back, "RNE": "P"}
        result.append(ep)
    return result


def _cin_at(child: Child, day: pd.Timestamp) -> str:
    """The category of need recorded on an episode starting on ``day``."""
    code = child.cin0
    for on, k in child.cin_changes:
        if on <= day:
            code = k
    return code


def episodes_of(sim: Simulation, child: Child) -> list[dict]:
    """The child's episodes with DfE codes (see :func:`_segments`)."""
    out = []
    for period in child.periods:
        for ep in _segments(child, period, sim.rng):
            pl = ep["_pl"]
            temp = ep.get("_temp", False)
            # DfE records no distance for unaccompanied children (rule 406): no home postcode for them
            home = "" if child.uasc or not pl["home_known"] else (pl["home_pc"] or sim._in_pc[child.home])
            out.append(
                {
                    "DECOM": ep["DECOM"],
                    "RNE": ep["RNE"],
                    "LS": ep["LS"],
                    "PLACE": "T2" if temp else pl["place"],
                    "PLACE_PROVIDER": "" if temp else pl["provider"],
                    "DEC": ep["DEC"],
                    "REC": ep["REC"],
                    "REASON_PLACE_CHANGE": ep["REASON_PLACE_CHANGE"],
                    "HOME_POST": home,
                    "PL_POST": sim._ar_pc[(child.home * 7919) % len(sim._ar_pc)] if temp else pl["post"],  # on holiday away
                    "URN": "" if temp else pl["urn"],
                    "_pl": pl,
                }
            )
    return out


def base_weekly_cost(place: str, external: bool) -> float:
    """The planted base weekly cost of a placement: by its type group as the 903 ingest groups PLACE
    codes (``ssda903_rules.PLACE_GROUP``) and whether the provider is external (PR4, PR5)."""
    from analysis.io.ssda903_rules import PLACE_GROUP

    group = PLACE_GROUP.get(place, "other")
    return BASE_WEEKLY_COST.get((group, "external" if external else "own"), BASE_WEEKLY_COST.get((group, "own"), 900))


def write_returns(sim: Simulation, out: Path, costs_dir: Path | None = None) -> dict:
    """Ten years of CSV returns as an LA exports them, plus costs; returns what was written."""
    rng = np.random.default_rng(sim.seed + 1)
    rows = {y: {"header": [], "episodes": [], "uasc": [], "missing": [], "oc2": []} for y in range(FIRST_YEAR, LAST_YEAR + 1)}
    costs = []
    for child in sim.children:
        eps = episodes_of(sim, child)
        for e in eps:
            if e["PLACE"] not in ("T0", "T1", "T2", "T3", "T4") and e["RNE"] in ("S", "P", "B") and e["DECOM"] <= sim.end:
                pl = e["_pl"]
                age = child.age(e["DECOM"])
                ext = pl["provider"] in ("PR4", "PR5")
                base = base_weekly_cost(e["PLACE"], ext)
                ce = COST_EFFECTS
                lp = (
                    ce["outside_la"] * pl["outside"]
                    + ce["age_per_year_over_10"] * max(0.0, age - 10)
                    + ce["sdq_per_5_points"] * (child.sdq - 14) / 5
                    + ce["disability_n2"] * (child.cin0 == "N2")
                )
                cost = base * math.exp(lp + rng.normal(0, 0.18))
                costs.append(
                    {
                        "CHILD": child.id,
                        "PLACEMENT_START": _fmt(e["DECOM"]),
                        "WEEKLY_COST": f"{cost:.2f}",
                        "PROVIDER": pl["provider"],
                        "FUNDING": "joint" if child.cin0 == "N2" and rng.random() < 0.4 else "LA",
                    }
                )
        for year in range(FIRST_YEAR, LAST_YEAR + 1):
            y0, y1 = pd.Timestamp(year - 1, 4, 1), pd.Timestamp(year, 3, 31)
            these = [e for e in eps if e["DECOM"] <= y1 and (e["DEC"] is None or e["DEC"] >= y0)]
            if not these:
                continue
            sex = child.sex if year <= 2024 else {"1": "M", "2": "F"}[child.sex]
            # UPN fixed for the child (rules 208, 442); MOTHER recorded for every girl (rules 393, 607)
            rows[year]["header"].append(
                {
                    "CHILD": child.id,
                    "SEX": sex,
                    "DOB": _fmt(child.dob),
                    "ETHNIC": child.ethnic,
                    "UPN": child.upn,
                    "MOTHER": "0" if child.sex == "2" else "",
                    "MC_DOB": "",
                }
            )
            for e in these:
                open_at_end = e["DEC"] is None or e["DEC"] > y1
                rows[year]["episodes"].append(
                    {
                        "CHILD": child.id,
                        "DECOM": _fmt(e["DECOM"]),
                        "RNE": e["RNE"],
                        "LS": e["LS"],
                        "CIN": _cin_at(child, e["DECOM"]),
                        "PLACE": e["PLACE"],
                        "PLACE_PROVIDER": e["PLACE_PROVIDER"],
                        "DEC": "" if open_at_end else _fmt(e["DEC"]),
                        "REC": "" if open_at_end else e["REC"],
                        "REASON_PLACE_CHANGE": "" if open_at_end else e["REASON_PLACE_CHANGE"],
                        "HOME_POST": e["HOME_POST"],
                        "PL_POST": e["PL_POST"],
                        "URN": e["URN"],
                    }
                )
            if child.uasc:  # the date UASC status ceases is the 18th birthday, recorded ahead (rule 205B)
                rows[year]["uasc"].append({"CHILD": child.id, "SEX": sex, "DOB": _fmt(child.dob), "DUC": _fmt(child.dob + pd.DateOffset(years=18))})
            whole = child.whole_age(y1)
            continuous = any(pr["start"] <= y1 - pd.Timedelta(days=365) and (pr["end"] is None or pr["end"] > y1) for pr in child.periods)
            if continuous:  # OC2: every child looked after for 12 months at 31 March, items by age (rules 186-191, 542, 546)
                sdq = whole >= 4 and child.whole_age(y0) < 17
                score = int(round(np.clip(child.sdq + rng.normal(0, 2), 0, 40)))
                rows[year]["oc2"].append(
                    {
                        "CHILD": child.id,
                        "DOB": _fmt(child.dob),
                        "SDQ_SCORE": str(score) if sdq else "",
                        "SDQ_REASON": "",
                        "CONVICTED": "0" if whole >= 10 else "",
                        "HEALTH_CHECK": "1" if whole < 5 else "",
                        "IMMUNISATIONS": "1",
                        "TEETH_CHECK": "1",
                        "HEALTH_ASSESSMENT": "1",
                        "SUBSTANCE_MISUSE": "0",
                        "INTERVENTION_RECEIVED": "",
                        "INTERVENTION_OFFERED": "",
                    }
                )
            if whole >= 11 and rng.random() < 0.08 + child.sdq / 200:  # missing: while looked after, within the year
                lo = max(y0, min(e["DECOM"] for e in these))
                ends = [e["DEC"] for e in these if e["DEC"] is not None and e["DEC"] <= y1 and e["REC"] not in ("", "X1")]
                hi = min([y1, *ends]) - pd.Timedelta(days=3)
                if hi > lo:
                    day = lo + pd.Timedelta(days=int(rng.integers(0, (hi - lo).days + 1)))
                    rows[year]["missing"].append(
                        {
                            "CHILD": child.id,
                            "DOB": _fmt(child.dob),
                            "MISSING": "M" if rng.random() < 0.7 else "A",
                            "MIS_START": _fmt(day),
                            "MIS_END": _fmt(day + pd.Timedelta(days=int(rng.integers(0, 3)))),
                        }
                    )
    from analysis.io.ssda903_schema import TABLES

    out.mkdir(parents=True, exist_ok=True)
    written = {}
    for year, tables in rows.items():
        folder = out / f"{year - 1}-{str(year)[2:]}"
        folder.mkdir(exist_ok=True)
        for name, data in tables.items():
            df = pd.DataFrame(data, columns=list(TABLES[name][1]))
            df.to_csv(folder / f"{name}.csv", index=False, lineterminator="\n")
            written[f"{folder.name}/{name}.csv"] = len(df)
    costs_dir = costs_dir or out / "costs"
    costs_dir.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(costs, columns=COST_COLUMNS).to_csv(costs_dir / "placement_costs.csv", index=False, lineterminator="\n")
    (out / "LA_CODE").write_text(sim.la + "\n")
    return written
