"""Demand forecast from the DfE's published LA figures alone, for LAs without their own 903 in the project.

The DfE publishes, for every LA and year ending 31 March: children looked after at 31 March (by
age band and placement type), children who started and who ceased to be looked after. From those
(:func:`published_history`, with suppressed cells filled as :mod:`analysis.io.published_counts` does:
an equal share of what the published categories leave) an **annual stock-and-flow** model:

    children next March = (children this March + entries in the year) x (1 - the share who leave)

with entries the mean of the ``fit_years`` to the origin and the share who leave their ceased over
children at the previous March plus starts over the same years. Placement groups and age bands keep
their shares at the origin. As with the 903 model, the pack's forecast combines it with the last
value, the weight chosen on earlier origins (:func:`analysis.stats.forecast.choose_weight`), and the
intervals come from the LA's own past yearly swings (:func:`analysis.stats.forecast.interval`).

Scenarios: entries and the share leaving scaled by a percentage; a share of new placements in
children's homes (entries placed in the groups' proportions at the origin) made in fostering.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.io import published_counts as st
from analysis.stats import forecast as fc

#: the DfE's published placement types (synthetic_targets.DIMENSIONS["placement"]) in the forecast's groups
GROUP_OF_PUBLISHED = {
    "foster": "fostering",
    "childrens_home": "children's home",
    "other_residential": "children's home",
    "residential_school": "children's home",
    "independent": "supported",
    "with_parents": "other",
    "adoption": "other",
    "other": "other",
}
#: published age bands (synthetic_targets.DIMENSIONS["age"]) in the forecast's bands
BAND_OF_PUBLISHED = {"under_1": "0 to 4", "1_to_4": "0 to 4", "5_to_9": "5 to 9", "10_to_15": "10 to 15", "16_and_over": "16 and 17"}


#: the first year of the DfE's current placement categories by LA: before it (the 2015-2017 SFR tables) "secure units,
#: children's homes and semi-independent living" were one category and 2018-2019 are not published, so a group's change
#: is measured (its yearly swings, the pooled model's learning) only from this year on; the total from 2015
GROUPS_FROM = 2020


def published_history(t: st.Targets) -> pd.DataFrame:
    """Year index (2015-2025): children at 31 March by forecast group (columns :data:`analysis.stats.forecast.GROUPS`)
    and age band (``band: <name>``), ``starts`` and ``ceased`` (ceased implied by the stock where DfE
    did not publish it)."""
    rows = []
    for y in sorted(t.cla):
        row: dict[str, float] = {"year": y}
        for g in fc.GROUPS:
            row[g] = 0.0
        for cat, v in zip(st.DIMENSIONS["placement"], t.stock["placement"][y]):
            row[GROUP_OF_PUBLISHED[cat]] += float(v)
        for name, _, _ in fc.BANDS:
            row[f"band: {name}"] = 0.0
        for cat, v in zip(st.DIMENSIONS["age"], t.stock["age"][y]):
            row[f"band: {BAND_OF_PUBLISHED[cat]}"] += float(v)
        row["starts"] = float(t.starts.get(y, np.nan))
        ceased = t.ceased.get(y)
        row["ceased"] = float(ceased) if ceased is not None else np.nan
        rows.append(row)
    h = pd.DataFrame(rows).set_index("year")
    implied = h[list(fc.GROUPS)].sum(axis=1).shift(1) + h["starts"] - h[list(fc.GROUPS)].sum(axis=1)
    h["ceased"] = h["ceased"].fillna(implied)
    return h


def published_panel(li: pd.DataFrame) -> pd.DataFrame:
    """Every LA's published children at 31 March, index (la_code, year): the forecast groups and ``total``, as
    published (NaN where a count, or a part of a group, is suppressed or not published). The pooled swings of
    similar LAs (:func:`analysis.stats.forecast.pooled_prior`) are taken from it; nothing is filled in."""
    indicators = {ind: GROUP_OF_PUBLISHED[cat] for cat, inds in st.DIMENSIONS["placement"].items() for ind in inds}
    la = li[(li["geographic_level"] == "local_authority") & (li["measure"] == "number")]
    la = la[la["indicator"].isin([*indicators, "cla_31_march"])]
    wide = la.pivot_table(index=["area_code", "year"], columns="indicator", values="value", aggfunc="first")
    wide = wide.reindex(columns=[*indicators, "cla_31_march"])
    out = pd.DataFrame(index=wide.index)
    for g in fc.GROUPS:
        parts = [ind for ind, grp in indicators.items() if grp == g]
        out[g] = wide[parts].sum(axis=1, min_count=len(parts)).where(wide[parts].notna().all(axis=1))
    out["total"] = wide["cla_31_march"]
    out.index = out.index.set_names(["la_code", "year"])
    return out.astype(float)


def comparable(panel: pd.DataFrame) -> pd.DataFrame:
    """The published panel (:func:`published_panel`, index (la_code, year) or year) with each group blank before
    :data:`GROUPS_FROM`: the counts whose yearly changes measure a swing, not a change of the DfE's categories."""
    out = panel.copy()
    out.loc[out.index.get_level_values("year") < GROUPS_FROM, [g for g in fc.GROUPS if g in out.columns]] = np.nan
    return out


