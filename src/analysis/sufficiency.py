"""Paper 04: the sufficiency evidence pack.

It brings together, for one LA: the needs profile of its children in care (903), the demand
forecast (:mod:`analysis.forecast`), supply (Ofsted places in the LA; in-house against external
provision) against forecast demand, projected placement cost under each scenario (with paper 03's
cost model), and the headline results of papers 01-03 **from the same run** (their
``metrics.json``). A paper that failed or did not run is named as missing; its numbers are never
taken from an older run without saying so.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import forecast as fc
from .config import Paths, paths
from .disclosure import Gated, count_text, gate
from .labels import SYMBOL_WORDS
from .errors import AnalysisError
from .params import ParameterError

PARAMETER_TYPES: dict[str, type] = {
    "la_code": str, "first_year": int, "forecast_years": int, "fit_years": int, "holdout_years": int, "bootstrap": int,
    "fewer_entries_pct": float, "faster_exits_pct": float, "shift_to_fostering_pct": float, "output_dir": str,
}
PAPERS = {"01": "How the LA compares (paper 01)", "02": "Stability and breakdown risk (paper 02)", "03": "Placement costs (paper 03)"}
AGE_BANDS = [(0, 1, "under 1"), (1, 5, "1 to 4"), (5, 10, "5 to 9"), (10, 16, "10 to 15"), (16, 19, "16 and over")]
LEGAL = {"C1": "interim care order", "C2": "full care order", "V2": "voluntary (section 20)", "E1": "placement order",
         "D1": "freeing order", "J1": "remanded or on remand", "J2": "youth justice", "J3": "youth justice", "L1": "police protection",
         "L2": "emergency protection order", "L3": "child assessment order", "V3": "short breaks", "V4": "short breaks"}
NEED = {"N1": "abuse or neglect", "N2": "disability", "N3": "parental illness or disability", "N4": "family in acute stress",
        "N5": "family dysfunction", "N6": "socially unacceptable behaviour", "N7": "low income", "N8": "absent parenting"}


# --- data and settings ----------------------------------------------------------------------------------
@dataclass
class Data:
    episodes: pd.DataFrame
    placements: pd.DataFrame
    periods: pd.DataFrame
    children: pd.DataFrame
    oc2: pd.DataFrame
    costs: pd.DataFrame | None
    report: dict
    truth: dict | None

    @classmethod
    def load(cls, p: Paths | None = None) -> Data:
        from .ingest903 import NO_903, read_processed

        d = read_processed(p or paths(), ("episodes", "placements", "periods", "children", "oc2", "placement_costs"))
        if d is None:
            raise AnalysisError(NO_903)
        t = d.tables
        return cls(t["episodes"], t["placements"], t["periods"], t["children"], t["oc2"], t["placement_costs"], d.report, d.truth)


@dataclass
class Settings:
    la_code: str
    la_name: str
    years: list[int]
    forecast_years: int
    fit_years: int
    holdout_years: int
    bootstrap: int
    scenarios: dict[str, dict]
    notes: list[str] = field(default_factory=list)

    @property
    def last_year(self) -> int:
        return self.years[-1]


def setup(data: Data, *, la_code: str, first_year: int, forecast_years: int, fit_years: int, holdout_years: int, bootstrap: int,
          fewer_entries_pct: float, faster_exits_pct: float, shift_to_fostering_pct: float, p: Paths | None = None) -> Settings:
    from .params import resolve_la_param

    la = resolve_la_param(la_code, p)
    if la["la_code"] != data.report.get("la_code"):
        raise ParameterError(f"the 903 data in this project is for {data.report.get('la_code')}, not {la['la_name']} ({la['la_code']}): "
                             "the sufficiency pack needs the LA's own 903 data")
    if not 3 <= forecast_years <= 5:
        raise ParameterError(f"parameter 'forecast_years' should be 3 to 5, got {forecast_years!r}")
    if not 1 <= fit_years <= 5:
        raise ParameterError(f"parameter 'fit_years' should be 1 to 5, got {fit_years!r}")
    if not 1 <= holdout_years <= 3:
        raise ParameterError(f"parameter 'holdout_years' should be 1 to 3, got {holdout_years!r}")
    if not 0 <= bootstrap <= 1000:
        raise ParameterError(f"parameter 'bootstrap' should be 0 to 1000 resamples, got {bootstrap!r}")
    for name, v in (("fewer_entries_pct", fewer_entries_pct), ("faster_exits_pct", faster_exits_pct), ("shift_to_fostering_pct", shift_to_fostering_pct)):
        if not 0 <= v <= 100:
            raise ParameterError(f"parameter '{name}' should be a percentage from 0 to 100, got {v!r}")
    available = [int(y) for y in data.report["collection_years"]]
    if first_year and not available[0] <= first_year <= available[-1]:
        raise ParameterError(f"parameter 'first_year' should be within the 903 data ({available[0]} to {available[-1]}), or 0 for all; got {first_year}")
    years = [y for y in available if y >= (first_year or available[0])]
    notes = []
    scenarios = {
        "Current trends": {},
        f"{fewer_entries_pct:g}% fewer entries": {"fewer_entries_pct": fewer_entries_pct},
        f"{faster_exits_pct:g}% faster exits": {"faster_exits_pct": faster_exits_pct},
        f"{shift_to_fostering_pct:g}% of new children's home placements to fostering": {"shift_pct": shift_to_fostering_pct},
    }
    return Settings(la["la_code"], la["la_name"], years, forecast_years, fit_years, holdout_years, bootstrap, scenarios, notes)


def history_ok(s: Settings) -> str | None:
    """Why the forecast cannot run on this history, or None."""
    need = s.fit_years + s.holdout_years + 1
    if len(s.years) < need:
        return (f"only {len(s.years)} year(s) of 903 history ({s.years[0]}-{s.years[-1]}): the forecast needs at least {need} "
                f"({s.fit_years} to fit, {s.holdout_years} to test, and the year before them). The descriptive parts are shown.")
    return None


# --- needs profile ------------------------------------------------------------------------------------------
def profile(data: Data, s: Settings, snap: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Children looked after at 31 March each year by age, legal status, category of need, UASC, SDQ
    band, placement group and location: counts (long tables, one per characteristic)."""
    eps = data.episodes
    kids = data.children.set_index("child")
    out: dict[str, list] = {k: [] for k in ("age", "legal status", "category of need", "UASC", "SDQ", "placement", "location")}
    sdq = data.oc2.dropna(subset=["sdq_score"])
    for y in s.years:
        day = pd.Timestamp(y, 3, 31)
        on = snap[snap["day"] == day]
        e = eps[(eps["decom"] <= day) & (eps["dec"].isna() | (eps["dec"] > day)) & ~eps["ls"].isin(["V3", "V4"])]
        e = e.sort_values("decom").drop_duplicates("child", keep="last").set_index("child").reindex(on["child"])
        band = pd.cut(on["age"], [a for a, _, _ in AGE_BANDS] + [99], right=False, labels=[n for _, _, n in AGE_BANDS]).astype(str)
        out["age"].append(_count(y, band))
        out["legal status"].append(_count(y, e["ls"].map(LEGAL).fillna("other")))
        out["category of need"].append(_count(y, e["cin"].map(NEED).fillna("not recorded")))
        out["UASC"].append(_count(y, kids["uasc"].reindex(on["child"]).map({True: "UASC", False: "not UASC"}).fillna("not UASC")))
        latest = sdq[sdq["collection_year"] <= y].sort_values("collection_year").drop_duplicates("child", keep="last").set_index("child")["sdq_score"]
        score = latest.reindex(on["child"])
        out["SDQ"].append(_count(y, pd.Series(np.select([score.isna(), score <= 13, score <= 16], ["not recorded", "normal (0-13)", "borderline (14-16)"],
                                                       default="cause for concern (17+)"))))
        out["placement"].append(_count(y, on["group"]))
        loc = e["pl_location"].fillna("").to_numpy()
        dist = pd.to_numeric(e["pl_distance"], errors="coerce").to_numpy()
        out["location"].append(_count(y, pd.Series(np.select([loc == "IN", (loc == "OUT") & (dist > 20), loc == "OUT"],
                                                              ["inside the LA", "outside, over 20 miles", "outside, up to 20 miles"], default="not known"))))
    tables = {}
    for k, v in out.items():
        t = pd.concat(v, ignore_index=True).pivot_table(index="group", columns="year", values="children", aggfunc="sum", fill_value=0).astype(int)
        if k == "age":  # age bands in age order, not as text sorts them
            t = t.reindex([n for _, _, n in AGE_BANDS if n in t.index])
        t.columns = [str(c) for c in t.columns]
        t.loc["all children"] = t.sum()  # the total row, so that a suppressed count cannot be worked out by subtraction
        tables[k] = t.reset_index()
    return tables


