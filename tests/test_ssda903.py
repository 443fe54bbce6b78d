"""Reading and checking 903 returns: formats LAs export, table recognition, rules, stitching."""

import pandas as pd
import pytest
from conftest import write_csv

from analysis.errors import InputError
from analysis.io import ssda903, ssda903_read

HEADER = "CHILD,SEX,DOB,ETHNIC,UPN,MOTHER,MC_DOB\n"
EPISODES = "CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC,REASON_PLACE_CHANGE,HOME_POST,PL_POST,URN\n"


def _return(folder, header_rows, episode_rows, *, year="2024-25"):
    d = folder / year
    write_csv(d / "header.csv", HEADER + "".join(r + "\n" for r in header_rows))
    write_csv(d / "episodes.csv", EPISODES + "".join(r + "\n" for r in episode_rows))
    return d


GOOD_HEADER = ["A1,M,01/06/2012,WBRI,,,", "A2,F,15/01/2018,MWBC,,,"]
GOOD_EPISODES = [
    "A1,01/05/2024,S,C2,N1,U6,PR1,10/08/2024,X1,CREQB,TS18 1AA,TS19 2BB,SC123456",
    "A1,10/08/2024,P,C2,N1,K2,PR4,,,,TS18 1AA,DL1 1AA,SC654321",
    "A2,03/03/2025,S,V2,N4,U3,PR1,,,,TS17 5AA,TS17 6BB,SC111111",
]


def test_a_clean_return_keeps_every_row(tmp_path):
    v = ssda903.read_returns(_return(tmp_path, GOOD_HEADER, GOOD_EPISODES).parent)
    assert v.set_aside.empty, v.set_aside
    assert len(v.tables["episodes"]) == 3 and len(v.tables["header"]) == 2
    assert set(v.tables["episodes"]["collection_year"]) == {2025}
    rec = v.reconciliation()
    assert (rec["rows_in"] == rec["kept"] + rec["set_aside"]).all()


def test_tables_are_recognised_by_columns_not_names(tmp_path):
    write_csv(tmp_path / "2025" / "export_1.csv", HEADER + GOOD_HEADER[0] + "\n")
    write_csv(tmp_path / "2025" / "export_2.csv", EPISODES + GOOD_EPISODES[0].replace("10/08/2024,X1,CREQB", ",,") + "\n")
    write_csv(tmp_path / "2025" / "notes.csv", "what,when\nx,y\n")
    v = ssda903.read_returns(tmp_path)
    assert set(v.tables) == {"header", "episodes"}
    assert any("notes.csv: not a 903 table" in s for s in v.skipped), v.skipped


def test_bom_windows_1252_case_spaces_blank_lines_extra_columns_and_semicolons(tmp_path):
    d = tmp_path / "lac2024_25"
    text = "\ufeff child , Sex ,DOB,ETHNIC,UPN,MOTHER,MC_DOB, Notes\n\nA1,M,01/06/2012,WBRI,,,,Zoë\n\n"
    (d).mkdir(parents=True)
    (d / "header.csv").write_bytes(text.replace("\ufeff", "").encode("cp1252"))
    write_csv(
        d / "episodes.csv",
        EPISODES.replace(",", ";") + GOOD_EPISODES[1].replace(",", ";").replace("10/08/2024", "01/05/2024").replace(";P;", ";S;") + "\n",
    )
    v = ssda903.read_returns(tmp_path)
    assert v.tables["header"]["CHILD"].tolist() == ["A1"]
    notes = " ".join(f["notes"] for f in v.files)
    assert "cp1252" in notes and "semicolon" in notes and "NOTES" in notes
    assert v.tables["episodes"]["collection_year"].tolist() == [2025]


def test_xlsx_returns_are_read_sheet_by_sheet(tmp_path):
    d = tmp_path / "2024-25"
    d.mkdir()
    with pd.ExcelWriter(d / "return.xlsx") as w:
        pd.DataFrame([x.split(",") for x in GOOD_HEADER], columns=HEADER.strip().split(",")).to_excel(w, sheet_name="Header", index=False)
        eps = pd.DataFrame([x.split(",") for x in GOOD_EPISODES], columns=EPISODES.strip().split(","))
        eps["DECOM"] = pd.to_datetime(eps["DECOM"], format="%d/%m/%Y")  # Excel stores real dates
        eps.to_excel(w, sheet_name="Episodes", index=False)
    v = ssda903.read_returns(tmp_path)
    assert v.set_aside.empty, v.set_aside
    assert v.tables["episodes"]["DECOM"].tolist()[0] == "01/05/2024"
    assert v.tables["episodes"]["_file"].iloc[0].endswith("return.xlsx[Episodes]")


