"""What a commissioner reads, cell by cell: the default run (Stockton-on-Tees, synthetic 903) and a published-only
LA (Rutland, whose 903 this project does not hold), papers 01-04 through the runner. Every workbook and HTML
table header is a reader's label, no year carries a thousands separator, no cell says NaN or None, no number in
a workbook is unrounded, and the scan (across sheets and metrics too) finds nothing."""

from __future__ import annotations

import html
import json
import re

import pandas as pd
import pytest
from conftest import environment, make_run_project

from analysis.config import paths as make_paths
from analysis.report import reporting
from analysis.run import runner

pytestmark = pytest.mark.slow

LAS = {"E06000004": "Stockton-on-Tees", "E06000017": "Rutland"}
RAW_HEADER = re.compile(r"^[a-z0-9]+(?:_[a-z0-9]+)+$|^[a-z]+[0-9]$")
#: a year written with a thousands separator, where words place a year ("March 2,023", "Prices of 2,017"); a count of
#: 2,000 resamples is not one
YEAR_WITH_SEPARATOR = re.compile(r"\b(?:March|April|in|of|from|to|since|until|year|years|at|by)\s+(?:1,9|2,0)\d\d\b(?![\d,])")
YEAR_HEADER = re.compile(r"year|prices of|forecast made at|origin", re.IGNORECASE)
NAN_WORDS = re.compile(r"\b(?:NaN|nan|None)\b(?! of)")


@pytest.fixture(scope="module")
def both(built, project_903, tmp_path_factory):
    root = make_run_project(tmp_path_factory.mktemp("plain"), built[0], with_903=project_903)
    p = make_paths(root)
    with environment(ANALYSIS_PSEUDONYMISATION_KEY="test-key-" + "0" * 24, ANALYSIS_PROJECT_ROOT=str(root)):
        # few resamples (what is checked is how every figure reads, not its interval): a quick run, said so in each report
        result = runner.run(
            p, runner.select_papers(p, ["04"]), list(LAS.items()), {"bootstrap": 20, "resamples": 50}, workers=2, progress=lambda m: None
        )
    return p, result


def _folders(p):
    return sorted(f for f in (p.reports / "latest").glob("*/*") if f.is_dir())


def test_the_runs_succeed_and_the_scan_finds_nothing(both):
    p, result = both
    assert result.exit_code == 0, [(r["paper"], r["la_name"], r["error"]) for r in result.failed]
    folders = _folders(p)
    assert len(folders) == 9, folders  # papers 01, 03, 04 and 05 for both LAs; 02 needs the LA's own 903: Stockton only
    for folder in folders:
        assert reporting.scan_outputs(folder) == [], folder


def test_both_packs_open_with_sufficiency_at_a_glance_from_paper_05(both):
    """Stockton (its 903) and Rutland (published figures only): the pack's first section is paper 05's
    glance, with its figures as paper 05 printed them and each figure's source."""
    p, _ = both
    for code in LAS:
        pack = p.reports / "latest" / "04_sufficiency_pack" / code
        text = (pack / "report.html").read_text()
        assert text.index("Sufficiency at a glance") < text.index("Key messages"), code
        _, glance = reporting.sheet_table(pd.read_excel(pack / "tables.xlsx", sheet_name="glance", header=None))
        m05 = json.loads((p.reports / "latest" / "05_local_supply" / code / "metrics.json").read_text())["metrics"]
        homes = glance[glance["Measure"].str.startswith("Places in children's homes")]["Figure"].iloc[0]
        places = m05["supply_now"]["value"]["children's homes"]
        assert str(homes) == f"{places:,.0f}", code
        sources = set(glance["Source"])
        assert "Ofsted (published)" in sources and "DfE (published)" in sources
        assert ("903 (synthetic)" in sources) == (code == "E06000004"), (code, sources)


def _unrounded(v: object, column: str) -> bool:
    if not isinstance(v, float) or v.is_integer():
        return False
    return abs(v * 1e4 - round(v * 1e4)) > 1e-6 and abs(v) >= 0.001  # more than four places, or a tiny figure kept


def test_every_workbook_cell_reads_plainly(both):
    p, _ = both
    problems = []
    for folder in _folders(p):
        for sheet, raw in pd.read_excel(folder / "tables.xlsx", sheet_name=None, header=None).items():
            if sheet == "About":
                continue
            header, body = reporting.sheet_table(raw)
            where = f"{folder.parent.name}/{folder.name}[{sheet}]"
            problems += [f"{where}: raw header '{h}'" for h in header if RAW_HEADER.match(h)]
            for col in body.columns:
                for v in body[col]:
                    if YEAR_HEADER.search(str(col)) and "," in str(v) and re.fullmatch(r"[\d,]+", str(v)):
                        problems.append(f"{where}: '{col}' holds the year '{v}' with a separator")
                    if isinstance(v, str) and (YEAR_WITH_SEPARATOR.search(v) or NAN_WORDS.search(v)):
                        problems.append(f"{where}: '{col}' holds '{v[:80]}'")
                    elif v is None or (isinstance(v, float) and pd.isna(v)):
                        problems.append(f"{where}: '{col}' has an empty cell")
                    elif _unrounded(v, col):
                        problems.append(f"{where}: '{col}' holds the unrounded {v!r}")
            for text in raw.iloc[:2, 0].dropna().astype(str):
                if YEAR_WITH_SEPARATOR.search(text):
                    problems.append(f"{where}: title or notes '{text[:80]}'")
    assert not problems, problems[:40]