def _count(year: int, values: pd.Series) -> pd.DataFrame:
    c = pd.Series(np.asarray(values)).value_counts()
    return pd.DataFrame({"year": year, "group": c.index.astype(str), "children": c.to_numpy()})


# --- supply and gap ------------------------------------------------------------------------------------------
def provision(data: Data, s: Settings) -> pd.DataFrame:
    """Children at the last 31 March by forecast group and provider: the LA's own, other public, or external."""
    day = pd.Timestamp(s.last_year, 3, 31)
    p = data.placements
    on = p[(p["start"] <= day) & (p["end"].isna() | (p["end"] > day)) & (p["place_group"] != "temporary")]
    on = on.sort_values("start").drop_duplicates("child", keep="last")
    who = np.select([on["provider_group"] == "own LA", on["provider_group"].isin(["private", "voluntary"])], ["LA's own", "external (private or voluntary)"],
                    default="other (parents, other LAs, public bodies)")
    t = pd.crosstab(fc.group_of(on["place_group"]), who).reindex(list(fc.GROUPS), fill_value=0)
    t.index.name = "group"
    t.columns.name = None
    t["total"] = t.sum(axis=1)
    t.loc[ALL_GROUPS] = t.sum()
    return t.reset_index()


def ofsted_supply(p: Paths, la_code: str) -> pd.DataFrame:
    """Ofsted-registered children's homes (and IFAs) located in the LA, latest year, by type and sector:
    providers and places (active registrations)."""
    from .ingest import read_table

    o = read_table(p, "ofsted_places")
    o = o[(o["new_la_code"] == la_code) & (o["registration_status"].astype(str) == "Active")
          & o["provision_type"].isin(["Children's home", "Residential special school (registered as a children's home)",
                                      "Independent fostering agency"])]
    if o.empty:
        return pd.DataFrame(columns=["year", "provision_type", "sector", "providers", "places"])
    latest = o[o["year"] == o["year"].max()]
    g = latest.groupby(["provision_type", "sector"], as_index=False)[["providers", "places"]].sum()
    return g.assign(year=int(latest["year"].max()))[["year", "provision_type", "sector", "providers", "places"]]


