"""The demand model: snapshots and flows from the 903 (or published figures), the Markov projection by
age band and placement group, the simple models (no change, linear trend), the pooled prior, the
combined forecast and its intervals, kept coherent (a part never exceeds the whole)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from analysis.io.placements import estimated_birth_date

GROUPS = ("fostering", "children's home", "supported", "other")
GROUP_OF = {
    "foster": "fostering",
    "kinship foster": "fostering",
    "children's home": "children's home",
    "secure": "children's home",
    "other residential": "children's home",
    "independent or supported": "supported",
}
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
        frames.append(
            pd.DataFrame(
                {
                    "child": on["child"].to_numpy(),
                    "day": day,
                    "age": np.floor(age),
                    "born": b,
                    "group": group_of(on["place_group"]).to_numpy(),
                    "period_start": pstart.reindex(pd.MultiIndex.from_frame(on[["child", "period"]])).to_numpy(),
                }
            )
        )
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
    exits: np.ndarray  # children x B x G   exits (not ageing out)
    moves: np.ndarray  # children x B x G x G  group at t -> group at t+1 (incl. staying)
    entries: np.ndarray  # children x 18 x G  entries by age and group
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
    move: np.ndarray  # B x G x G monthly transition probabilities among those who stay
    entry: np.ndarray  # 18 x G monthly Poisson rates


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
    """A projection of children looked after at 31 March: by placement group, age band and in total,
    each with its mean and 80% and 95% intervals; how it was made (``method``, ``weight`` given to
    the stock-and-flow model against the last value) and, for the 903 model, its rates and monthly path."""

    origin: pd.Timestamp
    years: list[int]  # 31 March of each forecast year
    by_group: pd.DataFrame  # year, group, mean, lower, upper, lower_80, upper_80
    by_band: pd.DataFrame  # year, band, mean, lower, upper, lower_80, upper_80
    total: pd.DataFrame  # year, mean, lower, upper, lower_80, upper_80
    rates: Rates | None
    method: str = ""
    weight: float = 1.0
    monthly: pd.DataFrame | None = None  # month, band, group, mean (the model's expected path; 903 only)
    notes: list[str] = field(default_factory=list)


# --- simple forecasts, the combination and its intervals ------------------------------------------------
#: the forecasts every back-test scores
METHODS = ("Model (combined)", "Stock-and-flow", "Last value", "Linear trend")


def last_value(hist: pd.DataFrame, origin: int, years: list[int]) -> pd.DataFrame:
    """Every column of the annual history (year index) held at its value at the origin."""
    return pd.DataFrame([hist.loc[origin].to_numpy()] * len(years), index=pd.Index(years, name="year"), columns=hist.columns, dtype=float)


def linear_trend(hist: pd.DataFrame, origin: int, years: list[int], fit_years: int) -> pd.DataFrame:
    """A straight line through the ``fit_years + 1`` years to the origin, per column, never below 0."""
    h = hist.loc[origin - fit_years : origin]
    out = {}
    for col in hist.columns:
        slope, icept = np.polyfit(h.index.to_numpy(float), h[col].to_numpy(float), 1)
        out[col] = [max(0.0, slope * y + icept) for y in years]
    return pd.DataFrame(out, index=pd.Index(years, name="year"))


def spread(series: pd.Series, origin: int) -> tuple[float, int]:
    """How much the series moves from one 31 March to the next, up to the origin: the root mean square
    of its yearly log changes (log of count + 1), and how many changes it rests on. A random walk's
    h-year-ahead error has this spread times the square root of h."""
    v = np.log(series.loc[:origin].to_numpy(float) + 1)
    d = np.diff(v)
    d = d[np.isfinite(d)]
    if len(d) == 0:
        return float("nan"), 0
    return float(np.sqrt(np.mean(d**2))), len(d)


#: how many yearly changes the pooled swings of similar LAs count for against an LA's own (its own series has
#: about ten): enough to steady a small LA's spread, not so many that a large LA's own history is ignored
PRIOR_CHANGES = 10
#: how many other LAs' series, nearest in size at the origin, the pooled swings come from
PRIOR_NEIGHBOURS = 30


@dataclass(frozen=True)
class Prior:
    """Year-to-year swings of similar LAs, for one origin: for each column (the groups and ``total``), the
    root mean square of yearly log changes of the :data:`PRIOR_NEIGHBOURS` other LAs' series nearest in size,
    and how many changes it rests on. It never uses a year after the origin."""

    tau: dict[str, float]
    changes: dict[str, int]
    weight: int = PRIOR_CHANGES


def pooled_prior(panel: pd.DataFrame, origin: int, sizes: dict[str, float], *, exclude: str | None = None) -> Prior:
    """The :class:`Prior` for an LA whose series are ``sizes`` (column -> count at the origin). ``panel``: every
    LA's published counts, index (la_code, year), columns the groups and ``total`` (NaN where not published)."""
    past = panel[panel.index.get_level_values("year") <= origin]
    if exclude is not None:
        past = past[past.index.get_level_values("la_code") != exclude]
    logs = np.log(past.astype(float) + 1)
    changes = logs.groupby(level="la_code").diff()
    years = past.index.get_level_values("year")
    prev = pd.Series(years, index=past.index).groupby(level="la_code").shift(1)
    changes = changes[(years - prev.to_numpy()) == 1]  # consecutive years only
    at_origin = past[years == origin].droplevel("year")
    tau, n = {}, {}
    for col, size in sizes.items():
        if col not in past.columns or not np.isfinite(size):
            continue
        known = at_origin[col].dropna()
        if known.empty:
            continue
        nearest = (np.log(known + 1) - np.log(size + 1)).abs().sort_values(kind="mergesort").index[:PRIOR_NEIGHBOURS]
        d = changes.loc[changes.index.get_level_values("la_code").isin(nearest), col].dropna().to_numpy()
        if len(d) >= 2:
            tau[col], n[col] = float(np.sqrt(np.mean(d**2))), int(len(d))
    return Prior(tau, n)


