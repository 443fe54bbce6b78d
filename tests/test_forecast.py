"""The demand forecast (paper 04): snapshots, flows and rates on hand-made histories, the projection
against its closed form, scenarios, the back-test, and recovery of the planted entries and exits."""

import numpy as np
import pandas as pd
import pytest

from analysis.stats import forecast as fc
from analysis.stats import forecast_model

T = pd.Timestamp


def _tiny():
    placements = pd.DataFrame(
        [
            # child, period, start, end, group
            ("a", 1, T("2024-01-10"), T("2024-02-20"), "foster"),  # foster, then a children's home
            ("a", 1, T("2024-02-20"), None, "children's home"),
            ("b", 1, T("2023-12-01"), T("2024-02-10"), "foster"),  # leaves care in February (aged 10)
            ("c", 1, T("2024-02-05"), None, "kinship foster"),  # enters in February
            ("d", 1, T("2023-06-01"), T("2024-02-20"), "independent or supported"),  # turns 18 in February
            ("e", 1, T("2023-01-01"), None, "foster"),  # short breaks only: never counted
        ],
        columns=["child", "period", "start", "end", "place_group"],
    )
    periods = placements.groupby(["child", "period"], as_index=False)["start"].min()
    periods["short_breaks_only"] = periods["child"] == "e"
    children = pd.DataFrame({"child": list("abcde"), "birth_month": ["2015-05", "2013-07", "2020-01", "2006-02", "2012-01"]})
    return placements, periods, children


def test_snapshots_and_flows_on_a_hand_made_history():
    placements, periods, children = _tiny()
    days = fc.month_ends(T("2024-01-01"), T("2024-03-31"))
    snap = fc.snapshots(placements, periods, children, days)
    on = snap.groupby("day")["child"].apply(sorted).to_dict()
    assert on[T("2024-01-31")] == ["a", "b", "d"] and on[T("2024-02-29")] == ["a", "c"] and on[T("2024-03-31")] == ["a", "c"]
    a = snap.set_index(["child", "day"])
    assert a.loc[("a", T("2024-01-31")), "group"] == "fostering" and a.loc[("a", T("2024-02-29")), "group"] == "children's home"
    assert a.loc[("d", T("2024-01-31")), "age"] == 17 and a.loc[("c", T("2024-02-29")), "group"] == "fostering"
    f = fc.flows(snap, days)
    assert f.aged_out == 1, "d turned 18 (born February 2006) and left: ageing out, not an exit"
    g = {name: i for i, name in enumerate(fc.GROUPS)}
    band_10_15 = 2
    assert f.exits.sum() == 1 and f.exits.sum(axis=0)[band_10_15, g["fostering"]] == 1  # b, aged 10
    moves = f.moves.sum(axis=0)
    assert moves[1, g["fostering"], g["children's home"]] == 1  # a, aged 8, foster -> children's home
    assert f.entries.sum() == 1 and f.entries.sum(axis=0)[4, g["fostering"]] == 1  # c, aged 4, kinship -> fostering
    r = fc.rates_from(f)
    assert r.exit_hazard[band_10_15, g["fostering"]] == pytest.approx(1 / 1)  # one child-month at risk, one exit
    assert r.entry.sum() == pytest.approx(1 / 2), "one entry over two monthly steps"