def gap_table(forecast_: fc.Forecast, provision_t: pd.DataFrame, year: int) -> pd.DataFrame:
    """Forecast children by group in a year against the LA's own provision in use now."""
    f = forecast_.by_group[forecast_.by_group["year"] == year].set_index("group")
    own = provision_t.set_index("group").get("LA's own", pd.Series(0, index=provision_t["group"]))
    now = provision_t.set_index("group")["total"]
    rows = []
    for g in fc.GROUPS:
        rows.append({"group": g, "children_now": int(now.get(g, 0)), "in_own_provision_now": int(own.get(g, 0)),
                     f"forecast_{year}": round(float(f.at[g, "mean"]), 0), "lower_95": round(float(f.at[g, "lower"]), 0),
                     "upper_95": round(float(f.at[g, "upper"]), 0),
                     "extra_places_needed_if_own_share_kept": round(float(f.at[g, "mean"]) * (own.get(g, 0) / now.get(g, 1) if now.get(g, 0) else 0)
                                                                    - own.get(g, 0), 0) + 0.0})
    out = pd.DataFrame(rows)
    total = {"group": ALL_GROUPS, "children_now": int(out["children_now"].sum()), "in_own_provision_now": int(out["in_own_provision_now"].sum())}
    t = forecast_.total[forecast_.total["year"] == year].iloc[0]
    total |= {f"forecast_{year}": round(float(t["mean"]), 0), "lower_95": round(float(t["lower"]), 0), "upper_95": round(float(t["upper"]), 0),
              "extra_places_needed_if_own_share_kept": float(out["extra_places_needed_if_own_share_kept"].sum())}
    return pd.concat([out, pd.DataFrame([total])], ignore_index=True)