@pytest.mark.parametrize(
    "row,column,reason",
    [
        ("A1,31/02/2025,S,C2,N1,U6,PR1,,,,,,", "DECOM", "not a date"),
        ("A1,01/05/2024,S,C2,N1,U6,PR1,01/04/2024,E8,,,,", "DEC", "before it starts"),
        ("A1,01/05/2024,S,C9,N1,U6,PR1,,,,,,", "LS", "not a valid code"),
        ("A1,01/05/2024,S,C2,N1,P2,PR4,,,,,,", "PLACE", "not valid for an episode starting"),
        ("A1,01/05/2024,S,C2,N1,U6,PR1,01/06/2024,X1,BORED,,,", "REASON_PLACE_CHANGE", "not a valid code"),
        ("A1,01/05/2026,S,C2,N1,U6,PR1,,,,,,", "DECOM", "after the end of the collection year"),
        ("A1,01/05/2011,S,C2,N1,U6,PR1,01/06/2011,E8,,,,", "DECOM", "before the child's date of birth"),
        ("ZZ,01/05/2024,S,C2,N1,U6,PR1,,,,,,", "CHILD", "no header row"),
    ],
)
def test_bad_episode_rows_are_set_aside_with_file_row_column_and_reason(tmp_path, row, column, reason):
    v = ssda903.read_returns(_return(tmp_path, GOOD_HEADER, [row, GOOD_EPISODES[2]]).parent)
    aside = v.set_aside
    assert len(aside) == 1, aside
    assert aside["file"].iloc[0].endswith("2024-25/episodes.csv") and aside["row"].iloc[0] == 2
    assert aside["column"].iloc[0] == column and reason in aside["reason"].iloc[0]
    rec = v.reconciliation().set_index("table").loc["episodes"]
    assert (rec["rows_in"], rec["kept"], rec["set_aside"]) == (2, 1, 1)


@pytest.mark.parametrize("provider,reason", [("PR4", "PR4 is not valid with placement P1"), ("", "placement provider is blank")])
def test_a_provider_that_does_not_fit_is_kept_with_a_flag(tmp_path, provider, reason):
    """The placement is usable (its provider is unknown, as DfE's 'provider not reported'): kept and flagged."""
    v = ssda903.read_returns(_return(tmp_path, GOOD_HEADER, [f"A1,01/05/2024,S,C2,N1,P1,{provider},,,,,,", GOOD_EPISODES[2]]).parent)
    assert v.set_aside.empty
    w = v.warnings[v.warnings["column"] == "PLACE_PROVIDER"]
    assert len(w) == 1 and reason in w["reason"].iloc[0] and "kept" in w["reason"].iloc[0]
    rec = v.reconciliation().set_index("table").loc["episodes"]
    assert (rec["rows_in"], rec["kept"], rec["set_aside"]) == (2, 2, 0)


def test_sex_codes_follow_the_collection_year(tmp_path):
    _return(tmp_path, ["A1,1,01/06/2012,WBRI,,,"], ["A1,01/05/2023,S,C2,N1,U6,PR1,,,,,,"], year="2023-24")
    _return(tmp_path, ["A1,1,01/06/2012,WBRI,,,"], ["A1,01/05/2023,S,C2,N1,U6,PR1,,,,,,"], year="2024-25")
    v = ssda903.read_returns(tmp_path)
    assert v.set_aside[v.set_aside["table"] == "header"]["collection_year"].tolist() == [2025]
    assert "SEX is not a 2025 code" in v.set_aside["reason"].iloc[0]


