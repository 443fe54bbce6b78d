"""Paper 04: the sufficiency evidence pack, for every LA.

It brings together, for one LA: the needs profile of its children in care, the demand forecast,
supply (Ofsted places in the LA; in-house against external provision) against forecast demand,
projected placement cost by placement type under each scenario, and the headline results of papers
01-03 **from the same run** (their ``metrics.json``). A paper that failed or did not run is named as
missing; its numbers are never taken from an older run without saying so.

Where the project holds the LA's own 903, the forecast is the monthly stock-and-flow model of
:mod:`analysis.stats.forecast` and the profile, provision and truth check come from the 903; for every
other LA the pack is built from the DfE's published figures (:mod:`analysis.papers.p04_sufficiency.published_model`)
and says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.config import Paths, paths
from analysis.errors import ParameterError
from analysis.io import indicators
from analysis.io.ingest import read_table
from analysis.io.ingest903 import read_processed
from analysis.io.published_counts import DIMENSIONS, Targets, targets_for
from analysis.papers.p04_sufficiency import published_model as fp
from analysis.papers.p04_sufficiency import scenarios as scn
from analysis.papers.params import resolve_la_param
from analysis.report import metrics
from analysis.report.disclosure import Gated, count_text, gate
from analysis.report.labels import SYMBOL_WORDS, TERM_LABELS
from analysis.report.ledger import Keys
from analysis.stats import forecast as fc

#: where the forecast and profile come from
FROM_903, FROM_PUBLISHED = "903", "published"
PAPERS = {"01": "How the LA compares (paper 01)", "02": "Stability and breakdown risk (paper 02)", "03": "Placement costs (paper 03)"}
AGE_BANDS = [(0, 1, "under 1"), (1, 5, "1 to 4"), (5, 10, "5 to 9"), (10, 16, "10 to 15"), (16, 19, "16 and over")]
LEGAL = {
    "C1": "interim care order",
    "C2": "full care order",
    "V2": "voluntary (section 20)",
    "E1": "placement order",
    "D1": "freeing order",
    "J1": "remanded or on remand",
    "J2": "youth justice",
    "J3": "youth justice",
    "L1": "police protection",
    "L2": "emergency protection order",
    "L3": "child assessment order",
    "V3": "short breaks",
    "V4": "short breaks",
}
NEED = {
    "N1": "abuse or neglect",
    "N2": "disability",
    "N3": "parental illness or disability",
    "N4": "family in acute stress",
    "N5": "family dysfunction",
    "N6": "socially unacceptable behaviour",
    "N7": "low income",
    "N8": "absent parenting",
}


# --- data and settings ----------------------------------------------------------------------------------
@dataclass
class Data:
    """The LA's processed 903 (any of it None when the project has none) and the published figures."""

    episodes: pd.DataFrame | None
    placements: pd.DataFrame | None
    periods: pd.DataFrame | None
    children: pd.DataFrame | None
    oc2: pd.DataFrame | None
    costs: pd.DataFrame | None
    report: dict | None
    truth: dict | None
    indicators: pd.DataFrame | None = None
    _panel: pd.DataFrame | None = field(default=None, repr=False)

    def published_panel(self) -> pd.DataFrame | None:
        """Every LA's published counts by year and group (:func:`published_model.published_panel`), made once per
        loaded data: the benchmark builds every LA's pack from one ``Data``."""
        if self._panel is None and self.indicators is not None:
            self._panel = fp.published_panel(self.indicators)
        return self._panel

    @classmethod
    def load(cls, p: Paths | None = None) -> Data:
        p = p or paths()
        li = read_table(p, "la_indicators")
        d = read_processed(p, ("episodes", "placements", "periods", "children", "oc2", "placement_costs"))
        if d is None:
            return cls(None, None, None, None, None, None, None, None, li)
        t = d.tables
        return cls(t["episodes"], t["placements"], t["periods"], t["children"], t["oc2"], t["placement_costs"], d.report, d.truth, li)

    def for_la(self, la_code: str) -> bool:
        """Whether the project's 903 is this LA's."""
        return self.report is not None and self.report.get("la_code") == la_code


@dataclass
class Settings:
    la_code: str
    la_name: str
    years: list[int]
    forecast_years: int
    fit_years: int
    holdout_years: int
    bootstrap: int
    scenarios: list[scn.Scenario]
    source: str = FROM_903
    unit_costs: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def last_year(self) -> int:
        return self.years[-1]

    @property
    def scenario_names(self) -> list[str]:
        return [CURRENT] + [sc.name for sc in self.scenarios]


CURRENT = "Current trends"


