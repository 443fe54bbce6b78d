"""The pack's demand forecast, in one place: paper 04 (the pack) and paper 05 (supply and the gap) call
these functions with the same settings, so the children they forecast are the same numbers.

With the LA's own 903 the monthly stock-and-flow model (:mod:`analysis.stats.forecast`); without it the
annual model from the DfE's published figures (:mod:`analysis.stats.published_forecast`). Either way
the point forecast combines the model with the last value, the weight chosen on a rolling back-test,
and the intervals pool the LA's own yearly swings with similar LAs' (``prior_at``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pandas as pd

from analysis.errors import ParameterError
from analysis.stats import forecast as fc
from analysis.stats import published_forecast as fp

#: the forecast with no scenario applied
CURRENT = "Current trends"
FROM_903 = "903"
FROM_PUBLISHED = "published"


def available_years(report: dict | None, indicators: pd.DataFrame | None, la_code: str) -> tuple[str, list[int]]:
    """Where the LA's demand history comes from (its own 903 when the project holds it, else the
    published figures) and the years it covers (31 March of each)."""
    if report is not None and report.get("la_code") == la_code:
        return FROM_903, [int(y) for y in report["collection_years"]]
    if indicators is None:
        return FROM_PUBLISHED, []
    li = indicators
    years = li.loc[(li["area_code"] == la_code) & (li["indicator"] == "cla_31_march"), "year"].unique()
    return FROM_PUBLISHED, [int(y) for y in sorted(years)]


def check_settings(forecast_years: int, fit_years: int, bootstrap: int) -> None:
    """The forecast's settings, checked the same way in every paper that makes it (one clear sentence each)."""
    if not 3 <= forecast_years <= 5:
        raise ParameterError(f"parameter 'forecast_years' should be 3 to 5, got {forecast_years!r}")
    if not 1 <= fit_years <= 5:
        raise ParameterError(f"parameter 'fit_years' should be 1 to 5, got {fit_years!r}")
    if not 0 <= bootstrap <= 1000:
        raise ParameterError(f"parameter 'bootstrap' should be 0 to 1000 resamples, got {bootstrap!r}")


def history_years(available: list[int], first_year: int) -> list[int]:
    """The years of history used: all that are available from ``first_year`` (0: all of them)."""
    if first_year and not available[0] <= first_year <= available[-1]:
        raise ParameterError(f"parameter 'first_year' should be within the data ({available[0]} to {available[-1]}), or 0 for all; got {first_year}")
    return [y for y in available if y >= (first_year or available[0])]


def backtest_origins(years: Sequence[int], fit_years: int) -> tuple[int, int]:
    """The first and last origins of the rolling back-test."""
    return years[0] + fit_years, years[-1]


def prior_function(panel: pd.DataFrame | None, la_code: str):
    """Similar LAs' year-to-year swings, pooled with the LA's own in the intervals: ``prior_at(origin, sizes)``
    from every LA's published counts (:func:`analysis.stats.published_forecast.published_panel`), or None."""
    return fp.prior_function(panel, la_code) if panel is not None else None


def snapshots_903(placements: pd.DataFrame, periods: pd.DataFrame, children: pd.DataFrame, years: Sequence[int]) -> pd.DataFrame:
    """Month-end snapshots of the 903 placements from April before the first year to the last 31 March."""
    return fc.snapshots(placements, periods, children, fc.month_ends(pd.Timestamp(years[0] - 1, 4, 1), pd.Timestamp(years[-1], 3, 31)))


def forecast_903(
    snap: pd.DataFrame,
    years: Sequence[int],
    fit_years: int,
    forecast_years: int,
    bootstrap: int,
    prior_at=None,
    scenarios: Sequence[tuple[str, Callable]] = (),
) -> tuple[dict[str, fc.Forecast], pd.DataFrame, float]:
    """Every scenario's forecast from the 903 model (one fit shared by all), the rolling back-test, and
    the combination weight (chosen on every back-test forecast, all of whose years are recorded).
    ``scenarios``: (name, rates function) pairs, after the current trends."""
    first, last = backtest_origins(years, fit_years)
    bt = fc.rolling_backtest(snap, first, last, fit_years, min(3, forecast_years), prior_at=prior_at)
    weight = fc.weight_from_backtest(bt)
    origin = pd.Timestamp(years[-1], 3, 31)
    fitted = fc.fit(snap, origin, fit_years)
    forecasts = {}
    hist = fc.history(snap, list(years))
    prior = prior_at(years[-1], fc.sizes_at(hist, years[-1])) if prior_at else None
    for name, scenario in [(CURRENT, None), *scenarios]:
        forecasts[name] = fc.fit_and_project(
            snap,
            origin,
            fit_years,
            forecast_years,
            bootstrap=bootstrap,
            weight=weight,
            first_year=years[0],
            scenario=scenario,
            fitted=fitted,
            prior=prior,
        )
    return forecasts, bt, weight


def forecast_published(
    h: pd.DataFrame,
    years: Sequence[int],
    fit_years: int,
    forecast_years: int,
    prior_at=None,
    scenarios: Sequence[tuple[str, dict]] = (),
) -> tuple[dict[str, fc.Forecast], pd.DataFrame, float, list[str]]:
    """Every scenario's forecast from the published-data model, its rolling back-test (with the naive
    forecasts beside it), the combination weight and notes on scenario levers it cannot carry.
    ``scenarios``: (name, levers) pairs (:mod:`analysis.papers.p04_sufficiency.scenarios`)."""
    last_year = years[-1]
    h = h.loc[years[0] : last_year]
    first, last = backtest_origins(years, fit_years)
    bt = fp.rolling_backtest(h, first, last, fit_years, min(3, forecast_years), prior_at=prior_at)
    weight = fc.weight_from_backtest(bt)
    prior = prior_at(last_year, fc.sizes_at(h, last_year)) if prior_at else None
    forecasts = {CURRENT: fp.project(h, last_year, fit_years, forecast_years, weight=weight, prior=prior)}
    notes = []
    for name, sc_levers in scenarios:
        levers, skipped = fp.levers_for(sc_levers, h, last_year)
        if skipped:
            notes.append(f"Scenario '{name}': the published-data model cannot carry {', '.join(skipped)} (moves between groups need the 903).")
        forecasts[name] = fp.project(h, last_year, fit_years, forecast_years, weight=weight, scenario=levers, prior=prior)
    return forecasts, bt, weight, notes
