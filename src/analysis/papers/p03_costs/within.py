"""Paper 03's within-LA analysis (with the LA's own 903): costed placements, the cost model, the
Oaxaca decomposition, volume-mix-price and the scenarios."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.errors import ParameterError
from analysis.io import placements as placements_mod
from analysis.papers.p03_costs.inputs import WEEKS_PER_YEAR, Data, Settings
from analysis.report.disclosure import count_text
from analysis.stats import decompose, planted
from analysis.stats.normal import Z95, two_sided_p

COST_TERMS_LABELS = {
    "outside_la": "Placed outside the LA boundary",
    "over_20_miles": "Placed over 20 miles from home",
    "age_per_year_over_10": "Each year of age over 10 at the start",
    "sdq_per_5_points": "Each 5 points of SDQ score (latest before the start)",
    "sdq_missing": "No SDQ score recorded",
    "disability_n2": "Category of need: disability (N2)",
}
REFERENCE_CELL = "foster / own"
MIN_CELL = 15
EXTERNAL = {"private", "voluntary"}


def costed_placements(data: Data) -> pd.DataFrame:
    """Placements with a weekly cost, with the model's columns: ``cell`` (type group / own or external
    provider), location, distance, exact age over 10, the latest SDQ before the start, disability."""
    if data.costs is None or data.costs.empty:
        return pd.DataFrame()
    p = data.placements.merge(data.costs[["child", "period", "placement", "weekly_cost"]], on=["child", "period", "placement"], how="inner")
    p = p[p["place_group"] != "temporary"].copy()
    p["external"] = p["provider_group"].isin(EXTERNAL)
    p["cell"] = p["place_group"] + " / " + np.where(p["external"], "external", "own")
    p["outside_la"] = (p["pl_location"] == "OUT").astype(float)
    p["over_20_miles"] = (p["pl_distance"] > 20).astype(float)
    # exact age at the start where the birth month is known (whole years would bias the age effect upwards)
    age = p["age_at_start"].astype(float)
    if data.children is not None and "birth_month" in data.children.columns:
        exact = placements_mod.exact_age(p["start"], p["child"].map(data.children.set_index("child")["birth_month"]))
        age = exact.where(exact.notna(), age)
    p["age_per_year_over_10"] = np.maximum(0.0, age - 10)
    # needs: the latest SDQ from a return before the placement's year, never one taken after it started
    p["sdq"] = placements_mod.sdq_before_start(p, data.oc2).astype(float)
    p["sdq_per_5_points"] = ((p["sdq"] - 14) / 5).fillna(0.0)
    p["sdq_missing"] = p["sdq"].isna().astype(float)
    cin = data.periods.set_index(["child", "period"])["cin"]
    p["disability_n2"] = (cin.reindex(pd.MultiIndex.from_frame(p[["child", "period"]])).to_numpy() == "N2").astype(float)
    p = p.dropna(subset=["age_at_start"])
    return p.reset_index(drop=True)


def cells_in_model(p: pd.DataFrame) -> tuple[list[str], list[str]]:
    """Type/provider cells with enough placements to estimate (others pooled as 'other'), and notes."""
    counts = p["cell"].value_counts()
    keep = [c for c in counts.index if counts[c] >= MIN_CELL and c != REFERENCE_CELL]
    pooled = [c for c in counts.index if counts[c] < MIN_CELL and c != REFERENCE_CELL]
    notes = (
        [f"type and provider groups with fewer than {MIN_CELL} costed placements are pooled as 'other': {', '.join(sorted(pooled))}"]
        if pooled
        else []
    )
    return sorted(keep), notes


def cost_design(p: pd.DataFrame, cells: list[str], *, drop_constant: bool = True) -> pd.DataFrame:
    """The model matrix: constant, one column per type/provider cell (in-house fostering is the
    reference), 'other' for pooled cells, and the cost terms. Columns that do not vary are dropped
    for fitting (``drop_constant``), never for prediction."""
    X = pd.DataFrame({"const": 1.0}, index=p.index)
    for c in cells:
        X[f"cell: {c}"] = (p["cell"] == c).astype(float)
    other = ~p["cell"].isin([*cells, REFERENCE_CELL])
    if other.any():
        X["cell: other"] = other.astype(float)
    for t in COST_TERMS_LABELS:
        X[t] = p[t].astype(float)
    if not drop_constant:
        return X
    return X.loc[:, (X != X.iloc[0]).any() | (X.columns == "const")]


@dataclass
class WithinFit:
    table: pd.DataFrame  # term, label, estimate (log), se, pct_change, lower_pct, upper_pct, p
    n: int
    children: int
    params: pd.Series
    cells: list[str]
    notes: list[str]
    dispersion: float


def fit_within(p: pd.DataFrame) -> WithinFit:
    """Gamma GLM with a log link: weekly cost on type/provider cell (against in-house fostering),
    location, distance, age, SDQ and disability; standard errors clustered by child."""
    import statsmodels.api as sm

    cells, notes = cells_in_model(p)
    X = cost_design(p, cells)
    fit = sm.GLM(p["weekly_cost"].to_numpy(float), X.to_numpy(float), family=sm.families.Gamma(sm.families.links.Log())).fit(
        cov_type="cluster", cov_kwds={"groups": pd.factorize(p["child"])[0]}
    )
    params = pd.Series(np.asarray(fit.params), index=X.columns)
    se = pd.Series(np.asarray(fit.bse), index=X.columns)
    terms = [c for c in X.columns if c != "const"]
    est = params[terms].to_numpy()
    sd = se[terms].to_numpy()
    table = pd.DataFrame(
        {
            "term": terms,
            "label": [COST_TERMS_LABELS.get(t, t.replace("cell: ", "") + f" (against {REFERENCE_CELL})") for t in terms],
            "estimate": est,
            "se": sd,
            "pct_change": 100 * np.expm1(est),
            "lower_pct": 100 * np.expm1(est - Z95 * sd),
            "upper_pct": 100 * np.expm1(est + Z95 * sd),
            "p": two_sided_p(est / sd),
            "ratio": np.exp(est),
            "lower_ratio": np.exp(est - Z95 * sd),
            "upper_ratio": np.exp(est + Z95 * sd),
        }
    )
    return WithinFit(table, len(p), p["child"].nunique(), params, cells, notes, float(fit.scale))


def predict(fit: WithinFit, p: pd.DataFrame) -> np.ndarray:
    """Expected weekly cost (£) for placements with the model's columns."""
    X = cost_design(p, fit.cells, drop_constant=False).reindex(columns=fit.params.index, fill_value=0.0)
    if "cell: other" in fit.params.index:
        X["cell: other"] = (~p["cell"].isin([*fit.cells, REFERENCE_CELL])).astype(float)
    return np.exp(X.to_numpy(float) @ fit.params.to_numpy())


