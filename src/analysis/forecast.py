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

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .placements import estimated_birth_date

GROUPS = ("fostering", "children's home", "supported", "other")
GROUP_OF = {"foster": "fostering", "kinship foster": "fostering", "children's home": "children's home", "secure": "children's home",
            "other residential": "children's home", "independent or supported": "supported"}
AGES = np.arange(18)
BANDS = (("0 to 4", 0, 5), ("5 to 9", 5, 10), ("10 to 15", 10, 16), ("16 and 17", 16, 18))
BAND_OF_AGE = np.array([next(i for i, (_, lo, hi) in enumerate(BANDS) if lo <= a < hi) for a in AGES])
G = len(GROUPS)
B = len(BANDS)


def group_of(place_group: pd.Series) -> pd.Series:
    return place_group.map(GROUP_OF).fillna("other")


def month_ends(start: pd.Timestamp, end: pd.Timestamp) -> list[pd.Timestamp]:
    """Month ends from the end of ``start``'s month to ``end`` (inclusive)."""
    return list(pd.date_range(start, end, freq="ME"))


def snapshots(placements: pd.DataFrame, periods: pd.DataFrame, children: pd.DataFrame, days: list[pd.Timestamp]) -> pd.DataFrame:
    """One row per child in care (not on short breaks only) at each day: child, day, age (whole
    years, from the birth month taken as mid-month), group, and the start of the period of care."""
    short = periods.loc[periods["short_breaks_only"].astype(bool), ["child", "period"]]
    p = placements.merge(short.assign(_short=True), on=["child", "period"], how="left")
    p = p[p["_short"].isna()]
    p = p[p["place_group"] != "temporary"]
    pstart = periods.set_index(["child", "period"])["start"]
    born = estimated_birth_date(children.set_index("child")["birth_month"])
    frames = []
    for day in days:
        on = p[(p["start"] <= day) & (p["end"].isna() | (p["end"] > day))]
        on = on.sort_values("start").drop_duplicates("child", keep="last")
        b = born.reindex(on["child"]).to_numpy()
        age = ((day - pd.to_datetime(b)).days / 365.25).to_numpy()
        frames.append(pd.DataFrame({"child": on["child"].to_numpy(), "day": day, "age": np.floor(age), "born": b,
                                    "group": group_of(on["place_group"]).to_numpy(),
                                    "period_start": pstart.reindex(pd.MultiIndex.from_frame(on[["child", "period"]])).to_numpy()}))
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["child", "day", "age", "born", "group", "period_start"])
    # the birth month gives age to within a month: a child shown as 18 while still looked after is counted as 17
    out["age"] = out["age"].fillna(0).clip(0, 17).astype(int)
    return out


def stock(snap: pd.DataFrame, day: pd.Timestamp) -> np.ndarray:
    """The 18 x G stock on a day."""
    s = snap[snap["day"] == day]
    n = np.zeros((18, G))
    np.add.at(n, (s["age"].to_numpy(int), s["group"].map({g: i for i, g in enumerate(GROUPS)}).to_numpy(int)), 1)
    return n


@dataclass
class Flows:
    """Per-child counts over a fitting window, so that children can be resampled cheaply."""

    children: np.ndarray
    exposure: np.ndarray  # children x B x G   child-months at risk of exit / move
    exits: np.ndarray     # children x B x G   exits (not ageing out)
    moves: np.ndarray     # children x B x G x G  group at t -> group at t+1 (incl. staying)
    entries: np.ndarray   # children x 18 x G  entries by age and group
    months: int
    aged_out: int


