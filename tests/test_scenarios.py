"""Scenario levers and placement costs (paper 04): a YAML file's per-transition adjustments change the
rates, the projection and the costs as worked out by hand; bad files get one clear error; the
published-data model's projection and its reading of the levers, by hand."""

import numpy as np
import pandas as pd
import pytest

from analysis.papers.p04_sufficiency import scenarios as scn
from analysis.papers.params import ParameterError
from analysis.stats import forecast as fc
from analysis.stats import published_forecast as fp

CH, FO, SU, OT = (fc.GROUPS.index(g) for g in ("children's home", "fostering", "supported", "other"))

YAML = """
scenarios:
  - name: Fewer teenage entries, faster exits from homes
    entries: [{band: "10 to 15", group: all, change_pct: -50}]
    exits: [{band: all, group: "children's home", change_pct: 100}]
  - name: Two more UASC a month
    entry_numbers: [{band: "16 and 17", group: supported, per_year: 24}]
  - name: Half the moves from fostering into homes go to other placements
    moves: [{band: all, from: fostering, to: "children's home", change_pct: -50, instead: other}]
  - name: A quarter of new entrants to homes fostered instead
    shift_entries: [{from: "children's home", to: fostering, share_pct: 25}]
unit_costs:
  private_childrens_home: 7000
"""


def _rates():
    move = np.tile(np.eye(fc.G), (fc.B, 1, 1))
    move[:, FO, FO], move[:, FO, CH] = 0.9, 0.1
    return fc.Rates(np.full((fc.B, fc.G), 0.02), move, np.ones((18, fc.G)))


def test_a_scenario_file_changes_the_rates_as_worked_by_hand(tmp_path):
    (tmp_path / "s.yaml").write_text(YAML)
    scenarios, costs = scn.load(tmp_path / "s.yaml")
    assert [s.name for s in scenarios] == [
        "Fewer teenage entries, faster exits from homes",
        "Two more UASC a month",
        "Half the moves from fostering into homes go to other placements",
        "A quarter of new entrants to homes fostered instead",
    ]
    assert costs == {"private_childrens_home": 7000.0}
    r = _rates()
    a = scn.rates_function(scenarios[0])(r)
    assert np.allclose(a.entry[10:16], 0.5) and np.allclose(a.entry[:10], 1) and np.allclose(a.entry[16:], 1)
    assert np.allclose(a.exit_hazard[:, CH], 0.04) and np.allclose(np.delete(a.exit_hazard, CH, axis=1), 0.02)
    b = scn.rates_function(scenarios[1])(r)
    # 24 a year over two ages (16, 17) and one group: one more a month in each cell
    assert np.allclose(b.entry[16:, SU], 2.0) and b.entry.sum() == pytest.approx(r.entry.sum() + 2)
    c = scn.rates_function(scenarios[2])(r)
    assert np.allclose(c.move[:, FO, CH], 0.05) and np.allclose(c.move[:, FO, OT], 0.05) and np.allclose(c.move[:, FO, FO], 0.9)
    assert np.allclose(c.move.sum(axis=2), 1)
    d = scn.rates_function(scenarios[3])(r)
    assert np.allclose(d.entry[:, CH], 0.75) and np.allclose(d.entry[:, FO], 1.25) and d.entry.sum() == pytest.approx(r.entry.sum())


def test_the_projection_and_costs_change_as_worked_by_hand(tmp_path):
    (tmp_path / "s.yaml").write_text(YAML)
    scenarios, overrides = scn.load(tmp_path / "s.yaml")
    r = fc.Rates(np.full((fc.B, fc.G), 0.02), np.tile(np.eye(fc.G), (fc.B, 1, 1)), np.zeros((18, fc.G)))
    n0 = np.zeros((18, fc.G))
    n0[5, CH] = 100  # 100 five-year-olds in children's homes; nobody reaches 18 within a year
    base = fc.expected_path(n0, r, 12)[-1].sum()
    faster = fc.expected_path(n0, scn.rates_function(scenarios[0])(r), 12)[-1].sum()
    assert base == pytest.approx(100 * 0.98**12) and faster == pytest.approx(100 * 0.96**12)
    # costs: 10 children in children's homes, all private, at the scenario file's £7,000 a week (£1,000 a day)
    unit = scn.unit_cost_table(overrides)
    assert unit.set_index("type").at["private_childrens_home", "daily"] == 1000.0
    by_group = pd.DataFrame({"year": 2026, "group": list(fc.GROUPS), "mean": [100.0, 10.0, 0.0, 0.0]})
    f = fc.Forecast(pd.Timestamp(2025, 3, 31), [2026], by_group, pd.DataFrame(), pd.DataFrame(), None)
    shares = pd.DataFrame(0.0, index=list(fc.GROUPS), columns=list(scn.TYPES))
    shares.loc["fostering", ["inhouse_fostering", "ifa_fostering"]] = 0.5
    shares.at["children's home", "private_childrens_home"] = 1.0
    shares.at["supported", "supported"] = shares.at["other", "other"] = 1.0
    c = scn.annual_costs(f, shares, unit).set_index("type")
    assert c.at["private_childrens_home", "annual_cost_gbp"] == pytest.approx(10 * 1000 * 365.25)
    daily = unit.set_index("type")["daily"]
    assert c.at["ifa_fostering", "annual_cost_gbp"] == pytest.approx(50 * daily["ifa_fostering"] * 365.25)
    assert c["children"].sum() == pytest.approx(110)


