"""The synthetic 903: valid, calibrated to the published figures, deterministic, and carried
through the 903 ingest without personal data reaching the processed tables."""

import hashlib
import os
import subprocess
import sys

import pandas as pd
import pytest
from conftest import make_project

from analysis.config import paths as make_paths
from analysis.io import ingest903, stock
from analysis.io import published_counts as synthetic_targets
from analysis.io.costs import COST_COLUMNS
from analysis.synth import synthetic

#: stated tolerances: synthetic against published, year to 31 March 2025
TOLERANCE = {"cla_31_march_rel": 0.03, "three_plus_pp": 2.5, "outside_pp": 6.0, "over20_pp": 4.0, "foster_pp": 8.0}


@pytest.fixture(scope="module")
def project(built, tmp_path_factory):
    import shutil

    root = make_project(tmp_path_factory.mktemp("synth"))
    shutil.copytree(built[0].processed_public, root / "data" / "processed" / "public")
    return make_paths(root)


def _ingest(p, folder):
    tables, report = ingest903.build(p, folder)
    return tables, report


def _published(la_indicators, code, indicator, measure, year=2025):
    s = la_indicators[
        (la_indicators["area_code"] == code)
        & (la_indicators["indicator"] == indicator)
        & (la_indicators["measure"] == measure)
        & (la_indicators["year"] == year)
    ]["value"]
    return float(s.iloc[0])


#: three of the four LAs the issue named: a mid-sized unitary, the largest county (UASC arrivals) and
#: the smallest unitary with published figures
FOUR_LAS = [("E06000004", 11), ("E10000016", 12), ("E06000017", 14)]
# Birmingham (E08000025, seed 13), the fourth the issue named, was dropped to keep CI within its time: it is the
# largest to simulate, and test_planted_breakdown_effects_are_the_effects_the_data_carry simulates it below;
# benchmarks/bench_synthetic.py checks every LA's synthetic 903 against its published figures
YEARS = list(range(2015, 2026))


@pytest.fixture(scope="module")
def four(project, tmp_path_factory):
    """Each LA's synthetic 903, ingested, and its stock counted by characteristic."""
    import os as _os

    _os.environ.setdefault("ANALYSIS_PSEUDONYMISATION_KEY", "k" * 32)
    out = {}
    for code, seed in FOUR_LAS:
        folder = tmp_path_factory.mktemp(code) / "903"
        truth = synthetic.generate(project, code, seed, folder)
        tables, report = _ingest(project, folder)
        out[code] = (folder, truth, tables, report, stock.characteristics(tables["episodes"], tables["children"], YEARS))
    return out


@pytest.mark.slow
@pytest.mark.parametrize("code", [c for c, _ in FOUR_LAS])
def test_synthetic_903_matches_every_published_figure(project, la_indicators, four, code):
    folder, truth, tables, report, got = four[code]
    check = synthetic_targets.compare(synthetic_targets.targets_for(la_indicators, code), got)
    # every figure DfE printed for the LA at 31 March 2015-2025 (count, age, sex, ethnicity, UASC, need,
    # legal status, placement, provider, locality with distance), starts and ceased: within 2% or 2 children
    assert len(check) > 250 and check["within_tolerance"].all(), check[~check["within_tolerance"]].to_string()
    assert report["rows_set_aside"] == 0
    # the only rules the project's checks flag are those DfE's own tables count: a provider not reported,
    # and no postcode (distance not known)
    assert {r["rule"] for r in report["rules"]} <= {
        "placement provider is blank: kept, provider counted as not reported",
        "DfE rule 392b: Child is looked after but no postcodes are recorded. Kept.",
    }
    m = tables["measures"].set_index("year").loc[2025]
    three_plus = _published(la_indicators, code, "placements_3plus_year", "percent")
    if three_plus == three_plus:  # (suppressed for the smallest LAs)
        assert abs(m["placements_3plus_pct"] - three_plus) <= TOLERANCE["three_plus_pp"]
    assert truth["breakdown_model"]["effects"] == synthetic.BREAKDOWN_EFFECTS


