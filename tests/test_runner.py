"""The runner: papers, parameters, outputs, manifest, index, failures, the lock and refresh."""

import json
import os
import re
import time
from pathlib import Path

import nbformat
import pandas as pd
import pytest
import yaml
from conftest import make_run_project
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from analysis import cli, config
from analysis.config import KERNEL_NAME
from analysis.config import paths as make_paths
from analysis.errors import AnalysisError, RunLockedError
from analysis.report import reporting
from analysis.run import execute, kernels, runner, schedule
from analysis.run import refresh as refresher

FAKE_BODY = """import os
import time
from analysis.report import reporting
if os.environ.get("FAKE_SLEEP") == "{pid}":
    time.sleep(120)
report = reporting.Report(paper="{pid}", title="Fake {pid}", output_dir=output_dir, context={{"la_code": la_code}})
if os.environ.get("FAKE_FAIL") == "{pid}":
    raise ValueError("planted failure")
report.table("t", __import__("pandas").DataFrame({{"x": [1.5]}}), title="t", show=False)
report.metric("answer", 42)
report.metric("threads", os.environ.get("OMP_NUM_THREADS"))
left_behind_by_{pid} = True
report.metric("seen", sorted(k for k in globals() if k.startswith(("left_behind_by_", "_prime")) and k != "left_behind_by_{pid}"))
report.finish()"""


def fake_paper(folder, pid: str, *, default: bool = True, inputs=("la_lookup",), after=()):
    """A tiny paper in a temporary notebooks folder: its declaration in papers.yaml, and its notebook."""
    reg = folder / "papers.yaml"
    doc = yaml.safe_load(reg.read_text()) if reg.exists() else {"papers": {}}
    doc["papers"][pid] = {
        "notebook": f"{pid}_fake_{pid}.ipynb",
        "title": f"Fake {pid}",
        "default": default,
        "inputs": list(inputs),
        "after": list(after),
        "outputs": ["report.html", "tables.xlsx", "metrics.json"],
        "parameters": {
            "la_code": {"type": "str", "default": "E06000004", "help": "LA"},
            "output_dir": {"type": "str", "default": "", "help": "set by the runner"},
        },
    }
    reg.write_text(yaml.safe_dump(doc, sort_keys=False))
    params = new_code_cell('la_code: str = "E06000004"  # LA\noutput_dir: str = ""  # set by the runner')
    params.metadata["tags"] = ["parameters"]
    nb = new_notebook(
        cells=[new_markdown_cell(f"# Fake paper {pid}"), params, new_code_cell(FAKE_BODY.format(pid=pid))],
        metadata={"kernelspec": {"name": KERNEL_NAME, "display_name": "x", "language": "python"}},
    )
    nbformat.write(nb, folder / f"{pid}_fake_{pid}.ipynb")


@pytest.fixture
def fake_project(built, tmp_path, monkeypatch):
    nbs = tmp_path / "fake_notebooks"
    nbs.mkdir()
    fake_paper(nbs, "91")
    fake_paper(nbs, "92", inputs=("la_lookup", "population"))
    root = make_run_project(tmp_path / "project", built[0], notebooks=nbs)
    monkeypatch.setenv("ANALYSIS_PROJECT_ROOT", str(root))
    monkeypatch.delenv("FAKE_FAIL", raising=False)
    return make_paths(root)


def quiet(_msg):
    pass


# --- choosing papers and parameters ----------------------------------------------------------------------
def test_papers_are_chosen_by_number_or_name(built, tmp_path):
    p = make_paths(make_run_project(tmp_path / "p", built[0]))
    assert [x.id for x in runner.select_papers(p, [])] == ["01", "02", "03", "04", "05"]  # the default set
    for name in ("01", "1", "compare", "01_compare_local_authorities.ipynb"):
        assert [x.id for x in runner.select_papers(p, [name])] == ["01"]
    assert runner.select_papers(p, ["00"])[0].parameter_names == ("la_code",)
    with pytest.raises(AnalysisError, match="is not a paper; papers: 00"):
        runner.select_papers(p, ["07"])


@pytest.mark.parametrize(
    "text,expected",
    [
        ("last_year=2024", ("last_year", 2024)),
        ("comparator=region", ("comparator", "region")),
        ("comparator_codes=[E06000001, E06000005]", ("comparator_codes", ["E06000001", "E06000005"])),
        ("flag=true", ("flag", True)),
        ("name=", ("name", "")),
    ],
)
def test_param_values_are_read_as_yaml(text, expected):
    assert runner.parse_param(text) == expected


@pytest.mark.parametrize("text", ["noequals", "1x=2", "a=[unclosed"])
def test_bad_params_are_refused_clearly(text):
    with pytest.raises(AnalysisError, match="--param"):
        runner.parse_param(text)