def test_the_expected_path_has_the_closed_form_and_simulations_agree():
    hazard = np.full((fc.B, fc.G), 0.02)
    move = np.tile(np.eye(fc.G), (fc.B, 1, 1))
    r = fc.Rates(hazard, move, np.zeros((18, fc.G)))
    n0 = np.zeros((18, fc.G))
    n0[5, 0] = 1000  # 5-year-olds: nobody reaches 18 within the horizon
    path = fc.expected_path(n0, r, 24)
    assert path[-1].sum() == pytest.approx(1000 * 0.98**24)
    assert path[11, 6, 0] > 0, "a year on, some have turned 6"
    rng = np.random.default_rng(0)
    sims = np.array([fc.project(n0, r, 24, rng)[-1].sum() for _ in range(200)])
    assert sims.mean() == pytest.approx(1000 * 0.98**24, rel=0.01)
    # steady state with entries only: stock grows by the entry rate each month
    r2 = fc.Rates(np.zeros((fc.B, fc.G)), move, np.full((18, fc.G), 0.5) * (np.arange(18) < 10)[:, None])
    assert fc.expected_path(np.zeros((18, fc.G)), r2, 12)[-1].sum() == pytest.approx(12 * 0.5 * 10 * fc.G)


def test_the_built_in_scenarios_change_the_rates_as_described():
    from analysis.papers.p04_sufficiency import scenarios as scn

    hazard = np.full((fc.B, fc.G), 0.02)
    move = np.tile(np.full((fc.G, fc.G), 1 / fc.G), (fc.B, 1, 1))
    entry = np.ones((18, fc.G))
    r = fc.Rates(hazard, move, entry)
    fewer, faster, shift = (scn.rates_function(s) for s in scn.from_parameters(10, 50, 20))
    ch, fo = fc.GROUPS.index("children's home"), fc.GROUPS.index("fostering")
    assert fewer(r).entry.sum() == pytest.approx(0.9 * entry.sum())
    assert np.allclose(faster(r).exit_hazard, 0.03)
    s = shift(r)
    assert s.entry[:, ch].sum() == pytest.approx(0.8 * 18) and s.entry[:, fo].sum() == pytest.approx(1.2 * 18)
    assert np.allclose(s.move.sum(axis=2), 1), "transition rows still sum to 1"
    assert s.move[0, fo, ch] == pytest.approx(0.8 / fc.G) and s.move[0, fo, fo] == pytest.approx(1.2 / fc.G)
    assert s.move[0, ch, ch] == pytest.approx(1 / fc.G), "children already in homes are not moved"


@pytest.fixture(scope="module")
def synthetic_snap(project_903):
    from analysis.papers.p04_sufficiency import paper as sufficiency

    data = sufficiency.Data.load(project_903)
    days = fc.month_ends(T("2015-04-01"), T("2025-03-31"))
    return data, fc.snapshots(data.placements, data.periods, data.children, days)


def test_the_stock_matches_the_dfe_count_at_31_march(synthetic_snap, project_903):
    data, snap = synthetic_snap
    measures = pd.read_parquet(project_903.processed / "ssda903" / "measures.parquet").set_index("year")["cla_31_march"]
    totals = fc.actual_totals(snap, [2020, 2025]).set_index("year")["total"]
    assert totals.to_dict() == {2020: measures[2020], 2025: measures[2025]}


