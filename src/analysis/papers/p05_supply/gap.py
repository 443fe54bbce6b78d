"""Paper 05's demand against supply: the pack's forecast of children by placement type (the same
function and settings as paper 04, :mod:`analysis.stats.demand`), set against the places registered in
the LA and those it runs; the places to build or commission to meet the LA's targets; the foster
households to recruit; unaccompanied children against the National Transfer Scheme threshold; care
leavers now. With the LA's own 903: where its children in children's homes live, and missing episodes
by where the child was placed."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.io import national_figures
from analysis.io.published_counts import targets_for
from analysis.papers.p05_supply.inputs import Data, Settings, history_too_short
from analysis.papers.p05_supply.supply import published_value
from analysis.stats import demand
from analysis.stats import forecast as fc
from analysis.stats import published_forecast as fp

#: the forecast's groups the gap is shown for, the published count of children now in each, and the
#: kind of registered home that serves it (None: fostering, whose capacity is households, not places)
TYPES = {
    "fostering": ("placement_foster", None),
    "children's home": ("placement_secure_and_childrens_homes", "children's homes"),
    "supported": ("placement_independent_supported", "supported accommodation"),
}
TYPE_LABELS = {"fostering": "fostering", "children's home": "children's homes", "supported": "supported accommodation (16-17)"}
#: kinds of registered home counted as places for the children's-home group
HOME_KINDS = ("children's homes", "secure children's homes", "residential special schools registered as children's homes")


def demand_forecast(data: Data, s: Settings) -> tuple[fc.Forecast | None, str | None]:
    """The pack's current-trends forecast (paper 04's function and settings), or the reason there is none."""
    reason = history_too_short(s)
    if reason:
        return None, reason
    prior_at = demand.prior_function(data.published_panel(), s.la_code)
    if s.source == demand.FROM_903:
        snap = demand.snapshots_903(data.placements, data.periods, data.children, s.years)
        forecasts, _, _ = demand.forecast_903(snap, s.years, s.fit_years, s.forecast_years, s.bootstrap, prior_at)
    else:
        h = fp.published_history(targets_for(data.indicators, s.la_code))  # cut at a past last_year by analyse (Data.up_to)
        published = fp.own_published(data.published_panel(), s.la_code)
        forecasts, _, _, _ = demand.forecast_published(
            h, s.years, s.fit_years, s.forecast_years, prior_at, (), data.pooled(s.last_year), s.la_code, published
        )
    return forecasts[demand.CURRENT], None


def children_now(data: Data, s: Settings) -> dict[str, float]:
    """The LA's children in each type at the last 31 March: from its 903 when held, else as published."""
    if s.source == demand.FROM_903:
        day = pd.Timestamp(s.last_year, 3, 31)
        p = data.placements
        on = p[(p["start"] <= day) & (p["end"].isna() | (p["end"] > day)) & (p["place_group"] != "temporary")]
        on = on.sort_values("start").drop_duplicates("child", keep="last")
        groups = fc.group_of(on["place_group"]).value_counts()
        return {g: float(groups.get(g, 0)) for g in TYPES}
    return {g: published_value(data.indicators, s.la_code, ind, s.last_year) for g, (ind, _) in TYPES.items()}


def _supply_now(supply: pd.DataFrame, kinds: tuple[str, ...], year: int) -> tuple[float, float]:
    now = supply[(supply["year"] == supply["year"].max()) & supply["kind"].isin(kinds)]
    return float(now["places"].sum(min_count=1)) if len(now) else np.nan, float(now["la_run_places"].sum(min_count=1)) if len(now) else np.nan


def gap_table(
    forecast: fc.Forecast, now: dict[str, float], supply: pd.DataFrame, inside_now: float, own_now: float | None, s: Settings
) -> pd.DataFrame:
    """For each type and each of the next ``gap_years`` 31 Marches: the children forecast (95% interval),
    the places registered in the LA and those it runs, and for children's homes the places needed
    inside the LA (at the target share, or today's) and in its own homes, beside what is used now.

    ``inside_now``: the share (0-1) of the LA's children in children's homes living inside its boundary
    now; ``own_now``: their number in its own homes, or None: the places the LA runs stand in (public
    counts; the 903's split by provider is paper 04's to publish)."""
    rows = []
    lv = s.levers
    years = [s.last_year + k for k in range(1, s.gap_years + 1)]
    for g, (_, kind) in TYPES.items():
        f = forecast.by_group[forecast.by_group["group"] == g].set_index("year")
        kinds = HOME_KINDS if g == "children's home" else ((kind,) if kind else ())
        places, la_run = _supply_now(supply, kinds, s.last_year) if kinds else (np.nan, np.nan)
        for y in years:
            mean, lo, hi = (float(f.at[y, c]) for c in ("mean", "lower", "upper"))
            row = {  # the year first: a row then never reads as "4 children's homes" once its cells are text
                "year": y,
                "placement": TYPE_LABELS[g],
                "children_now": now.get(g, np.nan),
                "forecast": round(mean),
                "lower_95": round(lo),
                "upper_95": round(hi),
                "places_registered": places,
                "places_la_run": la_run,
            }
            if g == "children's home":
                inside = lv.inside_share if lv.inside_share is not None else inside_now
                use_now = now.get(g, np.nan) * inside_now
                row |= {
                    "needed_inside": round(mean * inside) if pd.notna(inside) else np.nan,
                    "extra_inside": round(mean * inside - use_now) if pd.notna(inside) and pd.notna(use_now) else np.nan,
                    "extra_inside_lower": round(lo * inside - use_now) if pd.notna(inside) and pd.notna(use_now) else np.nan,
                    "extra_inside_upper": round(hi * inside - use_now) if pd.notna(inside) and pd.notna(use_now) else np.nan,
                }
                base_own = own_now if own_now is not None else la_run
                own_share = lv.own_share if lv.own_share is not None else (base_own / now[g] if now.get(g) else np.nan)
                row |= {
                    "needed_own": round(mean * own_share) if pd.notna(own_share) else np.nan,
                    "extra_own": round(mean * own_share - base_own) if pd.notna(own_share) and pd.notna(base_own) else np.nan,
                    "extra_own_lower": round(lo * own_share - base_own) if pd.notna(own_share) and pd.notna(base_own) else np.nan,
                    "extra_own_upper": round(hi * own_share - base_own) if pd.notna(own_share) and pd.notna(base_own) else np.nan,
                }
            rows.append(row)
    return pd.DataFrame(rows)