def own_published(panel: pd.DataFrame | None, la_code: str) -> pd.DataFrame | None:
    """The LA's children at 31 March as published, in the categories of today (:func:`comparable`), every year from its
    first to its last (blank where not published, suppressed or before :data:`GROUPS_FROM` for a group): the series its
    own yearly swings are measured on. Years the pack fills in (interpolated, or a suppressed cell shared out) would
    make a series look steadier than it is. None when the panel does not hold the LA."""
    if panel is None or la_code not in panel.index.get_level_values("la_code"):
        return None
    mine = comparable(panel).xs(la_code, level="la_code")
    return mine.reindex(pd.RangeIndex(int(mine.index.min()), int(mine.index.max()) + 1, name="year"))


def prior_function(panel: pd.DataFrame | None, la_code: str):
    """``prior_at(origin, sizes)`` for the forecasts of one LA: similar LAs' swings up to each origin, in the categories
    of today (:func:`comparable`), the LA itself left out (None without a panel)."""
    if panel is None or panel.empty:
        return None
    now = comparable(panel)
    return lambda origin, sizes: fc.pooled_prior(now, int(origin), sizes, exclude=la_code)


def rates(h: pd.DataFrame, origin: int, fit_years: int) -> tuple[float, float]:
    """(entries a year, share leaving in a year) over the ``fit_years`` to the origin."""
    ys = [y for y in range(origin - fit_years + 1, origin + 1) if y - 1 in h.index]
    total = h[list(fc.GROUPS)].sum(axis=1)
    entries = float(h.loc[ys, "starts"].mean())
    at_risk = float(sum(total[y - 1] + h.at[y, "starts"] for y in ys))
    leave = float(h.loc[ys, "ceased"].sum()) / at_risk if at_risk > 0 else 0.0
    return entries, float(np.clip(leave, 0, 1))


def flow_mean(h: pd.DataFrame, origin: int, fit_years: int, years: list[int], scenario: dict | None = None) -> pd.DataFrame:
    """The annual stock-and-flow model's children by group at each year (year index)."""
    entries, leave = rates(h, origin, fit_years)
    sc = scenario or {}
    entries = max(0.0, entries * (1 + sc.get("entries_pct", 0.0) / 100) + sc.get("entries_add", 0.0))
    leave = float(np.clip(leave * (1 + sc.get("exits_pct", 0.0) / 100), 0, 1))
    now = h.loc[origin, list(fc.GROUPS)].astype(float)
    share = now / now.sum() if now.sum() > 0 else pd.Series(1 / fc.G, index=now.index)
    n = float(now.sum())
    out = []
    moved = 0.0
    ch, fo = "children's home", "fostering"
    for _ in years:
        n = (n + entries) * (1 - leave)
        moved = (moved + entries * share[ch] * sc.get("shift_pct", 0.0) / 100) * (1 - leave)
        g = share * n
        g[ch] -= moved
        g[fo] += moved
        out.append(g.clip(lower=0))
    return pd.DataFrame(out, index=pd.Index(years, name="year"))