def test_rolling_backtest_scores_every_method_and_never_looks_ahead(synthetic_snap):
    _, snap = synthetic_snap
    bt = fc.rolling_backtest(snap, 2020, 2025, fit_years=3, horizon_years=2)
    assert set(bt["method"]) == set(fc.METHODS) and set(bt["origin"]) == {2020, 2021, 2022, 2023, 2024}
    recorded = fc.actual_totals(snap, list(range(2019, 2026))).set_index("year")["total"]
    assert (bt["actual"] == bt["year"].map(recorded)).all()
    last = bt[bt["method"] == "Last value"]
    assert (last["forecast"] == last["origin"].map(recorded)).all()
    comb = bt[bt["method"] == "Model (combined)"].drop_duplicates("origin").set_index("origin")["weight"]
    assert comb[2020] == 0.5, "no earlier forecast has been scored at the first origin: equal weights"
    # the weight at 2023 is the one chosen from the forecasts whose years were recorded by 2023 (origins 2020-2022)
    sf = bt[(bt["method"] == "Stock-and-flow") & (bt["year"] <= 2023)]
    lv = bt[(bt["method"] == "Last value") & (bt["year"] <= 2023)]
    assert comb[2023] == fc.choose_weight(
        pd.DataFrame({"model": sf["forecast"].to_numpy(), "last": lv["forecast"].to_numpy(), "actual": sf["actual"].to_numpy()})
    )
    # the combined forecast is that weighted mean, per group
    c = bt[(bt["method"] == "Model (combined)") & (bt["origin"] == 2023)].set_index("year")
    s = bt[(bt["method"] == "Stock-and-flow") & (bt["origin"] == 2023)].set_index("year")
    w = comb[2023]
    assert c.loc[2024, "forecast"] == pytest.approx(w * s.loc[2024, "forecast"] + (1 - w) * recorded[2023])
    sc = fc.score(bt).set_index(["method", "years_ahead"])
    one = last[last["years_ahead"] == 1]
    assert sc.at[("Last value", 1), "mape_total"] == pytest.approx((100 * (one["forecast"] - one["actual"]).abs() / one["actual"]).mean())
    assert 0 <= sc.at[("Model (combined)", 1), "coverage_95"] <= 1 and np.isnan(sc.at[("Linear trend", 1), "coverage_95"])
    # "no change" (the pack's point from published figures) is scored with the same swings around its own point
    assert 0 <= sc.at[("Last value", 1), "coverage_95"] <= 1
    assert (last["lower_95"] < last["forecast"]).all() and (last["forecast"] < last["upper_95"]).all()
    assert (last["inside_95"] == ((last["lower_95"] <= last["actual"]) & (last["actual"] <= last["upper_95"]))).all()
    lv23 = last[last["origin"] == 2023].set_index("year").loc[c.index]
    width = (np.log1p(c["upper_95"]) - np.log1p(c["lower_95"])).to_numpy()
    assert width == pytest.approx((np.log1p(lv23["upper_95"]) - np.log1p(lv23["lower_95"])).to_numpy())


def test_choose_weight_picks_the_method_that_forecast_better():
    actual = np.array([100.0, 110, 120, 130])
    assert fc.choose_weight(pd.DataFrame({"model": actual, "last": actual - 20, "actual": actual})) == 1.0
    assert fc.choose_weight(pd.DataFrame({"model": actual + 30, "last": actual, "actual": actual})) == 0.0
    # one too high and the other too low by the same amount: the even mix is exact
    assert fc.choose_weight(pd.DataFrame({"model": actual + 10, "last": actual - 10, "actual": actual})) == 0.5
    assert fc.choose_weight(pd.DataFrame({"model": [1.0], "last": [2.0], "actual": [1.0]})) == 0.5, "too few past forecasts: equal weights"


def test_intervals_come_from_the_series_own_yearly_swings():
    from scipy import stats

    series = pd.Series([100.0, 110, 99, 108, 100], index=range(2019, 2024))
    tau, n = fc.spread(series, 2023)
    d = np.diff(np.log(series.to_numpy() + 1))
    assert n == 4 and tau == pytest.approx(np.sqrt(np.mean(d**2)))
    lo, hi = fc.interval(100.0, tau, n, 2, 0.95)
    z = stats.t.ppf(0.975, 3)
    assert hi == pytest.approx(np.exp(np.log(101) + z * tau * np.sqrt(2)) - 1)
    assert lo == pytest.approx(np.exp(np.log(101) - z * tau * np.sqrt(2)) - 1)
    lo80, hi80 = fc.interval(100.0, tau, n, 2, 0.80)
    assert lo < lo80 < 100 < hi80 < hi
    assert fc.interval(100.0, tau, n, 3, 0.95)[1] > hi, "wider further ahead"
    assert np.isnan(fc.interval(100.0, *fc.spread(series.iloc[:2], 2020), 1, 0.95)[0]), "one change is too few to say"


