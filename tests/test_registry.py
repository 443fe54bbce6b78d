"""The paper registry (notebooks/papers.yaml): the one declaration of each paper, checked against
its notebook, and a new paper added by editing the registry plus writing its notebook."""

import json
import shutil

import nbformat
import pytest
import yaml
from conftest import REPO_NOTEBOOKS, make_run_project
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from analysis import cli
from analysis.config import KERNEL_NAME
from analysis.config import paths as make_paths
from analysis.errors import InputError, ParameterError
from analysis.papers import registry
from analysis.run import runner


def project_with(tmp_path, papers: dict, notebooks: dict | None = None):
    """A project whose notebooks folder holds only this registry (and the named notebooks)."""
    nbs = tmp_path / "notebooks"
    nbs.mkdir()
    (nbs / "papers.yaml").write_text(yaml.safe_dump({"papers": papers}, sort_keys=False))
    for name, cell in (notebooks or {}).items():
        params = new_code_cell(cell)
        params.metadata["tags"] = ["parameters"]
        nbformat.write(new_notebook(cells=[params]), nbs / name)
    (tmp_path / "data" / "raw").mkdir(parents=True)
    (tmp_path / "pyproject.toml").write_text("")
    return make_paths(tmp_path)


TINY = {
    "notebook": "05_tiny.ipynb",
    "title": "Tiny",
    "parameters": {
        "la_code": {"type": "str", "default": "E06000004", "help": "LA"},
        "share": {"type": "float", "default": 0.5, "help": "a share"},
        "years": {"type": "list", "default": [1, 2], "help": "some years"},
    },
}
TINY_CELL = 'la_code: str = "E06000004"  # LA\nshare: float = 0.5  # a share\nyears: list = [1, 2]  # some years'