def flows(snap: pd.DataFrame, days: list[pd.Timestamp]) -> Flows:
    """Count each child's exposure, exits, moves and entries between consecutive month ends."""
    gi = {g: i for i, g in enumerate(GROUPS)}
    kids = np.array(sorted(snap["child"].unique()))
    ci = {c: i for i, c in enumerate(kids)}
    n = len(kids)
    exposure, exits = np.zeros((n, B, G)), np.zeros((n, B, G))
    moves, entries = np.zeros((n, B, G, G)), np.zeros((n, 18, G))
    by_day = {d: s.set_index("child") for d, s in snap.groupby("day")}
    aged_out = 0
    for d0, d1 in zip(days[:-1], days[1:]):
        s0, s1 = by_day.get(d0), by_day.get(d1)
        if s0 is None or s1 is None:
            continue
        idx = np.array([ci[c] for c in s0.index])
        band = BAND_OF_AGE[s0["age"].to_numpy(int)]
        g0 = s0["group"].map(gi).to_numpy(int)
        stayed = s0.index.isin(s1.index)
        # leaving at 18: 17-year-olds whose 18th birthday fell in the month are ageing out, not exits
        turned_18 = ~stayed & (pd.to_datetime(s0["born"]) + pd.DateOffset(years=18) <= d1).to_numpy()
        aged_out += int(turned_18.sum())
        risk = ~turned_18
        np.add.at(exposure, (idx[risk], band[risk], g0[risk]), 1)
        ex = ~stayed & risk
        np.add.at(exits, (idx[ex], band[ex], g0[ex]), 1)
        g1 = s1["group"].reindex(s0.index[stayed]).map(gi).to_numpy(int)
        np.add.at(moves, (idx[stayed], band[stayed], g0[stayed], g1), 1)
        new = s1[~s1.index.isin(s0.index) & (s1["period_start"] > d0) & (s1["period_start"] <= d1)]
        if len(new):
            np.add.at(entries, (np.array([ci[c] for c in new.index]), new["age"].to_numpy(int), new["group"].map(gi).to_numpy(int)), 1)
    return Flows(kids, exposure, exits, moves, entries, max(1, len(days) - 1), aged_out)


@dataclass
class Rates:
    exit_hazard: np.ndarray  # B x G monthly probability of leaving care
    move: np.ndarray         # B x G x G monthly transition probabilities among those who stay
    entry: np.ndarray        # 18 x G monthly Poisson rates

    def scenario(self, *, fewer_entries_pct: float = 0.0, faster_exits_pct: float = 0.0, shift_pct: float = 0.0) -> Rates:
        """Scenario rates: entries scaled down, exit hazards scaled up, and a share of the entries and
        moves into children's homes sent to fostering instead."""
        ch, fo = GROUPS.index("children's home"), GROUPS.index("fostering")
        entry = self.entry * (1 - fewer_entries_pct / 100)
        entry = entry.copy()
        shifted = entry[:, ch] * shift_pct / 100
        entry[:, ch] -= shifted
        entry[:, fo] += shifted
        move = self.move.copy()
        for g in range(G):
            if g == ch:
                continue
            moved = move[:, g, ch] * shift_pct / 100
            move[:, g, ch] -= moved
            move[:, g, fo] += moved
        hazard = np.clip(self.exit_hazard * (1 + faster_exits_pct / 100), 0, 1)
        return Rates(hazard, move, entry)


def rates_from(f: Flows, weights: np.ndarray | None = None) -> Rates:
    """Monthly rates from (optionally weighted, i.e. resampled) per-child counts. Cells with no
    exposure borrow the rate of the same group across all ages."""
    w = np.ones(len(f.children)) if weights is None else weights
    exposure = np.tensordot(w, f.exposure, axes=1)
    exits = np.tensordot(w, f.exits, axes=1)
    moves = np.tensordot(w, f.moves, axes=1)
    entries = np.tensordot(w, f.entries, axes=1)
    pooled_h = exits.sum(0) / np.maximum(exposure.sum(0), 1)
    hazard = np.where(exposure > 0, exits / np.maximum(exposure, 1), pooled_h[None, :])
    rows = moves.sum(axis=2, keepdims=True)
    pooled_m = moves.sum(0) / np.maximum(moves.sum(0).sum(1, keepdims=True), 1)
    move = np.where(rows > 0, moves / np.maximum(rows, 1), pooled_m[None, :, :])
    for b in range(B):  # a group never seen at all: stay put
        for g in range(G):
            if move[b, g].sum() == 0:
                move[b, g, g] = 1.0
    return Rates(hazard, move, entries / f.months)