#: the total row of the pack's tables by placement group
ALL_GROUPS = "all groups"


def gap_disclosure(gap: pd.DataFrame) -> dict:
    """How the gap table is gated: every figure in it is a number of children (forecast or now)."""
    return {"counts": [c for c in gap.columns if c != "group"], "total_row": ALL_GROUPS, "label_column": "group"}


#: forecasts are numbers of children: the mean and both ends of its interval are gated as counts
FORECAST_DISCLOSURE = {"counts": ["children", "lower_95", "upper_95"]}
#: the back-test's forecast and recorded totals are counts; its errors go with them
BACKTEST_DISCLOSURE = {"counts": ["forecast", "actual"]}
GROUP_FORECAST_DISCLOSURE = {"counts": ["children", "lower_95", "upper_95"], "groups": "year"}
#: children at 31 March, entries and exits by year: counts tied by stock = last year's stock + entries - exits
FLOWS_DISCLOSURE = {"counts": ["entries", "cla_31_march", "exits"], "stock_flow": ("cla_31_march", "entries", "exits")}
#: projected children by scenario are counts; the cost of a suppressed number goes with it
SCENARIO_COSTS_DISCLOSURE = {"counts": ["children"]}


def weekly_cost_by_group(data: Data) -> pd.Series | None:
    """Average weekly cost of placements running at the last 31 March by forecast group, from paper 03's
    cost model (its predictions for those placements); None without cost data."""
    from . import cost_drivers as cd

    if data.costs is None or data.costs.empty:
        return None
    cdata = cd.CostData(data.placements, data.periods, data.oc2, data.costs, data.report, None, data.children)
    p = cd.costed_placements(cdata)
    if len(p) < 200:
        return None
    fit = cd.fit_within(p)
    day = pd.Timestamp(int(data.report["collection_years"][-1]), 3, 31)
    on = p[(p["start"] <= day) & (p["end"].isna() | (p["end"] > day))]
    pred = pd.Series(cd.predict(fit, on), index=on.index)
    return pred.groupby(fc.group_of(on["place_group"])).mean().reindex(list(fc.GROUPS))


def scenario_costs(forecasts: dict[str, fc.Forecast], weekly: pd.Series | None) -> pd.DataFrame:
    """Children and annual placement cost (children at 31 March x 52 weeks x cost a week by group) per scenario and year."""
    rows = []
    for name, f in forecasts.items():
        for y in f.years:
            g = f.by_group[f.by_group["year"] == y].set_index("group")
            row = {"scenario": name, "year": y, "children": round(float(g["mean"].sum()), 0)}
            if weekly is not None:
                row["annual_cost_gbp"] = round(float((g["mean"] * weekly.reindex(g.index).fillna(0)).sum() * fc_weeks()), -3)
            rows.append(row)
    return pd.DataFrame(rows)


def fc_weeks() -> float:
    return 365.25 / 7


# --- the other papers' results ----------------------------------------------------------------------
def sibling_metrics(output_dir: str, la_code: str, p: Paths | None = None) -> tuple[dict[str, dict | None], str]:
    """Each of papers 01-03's metrics.json from the same run (or, run by hand, the latest reports,
    said so), and a sentence on where they came from."""
    p = p or paths()
    found: dict[str, dict | None] = {}
    if output_dir:
        run_dir = Path(output_dir).resolve().parents[1]
        where = f"the same run ({run_dir.name})"
        for pid in PAPERS:
            files = sorted(run_dir.glob(f"{pid}_*/{la_code}/metrics.json"))
            found[pid] = json.loads(files[0].read_text()) if files else None
    else:
        where = "the latest published reports (this pack was run by hand, not as part of a run)"
        for pid in PAPERS:
            files = sorted((p.reports / "latest").glob(f"{pid}_*/{la_code}/metrics.json"))
            found[pid] = json.loads(files[0].read_text()) if files else None
    return found, where


