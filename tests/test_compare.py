"""Paper 01 logic: the panel, comparator groups, rankings, flags and wording."""

import csv

import numpy as np
import pandas as pd
import pytest
from conftest import RAW_PUBLIC

from analysis.errors import UnknownLAError
from analysis.papers.p01_compare import paper as compare
from analysis.papers.params import ParameterError


@pytest.fixture(scope="module")
def inputs(built):
    return compare.Data.load(built[0])


@pytest.fixture(scope="module")
def panel(inputs):
    return compare.build_panel(inputs)


@pytest.fixture(scope="module")
def stockton(inputs):
    return compare.setup(inputs, la_code="E06000004")


def _raw_rows(name: str) -> list[dict]:
    with open(RAW_PUBLIC / "dfe_cla" / name, encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def _value(panel, measure, code, year):
    s = panel[(panel["measure"] == measure) & (panel["area_code"] == code) & (panel["year"] == year)]
    assert len(s) == 1, (measure, code, year, len(s))
    return s.iloc[0]


# --- the panel reproduces published figures (read independently from the raw CSVs) -------------
@pytest.mark.parametrize("code,year", [("E92000001", 2025), ("E06000004", 2025), ("E08000025", 2023), ("E09000033", 2021), ("E06000052", 2022)])
def test_looked_after_rate_is_the_published_one(panel, code, year):
    rows = [
        r
        for r in _raw_rows("cla_number_and_rate_per_10k_children_2021_2025.csv")
        if r["time_period"] == str(year)
        and r["population_type"] == "Children looked after on 31 March each year"
        and (r["new_la_code"] == code or (code == "E92000001" and r["geographic_level"] == "National"))
    ]
    assert len(rows) == 1
    row = _value(panel, "cla_rate", code, year)
    assert row["value"] == float(rows[0]["rate_per_10000"])
    assert row["numerator"] == float(rows[0]["children_count"])
    assert row["denominator"] == float(rows[0]["population_estimate"])


@pytest.mark.parametrize("code,year", [("E92000001", 2025), ("E06000004", 2025), ("E08000025", 2022), ("E10000015", 2024)])
def test_long_term_stability_is_the_published_one(panel, code, year):
    rows = [
        r
        for r in _raw_rows("la_cla_placement_stability_2021_2025.csv")
        if r["time_period"] == str(year)
        and r["cla_group"].startswith("Children looked after continuously for at least 2.5 years")
        and (r["new_la_code"] == code or (code == "E92000001" and r["geographic_level"] == "National"))
    ]
    same = next(r for r in rows if r["placement_stability"].startswith("Living with the same"))
    total = next(r for r in rows if r["placement_stability"] == "Total children")
    row = _value(panel, "stability_pct", code, year)
    assert row["value"] == float(same["children_percent"])
    assert row["numerator"] == float(same["children_count"])
    assert row["denominator"] == float(total["children_count"])


def test_spend_per_child_is_ro3_spend_over_children_looked_after(inputs, panel):
    ro3 = inputs.ro3
    spend = ro3[
        (ro3["new_la_code"] == "E06000004")
        & (ro3["year"] == 2025)
        & (ro3["service_line"] == "cla_total")
        & (ro3["measure"] == "net_current_expenditure")
    ]["value_gbp_thousand"].iloc[0]
    cla = [
        r
        for r in _raw_rows("cla_number_and_rate_per_10k_children_2021_2025.csv")
        if r["time_period"] == "2025" and r["new_la_code"] == "E06000004" and r["population_type"].startswith("Children looked after on 31")
    ][0]
    assert _value(panel, "spend_per_child", "E06000004", 2025)["value"] == round(spend * 1000 / float(cla["children_count"]))


def test_england_spend_sums_only_las_with_both_figures(panel):
    las = panel[(panel["measure"] == "spend_per_child") & (panel["year"] == 2025) & (panel["geographic_level"] == "local_authority")]
    both = las.dropna(subset=["numerator", "denominator"])
    eng = _value(panel, "spend_per_child", "E92000001", 2025)
    assert eng["numerator"] == pytest.approx(both["numerator"].sum())
    assert eng["value"] == round(both["numerator"].sum() / both["denominator"].sum())


def test_an_la_without_childrens_homes_has_zero_places_not_a_gap(inputs, panel):
    homes = inputs.ofsted[(inputs.ofsted["provision_type"] == "Children's home") & (inputs.ofsted["year"] == 2025)]
    without = sorted(
        set(panel[(panel["measure"] == "home_places_rate") & (panel["year"] == 2025) & (panel["geographic_level"] == "local_authority")]["area_code"])
        - set(homes["new_la_code"])
    )
    assert without, "expected at least one LA with no children's homes (e.g. City of London)"
    assert _value(panel, "home_places_rate", without[0], 2025)["value"] == 0


def test_years_before_the_rates_files_use_ons_population(inputs, panel):
    pop = inputs.population
    ons = pop[(pop["area_code"] == "E06000004") & (pop["year"] == 2016)]["population"].iloc[0]
    row = _value(panel, "cla_rate", "E06000004", 2016)
    assert row["denominator"] == ons
    assert row["value"] == round(row["numerator"] / ons * 10000)


def test_suppressed_values_keep_their_symbol(panel):
    suppressed = panel[panel["flag"].notna() & panel["value"].isna()]
    assert not suppressed.empty
    assert set(suppressed["flag"]) <= {"c", "x", "z", "k", "u", "low"}
    row = suppressed.iloc[0]
    assert compare.cell(row["value"], row["flag"]) == row["flag"]
    assert compare.cell(np.nan, None) == compare.NOT_PUBLISHED
    assert compare.cell(0.0, None) == 0.0


# --- parameters ------------------------------------------------------------------------------------
def test_statistical_neighbours_2025(stockton):
    assert len(stockton.comparator_codes) == 10
    assert "E06000005" in stockton.comparator_codes  # Darlington
    assert stockton.la_code not in stockton.comparator_codes


def test_region_and_england_groups(inputs):
    region = compare.setup(inputs, la_code="808", comparator="region")
    assert len(region.comparator_codes) == 11 and "E06000001" in region.comparator_codes
    england = compare.setup(inputs, la_code="808", comparator="england")
    assert len(england.comparator_codes) == 152


def test_a_neighbour_that_no_longer_exists_is_left_out_with_a_note(inputs):
    s = compare.setup(inputs, la_code="E06000001", sn_model=2021)  # Hartlepool's 2021 neighbours
    raw = inputs.neighbours[(inputs.neighbours["model"] == "2021") & (inputs.neighbours["new_la_code"] == "E06000001")]
    assert len(s.comparator_codes) + len(s.notes) == len(raw)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"comparator": "neighbours"}, "did you mean 'statistical_neighbours'"),
        ({"comparator": "list", "comparator_codes": ["E06000001", "E06000005"]}, "at least 3"),
        ({"comparator": "list"}, "needs comparator_codes"),
        ({"last_year": 2031}, "no published data for year 2031"),
        ({"first_year": 2024, "last_year": 2020}, "after last_year"),
        ({"sn_model": 2019}, "2021, 2025"),
    ],
)
def test_bad_parameters_give_one_clear_message(inputs, kwargs, message):
    with pytest.raises(ParameterError, match=message):
        compare.setup(inputs, la_code="E06000004", **kwargs)


