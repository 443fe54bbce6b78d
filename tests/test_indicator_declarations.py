"""Indicators and measures declared once (src/analysis/io/indicators.yaml), read by ingest, paper 01
and the pack; and a new measure, from a label DfE has renamed, added by editing that file alone."""

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import REPO, make_project

from analysis.errors import InputError
from analysis.io import indicators
from analysis.papers.p01_compare import paper as compare
from analysis.papers.p04_sufficiency import paper as pack

DOC = yaml.safe_load(indicators.INDICATORS_FILE.read_text())


# --- one declaration, three readers ---------------------------------------------------------------
def test_paper_01_and_the_pack_read_the_declared_measures():
    declared = list(DOC["measures"])
    assert [m.id for m in compare.MEASURES] == declared
    assert list(pack.P01_MEASURES) == [k for k, v in DOC["measures"].items() if v.get("pack")]
    assert compare.PUBLISHED["foster_pct"] == (("placement_foster", "number"), ("cla_31_march", "number"), ("placement_foster", "percent"))


def test_ingest_reads_the_declared_labels():
    # every characteristic label declared for an indicator maps to it, after normalising
    for ind, entry in DOC["indicators"].items():
        for label in entry.get("characteristics", ()):
            assert indicators.CHARACTERISTICS[indicators.label_key(label)] == ind
        for column in entry.get("sfr", ()):
            assert indicators.SFR_COLUMNS[column] == ind
    assert indicators.STABILITY[("children looked after at 31 march", "total children")] == ("placements_3plus_year", "denominator")


def test_every_published_measure_is_in_the_processed_data(la_indicators):
    present = set(zip(la_indicators["indicator"], la_indicators["measure"]))
    for m in compare.MEASURES:
        for pair in (m.numerator, m.denominator, m.published):
            if pair and pair[1] != "population":  # the population also comes from ONS for early years
                assert pair in present, (m.id, pair)


@pytest.mark.parametrize(
    "change,message",
    [
        ({"numerator": "placement_fostr/number"}, "names indicator 'placement_fostr', which is not declared"),
        ({"numerator": "placement_foster"}, "should be indicator/measure"),
        ({"kind": "percent"}, "kind 'percent' is not one of"),
        ({"label": ""}, "'label' is missing"),
        ({"better": "up"}, "better should be higher or lower"),
        ({"source": "ro3"}, "source should be one of ro3, ofsted, without"),
        ({"denominator": None}, "give numerator and denominator"),
        ({"colour": "red"}, "unknown keys"),
    ],
)
def test_a_bad_measure_names_the_file_the_measure_and_the_key(change, message, tmp_path):
    doc = json.loads(json.dumps(DOC))
    doc["measures"]["foster_pct"].update(change)
    with pytest.raises(InputError, match=message) as err:
        indicators.read_measures(doc, tmp_path / "indicators.yaml")
    assert "measure foster_pct" in str(err.value) and "indicators.yaml" in str(err.value)


# --- adding an indicator: one file -------------------------------------------------------------------
CHARACTERISTICS_CSV = "derived/la_cla_on_31_march_by_characteristics_2020_2025_reconstructed.csv"
NEW_WORDING = "Placed for adoption with prospective adopters"
NEW_MEASURE = {
    "label": "Placed for adoption (%)",
    "short": "Placed for adoption",
    "kind": "proportion",
    "topic": "Placement mix",
    "x_label": "Children looked after (log scale)",
    "numerator": "placement_adoption/number",
    "denominator": "cla_31_march/number",
    "published": "placement_adoption/percent",
    "pack": "Placed for adoption (%)",
}
PROBE = """
import json
from analysis.config import paths
from analysis.io import indicators
from analysis.io.ingest import read_table, run_ingest
from analysis.papers.p01_compare import paper as compare
from analysis.papers.p04_sufficiency import paper as pack

p = paths()
run_ingest(p, force=True)
aside = read_table(p, "set_aside")
inputs = compare.Data.load(p)
panel = compare.build_panel(inputs)
_, details = compare.summary_table(panel, compare.setup(inputs, la_code="E06000004"))
d = details.get("adoption_pct") or {}
print(json.dumps({
    "module": indicators.__file__,
    "unrecognised": int(aside["reason"].str.startswith("unrecognised label").sum()),
    "adoption": {"year": d.get("year"), "value": d.get("la"), "count": d.get("count")},
    "pack": pack.P01_MEASURES.get("adoption_pct"),
}))
"""


def _probe(src: Path, root: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(src), "ANALYSIS_PROJECT_ROOT": str(root)}
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow  # two full ingests in a copy of the project (make test-all, CI)
def test_a_new_measure_from_a_renamed_label_is_added_in_the_indicator_file_alone(tmp_path):
    # a temporary copy of the package and a project whose published file uses DfE's new wording
    src = tmp_path / "src"
    shutil.copytree(REPO / "src" / "analysis", src / "analysis", ignore=shutil.ignore_patterns("__pycache__"))
    root = make_project(tmp_path / "project", copy_raw=True)
    raw = root / "data" / "raw" / "public" / CHARACTERISTICS_CSV
    raw.chmod(0o644)
    raw.write_text(raw.read_text(encoding="utf-8").replace(",Placed for adoption,", f",{NEW_WORDING},"), encoding="utf-8")
    from analysis import cli

    os.environ["ANALYSIS_PROJECT_ROOT"] = str(root)
    try:
        assert cli.main(["check-data", "--write"]) == 0  # the new publication's checksum, as for any new file
    finally:
        del os.environ["ANALYSIS_PROJECT_ROOT"]

    # before: the new wording is not declared, so ingest sets those rows aside, and there is no measure
    before = _probe(src, root)
    assert before["module"].startswith(str(src))
    assert before["unrecognised"] > 0 and before["adoption"]["value"] is None and before["pack"] is None

    # the one edit: the new wording for the indicator, and the measure (with its label in the pack)
    file = src / "analysis" / "io" / "indicators.yaml"
    doc = yaml.safe_load(file.read_text())
    doc["indicators"]["placement_adoption"]["characteristics"].append(NEW_WORDING)
    doc["measures"]["adoption_pct"] = NEW_MEASURE
    file.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
    after = _probe(src, root)
    assert after["unrecognised"] == 0 and after["pack"] == "Placed for adoption (%)"

    # the figure paper 01 shows is DfE's, read here from the raw file with the csv module
    with open(raw, encoding="utf-8-sig", newline="") as fh:
        row = next(
            r
            for r in csv.DictReader(fh)
            if r["new_la_code"] == "E06000004" and r["time_period"] == "2025" and r["cla_group"] == "Placement" and r["characteristic"] == NEW_WORDING
        )
    assert after["adoption"] == {"year": 2025, "value": float(row["percentage"]), "count": float(row["number"])}