def _m(metrics: dict | None, name: str):
    if metrics is None:
        return None
    v = metrics.get("metrics", {}).get(name)
    return v.get("value") if isinstance(v, dict) and "value" in v else v


def key_messages(s: Settings, found: dict[str, dict | None], forecasts: dict[str, fc.Forecast] | None, backtest_t: pd.DataFrame | None,
                 costs_t: pd.DataFrame | None, gap: pd.DataFrame | None, *, synthetic: bool = False) -> str:
    """The pack's key messages, each figure from a gated table or a paper's gated metrics. Each line says
    where its figures come from: published statistics (real) or the LA's 903 (synthetic, when it is)."""
    lines = []
    m1, m2, m3 = found.get("01"), found.get("02"), found.get("03")
    real = " (published DfE figures)"
    syn = " (SYNTHETIC 903: not real children)" if synthetic else " (the LA's 903)"
    if m1:
        cla = m1["metrics"].get("cla_rate", {})
        if isinstance(cla, dict) and cla.get("value") is not None:
            count = cla.get("count")
            lead = f"{count_text(count)} children looked after at 31 March {cla.get('year')}, " if count is not None else ""
            lines.append(f"- **Demand{real}:** {lead}{_published(cla.get('value'))} per 10,000 children (England {_published(cla.get('england'))}, "
                         f"comparator average {_published(cla.get('comparators'))}).")
        out = m1["metrics"].get("outside_pct", {})
        if isinstance(out, dict) and out.get("value") is not None:
            lines.append(f"- **Location{real}:** {_published(out.get('value'), '%')} placed outside the LA boundary (England {_published(out.get('england'), '%')}).")
    if m2:
        rate = m2["metrics"].get("rate_per_100_placement_years", {})
        within12 = _m(m2, "ended_unplanned_within_12_months_pct")
        if isinstance(rate, dict) and isinstance(rate.get("value"), (int, float)):
            share = f"; {within12:.1f}% of placements end unplanned within 12 months" if isinstance(within12, (int, float)) else ""
            lines.append(f"- **Stability{syn}:** {rate.get('value'):.1f} unplanned endings per 100 placement-years{share}.")
        elif isinstance(rate, dict):
            lines.append(f"- **Stability{syn}:** too few placements or unplanned endings to give a rate that can be published.")
    if m3:
        prem = _m(m3, "out_of_area_premium")
        if isinstance(prem, dict) and "total gap" in prem:
            rest = prem.get("outside the area as such (and distance)", {})
            lines.append(f"- **Cost{syn}:** placements outside the LA cost {prem['total gap']['pct']:.0f}% more a week; "
                         f"{rest.get('pct', float('nan')):.0f}% remains after type, provider, age and needs are allowed for.")
    if forecasts:
        ft = gate(forecast_table(forecasts), **FORECAST_DISCLOSURE)
        last = ft.frame.index[(ft.frame["scenario"] == "Current trends")][-1]
        lines.append(f"- **Forecast{syn}:** on current trends about {ft.say(last, 'children')} children looked after by March "
                     f"{int(ft.frame.at[last, 'year'])} (95% interval {ft.say(last, 'lower_95')} to {ft.say(last, 'upper_95')}).")
        errors = (pd.Series(gate(backtest_t, **BACKTEST_DISCLOSURE).numbers("abs_pct_error_total").to_numpy(), index=backtest_t["method"].to_numpy())
                  .groupby(level=0).mean().dropna()) if backtest_t is not None else pd.Series(dtype=float)
        if "Markov model" in errors.index:
            mk, best = errors["Markov model"], errors.idxmin()
            lines.append(f"- **How far to trust it{syn}:** on the held-out years the model's error in the total was {mk:.1f}% on average; "
                         f"the most accurate method there was: {best.lower()}.")
    if gap is not None:
        g = gate(gap, **gap_disclosure(gap))
        home = "children's home"
        lines.append(f"- **Children's homes{syn}:** {g.say(home, 'children_now', by='group')} children in children's homes now, "
                     f"{g.say(home, 'in_own_provision_now', by='group')} of them in the LA's own.")
    if costs_t is not None and "annual_cost_gbp" in costs_t.columns:
        gc = gate(costs_t, **SCENARIO_COSTS_DISCLOSURE)
        last_year = costs_t["year"].max()
        c = gc.numbers("annual_cost_gbp")[(costs_t["year"] == last_year).to_numpy()]
        c.index = costs_t.loc[costs_t["year"] == last_year, "scenario"]
        if c.notna().all():
            base_cost = c.iloc[0]
            parts = [f"{name.lower()}: {_gbp(v - base_cost)}" for name, v in c.iloc[1:].items()]
            lines.append(f"- **Cost of the scenarios{syn}** in {last_year - 1}-{str(last_year)[2:]} against current trends "
                         f"({_gbp(base_cost).lstrip('+')} a year in today's prices): " + "; ".join(parts) + ".")
    missing = [PAPERS[pid] for pid, m in found.items() if m is None]
    if missing:
        lines.append(f"- **Missing from this pack:** {', '.join(missing)}: the paper did not run or failed in this run, so its results are not shown.")
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


