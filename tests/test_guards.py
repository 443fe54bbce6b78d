"""Guards on the 903 path (issue 14, item 4 and the bad-input corpus): every fault gives one clear
line or a flagged row, never a traceback or a silent drop, and rows in are counted from the file's
physical lines."""

import json
import sys

import pandas as pd
import pytest
from conftest import write_csv

from analysis.errors import InputError
from analysis.io import ingest903, ssda903

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from test_ssda903 import EPISODES, GOOD_EPISODES, GOOD_HEADER, HEADER, _return  # noqa: E402


def _many_episodes(n: int) -> list[str]:
    return [f"B{i},01/05/2024,S,C2,N1,U6,PR1,,,,TS18 1AA,TS19 2BB,SC123456" for i in range(n)]


def test_a_stray_quote_swallows_no_rows(tmp_path):
    rows = _many_episodes(8)
    rows[3] = rows[3].replace(",S,", ',"S,', 1)  # line 5 of the file: a quote that is never closed
    folder = _return(tmp_path, [f"B{i},M,01/06/2012,WBRI,,," for i in range(8)], rows).parent
    v = ssda903.read_returns(folder)
    rec = v.reconciliation()
    eps = rec[rec["table"] == "episodes"].iloc[0]
    assert eps["rows_in"] == 8 and eps["kept"] == 7 and eps["set_aside"] == 1, "rows in = the file's 8 data lines"
    assert "line 5: a double quote that is never closed" in eps["notes"]
    aside = v.set_aside.iloc[0]
    assert aside["row"] == 5 and aside["column"] == "RNE" and "'\"S'" in aside["reason"]


def test_a_header_and_rows_with_different_delimiters_are_each_read_with_their_own(tmp_path):
    d = tmp_path / "2024-25"
    write_csv(d / "header.csv", HEADER + "".join(r + "\n" for r in GOOD_HEADER))
    write_csv(d / "episodes.csv", EPISODES + "".join(r.replace(",", ";") + "\n" for r in GOOD_EPISODES))
    v = ssda903.read_returns(tmp_path)
    assert len(v.tables["episodes"]) == 3 and v.set_aside.empty
    assert any("the header is comma-separated but the rows are semicolon-separated" in f["notes"] for f in v.files)


def test_utf16_files_are_read(tmp_path):
    d = tmp_path / "2024-25"
    d.mkdir(parents=True)
    (d / "header.csv").write_bytes((HEADER + "".join(r + "\n" for r in GOOD_HEADER)).encode("utf-16"))
    write_csv(d / "episodes.csv", EPISODES + "".join(r + "\n" for r in GOOD_EPISODES))
    v = ssda903.read_returns(tmp_path)
    assert v.tables["header"]["CHILD"].tolist() == ["A1", "A2"]
    assert any("UTF-16" in f["notes"] for f in v.files)


def test_a_table_missing_a_key_column_is_named_with_what_it_lacks(tmp_path):
    d = tmp_path / "2024-25"
    write_csv(d / "header.csv", HEADER + "".join(r + "\n" for r in GOOD_HEADER))
    no_place = EPISODES.replace("PLACE,", "") + "".join(",".join(v for i, v in enumerate(r.split(",")) if i != 5) + "\n" for r in GOOD_EPISODES)
    write_csv(d / "episodes.csv", no_place)
    v = ssda903.read_returns(tmp_path)
    assert any("episodes.csv: looks like the episodes table but has no PLACE column" in s for s in v.skipped), v.skipped
    assert ssda903.missing_tables(v) == ["episodes"]
    assert "has no PLACE column" in ssda903.why_missing(v, "episodes")


def test_a_table_whose_rows_all_fail_says_which_file_and_why(tmp_path):
    bad = [r.replace(",S,", ",Q,").replace(",P,", ",Q,") for r in GOOD_EPISODES]
    v = ssda903.read_returns(_return(tmp_path, GOOD_HEADER, bad).parent)
    why = ssda903.why_missing(v, "episodes")
    assert why.startswith("nothing usable in episodes: 3 row(s) read from") and "episodes.csv" in why and "RNE 'Q'" in why