def test_every_html_table_and_sentence_reads_plainly(both):
    p, _ = both
    problems = []
    for folder in _folders(p):
        page = (folder / "report.html").read_text(encoding="utf-8")
        where = f"{folder.parent.name}/{folder.name}"
        for head in re.findall(r'<th scope="col">(.*?)</th>', page):
            if RAW_HEADER.match(html.unescape(head)):
                problems.append(f"{where}: raw header '{head}'")
        for table in re.findall(r"<table class='published'.*?</table>", page, flags=re.S):
            heads = [html.unescape(h) for h in re.findall(r'<th scope="col">(.*?)</th>', table)]
            for row in re.findall(r"<tr>(.*?)</tr>", table, flags=re.S):
                cells = [html.unescape(c) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, flags=re.S)]
                for h, v in zip(heads, cells):
                    if YEAR_HEADER.search(h) and re.fullmatch(r"\d{1,3}(?:,\d{3})+", v):
                        problems.append(f"{where}: '{h}' shows the year '{v}' with a separator")
        text = reporting._visible_text(page)
        for rx, what in ((YEAR_WITH_SEPARATOR, "a year with a separator"), (NAN_WORDS, "NaN or None")):
            for m in rx.finditer(text):
                problems.append(f"{where}: {what}: '...{text[max(0, m.start() - 50) : m.end() + 20]}...'")
    assert not problems, problems[:40]


def test_the_pack_quotes_paper_02s_hazard_ratios_as_paper_02_prints_them(both):
    """The pack gave 1.69 where paper 02 said 1.68 (rounded twice): one rounding, the same figure in both."""
    p, _ = both
    latest = p.reports / "latest"
    hr = pd.read_excel(latest / "02_placement_breakdown" / "E06000004" / "tables.xlsx", sheet_name="hazard_ratios", header=2)
    printed = dict(zip(hr.iloc[:, 0].astype(str), hr["Hazard ratio"]))
    pack = pd.read_excel(latest / "04_sufficiency_pack" / "E06000004" / "tables.xlsx", sheet_name="paper02", header=2)
    quoted = {str(i).removeprefix("Hazard ratio: "): v for i, v in zip(pack["Item"], pack["Value"]) if str(i).startswith("Hazard ratio: ")}
    assert quoted, "the pack quotes paper 02's hazard ratios"
    for label, v in quoted.items():
        assert printed[label] == v, label


def test_no_heading_stands_over_nothing(both):
    """Every section says something: a table, a chart, a sentence, or why there is nothing (issue 24: paper 03 had
    three headings with nothing under them for an LA without its 903)."""
    p, _ = both
    problems = []
    for folder in _folders(p):
        page = (folder / "report.html").read_text(encoding="utf-8")
        page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S | re.I)
        parts = re.split(r"<h[1-4]\b[^>]*>(.*?)</h[1-4]>", page, flags=re.S)
        # parts: before, heading 1, body 1, heading 2, body 2, ...
        for heading, body in zip(parts[1::2], parts[2::2]):
            has_image = "<img" in body
            text = re.sub(r"\s+|¶", "", html.unescape(re.sub(r"<[^>]+>", " ", body)))
            if not text and not has_image:
                title = re.sub(r"<[^>]+>|¶", "", heading).strip()
                problems.append(f"{folder.parent.name}/{folder.name}: '{title}' has nothing under it")
    assert not problems, problems


#: an A4 page less the pack's 14 mm side margins, in CSS pixels (96 per inch)
A4_PRINT_WIDTH = round((210 - 2 * 14) / 25.4 * 96)


def test_every_table_of_the_pack_fits_an_a4_page_when_printed(both, driver):
    """The PDF's unit-cost table ran off the right edge: printed, every table fits the page's width."""
    import browser

    p, _ = both
    driver.set_window_size(A4_PRINT_WIDTH, 1000)
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    with browser.serve(p.reports) as base:
        for code in LAS:
            driver.get(f"{base}/latest/04_sufficiency_pack/{code}/report.html")
            over = driver.execute_script(
                "const w = document.documentElement.clientWidth;"
                "return Array.from(document.querySelectorAll('table.published')).filter(t => t.getBoundingClientRect().right > w + 1)"
                ".map(t => (t.caption ? t.caption.innerText : '?') + ': ' + Math.round(t.getBoundingClientRect().right) + ' > ' + w)"
            )
            assert over == [], (code, over)
