"""The demand forecast (paper 04): snapshots, flows and rates on hand-made histories, the projection
against its closed form, scenarios, the back-test, and recovery of the planted entries and exits."""

import numpy as np
import pandas as pd
import pytest

from analysis import forecast as fc

T = pd.Timestamp


def _tiny():
    placements = pd.DataFrame([
        # child, period, start, end, group
        ("a", 1, T("2024-01-10"), T("2024-02-20"), "foster"),            # foster, then a children's home
        ("a", 1, T("2024-02-20"), None, "children's home"),
        ("b", 1, T("2023-12-01"), T("2024-02-10"), "foster"),            # leaves care in February (aged 10)
        ("c", 1, T("2024-02-05"), None, "kinship foster"),               # enters in February
        ("d", 1, T("2023-06-01"), T("2024-02-20"), "independent or supported"),  # turns 18 in February
        ("e", 1, T("2023-01-01"), None, "foster"),                        # short breaks only: never counted
    ], columns=["child", "period", "start", "end", "place_group"])
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


def test_scenarios_change_the_rates_as_described():
    hazard = np.full((fc.B, fc.G), 0.02)
    move = np.tile(np.full((fc.G, fc.G), 1 / fc.G), (fc.B, 1, 1))
    entry = np.ones((18, fc.G))
    r = fc.Rates(hazard, move, entry)
    s = r.scenario(fewer_entries_pct=10, faster_exits_pct=50, shift_pct=20)
    ch, fo = fc.GROUPS.index("children's home"), fc.GROUPS.index("fostering")
    assert s.entry.sum() == pytest.approx(0.9 * entry.sum())
    assert s.entry[:, ch].sum() == pytest.approx(0.9 * 0.8 * 18) and s.entry[:, fo].sum() == pytest.approx(0.9 * 1.2 * 18)
    assert np.allclose(s.exit_hazard, 0.03)
    assert np.allclose(s.move.sum(axis=2), 1), "transition rows still sum to 1"
    assert s.move[0, fo, ch] == pytest.approx(0.8 / fc.G) and s.move[0, ch, ch] == pytest.approx(1 / fc.G)


@pytest.fixture(scope="module")
def synthetic_snap(project_903):
    from analysis import sufficiency

    data = sufficiency.Data.load(project_903)
    days = fc.month_ends(T("2015-04-01"), T("2025-03-31"))
    return data, fc.snapshots(data.placements, data.periods, data.children, days)


def test_the_stock_matches_the_dfe_count_at_31_march(synthetic_snap, project_903):
    data, snap = synthetic_snap
    measures = pd.read_parquet(project_903.processed / "ssda903" / "measures.parquet").set_index("year")["cla_31_march"]
    totals = fc.actual_totals(snap, [2020, 2025]).set_index("year")["total"]
    assert totals.to_dict() == {2020: measures[2020], 2025: measures[2025]}


def test_backtest_scores_the_model_and_two_naive_forecasts(synthetic_snap):
    _, snap = synthetic_snap
    bt = fc.backtest(snap, 2025, holdout_years=2, fit_years=3, bootstrap=20)
    assert set(bt["method"]) == {"Markov model", "Last value", "Linear trend"} and set(bt["year"]) == {2024, 2025}
    recorded = fc.actual_totals(snap, [2023, 2024, 2025]).set_index("year")["total"]
    last = bt[(bt["method"] == "Last value")].set_index("year")
    assert (last["forecast"] == recorded[2023]).all()
    assert last.loc[2025, "abs_pct_error_total"] == pytest.approx(100 * abs(recorded[2023] - recorded[2025]) / recorded[2025], abs=0.05)
    assert (bt["abs_pct_error_total"] < 25).all()


def test_planted_entries_and_exits_are_recovered(synthetic_snap):
    data, snap = synthetic_snap
    flows = fc.annual_flows(snap, data.periods, list(range(2016, 2026)))
    truth = fc.planted_flows(data.truth, [2023, 2024, 2025], flows).set_index("flow")
    starts = data.truth["targets"]["starts"]
    assert truth.at["entries", "planted_per_year"] == pytest.approx(np.mean([round(starts[str(y)]) for y in (2023, 2024, 2025)]))
    assert truth["recovered"].all(), truth.to_string()


def test_processed_903_is_read_once_for_the_papers_and_a_stray_truth_file_is_ignored(project_903, tmp_path):
    import json
    import shutil

    from analysis import ingest903
    from analysis.config import paths as make_paths
    from conftest import make_project

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
