"""Ingest on the shipped files: published figures reproduced exactly, checksums, code changes,
reconciliation, idempotence and atomic replacement."""

import csv
import json
import os

import numpy as np
import pandas as pd
import pytest
from conftest import RAW_PUBLIC, make_project

from analysis.config import paths as make_paths
from analysis.errors import InputError
from analysis.io import ingest


def raw_value(rel, **match):
    """An independent read of one cell from a shipped CSV (csv module, no project code)."""
    value_col = match.pop("_value")
    with open(RAW_PUBLIC / rel, encoding="utf-8-sig", newline="") as f:
        hits = [r for r in csv.DictReader(f) if all(r[k] == v for k, v in match.items())]
    assert len(hits) == 1, (rel, match, len(hits))
    return hits[0][value_col]


def processed_value(li, year, area, indicator, measure):
    hit = li[(li["year"] == year) & (li["area_code"] == area) & (li["indicator"] == indicator) & (li["measure"] == measure)]
    assert len(hit) == 1, (year, area, indicator, measure, len(hit))
    return hit.iloc[0]


RATES_2025 = "dfe_cla/cla_number_and_rate_per_10k_children_2021_2025.csv"
RATES_2023 = "dfe_cla/cla_number_and_rate_per_10k_children_2019_2023.csv"
STAB_2025 = "dfe_cla/la_cla_placement_stability_2021_2025.csv"
STAB_2022 = "dfe_cla/la_cla_at_31_march_placement_stability_indicator_2018_2022.csv"
AREAS = [("E92000001", "National"), ("E06000004", "E06000004"), ("E08000035", "E08000035"), ("E06000052", "E06000052")]


def where(raw_code):
    """Match columns for England (by level) or an LA (by code) in a DfE CSV."""
    return {"geographic_level": "National"} if raw_code == "National" else {"new_la_code": raw_code}


@pytest.mark.parametrize("year", ["2025", "2022"])
@pytest.mark.parametrize("area, raw_code", AREAS)
def test_rates_per_10000_match_the_published_csv(la_indicators, year, area, raw_code):
    raw = raw_value(
        RATES_2025, time_period=year, **where(raw_code), population_type="Children looked after on 31 March each year", _value="rate_per_10000"
    )
    got = processed_value(la_indicators, int(year), area, "cla_31_march", "rate_per_10000")
    assert got["value"] == float(raw)
    assert got["publication"] == 2025


@pytest.mark.parametrize("year", ["2019", "2020"])
@pytest.mark.parametrize("area, raw_code", AREAS)
def test_rates_from_the_older_publication_fill_earlier_years(la_indicators, year, area, raw_code):
    raw = raw_value(
        RATES_2023, time_period=year, **where(raw_code), population_count="Children looked after at 31 March each year", _value="rate_per_10000"
    )
    got = processed_value(la_indicators, int(year), area, "cla_31_march", "rate_per_10000")
    assert got["value"] == float(raw) and got["publication"] == 2023


@pytest.mark.parametrize("area, raw_code", AREAS)
def test_three_plus_placements_percent_matches_both_publications(la_indicators, area, raw_code):
    raw25 = raw_value(
        STAB_2025,
        time_period="2024",
        **where(raw_code),
        cla_group="CLA on 31 March",
        placement_stability="With 3 or more placements during the year",
        _value="children_percent",
    )
    assert processed_value(la_indicators, 2024, area, "placements_3plus_year", "percent")["value"] == float(raw25)
    raw19 = raw_value(
        STAB_2022,
        time_period="2019",
        **where(raw_code),
        cla_group="Children looked after at 31 March",
        characteristic="With 3 or more placements during the year",
        _value="percentage",
    )
    assert processed_value(la_indicators, 2019, area, "placements_3plus_year", "percent")["value"] == float(raw19)


def test_suppressed_cells_stay_missing_with_their_symbol(la_indicators):
    with open(RAW_PUBLIC / STAB_2025, encoding="utf-8-sig", newline="") as f:
        rows = [
            r
            for r in csv.DictReader(f)
            if r["geographic_level"] == "Local authority"
            and r["children_count"] == "c"
            and r["placement_stability"] == "With 3 or more placements during the year"
            and r["cla_group"] == "CLA on 31 March"
        ]
    assert rows, "the shipped file has suppressed cells to check"
    r = rows[0]
    got = processed_value(la_indicators, int(r["time_period"]), r["new_la_code"], "placements_3plus_year", "number")
    assert np.isnan(got["value"]) and got["flag"] == "c"
    flagged = la_indicators[la_indicators["flag"].notna()]
    assert flagged["value"].isna().all(), "a suppressed value must never carry a number"
    assert len(flagged) > 1000