def setup(
    data: Data,
    *,
    la_code: str,
    first_year: int,
    forecast_years: int,
    fit_years: int,
    holdout_years: int,
    bootstrap: int,
    fewer_entries_pct: float,
    faster_exits_pct: float,
    shift_to_fostering_pct: float,
    scenario_file: str = "",
    p: Paths | None = None,
) -> Settings:
    la = resolve_la_param(la_code, p)
    if not 3 <= forecast_years <= 5:
        raise ParameterError(f"parameter 'forecast_years' should be 3 to 5, got {forecast_years!r}")
    if not 1 <= fit_years <= 5:
        raise ParameterError(f"parameter 'fit_years' should be 1 to 5, got {fit_years!r}")
    if not 1 <= holdout_years <= 3:
        raise ParameterError(f"parameter 'holdout_years' should be 1 to 3, got {holdout_years!r}")
    if not 0 <= bootstrap <= 1000:
        raise ParameterError(f"parameter 'bootstrap' should be 0 to 1000 resamples, got {bootstrap!r}")
    for name, v in (
        ("fewer_entries_pct", fewer_entries_pct),
        ("faster_exits_pct", faster_exits_pct),
        ("shift_to_fostering_pct", shift_to_fostering_pct),
    ):
        if not 0 <= v <= 100:
            raise ParameterError(f"parameter '{name}' should be a percentage from 0 to 100, got {v!r}")
    notes = []
    if data.for_la(la["la_code"]):
        source = FROM_903
        available = [int(y) for y in data.report["collection_years"]]
    else:
        source = FROM_PUBLISHED
        available = [
            int(y)
            for y in sorted(
                data.indicators.loc[
                    (data.indicators["area_code"] == la["la_code"]) & (data.indicators["indicator"] == "cla_31_march"), "year"
                ].unique()
            )
        ]
        if not available:
            raise ParameterError(f"no published figures for {la['la_name']} ({la['la_code']}): the pack needs its children looked after at 31 March")
        why = "the project holds no 903 data" if data.report is None else f"the project's 903 is for another LA ({data.report.get('la_code')})"
        notes.append(
            f"Built from the DfE's published figures for {la['la_name']}: {why}. The needs profile, forecast and costs use "
            "published counts; placement moves, provision by provider and the truth check need the LA's own 903."
        )
    if first_year and not available[0] <= first_year <= available[-1]:
        raise ParameterError(f"parameter 'first_year' should be within the data ({available[0]} to {available[-1]}), or 0 for all; got {first_year}")
    years = [y for y in available if y >= (first_year or available[0])]
    scenarios = scn.from_parameters(fewer_entries_pct, faster_exits_pct, shift_to_fostering_pct)
    overrides: dict[str, float] = {}
    if scenario_file:
        path = Path(scenario_file)
        if not path.is_absolute():
            path = (p or paths()).root / path
        extra, overrides = scn.load(path)
        scenarios += extra
    names = [sc.name for sc in scenarios]
    if len(set(names)) < len(names) or CURRENT in names:
        raise ParameterError(f"scenario names must differ from each other and from '{CURRENT}': {names}")
    return Settings(la["la_code"], la["la_name"], years, forecast_years, fit_years, holdout_years, bootstrap, scenarios, source, overrides, notes)


def history_ok(s: Settings) -> str | None:
    """Why the forecast cannot run on this history, or None."""
    need = s.fit_years + s.holdout_years + 1
    if len(s.years) < need:
        what = "903 history" if s.source == FROM_903 else "published history"
        return (
            f"only {len(s.years)} year(s) of {what} ({s.years[0]}-{s.years[-1]}): the forecast needs at least {need} "
            f"({s.fit_years} to fit, {s.holdout_years} to test, and the year before them). The descriptive parts are shown."
        )
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
        out["SDQ"].append(
            _count(
                y,
                pd.Series(
                    np.select(
                        [score.isna(), score <= 13, score <= 16],
                        ["not recorded", "normal (0-13)", "borderline (14-16)"],
                        default="cause for concern (17+)",
                    )
                ),
            )
        )
        out["placement"].append(_count(y, on["group"]))
        loc = e["pl_location"].fillna("").to_numpy()
        dist = pd.to_numeric(e["pl_distance"], errors="coerce").to_numpy()
        out["location"].append(
            _count(
                y,
                pd.Series(
                    np.select(
                        [loc == "IN", (loc == "OUT") & (dist > 20), loc == "OUT"],
                        ["inside the LA", "outside, over 20 miles", "outside, up to 20 miles"],
                        default="not known",
                    )
                ),
            )
        )
    tables = {}
    for k, v in out.items():
        t = pd.concat(v, ignore_index=True).pivot_table(index="group", columns="year", values="children", aggfunc="sum", fill_value=0).astype(int)
        if k == "age":  # age bands in age order, not as text sorts them
            t = t.reindex([n for _, _, n in AGE_BANDS if n in t.index])
        t.columns = [str(c) for c in t.columns]
        t.loc["all children"] = t.sum()  # the total row, so that a suppressed count cannot be worked out by subtraction
        tables[k] = t.reset_index()
    return tables