def test_an_unknown_parameter_is_refused_before_anything_runs(fake_project):
    with pytest.raises(AnalysisError, match="no paper in this run has a parameter colour"):
        runner.run(fake_project, runner.select_papers(fake_project, ["91"]), [("E06000004", "Stockton-on-Tees")], {"colour": "red"}, progress=quiet)
    with pytest.raises(AnalysisError, match="paper 91 has no parameter colour"):
        runner.run(
            fake_project, runner.select_papers(fake_project, ["91"]), [("E06000004", "Stockton-on-Tees")], {"91.colour": "red"}, progress=quiet
        )
    assert not (fake_project.reports / "runs").exists()


def test_a_param_goes_to_the_papers_that_declare_it_and_a_targeted_one_to_its_paper():
    papers = runner.select_papers(config.paths(), ["04"])  # the real registry: 04 brings in 01, 02, 03 and 05
    assert [x.id for x in papers] == ["01", "02", "03", "04", "05"]
    # 04 and 05 declare the forecast's settings (05 forecasts as 04 does): both take it, the others keep their defaults
    assert runner.parameters_by_paper(papers, {"forecast_years": 4}) == {
        "01": {},
        "02": {},
        "03": {},
        "04": {"forecast_years": 4},
        "05": {"forecast_years": 4},
    }
    both = runner.parameters_by_paper(papers, {"bootstrap": 300, "04.bootstrap": 500})
    assert both["03"] == {"bootstrap": 300} and both["04"] == {"bootstrap": 500}, "a targeted value wins for its paper only"
    assert runner.parameters_by_paper(papers, {"sufficiency.fit_years": 2})["04"] == {"fit_years": 2}
    jobs = runner.make_jobs(papers, [("E06000004", "Stockton-on-Tees")], {"scenario_file": "s.yaml"})
    assert {j.paper.id: j.parameters for j in jobs} == {"01": {}, "02": {}, "03": {}, "04": {"scenario_file": "s.yaml"}, "05": {}}
    with pytest.raises(AnalysisError, match="not a paper of this run"):
        runner.parameters_by_paper(papers, {"00.x": 1})
    with pytest.raises(AnalysisError, match="paper 01 has no parameter forecast_years"):
        runner.parameters_by_paper(papers, {"01.forecast_years": 4})
    with pytest.raises(AnalysisError, match="no paper in this run has a parameter colour"):
        runner.parameters_by_paper(papers, {"colour": "red"})