def test_code_change_series_is_continuous_and_revisions_recorded(built, la_indicators):
    p, _ = built
    ny = la_indicators[
        (la_indicators["area_code"] == "E06000065") & (la_indicators["indicator"] == "cla_31_march") & (la_indicators["measure"] == "number")
    ]
    assert {2015, 2016, 2017, 2019, 2020, 2021, 2022, 2023, 2024, 2025} <= set(ny["year"])
    assert ny.set_index("year").loc[2023, "value"] == 463  # 2025 publication (E06000065) beats 464 (2023, E10000023)
    sup = ingest.read_table(p, "superseded")
    rec = sup[(sup["area_code"] == "E06000065") & (sup["year"] == 2023) & (sup["indicator"] == "cla_31_march") & (sup["measure"] == "number")]
    assert rec["value"].tolist() == [464.0] and rec["value_kept"].tolist() == [463.0] and rec["differs"].all()


def test_boundary_changes_are_explicit_breaks(built, la_indicators):
    lookup = ingest.read_table(built[0], "la_lookup").set_index("la_code")
    assert lookup.loc["E06000061", "series_break_year"] == 2022  # North Northamptonshire
    assert lookup.loc["E10000021", "status"] == "ceased"
    bcp = la_indicators[
        (la_indicators["area_code"] == "E06000058") & (la_indicators["indicator"] == "cla_31_march") & (la_indicators["measure"] == "number")
    ]
    assert bcp.loc[bcp["value"].notna(), "year"].min() == 2020
    poole = la_indicators[
        (la_indicators["area_code"] == "E06000029") & (la_indicators["indicator"] == "cla_31_march") & (la_indicators["measure"] == "number")
    ]
    assert poole.loc[poole["value"].notna(), "year"].max() == 2019


def test_every_file_reconciles_and_set_aside_rows_have_reasons(built):
    p, result = built
    for f, r in result.report["files"].items():
        assert r["rows_read"] == r["rows_kept"] + r["rows_set_aside"], f
    aside = ingest.read_table(p, "set_aside")
    assert (aside["reason"].str.len() > 0).all() and (aside["row"] >= 2).all()
    assert len(aside) == sum(r["rows_set_aside"] for r in result.report["files"].values())


def test_other_tables_are_keyed_and_typed(built):
    p, _ = built
    pop = ingest.read_table(p, "population")
    stockton = pop[(pop["area_code"] == "E06000004") & (pop["year"] == 2024)]["population"].item()
    raw = raw_value(
        "population_lookups/ons_mid-year_population_estimates_2012_to_2024.csv",
        time_period="2024",
        new_la_code="E06000004",
        _value="population_estimate",
    )
    assert stockton == float(raw)
    sn = ingest.read_table(p, "statistical_neighbours")
    assert set(sn["model"]) == {"2021", "2025"}
    s25 = sn[(sn["model"] == "2025") & (sn["new_la_code"] == "E06000004")]
    assert s25["rank"].tolist() == list(range(1, 11)) and s25["neighbour_la_code"].notna().all()
    ro3 = ingest.read_table(p, "ro3_spend")
    assert set(ro3["year"]) == {2023, 2024, 2025}
    places = ingest.read_table(p, "ofsted_places")
    homes = places[(places["provision_type"] == "Children's home") & (places["year"] == 2025)]
    assert homes["new_la_code"].nunique() > 100