@pytest.fixture(scope="module")
def truth_inputs(synthetic_snap):
    data, snap = synthetic_snap
    years = [2023, 2024, 2025]
    return data, snap, years, fc.planted_rates(data.truth, years)


def test_the_truth_check_recovers_the_generators_rates(truth_inputs):
    data, snap, years, planted = truth_inputs
    t = fc.truth_check(fc.fit(snap, T("2025-03-31"), 3), planted, years)
    assert len(t) == 12 and t["recovered"].all(), t.to_string()
    # the planted numbers are the generator's own counts (truth.json), not the model's
    d = data.truth["demand"]["by_year"]
    entries_0_4 = sum(np.asarray(d[str(y)]["entries"])[0].sum() for y in years) / sum(d[str(y)]["months"] for y in years)
    assert t.iloc[0]["planted_rate"] == pytest.approx(entries_0_4)


def test_the_truth_check_fails_when_a_planted_rate_changes(truth_inputs):
    data, snap, years, planted = truth_inputs
    changed = {k: v.copy() for k, v in planted.items()}
    changed["exits"][3] *= 1.5  # leaving care at 16 and 17: half as likely again as the generator made it
    t = fc.truth_check(fc.fit(snap, T("2025-03-31"), 3), changed, years).set_index(["rate", "who"])
    assert not t.at[("chance of leaving care in a month", "aged 16 and 17"), "recovered"]
    assert t.drop(("chance of leaving care in a month", "aged 16 and 17"))["recovered"].all()


def test_the_truth_check_notices_a_model_that_gets_ages_wrong(truth_inputs):
    data, snap, years, planted = truth_inputs
    wrong = snap.assign(age=(snap["age"] + 3).clip(upper=17))  # every child three years older than recorded
    t = fc.truth_check(fc.fit(wrong, T("2025-03-31"), 3), planted, years)
    assert not t[t["rate"] == "entries a month"]["recovered"].all()
    assert not t[t["rate"] == "chance of leaving care in a month"]["recovered"].all()


def test_processed_903_is_read_once_for_the_papers_and_a_stray_truth_file_is_ignored(project_903, tmp_path):
    import json
    import shutil

    from conftest import make_project

    from analysis.config import paths as make_paths
    from analysis.io import ingest903

    d = ingest903.read_processed(project_903, ("placements", "oc2", "no_such_table"))
    assert d.truth is not None and d.report["la_code"] == "E06000004"
    assert d.tables["no_such_table"] is None and len(d.tables["placements"]) > 1000
    other = make_paths(make_project(tmp_path / "p"))
    assert ingest903.read_processed(other, ("placements",)) is None
    shutil.copytree(project_903.processed / "ssda903", other.processed / "ssda903")
    (other.raw / "ssda903").mkdir(parents=True)
    truth = json.loads((project_903.raw / "ssda903" / "truth.json").read_text()) | {"la_code": "E06000001"}
    (other.raw / "ssda903" / "truth.json").write_text(json.dumps(truth))
    assert ingest903.read_processed(other, ("placements",)).truth is None, "truth for another LA's data is not used"


def test_a_groups_interval_never_exceeds_the_totals():
    """Rutland's case: a small, volatile group beside a steadier total. Before, supported accommodation's upper
    bound (95) stood above the total's (86); a part can never be larger than the whole."""
    years = list(range(2015, 2026))
    hist = pd.DataFrame(
        {"fostering": [20, 21, 20, 22, 21, 20, 22, 21, 20, 21, 21], "supported": [1, 9, 2, 8, 1, 10, 2, 9, 1, 8, 3]},
        index=pd.Index(years, name="year"),
    ).astype(float)
    model = pd.DataFrame({"fostering": [21.0, 21.0, 21.0], "supported": [4.0, 4.0, 4.0]}, index=pd.Index([2026, 2027, 2028], name="year"))
    by_g, tot = fc.combine(model, hist, 2025, 0.5)
    t = tot.set_index("year")
    for b in fc.BOUNDS:
        assert (by_g[b].to_numpy() <= by_g["year"].map(t[b]).to_numpy() + 1e-9).all(), b
    # the cap binds in this case (the group's own swings alone would put its upper bound above the total's)
    tau, n = fc.spread(hist["supported"], 2025)
    own_upper = fc.interval(float(by_g.loc[by_g["group"] == "supported", "mean"].iloc[-1]), tau, n, 3, 0.95)[1]
    assert own_upper > t.at[2028, "upper"]