def planted_cost_truth(fit: WithinFit, truth: dict) -> pd.DataFrame:
    """Planted cost effects (log scale) beside the estimates: the four effects, and each type/provider
    cell's base cost against in-house fostering."""
    model = truth.get("cost_model", {})
    effects = dict(model.get("effects", {}))
    base = model.get("base_weekly_cost", {})
    if REFERENCE_CELL in base:
        for cell in fit.cells:
            if cell in base:
                effects[f"cell: {cell}"] = float(np.log(base[cell] / base[REFERENCE_CELL]))
    t = fit.table.set_index("term")
    rows = []
    for name, value in effects.items():
        if name in t.index:
            a = planted.assess(value, float(t.at[name, "estimate"]), float(t.at[name, "se"]))
            label = t.at[name, "label"]
        else:  # a planted effect the model left out is reported, not skipped
            why = next(
                (n for n in fit.notes if name in n or COST_TERMS_LABELS.get(name, name).lower() in n.lower()), "the term was dropped from the model"
            )
            a = planted.assess(value, float("nan"), float("nan"), dropped_because=why)
            label = COST_TERMS_LABELS.get(name, name.removeprefix("cell: "))
        rows.append({"effect": name, "label": label, "planted": float(value), **a})
    return pd.DataFrame(rows)