def paper_summary(found: dict[str, dict | None], where: str) -> pd.DataFrame:
    """What each paper contributed, or that it is missing."""
    rows = []
    for pid, title in PAPERS.items():
        m = found.get(pid)
        rows.append({"paper": title, "status": "included" if m else "missing (failed or not run)",
                     "title": m.get("title", "") if m else "", "source": where if m else ""})
    return pd.DataFrame(rows)


def forecast_chart_data(snap: pd.DataFrame, forecasts: dict[str, fc.Forecast], years: list[int], *, synthetic: bool = False) -> Gated:
    """The recorded series and each scenario's forecast, gated (every point is a number of children); with
    synthetic data every series label says so."""
    mark = " (synthetic)" if synthetic else ""
    hist = fc.actual_totals(snap, years)
    rows = [{"series": f"Recorded in the 903{mark}", "year": int(r.year), "mean": float(r.total), "lower": np.nan, "upper": np.nan}
            for r in hist.itertuples()]
    for name, f in forecasts.items():
        rows += [{"series": f"Forecast: {name}{mark}", "year": int(r.year), "mean": round(r.mean), "lower": round(r.lower), "upper": round(r.upper)}
                 for r in f.total.itertuples()]
    return gate(pd.DataFrame(rows), counts=["mean", "lower", "upper"])


# --- the other papers' headline tables ---------------------------------------------------------------
P01_MEASURES = {"cla_rate": "Children looked after per 10,000", "starts_rate": "Started to be looked after per 10,000",
                "foster_pct": "In foster care (%)", "homes_pct": "In children's homes or secure units (%)",
                "outside_pct": "Placed outside the LA boundary (%)", "over20_pct": "Placed over 20 miles from home (%)",
                "three_plus_pct": "3 or more placements in the year (%)", "stability_pct": "Long-term stability (%)",
                "spend_per_child": "Net spend per child looked after (£)", "residential_spend_share": "Residential care's share of spend (%)",
                "cin_rate": "Children in need per 10,000", "cpp_rate": "Child protection plans per 10,000",
                "cl_eet_19_21_pct": "Care leavers 19-21 in education, employment or training (%)",
                "cl_suitable_19_21_pct": "Care leavers 19-21 in suitable accommodation (%)"}


def paper01_table(m: dict | None) -> pd.DataFrame | None:
    if not m:
        return None
    rows = []
    for mid, label in P01_MEASURES.items():
        d = m["metrics"].get(mid)
        if isinstance(d, dict):
            count = d.get("count")
            rows.append({"measure": label, "year": d.get("year"), "number": count if count is not None else "z", "LA": d.get("value"),
                         "comparator_average": d.get("comparators"),
                         "England": d.get("england"), "against_England": d.get("flag") or "not tested"})
    return pd.DataFrame(rows)


