"""Paper 01's context for a sufficiency strategy: the count beside each rate, the RO3 spend split,
the edge of care and care leavers. Each figure is checked against the raw published files, read here
with the csv module and worked out by hand, not through the project's loaders."""

import csv

import pytest
from conftest import RAW_PUBLIC

from analysis.papers.p01_compare import paper as compare

STOCKTON = "E06000004"


def _rows(path: str) -> list[dict]:
    with open(RAW_PUBLIC / path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def details(built):
    inputs = compare.Data.load(built[0])
    panel = compare.build_panel(inputs)
    _, d = compare.summary_table(panel, compare.setup(inputs, la_code=STOCKTON))
    return d


@pytest.fixture(scope="module")
def population_2025() -> dict[str, float]:
    rows = _rows("dfe_cla/cla_number_and_rate_per_10k_children_2021_2025.csv")
    return {
        r["new_la_code"] or r["country_code"]: float(r["population_estimate"])
        for r in rows
        if r["time_period"] == "2025"
        and r["population_estimate"] not in ("x", "c", "z")
        and r["population_type"] == "Children looked after on 31 March each year"
        and r["geographic_level"] in ("Local authority", "National")
    }


def test_the_count_of_children_is_shown_beside_the_rate(details):
    row = next(
        r
        for r in _rows("dfe_cla/cla_number_and_rate_per_10k_children_2021_2025.csv")
        if r["new_la_code"] == STOCKTON and r["time_period"] == "2025" and r["population_type"] == "Children looked after on 31 March each year"
    )
    assert details["cla_rate"]["count"] == float(row["children_count"]) == 564
    assert details["cla_rate"]["la"] == float(row["rate_per_10000"]) == 125


@pytest.mark.parametrize(
    "measure,file,column",
    [
        ("cin_rate", "dfe_csc/b1_children_in_need_2013_to_2025.csv", "At31_episodes"),
        ("cpp_rate", "dfe_csc/d5_cpps_at31march_by_duration_2013_to_2025.csv", "CPP_At31"),
        ("referrals_rate", "dfe_csc/c1_children_in_need_referrals_and_rereferrals_2013_to_2025.csv", "referral_count"),
    ],
)
def test_edge_of_care_rates_are_per_10000_children(details, population_2025, measure, file, column):
    rows = _rows(file)
    la = next(r for r in rows if r["new_la_code"] == STOCKTON and r["time_period"] == "2025")
    england = next(r for r in rows if r["geographic_level"] == "National" and r["time_period"] == "2025")
    assert details[measure]["year"] == 2025
    assert details[measure]["count"] == float(la[column])
    assert details[measure]["la"] == round(float(la[column]) / population_2025[STOCKTON] * 10_000)
    assert details[measure]["england"] == round(float(england[column]) / population_2025["E92000001"] * 10_000)


def test_rereferrals_are_the_published_percentage(details):
    la = next(
        r
        for r in _rows("dfe_csc/c1_children_in_need_referrals_and_rereferrals_2013_to_2025.csv")
        if r["new_la_code"] == STOCKTON and r["time_period"] == "2025"
    )
    assert details["rereferrals_pct"]["la"] == float(la["rereferral_percent"]) == 28.8


@pytest.mark.parametrize(
    "measure,age,breakdown,file",
    [
        ("cl_eet_17_18_pct", "17 to 18 years", "Total in education, employment or training", "la_care_leavers_activity.csv"),
        ("cl_eet_19_21_pct", "19 to 21 years", "Total in education, employment or training", "la_care_leavers_activity.csv"),
        ("cl_suitable_17_18_pct", "17 to 18 years", "Accommodation considered suitable", "la_care_leavers_accommodation_suitability.csv"),
        ("cl_suitable_19_21_pct", "19 to 21 years", "Accommodation considered suitable", "la_care_leavers_accommodation_suitability.csv"),
    ],
)
def test_care_leavers_are_the_published_figures(details, measure, age, breakdown, file):
    rows = [r for r in _rows(f"dfe_csc/{file}") if r["time_period"] == "2025" and r["care_leaver_age"] == age and r["breakdown"] == breakdown]
    la = next(r for r in rows if r["new_la_code"] == STOCKTON)
    england = next(r for r in rows if r["geographic_level"] == "National")
    assert details[measure]["la"] == float(la["care_leaver_percent"])
    assert details[measure]["count"] == float(la["care_leaver_count"])
    assert details[measure]["england"] == float(england["care_leaver_percent"])


def test_residential_spend_share_comes_from_ro3(details):
    rows = [
        r
        for r in _rows("derived/ro3_children_looked_after_expenditure_by_la_2022_23_to_2024_25.csv")
        if r["ons_code"] == STOCKTON and r["financial_year"] == "2024-25" and r["measure"].startswith("Net Current Expenditure")
    ]
    by_line = {r["service_line"]: float(r["value_gbp_thousand"]) for r in rows}
    total, residential = by_line["Children Looked After"], by_line["Children Looked After of which residential care"]
    assert details["residential_spend_share"]["la"] == round(100 * residential / total)
    assert details["residential_spend_share"]["count"] is None, "a share of money has no count of children"
    cla = 564
    assert details["residential_spend_per_child"]["la"] == round(residential * 1000 / cla)


def test_key_findings_lead_with_the_count_and_cover_the_new_context(details):
    text = " ".join(compare.key_findings(details, "Stockton-on-Tees"))
    assert text.startswith("Stockton-on-Tees looked after 564 children at 31 March 2025: 125 per 10,000")
    assert "Edge of care: children in need 520 per 10,000" in text
    assert "Care leavers aged 19-21: 49% in education, employment or training" in text
    assert "Residential care took 50% of net spend" in text


def test_with_no_measure_tested_the_findings_say_why():
    text = " ".join(compare.key_findings({}, "Isles of Scilly"))
    assert "No measure could be tested" in text and "None of the 0" not in text


@pytest.mark.parametrize(
    "years,values,expected",
    [
        ([2015, 2020, 2021, 2022, 2025], [87, 133, 133, 133, 125], "rose from 87 in 2015 to a peak of 133 in 2020-2022, then fell to 125 in 2025"),
        ([2015, 2018, 2023, 2025], [72, 68, 65, 70], "fell from 72 in 2015 to a low of 65 in 2023, then rose to 70 in 2025"),
        ([2018, 2020, 2025], [7, 9, 8], "rose from 7 in 2018 to 8 in 2025 (it fell in the latest year, from 9 in 2020)"),
        ([2019, 2020, 2021], [10, 12, 14], "rose from 10 in 2019 to 14 in 2021"),
    ],
)
def test_trend_sentences_name_the_turning_point(years, values, expected):
    assert compare.trend_shape(years, values, lambda x: f"{x:.0f}") == expected


def test_a_council_made_by_a_boundary_change_says_when_its_figures_start(built):
    inputs = compare.Data.load(built[0])
    panel = compare.build_panel(inputs)
    s = compare.setup(inputs, la_code="Cumberland")
    notes = compare.coverage_notes(panel, s)
    assert compare.first_data_year(panel, s) == 2024
    assert any("Cumbria split into Cumberland and Westmorland and Furness" in n and "start at 31 March 2024" in n for n in notes)
    assert compare.coverage_notes(panel, compare.setup(inputs, la_code=STOCKTON)) == []


def test_social_worker_changes_beside_the_raw_file(details, built):
    """Children looked after with 3 or more social workers in the year (2024): the LA's published share and
    count, and England's, as the raw file gives them (the measure's latest year is 2024, so paper 01 shows it)."""
    rows = {
        (r["new_la_code"] or r["country_code"], r["sw_stability"]): r
        for r in _rows("dfe_cla/la_cla_swcount_2024.csv")
        if r["geographic_level"] in ("Local authority", "National")
    }
    la = rows[(STOCKTON, "3 or more social workers during the year")]
    d = details["sw_3plus_pct"]
    assert d["year"] == 2024 and d["la"] == float(la["percentage"]) and d["count"] == float(la["number"])
    assert d["england"] == float(rows[("E92000001", "3 or more social workers during the year")]["percentage"])