#: the published characteristics the pack shows for an LA without its 903, with readable category names
PUBLISHED_PROFILE = {
    "age": ("age", {"under_1": "under 1", "1_to_4": "1 to 4", "5_to_9": "5 to 9", "10_to_15": "10 to 15", "16_and_over": "16 and over"}),
    "legal status": (
        "legal",
        {
            "interim_care_order": "interim care order",
            "full_care_order": "full care order",
            "placement_order": "placement order",
            "section_20": "voluntary (section 20)",
            "detained": "detained for child protection",
            "youth_justice": "youth justice",
        },
    ),
    "category of need": ("need", {f"N{i}": v for i, v in enumerate(NEED.values(), start=1)}),
    "UASC": ("uasc", {"uasc": "UASC", "not_uasc": "not UASC"}),
    "placement": (
        "placement",
        {
            "foster": "foster care",
            "childrens_home": "secure units and children's homes",
            "independent": "independent and semi-independent living",
            "with_parents": "placed with parents",
            "adoption": "placed for adoption",
            "other_residential": "other residential settings",
            "residential_school": "residential schools",
            "other": "other placements",
        },
    ),
    "location": (
        "location",
        {
            "inside_20_or_less": "inside the LA, up to 20 miles",
            "inside_over_20": "inside the LA, over 20 miles",
            "inside_unknown": "inside the LA, distance not known",
            "outside_20_or_less": "outside, up to 20 miles",
            "outside_over_20": "outside, over 20 miles",
            "outside_unknown": "outside, distance not known",
        },
    ),
}


def published_profile(t: Targets, years: list[int]) -> dict[str, pd.DataFrame]:
    """Children looked after at 31 March by characteristic, as the DfE published them (``c`` where it
    suppressed a figure; ``..`` for a year it did not publish that characteristic), with the total."""
    tables = {}
    for name, (dim, labels) in PUBLISHED_PROFILE.items():
        pub = t.published.get(dim, {})
        shown = [y for y in years if y in pub]
        if not shown:
            continue
        rows = []
        for cat, label in labels.items():
            row: dict[str, object] = {"group": label}
            for y in shown:
                v = pub[y].get(cat, "..")
                row[str(y)] = "c" if v is None else v
            rows.append(row)
        rows.append({"group": "all children", **{str(y): float(t.cla[y]) for y in shown}})
        tables[name] = pd.DataFrame(rows)
    return tables


def needs_disclosure(table: pd.DataFrame) -> dict:
    """How a needs table is gated: every year column counts children; the "all children" row is the total."""
    return {"counts": [c for c in table.columns if c != "group"], "total_row": "all children", "label_column": "group"}


def outside_now(needs: dict[str, pd.DataFrame], year: int) -> tuple[int, int] | None:
    """(children outside the LA, all children) at 31 March ``year`` as the pack's location table publishes them
    (gated as the table is): the outside rows added where each is shown, or the total less the other rows where
    those are shown; None when the table hides it (then it is not said) or has no such year."""
    t = needs.get("location")
    col = str(year)
    if t is None or col not in t.columns:
        return None
    g = gate(t, **needs_disclosure(t)).frame.set_index("group")[col]
    outside = [r for r in g.index if str(r).startswith("outside")]
    rest = [r for r in g.index if r not in outside and r != "all children"]
    total = g.get("all children")
    if not outside or isinstance(total, str) or total is None:
        return None
    if not any(isinstance(g[r], str) for r in outside):
        return int(sum(g[r] for r in outside)), int(total)
    if not any(isinstance(g[r], str) for r in rest):
        return int(total - sum(g[r] for r in rest)), int(total)
    return None


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
    who = np.select(
        [on["provider_group"] == "own LA", on["provider_group"].isin(["private", "voluntary"])],
        ["LA's own", "external (private or voluntary)"],
        default="other (parents, other LAs, public bodies)",
    )
    providers = ["LA's own", "external (private or voluntary)", "other (parents, other LAs, public bodies)"]
    t = pd.crosstab(fc.group_of(on["place_group"]), who).reindex(index=list(fc.GROUPS), columns=providers, fill_value=0)
    t.index.name = "group"
    t.columns.name = None
    t["total"] = t.sum(axis=1)
    t.loc[ALL_GROUPS] = t.sum()
    return t.reset_index()


def ofsted_supply(p: Paths, la_code: str) -> pd.DataFrame:
    """Ofsted-registered children's homes (and IFAs) located in the LA, latest year, by type and sector:
    providers and places (active registrations)."""
    o = read_table(p, "ofsted_places")
    o = o[
        (o["new_la_code"] == la_code)
        & (o["registration_status"].astype(str) == "Active")
        & o["provision_type"].isin(
            ["Children's home", "Residential special school (registered as a children's home)", "Independent fostering agency"]
        )
    ]
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
        rows.append(
            {
                "group": g,
                "children_now": int(now.get(g, 0)),
                "in_own_provision_now": int(own.get(g, 0)),
                f"forecast_{year}": round(float(f.at[g, "mean"]), 0),
                "lower_95": round(float(f.at[g, "lower"]), 0),
                "upper_95": round(float(f.at[g, "upper"]), 0),
                "extra_places_needed_if_own_share_kept": round(
                    float(f.at[g, "mean"]) * (own.get(g, 0) / now.get(g, 1) if now.get(g, 0) else 0) - own.get(g, 0), 0
                )
                + 0.0,
            }
        )
    out = pd.DataFrame(rows)
    total = {"group": ALL_GROUPS, "children_now": int(out["children_now"].sum()), "in_own_provision_now": int(out["in_own_provision_now"].sum())}
    t = forecast_.total[forecast_.total["year"] == year].iloc[0]
    total |= {
        f"forecast_{year}": round(float(t["mean"]), 0),
        "lower_95": round(float(t["lower"]), 0),
        "upper_95": round(float(t["upper"]), 0),
        "extra_places_needed_if_own_share_kept": float(out["extra_places_needed_if_own_share_kept"].sum()),
    }
    return pd.concat([out, pd.DataFrame([total])], ignore_index=True)