def test_a_huge_field_is_not_echoed_whole():
    big = "X" * 100_000
    c = ssda903._Checks(pd.DataFrame({"RNE": [big]}))
    c.add(pd.Series([True]), "RNE", "RNE '{RNE}' is not a valid code")
    reason = c.reasons[0][0][1]
    assert len(reason) < 120 and "(100,000 characters)" in reason


def test_files_that_are_not_read_are_listed(tmp_path):
    folder = _return(tmp_path, GOOD_HEADER, GOOD_EPISODES).parent
    (folder / "2023-24.zip").write_bytes(b"PK\x03\x04 broken")
    (folder / "submission.xml").write_text("<Message/>")
    v = ssda903.read_returns(folder)
    assert any(s.endswith("2023-24.zip: not a readable zip archive") for s in v.skipped), v.skipped
    assert any("submission.xml: an XML file with no CHILD elements" in s for s in v.skipped), v.skipped


def _as_xml(folder, out):
    """A year's CSV return written as the DfE's XML submission (the layout of its schema, as the DfE
    validator reads it: CHILD > HEADER (+ UASC, DUC, nested OC2 and AMISSING) and EPISODE with PL)."""
    import xml.etree.ElementTree as ET

    read = lambda name: pd.read_csv(folder / f"{name}.csv", dtype=str, keep_default_na=False)  # noqa: E731
    header, episodes, uasc = read("header"), read("episodes"), read("uasc")
    oc2, missing = read("oc2"), read("missing")
    root = ET.Element("EXPSSDA903")
    for _, h in header.iterrows():
        c = ET.SubElement(root, "CHILD")
        hd = ET.SubElement(c, "HEADER")
        for col in ("CHILD", "UPN", "SEX", "DOB", "ETHNIC", "MOTHER", "MC_DOB"):
            ET.SubElement(hd, "CHILDID" if col == "CHILD" else col).text = h[col]
        u = uasc[uasc["CHILD"] == h["CHILD"]]
        if len(u):
            ET.SubElement(hd, "UASC").text = "1"
            ET.SubElement(hd, "DUC").text = u["DUC"].iloc[0]
        for _, o in oc2[oc2["CHILD"] == h["CHILD"]].iterrows():
            node = ET.SubElement(hd, "OC2")
            for col in oc2.columns.drop(["CHILD", "DOB"]):
                ET.SubElement(node, col).text = o[col]
        for _, m in missing[missing["CHILD"] == h["CHILD"]].iterrows():
            node = ET.SubElement(hd, "AMISSING")
            for col in ("MISSING", "MIS_START", "MIS_END"):
                ET.SubElement(node, col).text = m[col]
        for _, e in episodes[episodes["CHILD"] == h["CHILD"]].iterrows():
            node = ET.SubElement(c, "EPISODE")
            for col in episodes.columns.drop("CHILD"):
                ET.SubElement(node, "PL" if col == "PLACE" else col).text = e[col]
    out.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(out, xml_declaration=True, encoding="utf-8")