def truth_metrics(table: pd.DataFrame) -> dict:
    return {
        r.effect: {
            "planted": r.planted,
            "estimate": r.estimate,
            "lower_95": r.lower,
            "upper_95": r.upper,
            "interval_width": r.interval_width,
            "power": r.power,
            "inside_95": bool(r.inside_95),
            "recovered": bool(r.recovered),
            "assessment": r.assessment,
            "scale": "log weekly cost",
        }
        for r in table.itertuples()
    }


# --- the out-of-area premium ----------------------------------------------------------------------
OAXACA_GROUPS = {
    "type and provider": lambda c: c.startswith("cell: "),
    "age": lambda c: c == "age_per_year_over_10",
    "needs (SDQ, disability)": lambda c: c in ("sdq_per_5_points", "sdq_missing", "disability_n2"),
}


def oaxaca(p: pd.DataFrame, cells: list[str], *, bootstrap: int = 200, seed: int = 20253) -> pd.DataFrame:
    """Twofold Oaxaca-Blinder split of the gap in mean log weekly cost between placements outside and
    inside the LA, with pooled coefficients from a regression that includes the outside indicator
    (Jann 2008). Parts: what type and provider, age and needs explain; and what remains (the outside
    indicator and distance: "outside the area as such"). 95% intervals by bootstrapping children."""
    rng = np.random.default_rng(seed)
    point = _oaxaca_once(p, cells)
    children = p["child"].unique()
    index = p.groupby("child").indices
    draws = []
    for _ in range(bootstrap):
        pick = rng.choice(children, size=len(children), replace=True)
        rows = np.concatenate([index[c] for c in pick])
        draws.append(_oaxaca_once(p.iloc[rows].reset_index(drop=True), cells))
    draws = pd.DataFrame(draws, columns=list(point))  # bootstrap=0: no draws, so no intervals (NaN), not an error
    out = pd.DataFrame({"part": list(point), "log_points": list(point.values())})
    out["lower"] = [draws[k].quantile(0.025) if len(draws) else np.nan for k in point]
    out["upper"] = [draws[k].quantile(0.975) if len(draws) else np.nan for k in point]
    total = point["total gap"]
    out["share_of_gap_pct"] = 100 * out["log_points"] / total if total else np.nan
    out["pct_premium"] = 100 * np.expm1(out["log_points"])
    return out


def _oaxaca_once(p: pd.DataFrame, cells: list[str]) -> dict[str, float]:
    X = cost_design(p, cells)
    parts = {name: [c for c in X.columns if test(c)] for name, test in OAXACA_GROUPS.items()}
    gap, explained, rest = decompose.twofold_pooled(np.log(p["weekly_cost"].to_numpy(float)), X, p["outside_la"].to_numpy(bool), parts)
    return {"total gap": gap, **explained, "outside the area as such (and distance)": rest}


# --- volume, mix and price -----------------------------------------------------------------------
def placement_weeks(p: pd.DataFrame, year: int) -> pd.DataFrame:
    """Weeks each costed placement ran in the financial year ending 31 March ``year``, and its spend."""
    fy_start, fy_end = pd.Timestamp(year - 1, 4, 1), pd.Timestamp(year, 3, 31) + pd.Timedelta(days=1)
    end = p["end"].fillna(fy_end).clip(upper=fy_end)
    start = p["start"].clip(lower=fy_start)
    weeks = ((end - start).dt.days.clip(lower=0)) / 7
    return p.assign(weeks=weeks, spend=weeks * p["weekly_cost"])[weeks > 0]


