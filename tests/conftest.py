"""Shared fixtures. Tests never touch the user's data/processed/ or reports/: they build their
own processed data in a temporary project that links to the shipped raw files."""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

# One maths thread per process, as the runner gives every kernel (analysis.run.kernels): two test processes on
# two cores with OpenMP and BLAS at their default thread count oversubscribe the cores, and paper 02's boosted
# model ran about eight times slower in the notebook tests. A user's own setting stands.
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import pandas as pd  # noqa: E402 (after the thread settings, which numerical libraries read when loaded)
import pytest  # noqa: E402

from analysis.config import paths as make_paths  # noqa: E402
from analysis.io.geography import build_la_lookup  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
RAW_PUBLIC = REPO / "data" / "raw" / "public"
REPO_NOTEBOOKS = REPO / "notebooks"


def make_project(root: Path, *, copy_raw: bool = False, notebooks: Path | None = None) -> Path:
    """A throwaway project root: pyproject.toml, data/raw/public (linked or copied) and the
    notebooks with their registry (the repository's, linked, unless another folder is given)."""
    (root / "data" / "raw").mkdir(parents=True)
    (root / "notebooks").symlink_to(notebooks or REPO_NOTEBOOKS)
    (root / "pyproject.toml").write_text("[project]\nname = 'scratch'\n")
    if copy_raw:
        shutil.copytree(RAW_PUBLIC, root / "data" / "raw" / "public")
    else:
        (root / "data" / "raw" / "public").symlink_to(RAW_PUBLIC)
    return root


def shared_build(tmp_path_factory, name: str, build) -> Path:
    """A folder built once for the whole test session, whichever test process asks first: with pytest-xdist
    each process would otherwise build its own copy of the same read-only project (the public ingest, the
    synthetic 903). The others wait on a lock and use the finished folder; ``build(root)`` fills it."""
    import fcntl

    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        root = tmp_path_factory.mktemp(name)
        build(root)
        return root
    base = tmp_path_factory.getbasetemp().parent  # the session's folder, shared by its processes
    root, done = base / name, base / f"{name}.done"
    with open(base / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            shutil.rmtree(root, ignore_errors=True)
            root.mkdir()
            build(root)
            done.touch()
    return root


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """A project with processed data built once from the shipped files (read-only for tests)."""
    from analysis.io.ingest import run_ingest

    p = make_paths(shared_build(tmp_path_factory, "built", lambda root: run_ingest(make_paths(make_project(root)))))
    return p, run_ingest(p)  # "up to date", with the build's report


@pytest.fixture(scope="session")
def la_indicators(built):
    from analysis.io.ingest import read_table

    return read_table(built[0], "la_indicators")


@pytest.fixture
def small_lookup() -> pd.DataFrame:
    """A hand-made LA lookup covering a few LAs and every kind of code change."""
    rows = [
        ("808", "E06000004", "Stockton-on-Tees", "E12000001", "North East"),
        ("805", "E06000001", "Hartlepool", "E12000001", "North East"),
        ("383", "E08000035", "Leeds", "E12000003", "Yorkshire and The Humber"),
        ("815", "E06000065", "North Yorkshire", "E12000003", "Yorkshire and The Humber"),
        ("815", "E10000023", "North Yorkshire", "E12000003", "Yorkshire and The Humber"),
        ("835", "E10000009", "Dorset", "E12000009", "South West"),
        ("838", "E06000059", "Dorset", "E12000009", "South West"),
        ("839", "E06000058", "Bournemouth, Christchurch and Poole", "E12000009", "South West"),
        ("837", "E06000028", "Bournemouth", "E12000009", "South West"),
        ("836", "E06000029", "Poole", "E12000009", "South West"),
        ("909", "E10000006", "Cumbria", "E12000002", "North West"),
        ("942", "E06000063", "Cumberland", "E12000002", "North West"),
        ("943", "E06000064", "Westmorland and Furness", "E12000002", "North West"),
        ("801", "E06000023", "Bristol, City of", "E12000009", "South West"),
    ]
    df = pd.DataFrame(rows, columns=["old_la_code", "new_la_code", "la_name", "region_code", "region_name"])
    return build_la_lookup(df)


def write_csv(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


def make_run_project(root: Path, built_paths, notebooks: Path | None = None, with_903=None) -> Path:
    """A project for runner tests: raw data linked, processed data copied from ``built``, and a
    notebooks folder (the real one, linked, unless another is given); ``with_903`` (a project's
    paths) adds its raw and processed 903 data and costs."""
    make_project(root, notebooks=notebooks)
    shutil.copytree(built_paths.processed_public, root / "data" / "processed" / "public")
    if with_903 is not None:
        shutil.copytree(with_903.processed / "ssda903", root / "data" / "processed" / "ssda903")
        for folder in ("ssda903", "costs"):
            shutil.copytree(with_903.raw / folder, root / "data" / "raw" / folder)
    return root


@pytest.fixture(scope="session")
def published(built, tmp_path_factory):
    """Paper 01 run once through the runner for the default LA (shared by report tests)."""
    import os

    from analysis.run import runner

    root = make_run_project(tmp_path_factory.mktemp("published"), built[0])
    p = make_paths(root)
    old = os.environ.get("ANALYSIS_PROJECT_ROOT")
    os.environ["ANALYSIS_PROJECT_ROOT"] = str(root)
    try:
        papers = runner.select_papers(p, ["01"])
        result = runner.run(p, papers, runner.resolve_las(p, ["E06000004"]), progress=lambda m: None)
    finally:
        if old is None:
            os.environ.pop("ANALYSIS_PROJECT_ROOT", None)
        else:
            os.environ["ANALYSIS_PROJECT_ROOT"] = old
    return p, result


@pytest.fixture(scope="session")
def project_903(built, tmp_path_factory):
    """A project with the published tables and the default synthetic 903 (Stockton-on-Tees, seed 1,
    as ``make setup`` writes it) ingested: what papers 02-04 read. Built once per session."""
    import os

    from analysis.io import ingest903
    from analysis.synth import synthetic

    def build(root: Path) -> None:
        make_project(root)
        shutil.copytree(built[0].processed_public, root / "data" / "processed" / "public")
        p = make_paths(root)
        old = os.environ.get("ANALYSIS_PSEUDONYMISATION_KEY")
        os.environ["ANALYSIS_PSEUDONYMISATION_KEY"] = "test-key-" + "0" * 24
        try:
            synthetic.generate(p, "E06000004", 1, p.raw / "ssda903", costs_dir=p.raw / "costs")
            ingest903.run_ingest_903(p)
        finally:
            if old is None:
                os.environ.pop("ANALYSIS_PSEUDONYMISATION_KEY", None)
            else:
                os.environ["ANALYSIS_PSEUDONYMISATION_KEY"] = old

    return make_paths(shared_build(tmp_path_factory, "p903", build))


@pytest.fixture(scope="module")
def driver():
    """Headless Chromium (Debian's package, installed by `.ci/run`): a failure in CI if it is missing
    (``ANALYSIS_REQUIRE_BROWSER=1``), a skip elsewhere."""
    import browser

    if not browser.available():
        if os.environ.get("ANALYSIS_REQUIRE_BROWSER") == "1":
            pytest.fail("Chromium/chromedriver not installed but ANALYSIS_REQUIRE_BROWSER=1 (CI installs them in .ci/run)")
        pytest.skip("Chromium/chromedriver not installed (apt-get install chromium chromium-driver)")
    with browser.chromium() as d:
        yield d


@contextlib.contextmanager
def environment(**env: str):
    """Set environment variables for the block, and put back what was there (a module fixture cannot use monkeypatch)."""
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
