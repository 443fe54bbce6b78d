"""Open the index and a report in headless Chromium (Debian's package, installed by `.ci/run`):
the pages load without console errors and the charts are there, with alt text. Screenshots are
saved (to $ANALYSIS_SCREENSHOT_DIR if set, else the test's temporary folder)."""

import os
import shutil
from pathlib import Path

import browser
import pytest


def _save(driver, tmp_path: Path, name: str) -> Path:
    shot = tmp_path / name
    browser.full_page_screenshot(driver, shot)
    assert shot.stat().st_size > 10_000
    target = os.environ.get("ANALYSIS_SCREENSHOT_DIR")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(target) / name)
    return shot


@pytest.mark.slow  # headless Chromium (make test-all, CI)
def test_index_and_report_render_in_chromium(published, driver, tmp_path):
    p, result = published
    with browser.serve(p.reports) as base:
        driver.get(f"{base}/index.html")
        assert driver.title.startswith("Reports")
        links = driver.execute_script("return Array.from(document.querySelectorAll('a')).map(a => a.getAttribute('href'))")
        report_link = "latest/01_compare_local_authorities/E06000004/report.html"
        assert report_link in links
        assert browser.page_errors(driver) == []
        _save(driver, tmp_path, "index.png")

        driver.get(f"{base}/{report_link}")
        assert "Stockton-on-Tees" in driver.title
        images = driver.execute_script("return Array.from(document.images).map(i => ({w: i.naturalWidth, alt: i.alt, done: i.complete}))")
        assert len(images) >= 4, "trend, funnel, ranking and placement-mix charts"
        assert all(i["done"] and i["w"] > 300 for i in images), images
        assert all(len(i["alt"]) > 40 for i in images), "every chart has alt text"
        captions = driver.execute_script("return document.querySelectorAll('figure figcaption').length")
        assert captions == len(images)
        text = driver.execute_script("return document.body.innerText")
        assert "Key findings" in text and "import " not in text
        assert browser.page_errors(driver) == []
        # readable on a laptop: nothing forces a horizontal scrollbar at 1366 px
        assert driver.execute_script("return document.documentElement.scrollWidth") <= 1366
        _save(driver, tmp_path, "report_01_E06000004.png")


@pytest.mark.slow  # headless Chromium (make test-all, CI)
def test_paper_05_renders_in_chromium_with_its_charts(built, driver, tmp_path, monkeypatch):
    """Paper 05 for an LA from published figures, as a commissioner's browser shows it: its charts with
    alt text, its tables, no errors, nothing wider than a laptop screen."""
    from conftest import make_run_project

    from analysis.config import paths as make_paths
    from analysis.run import runner

    root = make_run_project(tmp_path / "p", built[0])
    monkeypatch.setenv("ANALYSIS_PROJECT_ROOT", str(root))
    p = make_paths(root)
    result = runner.run(p, runner.select_papers(p, ["05"]), [("E06000047", "County Durham")], {"bootstrap": 10}, progress=lambda m: None)
    assert result.exit_code == 0, result.failed
    with browser.serve(p.reports) as base:
        driver.get(f"{base}/latest/05_local_supply/E06000047/report.html")
        assert "County Durham" in driver.title
        images = driver.execute_script("return Array.from(document.images).map(i => ({w: i.naturalWidth, alt: i.alt, done: i.complete}))")
        assert len(images) >= 2, "places per 10,000 children and net gain among neighbours"
        assert all(i["done"] and i["w"] > 300 and len(i["alt"]) > 40 for i in images), images
        text = driver.execute_script("return document.body.innerText")
        assert "Key findings" in text and "Demand against supply by placement type" in text and "import " not in text
        assert browser.page_errors(driver) == []
        assert driver.execute_script("return document.documentElement.scrollWidth") <= 1366
        _save(driver, tmp_path, "report_05_E06000047.png")