@pytest.mark.slow
def test_nobody_is_looked_after_at_18_or_over(four):
    import csv
    from datetime import datetime

    for code, (folder, *_rest) in four.items():
        for year in YEARS[1:]:
            sub = folder / f"{year - 1}-{str(year)[2:]}"
            end = datetime(year, 3, 31)
            born = {r["CHILD"]: datetime.strptime(r["DOB"], "%d/%m/%Y") for r in csv.DictReader(open(sub / "header.csv"))}
            for r in csv.DictReader(open(sub / "episodes.csv")):
                opened = datetime.strptime(r["DECOM"], "%d/%m/%Y") <= end
                if opened and (not r["DEC"] or datetime.strptime(r["DEC"], "%d/%m/%Y") > end):
                    b = born[r["CHILD"]]
                    assert end.year - b.year - ((end.month, end.day) < (b.month, b.day)) < 18, (code, year, r["CHILD"])


@pytest.mark.slow
def test_stock_at_31_march_equals_a_count_straight_from_the_raw_files(four):
    """The ingest (read, checked, stitched across years, pseudonymised) keeps every child: its stock at
    each 31 March and placement mix equal a count made here from the CSV files with the csv module."""
    import csv
    from collections import Counter
    from datetime import datetime

    def d(text):
        return datetime.strptime(text, "%d/%m/%Y") if text else None

    for code, (folder, _truth, _tables, _report, got) in four.items():
        counted = got.set_index(["year", "dimension", "category"])["number"]
        for year in YEARS:
            sub = folder / f"{year - 1}-{str(year)[2:]}" if year > 2015 else folder / "2015-16"
            end = datetime(year, 3, 31)
            rows = [
                r
                for r in csv.DictReader(open(sub / "episodes.csv"))
                if d(r["DECOM"]) <= end and (not r["DEC"] or d(r["DEC"]) > end) and r["LS"] not in ("V3", "V4")
            ]
            assert len({r["CHILD"] for r in rows}) == len(rows)
            assert counted[(year, "count", "looked_after_31_march")] == len(rows), (code, year)
            foster = Counter(r["PLACE"][0] for r in rows)["U"]
            assert counted[(year, "placement", "foster")] == foster, (code, year)
            s20 = sum(r["LS"] == "V2" for r in rows)
            assert counted[(year, "legal", "section_20")] == s20, (code, year)


@pytest.mark.slow
def test_planted_breakdown_effects_are_the_effects_the_data_carry(project, la_indicators):
    """Fit a Cox model (statsmodels' own estimator) to the generator's own covariates for every
    placement it made: each planted log hazard ratio is inside 3 standard errors of its estimate."""
    import numpy as np
    import statsmodels.api as sm

    from analysis.io.geography import ltla_to_utla, postcode_cache

    code = "E08000025"  # Birmingham: enough placements to see a bias of 0.1
    t = synthetic_targets.targets_for(la_indicators, code)
    places = synthetic.places_for(code, ltla_to_utla(project.raw_public), np.random.default_rng(3), postcode_cache(project))
    sim = synthetic.Simulation(code, t, places, 3, 1.4)
    sim.run()
    f = synthetic.placement_frame(sim)
    f = f[f["group"].isin(["foster", "kinship foster", "children's home", "independent or supported"])]
    cols = list(synthetic.BREAKDOWN_EFFECTS)
    fit = sm.PHReg(f["days"].to_numpy(), f[cols].to_numpy(), status=f["unplanned"].astype(int).to_numpy(), ties="efron").fit()
    z = (np.asarray(fit.params) - np.array([synthetic.BREAKDOWN_EFFECTS[c] for c in cols])) / np.asarray(fit.bse)
    assert len(f) > 5000 and (np.abs(z) < 3).all(), dict(zip(cols, z.round(2)))


