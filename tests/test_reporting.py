"""The publishing helper: disclosure control on every table, metrics, workbook, and the last
check that scans outputs for identifiers, postcodes, dates of birth and small counts."""

import json

import pandas as pd
import pytest

from analysis.errors import InputError
from analysis.report import metrics, reporting
from analysis.report.disclosure import SUPPRESSED


def _report(tmp_path, **kw):
    return reporting.Report(paper="99", title="Test paper", output_dir=tmp_path, context={"la_code": "E06000004"}, **kw)


def test_tables_pass_the_disclosure_gate_and_reach_the_workbook(tmp_path):
    r = _report(tmp_path)
    df = pd.DataFrame({"group": ["a", "b", "c"], "children": [12, 3, 40], "percent": [21.8, 5.5, 72.7]})
    r.table("counts", df, title="Children by group", counts=["children"], linked={"children": ["percent"]}, show=False)
    published = r.tables[0].frame
    assert published["children"].tolist() == [12, SUPPRESSED, 40]
    assert published["percent"].tolist()[1] == SUPPRESSED
    r.finish()
    sheet = pd.read_excel(tmp_path / reporting.WORKBOOK_FILE, sheet_name="counts", header=2)
    assert sheet["Children"].tolist() == [12, SUPPRESSED, 40], "headers are the reader's labels"
    about = pd.read_excel(tmp_path / reporting.WORKBOOK_FILE, sheet_name="About")
    assert "Symbols" in about["Item"].tolist()
    assert reporting.scan_outputs(tmp_path) == []


def test_metrics_json_records_values_and_suppresses_small_counts(tmp_path):
    r = _report(tmp_path)
    r.metric("rate", 125.0, unit="per 10,000", year=2025)
    r.metric("children_missing", 3, kind="count")
    r.metric("children", 564, kind="count")
    r.finish()
    m = json.loads((tmp_path / reporting.METRICS_FILE).read_text())
    assert m["paper"] == "99" and m["la_code"] == "E06000004"
    assert m["metrics"]["rate"] == {"value": 125.0, "kind": "value", "unit": "per 10,000", "year": 2025}
    assert m["metrics"]["children_missing"]["value"] == SUPPRESSED
    assert m["metrics"]["children"]["value"] == 564


def test_every_metric_has_one_shape_and_is_read_through_the_schema(tmp_path):
    run = tmp_path / "runs" / "20260101T000000Z-abcdef"
    out = metrics.output_folder(run, "99_test_paper", "E06000004")
    r = reporting.Report(paper="99", title="Test paper", output_dir=out, context={"la_code": "E06000004"})
    r.metric("source", "903")
    r.metric("by_type", {"foster": 1.5, "home": 4.2})
    r.metric("share", 12.5, unit="%")
    r.finish()
    assert metrics.run_folder(out) == run.resolve()
    doc = metrics.read(metrics.find(run, "99", "E06000004"))
    assert doc["schema"] == metrics.SCHEMA_VERSION
    assert all(set(m) >= {"value", "kind"} for m in doc["metrics"].values()), "one shape for every metric"
    assert metrics.value(doc, "source") == "903" and metrics.value(doc, "by_type") == {"foster": 1.5, "home": 4.2}
    assert metrics.entry(doc, "share") == {"value": 12.5, "kind": "value", "unit": "%"}
    assert metrics.value(doc, "absent") is None and metrics.value(None, "share") is None
    assert metrics.find(run, "98", "E06000004") is None


def test_metrics_from_another_schema_are_refused_clearly(tmp_path):
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps({"paper": "01", "metrics": {"x": 1}}))
    with pytest.raises(InputError, match="metrics schema None, expected 2: re-run the paper"):
        metrics.read(path)
    path.write_text("{not json")
    with pytest.raises(InputError, match="cannot read metrics"):
        metrics.read(path)


def test_without_an_output_dir_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = reporting.Report(paper="99", title="t")
    r.table("t", pd.DataFrame({"x": [1]}), title="t", show=False)
    assert r.finish() is None
    assert list(tmp_path.iterdir()) == []


def test_the_same_tables_give_the_same_workbook_bytes(tmp_path):
    df = pd.DataFrame({"a": [1.5, 2.0], "b": ["x", "y"]})
    for sub in ("one", "two"):
        r = _report(tmp_path / sub)
        r.table("t", df, title="t", show=False)
        r.finish()
    assert (tmp_path / "one" / reporting.WORKBOOK_FILE).read_bytes() == (tmp_path / "two" / reporting.WORKBOOK_FILE).read_bytes()


def test_a_table_name_cannot_be_used_twice(tmp_path):
    r = _report(tmp_path)
    r.table("t", pd.DataFrame({"x": [1]}), title="t", show=False)
    with pytest.raises(ValueError, match="used twice"):
        r.table("t", pd.DataFrame({"x": [1]}), title="t", show=False)


# --- the scan finds what must not be published -------------------------------------------------------
def _clean(tmp_path):
    r = _report(tmp_path)
    r.table("t", pd.DataFrame({"group": ["a", "b"], "children": [10, 20]}), title="t", counts=["children"], show=False)
    r.finish()
    (tmp_path / "report.html").write_text("<html><body><p>125 per 10,000 in 2025</p><img src='data:image/png;base64,SW1AAA1AA2BB'></body></html>")
    return tmp_path


def test_scan_passes_a_clean_folder_even_with_images(tmp_path):
    assert reporting.scan_outputs(_clean(tmp_path)) == []


@pytest.mark.parametrize("text,what", [("Placed at TS18 1AB", "postcode"), ("born 03/11/2012", "date")])
def test_scan_finds_postcodes_and_dates_in_the_html(tmp_path, text, what):
    folder = _clean(tmp_path)
    (folder / "report.html").write_text(f"<html><body><p>{text}</p></body></html>")
    problems = reporting.scan_outputs(folder)
    assert len(problems) == 1 and what in problems[0]


def test_scan_finds_an_identifier_column_and_an_unsuppressed_count_in_the_workbook(tmp_path):
    folder = _clean(tmp_path)
    bad = pd.DataFrame({"CHILD": ["A1", "A2"], "children": [10, 20]})
    # a workbook written without the gate: an identifier column, and a count of 2
    r = _report(folder)
    r.tables.append(reporting.PublishedTable("t", "t", pd.DataFrame({"group": ["a", "b"], "children": [10, 2]}), ("children",)))
    r.tables.append(reporting.PublishedTable("ids", "ids", bad, ()))
    r.finish()
    problems = reporting.scan_outputs(folder)
    assert any("identifier column 'CHILD'" in p for p in problems)
    assert any("column 'Children', row 5: a count of 2 is shown" in p for p in problems)


def test_scan_finds_an_unsuppressed_count_metric(tmp_path):
    folder = _clean(tmp_path)
    m = json.loads((folder / reporting.METRICS_FILE).read_text())
    m["metrics"]["missing"] = {"value": 2, "kind": "count"}
    (folder / reporting.METRICS_FILE).write_text(json.dumps(m))
    assert any("unsuppressed count of 2" in p for p in reporting.scan_outputs(folder))


def test_scan_copes_with_empty_cells_in_the_workbook(tmp_path):
    r = _report(tmp_path)
    r.table("t", pd.DataFrame({"area": ["a", "b"], "value": [1.5, float("nan")], "note": ["x", None]}), title="t", show=False)
    r.finish()
    assert reporting.scan_outputs(tmp_path) == []


def test_notes_become_sentences():
    assert reporting.sentences(["a note", "", "Another one."]) == "A note. Another one."