@pytest.mark.slow
def test_the_xml_submission_is_read_like_the_csv_files(project_903, tmp_path):
    """Two years of the synthetic return, one as CSV files and one as the DfE's XML: every table and
    row reads the same as from the CSV files."""
    import shutil

    from analysis.io import ingest903

    raw = ingest903.raw_903(project_903)
    for year in ("2023-24", "2024-25"):
        shutil.copytree(raw / year, tmp_path / "csv" / year)
    shutil.copytree(raw / "2023-24", tmp_path / "mixed" / "2023-24")
    _as_xml(raw / "2024-25", tmp_path / "mixed" / "2024-25" / "return.xml")
    a, b = ssda903.read_returns(tmp_path / "csv"), ssda903.read_returns(tmp_path / "mixed")
    assert not b.skipped and b.set_aside.empty
    for name in ("header", "episodes", "uasc", "oc2", "missing"):
        x = a.tables[name].drop(columns=["_file", "_row"]).sort_values(list(a.tables[name].columns.drop(["_file", "_row"]))).reset_index(drop=True)
        y = b.tables[name].drop(columns=["_file", "_row"])[x.columns].sort_values(list(x.columns)).reset_index(drop=True)
        pd.testing.assert_frame_equal(x, y, check_dtype=False, obj=name)
    files = b.reconciliation()
    assert files["file"].str.contains(r"return\.xml\[episodes\]").any()


def test_a_year_in_a_zip_archive_is_read(tmp_path):
    import zipfile

    _return(tmp_path / "returns", GOOD_HEADER, GOOD_EPISODES, year="2024-25")
    with zipfile.ZipFile(tmp_path / "returns" / "2023-24.zip", "w") as z:
        z.writestr("header.csv", HEADER + GOOD_HEADER[0].replace(",M,", ",1,") + "\n")
        z.writestr("episodes.csv", EPISODES + "A1,01/05/2023,S,C2,N1,U6,PR1,,,,TS18 1AA,TS19 2BB,SC123456\n")
    v = ssda903.read_returns(tmp_path / "returns")
    rec = v.reconciliation()
    assert set(rec["collection_year"]) == {2024, 2025}, rec
    assert any("2023-24.zip/episodes.csv" in f for f in rec["file"])
    assert v.set_aside.empty, v.set_aside


# --- the LA_CODE file ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def lookup(built):
    return pd.read_parquet(built[0].processed_public / "la_lookup.parquet")


@pytest.mark.parametrize("text,expected", [("E06000004\n", "E06000004"), ("808", "E06000004"), ("Stockton-on-Tees\n", "E06000004")])
def test_la_code_by_code_old_code_or_name(tmp_path, lookup, text, expected):
    (tmp_path / "LA_CODE").write_text(text)
    assert ingest903.la_of_returns(tmp_path, lookup) == (expected, True)


@pytest.mark.parametrize(
    "text,message",
    [
        ("", "the LA_CODE file is empty"),
        ("<script>alert(1)</script>", "names no current LA"),
        ("Stockten", "Closest matches: Stockton-on-Tees"),
        ("Z" * 5000, "names no current LA"),
    ],
)
def test_a_bad_la_code_file_is_one_clear_line(tmp_path, lookup, text, message):
    (tmp_path / "LA_CODE").write_text(text)
    with pytest.raises(InputError, match=message) as err:
        ingest903.la_of_returns(tmp_path, lookup)
    assert len(str(err.value)) < 400 and "LA_CODE" in str(err.value)


def test_without_a_lookup_an_la_code_must_look_like_one(tmp_path):
    (tmp_path / "LA_CODE").write_text("<script>")
    with pytest.raises(InputError, match="not an LA code"):
        ingest903.la_of_returns(tmp_path)