def test_unknown_la_names_close_matches(inputs):
    with pytest.raises(UnknownLAError, match="Stockton-on-Tees"):
        compare.setup(inputs, la_code="Stockton on Tess")
    with pytest.raises(UnknownLAError, match="Darlington"):
        compare.setup(inputs, la_code="E06000004", comparator="list", comparator_codes=["Darlingtn", "Bury", "Wirral"])


# --- comparisons ------------------------------------------------------------------------------------
def _toy_panel():
    rows = []
    for code, value in (("A", 10.0), ("B", 30.0), ("C", 30.0), ("D", 5.0), ("E", np.nan)):
        rows.append(
            {
                "measure": "m",
                "area_code": code,
                "area_name": code,
                "geographic_level": "local_authority",
                "region_code": "R",
                "year": 2024,
                "numerator": value,
                "denominator": 100.0,
                "value": value,
                "flag": None,
            }
        )
    return pd.DataFrame(rows)


def test_rank_is_highest_first_with_ties_sharing_the_best_rank():
    p = _toy_panel()
    assert compare.rank_of(p, "m", 2024, "B") == (1, 4)
    assert compare.rank_of(p, "m", 2024, "C") == (1, 4)
    assert compare.rank_of(p, "m", 2024, "A") == (3, 4)
    assert compare.rank_of(p, "m", 2024, "E") == (None, 4)
    assert compare.rank_of(p, "m", 2024, "A", among=("D",)) == (1, 2)


def test_comparator_average_is_the_simple_mean_of_values(panel, stockton, la_indicators):
    got = compare.comparator_average(panel, stockton)
    got = got[(got["measure"] == "three_plus_pct") & (got["year"] == 2024)].iloc[0]
    li = la_indicators
    expected = li[
        (li["indicator"] == "placements_3plus_year")
        & (li["measure"] == "percent")
        & (li["year"] == 2024)
        & li["area_code"].isin(stockton.comparator_codes)
    ]["value"]
    assert got["comparators"] == pytest.approx(expected.mean())
    assert got["comparators_n"] == expected.notna().sum()