def test_targets_spread_suppressed_counts_and_add_up(la_indicators):
    t = synthetic_targets.targets_for(la_indicators, "E06000004")
    for dim, by_year in t.stock.items():
        for year, counts in by_year.items():
            assert counts.sum() == t.cla[year] and (counts >= 0).all(), (dim, year)
    # 2025: category of need N3 and N6 are "c"; together they are what the others leave of 564
    cats = list(synthetic_targets.DIMENSIONS["need"])
    need = dict(zip(cats, t.stock["need"][2025]))
    assert t.published["need"][2025]["N3"] is None and need["N3"] + need["N6"] == 564 - 356 - 7 - 83 - 95 - 0 - 17
    # a child placed with parents is the child whose provider is "parents"
    placement, provider = list(synthetic_targets.DIMENSIONS["placement"]), list(synthetic_targets.DIMENSIONS["provider"])
    for year in t.cla:
        assert t.stock["placement"][year][placement.index("with_parents")] == t.stock["provider"][year][provider.index("parents")]


def test_largest_remainder_and_the_tolerance():
    import numpy as np

    assert synthetic_targets.largest_remainder(np.array([1, 1, 1]), 10).tolist() == [4, 3, 3]
    assert synthetic_targets.largest_remainder(np.array([0, 0]), 3).sum() == 3
    assert synthetic_targets.largest_remainder(np.array([5.0, 0]), 0).tolist() == [0, 0]
    assert synthetic_targets.within(102, 100) and not synthetic_targets.within(103, 100)
    assert synthetic_targets.within(1010, 1000 + 20) and not synthetic_targets.within(1000, 1021)
    assert synthetic_targets.within(2, 0) and not synthetic_targets.within(3, 0)


def test_upn_check_letter():
    # the DfE check letter: weights 2-13 on the twelve digits, remainder after 23, letters without I, O, S
    assert synthetic.upn("000000000000") == "A000000000000"
    assert synthetic.upn("100000000000") == "C100000000000"  # 1 x 2 = 2 -> C
    assert synthetic.upn("000000000002")[0] == synthetic.UPN_LETTERS[(2 * 13) % 23]


@pytest.mark.slow
def test_the_same_seed_gives_the_same_bytes(project, tmp_path):
    def digest(folder):
        h = hashlib.sha256()
        for f in sorted(folder.rglob("*")):
            if f.is_file():
                h.update(str(f.relative_to(folder)).encode())
                h.update(f.read_bytes())
        return h.hexdigest()

    a = synthetic.generate(project, "E06000017", 5, tmp_path / "a", calibrate=False)  # Rutland: small
    # the same seed in another process, with another string-hash seed: nothing may depend on set order
    script = (
        "import sys; from pathlib import Path; from analysis.synth import synthetic; from analysis.config import paths; "
        "synthetic.generate(paths(sys.argv[1]), 'E06000017', 5, Path(sys.argv[2]), calibrate=False)"
    )
    subprocess.run([sys.executable, "-c", script, str(project.root), str(tmp_path / "b")], check=True, env={**os.environ, "PYTHONHASHSEED": "12345"})
    synthetic.generate(project, "E06000017", 6, tmp_path / "c", calibrate=False)
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    assert digest(tmp_path / "a") != digest(tmp_path / "c")
    assert a["files"]["2024-25/episodes.csv"] > 0
    header = (tmp_path / "a" / "2024-25" / "header.csv").read_text().splitlines()
    assert header[0] == "CHILD,SEX,DOB,ETHNIC,UPN,MOTHER,MC_DOB"
    assert {line.split(",")[1] for line in header[1:]} <= {"M", "F"}  # SEX coded M/F from 2024-25
    older = (tmp_path / "a" / "2023-24" / "header.csv").read_text().splitlines()
    assert {line.split(",")[1] for line in older[1:]} <= {"1", "2"}
    costs = pd.read_csv(tmp_path / "a" / "costs" / "placement_costs.csv")
    assert list(costs.columns) == COST_COLUMNS and (costs["WEEKLY_COST"] > 0).all()


