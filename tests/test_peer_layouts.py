"""903 returns as a peer tool writes them (issue 27): cs-demand-model 0.5.1's own sample (in its wheel,
``cs_demand_model_samples/combined/``) is one flat folder of ``2017-episodes.csv``, ``2017-ad1.csv`` ... where
"2017" is the year the return *starts* (its dates run to 31 March 2018), with ad1 and placed_for_adoption as one
newline. That sample is not ours to ship, so the same layouts are built here from the synthetic 903: the flat
folder, and one folder per year named by a single year. Both read and ingest with no edits, alike, and the
children looked after at each 31 March equal a count taken straight from the raw files with the csv module."""

from __future__ import annotations

import csv
import shutil
from datetime import datetime

import pytest
from conftest import make_project

from analysis.config import paths as make_paths
from analysis.io import ingest903, ssda903, stock

TABLES = ("header", "episodes", "uasc", "missing", "oc2")


def _years(raw):
    return sorted(d for d in raw.iterdir() if d.is_dir() and d.name[:4].isdigit())


def _flat(raw, out):
    """cs-demand-model's layout: one folder, files named by the year the return starts."""
    out.mkdir(parents=True)
    for d in _years(raw):
        start = d.name[:4]  # "2024-25" starts in 2024
        for t in TABLES:
            if (d / f"{t}.csv").is_file():
                shutil.copy(d / f"{t}.csv", out / f"{start}-{t}.csv")
        for empty in ("ad1", "placed_for_adoption"):
            (out / f"{start}-{empty}.csv").write_text("\n")
    (out / "LA_CODE").write_text("E06000004\n")
    return out


def _by_single_year(raw, out):
    """One folder per year, named by the single year the return starts ("2024" for 2024-25)."""
    for d in _years(raw):
        (out / d.name[:4]).mkdir(parents=True)
        for t in TABLES:
            if (d / f"{t}.csv").is_file():
                shutil.copy(d / f"{t}.csv", out / d.name[:4] / f"{t}.csv")
        (out / d.name[:4] / "ad1.csv").write_text("\n")
    (out / "LA_CODE").write_text("E06000004\n")
    return out


def _count_from_raw(raw, year: int) -> int:
    """Children looked after at 31 March of ``year`` (short breaks left out), from that year's own episodes file."""
    end = datetime(year, 3, 31)

    def d(text):
        return datetime.strptime(text, "%d/%m/%Y") if text else None

    with open(raw / f"{year - 1}-{str(year)[2:]}" / "episodes.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if d(r["DECOM"]) <= end and (not r["DEC"] or d(r["DEC"]) > end) and r["LS"] not in ("V3", "V4")]
    return len({r["CHILD"] for r in rows})


def test_both_peer_layouts_read_alike_and_as_the_yearly_folders(project_903, tmp_path):
    raw = ingest903.raw_903(project_903)
    ours = ssda903.read_returns(raw).reconciliation().groupby(["collection_year", "table"])[["rows_in", "kept", "set_aside"]].sum()
    for build in (_flat, _by_single_year):
        v = ssda903.read_returns(build(raw, tmp_path / build.__name__))
        got = v.reconciliation().groupby(["collection_year", "table"])[["rows_in", "kept", "set_aside"]].sum()
        assert got.equals(ours), (build.__name__, got.compare(ours) if got.shape == ours.shape else got)
        assert any("an empty table" in s for s in v.skipped), "the empty tables are noted"


@pytest.mark.slow
def test_the_flat_peer_layout_ingests_and_its_stock_equals_the_raw_files(project_903, tmp_path, monkeypatch):
    raw = ingest903.raw_903(project_903)
    root = make_project(tmp_path / "p")
    shutil.copytree(project_903.processed_public, root / "data" / "processed" / "public")
    _flat(raw, root / "data" / "raw" / "ssda903")
    monkeypatch.setenv("ANALYSIS_PSEUDONYMISATION_KEY", "test-key-" + "0" * 24)
    p = make_paths(root)
    result = ingest903.run_ingest_903(p)
    assert result.status == "built" and result.report["la_code"] == "E06000004"
    t = ingest903.read_processed(p, ("episodes", "children")).tables
    years = sorted(result.report["collection_years"])
    counted = stock.characteristics(t["episodes"], t["children"], years).set_index(["year", "dimension", "category"])["number"]
    for year in years:
        assert counted[(year, "count", "looked_after_31_march")] == _count_from_raw(raw, year), year
