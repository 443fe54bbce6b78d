"""Every paper on the smallest LAs, where disclosure bites: a synthetic 903 for Rutland (about 30
children looked after) and the Isles of Scilly (a handful), run through the runner as a council would.
Nothing published may hold a count of 1 to 4 or a figure that reveals one; every report says it is
synthetic; and a reader sees no NaN, None, raw column names or counts with decimals (checked in
headless Chromium, as a reader's browser shows the page)."""

from __future__ import annotations

import json
import os
import re
import shutil

import browser
import pandas as pd
import pytest
from conftest import environment, make_project

from analysis.config import paths as make_paths
from analysis.report import reporting
from analysis.report.disclosure import SUPPRESSED
from analysis.report.labels import COLUMN_LABELS
from analysis.run import runner

#: whole runs of every paper for the two smallest LAs: the slow tier (make test-all; CI)
pytestmark = pytest.mark.slow

SMALL_LAS = {"E06000017": "Rutland", "E06000053": "Isles of Scilly"}
PAPERS = ("01_compare_local_authorities", "02_placement_breakdown", "03_placement_costs", "04_sufficiency_pack", "05_local_supply")


@pytest.fixture(scope="module", params=list(SMALL_LAS))
def small_la(request, built, tmp_path_factory):
    """A project with one small LA's synthetic 903 ingested and all four papers run for it."""
    from analysis.io import ingest903
    from analysis.synth import synthetic

    code = request.param
    root = make_project(tmp_path_factory.mktemp(f"small_{code}"))
    shutil.copytree(built[0].processed_public, root / "data" / "processed" / "public")
    p = make_paths(root)
    with environment(ANALYSIS_PSEUDONYMISATION_KEY="test-key-" + "0" * 24, ANALYSIS_PROJECT_ROOT=str(root)):
        synthetic.generate(p, code, 1, p.raw / "ssda903", costs_dir=p.raw / "costs")
        ingest903.run_ingest_903(p)
        # a parameter of paper 04 alone, in a run that brings in 01-03: they keep their defaults (issue 24)
        result = runner.run(
            p,
            runner.select_papers(p, ["04"]),
            [(code, SMALL_LAS[code])],
            {"forecast_years": 4, "bootstrap": 20, "resamples": 50},
            progress=lambda m: None,
        )
    return p, code, result


def _folder(p, code, paper):
    return p.reports / "latest" / paper / code


def test_every_paper_runs_and_passes_the_scan(small_la):
    p, code, result = small_la
    assert result.exit_code == 0, [(r["paper"], r["error"]) for r in result.records if r["status"] != "ok"]
    for paper in PAPERS:
        assert reporting.scan_outputs(_folder(p, code, paper)) == [], paper


def test_no_count_of_one_to_four_in_any_workbook_count_column(small_la):
    p, code, _ = small_la
    for paper in PAPERS:
        meta = json.loads((_folder(p, code, paper) / "metrics.json").read_text())
        sheets = pd.read_excel(_folder(p, code, paper) / "tables.xlsx", sheet_name=None, header=None)
        for (name, t), raw in zip(meta["tables"].items(), (s for n, s in sheets.items() if n != "About")):
            _, sheet = reporting.sheet_table(raw)
            for col in t["count_headers"] if len(sheet) else []:
                small = [v for v in sheet[col] if isinstance(v, (int, float)) and 0 < v < 5]
                assert not small, (paper, name, col, small)


def test_forecasts_and_gaps_are_gated_as_counts(small_la):
    p, code, _ = small_la
    pack = _folder(p, code, "04_sufficiency_pack")
    meta = json.loads((pack / "metrics.json").read_text())
    if "forecast_by_group" not in meta["tables"]:
        pytest.skip("history too short for a forecast")
    years = {int(y) for v in meta["metrics"]["forecast_children"]["value"].values() for y in v}
    assert max(years) - min(years) == 3, "--param forecast_years=4 reached paper 04: four years ahead"
    assert set(meta["tables"]["forecast_by_group"]["count_columns"]) == {"children", "lower_80", "upper_80", "lower_95", "upper_95"}
    assert {"children_now", "in_own_provision_now"} <= set(meta["tables"]["gap"]["count_columns"])
    for years in meta["metrics"]["forecast_children"]["value"].values():
        for v in years.values():
            assert all(not (isinstance(x, (int, float)) and 0 < x < 5) for x in v.values()), v


