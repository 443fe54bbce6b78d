"""Paper 04's analysis: the profile of children looked after, provision and supply, the forecasts and
their back-test, and the costs by placement type."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.config import Paths
from analysis.io.ingest import read_table
from analysis.io.published_counts import DIMENSIONS, Targets
from analysis.papers.p04_sufficiency import scenarios as scn
from analysis.papers.p04_sufficiency.inputs import AGE_BANDS, LEGAL, NEED, Data, Settings
from analysis.report.disclosure import gate
from analysis.stats import demand
from analysis.stats import forecast as fc


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


def ofsted_supply(p: Paths, la_code: str, up_to: int | None = None) -> pd.DataFrame:
    """Ofsted-registered children's homes (and IFAs) located in the LA, latest year (to ``up_to``), by type and sector:
    providers and places (active registrations)."""
    o = read_table(p, "ofsted_places")
    if up_to is not None:
        o = o[o["year"] <= up_to]
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


#: forecasts are numbers of children: the mean and both ends of its interval are gated as counts
FORECAST_DISCLOSURE = {"counts": ["children", "lower_80", "upper_80", "lower_95", "upper_95"]}
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


def _backtest_origins(s: Settings) -> tuple[int, int]:
    return demand.backtest_origins(s.years, s.fit_years)


def prior_for(data: Data, s: Settings):
    """Similar LAs' year-to-year swings (from every LA's published counts), pooled with the LA's own in the
    forecast's intervals: ``prior_at(origin, sizes)``, or None without published figures."""
    return demand.prior_function(data.published_panel(), s.la_code)


def forecast_903(data: Data, s: Settings, snap: pd.DataFrame) -> tuple[dict[str, fc.Forecast], pd.DataFrame, float]:
    """Every scenario's forecast from the 903 model, the rolling back-test and the combination weight
    (:func:`analysis.stats.demand.forecast_903`, which paper 05 calls with the same settings)."""
    scenarios = [(sc.name, scn.rates_function(sc)) for sc in s.scenarios]
    return demand.forecast_903(snap, s.years, s.fit_years, s.forecast_years, s.bootstrap, prior_for(data, s), scenarios)


def forecast_published_data(
    h: pd.DataFrame, s: Settings, prior_at=None, pooled: demand.PooledDemand | None = None, published: pd.DataFrame | None = None
) -> tuple[dict[str, fc.Forecast], pd.DataFrame, float, list[str]]:
    """Every scenario's forecast from the published figures (the pooled panel model where it beat no change across
    LAs, no change elsewhere), its rolling back-test and notes (:func:`analysis.stats.demand.forecast_published`, which
    paper 05 calls with the same settings). ``published``: the LA's series as published, its swings measured on it."""
    scenarios = [(sc.name, sc.levers) for sc in s.scenarios]
    return demand.forecast_published(h, s.years, s.fit_years, s.forecast_years, prior_at, scenarios, pooled, s.la_code, published)


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
