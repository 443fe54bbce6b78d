"""The pack's demand forecast, in one place: paper 04 (the pack) and paper 05 (supply and the gap) call
these functions with the same settings, so the children they forecast are the same numbers.

With the LA's own 903 the monthly stock-and-flow model (:mod:`analysis.stats.forecast`); without it the
annual model from the DfE's published figures (:mod:`analysis.stats.published_forecast`). Either way
the point forecast combines the model with the last value, the weight chosen on a rolling back-test,
and the intervals pool the LA's own yearly swings with similar LAs' (``prior_at``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pandas as pd

from analysis.errors import ParameterError
from analysis.stats import forecast as fc
from analysis.stats import pooled_forecast as pf
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


def history_years(available: list[int], first_year: int, last_year: int = 0) -> list[int]:
    """The years of history a pack uses: from ``first_year`` (0: the first available) to ``last_year`` (0: the latest),
    each within the data."""
    if first_year and not available[0] <= first_year <= available[-1]:
        raise ParameterError(f"parameter 'first_year' should be within the data ({available[0]} to {available[-1]}), or 0 for all; got {first_year}")
    if last_year and not available[0] < last_year <= available[-1]:
        raise ParameterError(
            f"parameter 'last_year' should be after {available[0]} and at most {available[-1]} (the latest in the data), or 0 for the latest; got {last_year}"
        )
    if first_year and last_year and last_year <= first_year:
        raise ParameterError(f"parameter 'last_year' ({last_year}) should be after 'first_year' ({first_year})")
    return [y for y in available if (first_year or available[0]) <= y <= (last_year or available[-1])]


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
    pooled: PooledDemand | None = None,
    la_code: str = "",
    published: pd.DataFrame | None = None,
) -> tuple[dict[str, fc.Forecast], pd.DataFrame, float, list[str]]:
    """Every scenario's forecast from the published figures, its rolling back-test (with the naive
    forecasts beside it), the weight on the model and notes (scenario levers it cannot carry; the point's method).
    ``scenarios``: (name, levers) pairs (:mod:`analysis.papers.p04_sufficiency.scenarios`).

    With ``pooled`` (the pack's way): the point is the pooled panel model's where it beat "no change" across LAs, and
    no change elsewhere (:class:`PooledDemand`); the LA's back-test gains the pooled model's rows. Without it: the
    annual stock-and-flow model combined with the last value, the weight chosen on the back-test.

    ``published``: the LA's series as published (:func:`analysis.stats.published_forecast.own_published`): its own
    yearly swings, in the intervals, are measured on the years the DfE published in today's categories, not on the
    years the pack fills in."""
    last_year = years[-1]
    h = h.loc[years[0] : last_year]
    first, last = backtest_origins(years, fit_years)
    bt = fp.rolling_backtest(h, first, last, fit_years, min(3, forecast_years), prior_at=prior_at, published=published)
    notes = []
    if pooled is None:
        weight, point, method = fc.weight_from_backtest(bt), None, "published-data stock-and-flow model combined with the last value"
    else:
        point = pooled_point(pooled, la_code, h, last_year, [last_year + k + 1 for k in range(forecast_years)])
        weight, method = 1.0, "pooled panel model where it beat no change across LAs, no change elsewhere"
        bt = pd.concat([bt, pooled.la_backtest(la_code, h)], ignore_index=True)
        notes.append(pooled.note())
    prior = prior_at(last_year, fc.sizes_at(h, last_year)) if prior_at else None
    forecasts = {
        CURRENT: fp.project(h, last_year, fit_years, forecast_years, weight=weight, prior=prior, point=point, method=method, published=published)
    }
    for name, sc_levers in scenarios:
        levers, skipped = fp.levers_for(sc_levers, h, last_year)
        if skipped:
            notes.append(f"Scenario '{name}': the published-data model cannot carry {', '.join(skipped)} (moves between groups need the 903).")
        forecasts[name] = fp.project(
            h, last_year, fit_years, forecast_years, weight=weight, scenario=levers, prior=prior, point=point, method=method, published=published
        )
    return forecasts, bt, weight, notes


# --- the pooled panel model (issue 28): used for a target only where it beat "no change" across LAs ----------------

POOLED = "Pooled panel model (all LAs)"
#: the first origin of the pooled model's back-test (as the pack's own back-test and the benchmark)
POOLED_FIRST_ORIGIN = 2019


@dataclass
class PooledDemand:
    """The pooled panel model (:mod:`analysis.stats.pooled_forecast`) as the pack uses it: every LA's published panel
    to the pack's last year, the rolling-origin back-test of every LA, and the adoption rule's verdict per target."""

    panel: pd.DataFrame
    evaluation: pd.DataFrame
    adoption: pd.DataFrame
    last_year: int
    _explained: pd.DataFrame | None = None

    def explain(self) -> pd.DataFrame:
        """What the pooled model of the total one year ahead leans on (:func:`analysis.stats.pooled_forecast.explain`),
        made once: it is the same for every LA."""
        if self._explained is None:
            self._explained = pf.explain(self.panel, self.last_year)
        return self._explained

    def use(self) -> dict[str, bool]:
        return {r.target: bool(r.use_pooled) for r in self.adoption.itertuples() if r.use_pooled == r.use_pooled}

    def note(self) -> str:
        """What the point forecast is, and why, in one paragraph (the numbers are in the pack's table of the verdicts)."""
        used = [t for t, u in self.use().items() if u]
        head = (
            f"Point forecast: the pooled panel model for {', '.join(used)}, no change (the last published number) for the rest"
            if used
            else "Point forecast: no change (the last published number) for the total and every placement group"
        )
        return (
            f"{head}. A model pooled across all LAs (their own recent change, child protection plans, children in need, referrals, "
            f"age mix, UASC, size and region) is used for a figure only where, in the back-test of every LA from 31 March "
            f"{POOLED_FIRST_ORIGIN} to {self.last_year}, it erred less than no change with a 95% interval wholly below zero: the table "
            "of the pooled model against no change gives each figure's difference. Groups are scaled to add to the total. The model "
            "cannot see policy changes or a new transfer-scheme rate."
        )

    def ratios(self, la_code: str, origin: int, horizons: Sequence[int]) -> pd.DataFrame:
        """(year x target): the pooled model's forecast growth (count + 1 ratio) for the LA from ``origin``."""
        rows = pf.forecast(self.panel, origin, horizons, las=[la_code])
        rows = rows[rows["method"] == "pooled"]
        ratio = (rows["mean"] + 1) / (rows["now"] + 1)
        return rows.assign(ratio=ratio).pivot_table(index="year", columns="target", values="ratio")

    def la_backtest(self, la_code: str, h: pd.DataFrame) -> pd.DataFrame:
        """The LA's own back-test of the pooled model (all figures pooled), in the pack's back-test rows."""
        ev = self.evaluation[self.evaluation["la_code"] == la_code]
        rows = []
        for (origin, k), g in ev.groupby(["origin", "years_ahead"]):
            y = origin + k
            if origin not in h.index or y not in h.index:
                continue
            r = ((g["pooled"] + 1) / (g["now"] + 1)).groupby(g["target"]).first()
            point = _apply(h.loc[origin, list(fc.GROUPS)].astype(float), r, dict.fromkeys(pf.TARGETS, True))
            tot = g[g["target"] == "total"]
            extra = {}
            if len(tot):
                t0 = float(h.loc[origin, list(fc.GROUPS)].sum())
                lims = {c: (t0 + 1) * (float(tot[f"pooled_{c}"].iloc[0]) + 1) / (float(tot["now"].iloc[0]) + 1) - 1 for c in pf.LIMITS}
                actual = float(h.loc[y, list(fc.GROUPS)].sum())
                extra = {
                    "lower_95": lims["lower_95"],
                    "upper_95": lims["upper_95"],
                    "inside_80": bool(lims["lower_80"] <= actual <= lims["upper_80"]),
                    "inside_95": bool(lims["lower_95"] <= actual <= lims["upper_95"]),
                }
            rows.append(fc.backtest_row(int(origin), int(y), int(k), POOLED, point, h.loc[y].astype(float), **extra))
        return pd.DataFrame(rows)


def _apply(now: pd.Series, ratio: pd.Series, use: dict[str, bool]) -> pd.Series:
    """Each group's point: the last value, grown by the pooled model's ratio where it is used; then all groups scaled
    (proportionally) to add to the total's point (the last total, grown where the pooled total is used)."""
    groups = pd.Series({g: (now[g] + 1) * float(ratio.get(g, 1.0)) - 1 if use.get(g) and g in ratio else now[g] for g in fc.GROUPS}).clip(lower=0)
    total = float(now.sum())
    if use.get("total") and "total" in ratio:
        total = max(0.0, (total + 1) * float(ratio["total"]) - 1)
    return groups * (total / groups.sum()) if groups.sum() > 0 else groups


def pooled_demand(indicators: pd.DataFrame, last_year: int) -> PooledDemand:
    """The pooled model and its verdict as of ``last_year``: nothing published after it is read."""
    pan = pf.panel(indicators)
    pan = pan[pan.index.get_level_values("year") <= last_year]
    ev = pf.evaluate(pan, range(POOLED_FIRST_ORIGIN, last_year), last_year=last_year)
    return PooledDemand(pan, ev, pf.adoption(ev), last_year)


class PooledOnce:
    """For a paper's ``Data`` holding every LA's published ``indicators`` (and a ``_pooled`` dict): the pooled model
    and its verdict as of a year, made once per loaded data and year (the benchmark builds every LA's pack from one)."""

    indicators: pd.DataFrame | None
    _pooled: dict

    def pooled(self, last_year: int) -> PooledDemand | None:
        if self.indicators is None:
            return None
        if last_year not in self._pooled:
            self._pooled[last_year] = pooled_demand(self.indicators, last_year)
        return self._pooled[last_year]


def pooled_point(pooled: PooledDemand, la_code: str, h: pd.DataFrame, origin: int, years: Sequence[int]) -> pd.DataFrame:
    """(year x groups): the point the pack forecasts, the pooled model's growth where it is used, no change elsewhere;
    beyond three years ahead the third year's point is held."""
    use = pooled.use()
    now = h.loc[origin, list(fc.GROUPS)].astype(float)
    ratios = pooled.ratios(la_code, origin, pf.HORIZONS) if any(use.values()) else pd.DataFrame()
    rows = {}
    for y in years:
        r = (
            ratios.loc[min(y, origin + max(pf.HORIZONS))]
            if y in ratios.index or (len(ratios) and min(y, origin + 3) in ratios.index)
            else pd.Series(dtype=float)
        )
        rows[y] = _apply(now, r, use)
    return pd.DataFrame(rows).T[list(fc.GROUPS)]