def test_paper_02_metrics_hold_no_rate_that_its_table_suppresses(small_la):
    p, code, _ = small_la
    folder = _folder(p, code, "02_placement_breakdown")
    rates = pd.read_excel(folder / "tables.xlsx", sheet_name="rates", header=2)
    by_type = rates[rates["Grouped by"] == "Placement type"].set_index("Group")["Rate per 100 placement-years"]
    metric = json.loads((folder / "metrics.json").read_text())["metrics"]["rate_by_placement_type"]["value"]
    for group, value in metric.items():
        assert by_type[group] != SUPPRESSED and float(by_type[group]) == pytest.approx(value)
    assert not any(g in metric for g, v in by_type.items() if v == SUPPRESSED)


def test_every_report_and_sheet_says_it_is_synthetic(small_la):
    p, code, _ = small_la
    for paper in PAPERS[1:]:
        folder = _folder(p, code, paper)
        page = (folder / "report.html").read_text()
        assert 'class="synthetic-banner"' in page
        alts = re.findall(r'<img\b[^>]*\balt="([^"]*)"', page)
        if paper not in ("03_placement_costs", "05_local_supply"):  # charts of published figures (03 across LAs; 05's places) are not stamped
            assert all("synthetic data, not real children" in a for a in alts), (paper, "every chart of 903 data is stamped")
        sheets = pd.read_excel(folder / "tables.xlsx", sheet_name=None, header=None)
        for n, sheet in sheets.items():  # the mark follows the data: a sheet of published figures says so instead
            if n != "About":
                published = str(sheet.iloc[1, 0]).startswith("Source: published figures")
                assert str(sheet.iloc[0, 0]).startswith("SYNTHETIC DATA") != published, (paper, n)
    pdf = _folder(p, code, "04_sufficiency_pack") / "report.pdf"
    if runner.chromium() or os.environ.get("ANALYSIS_REQUIRE_BROWSER") == "1":
        from pypdf import PdfReader

        pages = PdfReader(str(pdf)).pages
        assert pdf.read_bytes()[:5] == b"%PDF-" and len(pages) > 1
        for i, page in enumerate(pages, start=1):
            text = " ".join(page.extract_text().split())  # pypdf may break a margin box's line anywhere
            assert "SYNTHETIC DATA" in text and f"Page {i} of {len(pages)}" in text, i
        box = pages[0].mediabox
        assert (round(float(box.width)), round(float(box.height))) == (595, 842), "A4"


# --- as a reader's browser shows it ----------------------------------------------------------------------
RAW_HEADER = re.compile(r"^[a-z0-9]+(?:_[a-z0-9]+)+$")
COUNT_WITH_DECIMALS = re.compile(r"^-?[\d,]+\.0+$")


def test_reports_read_plainly_in_chromium(small_la, driver):
    p, code, _ = small_la
    with browser.serve(p.reports) as base:
        for paper in PAPERS:
            driver.get(f"{base}/latest/{paper}/{code}/report.html")
            text = driver.execute_script("return document.body.innerText")
            bad = re.search(r".{0,60}\b(?:NaN|nan|None(?! of))\b.{0,20}", text)  # "None of the ..." is English
            assert not bad, (paper, bad and bad.group(0))
            tables = driver.execute_script(
                "return Array.from(document.querySelectorAll('table.published')).map(t => ({"
                "head: Array.from(t.querySelectorAll('thead th')).map(h => h.innerText.trim()),"
                "rows: Array.from(t.querySelectorAll('tbody tr')).map(r => Array.from(r.children).map(c => c.innerText.trim()))}))"
            )
            counts = set()
            meta = json.loads((_folder(p, code, paper) / "metrics.json").read_text())
            for t in meta["tables"].values():
                counts |= set(t["count_headers"])
            for t in tables:
                assert not [h for h in t["head"] if RAW_HEADER.match(h)], (paper, t["head"])
                for i, h in enumerate(t["head"]):
                    if h in counts:
                        assert not [r[i] for r in t["rows"] if COUNT_WITH_DECIMALS.match(r[i])], (paper, h)
            if paper != PAPERS[0]:
                banner = driver.execute_script(
                    "const b = document.querySelector('.synthetic-banner'); return b && b.getBoundingClientRect().top < 200 ? b.innerText : null"
                )
                assert banner and "SYNTHETIC DATA" in banner, paper
            assert browser.page_errors(driver) == []


def test_labels_are_plain_words():
    assert not [v for v in COLUMN_LABELS.values() if RAW_HEADER.match(v)]
