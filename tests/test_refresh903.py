"""Scheduled re-runs notice a new or changed 903 return, and changed code that reads it (issues 25 and 27).

The 903 ingest's code digest is derived from the modules it imports (never a hand-kept list), so a changed
DfE rule re-ingests; ``analysis refresh`` re-ingests the 903 when a return changes, by checksum, and re-runs
the papers that read it; ``analysis run`` on stale processed data says so."""

from __future__ import annotations

import shutil

import pytest
from conftest import environment, make_run_project

from analysis.config import code_digest
from analysis.config import paths as make_paths
from analysis.io import ingest903
from analysis.run import refresh as refresher
from analysis.run import runner

PKG = __import__("analysis").__path__[0]
KEY = "test-key-" + "0" * 24


def _copy(tmp_path):
    copy = tmp_path / "analysis"
    shutil.copytree(PKG, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def test_the_903_ingests_code_digest_follows_its_imports_not_a_list(tmp_path):
    copy = _copy(tmp_path)
    before = code_digest("analysis.io.ingest903", copy)
    (copy / "synth" / "synthetic.py").write_text((copy / "synth" / "synthetic.py").read_text() + "\n# a change the ingest does not import\n")
    assert code_digest("analysis.io.ingest903", copy) == before
    for module in ("ssda903_dfe.py", "ssda903_xml.py", "dates.py", "ssda903_schema.py"):  # the files the old list missed, and the new ones
        f = copy / "io" / module
        f.write_text(f.read_text() + "\n# changed\n")
        after = code_digest("analysis.io.ingest903", copy)
        assert after != before, module
        before = after


@pytest.fixture
def project(built, project_903, tmp_path):
    root = make_run_project(tmp_path / "p", built[0], with_903=project_903)
    with environment(ANALYSIS_PSEUDONYMISATION_KEY=KEY, ANALYSIS_PROJECT_ROOT=str(root)):
        p = make_paths(root)
        ingest903.run_ingest_903(p)  # stamped for this project's key and code
        yield p


def _drop_last_row(path):
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:-1]))


@pytest.mark.slow
def test_refresh_reingests_a_replaced_return_and_reruns_paper_02(project):
    p = project
    papers = runner.select_papers(p, ["02"])
    las = [("E06000004", "Stockton-on-Tees")]
    first = runner.run(p, papers, las, progress=lambda m: None)
    assert first.exit_code == 0
    said: list[str] = []
    assert refresher.refresh(p, papers, las, progress=said.append) == 0
    assert "903 returns unchanged since the last ingest" in said and any("nothing to do" in m for m in said)

    assert not ingest903.is_stale(p)
    _drop_last_row(p.raw / "ssda903" / "2024-25" / "episodes.csv")  # a year's episodes file replaced
    assert ingest903.is_stale(p)
    notes: list[str] = []
    ran = []
    with pytest.MonkeyPatch.context() as mp:  # a run on stale processed data says so before it starts (the jobs are not needed)
        mp.setattr(runner, "run_jobs", lambda *a, **k: ran.append(1) or runner.RunResult("r", {}, []))
        runner.run(p, papers, las, progress=notes.append)
    assert ran and any("older than the returns" in m for m in notes), notes
    said.clear()
    assert refresher.refresh(p, papers, las, progress=said.append) == 0
    assert any(m.startswith("re-ingested the 903 returns") for m in said), said
    assert any(m.startswith("to run: 02/E06000004") and "inputs changed" in m for m in said), said
    assert not ingest903.is_stale(p)


@pytest.mark.slow
def test_a_changed_dfe_rule_reingests_at_refresh(project, tmp_path, monkeypatch):
    """The DfE rule module changed in a temporary copy of the package: the ingest's fingerprint (derived from the
    modules it imports) changes, so refresh re-ingests; an unrelated module's change does not."""
    p = project
    copy = _copy(tmp_path)
    monkeypatch.setattr(ingest903, "code_digest", lambda module: code_digest(module, copy))
    ingest903.run_ingest_903(p)  # stamped with the copy's digest
    assert not ingest903.is_stale(p)
    (copy / "report" / "charts.py").write_text((copy / "report" / "charts.py").read_text() + "\n# unrelated\n")
    assert not ingest903.is_stale(p)
    rules = copy / "io" / "ssda903_dfe.py"
    rules.write_text(rules.read_text() + "\n# a DfE rule changed\n")
    assert ingest903.is_stale(p)
    said: list[str] = []
    refresher.refresh(p, [], [("E06000004", "Stockton-on-Tees")], progress=said.append)  # no paper: the ingest is what is tested
    assert any(m.startswith("re-ingested the 903 returns") for m in said), said
    assert not ingest903.is_stale(p)
