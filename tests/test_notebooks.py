"""Every notebook: reviewable in git (no outputs, project kernel, one parameters cell), and run
top to bottom by papermill with the project kernel on the test's own processed data."""

from pathlib import Path

import nbformat
import pytest

from analysis.config import KERNEL_NAME

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _kernel_installed() -> bool:
    from jupyter_client.kernelspec import KernelSpecManager

    return KERNEL_NAME in KernelSpecManager().find_kernel_specs()


def test_there_are_notebooks():
    assert NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_stripped_and_uses_the_project_kernel(path):
    nb = nbformat.read(path, as_version=4)
    assert nb.metadata["kernelspec"]["name"] == KERNEL_NAME
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged 'parameters'"
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in nb.cells if c.cell_type == "code")
    assert not any("def " in c.source or "class " in c.source for c in nb.cells if c.cell_type == "code"), "logic belongs in src/analysis"


@pytest.fixture
def kernel_env(built, monkeypatch):
    if not _kernel_installed():
        pytest.fail(f"Jupyter kernel '{KERNEL_NAME}' is not registered: run `make kernel` (see README)")
    monkeypatch.setenv("ANALYSIS_PROJECT_ROOT", str(built[0].root))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    return built[0]


def _run(path, out, params):
    import papermill as pm

    return pm.execute_notebook(
        str(path), str(out), parameters=params, kernel_name=KERNEL_NAME, cwd=str(out.parent),
        progress_bar=False, execution_timeout=300, start_timeout=120,
    )


def test_overview_notebook_runs_for_an_la(kernel_env, tmp_path):
    path = next(p for p in NOTEBOOKS if p.name.startswith("00_"))
    nb = _run(path, tmp_path / "out.ipynb", {"la_code": "Hartlepool"})
    text = "\n".join(
        o.get("text", "") + str(o.get("data", {}).get("text/plain", "")) for c in nb.cells if c.cell_type == "code" for o in c.outputs
    )
    assert "Hartlepool (E06000001, old code 805)" in text
    assert "per 10,000 children aged 0-17" in text


def test_overview_notebook_stops_on_an_unknown_la_with_close_matches(kernel_env, tmp_path):
    import papermill as pm

    path = next(p for p in NOTEBOOKS if p.name.startswith("00_"))
    with pytest.raises(pm.PapermillExecutionError) as err:
        _run(path, tmp_path / "out.ipynb", {"la_code": "Hartlepol"})
    assert "UnknownLAError" in str(err.value) and "Hartlepool (E06000001, 805)" in str(err.value)


def test_paper_01_parameters_cell_matches_the_declared_types():
    import papermill as pm

    from analysis.compare import PARAMETER_TYPES

    path = next(p for p in NOTEBOOKS if p.name.startswith("01_"))
    declared = pm.inspect_notebook(str(path))
    assert set(declared) == set(PARAMETER_TYPES)
    for name, info in declared.items():
        assert info["inferred_type_name"] == PARAMETER_TYPES[name].__name__, name
        assert info["help"], f"{name} needs a help comment"


def test_paper_01_runs_for_another_la_comparator_and_year(kernel_env, tmp_path):
    import json

    path = next(p for p in NOTEBOOKS if p.name.startswith("01_"))
    _run(path, tmp_path / "out.ipynb", {"la_code": "Hartlepool", "comparator": "region", "last_year": 2023, "output_dir": str(tmp_path)})
    m = json.loads((tmp_path / "metrics.json").read_text())
    assert m["la_code"] == "E06000001" and m["comparator"] == "other LAs in the North East region"
    assert max(v["year"] for v in m["metrics"].values()) == 2023
    assert m["metrics"]["cla_rate"]["year"] == 2023


def test_paper_01_stops_with_a_clear_message_on_a_bad_comparator(kernel_env, tmp_path):
    import papermill as pm

    path = next(p for p in NOTEBOOKS if p.name.startswith("01_"))
    with pytest.raises(pm.PapermillExecutionError) as err:
        _run(path, tmp_path / "out.ipynb", {"comparator": "neighbors"})
    assert "ParameterError" in str(err.value) and "did you mean 'statistical_neighbours'" in str(err.value)