def paper02_table(m: dict | None) -> pd.DataFrame | None:
    if not m:
        return None
    by_type = _m(m, "rate_by_placement_type") or {}
    hr = _m(m, "hazard_ratios") or {}
    rows = [{"item": f"Unplanned endings per 100 placement-years: {k}", "value": v} for k, v in by_type.items()]
    from .breakdown import TERM_LABELS

    rows += [{"item": f"Hazard ratio: {TERM_LABELS.get(k, k)}", "value": round(v["hazard_ratio"], 2)} for k, v in hr.items()
             if isinstance(v, dict) and v.get("p", 1) < 0.05]
    return pd.DataFrame(rows, columns=["item", "value"]).assign(source=_903_source(m))


def _903_source(m: dict) -> str:
    """Where a paper's child-level figures come from, in a reader's words."""
    return "SYNTHETIC 903 (not real children)" if m.get("synthetic") else "the LA's 903"


PUBLISHED_SOURCE = "published (RO3, DfE)"


def paper03_table(m: dict | None) -> pd.DataFrame | None:
    if not m:
        return None
    rows = []
    sp = m["metrics"].get("spend_per_child")
    local = _903_source(m)
    if isinstance(sp, dict):
        rows.append({"item": f"Net spend per child looked after, {sp.get('year')} (£)", "value": sp.get("value"), "source": PUBLISHED_SOURCE})
        rows.append({"item": "Against the across-LA model's prediction (%)", "value": sp.get("unexplained_pct"), "source": PUBLISHED_SOURCE})
    prem = _m(m, "out_of_area_premium")
    if isinstance(prem, dict):
        for part, d in prem.items():
            rows.append({"item": f"Out-of-area premium: {part} (%)", "value": d.get("pct"), "source": local})
    for sc in _m(m, "scenarios") or []:
        v = sc.get("annual_change_gbp")
        rows.append({"item": f"Scenario {sc['scenario']} ({sc['basis']}): {sc['what']} (£ a year)",
                     "value": round(v, -2) if isinstance(v, (int, float)) else v, "source": local})
    return pd.DataFrame(rows, columns=["item", "value", "source"])


def forecast_table(forecasts: dict[str, fc.Forecast]) -> pd.DataFrame:
    """Children looked after at 31 March by scenario and year (a count: gate with FORECAST_DISCLOSURE)."""
    rows = []
    for name, f in forecasts.items():
        for r in f.total.itertuples():
            rows.append({"scenario": name, "year": int(r.year), "children": round(r.mean), "lower_95": round(r.lower), "upper_95": round(r.upper)})
    return pd.DataFrame(rows)


def group_forecast_table(f: fc.Forecast) -> pd.DataFrame:
    t = f.by_group.assign(mean=lambda d: d["mean"].round(0), lower=lambda d: d["lower"].round(0), upper=lambda d: d["upper"].round(0))
    return t.rename(columns={"mean": "children", "lower": "lower_95", "upper": "upper_95"})


def record_metrics(report, s: Settings, found: dict, forecasts: dict | None, backtest_t: pd.DataFrame | None,
                   truth_t: pd.DataFrame | None, costs_t: pd.DataFrame | None) -> None:
    report.metric("papers_included", [pid for pid, m in found.items() if m], missing=[pid for pid, m in found.items() if not m])
    if forecasts:  # from the gated forecast table: a forecast of 1 to 4 children is suppressed here as in the tables
        ft = gate(forecast_table(forecasts), **FORECAST_DISCLOSURE).frame
        report.metric("forecast_children", {name: {str(int(r.year)): {"mean": r.children, "lower_95": r.lower_95, "upper_95": r.upper_95}
                                                   for r in g.itertuples()} for name, g in ft.groupby("scenario", sort=False)})
    if backtest_t is not None:
        bt = gate(backtest_t, **BACKTEST_DISCLOSURE)  # an error beside a suppressed recorded count is left out, as in the table
        errors = pd.Series(bt.numbers("abs_pct_error_total").to_numpy(), index=backtest_t["method"].to_numpy())
        report.metric("backtest_abs_pct_error_total", errors.groupby(level=0).mean().round(2).dropna().to_dict())
    if costs_t is not None and "annual_cost_gbp" in costs_t.columns:
        gc = gate(costs_t, **SCENARIO_COSTS_DISCLOSURE).frame
        report.metric("scenario_annual_cost_gbp", {f"{r.scenario} {r.year}": r.annual_cost_gbp for r in gc.itertuples()})
    if truth_t is not None:
        report.section("planted_truth", {r.flow: {"planted": r.planted_per_year, "estimate": r.estimated_per_year, "lower_95": r.lower_95,
                                                  "upper_95": r.upper_95, "recovered": bool(r.recovered), "scale": "per year"}
                                         for r in truth_t.itertuples()})