def foster_households(forecast: fc.Forecast, fostering_now: float, s: Settings) -> pd.DataFrame:
    """The LA's own mainstream fostering households needed each year (fostering demand x in-house share
    / children per household) and those to recruit: the growth in need plus the households lost in the
    year (a share of last year's), with the range from the forecast's 95% interval."""
    lv = s.levers
    f = forecast.by_group[forecast.by_group["group"] == "fostering"].set_index("year")
    years = [s.last_year + k for k in range(1, s.gap_years + 1)]
    if pd.isna(fostering_now):  # the DfE did not publish it: the first year's need is the base (no growth counted that year)
        fostering_now = float(f.at[years[0], "mean"])
    need_prev = {k: fostering_now * lv.inhouse_foster_share / lv.children_per_household for k in ("mean", "lower", "upper")}
    rows = []
    for y in years:
        need = {k: float(f.at[y, k]) * lv.inhouse_foster_share / lv.children_per_household for k in ("mean", "lower", "upper")}
        recruit = {k: max(0.0, need[k] - need_prev[k]) + lv.households_lost * need_prev[k] for k in need}
        rows.append(
            {
                "year": y,
                "households_needed": round(need["mean"]),
                "to_recruit": round(recruit["mean"]),
                "to_recruit_lower": round(min(recruit["lower"], recruit["upper"])),
                "to_recruit_upper": round(max(recruit["lower"], recruit["upper"])),
            }
        )
        need_prev = need
    return pd.DataFrame(rows)


def uasc_threshold(indicators: pd.DataFrame, population: pd.DataFrame, la_code: str) -> pd.DataFrame:
    """Unaccompanied asylum-seeking children looked after at 31 March against the National Transfer
    Scheme threshold (0.1% of the LA's children aged 0-17; ONS estimate of the year, or the latest before it)."""
    pct = national_figures.figure("nts_threshold_pct").figure
    li = indicators[(indicators["area_code"] == la_code) & (indicators["indicator"] == "uasc") & (indicators["measure"] == "number")]
    pop = population[population["area_code"] == la_code].set_index("year")["population"].sort_index()
    rows = []
    for r in li.sort_values("year").itertuples():
        known = pop[pop.index <= r.year]
        children = float(known.iloc[-1]) if len(known) else np.nan
        threshold = children * pct / 100
        rows.append(
            {
                "year": int(r.year),
                "uasc_looked_after": r.value,
                "flag": r.flag if pd.isna(r.value) else "",
                "child_population": children,
                "population_year": int(known.index[-1]) if len(known) else None,
                "threshold": round(threshold, 1),
                "position": "not published" if pd.isna(r.value) else ("above the threshold" if r.value > threshold else "at or below the threshold"),
            }
        )
    return pd.DataFrame(rows)


CARE_LEAVERS = {
    "17 to 18": ("care_leavers_accommodation_17_18", "care_leavers_suitable_17_18"),
    "19 to 21": ("care_leavers_accommodation_19_21", "care_leavers_suitable_19_21"),
}


def care_leavers(indicators: pd.DataFrame, la_code: str) -> pd.DataFrame:
    """Care leavers the LA is in touch with, aged 17-18 and 19-21, each year, and the share in accommodation
    considered suitable (DfE; the number of care leavers is the denominator the DfE publishes)."""
    rows = []
    years = sorted(
        indicators.loc[(indicators["area_code"] == la_code) & indicators["indicator"].str.startswith("care_leavers_suitable"), "year"].unique()
    )
    for year in years:
        for age, (total, suitable) in CARE_LEAVERS.items():
            rows.append(
                {
                    "year": int(year),
                    "age": age,
                    "care_leavers": published_value(indicators, la_code, total, year, "denominator"),
                    "suitable": published_value(indicators, la_code, suitable, year),
                    "suitable_pct": published_value(indicators, la_code, suitable, year, "percent"),
                }
            )
    return pd.DataFrame(rows, columns=["year", "age", "care_leavers", "suitable", "suitable_pct"])  # none before 2021