@pytest.mark.slow  # a second synthetic 903 ingest (make test-all, CI)
def test_processed_903_tables_hold_no_personal_data(project, tmp_path, monkeypatch):
    monkeypatch.setenv("ANALYSIS_PSEUDONYMISATION_KEY", "a-test-key-that-is-long-enough")
    synthetic.generate(project, "E06000017", 7, tmp_path / "903", calibrate=False)
    tables, report = _ingest(project, tmp_path / "903")
    raw_ids = set(pd.read_csv(tmp_path / "903" / "2024-25" / "header.csv", dtype=str)["CHILD"])
    postcodes = set(pd.read_csv(tmp_path / "903" / "2024-25" / "episodes.csv", dtype=str)["PL_POST"].dropna())
    for name, df in tables.items():
        cols = {c.upper() for c in df.columns}
        assert not cols & {"DOB", "HOME_POST", "PL_POST", "UPN", "MC_DOB"}, name
        text = set(df.astype(str).to_numpy().ravel())
        assert not text & raw_ids, f"{name} holds a raw child ID"
        assert not text & postcodes, f"{name} holds a postcode"
    assert tables["children"]["birth_month"].str.fullmatch(r"\d{4}-\d{2}").all()
    assert tables["children"]["child"].str.fullmatch(r"C[0-9a-f]{16}").all()
    again, _ = _ingest(project, tmp_path / "903")
    assert again["children"]["child"].tolist() == tables["children"]["child"].tolist(), "same key, same pseudonyms"
    monkeypatch.setenv("ANALYSIS_PSEUDONYMISATION_KEY", "another-key-entirely-0123456789")
    other, _ = _ingest(project, tmp_path / "903")
    assert not set(other["children"]["child"]) & set(tables["children"]["child"])
    assert report["locations_derived_from_postcodes"] > 0


def test_cli_validate_reports_and_exits_2_when_nothing_usable(tmp_path, capsys):
    from conftest import write_csv

    from analysis import cli

    write_csv(tmp_path / "2024-25" / "header.csv", "CHILD,SEX,DOB,ETHNIC,UPN,MOTHER,MC_DOB\nA1,X,01/01/2015,WBRI,,,\n")
    write_csv(
        tmp_path / "2024-25" / "episodes.csv",
        "CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC,REASON_PLACE_CHANGE,HOME_POST,PL_POST,URN\nA1,01/05/2024,S,C2,N1,U6,PR1,,,,,,\n",
    )
    assert cli.main(["validate", str(tmp_path)]) == 2
    out = capsys.readouterr()
    assert "row 2, column SEX: SEX is not a 2025 code" in out.out
    assert "error: nothing usable in header: 1 row(s) read from" in out.err and "SEX is not a 2025 code" in out.err
    assert "error: nothing usable in episodes: 1 row(s) read from" in out.err


@pytest.mark.slow
def test_the_903_ingest_reruns_only_when_returns_code_key_or_postcode_data_change(built, tmp_path, monkeypatch):
    import shutil

    from analysis.config import paths

    monkeypatch.setenv("ANALYSIS_PSEUDONYMISATION_KEY", "a-test-key-that-is-long-enough")
    root = make_project(tmp_path / "proj")
    shutil.copytree(built[0].processed_public, root / "data" / "processed" / "public")
    p = paths(root)
    synthetic.generate(p, "E06000017", 8, ingest903.raw_903(p), calibrate=False)
    assert ingest903.run_ingest_903(p).status == "built"
    placements_file = ingest903.processed_903(p) / "placements.parquet"
    before = placements_file.read_bytes()
    assert ingest903.run_ingest_903(p).status == "up to date"
    monkeypatch.setattr(ingest903, "version", lambda package: "a newer postcode directory")
    assert ingest903.run_ingest_903(p).status == "built"
    assert placements_file.read_bytes() == before, "same inputs, same processed file"
    assert ingest903.run_ingest_903(p).status == "up to date"
    monkeypatch.setenv("ANALYSIS_PSEUDONYMISATION_KEY", "another-key-entirely-0123456789")
    assert ingest903.run_ingest_903(p).status == "built"
    assert placements_file.read_bytes() != before, "a new key re-pseudonymises"