# --- damaged processed tables ---------------------------------------------------------------------------
def _damage(path):
    b = bytearray(path.read_bytes())
    b[len(b) // 2] ^= 0xFF
    path.write_bytes(bytes(b))


@pytest.mark.slow  # a whole 903 ingest again (make test-all, CI)
def test_a_damaged_903_table_is_refused_at_read_and_rebuilt_by_ingest(project_903, tmp_path):
    import shutil

    from conftest import make_project

    from analysis.config import paths as make_paths

    root = make_project(tmp_path / "p")
    shutil.copytree(project_903.processed_public, root / "data" / "processed" / "public")
    shutil.copytree(project_903.raw / "ssda903", root / "data" / "raw" / "ssda903")
    p = make_paths(root)
    key = "test-key-" + "0" * 24
    mp = pytest.MonkeyPatch()
    mp.setenv("ANALYSIS_PSEUDONYMISATION_KEY", key)
    try:
        assert ingest903.run_ingest_903(p).status == "built"
        stamp = json.loads((p.processed / "ssda903" / "_inputs.json").read_text())
        assert "placements.parquet" in stamp["outputs"]
        assert ingest903.run_ingest_903(p).status == "up to date"
        _damage(p.processed / "ssda903" / "placements.parquet")
        with pytest.raises(InputError, match=r"placements.parquet: is damaged .* `analysis ingest --force`"):
            ingest903.read_processed(p, ("placements",))
        rebuilt = ingest903.run_ingest_903(p)
        assert rebuilt.status == "built", "damage is detected: not 'up to date'"
        assert rebuilt.report["rebuilt_damaged"] == ["placements.parquet"], "and reported as such"
        assert ingest903.read_processed(p, ("placements",)).tables["placements"] is not None
        assert ingest903.run_ingest_903(p, force=True).status == "built"
    finally:
        mp.undo()


@pytest.mark.slow
def test_a_damaged_public_table_is_refused_and_rebuilt(tmp_path):
    from conftest import make_project

    from analysis.config import paths as make_paths
    from analysis.io.ingest import is_up_to_date, read_table, run_ingest

    p = make_paths(make_project(tmp_path / "p"))
    run_ingest(p)
    assert is_up_to_date(p)
    _damage(p.processed_public / "la_lookup.parquet")
    with pytest.raises(InputError, match="la_lookup.parquet: is damaged"):
        read_table(p, "la_lookup")
    assert not is_up_to_date(p)
    assert run_ingest(p).status == "built"
    assert len(read_table(p, "la_lookup")) > 150


def test_ingest_force_rebuilds_the_903_tables_too(monkeypatch):
    from analysis import cli

    seen = {}
    from analysis.io import ingest

    monkeypatch.setattr(ingest, "run_ingest", lambda p, force, progress=None: ingest.IngestResult("up to date", p.processed_public, {"files": {}}))

    def fake_903(p, *, force=False):
        seen["force"] = force
        return ingest903.Ingest903Result("up to date", p.processed, {})

    monkeypatch.setattr(ingest903, "run_ingest_903", fake_903)
    cli.main(["ingest", "--force"])
    assert seen["force"] is True


# --- a year given twice, conflicting dates of birth ------------------------------------------------------------
def test_a_year_supplied_twice_is_noted_and_its_repeated_rows_set_aside(tmp_path):
    _return(tmp_path, GOOD_HEADER, GOOD_EPISODES, year="2024-25")
    _return(tmp_path, GOOD_HEADER, GOOD_EPISODES[:2] + [GOOD_EPISODES[2].replace("03/03/2025", "04/03/2025")], year="2025")
    v = ssda903.read_returns(tmp_path)
    rec = v.reconciliation()
    eps = rec[rec["table"] == "episodes"].set_index("file")
    assert eps["rows_in"].sum() == 6 and eps["kept"].sum() == 4 and eps["set_aside"].sum() == 2
    assert (rec["rows_in"] == rec["kept"] + rec["set_aside"]).all()
    assert all("is supplied in 2 files" in n for n in eps["notes"])
    repeats = v.set_aside[v.set_aside["reason"].str.contains("is supplied twice")]
    assert len(repeats[repeats["table"] == "episodes"]) == 2
    assert all(f.endswith("2025/episodes.csv") or f.endswith("2025/header.csv") for f in repeats["file"])


def test_children_with_conflicting_dates_of_birth_are_counted(tmp_path):
    open_episode = "A1,01/05/2023,S,C2,N1,U6,PR1,,,,TS18 1AA,TS19 2BB,SC123456"
    _return(tmp_path, [GOOD_HEADER[0].replace(",M,", ",1,")], [open_episode], year="2023-24")  # SEX was 1/2 before 2025
    _return(tmp_path, [GOOD_HEADER[0].replace("01/06/2012", "02/06/2012")], [open_episode], year="2024-25")
    v = ssda903.read_returns(tmp_path)
    assert v.set_aside.empty, v.set_aside
    assert ssda903.conflicting_dobs(v) == 1
    assert ssda903.stitch(v)["header"]["DOB"].tolist() == ["02/06/2012"], "the latest return's date of birth is used"


# --- keep what can be used -----------------------------------------------------------------------------
def test_an_open_episode_with_a_reason_for_ending_is_kept_open_and_flagged(tmp_path):
    # DfE rule 148: REC without DEC. Setting the row aside made those children vanish from the stock
    row = "A1,01/05/2024,S,C2,N1,U6,PR1,,E8,,,,"
    v = ssda903.read_returns(_return(tmp_path, GOOD_HEADER, [row, GOOD_EPISODES[2]]).parent)
    assert v.set_aside.empty
    eps = v.tables["episodes"]
    kept = eps[eps["CHILD"] == "A1"].iloc[0]
    assert kept["DEC"] == "" and kept["REC"] == "", "still open, the stray reason blanked"
    flag = v.warnings[v.warnings["reason"].str.startswith("DfE rule 148")]
    assert len(flag) == 1 and flag["row"].iloc[0] == 2 and flag["value"].iloc[0] == "E8", "the value as found"


def test_a_review_recorded_after_the_year_end_is_kept_with_a_flag(tmp_path):
    folder = _return(tmp_path, GOOD_HEADER, GOOD_EPISODES)
    write_csv(folder / "reviews.csv", "CHILD,DOB,REVIEW,REVIEW_CODE\nA1,01/06/2012,15/04/2025,PN1\nA2,15/01/2018,10/03/2025,PN2\n")
    v = ssda903.read_returns(folder.parent)
    assert len(v.tables["reviews"]) == 2 and v.set_aside.empty
    assert v.warnings["reason"].str.contains("REVIEW is after the end of the collection year").sum() == 1


def test_a_folder_named_by_its_start_year_is_read_by_its_dates(tmp_path):
    # another tool's layout: a folder "2024" holding 2024-25's return (a lone year is read as the year ending 31 March)
    _return(tmp_path, GOOD_HEADER, GOOD_EPISODES, year="2024")
    v = ssda903.read_returns(tmp_path)
    assert v.set_aside.empty and set(v.tables["episodes"]["collection_year"]) == {2025}
    assert any("named as collection year 2023-24, but its episode dates are 2024-25's: read as 2024-25" in f["notes"] for f in v.files)
    kept_name = ssda903.read_returns(tmp_path, year_from="name")
    assert len(kept_name.set_aside) > 0, "with --year-from name the dates outside the named year are set aside, as before"
    assert any("kept as named" in f["notes"] for f in kept_name.files)


def test_the_ingest_report_counts_rows_by_rule_and_names_the_papers_they_could_move(tmp_path):
    bad = [GOOD_EPISODES[0].replace(",S,", ",Q,"), "A2,03/03/2025,S,V2,N4,U3,PR1,,E8,,TS17 5AA,TS17 6BB,SC111111"]
    v = ssda903.read_returns(_return(tmp_path, GOOD_HEADER, bad).parent)
    t = ssda903.rule_summary(v.set_aside, v.warnings).set_index("rule")
    assert t.loc["RNE … is not a valid code", "set aside"] == 1
    flagged = t.loc[[r for r in t.index if r.startswith("DfE rule 148")][0]]
    assert flagged["kept, flagged"] == 1 and flagged["set aside"] == 0
    assert flagged["papers reading the table"].startswith("02, 03, 04")
    assert (
        ingest903.report_markdown(
            {
                "la_code": "E06000004",
                "la_code_declared": True,
                "collection_years": [2025],
                "files": [],
                "rows_set_aside": 1,
                "warnings": 1,
                "episodes_after_stitching": 1,
                "children": 1,
                "placements": 1,
                "periods": 1,
                "episodes_closed_by_stitching": 0,
                "locations_derived_from_postcodes": 0,
                "placement_postcodes_not_found": 0,
                "skipped_files": [],
                "rules": t.reset_index().to_dict(orient="records"),
            }
        ).count("| episodes | ")
        == 2
    )


@pytest.mark.parametrize("others,n_own,warned", [(20, 80, True), (10, 80, False), (32, 742, True), (19, 2000, False)])
def test_children_with_homes_in_another_la_are_warned_of(others, n_own, warned):
    """20 or more children with homes in one other LA are named, whatever their share (32 of 774, Rutland's children
    in Stockton's return, went unremarked when 5% was also required)."""
    from analysis.io import geography

    directory = pd.DataFrame(
        {"easting": [445000.0, 428000.0], "northing": [518000.0, 514000.0], "ltla": ["E06000004", "E06000005"]}, index=pd.Index(["TS181AA", "DL11AA"])
    )
    children = pd.Series([f"C{i}" for i in range(n_own + others)])
    homes = pd.Series(["TS181AA"] * n_own + ["DL11AA"] * others)
    out = geography.other_la_homes(children, homes, "E06000004", directory, {"E06000004": "E06000004", "E06000005": "E06000005"})
    assert bool(out) == warned
    if warned:
        assert out == [
            f"{others} of {n_own + others} children have a home postcode in E06000005, not E06000004: "
            "check that another LA's returns are not mixed in"
        ]


@pytest.mark.slow
def test_one_multi_year_file_per_table_reads_as_the_yearly_returns(project_903, tmp_path, monkeypatch):
    """Some tools export one file per table for all years (the latest version of each episode): it is
    split into the yearly returns, and the stock, starts and ceased each year equal the yearly files'."""
    import csv

    from analysis.io import stock

    monkeypatch.setenv("ANALYSIS_PSEUDONYMISATION_KEY", "k" * 32)
    raw = ingest903.raw_903(project_903)
    out = tmp_path / "multi" / "all"
    out.mkdir(parents=True)
    for table, key in (("header", 1), ("episodes", 2), ("uasc", 1), ("missing", 4)):
        rows, head = {}, None
        for f in sorted(raw.glob(f"*/{table}.csv")):
            lines = list(csv.reader(open(f)))
            head = lines[0]
            for r in lines[1:]:
                rows[tuple(r[:key])] = r  # the latest return's version of each record
        with open(out / f"{table}.csv", "w", newline="") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(head)
            w.writerows(rows.values())
    (tmp_path / "multi" / "LA_CODE").write_text((raw / "LA_CODE").read_text())
    years = list(range(2016, 2026))
    counts = []
    for folder in (raw, tmp_path / "multi"):
        tables, report = ingest903.build(project_903, folder)
        got = stock.characteristics(tables["episodes"], tables["children"], years)
        counts.append(got[got["dimension"].isin(["count", "placement", "legal"])].set_index(["year", "dimension", "category"])["number"])
        if folder != raw:
            assert report["rows_set_aside"] == 0
            assert any("one file for several collection years" in f["notes"] for f in report["files"])
    pd.testing.assert_series_equal(counts[0], counts[1])


def test_a_stray_nul_byte_is_removed_and_its_line_named(tmp_path):
    """One NUL byte in a UTF-8 episodes file made the reader call it UTF-16 and refuse it whole."""
    write_csv(tmp_path / "2024-25" / "header.csv", HEADER + "A1,M,01/06/2012,WBRI,A123456789012,,\n")
    body = EPISODES + "A1,01/05/2024,S,C2,N1,U6,PR1,,,,TS18 1AA,TS19 2BB,SC123456\n"
    (tmp_path / "2024-25").mkdir(exist_ok=True)
    (tmp_path / "2024-25" / "episodes.csv").write_bytes(body.replace("S,C2", "S,C\x002").encode("utf-8"))  # a NUL inside LS on line 2
    v = ssda903.read_returns(tmp_path)
    assert len(v.tables["episodes"]) == 1 and v.set_aside.empty
    notes = " ".join(v.reconciliation()["notes"])
    assert "stray NUL byte(s) removed on line(s) 2" in notes


def test_a_long_upn_and_a_malformed_postcode_are_flagged_at_their_row(tmp_path):
    """A 1 MB UPN was kept without a word, and "NOT A POSTCODE" silently lost the distance: each is flagged (kept),
    with its DfE rule, file, row and column."""
    write_csv(tmp_path / "2024-25" / "header.csv", HEADER + "A1,M,01/06/2012,WBRI," + "9" * 1_000_000 + ",,\nA2,F,15/01/2018,MWBC,UN1,,\n")
    write_csv(
        tmp_path / "2024-25" / "episodes.csv",
        EPISODES + "A1,01/05/2024,S,C2,N1,U6,PR1,,,,TS18 1AA,NOT A POSTCODE,SC123456\nA2,03/03/2025,S,V2,N4,U3,PR1,,,,TS17 5AA,TS17 6BB,SC111111\n",
    )
    v = ssda903.read_returns(tmp_path)
    assert v.set_aside.empty, "flagged, not set aside"
    w = v.warnings
    upn = w[w["reason"].str.startswith("DfE rule 168")]
    assert upn[["column", "row"]].values.tolist() == [["UPN", 2]] and upn["file"].iloc[0].endswith("header.csv")
    assert len(upn["value"].iloc[0]) <= 40, "a huge value is never echoed whole"
    post = w[w["reason"].str.startswith("DfE rule 392c")]
    assert post[["column", "row", "value"]].values.tolist() == [["PL_POST", 2, "NOT A POSTCODE"]]


@pytest.mark.parametrize("text", ["", "junk"])
def test_validate_applies_the_same_la_code_rule_as_ingest(tmp_path, text, capsys):
    """`analysis validate` accepted an empty or junk LA_CODE that `analysis ingest` refuses."""
    from analysis import cli

    folder = _return(tmp_path, GOOD_HEADER, GOOD_EPISODES).parent
    write_csv(folder / "LA_CODE", text)
    assert cli.main(["validate", str(folder)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "the LA_CODE file" in err and "Traceback" not in err
    with pytest.raises(InputError, match="the LA_CODE file"):  # ingest refuses it by the same rule
        ingest903.la_of_returns(folder, None)


@pytest.mark.slow  # 8-25 s: the full tier (make test-all, CI) runs it; the fast tier keeps one run of each paper
def test_the_ingest_summary_names_a_missing_column(project_903, tmp_path, capsys, monkeypatch):
    """A return without DEC set a third of its episodes aside as overlaps and the summary never said why."""
    import csv
    import shutil

    from conftest import make_project

    from analysis import cli
    from analysis.config import paths as make_paths

    root = make_project(tmp_path / "p")
    shutil.copytree(project_903.processed_public, root / "data" / "processed" / "public")
    shutil.copytree(project_903.raw / "ssda903", root / "data" / "raw" / "ssda903")
    f = root / "data" / "raw" / "ssda903" / "2024-25" / "episodes.csv"
    rows = list(csv.reader(f.open(newline="")))
    dec = rows[0].index("DEC")
    with f.open("w", newline="") as fh:
        csv.writer(fh).writerows([r[:dec] + r[dec + 1 :] for r in rows])
    monkeypatch.setenv("ANALYSIS_PSEUDONYMISATION_KEY", "test-key-" + "0" * 24)
    cli._cmd_ingest_903(make_paths(root))
    out = capsys.readouterr().out
    assert "2024-25/episodes.csv: column(s) missing, read as blank: DEC" in out and out.count("note:") >= 1, out


def test_a_date_in_the_future_in_loose_files_is_a_fault_not_a_new_year(tmp_path):
    """A DECOM typed as 2031 in loose files (no year folder) made collection years 2026 to 2031: it is now set aside by
    the latest year's checks, and the years stay those the other dates show."""
    header = HEADER + "A1,M,01/06/2012,WBRI,UN1,,\nA2,F,15/01/2018,MWBC,UN1,,\n"
    episodes = (
        EPISODES
        + "A1,01/05/2023,S,C2,N1,U6,PR1,10/08/2023,X1,CREQB,TS18 1AA,TS19 2BB,SC123456\n"
        + "A1,10/08/2023,P,C2,N1,K2,PR4,,,,TS18 1AA,DL1 1AA,SC654321\n"
        + "A2,03/03/2031,S,V2,N4,U3,PR1,,,,TS17 5AA,TS17 6BB,SC111111\n"
    )
    write_csv(tmp_path / "header.csv", header)
    write_csv(tmp_path / "episodes.csv", episodes)
    v = ssda903.read_returns(tmp_path)
    years = set(v.tables["episodes"]["collection_year"]) | set(v.set_aside["collection_year"])
    assert max(years) <= 2027, years
    bad = v.set_aside[v.set_aside["value"].astype(str).str.contains("2031")]
    assert len(bad) == 1 and bad["column"].iloc[0] == "DECOM" and bad["row"].iloc[0] == 4, v.set_aside
    rec = v.reconciliation()
    assert (rec["rows_in"] == rec["kept"] + rec["set_aside"]).all()


@pytest.mark.parametrize(
    "episodes,fault",
    [
        (EPISODES, "episodes.csv: no rows"),
        (EPISODES.replace("PLACE,", "") + "A1,01/05/2024,S,C2,N1,PR1,,,,TS18 1AA,TS19 2BB,SC123456\n", "no PLACE column"),
    ],
)
def test_when_the_year_cannot_be_told_the_real_fault_is_named_too(tmp_path, episodes, fault):
    """Loose files with a header-only episodes table, or one without PLACE, got only "cannot tell which collection year"."""
    write_csv(tmp_path / "header.csv", HEADER + "A1,M,01/06/2012,WBRI,UN1,,\n")
    write_csv(tmp_path / "episodes.csv", episodes)
    with pytest.raises(InputError) as err:
        ssda903.read_returns(tmp_path)
    assert "cannot tell which collection year" in str(err.value) and fault in str(err.value), str(err.value)


def test_a_year_supplied_twice_with_other_dates_of_birth_keeps_the_first_and_names_both(tmp_path):
    """The same year in two folders, the second with altered dates of birth: its header rows were kept and their
    (wrong) birth months used. The first copy stands; the contradicting rows are set aside naming both files."""
    _return(tmp_path / "a", GOOD_HEADER, GOOD_EPISODES)
    altered = [GOOD_HEADER[0].replace("01/06/2012", "01/06/2013"), GOOD_HEADER[1]]
    _return(tmp_path / "b", altered, GOOD_EPISODES)
    v = ssda903.read_returns(tmp_path)
    kept = v.tables["header"].set_index("CHILD")
    assert kept.at["A1", "DOB"] == "01/06/2012", "the first copy's date of birth"
    clash = v.set_aside[v.set_aside["reason"].str.contains("with another DOB")]
    assert len(clash) == 1 and clash["column"].iloc[0] == "DOB" and clash["row"].iloc[0] == 2
    assert "a/2024-25/header.csv" in clash["reason"].iloc[0] and "b/2024-25/header.csv" in clash["reason"].iloc[0]
    rec = v.reconciliation()
    assert (rec["rows_in"] == rec["kept"] + rec["set_aside"]).all()