def volume_mix_price(p: pd.DataFrame, year0: int, year1: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Change in placement spend between two financial years split into volume (placement-weeks),
    mix (shares of weeks across type/provider cells) and price (cost a week within a cell). Returns
    the summary (adds up exactly) and the cells."""
    a, b = placement_weeks(p, year0), placement_weeks(p, year1)
    ga = a.groupby("cell").agg(children0=("child", "nunique"), weeks0=("weeks", "sum"), spend0=("spend", "sum"))
    gb = b.groupby("cell").agg(children1=("child", "nunique"), weeks1=("weeks", "sum"), spend1=("spend", "sum"))
    g = ga.join(gb, how="outer").fillna(0.0)
    g[["children0", "children1"]] = g[["children0", "children1"]].astype(int)
    g["price0"] = (g["spend0"] / g["weeks0"]).where(g["weeks0"] > 0)
    g["price1"] = (g["spend1"] / g["weeks1"]).where(g["weeks1"] > 0)
    # a cell used in only one year: its price in the other year is taken as the same (no price effect)
    g["price0"] = g["price0"].fillna(g["price1"])
    g["price1"] = g["price1"].fillna(g["price0"])
    W0, W1 = g["weeks0"].sum(), g["weeks1"].sum()
    s0, s1 = g["weeks0"] / W0, g["weeks1"] / W1
    volume = (W1 - W0) * float((s0 * g["price0"]).sum())
    mix = W1 * float(((s1 - s0) * g["price0"]).sum())
    price = W1 * float((s1 * (g["price1"] - g["price0"])).sum())
    total0, total1 = float(g["spend0"].sum()), float(g["spend1"].sum())
    summary = pd.DataFrame(
        {
            "part": [
                f"spend {year0 - 1}-{str(year0)[2:]}",
                "volume (more or fewer placement-weeks)",
                "mix (a different balance of placement types and providers)",
                "price (cost a week within each type and provider)",
                f"spend {year1 - 1}-{str(year1)[2:]}",
            ],
            "gbp": [total0, volume, mix, price, total1],
        }
    )
    cells = g.reset_index().rename(columns={"index": "cell"})
    total = {
        "cell": VMP_TOTAL,
        "children0": a["child"].nunique(),
        "weeks0": W0,
        "spend0": total0,
        "children1": b["child"].nunique(),
        "weeks1": W1,
        "spend1": total1,
        "price0": total0 / W0 if W0 else np.nan,
        "price1": total1 / W1 if W1 else np.nan,
    }
    cells = pd.concat([cells, pd.DataFrame([total])], ignore_index=True)
    return summary, cells[["cell", "children0", "weeks0", "spend0", "price0", "children1", "weeks1", "spend1", "price1"]]


#: the total row of the volume-mix-price cells (children in any cell; so one small cell cannot be found by subtraction)
VMP_TOTAL = "all costed placements"
#: how the cells table is gated: each year's weeks, spend and price go with that year's children
VMP_DISCLOSURE = {
    "counts": ["children0", "children1"],
    "total_row": VMP_TOTAL,
    "label_column": "cell",
    "linked": {"children0": ["weeks0", "spend0", "price0", "price1"], "children1": ["weeks1", "spend1", "price1", "price0"]},
}


# --- scenarios ---------------------------------------------------------------------------------------
def scenarios(
    p: pd.DataFrame,
    fit: WithinFit | None,
    *,
    as_of: pd.Timestamp,
    homes_moved: int,
    foster_shift_points: float,
    unit_costs: dict[str, float],
    bootstrap: int = 200,
    seed: int = 20254,
) -> pd.DataFrame:
    """Annual cost change (£) of two what-ifs, from the LA's own model (with a bootstrap interval) and
    from the unit-cost parameters.

    A. ``homes_moved`` children now in private or voluntary children's homes outside the LA placed
       instead in the LA's own children's homes inside it (for a year).
    B. ``foster_shift_points`` percentage points of a year's new placements moved from independent
       (external) fostering to the LA's own foster carers, for as long as a new foster placement
       lasts in its first year on average.
    """
    rows = []
    current = p[(p["start"] <= as_of) & (p["end"].isna() | (p["end"] > as_of))]
    homes = current[(current["place_group"] == "children's home") & current["external"] & (current["outside_la"] == 1)]
    year_new = p[(p["start"] > as_of - pd.DateOffset(years=1)) & (p["start"] <= as_of)]
    new_foster = year_new[year_new["place_group"] == "foster"]
    first_year_weeks = (
        float(
            np.minimum(
                (p.loc[p["place_group"] == "foster", "end"].fillna(as_of) - p.loc[p["place_group"] == "foster", "start"]).dt.days / 7, WEEKS_PER_YEAR
            ).mean()
        )
        if (p["place_group"] == "foster").any()
        else 0.0
    )
    moved_b = foster_shift_points / 100 * len(year_new)

    def local(fit_: WithinFit, sample: pd.DataFrame) -> tuple[float, float]:
        a = float("nan")
        if len(homes):
            after = homes.assign(cell="children's home / own", outside_la=0.0, over_20_miles=0.0)
            a = homes_moved * WEEKS_PER_YEAR * float(np.mean(predict(fit_, after) - predict(fit_, homes)))
        b = float("nan")
        ref = new_foster if len(new_foster) else sample[sample["place_group"] == "foster"]
        if len(ref):
            ext, own = ref.assign(cell="foster / external"), ref.assign(cell="foster / own")
            b = moved_b * first_year_weeks * float(np.mean(predict(fit_, own) - predict(fit_, ext)))
        return a, b

    if fit is not None:
        a, b_ = local(fit, p)
        rng = np.random.default_rng(seed)
        children = p["child"].unique()
        index = p.groupby("child").indices
        draws = []
        for _ in range(bootstrap):
            pick = rng.choice(children, size=len(children), replace=True)
            sample = p.iloc[np.concatenate([index[c] for c in pick])].reset_index(drop=True)
            try:
                draws.append(local(fit_within(sample), sample))
            except Exception:  # noqa: BLE001 - a resample without some cell: skip it
                continue
        d = np.array(draws) if draws else np.full((1, 2), np.nan)
        for i, (name, value) in enumerate((("A", a), ("B", b_))):
            rows.append(
                {
                    "scenario": name,
                    "basis": "the LA's own costs (model)",
                    "annual_change_gbp": value,
                    "lower_95": float(np.nanquantile(d[:, i], 0.025)) if np.isfinite(d[:, i]).any() else np.nan,
                    "upper_95": float(np.nanquantile(d[:, i], 0.975)) if np.isfinite(d[:, i]).any() else np.nan,
                }
            )
    u = unit_costs
    rows.append(
        {
            "scenario": "A",
            "basis": "unit-cost parameters",
            "annual_change_gbp": homes_moved * WEEKS_PER_YEAR * (u["cost_inhouse_home"] - u["cost_private_home"]),
            "lower_95": np.nan,
            "upper_95": np.nan,
        }
    )
    rows.append(
        {
            "scenario": "B",
            "basis": "unit-cost parameters",
            "annual_change_gbp": moved_b * first_year_weeks * (u["cost_inhouse_foster"] - u["cost_ifa_foster"]),
            "lower_95": np.nan,
            "upper_95": np.nan,
        }
    )
    out = pd.DataFrame(rows)
    out["what"] = out["scenario"].map(
        {
            "A": f"{homes_moved} children moved from private children's homes outside the LA to its own homes inside it "
            f"(children in such homes on {as_of:%d %B %Y}: {count_text(len(homes))})",
            "B": f"{foster_shift_points:g} points of new placements moved from independent to in-house fostering "
            f"(new placements in the year: {count_text(len(year_new))}), for {first_year_weeks:.0f} weeks each",
        }
    )
    return out[["scenario", "what", "basis", "annual_change_gbp", "lower_95", "upper_95"]]


def sensitivity(homes_moved: int, moved_b: float, weeks_b: float, unit_costs: dict[str, float], step: float = 0.2) -> pd.DataFrame:
    """How the unit-cost answers change when each unit cost is 20% lower or higher."""
    rows = []
    for name in unit_costs:
        for f in (1 - step, 1 + step):
            u = dict(unit_costs, **{name: unit_costs[name] * f})
            rows.append(
                {
                    "unit_cost": name.replace("cost_", "").replace("_", " "),
                    "value": round(u[name], 0),
                    "change": f"{f - 1:+.0%}",
                    "scenario_a_gbp": homes_moved * WEEKS_PER_YEAR * (u["cost_inhouse_home"] - u["cost_private_home"]),
                    "scenario_b_gbp": moved_b * weeks_b * (u["cost_inhouse_foster"] - u["cost_ifa_foster"]),
                }
            )
    return pd.DataFrame(rows).round({"scenario_a_gbp": -2, "scenario_b_gbp": -2})


@dataclass
class Within:
    placements: pd.DataFrame
    fit: WithinFit
    oaxaca: pd.DataFrame
    vmp: pd.DataFrame
    vmp_cells: pd.DataFrame
    years: tuple[int, int]
    scenarios: pd.DataFrame
    sensitivity: pd.DataFrame
    truth: pd.DataFrame | None
    coverage: pd.DataFrame
    cost_report: dict


def within_la(data: Data | None, s: Settings) -> Within | str:
    """The within-LA analysis, or a message saying what is missing and how to supply it."""
    how = (
        "Supply a placement cost file as data/raw/costs/placement_costs.csv (columns CHILD, PLACEMENT_START, WEEKLY_COST, "
        "and optionally PROVIDER and FUNDING; see docs/papers/03-costs.md) and run `analysis ingest`."
    )
    if data is None:
        return "There is no 903 data in this project, so the within-LA part cannot run. Put the LA's 903 returns in data/raw/ssda903/. " + how
    if data.report.get("la_code") != s.la_code:
        return (
            f"The 903 data in this project is for {s.names.get(data.report.get('la_code'), data.report.get('la_code'))}, not "
            f"{s.la_name}, so the within-LA part is shown only for that LA."
        )
    if data.costs is None:
        return "No placement cost file was ingested. " + how
    p = costed_placements(data)
    if len(p) < 200 or p["outside_la"].sum() < 30 or (1 - p["outside_la"]).sum() < 30:
        return (
            f"Only {len(p)} placements have a cost ({int(p['outside_la'].sum()) if len(p) else 0} outside the LA): too few to model "
            "costs (at least 200, with 30 inside and 30 outside, are needed). " + how
        )
    fit = fit_within(p)
    ox = oaxaca(p, fit.cells, bootstrap=s.bootstrap)
    cost_years = sorted(set(int(y) for y in _collection_years(p["start"])))
    last_full = int(data.report["collection_years"][-1])
    years = tuple(s.compare_years) if s.compare_years else (last_full - 1, last_full)
    if years[0] < min(cost_years) or years[1] > last_full:
        raise ParameterError(f"parameter 'compare_years' {list(years)} is outside the cost data ({min(cost_years)} to {last_full})")
    vmp, vmp_cells = volume_mix_price(p, *years)
    as_of = pd.Timestamp(last_full, 3, 31)
    sc = scenarios(
        p, fit, as_of=as_of, homes_moved=s.homes_moved, foster_shift_points=s.foster_shift_points, unit_costs=s.unit_costs, bootstrap=s.bootstrap
    )
    year_new = p[(p["start"] > as_of - pd.DateOffset(years=1)) & (p["start"] <= as_of)]
    fp = p[p["place_group"] == "foster"]
    weeks_b = float(np.minimum((fp["end"].fillna(as_of) - fp["start"]).dt.days / 7, WEEKS_PER_YEAR).mean()) if len(fp) else 0.0
    sens = sensitivity(s.homes_moved, s.foster_shift_points / 100 * len(year_new), weeks_b, s.unit_costs)
    truth = planted_cost_truth(fit, data.truth) if data.truth is not None else None
    all_p = data.placements[data.placements["place_group"] != "temporary"]
    coverage = pd.DataFrame(
        {
            "item": ["placements in the 903 data (not temporary)", "placements with a weekly cost", "placements in the cost model"],
            "placements": [len(all_p), len(data.costs), len(p)],
        }
    )
    keys = ("cost_rows_in", "cost_rows_matched", "cost_rows_set_aside", "cost_set_aside_reasons")
    return Within(p, fit, ox, vmp, vmp_cells, years, sc, sens, truth, coverage, {k: data.report.get(k) for k in keys})


def _collection_years(days: pd.Series) -> pd.Series:
    from analysis.io.ssda903_rules import collection_years

    return collection_years(days).dropna().astype(int)


def cost_reconciliation(report: dict) -> pd.DataFrame:
    """Cost rows in = matched + set aside, with the reasons (from the ingest report)."""
    rows = [
        {"step": "cost rows in the file(s)", "rows": report.get("cost_rows_in", 0)},
        {"step": "matched to a placement", "rows": report.get("cost_rows_matched", 0)},
    ]
    rows += [{"step": f"set aside: {reason}", "rows": n} for reason, n in (report.get("cost_set_aside_reasons") or {}).items()]
    return pd.DataFrame(rows)
