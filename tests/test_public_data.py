"""Loaders on small hand-made files: renames, suppression, set-aside, precedence, bad input."""

import numpy as np
import pandas as pd
import pytest
from conftest import write_csv

from analysis.errors import InputError
from analysis.io import public_data as pdl

HEAD_NEW = "time_period,time_identifier,geographic_level,country_code,country_name,region_code,region_name,old_la_code,la_name,new_la_code,population_type,population_estimate,children_count,rate_per_10000\n"
HEAD_OLD = HEAD_NEW.replace("population_type", "population_count").replace("children_count", "number")
ROWS = (
    "2023,Reporting year,National,E92000001,England,,,,,,Children looked after on 31 March each year,11886906,83840,71\n"
    "2023,Reporting year,Local authority,E92000001,England,E12000001,North East,808,Stockton-on-Tees,E06000004,Children looked after on 31 March each year,43802,574,131\n"
    "2023,Reporting year,Local authority,E92000001,England,E12000001,North East,805,Hartlepool,E06000001,Children starting to be looked after each year,c,c,c\n"
    "2023,Reporting year,Local authority,E92000001,England,E12000003,Yorkshire and The Humber,815,North Yorkshire,E10000023,Children looked after on 31 March each year,114188,464,41\n"
)


def _load(tmp_path, text, lookup, publication=2025, kind="cla_numbers", name="rates.csv"):
    write_csv(tmp_path / name, text)
    return pdl.load_ees(pdl.SourceFile(name, kind, publication), tmp_path, lookup)


@pytest.mark.parametrize(
    "raw, value, flag, bad",
    [
        ("12", 12.0, None, False),
        ("1,234", 1234.0, None, False),
        ("0", 0.0, None, False),
        ("4.5", 4.5, None, False),
        ("c", np.nan, "c", False),
        ("z", np.nan, "z", False),
        ("x", np.nan, "x", False),
        ("k", np.nan, "k", False),
        ("low", np.nan, "low", False),
        ("u", np.nan, "u", False),
        ("[x]", np.nan, "[x]", False),
        ("[note 4]", np.nan, "[note 4]", False),
        ("", np.nan, None, False),
        ("twelve", np.nan, None, True),
    ],
)
def test_parse_values_keeps_symbols_as_flags_never_zero(raw, value, flag, bad):
    v, f, b = pdl.parse_values(pd.Series([raw]))
    assert (np.isnan(v.iloc[0]) and np.isnan(value)) or v.iloc[0] == value
    assert (pd.isna(f.iloc[0]) and flag is None) or f.iloc[0] == flag
    assert bool(b.iloc[0]) is bad


def test_old_and_new_column_names_give_the_same_table(tmp_path, small_lookup):
    new = _load(tmp_path, HEAD_NEW + ROWS, small_lookup, name="new.csv").table
    old = _load(tmp_path, HEAD_OLD + ROWS, small_lookup, name="old.csv").table
    cols = [c for c in new.columns if c != "source_file"]
    pd.testing.assert_frame_equal(new[cols], old[cols])


def test_rates_loader_values_keys_and_suppression(tmp_path, small_lookup):
    loaded = _load(tmp_path, HEAD_NEW + ROWS, small_lookup)
    t = loaded.table.set_index(["area_code", "indicator", "measure"])
    assert t.loc[("E06000004", "cla_31_march", "rate_per_10000"), "value"] == 131
    assert t.loc[("E06000004", "cla_31_march", "number"), "value"] == 574
    assert t.loc[("E92000001", "cla_31_march", "population"), "value"] == 11886906
    suppressed = t.loc[("E06000001", "cla_started", "number")]
    assert np.isnan(suppressed["value"]) and suppressed["flag"] == "c"
    # a replaced code is re-keyed to the current LA, keeping its old 3-digit code
    ny = t.loc[("E06000065", "cla_31_march", "number")]
    assert ny["value"] == 464 and ny["new_la_code"] == "E06000065" and ny["old_la_code"] == "815"
    assert t.loc[("E06000004", "cla_31_march", "number"), "region_code"] == "E12000001"
    assert loaded.rows_read == {"rates.csv": 4} and loaded.rows_kept == {"rates.csv": 4}