#: the total row of the pack's tables by placement group
ALL_GROUPS = "all groups"


#: the provider columns of the provision table, and the part each holds in the report's ledger
PROVIDER_PARTS = {
    "LA's own": "LA's own",
    "external (private or voluntary)": "external (private or voluntary)",
    "other (parents, other LAs, public bodies)": "other",
    "total": "all providers",
}


def supply_keys(s: Settings) -> tuple[Keys, Keys]:
    """What the provision and gap tables count, for the report's ledger: children at the last 31 March by
    placement group and provider. The gap table repeats the total and the LA's own, so they are one quantity."""
    what = f"children at 31 March {s.last_year}"
    return Keys(what, "group", PROVIDER_PARTS), Keys(what, "group", {"children_now": "all providers", "in_own_provision_now": "LA's own"})


def register_supply(report, res: Results, s: Settings) -> tuple[Gated | None, Gated | None]:
    """Register the provision and gap tables in the report (shown later, under "Supply and gaps"), so that
    the key messages quote them as the tables print them and neither table can be set against the other
    to work out a suppressed count. Returns the gated tables (None where there is none)."""
    prov_keys, gap_keys = supply_keys(s)
    prov = gap = None
    if res.provision is not None:
        prov = report.table(
            "provision",
            res.provision,
            title=f"Children at 31 March {s.last_year} by placement group and provider",
            counts=[c for c in res.provision.columns if c not in ("group", "total")],
            row_total="total",
            total_row=ALL_GROUPS,
            label_column="group",
            keys=prov_keys,
            show=False,
        )
    if res.gap is not None:
        gap = report.table(
            "gap",
            res.gap,
            title=f"Forecast demand in {s.last_year + s.forecast_years} against the LA's own provision now",
            **gap_disclosure(res.gap),
            keys=gap_keys,
            show=False,
            notes="Extra places needed to keep today's share of each group in the LA's own provision, on current trends.",
        )
    return prov, gap


def gap_disclosure(gap: pd.DataFrame) -> dict:
    """How the gap table is gated: every figure in it is a number of children (forecast or now)."""
    # the extra places follow from the forecast, the children now and the LA's own: hidden with the LA's own
    extra = [c for c in gap.columns if c.startswith("extra_places")]
    return {
        "counts": [c for c in gap.columns if c != "group"],
        "total_row": ALL_GROUPS,
        "label_column": "group",
        "linked": {"in_own_provision_now": extra},
    }


#: forecasts are numbers of children: the mean and both ends of its interval are gated as counts
FORECAST_DISCLOSURE = {"counts": ["children", "lower_80", "upper_80", "lower_95", "upper_95"]}
#: the back-test's forecast and recorded totals are counts; its errors go with them
BACKTEST_DISCLOSURE = {"counts": ["forecast", "actual"]}
GROUP_FORECAST_DISCLOSURE = {"counts": ["children", "lower_80", "upper_80", "lower_95", "upper_95"], "groups": "year"}
#: children at 31 March, entries and exits by year: counts tied by stock = last year's stock + entries - exits
FLOWS_DISCLOSURE = {"counts": ["entries", "cla_31_march", "exits"], "stock_flow": ("cla_31_march", "entries", "exits")}
#: projected children by scenario are counts; the cost of a suppressed number goes with it
SCENARIO_COSTS_DISCLOSURE = {"counts": ["children"]}


def own_weekly_costs(data: Data) -> dict[str, float]:
    """The LA's own average cost a week by placement type, from its placement cost file: placements
    running at the last 31 March with a cost, types with at least 5 of them."""
    if data.costs is None or data.costs.empty or data.placements is None:
        return {}
    day = pd.Timestamp(int(data.report["collection_years"][-1]), 3, 31)
    p = data.placements
    on = p[(p["start"] <= day) & (p["end"].isna() | (p["end"] > day)) & (p["place_group"] != "temporary")]
    on = on.merge(data.costs[["child", "period", "placement", "weekly_cost"]], on=["child", "period", "placement"], how="inner")
    if on.empty:
        return {}
    types = scn.type_of_placement(on["place"], on["provider_group"], on["place_group"])
    g = on.assign(type=types.to_numpy()).groupby("type")["weekly_cost"].agg(["mean", "size"])
    return {t: round(float(r["mean"]), 0) for t, r in g.iterrows() if r["size"] >= 5}


def type_shares_903(data: Data, s: Settings) -> pd.DataFrame:
    """Within each forecast group, the share of children in each placement type at the last 31 March."""
    day = pd.Timestamp(s.last_year, 3, 31)
    p = data.placements
    on = p[(p["start"] <= day) & (p["end"].isna() | (p["end"] > day)) & (p["place_group"] != "temporary")]
    on = on.sort_values("start").drop_duplicates("child", keep="last")
    return scn.type_shares(scn.type_of_placement(on["place"], on["provider_group"], on["place_group"]))