def project(n0: np.ndarray, r: Rates, months: int, rng: np.random.Generator) -> np.ndarray:
    """One stochastic path: the 18 x G stock at each month end (months x 18 x G)."""
    n = n0.astype(np.int64).copy()
    out = np.zeros((months, 18, G))
    hazard_by_age = r.exit_hazard[BAND_OF_AGE]  # 18 x G
    move_by_age = r.move[BAND_OF_AGE]  # 18 x G x G
    for m in range(months):
        stay = n - rng.binomial(n, hazard_by_age)
        moved = np.zeros_like(n)
        for a in range(18):
            for g in range(G):
                if stay[a, g]:
                    moved[a] += rng.multinomial(stay[a, g], move_by_age[a, g])
        older = rng.binomial(moved, 1 / 12)
        n = moved - older
        n[1:] += older[:-1]  # 17-year-olds who age reach 18 and leave
        n += rng.poisson(r.entry)
        out[m] = n
    return out


def expected_path(n0: np.ndarray, r: Rates, months: int) -> np.ndarray:
    """The mean path (same recursion with expected values)."""
    n = n0.astype(float).copy()
    out = np.zeros((months, 18, G))
    hazard_by_age, move_by_age = r.exit_hazard[BAND_OF_AGE], r.move[BAND_OF_AGE]
    for m in range(months):
        stay = n * (1 - hazard_by_age)
        moved = np.einsum("ag,agh->ah", stay, move_by_age)
        older = moved / 12
        n = moved - older
        n[1:] += older[:-1]
        n += r.entry
        out[m] = n
    return out


@dataclass
class Forecast:
    origin: pd.Timestamp
    years: list[int]  # 31 March of each forecast year
    by_group: pd.DataFrame  # year, group, mean, lower, upper (children at 31 March)
    by_band: pd.DataFrame
    total: pd.DataFrame  # year, mean, lower, upper
    rates: Rates
    notes: list[str] = field(default_factory=list)


def fit_and_project(snap: pd.DataFrame, origin: pd.Timestamp, fit_years: int, horizon_years: int, *, bootstrap: int = 200,
                    seed: int = 20261, scenario: dict | None = None) -> Forecast:
    """Fit on the ``fit_years`` before ``origin`` and project ``horizon_years`` of 31 Marches after it."""
    days = month_ends(origin - pd.DateOffset(years=fit_years), origin)
    f = flows(snap[snap["day"].isin(days)], days)
    base = rates_from(f)
    n0 = stock(snap, origin)
    months = 12 * horizon_years
    rng = np.random.default_rng(seed)
    paths = []
    sims = max(1, bootstrap)
    for _ in range(sims):
        w = rng.multinomial(len(f.children), np.full(len(f.children), 1 / len(f.children))).astype(float) if bootstrap else None
        r = rates_from(f, w)
        if scenario:
            r = r.scenario(**scenario)
        paths.append(project(n0, r, months, rng))
    paths = np.array(paths)  # sims x months x 18 x G
    at = [12 * (k + 1) - 1 for k in range(horizon_years)]
    years = [origin.year + k + 1 for k in range(horizon_years)]
    rows_g, rows_b, rows_t = [], [], []
    for y, m in zip(years, at):
        grp = paths[:, m].sum(axis=1)  # sims x G
        for gi, g in enumerate(GROUPS):
            rows_g.append({"year": y, "group": g, **_summary(grp[:, gi])})
        for bi, (name, lo, hi) in enumerate(BANDS):
            rows_b.append({"year": y, "band": name, **_summary(paths[:, m, lo:hi].sum(axis=(1, 2)))})
        rows_t.append({"year": y, **_summary(paths[:, m].sum(axis=(1, 2)))})
    rates = base.scenario(**scenario) if scenario else base
    return Forecast(origin, years, pd.DataFrame(rows_g), pd.DataFrame(rows_b), pd.DataFrame(rows_t), rates)