def report_context(s: Settings, data: Data) -> dict:
    return {"la_code": s.la_code, "la_name": s.la_name, "years": f"{s.years[0]}-{s.years[-1]}",
            "data": "synthetic 903 (generated; not real children)" if data.truth is not None else "the LA's own 903 returns",
            "scenarios": "; ".join(s.scenarios),
            "data_vintage": {"903 collection years": f"{min(data.report['collection_years'])}-{max(data.report['collection_years'])}",
                             "published figures": "as in papers 01 and 03 of the same run"}}


def data_quality(data: Data) -> pd.DataFrame:
    r = data.report
    rows = [("903 collection years", f"{r['collection_years'][0]}-{r['collection_years'][-1]}"),
            ("rows set aside by validation", r.get("rows_set_aside")), ("warnings (rows kept)", r.get("warnings")),
            ("episodes after stitching", r.get("episodes_after_stitching")),
            ("episodes closed by stitching", r.get("episodes_closed_by_stitching")),
            ("placement postcodes not found", r.get("placement_postcodes_not_found")),
            ("placement cost rows matched / in", f"{r.get('cost_rows_matched', 0)} / {r.get('cost_rows_in', 0)}")]
    return pd.DataFrame(rows, columns=["item", "value"]).astype({"value": str})


@dataclass
class Results:
    found: dict[str, dict | None]
    source: str
    snap: pd.DataFrame
    needs: dict[str, pd.DataFrame]
    too_short: str | None
    forecasts: dict[str, fc.Forecast] | None
    backtest: pd.DataFrame | None
    flows: pd.DataFrame
    truth: pd.DataFrame | None
    provision: pd.DataFrame
    supply: pd.DataFrame
    gap: pd.DataFrame | None
    costs: pd.DataFrame | None


def analyse(data: Data, s: Settings, output_dir: str, p: Paths | None = None) -> Results:
    """Every number the pack shows; the forecast is skipped, with the reason, when the history is too short."""
    p = p or paths()
    found, source = sibling_metrics(output_dir, s.la_code, p)
    snap = fc.snapshots(data.placements, data.periods, data.children,
                        fc.month_ends(pd.Timestamp(s.years[0] - 1, 4, 1), pd.Timestamp(s.last_year, 3, 31)))
    too_short = history_ok(s)
    origin = pd.Timestamp(s.last_year, 3, 31)
    forecasts = None if too_short else {name: fc.fit_and_project(snap, origin, s.fit_years, s.forecast_years, bootstrap=s.bootstrap, scenario=sc)
                                        for name, sc in s.scenarios.items()}
    backtest_t = None if too_short else fc.backtest(snap, s.last_year, holdout_years=s.holdout_years, fit_years=s.fit_years)
    flows_t = fc.annual_flows(snap, data.periods, s.years)
    window = s.years[-min(s.fit_years, len(s.years) - 1):]
    truth = fc.planted_flows(data.truth, window, flows_t) if data.truth is not None and len(s.years) > 1 else None
    prov = provision(data, s)
    gap = gap_table(forecasts["Current trends"], prov, s.last_year + s.forecast_years) if forecasts else None
    weekly = weekly_cost_by_group(data)
    costs = scenario_costs(forecasts, weekly) if forecasts else None
    return Results(found, source, snap, profile(data, s, snap), too_short, forecasts, backtest_t, flows_t, truth, prov,
                   ofsted_supply(p, s.la_code), gap, costs)