def type_shares_published(t: Targets, year: int) -> pd.DataFrame:
    """Type shares from published figures: fostering and children's homes split between the LA's own
    and external provision by the LA's published provider shares (all placements; the DfE does not
    publish provider by placement type by LA); kinship and secure care are not split out."""
    prov = dict(zip(DIMENSIONS["provider"], t.stock["provider"][year]))
    place = dict(zip(DIMENSIONS["placement"], t.stock["placement"][year]))
    own = prov["own"] / max(prov["own"] + prov["private"] + prov["voluntary"], 1)
    shares = pd.DataFrame(0.0, index=list(fc.GROUPS), columns=list(scn.TYPES))
    shares.loc["fostering", ["inhouse_fostering", "ifa_fostering"]] = [own, 1 - own]
    shares.loc["children's home", ["la_childrens_home", "private_childrens_home"]] = [own, 1 - own]
    shares.at["supported", "supported"] = 1.0
    other = place["with_parents"] + place["adoption"] + place["other"]
    shares.loc["other", ["with_parents", "other"]] = [place["with_parents"] / other, 1 - place["with_parents"] / other] if other else [0.0, 1.0]
    return shares


def scenario_costs(forecasts: dict[str, fc.Forecast], shares: pd.DataFrame, unit: pd.DataFrame) -> pd.DataFrame:
    """Children at 31 March and the annual cost at that level (children by group x type shares x cost
    a day x 365.25) by scenario and year."""
    rows = []
    for name, f in forecasts.items():
        c = scn.annual_costs(f, shares, unit).groupby("year")[["children", "annual_cost_gbp"]].sum()
        for y, r in c.iterrows():
            rows.append(
                {
                    "scenario": name,
                    "year": int(y),
                    "children": round(float(r["children"]), 0),
                    "annual_cost_gbp": round(float(r["annual_cost_gbp"]), -3),
                }
            )
    return pd.DataFrame(rows)


#: placement types the DfE's published figures do not split out by LA (counted within the other fostering and
#: children's home types): from published figures their children and cost are not known, never 0 or £0
NOT_SPLIT_IN_PUBLISHED = {
    "kinship_fostering": "not known from published figures (counted within in-house and agency fostering)",
    "secure": "not known from published figures (counted within the children's home types)",
}


def cost_by_type(forecast: fc.Forecast, shares: pd.DataFrame, unit: pd.DataFrame, unknown: dict[str, str] | None = None) -> pd.DataFrame:
    """Current trends in the last forecast year: children and annual cost by placement type. ``unknown``: types
    whose children are not known (type -> why): their children and cost are left empty (shown as x), with the reason."""
    c = scn.annual_costs(forecast, shares, unit)
    c = c[c["year"] == forecast.years[-1]].merge(unit[["type", "label", "weekly", "basis"]], on="type")
    unknown = unknown or {}
    hidden = c["type"].isin(list(unknown))
    return pd.DataFrame(
        {
            "placement_type": c["label"],
            "children": c["children"].round(0).where(~hidden),
            "weekly_cost_gbp": c["weekly"],
            "annual_cost_gbp": c["annual_cost_gbp"].round(-3).where(~hidden),
            "cost_basis": c["basis"].where(~hidden, c["type"].map(unknown)),
        }
    )


def monthly_projection(f: fc.Forecast) -> pd.DataFrame | None:
    """The monthly projection by age band and placement group (the workbook's table), rounded."""
    if f.monthly is None:
        return None
    return f.monthly.assign(children=f.monthly["children"].round(0), lower_95=f.monthly["lower_95"].round(0), upper_95=f.monthly["upper_95"].round(0))


MONTHLY_DISCLOSURE = {"counts": ["children", "lower_95", "upper_95"], "groups": "month"}


# --- the other papers' results ----------------------------------------------------------------------
def sibling_metrics(output_dir: str, la_code: str, p: Paths | None = None) -> tuple[dict[str, dict | None], str]:
    """Each of papers 01-03's metrics.json from the same run (or, run by hand, the latest reports,
    said so), and a sentence on where they came from (read through :mod:`analysis.report.metrics`)."""
    p = p or paths()
    if output_dir:
        folder = metrics.run_folder(output_dir)
        where = f"the same run ({folder.name})"
    else:
        folder = p.reports / "latest"
        where = "the latest published reports (this pack was run by hand, not as part of a run)"
    found: dict[str, dict | None] = {}
    for pid in PAPERS:
        path = metrics.find(folder, pid, la_code)
        found[pid] = metrics.read(path) if path else None
    return found, where


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
    if pid == "02" and s.source != FROM_903:
        return "paper 02 needs the LA's own 903 data, which this project does not hold for this LA"
    return f"paper {pid} did not run or failed in this run"


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