def test_unknown_label_unknown_la_and_bad_value_are_set_aside_with_row_and_column(tmp_path, small_lookup):
    extra = (
        "2023,Reporting year,Local authority,E92000001,England,E12000001,North East,808,Stockton-on-Tees,E06000004,Children adopted each year,43802,50,11\n"
        "2023,Reporting year,Local authority,E92000001,England,E12000001,North East,999,Atlantis,E06009999,Children looked after on 31 March each year,100,5,5\n"
        "2023,Reporting year,Local authority,E92000001,England,E12000001,North East,805,Hartlepool,E06000001,Children looked after on 31 March each year,100,about 5,5\n"
    )
    loaded = _load(tmp_path, HEAD_NEW + ROWS + extra, small_lookup)
    aside = loaded.set_aside.sort_values("row")
    assert aside["row"].tolist() == [6, 7, 8]  # header is line 1
    assert aside["column"].tolist() == ["population_count", "new_la_code", "number"]
    assert "unrecognised label" in aside["reason"].iloc[0]
    assert "not in the LA lookup" in aside["reason"].iloc[1]
    assert "neither a number" in aside["reason"].iloc[2]
    assert loaded.rows_read["rates.csv"] == loaded.rows_kept["rates.csv"] + len(aside)


def test_missing_column_names_file_column_and_accepted_alias(tmp_path, small_lookup):
    text = (HEAD_NEW + ROWS).replace("children_count", "kids")
    with pytest.raises(InputError) as err:
        _load(tmp_path, text, small_lookup)
    msg = str(err.value)
    assert "rates.csv" in msg and "'number'" in msg and "children_count" in msg


def test_missing_file_is_a_clear_error(tmp_path, small_lookup):
    with pytest.raises(InputError, match="file not found"):
        pdl.load_ees(pdl.SourceFile("nope.csv", "cla_numbers", 2025), tmp_path, small_lookup)


def test_bom_cp1252_and_blank_lines_are_tolerated(tmp_path):
    write_csv(tmp_path / "a.csv", "\ufeffa,b\n1,2\n\n3,Caf\u00e9\n", encoding="utf-8")
    write_csv(tmp_path / "b.csv", "a,b\n1,2\n\n3,Caf\u00e9\n", encoding="cp1252")
    for name in ("a.csv", "b.csv"):
        df = pdl.read_text_csv(tmp_path / name)
        assert list(df.columns) == ["a", "b", "_row"]
        assert df["b"].tolist() == ["2", "Caf\u00e9"]
        assert df["_row"].tolist() == [2, 4]


def test_stability_total_row_becomes_the_denominator(tmp_path, small_lookup):
    head = "time_period,time_identifier,geographic_level,country_code,country_name,region_code,region_name,old_la_code,la_name,new_la_code,cla_group,placement_stability,children_count,children_percent\n"
    rows = (
        "2025,Reporting year,Local authority,E92000001,England,E12000001,North East,808,Stockton-on-Tees,E06000004,CLA on 31 March,With 3 or more placements during the year,63,11\n"
        "2025,Reporting year,Local authority,E92000001,England,E12000001,North East,808,Stockton-on-Tees,E06000004,CLA on 31 March,Total children,564,100\n"
    )
    t = _load(tmp_path, head + rows, small_lookup, kind="placement_stability").table
    got = dict(zip(t["measure"], t["value"]))
    assert got == {"number": 63, "percent": 11, "denominator": 564}
    assert set(t["indicator"]) == {"placements_3plus_year"}


def test_new_placements_2025_layout_matches_2022_layout(tmp_path, small_lookup):
    geo = "2021,Reporting year,Local authority,E92000001,England,E12000001,North East,808,Stockton-on-Tees,E06000004,"
    old = (
        "time_period,time_identifier,geographic_level,country_code,country_name,region_code,region_name,old_la_code,la_name,new_la_code,cla_group,characteristic,number,percentage\n"
        + geo
        + "Reason for placement change during the year,Carer requests placement ends due to childs behaviour,12,8\n"
    )
    new = (
        "time_period,time_identifier,geographic_level,country_code,country_name,region_code,region_name,old_la_code,la_name,new_la_code,characteristic,breakdown,children_count,children_percent\n"
        + geo
        + "Reason for placement change during the year,Carer requests placement ends due to child's behaviour,12,8\n"
    )
    a = _load(tmp_path, old, small_lookup, kind="new_placements", name="old.csv", publication=2022).table
    b = _load(tmp_path, new, small_lookup, kind="new_placements", name="new.csv").table
    assert set(a["indicator"]) == set(b["indicator"]) == {"placement_change_carer_request_behaviour"}
    assert a["value"].tolist() == b["value"].tolist() == [12.0, 8.0]