def _summary(x: np.ndarray) -> dict[str, float]:
    return {"mean": float(np.mean(x)), "lower": float(np.quantile(x, 0.025)), "upper": float(np.quantile(x, 0.975))}


def actual_totals(snap: pd.DataFrame, years: list[int]) -> pd.DataFrame:
    rows = []
    for y in years:
        s = snap[snap["day"] == pd.Timestamp(y, 3, 31)]
        rows.append({"year": y, "total": len(s), **{g: int((s["group"] == g).sum()) for g in GROUPS}})
    return pd.DataFrame(rows)


def backtest(snap: pd.DataFrame, last_year: int, *, holdout_years: int = 2, fit_years: int = 3, bootstrap: int = 50,
             seed: int = 20262) -> pd.DataFrame:
    """Forecast the held-out years from an earlier origin and score it, and two naive forecasts,
    against what happened: absolute % error of the total, and mean absolute % error over groups."""
    origin = pd.Timestamp(last_year - holdout_years, 3, 31)
    fc = fit_and_project(snap, origin, fit_years, holdout_years, bootstrap=bootstrap, seed=seed)
    history = actual_totals(snap, list(range(origin.year - fit_years, origin.year + 1)))
    actual = actual_totals(snap, fc.years).set_index("year")
    rows = []
    for k, y in enumerate(fc.years, start=1):
        truth = actual.loc[y]
        model = {g: float(fc.by_group[(fc.by_group["year"] == y) & (fc.by_group["group"] == g)]["mean"].iloc[0]) for g in GROUPS}
        last = history.iloc[-1]
        naive_last = {g: float(last[g]) for g in GROUPS}
        trend = {}
        for g in GROUPS:
            slope, icept = np.polyfit(history["year"], history[g].astype(float), 1)
            trend[g] = max(0.0, slope * y + icept)
        for name, pred in (("Markov model", model), ("Last value", naive_last), ("Linear trend", trend)):
            tot = sum(pred.values())
            rows.append({"year": y, "years_ahead": k, "method": name, "forecast": round(tot, 1), "actual": int(truth["total"]),
                         "abs_pct_error_total": round(100 * abs(tot - truth["total"]) / max(truth["total"], 1), 1),
                         "mape_groups": round(float(np.mean([100 * abs(pred[g] - truth[g]) / max(truth[g], 1) for g in GROUPS])), 1),
                         "inside_interval": ("yes" if fc.total.set_index("year").loc[y, "lower"] <= truth["total"] <= fc.total.set_index("year").loc[y, "upper"]
                                             else "no") if name == "Markov model" else "z"})
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


def planted_flows(truth: dict, years: list[int], observed: pd.DataFrame) -> pd.DataFrame:
    """The synthetic data's planted yearly entries (its starts) and exits (implied by its planted
    31 March counts), beside the model's annual rates over the same years with exact Poisson 95% intervals."""
    from .breakdown import poisson_interval

    t = truth.get("targets", {})
    starts = {int(k): round(v) for k, v in t.get("starts", {}).items()}
    cla = {int(k): round(v) for k, v in t.get("cla_31_march", {}).items()}
    obs = observed.set_index("year")
    rows = []
    for name, planted in (("entries", [starts.get(y) for y in years]),
                          ("exits", [cla.get(y - 1, np.nan) + starts.get(y, np.nan) - cla.get(y, np.nan) for y in years])):
        planted_rate = float(np.mean(planted))
        total = float(obs.loc[years, name].sum())
        lo, hi = poisson_interval(np.array([total]), np.array([float(len(years))]))
        est = total / len(years)
        rows.append({"flow": name, "years": f"{years[0]}-{years[-1]}", "planted_per_year": planted_rate, "estimated_per_year": est,
                     "lower_95": float(lo[0]), "upper_95": float(hi[0]), "recovered": bool(lo[0] <= planted_rate <= hi[0])})
    return pd.DataFrame(rows)
