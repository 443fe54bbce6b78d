"""Placement costs (reading, checking, matching) and paper 03's models, against hand-worked cases."""

import numpy as np
import pandas as pd
import pytest
from conftest import write_csv

from analysis.errors import InputError
from analysis.io import costs
from analysis.papers.p03_costs import paper as cd
from analysis.stats import decompose

T = pd.Timestamp


def test_bad_cost_rows_are_set_aside_with_a_reason_and_counts_reconcile(tmp_path):
    write_csv(
        tmp_path / "placement_costs.csv",
        "\ufeffCHILD;PLACEMENT_START;WEEKLY_COST;PROVIDER;FUNDING\n"
        "1;01/04/2023;950.50;PR4;LA\n"
        "2;01/04/2023;-10;PR1;LA\n"
        "3;01/04/2023;0;PR1;\n"
        "4;01/04/2023;120000;PR4;LA\n"
        "5;31/02/2023;500;PR1;LA\n"
        "6;01/04/2023;lots;PR1;LA\n"
        "7;01/04/2023;500;PR9;LA\n"
        "1;01/04/2023;960;PR4;LA\n"
        "8;01/05/2023;£1,250;PR1;joint\n",
    )
    raw = costs.read(tmp_path)
    kept, aside = costs.validate(raw)
    assert len(raw) == 9 and len(kept) + len(aside) == 9
    reasons = dict(zip(aside["row"], aside["reason"]))
    assert reasons[3] == "WEEKLY_COST is zero or negative" and reasons[4] == "WEEKLY_COST is zero or negative"
    assert reasons[5].startswith("WEEKLY_COST is over £75,000")
    assert reasons[6] == "PLACEMENT_START is not a date in DD/MM/YYYY form"
    assert reasons[7] == "WEEKLY_COST is not a number" and reasons[8] == "PROVIDER is not PR0-PR5"
    assert reasons[9] == "a second cost row for the same child and placement start"
    assert set(aside["file"]) == {"placement_costs.csv"} and set(aside["column"]) >= {"WEEKLY_COST", "PLACEMENT_START"}
    assert kept.set_index("CHILD")["weekly_cost"].to_dict() == {"1": 950.5, "8": 1250.0}
    assert kept.set_index("CHILD")["funding"].to_dict() == {"1": "LA", "8": "joint"}


def test_a_cost_file_without_the_cost_column_is_refused_by_name(tmp_path):
    write_csv(tmp_path / "costs.csv", "CHILD,PLACEMENT_START\n1,01/04/2023\n")
    with pytest.raises(InputError, match="costs.csv.*lacks column\\(s\\) WEEKLY_COST"):
        costs.read(tmp_path)


def test_costs_are_matched_to_the_placement_running_on_their_date():
    placements = pd.DataFrame(
        {
            "child": ["a", "a", "b"],
            "period": [1, 1, 1],
            "placement": [1, 2, 1],
            "start": [T("2023-01-01"), T("2023-06-01"), T("2023-03-01")],
            "end": [T("2023-06-01"), pd.NaT, T("2023-04-01")],
        }
    )
    c = pd.DataFrame(
        {
            "child": ["a", "a", "a", "b", "b", "c"],
            "start": [T("2023-01-01"), T("2023-02-01"), T("2023-06-01"), T("2023-05-01"), T("2023-03-01"), T("2023-01-01")],
            "weekly_cost": [100.0, 110, 200, 300, 290, 400],
            "funding": "LA",
            "_file": "f.csv",
            "_row": [2, 3, 4, 5, 6, 7],
        }
    )
    kept, aside = costs.match(c, placements)
    assert kept[["child", "placement", "weekly_cost"]].values.tolist() == [["a", 1, 100.0], ["a", 2, 200.0], ["b", 1, 290.0]]
    why = dict(zip(aside["row"], aside["reason"]))
    assert why == {
        3: "a later cost row for a placement already costed (the cost at the start is used)",
        5: "no placement in the 903 data for this child on this date",
        7: "no placement in the 903 data for this child on this date",
    }


