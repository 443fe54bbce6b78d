"""The package's layers (docs/architecture.md): every import of the project's own modules, at the
top of a file or inside a function, goes to the same layer or one below it, and papers never import
each other."""

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PKG = REPO / "src" / "analysis"

#: layer -> the layers it may import (itself included)
ALLOWED = {
    "progress": {"progress"},  # the progress line: every layer may use it, it uses nothing
    "config": {"config"},
    "errors": {"progress", "errors", "config"},
    "io": {"progress", "config", "errors", "io"},
    "stats": {"progress", "config", "errors", "io", "stats"},
    "report": {"progress", "config", "errors", "stats", "report"},
    "synth": {"progress", "config", "errors", "io", "stats", "synth"},
    "papers": {"progress", "config", "errors", "io", "stats", "report", "papers"},
    "run": {"progress", "config", "errors", "io", "report", "run"},  # and analysis.papers.registry (SHARED_PAPER_MODULES)
    "cli": {"progress", "config", "errors", "io", "stats", "report", "synth", "papers", "run", "cli", "__init__"},
    "__init__": set(),
}


#: modules of the papers layer that are not a paper: every paper may use them, and the runner reads the registry
SHARED_PAPER_MODULES = ("params", "registry")


def layer_of(module: str) -> str:
    """``analysis.io.ingest`` -> ``io``; ``analysis.config`` -> ``config``; ``analysis`` -> ``__init__``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def imports_of(path: Path, pkg: Path = PKG) -> list[tuple[int, str]]:
    """Every ``analysis...`` module a file imports (``from analysis.x import y`` counts y when it is a module).

    Imports under ``if TYPE_CHECKING:`` are left out: they name a type for annotations and never run
    (a paper's ``publish.py`` names ``paper.Results`` that way)."""
    out = []
    tree = ast.parse(path.read_text())
    typing_only = {
        id(n)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and isinstance(block.test, ast.Name) and block.test.id == "TYPE_CHECKING"
        for stmt in block.body
        for n in ast.walk(stmt)
    }
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and (node.module == "analysis" or node.module.startswith("analysis.")):
            if node.level:
                raise AssertionError(f"{path}: relative import at line {node.lineno}")
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                out.append(
                    (
                        node.lineno,
                        full
                        if (pkg / Path(*full.split(".")[1:])).with_suffix(".py").exists() or (pkg / Path(*full.split(".")[1:])).is_dir()
                        else node.module,
                    )
                )
        elif isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.startswith("analysis")]
        elif isinstance(node, ast.ImportFrom) and node.level:
            raise AssertionError(f"{path}: relative import at line {node.lineno}")
    return out


def module_name(path: Path, pkg: Path = PKG) -> str:
    return ".".join(("analysis", *path.relative_to(pkg).with_suffix("").parts))


def violations(pkg: Path = PKG) -> list[str]:
    bad = []
    for path in sorted(pkg.rglob("*.py")):
        me = module_name(path, pkg).replace(".__init__", "")
        mine = layer_of(me)
        for line, target in imports_of(path, pkg):
            theirs = layer_of(target)
            if mine == "run" and target == "analysis.papers.registry":
                continue
            if theirs not in ALLOWED.get(mine, set()) and not (mine == theirs):
                bad.append(f"{path.relative_to(pkg)}:{line} ({mine}) imports {target} ({theirs})")
            if mine == "papers" and theirs == "papers":
                own, other = me.split(".")[2], target.split(".")[2] if len(target.split(".")) > 2 else ""
                if other not in (*SHARED_PAPER_MODULES, own, ""):
                    bad.append(f"{path.relative_to(pkg)}:{line} paper {own} imports another paper: {target}")
    return bad


def test_every_import_follows_the_layers():
    assert violations() == []


def test_the_layer_check_catches_a_paper_importing_another(tmp_path):
    """The rule can fail: a copy of the package in which paper 04 imports paper 02, and stats imports report."""
    import shutil

    copy = tmp_path / "analysis"
    shutil.copytree(PKG, copy, ignore=shutil.ignore_patterns("__pycache__"))
    pack = copy / "papers" / "p04_sufficiency" / "paper.py"
    pack.write_text(pack.read_text() + "\n\ndef _borrow():\n    from analysis.papers.p02_breakdown.paper import rates\n    return rates\n")
    forecast = copy / "stats" / "forecast.py"
    forecast.write_text("from analysis.report.disclosure import gate\n" + forecast.read_text())
    found = violations(copy)
    assert any("paper p04_sufficiency imports another paper: analysis.papers.p02_breakdown.paper" in v for v in found), found
    assert any(v.startswith("stats/forecast.py:1 (stats) imports analysis.report.disclosure (report)") for v in found), found