def forecast_chart_data(hist: pd.DataFrame, forecasts: dict[str, fc.Forecast], *, synthetic: bool = False, source: str = FROM_903) -> Gated:
    """The recorded series and each scenario's forecast, gated (every point is a number of children); with
    synthetic data every series label says so."""
    mark = " (synthetic)" if synthetic and source == FROM_903 else ""
    where = "Recorded in the 903" if source == FROM_903 else "Published by the DfE"
    rows = [{"series": f"{where}{mark}", "year": int(y), "mean": float(v), "lower": np.nan, "upper": np.nan} for y, v in hist.sum(axis=1).items()]
    for name, f in forecasts.items():
        rows += [
            {"series": f"Forecast: {name}{mark}", "year": int(r.year), "mean": round(r.mean), "lower": round(r.lower), "upper": round(r.upper)}
            for r in f.total.itertuples()
        ]
    return gate(pd.DataFrame(rows), counts=["mean", "lower", "upper"])


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


def forecast_table(forecasts: dict[str, fc.Forecast]) -> pd.DataFrame:
    """Children looked after at 31 March by scenario and year (a count: gate with FORECAST_DISCLOSURE)."""
    rows = []
    for name, f in forecasts.items():
        for r in f.total.itertuples():
            rows.append(
                {
                    "scenario": name,
                    "year": int(r.year),
                    "children": round(r.mean),
                    "lower_80": round(r.lower_80),
                    "upper_80": round(r.upper_80),
                    "lower_95": round(r.lower),
                    "upper_95": round(r.upper),
                }
            )
    return pd.DataFrame(rows)


def group_forecast_table(f: fc.Forecast) -> pd.DataFrame:
    t = f.by_group[["year", "group", "mean", "lower_80", "upper_80", "lower", "upper"]].round(0)
    return t.rename(columns={"mean": "children", "lower": "lower_95", "upper": "upper_95"})


def record_metrics(
    report,
    s: Settings,
    found: dict,
    forecasts: dict | None,
    scores: pd.DataFrame | None,
    truth_t: pd.DataFrame | None,
    costs_t: pd.DataFrame | None,
    heldout: pd.DataFrame | None = None,
) -> None:
    report.metric("papers_included", [pid for pid, m in found.items() if m], missing=[pid for pid, m in found.items() if not m])
    report.metric("forecast_source", s.source)
    if forecasts:  # from the gated forecast table: a forecast of 1 to 4 children is suppressed here as in the tables
        ft = gate(forecast_table(forecasts), **FORECAST_DISCLOSURE).frame
        report.metric(
            "forecast_children",
            {
                name: {str(int(r.year)): {"mean": r.children, "lower_95": r.lower_95, "upper_95": r.upper_95} for r in g.itertuples()}
                for name, g in ft.groupby("scenario", sort=False)
            },
        )
        report.metric("forecast_weight_on_model", round(forecasts[CURRENT].weight, 2))
    if scores is not None:
        report.metric(
            "backtest",
            {
                f"{r.method} {r.years_ahead}y": {
                    "mape_total": r.mape_total,
                    "bias_pct": r.bias_pct,
                    "forecasts": r.forecasts,
                    **(
                        {"coverage_95_pct": r.coverage_95_pct}
                        if isinstance(getattr(r, "coverage_95_pct", None), float) and not np.isnan(r.coverage_95_pct)
                        else {}
                    ),
                }
                for r in scores.itertuples()
            },
        )
    if costs_t is not None and "annual_cost_gbp" in costs_t.columns:
        gc = gate(costs_t, **SCENARIO_COSTS_DISCLOSURE).frame
        report.metric("scenario_annual_cost_gbp", {f"{r.scenario} {r.year}": r.annual_cost_gbp for r in gc.itertuples()})
    if truth_t is not None:
        section = {
            f"{r.rate}: {r.who}": {
                "planted": r.planted_rate,
                "estimate": r.estimated_rate,
                "lower_95": r.rate_lower_95,
                "upper_95": r.rate_upper_95,
                "recovered": bool(r.recovered),
            }
            for r in truth_t.itertuples()
        }
        if heldout is not None:
            g = gate(heldout, **HELDOUT_DISCLOSURE).frame
            section |= {
                f"children looked after at 31 March {r.year} (forecast from {r.forecast_from})": {
                    "recorded": r.recorded,
                    "forecast": r.forecast,
                    "lower_95": r.lower_95,
                    "upper_95": r.upper_95,
                    "recovered": r.inside_95 == "yes",
                }
                for r in g.itertuples()
            }
        report.section("planted_truth", section)


def report_context(s: Settings, data: Data) -> dict:
    if s.source == FROM_903:
        what = "synthetic 903 (generated; not real children)" if data.truth is not None else "the LA's own 903 returns"
        vintage = {
            "903 collection years": f"{min(data.report['collection_years'])}-{max(data.report['collection_years'])}",
            "published figures": "as in papers 01 and 03 of the same run",
        }
    else:
        what = "published DfE figures (children looked after in England, by LA)"
        vintage = {"published figures": f"years ending 31 March {s.years[0]}-{s.last_year}"}
    return {
        "la_code": s.la_code,
        "la_name": s.la_name,
        "years": f"{s.years[0]}-{s.years[-1]}",
        "data": what,
        "scenarios": "; ".join(s.scenario_names[1:]),
        "data_vintage": vintage,
    }