def test_ingest_carries_costs_pseudonymised_and_reconciled(project_903):
    import json

    folder = project_903.processed / "ssda903"
    pc = pd.read_parquet(folder / "placement_costs.parquet")
    report = json.loads((folder / "ingest_report.json").read_text())
    assert report["cost_rows_in"] == report["cost_rows_matched"] + report["cost_rows_set_aside"]
    assert report["cost_rows_matched"] == len(pc) > 1000
    placements = pd.read_parquet(folder / "placements.parquet")
    assert pc["child"].str.fullmatch(r"C[0-9a-f]{16}").all() and pc["child"].isin(set(placements["child"])).all()
    assert not pc.duplicated(["child", "period", "placement"]).any()
    aside = pd.read_parquet(folder / "costs_set_aside.parquet")
    assert list(aside.columns) == costs.SET_ASIDE_COLUMNS and "CHILD" not in aside.columns


# --- decompositions against hand-worked numbers -------------------------------------------------------------
def test_volume_mix_price_adds_up_and_matches_a_hand_calculation():
    # year ending March 2024 and 2025; two cells; each placement runs the whole year (52.18 weeks)
    yr = lambda y: (T(y - 1, 4, 1), T(y, 4, 1))  # noqa: E731
    rows = []
    for y, cell, n, cost in (
        (2024, "foster / own", 3, 500.0),
        (2024, "children's home / external", 1, 5000.0),
        (2025, "foster / own", 3, 550.0),
        (2025, "children's home / external", 2, 5000.0),
    ):
        s, e = yr(y)
        rows += [{"child": f"{cell}-{y}-{i}", "cell": cell, "start": s, "end": e, "weekly_cost": cost} for i in range(n)]
    p = pd.DataFrame(rows)
    summary, cells = cd.volume_mix_price(p, 2024, 2025)
    by_cell = cells.set_index("cell")
    assert by_cell.loc["foster / own", ["children0", "children1"]].tolist() == [3, 3]
    assert by_cell.loc[cd.VMP_TOTAL, ["children0", "children1"]].tolist() == [4, 5], "the total row counts every child"
    # gated as the paper publishes it: the one child in a children's home in 2023-24 is suppressed with its weeks, spend and
    # price, and so (secondary, against the total row) is the other cell of that year; 2024-25's 2 children likewise
    from analysis.report.disclosure import gate

    g = gate(cells, **cd.VMP_DISCLOSURE).frame.set_index("cell")
    assert (g.loc["children's home / external", ["children0", "weeks0", "spend0", "price0"]] == "c").all()
    assert g.loc["foster / own", "children0"] == "c" and g.loc[cd.VMP_TOTAL, "children0"] == "c"
    v = summary.set_index("part")["gbp"]
    w = 366 / 7  # April 2024 to March 2025 is 365 days; April 2023 to March 2024, 366
    w0, w1 = 366 / 7, 365 / 7
    total0, total1 = w0 * (3 * 500 + 5000), w1 * (3 * 550 + 2 * 5000)
    assert v.iloc[0] == pytest.approx(total0) and v.iloc[-1] == pytest.approx(total1)
    assert v.iloc[0] + v.iloc[1] + v.iloc[2] + v.iloc[3] == pytest.approx(v.iloc[-1]), "volume + mix + price = change"
    W0, W1 = 4 * w0, 5 * w1
    p0 = {"f": 500, "h": 5000}
    assert v.iloc[1] == pytest.approx((W1 - W0) * (0.75 * p0["f"] + 0.25 * p0["h"]))
    assert v.iloc[2] == pytest.approx(W1 * ((0.6 - 0.75) * 500 + (0.4 - 0.25) * 5000))
    assert v.iloc[3] == pytest.approx(W1 * 0.6 * 50)
    assert w > 0


def _cost_frame(n=600, seed=2, outside_effect=0.0):
    rng = np.random.default_rng(seed)
    home = rng.random(n) < 0.4
    outside = np.where(home, rng.random(n) < 0.8, rng.random(n) < 0.2)
    cell = np.where(home, "children's home / external", "foster / own")
    log_cost = np.where(home, np.log(5000), np.log(500)) + outside_effect * outside + rng.normal(0, 0.05, n)
    p = pd.DataFrame({"child": [f"c{i}" for i in range(n)], "cell": cell, "weekly_cost": np.exp(log_cost), "outside_la": outside.astype(float)})
    for t in cd.COST_TERMS_LABELS:
        if t != "outside_la":
            p[t] = 0.0
    return p


