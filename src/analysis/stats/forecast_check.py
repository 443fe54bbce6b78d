"""Checking the forecast: the rolling-origin back-test and its scores, the combination weight it chooses,
and the check against the synthetic data's planted rates."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.stats.forecast_model import (
    BAND_OF_AGE,
    BANDS,
    GROUPS,
    METHODS,
    B,
    Flows,
    G,
    choose_weight,
    combine,
    last_value,
    linear_trend,
    markov_mean,
)
from analysis.stats.rates import poisson_interval


def history(snap: pd.DataFrame, years: list[int]) -> pd.DataFrame:
    """Children at each 31 March by group (year index; groups as columns)."""
    return actual_totals(snap, years).set_index("year")[list(GROUPS)].astype(float)


def backtest_row(origin: int, year: int, years_ahead: int, method: str, forecast: pd.Series, actual: pd.Series, **extra) -> dict:
    """One back-test forecast: its total and each group's, beside what was recorded (the row
    :func:`score` reads)."""
    groups = list(GROUPS)
    return {
        "origin": origin,
        "year": year,
        "years_ahead": years_ahead,
        "method": method,
        "forecast": float(forecast[groups].sum()),
        "actual": float(actual[groups].sum()),
        **{f"forecast_{g}": float(forecast[g]) for g in groups},
        **{f"actual_{g}": float(actual[g]) for g in groups},
        **extra,
    }


def rolling_backtest_of(
    hist: pd.DataFrame,
    model_mean,
    first_origin: int,
    last_year: int,
    fit_years: int,
    horizon_years: int = 3,
    truth: pd.DataFrame | None = None,
    prior_at=None,
    spread_from: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Forecast from every origin (31 March of ``first_origin`` to ``last_year - 1``) up to
    ``horizon_years`` ahead, within the data, and score each of :data:`METHODS` against ``truth``
    (the history itself by default). ``hist``: children at 31 March by group (year index);
    ``model_mean(origin, years)``: the model's forecast by group for those years.

    "Model (combined)" is the forecast the pack uses with the 903: the weight on the model is chosen from the
    origins *before* each one (only forecasts whose years had been recorded by then), so the
    back-test never looks ahead. For it, and for "Last value" (the pack's point from published figures, where the
    pooled model is not used), the rows also hold the 95% interval of the total and whether the 80% and 95% intervals
    held: the same swings around each point. ``prior_at(origin, sizes)``: similar LAs' swings up to that origin (a :class:`Prior`).
    ``spread_from``: the series the LA's own swings are measured on, when not ``hist``
    (:func:`analysis.stats.forecast_model.combine`)."""
    groups = list(GROUPS)
    hist = hist[groups]
    truth = hist if truth is None else truth[groups]
    past: list[dict] = []
    rows = []
    for origin in range(first_origin, last_year):
        ahead = list(range(origin + 1, min(origin + horizon_years, last_year) + 1))
        if not ahead:
            continue
        mk = model_mean(origin, ahead)
        known = pd.DataFrame([p for p in past if p["year"] <= origin])
        w = choose_weight(known) if len(known) else 0.5
        prior = prior_at(origin, sizes_at(hist, origin)) if prior_at else None
        by_g, tot = combine(mk, hist, origin, w, prior=prior, spread_from=spread_from)
        bounds = {
            "Model (combined)": tot.set_index("year"),
            "Last value": combine(mk, hist, origin, 0.0, prior=prior, spread_from=spread_from)[1].set_index("year"),
        }
        forecasts = {
            "Model (combined)": by_g.pivot(index="year", columns="group", values="mean")[groups],
            "Stock-and-flow": mk,
            "Last value": last_value(hist, origin, ahead),
            "Linear trend": linear_trend(hist, origin, ahead, fit_years),
        }
        for k, y in enumerate(ahead, start=1):
            actual = truth.loc[y]
            for name, f in forecasts.items():
                extra = {"weight": w if name == "Model (combined)" else np.nan}
                if name in bounds:
                    lo, hi, lo8, hi8 = (float(bounds[name].at[y, c]) for c in ("lower", "upper", "lower_80", "upper_80"))
                    extra |= {
                        "lower_95": lo,
                        "upper_95": hi,
                        "inside_80": bool(lo8 <= actual.sum() <= hi8),
                        "inside_95": bool(lo <= actual.sum() <= hi),
                    }
                rows.append(backtest_row(origin, y, k, name, f.loc[y], actual, **extra))
            past.append({"year": y, "model": float(mk.loc[y].sum()), "last": float(hist.loc[origin].sum()), "actual": float(hist.loc[y].sum())})
    return pd.DataFrame(rows)


def sizes_at(hist: pd.DataFrame, origin: int) -> dict[str, float]:
    """Each group's count and the total at the origin: the sizes a :class:`Prior` is matched on."""
    row = hist.loc[origin, list(GROUPS)].astype(float)
    return {**row.to_dict(), "total": float(row.sum())}


def weight_from_backtest(bt: pd.DataFrame) -> float:
    """The combination weight for a forecast from the last origin: :func:`choose_weight` on every
    stock-and-flow forecast of the back-test beside the last value's."""
    sf, lv = bt[bt["method"] == "Stock-and-flow"], bt[bt["method"] == "Last value"]
    return choose_weight(pd.DataFrame({"model": sf["forecast"].to_numpy(), "last": lv["forecast"].to_numpy(), "actual": sf["actual"].to_numpy()}))