def test_k3_and_z11_only_from_their_first_year(tmp_path):
    _return(tmp_path, ["A1,1,01/06/2012,WBRI,,,"], ["A1,01/05/2023,S,C2,N1,K3,PR4,,,,,,"], year="2023-24")
    _return(tmp_path / "b", GOOD_HEADER, ["A1,01/05/2024,S,C2,N1,K3,PR4,,,,,,"], year="2024-25")
    assert len(ssda903.read_returns(tmp_path / "2023-24").set_aside) == 1
    assert ssda903.read_returns(tmp_path / "b").set_aside.empty


def test_duplicates_and_overlaps(tmp_path):
    rows = [
        "A1,01/05/2024,S,C2,N1,U6,PR1,10/08/2024,X1,CREQB,,,",
        "A1,01/05/2024,S,C2,N1,U6,PR1,10/08/2024,X1,CREQB,,,",  # exact duplicate
        "A1,01/08/2024,P,C2,N1,K2,PR4,,,,,,",  # starts before the first ends
    ]
    v = ssda903.read_returns(_return(tmp_path, GOOD_HEADER, rows).parent)
    reasons = dict(zip(v.set_aside["row"], v.set_aside["reason"]))
    assert reasons[3] == "duplicate of row 2"
    assert reasons[4].startswith("starts before the previous episode (row 2)")
    assert len(v.tables["episodes"]) == 1


def test_missing_reason_for_placement_change_is_a_warning_not_a_loss(tmp_path):
    rows = ["A1,01/05/2024,S,C2,N1,U6,PR1,10/08/2024,X1,,,,", "A1,10/08/2024,P,C2,N1,K2,PR4,,,,,,"]
    v = ssda903.read_returns(_return(tmp_path, GOOD_HEADER, rows).parent)
    assert v.set_aside.empty and len(v.tables["episodes"]) == 2
    own = v.warnings[~v.warnings["reason"].str.startswith(("DfE rule 392b", "DfE rule 442"))]  # (no postcodes, no UPN here)
    assert own["reason"].tolist() == ["blank, but the next episode is a placement change"]


@pytest.mark.parametrize("content", ["", "\n", "\n\n", "  \r\n"])
def test_an_empty_table_is_a_note_never_a_stop(tmp_path, content):
    """cs-demand-model's sample ships ad1.csv and placed_for_adoption.csv as one newline: an empty table is noted
    and the rest of the return is read."""
    folder = _return(tmp_path, GOOD_HEADER, GOOD_EPISODES)
    write_csv(folder / "ad1.csv", content)
    write_csv(folder / "placed_for_adoption.csv", content)
    v = ssda903.read_returns(tmp_path)
    assert len(v.tables["episodes"]) == 3 and v.set_aside.empty
    assert sum("an empty table" in s and ("ad1.csv" in s or "placed_for_adoption.csv" in s) for s in v.skipped) == 2, v.skipped


def test_a_return_of_empty_files_names_what_is_missing(tmp_path):
    write_csv(tmp_path / "2025" / "episodes.csv", "")
    with pytest.raises(InputError) as err:
        ssda903.read_returns(tmp_path)
    assert "episodes.csv" in str(err.value) and "empty" in str(err.value)


def test_a_ragged_row_is_named(tmp_path):
    write_csv(tmp_path / "2025" / "header.csv", HEADER + "A1,M,01/06/2012,WBRI,,,,,surplus\n")
    with pytest.raises(InputError, match="row 2"):
        ssda903.read_returns(tmp_path)


def test_a_file_with_no_year_takes_the_year_of_its_episodes(tmp_path):
    write_csv(tmp_path / "export" / "a.csv", HEADER + GOOD_HEADER[0] + "\n")
    write_csv(tmp_path / "export" / "b.csv", EPISODES + GOOD_EPISODES[0] + "\n")
    v = ssda903.read_returns(tmp_path)
    assert set(v.tables["header"]["collection_year"]) == {2025}


def test_collection_year_from_paths():
    from pathlib import Path

    assert ssda903.collection_year_from_path(Path("2024-25/episodes.csv")) == 2025
    assert ssda903.collection_year_from_path(Path("lac2019_20/x.csv")) == 2020
    assert ssda903.collection_year_from_path(Path("returns/2023/header.csv")) == 2023
    assert ssda903.collection_year_from_path(Path("header.csv")) is None