def test_oaxaca_puts_a_premium_from_placement_type_in_the_explained_part():
    p = _cost_frame()
    ox = cd.oaxaca(p, ["children's home / external"], bootstrap=20).set_index("part")
    share_home_out = (p.loc[p.outside_la == 1, "cell"] != "foster / own").mean()
    share_home_in = (p.loc[p.outside_la == 0, "cell"] != "foster / own").mean()
    expected = (share_home_out - share_home_in) * np.log(10)
    assert ox.at["type and provider", "log_points"] == pytest.approx(expected, abs=0.02)
    assert abs(ox.at["outside the area as such (and distance)", "log_points"]) < 0.02
    parts = ox.drop(index="total gap")["log_points"].sum()
    assert parts == pytest.approx(ox.at["total gap", "log_points"]), "the parts add up to the gap"


def test_oaxaca_finds_a_pure_location_premium_unexplained():
    p = _cost_frame(outside_effect=0.3)
    ox = cd.oaxaca(p, ["children's home / external"], bootstrap=20).set_index("part")
    rest = ox.loc["outside the area as such (and distance)"]
    assert rest["log_points"] == pytest.approx(0.3, abs=0.02) and rest["lower"] < 0.3 < rest["upper"]


def test_oaxaca_without_resampling_gives_the_split_and_no_intervals():
    # `--param bootstrap=0` is documented as "0 to skip": it crashed with KeyError 'total gap'
    p = _cost_frame(outside_effect=0.3)
    ox = cd.oaxaca(p, ["children's home / external"], bootstrap=0).set_index("part")
    with_draws = cd.oaxaca(p, ["children's home / external"], bootstrap=20).set_index("part")
    assert ox["log_points"].tolist() == pytest.approx(with_draws["log_points"].tolist())
    assert ox[["lower", "upper"]].isna().all().all()


def test_unit_cost_scenarios_are_simple_arithmetic():
    p = _cost_frame(n=50).assign(place_group="foster", external=False, start=T("2024-06-01"), end=pd.NaT)
    u = {"cost_inhouse_foster": 600.0, "cost_ifa_foster": 800.0, "cost_inhouse_home": 3000.0, "cost_private_home": 4000.0}
    sc = cd.scenarios(p, None, as_of=T("2025-03-31"), homes_moved=4, foster_shift_points=10, unit_costs=u, bootstrap=0)
    a = sc[sc["scenario"] == "A"].iloc[0]
    assert a["annual_change_gbp"] == pytest.approx(4 * 365.25 / 7 * (3000 - 4000))
    b = sc[sc["scenario"] == "B"].iloc[0]
    weeks = (T("2025-03-31") - T("2024-06-01")).days / 7
    assert b["annual_change_gbp"] == pytest.approx(0.1 * 50 * weeks * (600 - 800))
    sens = cd.sensitivity(4, 5.0, weeks, u)
    assert len(sens) == 8 and (sens["scenario_a_gbp"].max() > a["annual_change_gbp"] > sens["scenario_a_gbp"].min())


# --- across LAs -------------------------------------------------------------------------------------------
def test_across_la_model_recovers_a_known_association():
    rng = np.random.default_rng(4)
    las = [f"E0600{i:04d}" for i in range(120)]
    rows = []
    for i, la in enumerate(las):
        base = {t: rng.uniform(5, 40) for t in cd.ACROSS_TERMS}
        for year in (2023, 2024, 2025):
            x = {t: v + rng.normal(0, 2) for t, v in base.items()}
            spend = 60000 * np.exp(0.02 * x["outside_pct"] + rng.normal(0, 0.05))
            rows.append({"area_code": la, "year": year, **x, "cla_count": 300.0, "cla_total_per_child": spend, "region_code": f"R{i % 5}"})
    fit = cd.fit_across(pd.DataFrame(rows))
    t = fit.table.set_index("term")
    assert t.at["outside_pct", "pct_change"] == pytest.approx(100 * np.expm1(0.2), abs=3)  # per 10 points
    assert t.at["outside_pct", "lower_pct"] < 100 * np.expm1(0.2) < t.at["outside_pct", "upper_pct"]
    assert fit.n_las == 120 and fit.n_obs == 360 and fit.r2 > 0.5
    pos = cd.la_position(fit, las[0], las[1:4], {})
    assert pos["is_la"].iloc[0] and len(pos) == 4