def shrunk_spread(tau: float, n: int, prior: Prior | None, col: str) -> tuple[float, int]:
    """An LA's own spread of yearly log changes (``tau`` from ``n`` changes) pooled with similar LAs':
    ``tau^2 = (n tau_own^2 + k tau_pool^2) / (n + k)`` on ``n + k`` changes, ``k`` = the prior's weight.
    Without a prior (or one for this column) the LA's own spread as it is."""
    if prior is None or col not in prior.tau:
        return tau, n
    k = prior.weight
    if not np.isfinite(tau) or n == 0:
        return prior.tau[col], k
    return float(np.sqrt((n * tau**2 + k * prior.tau[col] ** 2) / (n + k))), n + k


def interval(mean: float, tau: float, n: int, h: int, level: float, sim_sd: float = 0.0) -> tuple[float, float]:
    """A ``level`` prediction interval h years ahead, on the log scale: the spread of past yearly
    changes times the square root of h (with a t quantile, for estimating it from n changes) and the
    model's own simulation spread."""
    if not np.isfinite(tau) or n < 2:
        return float("nan"), float("nan")
    z = float(stats.t.ppf(0.5 + level / 2, n - 1))
    sd = np.sqrt(tau**2 * h + sim_sd**2)
    m = np.log(max(mean, 0.0) + 1)
    return float(max(0.0, np.exp(m - z * sd) - 1)), float(np.exp(m + z * sd) - 1)


WEIGHT_GRID = np.round(np.linspace(0, 1, 11), 2)


def choose_weight(past: pd.DataFrame, default: float = 0.5, min_rows: int = 3) -> float:
    """The weight on the stock-and-flow model (against the last value) that forecast best on earlier
    origins: past has columns ``model``, ``last`` and ``actual`` (totals); the weight on a grid of
    0, 0.1, ..., 1 with the smallest mean squared log error. With fewer than ``min_rows`` past
    forecasts it is ``default`` (half each)."""
    past = past.dropna(subset=["model", "last", "actual"])
    if len(past) < min_rows:
        return default
    a = np.log(past["actual"].to_numpy(float) + 1)
    errs = [np.mean((np.log(w * past["model"].to_numpy(float) + (1 - w) * past["last"].to_numpy(float) + 1) - a) ** 2) for w in WEIGHT_GRID]
    return float(WEIGHT_GRID[int(np.argmin(errs))])