def _panel() -> pd.DataFrame:
    """Three LAs' published totals and groups: two steady ones of about 30 children, one large volatile one."""
    rows = []
    for la, base, swing in (("A", 30, 1), ("B", 32, 2), ("C", 900, 120)):
        for i, y in enumerate(range(2015, 2026)):
            v = base + (swing if i % 2 else -swing)
            rows.append({"la_code": la, "year": y, **{g: v / 4 for g in fc.GROUPS}, "total": float(v)})
    return pd.DataFrame(rows).set_index(["la_code", "year"])


def test_pooled_swings_come_from_similar_las_and_never_from_after_the_origin(monkeypatch):
    monkeypatch.setattr(forecast_model, "PRIOR_NEIGHBOURS", 2)
    panel = _panel()
    prior = fc.pooled_prior(panel, 2023, {"total": 30.0}, exclude="A")
    # the two LAs nearest 30 children, A left out: B and the large C; B's swings are log(35/31)
    assert prior.changes["total"] == 2 * 8  # 2016-2023: eight yearly changes each
    later = panel.copy()
    later.loc[("B", 2025), "total"] = 500.0
    assert fc.pooled_prior(later, 2023, {"total": 30.0}, exclude="A").tau == prior.tau, "a year after the origin is never used"
    monkeypatch.setattr(forecast_model, "PRIOR_NEIGHBOURS", 1)
    only_b = fc.pooled_prior(panel, 2023, {"total": 30.0}, exclude="A")
    assert only_b.tau["total"] == pytest.approx(np.log(35 / 31), rel=1e-9)


def test_an_las_own_spread_is_pooled_with_similar_las_by_the_stated_weights():
    prior = fc.Prior({"total": 0.1}, {"total": 200}, weight=10)
    tau, n = fc.shrunk_spread(0.3, 10, prior, "total")
    assert tau == pytest.approx(np.sqrt((10 * 0.09 + 10 * 0.01) / 20)) and n == 20
    assert fc.shrunk_spread(0.3, 10, None, "total") == (0.3, 10)
    assert fc.shrunk_spread(0.3, 10, prior, "fostering") == (0.3, 10), "no prior for that column: the LA's own"
    assert fc.shrunk_spread(float("nan"), 0, prior, "total") == (0.1, 10)
    # a small LA's 95% interval five years ahead narrows when its own swings are wider than similar LAs'
    own = fc.interval(30.0, 0.2055, 9, 5, 0.95)
    pooled = fc.interval(30.0, *fc.shrunk_spread(0.2055, 9, prior, "total"), 5, 0.95)
    assert pooled[1] - pooled[0] < own[1] - own[0]


def test_the_published_panel_holds_the_counts_as_published(built):
    from analysis.io.ingest import read_table
    from analysis.stats import published_forecast as fp

    li = read_table(built[0], "la_indicators")
    panel = fp.published_panel(li)
    raw = li[(li["area_code"] == "E06000017") & (li["indicator"] == "cla_31_march") & (li["measure"] == "number")]
    for y, v in zip(raw["year"], raw["value"]):
        got = panel.at[("E06000017", int(y)), "total"]
        assert (np.isnan(got) and pd.isna(v)) or got == v