def test_across_la_panel_from_the_published_data(built):
    from analysis.papers.p01_compare import paper as compare

    inputs = compare.Data.load(built[0])
    panel = cd.across_la_panel(compare.load_panel(inputs, built[0]), inputs.ro3)
    assert set(panel["year"]) == {2023, 2024, 2025}
    row = panel[(panel["area_code"] == "E06000004") & (panel["year"] == 2025)].iloc[0]
    ro3 = inputs.ro3
    spend = ro3[
        (ro3["new_la_code"] == "E06000004")
        & (ro3["year"] == 2025)
        & (ro3["service_line"] == "cla_total")
        & (ro3["measure"] == "net_current_expenditure")
    ]["value_gbp_thousand"].sum()
    assert row["cla_total_per_child"] == pytest.approx(1000 * spend / row["cla_count"])
    fit = cd.fit_across(panel)
    assert fit.n_las > 120 and len(fit.table) == len(cd.ACROSS_TERMS)


# --- the planted truth -------------------------------------------------------------------------------
@pytest.mark.slow
def test_planted_cost_effects_are_recovered(project_903):
    data = cd.Data.load(project_903)
    p = cd.costed_placements(data)
    fit = cd.fit_within(p)
    truth = cd.planted_cost_truth(fit, data.truth)
    assert {"outside_la", "age_per_year_over_10", "sdq_per_5_points", "disability_n2"} <= set(truth["effect"])
    assert (truth["effect"].str.startswith("cell: ")).sum() >= 4
    # sixteen or so 95% intervals: one or two missing the planted value is chance (P(more than 2) is about 5%); none
    # may be far off (3.29 standard errors: the 99.9% interval)
    se = (truth["upper"] - truth["lower"]) / (2 * 1.959964)
    assert (~truth["recovered"]).sum() <= 2, truth[~truth["recovered"]].to_string()
    assert ((truth["estimate"] - truth["planted"]).abs() <= 3.29 * se).all(), truth.to_string()


def test_predictions_use_the_cell_even_when_every_row_shares_it():
    p = _cost_frame(n=400)
    fit = cd.fit_within(p)
    homes = p[p["cell"] == "children's home / external"].head(5)
    assert cd.predict(fit, homes).mean() == pytest.approx(5000 * np.exp(0.05**2 / 2), rel=0.05)
    as_foster = homes.assign(cell="foster / own")
    assert cd.predict(fit, as_foster).mean() == pytest.approx(500 * np.exp(0.05**2 / 2), rel=0.05)


def test_without_a_cost_file_the_within_la_part_says_how_to_supply_one(project_903):
    from analysis.papers.p01_compare import paper as compare

    data = cd.Data.load(project_903)
    no_costs = cd.Data(data.placements, data.periods, data.oc2, None, data.report, data.truth)
    inputs = compare.Data.load(project_903)
    u = {k: v for k, (v, _) in cd.EVIDENCE_UNIT_COSTS.items()}
    s = cd.setup(inputs, la_code="E06000004", sn_model=2025, compare_years=[], homes_moved=5, foster_shift_points=10.0, unit_costs=u, bootstrap=0)
    message = cd.within_la(no_costs, s)
    assert isinstance(message, str) and message.startswith("No placement cost file was ingested.")
    assert "data/raw/costs/placement_costs.csv" in message and "analysis ingest" in message


def test_scenario_text_never_writes_a_small_count():
    # papers 03 and 04 said "(2 are in such homes on 31 March 2025)" for a small LA
    p = _cost_frame(n=40).assign(place_group="foster", external=False, start=T("2024-06-01"), end=pd.NaT)
    homes = p.head(2).index
    p.loc[homes, ["place_group", "external", "outside_la"]] = ["children's home", True, 1.0]
    u = {"cost_inhouse_foster": 600.0, "cost_ifa_foster": 800.0, "cost_inhouse_home": 3000.0, "cost_private_home": 4000.0}
    what = cd.scenarios(p, None, as_of=T("2025-03-31"), homes_moved=5, foster_shift_points=10, unit_costs=u, bootstrap=0)["what"]
    a = what.iloc[0]
    assert "children in such homes on 31 March 2025: fewer than 5" in a and "2 are" not in a
    assert "new placements in the year: 40" in what.iloc[1]