def combine(
    model: pd.DataFrame,
    hist: pd.DataFrame,
    origin: int,
    weight: float,
    *,
    sim_sd: pd.DataFrame | None = None,
    shift: pd.DataFrame | None = None,
    label: str = "group",
    prior: Prior | None = None,
    spread_from: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The combined forecast ``weight x model + (1 - weight) x last value`` for each column of the
    model's annual forecast (year index), plus ``shift`` (a scenario's effect, never below 0), with
    80% and 95% intervals from :func:`interval`: a long table by column and the total (the sum of
    the columns). ``prior``: similar LAs' swings, pooled with the LA's own (:func:`shrunk_spread`).
    ``spread_from``: the series (year index, the columns and optionally ``total``; blank where not measured) the LA's
    own swings are measured on, when not ``hist`` itself."""
    swings = hist if spread_from is None else spread_from
    lv = last_value(hist[model.columns], origin, list(model.index))
    mean = weight * model + (1 - weight) * lv
    if shift is not None:
        mean = (mean + shift[model.columns]).clip(lower=0)
    rows = []
    for col in model.columns:
        tau, n = shrunk_spread(*spread(swings[col], origin), prior, col)
        for k, y in enumerate(model.index, start=1):
            sd = 0.0 if sim_sd is None else weight * float(sim_sd.at[y, col])
            lo, hi = interval(float(mean.at[y, col]), tau, n, k, 0.95, sd)
            lo8, hi8 = interval(float(mean.at[y, col]), tau, n, k, 0.80, sd)
            rows.append({"year": int(y), label: col, "mean": float(mean.at[y, col]), "lower": lo, "upper": hi, "lower_80": lo8, "upper_80": hi8})
    total = swings["total"] if "total" in swings.columns else swings[list(model.columns)].sum(axis=1)
    tau, n = shrunk_spread(*spread(total, origin), prior, "total")
    tot = []
    for k, y in enumerate(model.index, start=1):
        m = float(mean.loc[y].sum())
        sd = 0.0 if sim_sd is None else weight * float(sim_sd.at[y, "total"])
        lo, hi = interval(m, tau, n, k, 0.95, sd)
        lo8, hi8 = interval(m, tau, n, k, 0.80, sd)
        tot.append({"year": int(y), "mean": m, "lower": lo, "upper": hi, "lower_80": lo8, "upper_80": hi8})
    return coherent(pd.DataFrame(rows), pd.DataFrame(tot)), pd.DataFrame(tot)


BOUNDS = ("lower", "upper", "lower_80", "upper_80")


def coherent(parts: pd.DataFrame, total: pd.DataFrame) -> pd.DataFrame:
    """Parts' intervals that never exceed the whole's: each bound of a group (or band) in a year is at most
    the same bound of the total that year (a part can never be larger than the whole). Each part's own
    interval is kept where it is inside; only a bound above the total's is brought down to it."""
    out = parts.copy()
    if out.empty or total.empty:
        return out
    t = total.set_index("year")
    for b in BOUNDS:
        if b in out.columns and b in t.columns:
            cap = out["year"].map(t[b])
            out[b] = np.where(cap.notna(), np.minimum(out[b], cap), out[b])
    if "mean" in out.columns:
        out["mean"] = np.minimum(out["mean"], out["upper"].where(out["upper"].notna(), out["mean"]))
    return out


# --- the 903 model: fit, project, back-test -------------------------------------------------------------
def fit(snap: pd.DataFrame, origin: pd.Timestamp, fit_years: int) -> Flows:
    days = month_ends(origin - pd.DateOffset(years=fit_years), origin)
    return flows(snap[snap["day"].isin(days)], days)


def annual(path: np.ndarray, horizon_years: int) -> np.ndarray:
    """The months x 18 x G path at each 31 March ahead (horizon x 18 x G)."""
    return path[[12 * (k + 1) - 1 for k in range(horizon_years)]]


def markov_mean(snap: pd.DataFrame, origin: pd.Timestamp, fit_years: int, horizon_years: int, scenario=None) -> pd.DataFrame:
    """The stock-and-flow model's expected children by group at each 31 March ahead (year index)."""
    r = _rates_for(rates_from(fit(snap, origin, fit_years)), scenario)
    a = annual(expected_path(stock(snap, origin), r, 12 * horizon_years), horizon_years).sum(axis=1)
    return pd.DataFrame(a, index=pd.Index([origin.year + k + 1 for k in range(horizon_years)], name="year"), columns=list(GROUPS))


def _rates_for(r: Rates, scenario) -> Rates:
    """The rates under a scenario: a function from rates to rates (:func:`analysis.papers.p04_sufficiency.scenarios.rates_function`)."""
    return scenario(r) if scenario else r