# --- the real registry ------------------------------------------------------------------------
def test_every_notebook_agrees_with_the_registry():
    assert registry.all_problems() == []
    specs = registry.load()
    assert [s.id for s in specs.values() if s.default] == ["01", "02", "03", "04", "05"]
    assert specs["04"].after == ("01", "02", "03", "05") and specs["04"].pdf and specs["02"].child_level
    assert {s.notebook for s in specs.values()} == {p.name for p in REPO_NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")}


def test_the_command_line_lists_checks_and_writes_the_cell(capsys):
    assert cli.main(["papers", "--check"]) == 0
    assert cli.main(["papers", "3"]) == 0
    out = capsys.readouterr().out
    assert "--param bootstrap=200  (int) resamples of children" in out
    assert cli.main(["papers", "02", "--cell"]) == 0
    assert capsys.readouterr().out.strip() == registry.parameters_cell(registry.spec("02"))


# --- declarations are checked, with the file and the paper named --------------------------------
def test_a_good_declaration_is_read_with_types_and_defaults(tmp_path):
    p = project_with(tmp_path, {"05": TINY}, {"05_tiny.ipynb": TINY_CELL})
    s = registry.spec("05", p)
    assert s.parameter_types == {"la_code": str, "share": float, "years": list}
    assert s.defaults == {"la_code": "E06000004", "share": 0.5, "years": [1, 2]}
    assert s.outputs == ("report.html",) and not s.default and not s.after
    assert registry.parameters_cell(s) == TINY_CELL
    assert registry.all_problems(p) == []


def test_a_full_run_value_is_declared_beside_the_default_and_said_in_the_report(tmp_path):
    boot = {"type": "int", "default": 200, "full": 2000, "help": "resamples"}
    p = project_with(tmp_path, {"05": {**TINY, "parameters": {**TINY["parameters"], "boot": boot}}})
    s = registry.spec("05", p)
    assert s.full_values == {"boot": 2000} and s.defaults["boot"] == 200
    quick = registry.run_setting("05", {"boot": 200}, p)
    assert quick.startswith("Quick run (boot = 200).") and "analysis run 05 --full` (boot = 2,000)" in quick
    full = registry.run_setting("05", {"boot": 2000}, p)
    assert full.startswith("Full run") and "boot = 2,000" in full and "Quick" not in full
    assert registry.run_setting("05", {"boot": 500}, p).startswith("Quick run (boot = 500)"), "anything but the full value is not a full run"
    # the real papers: the three that resample have a full setting, paper 01 none
    assert registry.spec("01").full_values == {} and registry.run_setting("01", {}) == ""
    assert registry.spec("02").full_values == {"resamples": 2000}
    assert registry.spec("03").full_values == {"bootstrap": 2000}
    assert registry.spec("04").full_values == {"bootstrap": 1000}


def test_the_command_line_passes_full_to_the_runner(built, tmp_path, monkeypatch):
    monkeypatch.setenv("ANALYSIS_PROJECT_ROOT", str(make_run_project(tmp_path / "p", built[0])))
    seen = {}

    def fake_run(p, papers, las, parameters, **kw):
        seen.update(kw, papers=[x.id for x in papers], parameters=parameters)
        return runner.RunResult("r", {}, [])

    monkeypatch.setattr(runner, "run", fake_run)
    assert cli.main(["run", "03", "--full", "--param", "bootstrap=500"]) == 0
    assert seen["full"] is True and seen["papers"][-1] == "03" and seen["parameters"] == {"bootstrap": 500}
    assert cli.main(["run", "03"]) == 0 and seen["full"] is False


def test_full_run_jobs_take_the_full_values_and_a_given_param_wins(built, tmp_path):
    p = make_paths(make_run_project(tmp_path / "p", built[0]))
    papers = runner.select_papers(p, ["01", "03"])
    quick = runner.make_jobs(papers, [("E06000001", "Hartlepool")], {})
    full = runner.make_jobs(papers, [("E06000001", "Hartlepool")], {}, full=True)
    given = runner.make_jobs(papers[1:], [("E06000001", "Hartlepool")], {"bootstrap": 500}, full=True)
    assert [j.parameters for j in quick] == [{}, {}]
    assert [j.parameters for j in full] == [{}, {"bootstrap": 2000}]
    assert given[0].parameters == {"bootstrap": 500}
    assert full[1].key != quick[1].key, "a full run's report is kept apart from a quick run's"


@pytest.mark.parametrize(
    "change,message",
    [
        ({"parameters": {"la_code": {"type": "str", "default": "x"}}}, "give type, default and help"),
        ({"parameters": {"la_code": {"type": "str", "default": "x", "help": "h", "full": 3}}}, "full 3 is not a str"),
        ({"parameters": {"la_code": {"type": "text", "default": "x", "help": "h"}}}, "type 'text' is not one of"),
        ({"parameters": {"la_code": {"type": "int", "default": "x", "help": "h"}}}, "default 'x' is not a int"),
        ({"parameters": {"la_code": {"type": "str", "default": "x", "help": " "}}}, "help text is empty"),
        ({"parameters": {"other": {"type": "str", "default": "x", "help": "h"}}}, "every paper takes an la_code"),
        ({"outputs": ["report.html", "slides.pptx"]}, "unknown outputs"),
        ({"outputs": ["metrics.json"]}, "needs an output_dir parameter"),
        ({"after": ["07"]}, "'after' names"),
        ({"notebook": "06_tiny.ipynb"}, "should be named 05_"),
        ({"colour": "blue"}, "unknown keys"),
    ],
)
def test_a_bad_declaration_names_the_file_the_paper_and_what_is_wrong(tmp_path, change, message):
    p = project_with(tmp_path, {"05": {**TINY, **change}})
    with pytest.raises(InputError, match=message) as err:
        registry.load(p)
    assert "papers.yaml" in str(err.value) and "paper 05" in str(err.value)


def test_an_unquoted_or_bad_id_is_refused(tmp_path):
    p = project_with(tmp_path, {5: TINY})
    with pytest.raises(InputError, match="two digits"):
        registry.load(p)


@pytest.mark.parametrize(
    "cell,problem",
    [
        (TINY_CELL.replace("0.5", "0.25"), "'share' is float = 0.25 in the notebook, float = 0.5 in the registry"),
        (TINY_CELL.replace("share: float", "share: int").replace("0.5", "1"), "'share' is int = 1"),
        (TINY_CELL + "\nextra: int = 1  # x", "'extra' is not declared"),
        ("\n".join(TINY_CELL.splitlines()[:2]), "declared parameter 'years' is not in the parameters cell"),
        (TINY_CELL.replace("share: float = 0.5", "share = 0.5"), "every parameter needs a type"),
        (TINY_CELL.replace("# a share", "# the share"), "differs from the registry in order or help text"),
        (TINY_CELL.replace("[1, 2]", "list(range(2))"), "not plain typed literals"),
    ],
)
def test_a_notebook_that_disagrees_with_its_declaration_is_named(tmp_path, cell, problem):
    p = project_with(tmp_path, {"05": TINY}, {"05_tiny.ipynb": cell})
    problems = registry.all_problems(p)
    assert len(problems) == 1 and problem in problems[0], problems
    with pytest.raises(Exception, match="disagree"):
        runner.discover_papers(p)


def test_an_undeclared_notebook_is_named(tmp_path):
    p = project_with(tmp_path, {"05": TINY}, {"05_tiny.ipynb": TINY_CELL, "06_stray.ipynb": TINY_CELL})
    assert registry.all_problems(p) == ["notebooks/06_stray.ipynb is not declared in notebooks/papers.yaml"]


# --- values checked against the declared types ----------------------------------------------------
def test_values_are_checked_against_the_declared_types(tmp_path):
    p = project_with(tmp_path, {"05": TINY})
    registry.check("05", {"la_code": "E06000001", "share": 1, "years": []}, p)  # an int where a float is declared
    for values, message in [
        ({"la_code": "x", "share": "0.5", "years": []}, "'share' should be float, got str"),
        ({"la_code": "x", "share": True, "years": []}, "'share' should be float, got bool"),
        ({"la_code": 808, "share": 0.5, "years": []}, "'la_code' should be str"),
        ({"la_code": "x", "share": 0.5}, "years missing"),
        ({"la_code": "x", "share": 0.5, "years": [], "colour": "red"}, "colour are not declared"),
    ]:
        with pytest.raises(ParameterError, match=message):
            registry.check("05", values, p)


def test_the_runner_refuses_a_wrong_type_before_starting_a_kernel(built, tmp_path, monkeypatch):
    root = make_run_project(tmp_path / "project", built[0])
    monkeypatch.setenv("ANALYSIS_PROJECT_ROOT", str(root))
    assert cli.main(["run", "03", "--param", "bootstrap=many"]) == cli.EXIT_INPUT_ERROR
    assert not (root / "reports" / "runs").exists()


# --- adding a paper: the registry entry plus the notebook, nothing else ---------------------------
NEW_PAPER = """
  "06":
    notebook: 06_children_looked_after.ipynb
    title: "Children looked after, in one table"
    default: false
    inputs: [la_indicators, la_lookup]
    outputs: [report.html, tables.xlsx, metrics.json]
    parameters:
      la_code: {type: str, default: "E06000004", help: "LA: code or name"}
      last_year: {type: int, default: 2025, help: "year at 31 March"}
      output_dir: {type: str, default: "", help: "set by the runner"}
"""
NEW_BODY = """from analysis import config
from analysis.io import ingest
from analysis.papers import params, registry
from analysis.report import reporting

registry.parameters("06", globals())
la = params.resolve_la_param(la_code)
li = ingest.read_table(config.paths(), "la_indicators")
rows = li[(li["area_code"] == la["la_code"]) & (li["indicator"] == "cla_31_march") & (li["measure"] == "number") & (li["year"] == last_year)]
report = reporting.Report(paper="06", title="Children looked after", output_dir=output_dir, context={"la_code": la["la_code"]})
table = rows[["year", "value"]].rename(columns={"value": "children"}).reset_index(drop=True)
report.table("cla", table, title="Children looked after at 31 March", counts=["children"])
report.metric("children_looked_after", float(table["children"].iloc[0]))"""


def test_a_new_paper_is_added_by_its_registry_entry_and_its_notebook(built, tmp_path, monkeypatch):
    nbs = tmp_path / "notebooks"
    shutil.copytree(REPO_NOTEBOOKS, nbs)
    root = make_run_project(tmp_path / "project", built[0], notebooks=nbs)
    monkeypatch.setenv("ANALYSIS_PROJECT_ROOT", str(root))
    # 1. the one place: the registry
    (nbs / "papers.yaml").write_text((nbs / "papers.yaml").read_text() + NEW_PAPER)
    # 2. the notebook: the parameters cell as the registry writes it, then the calls
    cell = new_code_cell(registry.parameters_cell(registry.spec("06")))
    cell.metadata["tags"] = ["parameters"]
    finish = new_code_cell("report.finish()")
    finish.metadata["tags"] = ["remove-cell"]
    nb = new_notebook(
        cells=[new_markdown_cell("# Children looked after"), cell, new_code_cell(NEW_BODY), finish],
        metadata={"kernelspec": {"name": KERNEL_NAME, "display_name": "Python (cla-analysis)", "language": "python"}},
    )
    nbformat.write(nb, nbs / "06_children_looked_after.ipynb")

    assert cli.main(["papers", "--check"]) == 0
    assert cli.main(["run", "06", "--la", "Hartlepool"]) == 0
    out = root / "reports" / "latest" / "06_children_looked_after" / "E06000001"
    assert {"report.html", "tables.xlsx", "metrics.json"} <= {f.name for f in out.iterdir()}
    # the figure published is the one in the processed data, read here independently
    import pandas as pd

    li = pd.read_parquet(root / "data" / "processed" / "public" / "la_indicators.parquet")
    want = li.query("area_code == 'E06000001' and indicator == 'cla_31_march' and measure == 'number' and year == 2025")["value"].item()
    assert json.loads((out / "metrics.json").read_text())["metrics"]["children_looked_after"] == {"value": want, "kind": "value"}
    assert "Children looked after, in one table" in (root / "reports" / "index.html").read_text()
    # the paper is not in the default set (default: false), and is found by number and name
    assert "06" not in [x.id for x in runner.select_papers(make_paths(root), [])]
    assert [x.id for x in runner.select_papers(make_paths(root), ["children_looked_after"])] == ["06"]