def test_variance_inflation_matches_a_hand_regression_and_is_huge_for_a_determined_column():
    import warnings

    rng = np.random.default_rng(3)
    a = rng.normal(size=200)
    X = pd.DataFrame({"a": a, "b": 0.8 * a + rng.normal(scale=0.6, size=200), "c": rng.normal(size=200)})
    vif = decompose.variance_inflation(X)
    for col in X:  # by hand: R^2 of the column on the others and a constant, by least squares
        others = np.column_stack([np.ones(len(X)), X.drop(columns=col).to_numpy()])
        resid = X[col] - others @ np.linalg.lstsq(others, X[col], rcond=None)[0]
        r2 = 1 - (resid**2).sum() / ((X[col] - X[col].mean()) ** 2).sum()
        assert vif[col] == pytest.approx(1 / (1 - r2), rel=1e-9)
    assert vif["b"] > 2 and vif["c"] < 1.2
    with warnings.catch_warnings():  # statsmodels may warn of the singular design
        warnings.simplefilter("ignore")
        assert decompose.variance_inflation(X.assign(d=X["a"] + X["c"]))["d"] > 1e10


def test_papers_03_and_04_price_a_placement_type_from_the_one_unit_cost_file():
    from analysis.io import unit_costs
    from analysis.papers.p04_sufficiency import scenarios

    table = scenarios.unit_cost_table().set_index("type")["weekly"]
    for param, type_ in cd.UNIT_COST_TYPES.items():
        assert cd.check_unit_costs({param: 0.0})[param] == table[type_], param
    assert cd.check_unit_costs({"cost_private_home": 5000.0}) == {"cost_private_home": 5000.0}, "a value the user sets is kept"
    # an LA's own home dearer than a private one is said, with why, not presented as a given
    assert unit_costs.sense_checks({"la_childrens_home": 3993.0, "private_childrens_home": 4715.0}) == []
    said = unit_costs.sense_checks({"la_childrens_home": 6100.0, "private_childrens_home": 4715.0})
    assert len(said) == 1 and "£6,100" in said[0] and "£4,715" in said[0]
    assert unit_costs.uprating(2024) == 1.0 and unit_costs.uprating(2023) == pytest.approx(1.025)


def test_a_type_not_known_from_published_figures_is_not_shown_as_zero():
    """Kinship showed "0 children, £0" in a pack from published figures: not known is never 0 or £0."""
    from analysis.papers.p04_sufficiency import paper as sufficiency
    from analysis.papers.p04_sufficiency import scenarios as scn
    from analysis.stats import forecast as fc

    by_group = pd.DataFrame([{"year": 2026, "group": g, "mean": 10.0, "lower": 5.0, "upper": 15.0} for g in fc.GROUPS])
    f = fc.Forecast(pd.Timestamp(2025, 3, 31), [2026], by_group, pd.DataFrame(), pd.DataFrame(), None)
    shares = pd.DataFrame(0.0, index=list(fc.GROUPS), columns=list(scn.TYPES))
    shares.loc["fostering", ["inhouse_fostering", "ifa_fostering"]] = [0.5, 0.5]
    shares.loc["children's home", ["la_childrens_home", "private_childrens_home"]] = [0.5, 0.5]
    shares.at["supported", "supported"] = 1.0
    shares.at["other", "other"] = 1.0
    t = sufficiency.cost_by_type(f, shares, scn.unit_cost_table(), sufficiency.NOT_SPLIT_IN_PUBLISHED).set_index("placement_type")
    kin = t.loc["Kinship (family and friends) fostering"]
    assert pd.isna(kin["children"]) and pd.isna(kin["annual_cost_gbp"]) and "not known" in kin["cost_basis"]
    assert t.loc["In-house fostering", "children"] == 5