@pytest.mark.slow
def test_derived_ro3_csv_equals_the_2024_25_spreadsheet():
    """Independent check of derived/: the .ods read cell by cell gives the same values."""
    from analysis.io.public_data import read_ro3_ods

    ods = read_ro3_ods(RAW_PUBLIC / "finance/ro3/RO3_LA_Data_2024-25_data_by_LA.ods")
    derived = pd.read_csv(RAW_PUBLIC / ingest.RO3_SOURCE, dtype=str, keep_default_na=False)
    derived = derived[derived["financial_year"] == "2024-25"]
    merged = ods.merge(derived, on=["ons_code", "service_line", "measure"], how="outer", suffixes=("_ods", "_csv"), indicator=True)
    assert (merged["_merge"] == "both").all()
    assert (merged["value_gbp_thousand_ods"].astype(str) == merged["value_gbp_thousand_csv"].astype(str)).mean() > 0.99
    a = pd.to_numeric(merged["value_gbp_thousand_ods"], errors="coerce")
    b = pd.to_numeric(merged["value_gbp_thousand_csv"], errors="coerce")
    assert ((a - b).abs().fillna(0) < 1e-6).all() and (a.isna() == b.isna()).all()


def test_shipped_files_match_their_checksums():
    p = make_paths(RAW_PUBLIC.parents[2])
    assert ingest.verify_checksums(p) == []
    listed = ingest.read_checksums(p.checksums)
    assert set(ingest.input_files()) <= set(listed)
    assert "PROVENANCE.md" in listed


def test_a_changed_raw_file_fails_the_checksum_and_ingest(tmp_path):
    root = make_project(tmp_path, copy_raw=True)
    p = make_paths(root)
    target = p.raw_public / ingest.SN_2025_SOURCE
    target.write_text(target.read_text().replace("Close", "Near", 1))
    problems = ingest.verify_checksums(p)
    assert len(problems) == 1 and "sn_model_2025_wide.csv" in problems[0] and "checksum differs" in problems[0]
    with pytest.raises(InputError, match="checksum differs"):
        ingest.run_ingest(p)
    (p.raw_public / ingest.OFSTED_SOURCE).unlink()
    assert any("missing" in x and "ofsted" in x for x in ingest.verify_checksums(p))


@pytest.mark.slow
def test_rerun_is_idempotent_and_a_failed_run_keeps_the_previous_output(tmp_path, monkeypatch):
    root = make_project(tmp_path)
    p = make_paths(root)
    first = ingest.run_ingest(p)
    assert first.status == "built"
    files = sorted(x.name for x in p.processed_public.iterdir())
    digests = {f: ingest.sha256(p.processed_public / f) for f in files}
    mtimes = {f: os.stat(p.processed_public / f).st_mtime_ns for f in files}

    again = ingest.run_ingest(p)
    assert again.status == "up to date"
    assert {f: os.stat(p.processed_public / f).st_mtime_ns for f in files} == mtimes

    forced = ingest.run_ingest(p, force=True)
    assert forced.status == "built"
    assert {f: ingest.sha256(p.processed_public / f) for f in files} == digests, "same inputs must give byte-identical files"

    def boom(*args, **kwargs):
        raise InputError("simulated failure while reading", "somefile.csv")

    monkeypatch.setattr(ingest.pdl, "load_ofsted_places", boom)
    with pytest.raises(InputError, match="simulated"):
        ingest.run_ingest(p, force=True)
    assert {f: ingest.sha256(p.processed_public / f) for f in files} == digests
    assert not (p.processed / ".public.staging").exists() and not (p.processed / ".public.old").exists()
    report = json.loads((p.processed_public / "ingest_report.json").read_text())
    assert report["tables"]["la_indicators"]["rows"] > 100000


@pytest.mark.slow  # 8-25 s: the full tier (make test-all, CI) runs it; the fast tier keeps one run of each paper
def test_read_table_rejects_a_table_that_does_not_match_its_schema(tmp_path):
    root = make_project(tmp_path)
    p = make_paths(root)
    ingest.run_ingest(p)
    path = p.processed_public / "population.parquet"
    pd.read_parquet(path).drop(columns=["flag"]).to_parquet(path)
    with pytest.raises(InputError, match="population.parquet: is damaged or was changed after ingest"):
        ingest.read_table(p, "population")  # the checksum recorded at ingest catches the edit first
    stamp = p.processed_public / ingest.STAMP  # a table from before checksums were recorded: the schema check still holds
    stamp.write_text(json.dumps({k: v for k, v in json.loads(stamp.read_text()).items() if k != "outputs"}))
    with pytest.raises(InputError, match="re-run `analysis ingest`"):
        ingest.read_table(p, "population")