def data_quality(data: Data, s: Settings) -> pd.DataFrame:
    if s.source != FROM_903:
        return pd.DataFrame(
            [("source", "published DfE figures; suppressed cells filled with an equal share of what the published categories leave")],
            columns=["item", "value"],
        )
    r = data.report
    rows = [
        ("903 collection years", f"{r['collection_years'][0]}-{r['collection_years'][-1]}"),
        ("rows set aside by validation", r.get("rows_set_aside")),
        ("warnings (rows kept)", r.get("warnings")),
        ("episodes after stitching", r.get("episodes_after_stitching")),
        ("episodes closed by stitching", r.get("episodes_closed_by_stitching")),
        ("placement postcodes not found", r.get("placement_postcodes_not_found")),
        ("placement cost rows matched / in", f"{r.get('cost_rows_matched', 0)} / {r.get('cost_rows_in', 0)}"),
    ]
    return pd.DataFrame(rows, columns=["item", "value"]).astype({"value": str})


@dataclass
class Results:
    found: dict[str, dict | None]
    source: str
    history: pd.DataFrame  # children at 31 March by group (year index)
    needs: dict[str, pd.DataFrame]
    too_short: str | None
    forecasts: dict[str, fc.Forecast] | None
    backtest: pd.DataFrame | None  # every back-test forecast (rolling origins)
    backtest_scores: pd.DataFrame | None
    flows: pd.DataFrame
    truth: pd.DataFrame | None
    heldout: pd.DataFrame | None
    provision: pd.DataFrame | None
    supply: pd.DataFrame
    gap: pd.DataFrame | None
    costs: pd.DataFrame | None
    costs_by_type: pd.DataFrame | None
    unit_costs: pd.DataFrame
    notes: list[str] = field(default_factory=list)


def _backtest_origins(s: Settings) -> tuple[int, int]:
    return s.years[0] + s.fit_years, s.last_year


def prior_for(data: Data, s: Settings):
    """Similar LAs' year-to-year swings (from every LA's published counts), pooled with the LA's own in the
    forecast's intervals: ``prior_at(origin, sizes)``, or None without published figures."""
    panel = data.published_panel()
    return fp.prior_function(panel, s.la_code) if panel is not None else None


def forecast_903(data: Data, s: Settings, snap: pd.DataFrame) -> tuple[dict[str, fc.Forecast], pd.DataFrame, float]:
    """Every scenario's forecast from the 903 model (one fit shared by all), the rolling back-test, and
    the combination weight (chosen on every back-test forecast, all of whose years are recorded)."""
    first, last = _backtest_origins(s)
    prior_at = prior_for(data, s)
    bt = fc.rolling_backtest(snap, first, last, s.fit_years, min(3, s.forecast_years), prior_at=prior_at)
    weight = fc.weight_from_backtest(bt)
    origin = pd.Timestamp(s.last_year, 3, 31)
    fitted = fc.fit(snap, origin, s.fit_years)
    forecasts = {}
    hist = fc.history(snap, s.years)
    prior = prior_at(s.last_year, fc.sizes_at(hist, s.last_year)) if prior_at else None
    for name, scenario in [(CURRENT, None), *((sc.name, scn.rates_function(sc)) for sc in s.scenarios)]:
        forecasts[name] = fc.fit_and_project(
            snap,
            origin,
            s.fit_years,
            s.forecast_years,
            bootstrap=s.bootstrap,
            weight=weight,
            first_year=s.years[0],
            scenario=scenario,
            fitted=fitted,
            prior=prior,
        )
    return forecasts, bt, weight


def forecast_published_data(h: pd.DataFrame, s: Settings, prior_at=None) -> tuple[dict[str, fc.Forecast], pd.DataFrame, float, list[str]]:
    """Every scenario's forecast from the published-data model, its rolling back-test (with the naive
    forecasts beside it) and the combination weight; ``prior_at``: similar LAs' swings (:func:`prior_for`)."""
    h = h.loc[s.years[0] : s.last_year]
    first, last = _backtest_origins(s)
    bt = fp.rolling_backtest(h, first, last, s.fit_years, min(3, s.forecast_years), prior_at=prior_at)
    weight = fc.weight_from_backtest(bt)
    prior = prior_at(s.last_year, fc.sizes_at(h, s.last_year)) if prior_at else None
    forecasts = {CURRENT: fp.project(h, s.last_year, s.fit_years, s.forecast_years, weight=weight, prior=prior)}
    notes = []
    for sc in s.scenarios:
        levers, skipped = fp.levers_for(sc.levers, h, s.last_year)
        if skipped:
            notes.append(f"Scenario '{sc.name}': the published-data model cannot carry {', '.join(skipped)} (moves between groups need the 903).")
        forecasts[sc.name] = fp.project(h, s.last_year, s.fit_years, s.forecast_years, weight=weight, scenario=levers, prior=prior)
    return forecasts, bt, weight, notes


def backtest_table(bt: pd.DataFrame) -> pd.DataFrame:
    """The back-test's forecasts of the total, for the pack (counts: gate with BACKTEST_DISCLOSURE)."""
    t = bt[["origin", "year", "years_ahead", "method", "forecast", "actual"]].copy()
    t["forecast"] = t["forecast"].round(0)
    t["abs_pct_error_total"] = (100 * (t["forecast"] - t["actual"]).abs() / t["actual"].clip(lower=1)).round(1)
    return t.sort_values(["origin", "year", "method"], key=lambda c: c.map({m: i for i, m in enumerate(fc.METHODS)}) if c.name == "method" else c)