def _categories_panel() -> pd.DataFrame:
    """Three LAs' published counts: each group jumps between 2017 and 2020 (the DfE's categories changed, 2018-2019 not
    published), then moves steadily; the total is published every year."""
    rows = []
    for la, k in (("A", 1.0), ("B", 1.1), ("C", 1.2)):
        for y in range(2015, 2026):
            if y in (2018, 2019):
                rows.append({"la_code": la, "year": y, **dict.fromkeys(fc.GROUPS, np.nan), "total": 100 * k})
                continue
            old = y < 2020
            g = {
                "fostering": 60 * k,
                "children's home": (4 if old else 10) * k,
                "supported": (1 if old else 12) * k,
                "other": (35 if old else 18) * k,
            }
            if not old:
                g = {c: v * (1.05 if y % 2 else 1.0) for c, v in g.items()}  # a 5% swing every other year from 2020
            rows.append({"la_code": la, "year": y, **g, "total": 100 * k})
    return pd.DataFrame(rows).set_index(["la_code", "year"])


def test_a_groups_swings_are_measured_in_todays_categories_on_the_years_published():
    from analysis.stats import published_forecast as fp

    panel = _categories_panel()
    own = fp.own_published(panel, "A")
    assert list(own.index) == list(range(2015, 2026)), "every year, so a change is never taken across a gap"
    assert own.loc[:2019, list(fc.GROUPS)].isna().all().all() and own["total"].notna().all()
    assert fp.own_published(panel, "Z") is None and fp.own_published(None, "A") is None
    # A's supported: 12 -> 12.6 -> 12 ... from 2020; before, 1 (another category): only the 5% swings count
    tau, n = fc.spread(own["supported"], 2025)
    assert n == 5 and tau == pytest.approx(np.sqrt(np.mean(np.diff(np.log(own.loc[2020:2025, "supported"].to_numpy() + 1)) ** 2)))
    # similar LAs' swings: the same, from B and C, nothing before 2020
    prior = fp.prior_function(panel, "A")(2025, {"supported": 12.0})
    assert prior.changes["supported"] == 2 * 5
    # the pack's filled-in history (2018-2019 interpolated across the break) would call the group far more volatile
    filled = panel.xs("A", level="la_code")[list(fc.GROUPS)].interpolate()
    assert fc.spread(filled["supported"], 2025)[0] > 3 * tau


def test_a_group_with_no_change_measured_in_todays_categories_has_no_interval():
    from analysis.stats import published_forecast as fp

    panel = _categories_panel()
    h = panel.xs("A", level="la_code")[list(fc.GROUPS)].interpolate()
    for band in fc.BANDS:
        h[f"band: {band[0]}"] = 25.0
    h["starts"], h["ceased"] = 30.0, 30.0
    own = fp.own_published(panel, "A")
    prior_at = fp.prior_function(panel, "A")
    point = pd.DataFrame({y: h.loc[2020, list(fc.GROUPS)] for y in (2021, 2022)}).T
    at_2020 = fp.project(h.loc[:2020], 2020, 3, 2, weight=1.0, prior=prior_at(2020, fc.sizes_at(h, 2020)), point=point, published=own)
    assert at_2020.by_group[["lower", "upper"]].isna().all().all(), "no yearly change in today's categories by 2020"
    assert at_2020.total[["lower", "upper"]].notna().all().all(), "the total is published every year"
    point = pd.DataFrame({y: h.loc[2022, list(fc.GROUPS)] for y in (2023, 2024)}).T
    at_2022 = fp.project(h.loc[:2022], 2022, 3, 2, weight=1.0, prior=prior_at(2022, fc.sizes_at(h, 2022)), point=point, published=own)
    assert at_2022.by_group[["lower", "upper"]].notna().all().all()
    sup = at_2022.by_group[(at_2022.by_group["group"] == "supported") & (at_2022.by_group["year"] == 2023)].iloc[0]
    assert sup["lower"] < sup["mean"] < sup["upper"] < 1.5 * sup["mean"], "5% swings give a narrow interval, not the 2017-2020 jump"