def rolling_backtest(snap: pd.DataFrame, first_origin: int, last_year: int, fit_years: int, horizon_years: int = 3, prior_at=None) -> pd.DataFrame:
    """:func:`rolling_backtest_of` for the 903 model (the monthly stock-and-flow model from the snapshots)."""
    hist = history(snap, list(range(first_origin - fit_years, last_year + 1)))
    return rolling_backtest_of(
        hist,
        lambda origin, years: markov_mean(snap, pd.Timestamp(origin, 3, 31), fit_years, len(years)),
        first_origin,
        last_year,
        fit_years,
        horizon_years,
        prior_at=prior_at,
    )


def score(bt: pd.DataFrame) -> pd.DataFrame:
    """Mean absolute % error and mean % error (bias) of the total by method and years ahead, the mean
    absolute % error over groups, and interval coverage where the method has intervals."""
    b = bt.assign(
        ape=100 * (bt["forecast"] - bt["actual"]).abs() / bt["actual"].clip(lower=1),
        pe=100 * (bt["forecast"] - bt["actual"]) / bt["actual"].clip(lower=1),
    )
    b["ape_groups"] = np.mean([100 * (b[f"forecast_{g}"] - b[f"actual_{g}"]).abs() / b[f"actual_{g}"].clip(lower=1) for g in GROUPS], axis=0)
    agg = {"forecasts": ("ape", "size"), "mape_total": ("ape", "mean"), "bias_pct": ("pe", "mean"), "mape_groups": ("ape_groups", "mean")}
    if "inside_95" in b:
        agg |= {"coverage_80": ("inside_80", "mean"), "coverage_95": ("inside_95", "mean")}
    out = b.groupby(["method", "years_ahead"]).agg(**agg).reset_index()
    order = {m: i for i, m in enumerate(METHODS)}
    return out.sort_values(["years_ahead", "method"], key=lambda s: s.map(order) if s.name == "method" else s).reset_index(drop=True)


def actual_totals(snap: pd.DataFrame, years: list[int]) -> pd.DataFrame:
    rows = []
    for y in years:
        s = snap[snap["day"] == pd.Timestamp(y, 3, 31)]
        rows.append({"year": y, "total": len(s), **{g: int((s["group"] == g).sum()) for g in GROUPS}})
    return pd.DataFrame(rows)


def annual_flows(snap: pd.DataFrame, periods: pd.DataFrame, years: list[int]) -> pd.DataFrame:
    """Entries (periods of care started, not short breaks only) and children at 31 March by year,
    with exits implied by the stock change (at 31 March: stock[y-1] + entries - stock[y])."""
    per = periods[~periods["short_breaks_only"].astype(bool)]
    rows = []
    for y in years:
        lo, hi = pd.Timestamp(y - 1, 4, 1), pd.Timestamp(y, 3, 31)
        entries = int(((per["start"] >= lo) & (per["start"] <= hi)).sum())
        rows.append({"year": y, "entries": entries, "cla_31_march": int((snap["day"] == hi).sum())})
    out = pd.DataFrame(rows)
    out["exits"] = out["cla_31_march"].shift(1) + out["entries"] - out["cla_31_march"]
    return out


def planted_rates(truth: dict, years: list[int]) -> dict[str, np.ndarray] | None:
    """The synthetic 903's planted monthly flows over the collection years, summed (``truth.json``'s
    ``demand``, counted by the generator from its own records), or None when the truth has none."""
    d = (truth or {}).get("demand", {}).get("by_year", {})
    got = [d[str(y)] for y in years if str(y) in d]
    if not got:
        return None
    return {k: sum(np.asarray(g[k], dtype=float) for g in got) for k in ("months", "exposure", "exits", "moves", "entries")}


def truth_check(f: Flows, planted: dict[str, np.ndarray], years: list[int]) -> pd.DataFrame:
    """The model's estimated monthly rates beside the rates the generator produced, over the same
    collection years: entries a month by age band, the monthly chance of leaving care by age band,
    and the monthly chance of moving out of each placement group. Each estimate has an exact Poisson
    95% interval (its count over its exposure); a rate is **recovered** when the planted rate lies
    inside it."""
    est_exp, est_exits = f.exposure.sum(0), f.exits.sum(0)
    est_moves = f.moves.sum(0)
    est_entries = np.zeros((B, G))
    for a in range(18):
        est_entries[BAND_OF_AGE[a]] += f.entries.sum(0)[a]
    rows = []

    def add(kind: str, what: str, planted_num: float, planted_den: float, num: float, den: float) -> None:
        lo, hi = poisson_interval(np.array([num]), np.array([max(den, 1e-9)]))
        p_rate = planted_num / planted_den if planted_den else float("nan")
        rows.append(
            {
                "rate": kind,
                "who": what,
                "years": f"{years[0]}-{years[-1]}",
                "planted_rate": p_rate,
                "estimated_rate": num / den if den else float("nan"),
                "rate_lower_95": float(lo[0]),
                "rate_upper_95": float(hi[0]),
                "events": int(round(num)),
                "recovered": bool(den > 0 and lo[0] <= p_rate <= hi[0]),
            }
        )

    for b, (name, _, _) in enumerate(BANDS):
        add("entries a month", f"aged {name}", planted["entries"][b].sum(), planted["months"], est_entries[b].sum(), f.months)
    for b, (name, _, _) in enumerate(BANDS):
        add(
            "chance of leaving care in a month",
            f"aged {name}",
            planted["exits"][b].sum(),
            planted["exposure"][b].sum(),
            est_exits[b].sum(),
            est_exp[b].sum(),
        )
    for g, name in enumerate(GROUPS):
        pm = planted["moves"][:, g].sum(0)
        em = est_moves[:, g].sum(0)
        add("chance of moving to another group in a month", f"from {name}", pm.sum() - pm[g], pm.sum(), em.sum() - em[g], em.sum())
    return pd.DataFrame(rows)