def scores_table(bt: pd.DataFrame) -> pd.DataFrame:
    """Mean absolute % error, bias and interval coverage by method and years ahead (no counts of children)."""
    sc = fc.score(bt)
    sc["forecasts"] = sc["forecasts"].astype(int)
    for c in ("mape_total", "bias_pct", "mape_groups"):
        sc[c] = sc[c].round(1)
    for c in ("coverage_80", "coverage_95"):
        if c in sc:
            sc[c] = (100 * sc[c]).round(0)
    return sc.rename(columns={"coverage_80": "coverage_80_pct", "coverage_95": "coverage_95_pct"})


def heldout_check(bt: pd.DataFrame, s: Settings) -> pd.DataFrame:
    """The combined forecast of the held-out years (made ``holdout_years`` before the last) against
    what the data recorded, for the truth check (counts: gate with HELDOUT_DISCLOSURE)."""
    origin = s.last_year - s.holdout_years
    b = bt[(bt["method"] == "Model (combined)") & (bt["origin"] == origin)]
    return pd.DataFrame(
        {
            "forecast_from": origin,
            "year": b["year"].astype(int).to_numpy(),
            "recorded": b["actual"].round(0).to_numpy(),
            "forecast": b["forecast"].round(0).to_numpy(),
            "lower_95": b["lower_95"].round(0).to_numpy(),
            "upper_95": b["upper_95"].round(0).to_numpy(),
            "inside_95": b["inside_95"].map({True: "yes", False: "no"}).to_numpy(),
        }
    )


HELDOUT_DISCLOSURE = {"counts": ["recorded", "forecast", "lower_95", "upper_95"], "not_counts": ["forecast_from"]}


def analyse(data: Data, s: Settings, output_dir: str, p: Paths | None = None) -> Results:
    """Every number the pack shows; the forecast is skipped, with the reason, when the history is too short."""
    p = p or paths()
    found, source = sibling_metrics(output_dir, s.la_code, p)
    too_short = history_ok(s)
    notes = list(s.notes)
    forecasts = bt = truth = heldout = prov = gap = None
    if s.source == FROM_903:
        snap = fc.snapshots(
            data.placements, data.periods, data.children, fc.month_ends(pd.Timestamp(s.years[0] - 1, 4, 1), pd.Timestamp(s.last_year, 3, 31))
        )
        hist = fc.history(snap, s.years)
        needs = profile(data, s, snap)
        if not too_short:
            forecasts, bt, weight = forecast_903(data, s, snap)
        flows_t = fc.annual_flows(snap, data.periods, s.years)
        window = s.years[-min(s.fit_years, len(s.years) - 1) :]
        planted = fc.planted_rates(data.truth, window) if data.truth is not None and len(s.years) > 1 else None
        if planted is not None:
            truth = fc.truth_check(fc.fit(snap, pd.Timestamp(s.last_year, 3, 31), len(window)), planted, window)
            heldout = heldout_check(bt, s) if bt is not None else None
        prov = provision(data, s)
        shares = type_shares_903(data, s)
        own = own_weekly_costs(data)
    else:
        t = targets_for(data.indicators, s.la_code)  # the LA's published counts, read once
        h = fp.published_history(t)
        hist = h.loc[s.years[0] : s.last_year, list(fc.GROUPS)]
        needs = published_profile(t, s.years)
        if not too_short:
            forecasts, bt, weight, more = forecast_published_data(h, s, prior_for(data, s))
            notes += more
        flows_t = published_flows(h, s.years)
        shares = type_shares_published(t, s.last_year)
        own = {}
    if forecasts:
        gap = gap_table(forecasts[CURRENT], prov, s.last_year + s.forecast_years) if prov is not None else None
    unit = scn.unit_cost_table(s.unit_costs, own)
    costs = scenario_costs(forecasts, shares, unit) if forecasts else None
    unknown = {} if s.source == FROM_903 else NOT_SPLIT_IN_PUBLISHED
    by_type = cost_by_type(forecasts[CURRENT], shares, unit, unknown) if forecasts else None
    return Results(
        found,
        source,
        hist,
        needs,
        too_short,
        forecasts,
        bt,
        scores_table(bt) if bt is not None and len(bt) else None,
        flows_t,
        truth,
        heldout,
        prov,
        ofsted_supply(p, s.la_code),
        gap,
        costs,
        by_type,
        unit,
        notes,
    )


def published_flows(h: pd.DataFrame, years: list[int]) -> pd.DataFrame:
    """Started, ceased and children at 31 March by year, as published (ceased implied by the stock where not published)."""
    t = h.loc[years]
    return pd.DataFrame(
        {
            "year": years,
            "entries": t["starts"].round(0).to_numpy(),
            "cla_31_march": t[list(fc.GROUPS)].sum(axis=1).round(0).to_numpy(),
            "exits": t["ceased"].round(0).to_numpy(),
        }
    )