def test_cli_unknown_la_suggests_names_and_exits_2(fake_project, capsys):
    assert cli.main(["run", "91", "--la", "Stockton on Tess"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "Stockton-on-Tees" in err and "Traceback" not in err


# --- one real run of paper 01 (the `published` fixture) -----------------------------------------------------
def test_a_run_writes_every_output_and_a_manifest(published):
    p, result = published
    assert result.exit_code == 0, result.failed
    rec = result.records[0]
    folder = p.reports / rec["folder"]
    for name in runner.OUTPUT_FILES:
        expected = name != runner.PDF_FILE  # only the pack (paper 04) is printed to PDF
        assert (folder / name).is_file() == expected, name
        assert (p.reports / "latest" / rec["slug"] / "E06000004" / name).is_file() == expected, name
    m = json.loads((p.reports / "runs" / result.run_id / "manifest.json").read_text())
    assert m["status"] == "ok" and m["kernel"] == KERNEL_NAME
    assert {"pandas", "papermill", "python"} <= set(m["packages"])
    assert "commit" in m["git"] and m["data_vintage"]["la_indicators"] == 2025
    job = m["jobs"][0]
    assert job["inputs"]["processed/public/la_indicators.parquet"] == runner.sha256(p.processed_public / "la_indicators.parquet")
    assert job["duration_s"] > 0 and job["la_name"] == "Stockton-on-Tees"
    state = json.loads((p.reports / "state.json").read_text())
    assert state["01/E06000004"]["run_id"] == result.run_id


def test_report_html_has_no_code_and_no_external_scripts(published):
    p, result = published
    html = (p.reports / result.records[0]["folder"] / "report.html").read_text()
    assert "compare.Data.load" not in html and "import " not in html.split("<body", 1)[1]
    assert "cdnjs" not in html and "<figure" in html and 'alt="' in html
    assert "How a local authority compares: Stockton-on-Tees" in html


def test_metrics_equal_the_published_figures(published):
    p, result = published
    m = json.loads((p.reports / result.records[0]["folder"] / "metrics.json").read_text())
    assert m["la_code"] == "E06000004"
    rate = m["metrics"]["cla_rate"]
    assert (rate["value"], rate["england"], rate["year"]) == (125.0, 67.0, 2025)  # DfE 2025 publication
    assert m["metrics"]["stability_pct"]["value"] == 67.0
    sheets = pd.read_excel(p.reports / result.records[0]["folder"] / "tables.xlsx", sheet_name=None)
    assert {"About", "summary", "funnels", "placement_mix"} <= set(sheets)


def test_every_generated_output_passes_the_privacy_scan(published):
    p, _ = published
    folders = {f.parent for f in p.reports.rglob("metrics.json")}
    assert folders
    for folder in folders:
        assert reporting.scan_outputs(folder) == [], folder


def test_index_links_the_latest_report(published):
    p, result = published
    index = (p.reports / "index.html").read_text()
    assert "latest/01_compare_local_authorities/E06000004/report.html" in index
    assert result.run_id in index


# --- failures, the lock, refresh (fake papers: quick to run) -------------------------------------------------
def test_a_failed_paper_is_marked_and_the_previous_good_report_stays(fake_project, monkeypatch):
    p = fake_project
    papers = runner.select_papers(p, [])
    las = [("E06000004", "Stockton-on-Tees")]
    first = runner.run(p, papers, las, progress=quiet)
    assert first.exit_code == 0
    latest = p.reports / "latest" / "91_fake_91" / "E06000004"
    assert json.loads((latest / "run.json").read_text())["run_id"] == first.run_id

    monkeypatch.setenv("FAKE_FAIL", "91")
    messages = []
    second = runner.run(p, papers, las, progress=messages.append)
    assert second.exit_code == 1
    bad = next(r for r in second.records if r["paper"] == "91")
    good = next(r for r in second.records if r["paper"] == "92")
    assert good["status"] == "ok"
    assert bad["status"] == "failed" and "ValueError: planted failure" in bad["error"]
    assert bad["failing_cell"]["cell"] == 3 and bad["failing_cell"]["source"] == "import os"
    assert any("FAILED" in m and "cell 3" in m for m in messages)
    # the previous good report is still the published one; the failed notebook is kept for diagnosis
    assert json.loads((latest / "run.json").read_text())["run_id"] == first.run_id
    assert (p.reports / bad["folder"] / "notebook.ipynb").is_file()
    assert not (p.reports / bad["folder"] / "report.html").exists()
    index = (p.reports / "index.html").read_text()
    assert "latest attempt failed" in index and "planted failure" in index
    assert index.index(second.run_id) < index.index(first.run_id)  # newest run first


def test_a_failed_run_followed_by_a_good_one_is_history_not_the_las_state(fake_project, monkeypatch):
    """A mistyped run (other parameters, so another report key) that failed before a good run of the same paper
    and LA is listed under Runs, not as 'no good report yet' beside the good report."""
    p = fake_project
    papers = runner.select_papers(p, ["91"])
    las = [("E06000004", "Stockton-on-Tees")]
    monkeypatch.setenv("FAKE_FAIL", "91")
    bad = runner.run(p, papers, las, progress=quiet)
    manifest = p.reports / "runs" / bad.run_id / "manifest.json"
    m = json.loads(manifest.read_text())
    m["jobs"][0]["key"] += "|mistyped"  # as a run with other parameters is keyed
    manifest.write_text(json.dumps(m))
    runner.write_index(p)
    assert "no good report yet" in (p.reports / "index.html").read_text(), "before any good run the failure is the LA's state"
    monkeypatch.delenv("FAKE_FAIL")
    time.sleep(1.1)  # run times are kept to the second
    good = runner.run(p, papers, las, progress=quiet)
    index = (p.reports / "index.html").read_text()
    latest = index[: index.index("<h2>Runs</h2>")]
    assert "no good report yet" not in latest and "planted failure" not in latest
    assert bad.run_id in index and good.run_id in index, "the failed run is still listed under Runs"


def test_two_runs_never_overlap(fake_project):
    p = fake_project
    with runner.run_lock(p, "a test"):
        with pytest.raises(RunLockedError, match="a test, pid"):
            runner.run(p, runner.select_papers(p, []), [("E06000004", "Stockton-on-Tees")], progress=quiet)
        assert cli.main(["refresh"]) == 3
    # released afterwards
    with runner.run_lock(p, "again"):
        pass


def test_refresh_reruns_only_what_changed(fake_project):
    p = fake_project
    papers = runner.select_papers(p, [])
    assert refresher.refresh(p, papers, progress=quiet) == 0
    runs = sorted((p.reports / "runs").iterdir())
    assert len(runs) == 1
    assert refresher.refresh(p, papers, progress=quiet) == 0
    assert len(sorted((p.reports / "runs").iterdir())) == 1, "nothing changed, nothing re-run"

    # a changed input table re-runs only the paper that reads it
    pop = p.processed_public / "population.parquet"
    pd.read_parquet(pop).iloc[::-1].to_parquet(pop, index=False)
    # as an ingest writes it: with its checksum recorded (a table changed by hand is refused as damaged)
    from analysis.io.ingest import STAMP, output_checksums

    stamp = json.loads((p.processed_public / STAMP).read_text())
    (p.processed_public / STAMP).write_text(json.dumps({**stamp, "outputs": output_checksums(p.processed_public)}))
    assert refresher.refresh(p, papers, progress=quiet) == 0
    runs = sorted((p.reports / "runs").iterdir())
    assert len(runs) == 2
    m = json.loads((runs[-1] / "manifest.json").read_text())
    assert [j["paper"] for j in m["jobs"]] == ["92"]
    log = (p.reports / "logs" / "refresh.log").read_text()
    assert "92/E06000004: inputs changed (processed/public/population.parquet)" in log
    assert "nothing to do" in log

    # a changed notebook re-runs that paper
    nb = p.notebooks / "91_fake_91.ipynb"
    nb.write_text(nb.read_text().replace("Fake paper 91", "Fake paper 91, revised"))
    time.sleep(0.01)
    assert refresher.refresh(p, papers, progress=quiet) == 0
    log = (p.reports / "logs" / "refresh.log").read_text()
    assert "91/E06000004: notebook or code changed" in log


def test_refresh_exits_non_zero_when_a_paper_fails(fake_project, monkeypatch):
    monkeypatch.setenv("FAKE_FAIL", "92")
    assert refresher.refresh(fake_project, runner.select_papers(fake_project, []), progress=quiet) == 1
    assert "92/E06000004 failed: ValueError: planted failure" in (fake_project.reports / "logs" / "refresh.log").read_text()


def test_two_workers_run_jobs_in_parallel(fake_project):
    p = fake_project
    las = [("E06000004", "Stockton-on-Tees"), ("E06000001", "Hartlepool")]
    result = runner.run(p, runner.select_papers(p, ["91"]), las, workers=2, progress=quiet)
    assert result.exit_code == 0 and [r["la_code"] for r in result.records] == ["E06000004", "E06000001"]
    assert os.environ.get("ANALYSIS_PROJECT_ROOT") == str(p.root)


def test_child_level_papers_are_skipped_for_las_without_903_data(built, project_903, tmp_path):
    p = make_paths(make_run_project(tmp_path / "p", built[0]))
    paper02 = runner.select_papers(p, ["02"])
    jobs = runner.make_jobs(paper02 + runner.select_papers(p, ["01"]), [("E06000004", "Stockton-on-Tees")], {})
    kept, notes = execute.child_level_jobs(p, jobs)
    assert [j.paper.id for j in kept] == ["01"] and "no 903 data ingested" in notes[0]
    with pytest.raises(AnalysisError, match="nothing to run: skipped 02"):
        runner.run(p, paper02, [("E06000004", "Stockton-on-Tees")], progress=quiet)
    jobs = runner.make_jobs(paper02, [("E06000004", "Stockton-on-Tees"), ("E06000001", "Hartlepool")], {})
    kept, notes = execute.child_level_jobs(project_903, jobs)
    assert [j.la_code for j in kept] == ["E06000004"]
    assert notes == ["skipped 02 for Hartlepool: it needs the LA's own 903 data, and this project's 903 data is for E06000004"]


@pytest.mark.slow
def test_the_pack_runs_after_its_papers_and_reads_their_results_from_the_same_run(built, project_903, tmp_path, monkeypatch):
    from analysis.papers.p04_sufficiency import paper as sufficiency

    root = make_run_project(tmp_path / "p", built[0], with_903=project_903)
    monkeypatch.setenv("ANALYSIS_PROJECT_ROOT", str(root))
    monkeypatch.setenv("ANALYSIS_PSEUDONYMISATION_KEY", "test-key-" + "0" * 24)
    p = make_paths(root)
    papers = runner.select_papers(p, ["04"])
    assert [x.id for x in papers] == ["01", "02", "03", "04", "05"], "the pack brings its papers into the run"
    result = runner.run(p, papers, [("E06000004", "Stockton-on-Tees")], {"bootstrap": 20, "resamples": 50}, workers=2, progress=quiet)
    assert result.exit_code == 0, result.failed
    assert sorted(r["paper"] for r in result.records) == ["01", "02", "03", "04", "05"]
    pack = p.reports / "latest" / "04_sufficiency_pack" / "E06000004"
    m = json.loads((pack / "metrics.json").read_text())
    assert m["metrics"]["papers_included"]["value"] == ["01", "02", "03", "05"], "05 ran before the pack, which read it in the same run"
    m03 = json.loads((p.reports / "latest" / "03_placement_costs" / "E06000004" / "metrics.json").read_text())
    found, where = sufficiency.sibling_metrics(str(p.reports / "runs" / result.run_id / "04_sufficiency_pack" / "E06000004"), "E06000004", p)
    assert found["03"] == m03 and result.run_id in where
    if runner.chromium() or os.environ.get("ANALYSIS_REQUIRE_BROWSER"):
        assert (pack / "report.pdf").read_bytes()[:5] == b"%PDF-"
        assert "E06000004/report.pdf" in (p.reports / "index.html").read_text()


def test_a_paper_missing_from_the_run_is_named_not_filled_from_an_older_run(tmp_path):
    from analysis.papers.p04_sufficiency import paper as sufficiency

    run = tmp_path / "reports" / "runs" / "R1"
    for pid in ("01", "02"):
        (run / f"{pid}_x" / "E06000004").mkdir(parents=True)
        (run / f"{pid}_x" / "E06000004" / "metrics.json").write_text('{"schema": 2, "title": "t", "metrics": {}}')
    old = tmp_path / "reports" / "latest" / "03_y" / "E06000004"
    old.mkdir(parents=True)
    (old / "metrics.json").write_text('{"schema": 2, "title": "stale", "metrics": {}}')
    found, _ = sufficiency.sibling_metrics(str(run / "04_z" / "E06000004"), "E06000004", make_paths(make_project_root(tmp_path)))
    assert found["01"] and found["02"] and found["03"] is None
    s = sufficiency.Settings("E06000004", "Stockton-on-Tees", [2025], 3, 3, 2, 0, {})
    assert "Missing from this pack:** Placement costs (paper 03)" in sufficiency.key_messages(s, found, None, None, None, None)


def make_project_root(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[project]\nname='x'\n")
    (tmp_path / "data" / "raw").mkdir(parents=True, exist_ok=True)
    return tmp_path


@pytest.mark.slow  # three papers refreshed three times (make test-all, CI)
def test_refresh_reruns_a_pack_together_with_the_papers_it_reads(built, tmp_path, monkeypatch):
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    fake_paper(nbs, "91")
    fake_paper(nbs, "92", inputs=("la_lookup", "population"))
    fake_paper(nbs, "93", after=("91",))
    root = make_run_project(tmp_path / "project", built[0], notebooks=nbs)
    monkeypatch.setenv("ANALYSIS_PROJECT_ROOT", str(root))
    monkeypatch.delenv("FAKE_FAIL", raising=False)
    p = make_paths(root)
    papers = runner.select_papers(p, [])
    assert refresher.refresh(p, papers, progress=quiet) == 0
    # only 91's notebook changes: the pack (93) must be rebuilt from the same run, 92 is left alone
    nb = p.notebooks / "91_fake_91.ipynb"
    nb.write_text(nb.read_text().replace("Fake paper 91", "Fake paper 91, revised"))
    assert refresher.refresh(p, papers, progress=quiet) == 0
    last = sorted((p.reports / "runs").iterdir())[-1]
    assert [j["paper"] for j in json.loads((last / "manifest.json").read_text())["jobs"]] == ["91", "93"]
    # only the pack changes: its papers re-run with it
    nb = p.notebooks / "93_fake_93.ipynb"
    nb.write_text(nb.read_text().replace("Fake paper 93", "Fake paper 93, revised"))
    assert refresher.refresh(p, papers, progress=quiet) == 0
    last = sorted((p.reports / "runs").iterdir())[-1]
    assert [j["paper"] for j in json.loads((last / "manifest.json").read_text())["jobs"]] == ["91", "93"]
    assert "91/E06000004: re-run with 93, which reads its results from the same run" in (p.reports / "logs" / "refresh.log").read_text()


# --- guards: read-only outputs, a killed run, plain parameters, one line per event -------------------------
@pytest.mark.parametrize(
    "text,why",
    [
        ("x=!!binary aGVsbG8=", "binary data"),
        ("x=!!set {a, b}", "a set"),
        ("x=[2024-03-31]", "a date inside a list"),
        ("x={when: 2024-03-31}", "a date inside a list or mapping"),
        ("x=[1, !!binary aGVsbG8=]", "binary data"),
        ("x=.nan", "not a finite number"),
        ("x={1: a}", "mapping keys must be text"),
        ("x=!!python/object/apply:os.system [ls]", "cannot read value"),
    ],
)
def test_param_values_are_plain_data_by_design(text, why):
    with pytest.raises(AnalysisError, match=why):
        runner.parse_param(text)
    assert runner.parse_param("x={a: [1, 2.5, true, text]}") == ("x", {"a": [1, 2.5, True, "text"]})


def _manifest_statuses(p):
    return {m.parent.name: json.loads(m.read_text())["status"] for m in (p.reports / "runs").glob("*/manifest.json")}


def test_a_read_only_latest_folder_stops_the_run_in_one_line_before_any_job(fake_project, monkeypatch, capsys):
    p = fake_project
    (p.reports / "latest").mkdir(parents=True)
    real_access = os.access
    # the tests may run as root, who can write anywhere: the file system's answer is stood in for
    monkeypatch.setattr(runner.os, "access", lambda path, mode: False if str(path).endswith("latest") else real_access(path, mode))
    assert cli.main(["run", "91"]) == cli.EXIT_INPUT_ERROR
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: cannot write {p.reports / 'latest'}: it is read-only; nothing was run"]
    assert _manifest_statuses(p) == {}


def test_a_run_that_cannot_publish_is_marked_failed_not_left_running(fake_project, monkeypatch, capsys):
    p = fake_project

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(p.reports / "latest" / "91_fake_91"))

    monkeypatch.setattr(runner, "publish_latest", refuse)
    assert cli.main(["run", "91"]) == cli.EXIT_INPUT_ERROR
    err = capsys.readouterr().err
    assert "error: cannot write" in err and "Permission denied" in err and "Traceback" not in err
    assert list(_manifest_statuses(p).values()) == ["failed"]


def test_a_killed_run_is_marked_failed_and_its_kernel_folder_removed_at_the_next_start(fake_project):
    import signal
    import subprocess
    import sys
    import tempfile

    p = fake_project
    env = {**os.environ, "ANALYSIS_PROJECT_ROOT": str(p.root), "FAKE_SLEEP": "91"}
    proc = subprocess.Popen([sys.executable, "-m", "analysis.cli", "run", "91"], env=env, stderr=subprocess.DEVNULL)
    prefix = kernels.kernel_temp_prefix(p)
    deadline = time.time() + 300
    while time.time() < deadline and not (_manifest_statuses(p) and list(Path(tempfile.gettempdir()).glob(prefix + "*"))):
        time.sleep(0.2)
    assert _manifest_statuses(p), "the run started"
    # the progress line can say which paper, LA and cell is running (from the job's status file)
    run_dir = p.reports / "runs" / next(iter(_manifest_statuses(p)))
    jobs = runner.make_jobs(runner.select_papers(p, ["91"]), [("E06000004", "Stockton-on-Tees")], {})
    while time.time() < deadline and not runner.running_now(run_dir, jobs):
        time.sleep(0.2)
    assert re.fullmatch(r"91 Stockton-on-Tees, cell \d of \d", runner.running_now(run_dir, jobs)[0])
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    assert list(_manifest_statuses(p).values()) == ["running"]  # what kill -9 leaves
    killed = next(iter(_manifest_statuses(p)))
    assert cli.main(["index"]) == 0  # the index alone changes nothing
    assert cli.main(["run", "92"]) == 0
    statuses = _manifest_statuses(p)
    assert statuses[killed] == "failed" and sorted(statuses.values()) == ["failed", "ok"]
    assert "interrupted" in json.loads((p.reports / "runs" / killed / "manifest.json").read_text())["error"]
    assert not list(Path(tempfile.gettempdir()).glob(prefix + "*"))


def test_refresh_prints_each_event_once(fake_project, capsys):
    assert cli.main(["refresh"]) == 0
    err = capsys.readouterr().err
    assert err.count("refresh started") == 1 and err.count("refresh finished") == 1
    log = (fake_project.reports / "logs" / "refresh.log").read_text()
    assert log.count("refresh started") == 1


# --- scale-out: a Dask cluster gives the same reports as the local pool ------------------------------------
def _report_contents(folder):
    import openpyxl

    m = json.loads((folder / "metrics.json").read_text())
    wb = openpyxl.load_workbook(folder / "tables.xlsx", read_only=True)
    cells = {ws.title: [list(r) for r in ws.iter_rows(values_only=True)] for ws in wb.worksheets}
    return m, cells


@pytest.mark.slow  # a LocalCluster and eight kernels (make test-all, CI)
def test_a_local_dask_cluster_gives_the_same_reports_as_the_local_pool(built, tmp_path, monkeypatch):
    root = make_run_project(tmp_path / "project", built[0])
    monkeypatch.setenv("ANALYSIS_PROJECT_ROOT", str(root))
    p = make_paths(root)
    papers = runner.select_papers(p, ["01"])
    las = runner.resolve_las(p, ["Hartlepool", "Darlington"])
    pool = runner.run(p, papers, las, workers=2, progress=quiet)
    dask = runner.run(p, papers, las, workers=2, progress=quiet, cluster="local")
    assert pool.exit_code == dask.exit_code == 0
    assert dask.manifest["executor"] == "Dask LocalCluster" and pool.manifest["executor"] == "this machine"
    for code, _ in las:
        a = _report_contents(p.reports / "runs" / pool.run_id / "01_compare_local_authorities" / code)
        b = _report_contents(p.reports / "runs" / dask.run_id / "01_compare_local_authorities" / code)
        assert a == b, code
    # both runs are in the same manifest history, state and index
    assert {j["la_code"] for j in dask.manifest["jobs"]} == {c for c, _ in las}
    index = (p.reports / "index.html").read_text()
    assert pool.run_id in index and dask.run_id in index


def test_jobs_that_read_the_las_own_903_stay_on_this_machine(built, project_903, tmp_path):
    root = make_run_project(tmp_path / "project", built[0], with_903=project_903)
    p = make_paths(root)
    by_id = {x.id: x for x in runner.discover_papers(p)}
    own = execute.data_903_la(p)
    assert own == "E06000004"
    job = runner.Job
    assert runner.stays_here(p, job(by_id["02"], own, "Stockton-on-Tees"))
    assert runner.stays_here(p, job(by_id["04"], own, "Stockton-on-Tees"))
    assert runner.stays_here(p, job(by_id["03"], own, "Stockton-on-Tees"))
    assert not runner.stays_here(p, job(by_id["04"], "E06000001", "Hartlepool")), "the published-data pack may go anywhere"
    assert not runner.stays_here(p, job(by_id["01"], own, "Stockton-on-Tees")), "paper 01 reads published data only"


def test_an_unreachable_scheduler_is_one_line(fake_project, capsys, monkeypatch):
    monkeypatch.setattr(schedule, "CLUSTER_CONNECT_TIMEOUT", 2)
    assert cli.main(["run", "91", "--cluster", "tcp://127.0.0.1:9"]) == cli.EXIT_INPUT_ERROR
    err = capsys.readouterr().err
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in err and "Traceback" not in err
    assert list(_manifest_statuses(fake_project).values()) == ["failed"]


# --- kernels: forked from a primed parent, warmed one job ahead -------------------------------------------------
def _zygotes_for(folder: Path) -> list[int]:
    """Primed kernel parents running in ``folder`` (found in /proc: no process list library needed)."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if b"analysis.run.zygote" in (proc / "cmdline").read_bytes() and os.readlink(proc / "cwd") == str(folder.resolve()):
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def test_a_warm_kernel_is_used_and_a_job_cannot_see_the_previous_jobs_variables(fake_project):
    p = fake_project
    result = runner.run(p, runner.select_papers(p, ["91", "92"]), [("E06000004", "Stockton-on-Tees"), ("E06000001", "Hartlepool")], progress=quiet)
    assert result.exit_code == 0
    kernels_used = [r["kernel"] for r in result.records]
    assert kernels_used.count("cold") == 1 and kernels_used.count("warm") == 3, (
        "every job after the first starts on a kernel warmed during the one before"
    )
    if kernels.forking_allowed():
        assert all(r["forked"] for r in result.records), "on Linux every kernel is forked from the primed parent"
    for r in result.records:  # each job left a variable behind; no later job saw one, nor the priming's helper
        seen = json.loads((p.reports / r["folder"] / "metrics.json").read_text())["metrics"]["seen"]["value"]
        assert seen == [], (r["key"], seen)
    # and nothing is left running once the run is over: no spare kernel, no primed parent, no socket folder
    assert kernels._WARMING == {} and kernels._ZYGOTE == {}
    assert _zygotes_for(p.notebooks) == []
    assert not list(Path(__import__("tempfile").gettempdir()).glob(kernels.kernel_temp_prefix(p) + "*"))


@pytest.mark.slow  # full tier: a second kernel set-up path, and a killed parent
def test_without_forking_kernels_are_new_processes_primed_by_import(fake_project, monkeypatch):
    monkeypatch.setenv("ANALYSIS_FORK_KERNELS", "0")
    p = fake_project
    result = runner.run(p, runner.select_papers(p, ["91"]), [("E06000004", "Stockton-on-Tees"), ("E06000001", "Hartlepool")], progress=quiet)
    assert result.exit_code == 0
    assert [r["forked"] for r in result.records] == [False, False]
    assert [r["kernel"] for r in result.records] == ["cold", "warm"]
    seen = json.loads((p.reports / result.records[1]["folder"] / "metrics.json").read_text())["metrics"]["seen"]["value"]
    assert seen == [], "the priming's helper is not left in the kernel"
    assert _zygotes_for(p.notebooks) == []


def test_a_forked_kernel_that_runs_too_long_is_stopped_and_the_job_fails(fake_project, monkeypatch):
    monkeypatch.setenv("FAKE_SLEEP", "91")
    p = fake_project
    started = time.monotonic()
    result = runner.run(p, runner.select_papers(p, ["91"]), [("E06000001", "Hartlepool")], progress=quiet, timeout=3)
    assert time.monotonic() - started < 100, "the 120 s cell was cut short"
    [record] = result.records
    assert record["status"] == "failed" and "timed out" in (record["error"] or "").lower(), record["error"]
    assert record["forked"] is kernels.forking_allowed()
    assert _zygotes_for(p.notebooks) == []


def test_a_warm_kernel_is_never_used_for_another_project(fake_project, tmp_path):
    p = fake_project
    kernels.warm_ahead(str(p.root), str(p.notebooks), "91")
    assert kernels.take_warm_kernel(str(tmp_path), str(p.notebooks)) is None  # warmed for another root: stopped, not used
    assert kernels._WARMING == {}
    kernels.warm_ahead(str(p.root), str(p.notebooks), "91")
    warm = kernels.take_warm_kernel(str(p.root), str(p.notebooks))
    assert warm is not None and warm.km.is_alive()
    kernels.stop(warm)
    assert not warm.km.has_kernel
    kernels.release_warm_kernel()
    assert _zygotes_for(p.notebooks) == []


@pytest.mark.slow  # full tier: a second kernel set-up path, and a killed parent
def test_kernels_forked_from_a_parent_that_dies_do_not_outlive_it(fake_project):
    if not kernels.forking_allowed():
        pytest.skip("kernels are forked on Linux only")
    p = fake_project
    warm = kernels.start_warm_kernel(str(p.root), str(p.notebooks), "91")
    try:
        assert warm.km.forked and warm.km.is_alive()
        zygote = kernels._ZYGOTE["current"]
        zygote.proc.kill()  # the parent is killed (as when its worker is): the kernel notices and exits
        zygote.proc.wait()
        deadline = time.monotonic() + 30
        while warm.km.is_alive() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not warm.km.is_alive()
    finally:
        kernels.stop(warm)
        kernels.release_warm_kernel()


@pytest.mark.slow  # full tier
def test_a_forked_kernel_can_be_interrupted(fake_project):
    """An interrupt (SIGINT to the kernel's process group, as jupyter_client sends it) reaches the code
    running in a forked kernel, although its parent ignores interrupts."""
    p = fake_project
    warm = kernels.start_warm_kernel(str(p.root), str(p.notebooks), "91")
    kc = warm.km.blocking_client()
    try:
        kc.start_channels()
        kc.wait_for_ready(timeout=60)
        kc.execute("import time\ntry:\n    time.sleep(60)\nexcept KeyboardInterrupt:\n    print('interrupted')\n")
        time.sleep(1.5)
        started = time.monotonic()
        warm.km.interrupt_kernel()
        reply = kc.get_shell_msg(timeout=30)
        assert reply["content"]["status"] == "ok" and time.monotonic() - started < 30
        printed = []
        while True:
            try:
                msg = kc.get_iopub_msg(timeout=2)
            except __import__("queue").Empty:  # no more messages
                break
            if msg["msg_type"] == "stream":
                printed.append(msg["content"]["text"])
        assert "interrupted\n" in printed
        assert warm.km.forked is kernels.forking_allowed()
    finally:
        kc.stop_channels()
        kernels.stop(warm)
        kernels.release_warm_kernel()


def test_a_primed_parent_is_not_used_once_the_code_has_changed(fake_project, monkeypatch):
    """A long-lived worker (a Dask worker on another machine) starts a new primed parent when the
    package's code changes, instead of forking kernels from the old code."""
    if not kernels.forking_allowed():
        pytest.skip("kernels are forked on Linux only")
    p = fake_project
    try:
        first = kernels.zygote_for(str(p.root), str(p.notebooks))
        assert kernels.zygote_for(str(p.root), str(p.notebooks)) is first, "the same code: the same parent"
        monkeypatch.setattr(kernels, "package_digest", lambda: "changed")
        second = kernels.zygote_for(str(p.root), str(p.notebooks))
        assert second is not first and not first.alive() and second.alive()
    finally:
        kernels.release_warm_kernel()
    assert _zygotes_for(p.notebooks) == []


def test_each_kernel_gets_one_maths_thread_unless_the_user_sets_otherwise(fake_project, monkeypatch):
    """Two workers on two cores with numerical libraries at their default thread count took 500 s for paper 02
    beside another busy process, 9 s with one thread each: every kernel gets one, and a user's own setting stands."""
    p = fake_project
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    result = runner.run(p, runner.select_papers(p, ["91"]), [("E06000004", "Stockton-on-Tees")], progress=quiet)
    m = json.loads((p.reports / "latest" / "91_fake_91" / "E06000004" / "metrics.json").read_text())
    assert result.exit_code == 0 and m["metrics"]["threads"]["value"] == "1"
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    runner.run(p, runner.select_papers(p, ["91"]), [("E06000004", "Stockton-on-Tees")], progress=quiet)
    m = json.loads((p.reports / "latest" / "91_fake_91" / "E06000004" / "metrics.json").read_text())
    assert m["metrics"]["threads"]["value"] == "2", "the user's own setting stands"
