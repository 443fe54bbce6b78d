"""Demand forecast for paper 04: a monthly stock-and-flow (Markov) model of children looked after.

State: single year of age (0-17) by placement group (:data:`GROUPS`). Each month, from month-end
snapshots of the 903 placements (:func:`snapshots`):

* **exits**: children in care at one month end and not at the next, other than those who turned
  18 (ageing out is structural: 1/12 of 17-year-olds reach 18 each month and leave);
* **moves** between placement groups, for children in care at both month ends;
* **entries**: children in care at a month end whose period of care began during that month,
  by age and first placement group;
* **ageing**: 1/12 of each single year of age moves up a year each month.

Rates come from the last ``fit_years`` years before the forecast origin (exit hazards and move
probabilities by age band and group; entries as monthly Poisson rates by age and group).
:func:`project` simulates the stock forward with binomial, multinomial and Poisson draws; with
``bootstrap`` resamples of children (parameter uncertainty) the simulations give intervals.
:func:`backtest` refits on data up to an earlier origin and compares the forecast of the held-out
years with two naive forecasts (the last value; a straight-line trend).

Scenarios: fewer entries (%), faster exits (%), and a shift of new placements (entries and moves)
from children's homes to fostering (%).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.stats.forecast_check import (  # noqa: F401
    actual_totals,
    annual_flows,
    backtest_row,
    history,
    planted_rates,
    rolling_backtest,
    rolling_backtest_of,
    score,
    sizes_at,
    truth_check,
    weight_from_backtest,
)
from analysis.stats.forecast_model import (  # noqa: F401
    AGES,
    BAND_OF_AGE,
    BANDS,
    BOUNDS,
    GROUP_OF,
    GROUPS,
    METHODS,
    PRIOR_CHANGES,
    PRIOR_NEIGHBOURS,
    WEIGHT_GRID,
    B,
    Flows,
    Forecast,
    G,
    Prior,
    Rates,
    _rates_for,
    annual,
    choose_weight,
    coherent,
    combine,
    expected_path,
    fit,
    flows,
    group_of,
    interval,
    last_value,
    linear_trend,
    markov_mean,
    month_ends,
    pooled_prior,
    project,
    rates_from,
    shrunk_spread,
    snapshots,
    spread,
    stock,
)

#: this module's names and those of the modules it is made of, so callers need only this one
__all__ = [
    "AGES",
    "B",
    "BANDS",
    "BAND_OF_AGE",
    "BOUNDS",
    "Flows",
    "Forecast",
    "G",
    "GROUPS",
    "GROUP_OF",
    "METHODS",
    "PRIOR_CHANGES",
    "PRIOR_NEIGHBOURS",
    "Prior",
    "Rates",
    "WEIGHT_GRID",
    "actual_totals",
    "annual",
    "annual_flows",
    "backtest_row",
    "band_group_history",
    "choose_weight",
    "coherent",
    "combine",
    "expected_path",
    "fit",
    "fit_and_project",
    "flows",
    "group_of",
    "history",
    "interval",
    "last_value",
    "linear_trend",
    "markov_mean",
    "month_ends",
    "monthly_table",
    "planted_rates",
    "pooled_prior",
    "project",
    "rates_from",
    "rolling_backtest",
    "rolling_backtest_of",
    "score",
    "shrunk_spread",
    "sizes_at",
    "snapshots",
    "spread",
    "stock",
    "truth_check",
    "weight_from_backtest",
]


def band_group_history(snap: pd.DataFrame, years: list[int]) -> pd.DataFrame:
    """Children at each 31 March by age band and group (year index; columns ``band|group``)."""
    rows = []
    for y in years:
        n = stock(snap, pd.Timestamp(y, 3, 31))
        rows.append({f"{name}|{g}": float(n[lo:hi, gi].sum()) for name, lo, hi in BANDS for gi, g in enumerate(GROUPS)} | {"year": y})
    return pd.DataFrame(rows).set_index("year")


def fit_and_project(
    snap: pd.DataFrame,
    origin: pd.Timestamp,
    fit_years: int,
    horizon_years: int,
    *,
    bootstrap: int = 200,
    seed: int = 20261,
    scenario=None,
    weight: float = 1.0,
    first_year: int | None = None,
    fitted: Flows | None = None,
    prior: Prior | None = None,
) -> Forecast:
    """Fit on the ``fit_years`` before ``origin`` and project ``horizon_years`` of 31 Marches after it.

    The point forecast is ``weight`` x the stock-and-flow model + (1 - ``weight``) x the last value
    (the weight from :func:`rolling_backtest`). A scenario (a function from rates to rates, see
    :mod:`analysis.papers.p04_sufficiency.scenarios`) changes the model's rates; its forecast is the combined forecast
    plus the difference the changed rates make to the model. Intervals: past yearly swings of the
    LA's own series (:func:`interval`) plus the simulations' spread (children's flows drawn each
    month, rates resampled by child when ``bootstrap``). ``monthly``: each month's children by age
    band and group, with 95% intervals (from the same yearly swings, for the fraction of a year ahead).
    ``fitted``: the flows from :func:`fit` when the caller has them already (one fit for every scenario)."""
    f = fitted if fitted is not None else fit(snap, origin, fit_years)
    r0 = rates_from(f)
    n0 = stock(snap, origin)
    months = 12 * horizon_years
    rng = np.random.default_rng(seed)
    sims = []
    for _ in range(max(1, bootstrap)):
        w = rng.multinomial(len(f.children), np.full(len(f.children), 1 / len(f.children))).astype(float) if bootstrap else None
        sims.append(annual(project(n0, _rates_for(rates_from(f, w), scenario), months, rng), horizon_years))
    sims = np.array(sims)  # sims x horizon x 18 x G
    years = [origin.year + k + 1 for k in range(horizon_years)]
    rates = _rates_for(r0, scenario)
    path0 = expected_path(n0, r0, months)
    path = expected_path(n0, rates, months) if scenario else path0
    idx = pd.Index(years, name="year")
    mk0 = pd.DataFrame(annual(path0, horizon_years).sum(axis=1), index=idx, columns=list(GROUPS))
    mk = pd.DataFrame(annual(path, horizon_years).sum(axis=1), index=idx, columns=list(GROUPS))
    sim_sd = pd.DataFrame(np.log(sims.sum(axis=2) + 1).std(axis=0), index=idx, columns=list(GROUPS))
    sim_sd["total"] = np.log(sims.sum(axis=(2, 3)) + 1).std(axis=0)
    first = first_year if first_year is not None else int(snap["day"].min().year) + 1
    past_years = list(range(first, origin.year + 1))
    hist = history(snap, past_years)
    by_g, tot = combine(mk0, hist, origin.year, weight, sim_sd=sim_sd, shift=(mk - mk0) if scenario else None, prior=prior)
    bands = []
    end_of_year = annual(path, horizon_years)  # horizon x 18 x G
    for k, y in enumerate(years):
        t = float(tot.loc[tot["year"] == y, "mean"].iloc[0])
        for name, lo, hi in BANDS:
            bands.append({"year": y, "band": name, "mean": t * end_of_year[k, lo:hi].sum() / max(end_of_year[k].sum(), 1e-9)})
    return Forecast(
        origin,
        years,
        by_g,
        pd.DataFrame(bands),
        tot,
        rates,
        method="903 stock-and-flow model combined with the last value",
        weight=weight,
        monthly=monthly_table(path0, path, band_group_history(snap, past_years), origin, weight),
    )


def monthly_table(path0: np.ndarray, path: np.ndarray, bg_hist: pd.DataFrame, origin: pd.Timestamp, weight: float) -> pd.DataFrame:
    """Children at each month end by age band and group: the combined forecast (the model's expected
    path weighted with the last value, plus a scenario's difference) with a 95% interval."""
    rows = []
    for m in range(path.shape[0]):
        month = (origin + pd.offsets.MonthEnd(m + 1)).strftime("%Y-%m")
        for name, lo, hi in BANDS:
            for gi, g in enumerate(GROUPS):
                col = f"{name}|{g}"
                last = float(bg_hist[col].iloc[-1])
                base = float(path0[m, lo:hi, gi].sum())
                mean = max(0.0, weight * base + (1 - weight) * last + float(path[m, lo:hi, gi].sum()) - base)
                tau, n = spread(bg_hist[col], int(bg_hist.index[-1]))
                lo95, hi95 = interval(mean, tau, n, (m + 1) / 12, 0.95)
                rows.append({"month": month, "band": name, "group": g, "children": mean, "lower_95": lo95, "upper_95": hi95})
    return pd.DataFrame(rows)