def test_stitching_prefers_the_later_return_and_closes_superseded_open_episodes(tmp_path):
    # 2023-24 return: one episode open at 31 March 2024 (no reason yet)
    _return(tmp_path, GOOD_HEADER, ["A1,01/05/2023,S,C2,N1,U6,PR1,,,,,,"], year="2023-24".replace("2023-24", "2023-24"))
    (tmp_path / "2023-24" / "header.csv").write_text(HEADER + "A1,1,01/06/2012,WBRI,,,\n")
    # 2024-25 return restates it with its end and the reason, then the next placement
    _return(tmp_path, GOOD_HEADER, ["A1,01/05/2023,S,C2,N1,U6,PR1,10/08/2024,X1,CREQB,,,", "A1,10/08/2024,P,C2,N1,K2,PR4,,,,,,"])
    v = ssda903.read_returns(tmp_path)
    s = ssda903.stitch(v)
    eps = s["episodes"]
    assert len(eps) == 2
    first = eps.iloc[0]
    assert (first["DEC"], first["REC"], first["REASON_PLACE_CHANGE"], first["collection_year"]) == ("10/08/2024", "X1", "CREQB", 2025)
    assert s["header"].set_index("CHILD").at["A1", "SEX"] == "M"  # the later return's code


def test_empty_trailing_values_are_tolerated(tmp_path):
    write_csv(tmp_path / "2025" / "header.csv", HEADER + "A1,M,01/06/2012,WBRI,,,,,\n")
    write_csv(tmp_path / "2025" / "episodes.csv", EPISODES + GOOD_EPISODES[0] + "\n")
    v = ssda903.read_returns(tmp_path)
    assert v.tables["header"]["CHILD"].tolist() == ["A1"]


# --- the fast (Arrow) reader and the careful reader must agree ---------------------------------------
PLAIN_FILES = {
    "plain": HEADER + "".join(r + "\n" for r in GOOD_HEADER),
    "spaces_case_and_trailing_comma": " child , Sex ,DOB,ETHNIC,UPN,MOTHER,MC_DOB,\n A1 ,m,01/06/2012,WBRI,,,,\n,,,,,,,\n",
    "semicolons_and_crlf": HEADER.replace(",", ";").replace("\n", "\r\n") + GOOD_HEADER[0].replace(",", ";") + "\r\n",
    "quoted_comma": HEADER + '"A,1",M,01/06/2012,WBRI,,,\n',
}


@pytest.mark.parametrize("name", sorted(PLAIN_FILES))
def test_the_fast_reader_gives_what_the_careful_reader_gives(tmp_path, monkeypatch, name):
    path = tmp_path / "header.csv"
    path.write_text(PLAIN_FILES[name], encoding="utf-8", newline="")
    fast, fast_notes = ssda903.read_csv_text(path)
    assert ssda903._read_csv_fast(PLAIN_FILES[name]) is not None, "this file should take the fast path"
    monkeypatch.setattr(ssda903_read, "_read_csv_fast", lambda text: None)
    careful, careful_notes = ssda903.read_csv_text(path)
    pd.testing.assert_frame_equal(fast, careful)
    assert fast_notes == careful_notes


@pytest.mark.parametrize(
    "body",
    [
        HEADER + GOOD_HEADER[0] + "\n\n" + GOOD_HEADER[1] + "\n",  # a blank line before later rows: line numbers would slip
        HEADER.replace("\n", "\r") + GOOD_HEADER[0] + "\r",  # old Mac line breaks
        HEADER + GOOD_HEADER[0] + ",surplus\n",  # a row wider than the header
        "CHILD,CHILD,SEX,DOB,ETHNIC\nA1,A1,M,01/06/2012,WBRI\n",  # repeated column names
        "\n" + HEADER + GOOD_HEADER[0] + "\n",  # blank lines before the header
    ],
)
def test_files_that_are_not_plain_take_the_careful_reader(body):
    assert ssda903._read_csv_fast(body) is None


def test_a_bad_row_after_a_blank_line_is_named_by_its_line_in_the_file(tmp_path):
    rows = [GOOD_EPISODES[0], "", "A2,03/03/2025,S,C9,N4,U3,PR1,,,,,,"]
    v = ssda903.read_returns(_return(tmp_path, GOOD_HEADER, rows).parent)
    assert v.set_aside[["row", "column"]].values.tolist() == [[4, "LS"]]