def test_summary_flags_match_the_funnel(panel, stockton):
    table, details = compare.summary_table(panel, stockton)
    assert len(table) == len(details) == len(compare.MEASURES)
    d = details["cla_rate"]
    units, theta, disp = compare.funnel_units(panel, compare.MEASURE_BY_ID["cla_rate"], d["year"], "E06000004")
    assert d["flag"] == units[units["is_la"]]["flag"].iloc[0]
    assert theta == pytest.approx(81770 / 12183016)  # England 2025, published count and population
    assert disp.overdispersed  # LAs' looked-after rates vary far beyond chance
    row = table[table["Measure"].str.startswith("Children looked after at 31 March")].iloc[0]
    assert row["Stockton-on-Tees"] == 125 and row["England"] == 67
    assert row["Compared with England"] == compare.flag_text(d["flag"], compare.MEASURE_BY_ID["cla_rate"])


def test_a_year_with_no_la_data_falls_back_to_the_latest_earlier_year(panel, stockton):
    # missing-incident figures stop at 2024
    assert compare.latest_year(panel, "missing_pct", 2025) == 2024
    assert compare.latest_year(panel, "missing_pct", 2019) is None


def test_measure_sentence_is_written_from_the_numbers():
    d = {
        "short": "3+ placements in year",
        "year": 2025,
        "la": 14.0,
        "england": 10.0,
        "region": 11.0,
        "comparators": 9.0,
        "unit": "%",
        "decimals": 0,
        "rank": 1,
        "ranked": 150,
        "comparator_rank": 2,
        "comparator_ranked": 11,
        "flag": "above 99.8%",
        "better": "lower",
    }
    text = compare.measure_sentence(d, "Somewhere", "statistical neighbours")
    assert "14% in Somewhere; England 10%, region 11%, comparator average 9%" in text
    assert "The highest of 150 LAs; 2nd highest of 11" in text
    assert "Significantly higher than England" in text and "a concern" in text
    d.update(la="c")
    assert "not available" in compare.measure_sentence(d, "Somewhere", "x")


def test_key_findings_name_the_significant_measures():
    base = {
        "unit": "%",
        "decimals": 0,
        "region": 1.0,
        "comparators": 1.0,
        "rank": 5,
        "ranked": 150,
        "comparator_rank": 1,
        "comparator_ranked": 11,
        "better": None,
        "year": 2025,
    }
    details = {
        "a": {**base, "short": "Outside LA boundary", "la": 60.0, "england": 44.0, "flag": "above 99.8%"},
        "b": {**base, "short": "In foster care", "la": 66.0, "england": 67.0, "flag": "within"},
        "c": {**base, "short": "Went missing", "la": 14.0, "england": 11.0, "flag": "above 95%"},
    }
    out = compare.key_findings(details, "Somewhere")
    assert out[0].startswith("Somewhere is significantly different from England on 1 of the 3 measures")
    assert "outside LA boundary 60% against 44% (higher)" in out[0]
    assert any(line.startswith("Worth watching") and "went missing" in line for line in out)


def test_the_cached_panel_is_the_built_panel(built, inputs, tmp_path):
    import shutil

    from conftest import make_project

    from analysis.config import paths as make_paths

    root = make_project(tmp_path / "p")
    shutil.copytree(built[0].processed_public, root / "data" / "processed" / "public")
    p = make_paths(root)
    first = compare.load_panel(inputs, p)
    assert list((p.processed_public / "_cache").glob("compare_panel-*.parquet"))
    second = compare.load_panel(inputs, p)
    pd.testing.assert_frame_equal(first, second)
    pd.testing.assert_frame_equal(second, compare.build_panel(inputs))


def test_within_the_limits_is_explained_when_the_la_is_far_from_england():
    """Stockton looks after children at about 1.9 times England's rate and is inside the widened limits: the
    finding must say what 'within the limits' means, naming the measure and the ratio."""
    from analysis.papers.p01_compare import paper as cmp

    d = {"short": "Children looked after per 10,000", "la": 135.0, "england": 70.0, "flag": "within", "unit": "", "decimals": 0, "year": 2025}
    d |= {"rank": None, "of": 10, "comparators": 100.0, "higher_is": None, "better": None, "name": "Children looked after", "count": None}
    near = dict(d, la=72.0)
    far_text = " ".join(cmp.key_findings({"x": d}, "Stockton-on-Tees"))
    near_text = " ".join(cmp.key_findings({"x": near}, "Stockton-on-Tees"))
    assert "1.9 times England's" in far_text and "does not mean close to England" in far_text
    assert "times England's" not in near_text