def rolling_backtest(
    h: pd.DataFrame,
    first_origin: int,
    last_year: int,
    fit_years: int,
    horizon_years: int = 3,
    truth: pd.DataFrame | None = None,
    prior_at=None,
    published: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """:func:`analysis.stats.forecast.rolling_backtest_of` for the published-data model, from the
    first origin with ``fit_years`` of flows behind it; scored against ``truth`` (year x groups; the
    published counts by default). ``prior_at``: similar LAs' swings (:func:`prior_function`); ``published``: the
    LA's own series as published (:func:`own_published`), its swings measured on it."""
    first = max(first_origin, int(h.index.min()) + fit_years + 1)
    return fc.rolling_backtest_of(
        h,
        lambda origin, years: flow_mean(h, origin, fit_years, years),
        first,
        last_year,
        fit_years,
        horizon_years,
        truth,
        prior_at=prior_at,
        spread_from=published,
    )


def project(
    h: pd.DataFrame,
    origin: int,
    fit_years: int,
    horizon_years: int,
    *,
    weight: float,
    scenario: dict | None = None,
    prior: fc.Prior | None = None,
    point: pd.DataFrame | None = None,
    method: str = "published-data stock-and-flow model combined with the last value",
    published: pd.DataFrame | None = None,
) -> fc.Forecast:
    """The published-data forecast from ``origin``: combined with the last value at ``weight``; a
    scenario's effect on the flow model is added to the combined forecast; ``prior``: similar LAs' swings;
    ``published``: the LA's own series as published (:func:`own_published`), its swings measured on it (without it,
    on ``h``). A group with no yearly change measured in today's categories, its own or similar LAs', has no interval.
    ``point`` (year x groups), when given, is the point forecast itself (the pooled model where the pack uses it,
    no change elsewhere: :func:`analysis.stats.demand.pooled_point`); ``weight`` is then 1."""
    years = [origin + k + 1 for k in range(horizon_years)]
    flow = flow_mean(h, origin, fit_years, years)
    base = flow if point is None else point.loc[years, list(fc.GROUPS)]
    shift = (flow_mean(h, origin, fit_years, years, scenario) - flow) if scenario else None
    by_g, tot = fc.combine(base, h[list(fc.GROUPS)], origin, weight, shift=shift, prior=prior, spread_from=published)
    bands = h.loc[origin, [f"band: {n}" for n, _, _ in fc.BANDS]].astype(float)
    share = bands / bands.sum() if bands.sum() > 0 else bands * 0 + 1 / len(bands)
    by_band = pd.DataFrame(
        [{"year": int(r.year), "band": b.removeprefix("band: "), "mean": r.mean * share[b]} for r in tot.itertuples() for b in share.index]
    )
    return fc.Forecast(
        pd.Timestamp(origin, 3, 31),
        years,
        by_g,
        by_band,
        tot,
        None,
        method=method,
        weight=weight,
    )


def levers_for(levers: dict[str, list[dict]], h: pd.DataFrame, origin: int) -> tuple[dict, list[str]]:
    """A scenario's levers (:mod:`analysis.papers.p04_sufficiency.scenarios`) as the annual model's: entries and exits
    scaled by the levers' average change, weighted by the children in each age band and group at
    the origin; entry numbers added; a fall in moves into children's homes, or a shift of their
    entries, made into fostering. Levers the annual model cannot carry (other moves between
    groups) are listed."""
    groups = list(fc.GROUPS)
    bands = h.loc[origin, [f"band: {n}" for n, _, _ in fc.BANDS]].to_numpy(float)
    gshare = h.loc[origin, groups].to_numpy(float)
    w = np.outer(bands / max(bands.sum(), 1), gshare / max(gshare.sum(), 1))  # B x G, sums to 1
    names = [n for n, _, _ in fc.BANDS]

    def cells(lv: dict, key: str = "group") -> np.ndarray:
        m = np.zeros_like(w, dtype=bool)
        bi = range(fc.B) if lv.get("band", "all") == "all" else [names.index(lv["band"])]
        gi = range(fc.G) if lv.get(key, "all") == "all" else [groups.index(lv[key])]
        for b in bi:
            for g in gi:
                m[b, g] = True
        return m

    out: dict[str, float] = {}
    skipped = []
    for kind, key in (("entries", "entries_pct"), ("exits", "exits_pct")):
        mult = np.ones_like(w)
        for lv in levers.get(kind, []):
            mult[cells(lv)] *= 1 + lv["change_pct"] / 100
        if levers.get(kind):
            out[key] = 100 * (float((w * mult).sum()) - 1)
    add = sum(lv["per_year"] for lv in levers.get("entry_numbers", []))
    if add:
        out["entries_add"] = float(add)
    shift = 0.0
    for lv in levers.get("moves", []):
        if lv.get("to") == "children's home" and lv.get("instead") == "fostering" and lv["change_pct"] < 0:
            shift += -lv["change_pct"]
        else:
            skipped.append(f"moves into {lv.get('to')} ({lv['change_pct']:+g}%)")
    for lv in levers.get("shift_entries", []):
        # the annual model has one lever for both: the share of new children's home placements made in fostering
        if lv["from"] == "children's home" and lv["to"] == "fostering":
            shift = max(shift, lv["share_pct"])
        else:
            skipped.append(f"entries shifted from {lv['from']} to {lv['to']} ({lv['share_pct']:g}%)")
    if shift:
        out["shift_pct"] = min(shift, 100.0)
    return out, skipped