def test_reasons_quote_the_failing_value():
    df = pd.DataFrame({"_file": ["f.csv"] * 3, "_row": [2, 3, 4], "RNE": ["S", "Q", "Z"], "DECOM": ["01/05/2024"] * 3})
    c = ssda903._Checks(df)
    c.add(df["RNE"].isin(["Q", "Z"]), "RNE", "RNE '{RNE}' is not valid on {DECOM}")
    c.add(df["RNE"].eq("Z"), "RNE", "second reason")
    kept, aside = c.split("episodes", 2025)
    assert kept["_row"].tolist() == [2]
    assert aside["reason"].tolist() == ["RNE 'Q' is not valid on 01/05/2024", "RNE 'Z' is not valid on 01/05/2024; second reason"]
    assert aside["value"].tolist() == ["Q", "Z"]


def test_stitching_many_children_keeps_each_childs_latest_rows_in_order(tmp_path):
    header = ["B2,M,01/06/2012,WBRI,,,", "A1,F,15/01/2018,MWBC,,,", "C3,M,01/01/2015,WBRI,,,"]
    numeric_sex = [h.replace(",M,", ",1,").replace(",F,", ",2,") for h in header]  # SEX was 1/2 until 2023-24
    _return(
        tmp_path,
        numeric_sex,
        ["C3,01/05/2023,S,C2,N1,U6,PR1,,,,,,", "B2,01/06/2023,S,C2,N1,U6,PR1,,,,,,", "A1,01/07/2023,S,C2,N1,U6,PR1,,,,,,"],
        year="2023-24",
    )
    _return(
        tmp_path,
        header,
        [
            "B2,01/06/2023,S,C2,N1,U6,PR1,01/09/2024,E8,,,,",
            "A1,01/07/2023,S,C2,N1,U6,PR1,01/08/2024,X1,CREQB,,,",
            "A1,01/08/2024,P,C2,N1,K2,PR4,,,,,,",
        ],
    )
    eps = ssda903.stitch(ssda903.read_returns(tmp_path))["episodes"]
    assert eps[["CHILD", "DECOM", "DEC", "REC", "collection_year", "closed_by_stitch"]].values.tolist() == [
        ["A1", "01/07/2023", "01/08/2024", "X1", 2025, False],
        ["A1", "01/08/2024", "", "", 2025, False],
        ["B2", "01/06/2023", "01/09/2024", "E8", 2025, False],
        ["C3", "01/05/2023", "", "", 2024, False],  # not restated and nothing follows: stays open
    ]


def test_a_repeated_row_in_another_table_is_set_aside_once(tmp_path):
    d = _return(tmp_path, GOOD_HEADER, GOOD_EPISODES)
    write_csv(
        d / "missing.csv",
        "CHILD,DOB,MISSING,MIS_START,MIS_END\n"
        "A1,01/06/2012,M,01/06/2024,02/06/2024\n"
        "A1,01/06/2012,M,05/06/2024,06/06/2024\n"  # same child, another episode: kept
        "A1,01/06/2012,M,01/06/2024,02/06/2024\n"  # exact repeat of row 2
        "A2,15/01/2018,A,01/06/2024,02/06/2024\n",
    )
    v = ssda903.read_returns(d.parent)
    aside = v.set_aside[v.set_aside["table"] == "missing"]
    assert aside[["row", "reason"]].values.tolist() == [[4, "duplicate row"]]
    assert len(v.tables["missing"]) == 3


def test_a_header_only_table_is_read_as_a_table_with_no_rows(tmp_path):
    folder = _return(tmp_path, GOOD_HEADER, GOOD_EPISODES)
    write_csv(folder / "ad1.csv", "CHILD,DOB,DATE_INT,DATE_MATCH,FOSTER_CARE,NB_ADOPTR,SEX_ADOPTR,LS_ADOPTR\n")
    v = ssda903.read_returns(tmp_path)
    assert len(v.tables["episodes"]) == 3 and v.set_aside.empty
    rec = v.reconciliation()
    ad1 = rec[rec["table"] == "ad1"]
    assert ad1["rows_in"].sum() == 0 and (rec["rows_in"] == rec["kept"] + rec["set_aside"]).all()