def test_published_unit_costs_are_uprated_by_the_stated_index():
    unit = scn.unit_cost_table().set_index("type")
    cpi = {2018: 2.5, 2019: 1.8, 2020: 0.9, 2021: 2.6, 2022: 9.1, 2023: 7.3, 2024: 2.5}  # ONS D7G7, as in unit_costs.yaml
    factor = np.prod([1 + v / 100 for v in cpi.values()])
    assert unit.at["inhouse_fostering", "weekly"] == pytest.approx(round(646 * factor), abs=0.5)
    assert unit.at["inhouse_fostering", "price_year"] == 2017 and "PSSRU" in unit.at["inhouse_fostering", "source"]
    assert unit.at["secure", "uprating_factor"] == 1.0, "already in 2024 prices"
    assert unit.at["la_childrens_home", "weekly"] < unit.at["private_childrens_home", "weekly"], "as the DfE and CMA published"
    assert set(unit.index) == set(scn.TYPES) and len(unit) == 9
    assert unit.loc[["kinship_fostering", "secure", "supported"], "basis"].str.startswith("stand-in").all()
    own = scn.unit_cost_table({"ifa_fostering": 900}, {"ifa_fostering": 1100.0}).set_index("type")
    assert own.at["ifa_fostering", "weekly"] == 1100 and own.at["ifa_fostering", "basis"].startswith("the LA's own")


@pytest.mark.parametrize(
    "text,message",
    [
        ("scenarios:\n  - name: x\n    entries: [{band: teens, change_pct: 5}]\n", "band 'teens' should be 'all' or one of 0 to 4"),
        ("scenarios:\n  - name: x\n    exits: [{group: foster, change_pct: 5}]\n", "group 'foster' should be 'all' or one of fostering"),
        ("scenarios:\n  - name: x\n    arrivals: []\n", "unknown lever(s) arrivals"),
        ("scenarios:\n  - name: x\n    moves: [{from: fostering, change_pct: -5}]\n", "a moves lever needs 'to'"),
        ("scenarios:\n  - name: x\n    entries: [{change_pct: lots}]\n", "needs a number 'change_pct'"),
        ("unit_costs: {castle: 5}\n", "unknown placement type(s) in unit_costs: castle"),
        ("scenarios:\n  - name: x\n    shift_entries: [{from: all, to: fostering, share_pct: 10}]\n", "needs 'from' and 'to' groups"),
        ("scenarios: [\n", "not valid YAML"),
    ],
)
def test_a_bad_scenario_file_gets_one_clear_error(tmp_path, text, message):
    (tmp_path / "bad.yaml").write_text(text)
    with pytest.raises(ParameterError, match=message.replace("(", r"\(").replace(")", r"\)")) as e:
        scn.load(tmp_path / "bad.yaml")
    assert "bad.yaml" in str(e.value)


def _history():
    """A small published history: 100 children each March, 40 entries and 40 leaving a year."""
    rows = []
    for y in range(2019, 2026):
        rows.append(
            {
                "year": y,
                "fostering": 70.0,
                "children's home": 20.0,
                "supported": 10.0,
                "other": 0.0,
                "band: 0 to 4": 25.0,
                "band: 5 to 9": 25.0,
                "band: 10 to 15": 25.0,
                "band: 16 and 17": 25.0,
                "starts": 40.0,
                "ceased": 40.0,
            }
        )
    return pd.DataFrame(rows).set_index("year")


def test_the_published_model_by_hand():
    h = _history()
    entries, leave = fp.rates(h, 2025, 3)
    assert entries == 40 and leave == pytest.approx(40 / 140)
    m = fp.flow_mean(h, 2025, 3, [2026, 2027])
    n1 = (100 + 40) * (1 - 40 / 140)
    assert m.loc[2026].sum() == pytest.approx(n1) and m.at[2026, "children's home"] == pytest.approx(0.2 * n1)
    s = fp.flow_mean(h, 2025, 3, [2026], {"entries_pct": -50, "shift_pct": 50})
    moved = 40 * 0.5 * 0.2 * 0.5 * (1 - 40 / 140)  # half of the children's homes' share of (halved) entries, then the year's leaving
    assert s.loc[2026].sum() == pytest.approx((100 + 20) * (1 - 40 / 140))
    assert s.at[2026, "fostering"] == pytest.approx(0.7 * (100 + 20) * (1 - 40 / 140) + moved)
    f = fp.project(h, 2025, 3, 2, weight=0.5)
    assert f.total.set_index("year").at[2026, "mean"] == pytest.approx(0.5 * n1 + 0.5 * 100)


def test_levers_become_the_published_models_by_hand():
    h = _history()
    levers = {
        "entries": [{"band": "10 to 15", "group": "all", "change_pct": -40}],
        "exits": [{"band": "all", "group": "children's home", "change_pct": 50}],
        "entry_numbers": [{"band": "16 and 17", "group": "supported", "per_year": 12}],
        "moves": [
            {"band": "all", "from": "all", "to": "children's home", "change_pct": -30, "instead": "fostering"},
            {"band": "all", "from": "all", "to": "supported", "change_pct": 10},
        ],
    }
    out, skipped = fp.levers_for(levers, h, 2025)
    assert out["entries_pct"] == pytest.approx(-40 * 0.25)  # a quarter of the children are 10 to 15
    assert out["exits_pct"] == pytest.approx(50 * 0.20)  # a fifth are in children's homes
    assert out["entries_add"] == 12 and out["shift_pct"] == 30
    assert skipped == ["moves into supported (+10%)"]
