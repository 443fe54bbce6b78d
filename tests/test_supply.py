"""Paper 05 (local supply and the sufficiency gap): its figures against counts taken straight from the raw
files with the ``csv`` module (not through the project's readers), its gap against paper 04's forecast
(one function, the same numbers), the levers' arithmetic by hand, and bad parameters."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.errors import ParameterError, UnknownLAError
from analysis.papers.p04_sufficiency import paper as pack
from analysis.papers.p05_supply import paper as supply
from analysis.report import reporting
from analysis.stats import demand
from analysis.stats import forecast as fc

RAW = Path(__file__).resolve().parents[1] / "data" / "raw" / "public"
THREE = {"E06000004": "Stockton-on-Tees", "E06000017": "Rutland", "E08000035": "Leeds"}
DEFAULTS = dict(
    sn_model=2025,
    first_year=0,
    forecast_years=5,
    fit_years=3,
    bootstrap=20,
    gap_years=3,
    target_inside_pct=0.0,
    target_own_pct=0.0,
    inhouse_foster_pct=0.0,
    children_per_household=0.0,
    households_lost_pct=0.0,
)


@pytest.fixture(scope="module")
def data(built):
    return supply.Data.load(built[0])


def settings(data, built, la, **kw):
    return supply.setup(data, la_code=la, p=built[0], **(DEFAULTS | kw))


def _raw_places(la_name: str, year: int, kind: str) -> tuple[float, float]:
    """Active places of one provision type in an LA at 31 March, all sectors and the LA's own, from the raw CSV."""
    total = own = 0.0
    with open(RAW / "derived" / "ofsted_providers_places_by_la_2019_2025.csv", newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["local_authority"] == la_name and row["as_at"] == f"31 March {year}" and row["provision_type"].lower() == kind.lower():
                if row["registration_status"] == "Active":
                    total += float(row["places"] or 0)
                    own += float(row["places"] or 0) if row["sector"] == "Local Authority" else 0.0
    return total, own


def _raw_net_gain(code: str, year: int) -> dict[str, float]:
    out = {}
    with open(RAW / "dfe_cla" / "la_cla_on_31_march_la_of_placement_netgain_2020_2024.csv", newline="", encoding="utf-8-sig") as fh:
        for row in csv.DictReader(fh):
            if row["new_la_code"] == code and row["time_period"] == str(year):
                out[row["characteristic"][:2]] = float(row["number"]) if row["number"] not in ("c", "x", "z", "") else np.nan
    return {"in": out["1."], "out": out["2."], "net": out["Ne"]}


def _raw_uasc_and_population(code: str, year: int) -> tuple[float, float]:
    uasc = pop = np.nan
    with open(RAW / "derived" / "la_cla_on_31_march_by_characteristics_2020_2025_reconstructed.csv", newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["new_la_code"] == code and row["time_period"] == str(year) and row["characteristic"] == "UASC":
                uasc = float(row["number"])
    latest = -1
    with open(RAW / "population_lookups" / "ons_mid-year_population_estimates_2012_to_2024.csv", newline="", encoding="utf-8-sig") as fh:
        for row in csv.DictReader(fh):
            y = int(row["time_period"])
            if row["new_la_code"] == code and y <= year and y > latest:
                latest, pop = y, float(row["population_estimate"])
    return uasc, pop


@pytest.mark.parametrize("code,name", list(THREE.items()))
def test_supply_matches_the_raw_ofsted_file(data, code, name):
    table = supply.la_supply(supply.registered(data.places), code).set_index(["year", "kind"])
    for year in (2019, 2025):
        total, own = _raw_places(name, year, "Children's home")
        assert table.at[(year, "children's homes"), "places"] == total
        assert table.at[(year, "children's homes"), "la_run_places"] == own
    sa, _ = _raw_places(name, 2025, "Supported Accommodation")
    assert table.at[(2025, "supported accommodation"), "places"] == sa
    assert np.isnan(table.at[(2024, "supported accommodation"), "places"]), "not registered before 2025: unknown, not 0"
    assert np.isnan(table.at[(2025, "independent fostering agencies"), "places"]), "an agency is not capacity"


@pytest.mark.parametrize("code", list(THREE))
def test_net_gain_matches_the_raw_dfe_file(data, code):
    raw = _raw_net_gain(code, 2024)
    t = supply.net_gain(data.indicators, code).set_index("year")
    assert t.at[2024, "placed_in_by_other_las"] == pytest.approx(raw["in"], nan_ok=True)
    assert t.at[2024, "placed_outside_boundary"] == pytest.approx(raw["out"], nan_ok=True)
    assert t.at[2024, "net_gain"] == pytest.approx(raw["net"], nan_ok=True)
    if not np.isnan(raw["net"]):
        assert t.at[2024, "placer"] == ("in-placer" if raw["net"] > 0 else "out-placer" if raw["net"] < 0 else "balanced")


@pytest.mark.parametrize("code", list(THREE))
def test_uasc_against_the_transfer_scheme_threshold_from_the_raw_files(data, code):
    uasc, pop = _raw_uasc_and_population(code, 2025)
    t = supply.uasc_threshold(data.indicators, data.population, code).set_index("year")
    assert t.at[2025, "uasc_looked_after"] == uasc
    assert t.at[2025, "child_population"] == pop and t.at[2025, "population_year"] == 2024, "2025 has no estimate yet: the latest before it"
    assert t.at[2025, "threshold"] == pytest.approx(round(pop * 0.001, 1))
    assert t.at[2025, "position"] == ("above the threshold" if uasc > pop * 0.001 else "at or below the threshold")


def test_care_leavers_before_the_dfe_published_them_is_an_empty_table_with_its_columns(data):
    """A pack as at 2020 (care-leaver figures start in 2021): no rows, and the columns the gate is told to read."""
    early = data.indicators[data.indicators["year"] <= 2020]
    t = supply.care_leavers(early, "E06000004")
    assert t.empty and {"care_leavers", "suitable", "suitable_pct"} <= set(t.columns)
    assert len(supply.care_leavers(data.indicators, "E06000004")) > 0


def test_places_per_10k_and_comparators_by_hand(data, built):
    s = settings(data, built, "E06000004")
    reg = supply.registered(data.places)
    rates = supply.places_per_10k(reg, data.population, data.lookup, s).set_index(["year", "kind"])
    pop = data.population.set_index(["year", "area_code"])["population"]
    la_places = reg[(reg["year"] == 2024) & (reg["kind"] == "children's homes") & (reg["new_la_code"] == s.la_code)]["places"].sum()
    assert rates.at[(2024, "children's homes"), "la"] == pytest.approx(10000 * la_places / pop[(2024, s.la_code)])
    england = reg[(reg["year"] == 2024) & (reg["kind"] == "children's homes")]["places"].sum()
    assert rates.at[(2024, "children's homes"), "england"] == pytest.approx(10000 * england / pop[(2024, "E92000001")])
    sn = [
        10000 * reg[(reg["year"] == 2024) & (reg["kind"] == "children's homes") & (reg["new_la_code"] == c)]["places"].sum() / pop[(2024, c)]
        for c in s.neighbours
    ]
    assert rates.at[(2024, "children's homes"), "neighbours"] == pytest.approx(np.mean(sn))
    assert rates.at[(2025, "children's homes"), "la"] == pytest.approx(
        10000 * supply.la_supply(reg, s.la_code).set_index(["year", "kind"]).at[(2025, "children's homes"), "places"] / pop[(2024, s.la_code)]
    ), "2025 uses the latest estimate"


def test_the_gap_uses_paper_04s_forecast_for_an_la_without_its_903(data, built):
    """One function, the same settings: paper 05's forecast is paper 04's, to the last digit."""
    s5 = settings(data, built, "E06000017")
    res5 = supply.analyse(data, s5)
    d4 = pack.Data.load(built[0])
    s4 = pack.setup(
        d4, la_code="E06000017", first_year=0, forecast_years=5, fit_years=3, holdout_years=2, bootstrap=20,
        fewer_entries_pct=10.0, faster_exits_pct=10.0, shift_to_fostering_pct=20.0, p=built[0],
    )  # fmt: skip
    res4 = pack.analyse(d4, s4, "", built[0])
    pd.testing.assert_frame_equal(res5.forecast.by_group, res4.forecasts[demand.CURRENT].by_group)
    assert res5.forecast.method == res4.forecasts[demand.CURRENT].method and "pooled panel model" in res5.forecast.method
    gap = res5.gap.set_index(["placement", "year"])
    f = res4.forecasts[demand.CURRENT].by_group.set_index(["group", "year"])
    for y in (2026, 2027, 2028):
        assert gap.at[("children's homes", y), "forecast"] == round(f.at[("children's home", y), "mean"])
        assert gap.at[("fostering", y), "upper_95"] == round(f.at[("fostering", y), "upper"])


@pytest.mark.slow  # 8-25 s: the full tier (make test-all, CI) runs it; the fast tier keeps one run of each paper
def test_the_gap_uses_paper_04s_forecast_with_the_903(project_903):
    d5, d4 = supply.Data.load(project_903), pack.Data.load(project_903)
    s5 = supply.setup(d5, la_code="E06000004", p=project_903, **(DEFAULTS | {"bootstrap": 5}))
    s4 = pack.setup(
        d4, la_code="E06000004", first_year=0, forecast_years=5, fit_years=3, holdout_years=2, bootstrap=5,
        fewer_entries_pct=0.0, faster_exits_pct=0.0, shift_to_fostering_pct=0.0, p=project_903,
    )  # fmt: skip
    assert s5.source == demand.FROM_903 and s5.years == s4.years
    f5, _ = supply.demand_forecast(d5, s5)
    res4 = pack.analyse(d4, s4, "", project_903)
    pd.testing.assert_frame_equal(f5.by_group, res4.forecasts[demand.CURRENT].by_group)
    pd.testing.assert_frame_equal(f5.total, res4.forecasts[demand.CURRENT].total)


def _forecast(means: dict[str, list[float]], years=(2026, 2027), spread=0.2) -> fc.Forecast:
    rows = [
        {"year": y, "group": g, "mean": m, "lower": m * (1 - spread), "upper": m * (1 + spread), "lower_80": m, "upper_80": m}
        for g, ms in means.items()
        for y, m in zip(years, ms, strict=True)
    ]
    total = pd.DataFrame(rows).groupby("year", as_index=False)[["mean", "lower", "upper", "lower_80", "upper_80"]].sum()
    return fc.Forecast(pd.Timestamp(2025, 3, 31), list(years), pd.DataFrame(rows), pd.DataFrame(), total, None)


def _settings(**levers) -> supply.Settings:
    lv = supply.Levers(levers.get("inside"), levers.get("own"), levers.get("inhouse", 0.5), levers.get("cph", 1.25), levers.get("lost", 0.1), {})
    return supply.Settings("X", "Xshire", "R", "Region", [], {}, demand.FROM_PUBLISHED, list(range(2016, 2026)), 5, 3, 0, 2, lv)


def test_levers_by_hand():
    f = _forecast({"fostering": [100, 110], "children's home": [40, 50], "supported": [10, 10], "other": [5, 5]})
    sup = pd.DataFrame(
        [
            {"year": 2025, "kind": "children's homes", "providers": 5, "places": 20, "la_run_places": 8},
            {"year": 2025, "kind": "secure children's homes", "providers": 1, "places": 6, "la_run_places": 6},
            {"year": 2025, "kind": "supported accommodation", "providers": 2, "places": 12, "la_run_places": 0},
        ]
    )
    now = {"fostering": 100.0, "children's home": 40.0, "supported": 10.0}
    # today's shares: half inside (20 of 40), own homes 10 of 40
    g = supply.gap_table(f, now, sup, 0.5, 10.0, _settings()).set_index(["placement", "year"])
    assert g.at[("children's homes", 2027), "places_registered"] == 26 and g.at[("children's homes", 2027), "places_la_run"] == 14
    assert g.at[("children's homes", 2027), "needed_inside"] == 25 and g.at[("children's homes", 2027), "extra_inside"] == 5
    assert g.at[("children's homes", 2027), "extra_inside_lower"] == 0 and g.at[("children's homes", 2027), "extra_inside_upper"] == 10
    assert g.at[("children's homes", 2027), "needed_own"] == round(50 * 10 / 40) and g.at[("children's homes", 2027), "extra_own"] == round(12.5 - 10)
    # a target of 75% inside and 50% in own homes
    g = supply.gap_table(f, now, sup, 0.5, 10.0, _settings(inside=0.75, own=0.5)).set_index(["placement", "year"])
    assert g.at[("children's homes", 2026), "needed_inside"] == 30 and g.at[("children's homes", 2026), "extra_inside"] == 10
    assert g.at[("children's homes", 2026), "needed_own"] == 20 and g.at[("children's homes", 2026), "extra_own"] == 10
    assert g.at[("supported accommodation (16-17)", 2026), "places_registered"] == 12
    assert np.isnan(g.at[("fostering", 2026), "places_registered"]), "fostering capacity is households, not places"


def test_foster_households_by_hand():
    f = _forecast({"fostering": [100, 110], "children's home": [1, 1], "supported": [1, 1], "other": [1, 1]})
    h = supply.foster_households(f, 100.0, _settings(inhouse=0.5, cph=1.25, lost=0.1)).set_index("year")
    # now: 100 x 0.5 / 1.25 = 40 households; 2026 needs 40 (no growth): recruit the 10% lost = 4
    assert h.at[2026, "households_needed"] == 40 and h.at[2026, "to_recruit"] == 4
    # 2027 needs 110 x 0.5 / 1.25 = 44: growth 4 plus 10% of 40 lost = 8
    assert h.at[2027, "households_needed"] == 44 and h.at[2027, "to_recruit"] == 8
    assert h.at[2027, "to_recruit_lower"] <= 8 <= h.at[2027, "to_recruit_upper"]


def test_bad_parameters_stop_with_one_sentence(data, built):
    with pytest.raises(UnknownLAError, match="Closest matches: Stockton-on-Tees"):
        settings(data, built, "Stockton on Teess")
    with pytest.raises(ParameterError, match="target_inside_pct"):
        settings(data, built, "E06000004", target_inside_pct=120.0)
    with pytest.raises(ParameterError, match="gap_years"):
        settings(data, built, "E06000004", gap_years=4, forecast_years=3)
    with pytest.raises(ParameterError, match="children_per_household"):
        settings(data, built, "E06000004", children_per_household=9.0)


def test_the_national_figures_name_their_sources_and_the_la_can_set_its_own(data, built):
    s = settings(data, built, "E06000004")
    assert s.levers.children_per_household == pytest.approx(1.22) and "Ofsted" in s.levers.sources["children per fostering household"]
    s = settings(data, built, "E06000004", children_per_household=1.5, households_lost_pct=8.0)
    assert s.levers.children_per_household == 1.5 and s.levers.households_lost == pytest.approx(0.08)
    assert "the LA's own figure" in s.levers.sources["children per fostering household"]


def test_published_tables_hide_small_counts_and_the_words_quote_them_as_shown(data, built):
    s = settings(data, built, "E06000017")  # Rutland: a handful of children in homes
    res = supply.analyse(data, s)
    rep = reporting.Report(paper="05", title="t", output_dir="", context=supply.report_context(data, s))
    tables = supply.publish_tables(rep, res, s)
    gap = tables["gap"].frame
    counts = gap[["forecast", "lower_95", "upper_95"]].to_numpy().ravel()
    assert not any(isinstance(v, (int, float)) and 0 < v < 5 for v in counts)
    text = supply.findings(res, s, tables)
    assert "Rutland" in text and "nan" not in text.lower()
    rep.finish()


def _raw_homes(la_name: str, year: int) -> dict[str, tuple[float, str, bool]]:
    """Children's homes in an LA from Ofsted's provider-level file, read with the csv module: URN -> (places, rating, short breaks only)."""
    path = RAW / "ofsted" / "providers" / f"provider_at_march_{year}.csv"
    text = path.read_bytes().decode("utf-8-sig", errors="replace")
    lines = text.splitlines(keepends=True)  # line ends kept: header cells hold quoted line breaks
    at = next(i for i, line in enumerate(lines) if line.startswith("Web link"))
    reader = csv.DictReader(lines[at:])
    out = {}
    for row in reader:
        row = {(k or "").strip(): v for k, v in row.items()}
        rating = next((v for k, v in row.items() if "overall experiences and progress" in k.lower()), "")
        if row["Provision type"].strip().lower() == "children's home" and row["Local authority"].strip() == la_name:
            sbo = next((v for k, v in row.items() if k.lower().startswith("short-break")), "")
            out[row["URN"].strip()] = (float(row["Places"] or 0), rating.strip(), "short" in sbo.lower())
    return out


@pytest.mark.parametrize("code,name", [("E06000004", "Stockton-on-Tees"), ("E08000035", "Leeds"), ("E10000016", "Kent")])
def test_homes_opened_closed_and_rated_match_the_raw_provider_files(data, code, name):
    before, after = _raw_homes(name, 2024), _raw_homes(name, 2025)
    flow = supply.homes_flow(data.providers, code).set_index("year")
    assert flow.at[2025, "homes"] == len(after)
    assert flow.at[2025, "opened"] == len(set(after) - set(before)) and flow.at[2025, "closed"] == len(set(before) - set(after))
    assert flow.at[2025, "places_opened"] == sum(after[u][0] for u in set(after) - set(before))
    assert flow.at[2025, "short_break_only"] == sum(v[2] for v in after.values())
    assert np.isnan(flow.at[2020, "short_break_only"]), "no flag before 2021: unknown, not 0"
    living = [v for v in after.values() if not v[2]]
    inspected = [v for v in living if v[1].lower() in ("outstanding", "good", "requires improvement to be good", "inadequate")]
    good = [v for v in inspected if v[1].lower() in ("outstanding", "good")]
    r = supply.ratings(data.providers, code, []).set_index("area")
    assert r.at["LA", "good_or_outstanding_pct"] == pytest.approx(100 * len(good) / len(inspected))


def test_the_903s_homes_are_rated_by_joining_their_urn_to_ofsteds_file():
    """Children in children's homes at the last 31 March by the judgement of the home (by URN), inside and
    outside the LA; a URN not in the register is counted apart, never guessed."""
    day = pd.Timestamp(2025, 3, 31)
    rows = [  # (child, urn, inside, place group, ended)
        ("a", "SC1", "IN", "children's home", None),
        ("b", "SC1", "IN", "children's home", None),
        ("c", "200", "OUT", "children's home", None),
        ("d", "300", "OUT", "children's home", None),
        ("e", "XX9", "OUT", "children's home", None),  # not in the register
        ("f", "SC1", "IN", "children's home", day - pd.Timedelta(days=3)),  # left before 31 March
        ("g", "400", "IN", "foster", None),  # not in a home
    ]
    placements = pd.DataFrame(
        {
            "child": [r[0] for r in rows],
            "start": day - pd.Timedelta(days=100),
            "end": [r[4] for r in rows],
            "place_group": [r[3] for r in rows],
            "urn": [r[1] for r in rows],
            "pl_location": [r[2] for r in rows],
            "pl_distance": 5.0,
        }
    )
    providers = pd.DataFrame(
        {
            "year": 2025,
            "urn": ["SC1", "200", "300", "400"],
            "provision_type": ["Children's home"] * 4,
            "rating": ["Good", "Inadequate", "not yet inspected", "Outstanding"],
        }
    )
    data = supply.Data(pd.DataFrame(), pd.DataFrame(), providers, pd.DataFrame(), pd.DataFrame(), pd.DataFrame(), placements=placements)
    s = _settings()
    s.source = demand.FROM_903
    t = supply.ratings_903(data, s).set_index("where")
    assert t.loc["inside the LA"].to_dict() == {
        "children": 2,
        "good_or_outstanding": 2,
        "requires_improvement_or_inadequate": 0,
        "not_yet_inspected": 0,
        "urn_not_found": 0,
    }
    assert t.loc["outside the LA"].to_dict() == {
        "children": 3,
        "good_or_outstanding": 0,
        "requires_improvement_or_inadequate": 1,
        "not_yet_inspected": 1,
        "urn_not_found": 1,
    }
    assert t.loc["all", "children"] == 5