@pytest.mark.parametrize("folder", ["io", "stats", "report", "run", "synth", "papers"])
def test_each_layer_is_a_package(folder):
    assert (PKG / folder / "__init__.py").is_file()


# --- no import circles, anywhere (inside a layer too, and through imports placed in functions) ----------------
def import_graph(pkg: Path = PKG) -> dict[str, set[str]]:
    """Module -> the project's modules it imports (at the top or in a function); a package's ``__init__`` is
    the package's name, and ``from analysis.x import y`` with y a name (not a module) points at ``analysis.x``."""
    graph: dict[str, set[str]] = {}
    for path in sorted(pkg.rglob("*.py")):
        me = module_name(path, pkg).replace(".__init__", "")
        graph.setdefault(me, set())
        for _, target in imports_of(path, pkg):
            if target != me:
                graph[me].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected set of two or more modules (Tarjan), each as a sorted list."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in graph:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_module_imports_itself_round_a_circle():
    assert cycles(import_graph()) == []


def test_the_circle_check_catches_an_injected_circle(tmp_path):
    """The check can fail: a copy of the package in which the forecast module imports, inside a function, a
    module that imports it back (a circle inside one layer, hidden in a function)."""
    import shutil

    copy = tmp_path / "analysis"
    shutil.copytree(PKG, copy, ignore=shutil.ignore_patterns("__pycache__"))
    funnel = copy / "stats" / "funnel.py"
    funnel.write_text(funnel.read_text() + "\n\ndef _late():\n    from analysis.stats import forecast\n    return forecast\n")
    forecast = copy / "stats" / "forecast.py"
    forecast.write_text("from analysis.stats import funnel  # noqa\n" + forecast.read_text())
    found = cycles(import_graph(copy))
    assert ["analysis.stats.forecast", "analysis.stats.funnel"] in found, found


MAX_MODULE_LINES = 600


def test_no_module_is_over_600_lines():
    """A module a newcomer can read in one sitting: one job each (issue 25)."""
    long = {str(p.relative_to(PKG)): n for p in PKG.rglob("*.py") if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES}
    assert long == {}


PAPER_SHAPE = ("inputs.py", "words.py", "publish.py", "paper.py")


def test_every_paper_has_the_same_shape():
    """Every paper package: inputs (Data or the panel, Settings, setup), its analysis, words, publish, and
    a short paper.py that names them; so knowing one paper helps with the next (docs/adding-a-paper.md)."""
    papers = sorted(d for d in (PKG / "papers").iterdir() if d.is_dir() and d.name[:1] == "p" and d.name[1:3].isdigit())
    assert len(papers) >= 4
    for d in papers:
        missing = [f for f in PAPER_SHAPE if not (d / f).is_file()]
        assert missing == [], f"{d.name} lacks {missing}"
        others = {p.name for p in d.glob("*.py")} - set(PAPER_SHAPE) - {"__init__.py"}
        assert others, f"{d.name} has no analysis module"
        inputs = ast.parse((d / "inputs.py").read_text())
        names = {n.name for n in inputs.body if isinstance(n, (ast.ClassDef, ast.FunctionDef))}
        assert {"Settings", "setup"} <= names, f"{d.name}/inputs.py lacks Settings or setup"
        for module, wanted in (("publish.py", {"publish_tables", "record_metrics", "report_context"}), ("words.py", {"findings"})):
            tree = ast.parse((d / module).read_text())
            defined = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
            assert wanted <= defined, f"{d.name}/{module} lacks {sorted(wanted - defined)}"


def test_notebooks_show_tables_the_paper_registered():
    """A notebook shows tables (report.show) that its paper's publish_tables registered, gated once with their titles,
    decimals and disclosure settings; it never builds a table itself (issue 25: no decimals dictionaries in notebooks)."""
    import json

    for nb in sorted((REPO / "notebooks").glob("0[1-9]_*.ipynb")):
        code = "\n".join("".join(c["source"]) for c in json.loads(nb.read_text())["cells"] if c["cell_type"] == "code")
        assert "report.table(" not in code and "decimals={" not in code, nb.name
        assert "publish_tables(report" in code, nb.name
