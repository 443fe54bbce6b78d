"""Every notebook: reviewable in git (no outputs, project kernel, one parameters cell), and run
top to bottom by papermill with the project kernel on the test's own processed data."""

import json
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from analysis.config import CELL_TIMEOUT, KERNEL_NAME

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
    """papermill runs the notebook as the runner does (:func:`analysis.run.execute.execute_in`): in the notebooks
    folder, in a kernel forked from a parent with the project's modules already imported (analysis.run.kernels; a
    fresh kernel where forking is not allowed)."""
    import os
    import tempfile

    from analysis.run import kernels
    from analysis.run.execute import execute_in

    with tempfile.TemporaryDirectory(prefix="nbtest-") as sockets:
        km = kernels.kernel_manager(os.environ["ANALYSIS_PROJECT_ROOT"], str(path.parent), path.name[:2], sockets)
        return execute_in(km, Path(path), Path(out), params, timeout=CELL_TIMEOUT)


def test_overview_notebook_runs_for_an_la(kernel_env, tmp_path):
    path = next(p for p in NOTEBOOKS if p.name.startswith("00_"))
    nb = _run(path, tmp_path / "out.ipynb", {"la_code": "Hartlepool"})
    text = "\n".join(o.get("text", "") + str(o.get("data", {}).get("text/plain", "")) for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "Hartlepool (E06000001, old code 805)" in text
    assert "per 10,000 children aged 0-17" in text


@pytest.mark.slow  # the same check runs for paper 01 in the fast tier
def test_overview_notebook_stops_on_an_unknown_la_with_close_matches(kernel_env, tmp_path):
    import papermill as pm

    path = next(p for p in NOTEBOOKS if p.name.startswith("00_"))
    with pytest.raises(pm.PapermillExecutionError) as err:
        _run(path, tmp_path / "out.ipynb", {"la_code": "Hartlepol"})
    assert "UnknownLAError" in str(err.value) and "Hartlepool (E06000001, 805)" in str(err.value)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_parameters_cell_agrees_with_the_registry_read_by_papermill(path):
    """papermill's own reading of the parameters cell (names, types, defaults, help) against the registry."""
    import json

    import papermill as pm

    from analysis.papers import registry

    spec = registry.spec(path.name[:2])
    assert spec.notebook == path.name
    declared = pm.inspect_notebook(str(path))
    assert list(declared) == [x.name for x in spec.parameters]
    for x in spec.parameters:
        info = declared[x.name]
        assert info["inferred_type_name"] == x.type.__name__, x.name
        assert json.loads(info["default"]) == x.default, x.name
        assert info["help"] == x.help, x.name


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


# --- paper 02 on the default synthetic 903 --------------------------------------------------------
@pytest.fixture
def kernel_env_903(project_903, monkeypatch):
    if not _kernel_installed():
        pytest.fail(f"Jupyter kernel '{KERNEL_NAME}' is not registered: run `make kernel` (see README)")
    monkeypatch.setenv("ANALYSIS_PROJECT_ROOT", str(project_903.root))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    return project_903


def _outputs_text(nb) -> str:
    return "\n".join(
        o.get("text", "") + str(o.get("data", {}).get("text/markdown", "")) + str(o.get("data", {}).get("text/html", ""))
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
    )


def test_paper_02_runs_and_records_the_planted_truth(kernel_env_903, tmp_path):
    import json

    path = next(p for p in NOTEBOOKS if p.name.startswith("02_"))
    nb = _run(
        path, tmp_path / "out.ipynb", {"output_dir": str(tmp_path), "resamples": 50}
    )  # the fewest resamples allowed: the subgroup checks still run
    m = json.loads((tmp_path / "metrics.json").read_text())
    assert m["paper"] == "02" and m["la_code"] == "E06000004"
    truth = m["planted_truth"]
    assert set(truth) == {
        "age_10_15",
        "age_16_plus",
        "childrens_home",
        "supported",
        "kinship",
        "over_20_miles",
        "outside_la",
        "previous_moves",
        "sdq_per_5_points",
    }
    for name, t in truth.items():
        assert t["inside_95"] == (t["lower_95"] <= t["planted"] <= t["upper_95"]), name
        assert t["recovered"] == (t["inside_95"] and t["power"] >= 0.8), name
    assert 0.5 < m["metrics"]["classifier_boosted"]["value"]["auc"] < 1
    assert {"hazard_ratios", "rate_per_100_placement_years", "ended_unplanned_within_12_months_pct"} <= set(m["metrics"])
    text = _outputs_text(nb)
    assert "Appropriate use" in "".join(c.source for c in nb.cells) and "Key findings" in "".join(c.source for c in nb.cells)
    assert "planted effects recovered (inside the 95% interval, with at least 80% power)" in text
    assert "Quick run (resamples = 50)" in text, "the report says how much resampling it did"
    assert (tmp_path / "tables.xlsx").is_file()


@pytest.mark.slow  # 8-25 s: the full tier (make test-all, CI) runs it; the fast tier keeps one run of each paper
def test_paper_02_with_too_little_data_shows_descriptives_and_skips_the_models(kernel_env_903, tmp_path):
    import json

    path = next(p for p in NOTEBOOKS if p.name.startswith("02_"))
    nb = _run(
        path,
        tmp_path / "out.ipynb",
        {
            "first_year": 2025,
            "last_year": 2025,
            "definition": "narrow",
            "horizons": [6],
            "model_horizon": 6,
            "test_years": 1,
            "output_dir": str(tmp_path),
        },
    )
    text = _outputs_text(nb)
    assert "Models not fitted" in text and "too few" in text
    m = json.loads((tmp_path / "metrics.json").read_text())
    assert "models_skipped" in m["metrics"] and "planted_truth" not in m


@pytest.mark.slow  # a kernel for one sentence: in the full tier
def test_paper_02_stops_with_a_clear_message_on_a_bad_definition(kernel_env_903, tmp_path):
    import papermill as pm

    path = next(p for p in NOTEBOOKS if p.name.startswith("02_"))
    with pytest.raises(pm.PapermillExecutionError) as err:
        _run(path, tmp_path / "out.ipynb", {"definition": "wide"})
    assert "ParameterError" in str(err.value) and "narrow, standard, broad" in str(err.value)


# --- paper 03 -------------------------------------------------------------------------------------
def test_paper_03_runs_both_halves_and_records_the_planted_truth(kernel_env_903, tmp_path):
    import json

    path = next(p for p in NOTEBOOKS if p.name.startswith("03_"))
    nb = _run(path, tmp_path / "out.ipynb", {"bootstrap": 30, "output_dir": str(tmp_path)})
    m = json.loads((tmp_path / "metrics.json").read_text())
    assert m["paper"] == "03" and "across_la_coefficients" in m["metrics"] and "out_of_area_premium" in m["metrics"]
    vmp = m["metrics"]["volume_mix_price"]["value"]
    parts = list(vmp.values())
    assert parts[0] + parts[1] + parts[2] + parts[3] == pytest.approx(parts[4], abs=2), "volume + mix + price = change"
    truth = m["planted_truth"]
    assert {"outside_la", "age_per_year_over_10", "sdq_per_5_points", "disability_n2"} <= set(truth)
    for name, t in truth.items():
        assert t["inside_95"] == (t["lower_95"] <= t["planted"] <= t["upper_95"]), name
        assert t["recovered"] == (t["inside_95"] and t["power"] >= 0.8), name
    assert "Scenario A" in _outputs_text(nb)
    assert "Quick run (bootstrap = 30). For publication, run `analysis run 03 --full` (bootstrap = 2,000)" in _outputs_text(nb)
    # scenario A on the planted costs: private homes outside (5,600 a week, +12% outside) to own homes inside (4,600)
    local_a = next(r for r in m["metrics"]["scenarios"]["value"] if r["scenario"] == "A" and r["basis"].startswith("the LA's own"))
    planted = 5 * 365.25 / 7 * (4600 - 5600 * 2.718281828**0.12)
    assert local_a["annual_change_gbp"] == pytest.approx(planted, rel=0.25)
    assert local_a["lower_95"] < local_a["annual_change_gbp"] < local_a["upper_95"] < 0


@pytest.mark.slow
def test_paper_03_for_another_la_shows_the_across_la_half_and_says_why_not_the_rest(kernel_env_903, tmp_path):
    import json

    path = next(p for p in NOTEBOOKS if p.name.startswith("03_"))
    nb = _run(path, tmp_path / "out.ipynb", {"la_code": "Hartlepool", "output_dir": str(tmp_path)})
    m = json.loads((tmp_path / "metrics.json").read_text())
    assert m["la_code"] == "E06000001" and "spend_per_child" in m["metrics"]
    assert "903 data in this project is for Stockton-on-Tees" in m["metrics"]["within_la"]["value"]
    assert "planted_truth" not in m
    assert "Not shown" in _outputs_text(nb)


@pytest.mark.slow  # 8-25 s: the full tier (make test-all, CI) runs it; the fast tier keeps one run of each paper
def test_paper_03_without_903_or_cost_data_says_how_to_supply_it(kernel_env, tmp_path):
    import json

    path = next(p for p in NOTEBOOKS if p.name.startswith("03_"))
    _run(path, tmp_path / "out.ipynb", {"output_dir": str(tmp_path)})
    m = json.loads((tmp_path / "metrics.json").read_text())
    assert "data/raw/costs/placement_costs.csv" in m["metrics"]["within_la"]["value"] and "across_la_coefficients" in m["metrics"]


# --- paper 04 -------------------------------------------------------------------------------------
def test_paper_04_run_by_hand_names_the_missing_papers_and_checks_the_planted_rates(kernel_env_903, tmp_path):
    import json

    path = next(p for p in NOTEBOOKS if p.name.startswith("04_"))
    nb = _run(path, tmp_path / "out.ipynb", {"bootstrap": 40, "forecast_years": 3, "output_dir": str(tmp_path / "run" / "04_x" / "E06000004")})
    m = json.loads((tmp_path / "run" / "04_x" / "E06000004" / "metrics.json").read_text())
    assert m["metrics"]["papers_included"]["value"] == [] and m["metrics"]["papers_included"]["missing"] == ["01", "02", "03", "05"]
    assert m["metrics"]["forecast_source"]["value"] == "903"
    text = _outputs_text(nb)
    assert "Missing from this pack" in text and "paper 01 did not run or failed in this run" in text
    forecast = m["metrics"]["forecast_children"]["value"]["Current trends"]
    assert list(forecast) == ["2026", "2027", "2028"] and all(v["lower_95"] <= v["mean"] <= v["upper_95"] for v in forecast.values())
    assert {"Model (combined) 1y", "Stock-and-flow 1y", "Last value 1y", "Linear trend 1y"} <= set(m["metrics"]["backtest"]["value"])
    truth = m["planted_truth"]
    rates = {k: v for k, v in truth.items() if "a month" in k}
    assert len(rates) == 12 and all(v["recovered"] for v in rates.values()), rates
    assert any(k.startswith("children looked after at 31 March") for k in truth)
    # the monthly projection is in the workbook only (show=False): its sheet is there, with months and intervals
    sheets = pd.read_excel(tmp_path / "run" / "04_x" / "E06000004" / "tables.xlsx", sheet_name=None, header=None)
    monthly = next(v for k, v in sheets.items() if k.startswith("monthly"))
    assert monthly.astype(str).apply(lambda col: col.str.contains("lower_95|Lower 95", case=False)).any().any()


@pytest.mark.parametrize(
    "la,env",
    [
        ("Hartlepool", "kernel_env_903"),
        pytest.param("Rutland", "kernel_env_903", marks=pytest.mark.slow),
        pytest.param("Kent", "kernel_env", marks=pytest.mark.slow),
    ],
)
def test_paper_04_runs_from_published_figures_for_an_la_without_its_903(la, env, request, tmp_path):
    """The 903 in the project is Stockton-on-Tees' (kernel_env_903) or there is none (kernel_env): the pack
    for another LA is built from published figures and says so."""
    import json

    request.getfixturevalue(env)
    path = next(p for p in NOTEBOOKS if p.name.startswith("04_"))
    out = tmp_path / "run" / "04_x" / la
    nb = _run(path, tmp_path / "out.ipynb", {"la_code": la, "forecast_years": 3, "output_dir": str(out)})
    m = json.loads((out / "metrics.json").read_text())
    assert m["metrics"]["forecast_source"]["value"] == "published"
    text = _outputs_text(nb)
    assert "Built from the DfE's published figures" in text and "paper 02 needs the LA's own 903 data" in text
    assert "projected from published DfE figures" in text and "SYNTHETIC" not in text
    forecast = m["metrics"]["forecast_children"]["value"]["Current trends"]
    assert list(forecast) == ["2026", "2027", "2028"]
    assert all(isinstance(v["mean"], (int, float)) and v["lower_95"] <= v["mean"] <= v["upper_95"] for v in forecast.values())
    assert "planted_truth" not in m
    assert "Children looked after at 31 March by age" in text and "Unit costs used" in text


@pytest.mark.slow  # 8-25 s: the full tier (make test-all, CI) runs it; the fast tier keeps one run of each paper
def test_paper_04_with_too_short_a_history_shows_the_descriptive_parts(kernel_env_903, tmp_path):
    path = next(p for p in NOTEBOOKS if p.name.startswith("04_"))
    nb = _run(path, tmp_path / "out.ipynb", {"first_year": 2022, "bootstrap": 10})
    text = _outputs_text(nb)
    assert "Forecast not made" in text and "only 4 year(s) of 903 history (2022-2025): the forecast needs at least 6" in text
    assert "Children looked after at 31 March by age" in text


def test_paper_05_runs_from_published_figures_and_names_its_stand_ins(kernel_env_903, tmp_path):
    """Paper 05 for an LA whose 903 the project does not hold: published figures only, not marked synthetic;
    the gap table and the metrics paper 04 reads are written, and the fostering figures say where they come from."""
    path = next(p for p in NOTEBOOKS if p.name.startswith("05_"))
    out = tmp_path / "run" / "05_x" / "E06000001"
    nb = _run(
        path, tmp_path / "out.ipynb", {"la_code": "Hartlepool", "bootstrap": 10, "gap_years": 2, "target_inside_pct": 80.0, "output_dir": str(out)}
    )
    m = json.loads((out / "metrics.json").read_text())
    assert m["synthetic"] is False and m["metrics"]["gap"]["source"] == "published"
    assert {r["year"] for r in m["metrics"]["gap"]["value"]} == {2026, 2027}
    assert m["metrics"]["levers"]["value"]["target_inside_share"] == pytest.approx(0.8)
    sheets = pd.read_excel(out / "tables.xlsx", sheet_name=None)
    assert {"supply", "gap", "foster_households", "uasc", "care_leavers", "net_gain"} <= set(sheets)
    text = _outputs_text(nb)
    assert "national stand-in" in text and "Ofsted" in text and "SYNTHETIC" not in text


def test_paper_05_stops_with_a_clear_message_on_a_bad_target(kernel_env, tmp_path):
    import papermill as pm

    path = next(p for p in NOTEBOOKS if p.name.startswith("05_"))
    with pytest.raises(pm.PapermillExecutionError, match="target_inside_pct"):
        _run(path, tmp_path / "out.ipynb", {"target_inside_pct": 150.0})
