"""Paper 03's across-LA model: spend per child looked after against the placement mix, and the LA's position."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.papers.p03_costs.inputs import MIN_CLA_FOR_PANEL, SPEND_LINES
from analysis.stats import decompose
from analysis.stats.normal import Z95, two_sided_p

# --- across LAs -------------------------------------------------------------------------------------
ACROSS_TERMS = {
    "outside_pct": "Placed outside the LA boundary (per 10 points)",
    "over20_pct": "Placed over 20 miles from home (per 10 points)",
    "homes_pct": "In children's homes or secure units (per 10 points)",
    "private_provision_pct": "Placed with private providers (per 10 points)",
    "home_places_rate": "Children's home places in the LA (per 10 per 10,000 children)",
    "cla_rate": "Children looked after (per 10 per 10,000 children)",
}


def across_la_panel(panel: pd.DataFrame, ro3: pd.DataFrame) -> pd.DataFrame:
    """One row per LA and year with RO3 spend: net spend per child looked after for each service line
    (£), the location, mix, provider and supply measures, and the region."""
    la = panel[panel["geographic_level"] == "local_authority"]
    wide = la.pivot_table(index=["area_code", "year"], columns="measure", values="value", aggfunc="first")
    cla = la[la["measure"] == "cla_rate"].set_index(["area_code", "year"])["numerator"].rename("cla_count")
    region = la.drop_duplicates("area_code").set_index("area_code")["region_code"]
    spend = ro3[ro3["measure"] == "net_current_expenditure"].pivot_table(
        index=["new_la_code", "year"], columns="service_line", values="value_gbp_thousand", aggfunc="sum"
    )
    spend.index = spend.index.set_names(["area_code", "year"])
    out = wide[[c for c in ACROSS_TERMS if c in wide.columns]].join(cla).join(spend[[c for c in SPEND_LINES if c in spend.columns]], how="inner")
    for line in SPEND_LINES:
        out[f"{line}_per_child"] = 1000 * out[line] / out["cla_count"].where(out["cla_count"] > 0)
    out = out.reset_index()
    out["region_code"] = out["area_code"].map(region)
    return out


@dataclass
class AcrossFit:
    line: str
    table: pd.DataFrame  # term, label, estimate (log points), se, pct_change, lower_pct, upper_pct, p
    n_obs: int
    n_las: int
    r2: float
    adj_r2: float
    fitted: pd.DataFrame  # area_code, year, actual, predicted (£), unexplained_pct, residual
    vif: pd.DataFrame
    notes: list[str] = field(default_factory=list)


def fit_across(data: pd.DataFrame, line: str = "cla_total") -> AcrossFit:
    """OLS of log spend per child looked after on the measures (per 10 points), region and year effects;
    standard errors clustered by LA (each LA appears once a year)."""
    import statsmodels.api as sm

    y_col = f"{line}_per_child"
    d = data.dropna(subset=[y_col, *ACROSS_TERMS, "region_code"])
    d = d[(d[y_col] > 0) & (d["cla_count"] >= MIN_CLA_FOR_PANEL)].reset_index(drop=True)
    notes = [
        f"LAs with fewer than {MIN_CLA_FOR_PANEL} children looked after, or a measure suppressed or missing, are left out "
        f"({len(data) - len(d)} of {len(data)} LA-years)"
    ]
    X = d[list(ACROSS_TERMS)] / 10.0
    fe = pd.get_dummies(d[["region_code"]].astype(str), drop_first=True, dtype=float).join(
        pd.get_dummies(d["year"].astype(str), prefix="year", drop_first=True, dtype=float)
    )
    design = sm.add_constant(pd.concat([X, fe], axis=1))
    y = np.log(d[y_col].to_numpy(float))
    fit = sm.OLS(y, design.to_numpy(float)).fit(cov_type="cluster", cov_kwds={"groups": pd.factorize(d["area_code"])[0]})
    k = len(ACROSS_TERMS)
    est, se = np.asarray(fit.params)[1 : k + 1], np.asarray(fit.bse)[1 : k + 1]
    table = pd.DataFrame(
        {
            "term": list(ACROSS_TERMS),
            "label": list(ACROSS_TERMS.values()),
            "estimate": est,
            "se": se,
            "pct_change": 100 * np.expm1(est),
            "lower_pct": 100 * np.expm1(est - Z95 * se),
            "upper_pct": 100 * np.expm1(est + Z95 * se),
            "p": two_sided_p(est / se),
        }
    )
    predicted = np.exp(fit.fittedvalues) * np.mean(np.exp(fit.resid))  # smearing (Duan 1983) back to £
    fitted = pd.DataFrame({"area_code": d["area_code"], "year": d["year"], "actual": d[y_col], "predicted": predicted, "residual": fit.resid})
    fitted["unexplained_pct"] = 100 * (fitted["actual"] / fitted["predicted"] - 1)
    vif = decompose.variance_inflation(X).rename(index=ACROSS_TERMS).rename_axis("term").reset_index(name="vif")
    return AcrossFit(line, table, len(d), d["area_code"].nunique(), float(fit.rsquared), float(fit.rsquared_adj), fitted, vif, notes)


def la_position(fit: AcrossFit, la_code: str, neighbours: list[str], names: dict[str, str]) -> pd.DataFrame:
    """Actual against predicted spend per child for the LA and its neighbours, latest year in the model."""
    f = fit.fitted
    year = int(f.loc[f["area_code"] == la_code, "year"].max()) if (f["area_code"] == la_code).any() else int(f["year"].max())
    rows = f[(f["year"] == year) & f["area_code"].isin([la_code, *neighbours])].copy()
    rows["area"] = [names.get(c, c) for c in rows["area_code"]]
    rows["is_la"] = rows["area_code"] == la_code
    rows = rows.sort_values(["is_la", "unexplained_pct"], ascending=[False, False])
    return pd.DataFrame(
        {
            "area": rows["area"],
            "year": rows["year"],
            "actual_spend_per_child": rows["actual"].round(0),
            "predicted_spend_per_child": rows["predicted"].round(0),
            "unexplained_pct": rows["unexplained_pct"].round(1),
            "is_la": rows["is_la"],
        }
    ).reset_index(drop=True)
