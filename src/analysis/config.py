"""One home for every path and default the project uses.

Paths are anchored at the project root, never at the working directory, so papermill, nbval,
JupyterLab and the command line all see the same files. The root is, in order:

1. the ``ANALYSIS_PROJECT_ROOT`` environment variable, if set;
2. the folder above ``src/`` when the package is installed in editable mode (the normal set-up);
3. the nearest parent of the working directory that holds ``pyproject.toml`` and ``data/raw``.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

#: Jupyter kernel registered by ``make setup``; notebooks, papermill and nbval all use this name.
KERNEL_NAME = "cla-analysis"

#: Papermill time limits, one place for the runner and the tests: generous, so a busy machine slows a
#: paper down but never fails it (speed is measured in benchmarks/, not asserted).
CELL_TIMEOUT = 1800  # seconds a notebook cell may run
KERNEL_START_TIMEOUT = 300  # seconds for a kernel to start

#: Where ``analysis run`` and ``refresh`` run their jobs when ``--cluster`` is not given: empty for this
#: machine, ``local`` for a Dask LocalCluster, or a Dask scheduler's address (tcp://host:8786).
CLUSTER = os.environ.get("ANALYSIS_CLUSTER", "")
#: seconds to wait for a Dask scheduler to answer before giving up
CLUSTER_CONNECT_TIMEOUT = int(os.environ.get("ANALYSIS_CLUSTER_TIMEOUT", "30"))

#: The embedded default local authority: Stockton-on-Tees.
DEFAULT_LA_CODE = "E06000004"
DEFAULT_LA_OLD_CODE = "808"
DEFAULT_LA_NAME = "Stockton-on-Tees"


def _looks_like_root(path: Path) -> bool:
    return (path / "pyproject.toml").is_file() and (path / "data" / "raw").is_dir()


def find_project_root() -> Path:
    env = os.environ.get("ANALYSIS_PROJECT_ROOT")
    if env:
        return Path(env).resolve()
    here = Path(__file__).resolve()
    candidate = here.parents[2]  # src/analysis/config.py -> project root
    if _looks_like_root(candidate):
        return candidate
    for parent in [Path.cwd().resolve(), *Path.cwd().resolve().parents]:
        if _looks_like_root(parent):
            return parent
    raise RuntimeError("Cannot find the project root: set ANALYSIS_PROJECT_ROOT to the folder that holds pyproject.toml and data/raw/.")


@dataclass(frozen=True)
class Paths:
    """Every folder the pipeline reads or writes, derived from one root."""

    root: Path

    @property
    def raw(self) -> Path:
        return self.root / "data" / "raw"

    @property
    def raw_public(self) -> Path:
        return self.raw / "public"

    @property
    def processed(self) -> Path:
        return self.root / "data" / "processed"

    @property
    def processed_public(self) -> Path:
        return self.processed / "public"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def notebooks(self) -> Path:
        return self.root / "notebooks"

    @property
    def checksums(self) -> Path:
        return self.raw_public / "SHA256SUMS"


def paths(root: Path | str | None = None) -> Paths:
    return Paths(Path(root).resolve() if root is not None else find_project_root())


def _imports(path: Path) -> set[str]:
    """The ``analysis`` modules a source file imports, at the top or inside a function (``from analysis.x import y``
    gives ``analysis.x.y`` when that is a module, else ``analysis.x``)."""
    import ast

    pkg = Path(__file__).resolve().parent
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "analysis":
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                rel = Path(*full.split(".")[1:])
                out.add(full if (pkg / rel).with_suffix(".py").is_file() or (pkg / rel).is_dir() else node.module)
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.split(".")[0] == "analysis"}
    return out


def _source(module: str, pkg: Path) -> Path | None:
    rel = Path(*module.split(".")[1:]) if "." in module else Path("__init__")
    for candidate in (pkg / rel.with_suffix(".py"), pkg / rel / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def code_digest(module: str, pkg: Path | None = None) -> str:
    """A short digest of a module and of every module of the package it imports, directly or through others
    (found by reading their imports, never from a hand-kept list), with the data files (``.yaml``, ``.json``)
    that sit beside them: what a build by that module depends on. A changed DfE rule module changes the digest
    of the 903 ingest that imports it. ``pkg``: the package folder (a copy, in tests)."""
    pkg = pkg or Path(__file__).resolve().parent
    seen: set[Path] = set()
    todo = [module]
    while todo:
        src = _source(todo.pop(), pkg)
        if src is None or src in seen:
            continue
        seen.add(src)
        todo += sorted(_imports(src))
    folders = {f.parent for f in seen}
    data = {f for d in folders for f in d.glob("*") if f.suffix in (".yaml", ".json") and f.is_file()}
    h = hashlib.sha256()
    for f in sorted(seen | data):
        h.update(f.relative_to(pkg).as_posix().encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def package_digest() -> str:
    """A short digest of every module and data file of the ``analysis`` package: a change to any of
    them re-runs the papers (runner) and rebuilds paper 01's panel cache."""
    pkg = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for f in sorted(pkg.rglob("*")):
        if f.is_file() and f.suffix in (".py", ".yaml", ".json") and "__pycache__" not in f.parts:
            h.update(f.relative_to(pkg).as_posix().encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:16]