def test_later_publication_wins_and_the_replaced_value_is_recorded(tmp_path, small_lookup):
    older = _load(tmp_path, HEAD_OLD + ROWS, small_lookup, publication=2023, name="old.csv").table
    newer_rows = ROWS.replace(",114188,464,41", ",114700,463,40")  # DfE revised North Yorkshire 2023
    newer = _load(tmp_path, HEAD_NEW + newer_rows, small_lookup, publication=2025, name="new.csv").table
    kept, superseded = pdl.apply_precedence(pd.concat([older, newer], ignore_index=True))
    assert not kept.duplicated(pdl.KEY).any()
    assert set(kept["publication"]) == {2025}
    ny = kept[(kept["area_code"] == "E06000065") & (kept["measure"] == "number")]
    assert ny["value"].tolist() == [463]
    rec = superseded[(superseded["area_code"] == "E06000065") & (superseded["measure"] == "number")].iloc[0]
    assert rec["value"] == 464 and rec["value_kept"] == 463 and bool(rec["differs"])
    same = superseded[(superseded["area_code"] == "E06000004") & (superseded["measure"] == "number")].iloc[0]
    assert not bool(same["differs"])
    assert len(superseded) == len(older)


def test_sfr_wide_file_maps_columns_renames_and_subregions(tmp_path, small_lookup):
    text = (
        "New_geog_code,geog_l,geog_c,geog_n,CLA_Mar2016,CLA_2016,CLA_Miss,CLA_Outbound,CLA_Priv\n"
        "E92000001,NATIONAL,999,ENGLAND,70440,100000,50,27000,x\n"
        "E12000007,REGION,H,INNER LONDON,4220,6590,10,2000,900\n"
        "E06000004,LA,808,Stockton-on-Tees,380,500,x,100,40\n"
    )
    write_csv(tmp_path / "sfr.csv", text)
    loaded = pdl.load_sfr(pdl.SourceFile("sfr.csv", "sfr", 2016), tmp_path, small_lookup)
    t = loaded.table.set_index(["area_code", "indicator"])
    assert t.loc[("E06000004", "cla_31_march"), "value"] == 380
    assert t.loc[("E06000004", "locality_outside"), "value"] == 100
    other = t.loc[("E06000004", "placement_other")]  # CLA_Miss is the 'other placements' column
    assert np.isnan(other["value"]) and other["flag"] == "x"
    assert t.loc[("E13000001", "cla_31_march"), "area_name"] == "Inner London"
    assert set(loaded.table["year"]) == {2016}


def test_sfr_unknown_column_is_an_error(tmp_path, small_lookup):
    write_csv(tmp_path / "sfr.csv", "New_geog_code,geog_l,geog_c,geog_n,CLA_Mar2016,CLA_Mystery\nE92000001,NATIONAL,999,ENGLAND,1,2\n")
    with pytest.raises(InputError, match="CLA_Mystery"):
        pdl.load_sfr(pdl.SourceFile("sfr.csv", "sfr", 2016), tmp_path, small_lookup)


def test_ro3_loader_years_codes_and_symbols(tmp_path, small_lookup):
    text = (
        "financial_year,e_code,ons_code,local_authority,class,service_line,measure,value_gbp_thousand\n"
        "2024-25,E0101,E06000004,Stockton-on-Tees,UA,Children Looked After,Net Current Expenditure (C7 = C3 - C6),41000.5\n"
        "2024-25,E0101,E06000004,Stockton-on-Tees,UA,Children Looked After of which residential care,Employees (C1),[x]\n"
        "2024-25,E0101,E06000004,Stockton-on-Tees,UA,Children Looked After,Employees (C1),lots\n"
        "2024/25,E0101,E06000004,Stockton-on-Tees,UA,Children Looked After,Employees (C1),1\n"
    )
    write_csv(tmp_path / "ro3.csv", text)
    loaded = pdl.load_ro3(tmp_path / "ro3.csv", "ro3.csv", small_lookup)
    t = loaded.table
    assert t["year"].tolist() == [2025, 2025]
    assert t.loc[t["measure"] == "net_current_expenditure", "value_gbp_thousand"].item() == 41000.5
    assert t.loc[t["service_line"] == "cla_residential", "flag"].item() == "[x]"
    assert sorted(loaded.set_aside["row"]) == [4, 5]
    assert loaded.rows_read["ro3.csv"] == 4 == loaded.rows_kept["ro3.csv"] + len(loaded.set_aside)


def test_unreadable_spreadsheet_is_a_clear_error(tmp_path):
    bad = tmp_path / "RO3_broken.ods"
    bad.write_bytes(b"this is not a spreadsheet")
    with pytest.raises(InputError, match="cannot be read as an OpenDocument spreadsheet"):
        pdl.read_ro3_ods(bad)
