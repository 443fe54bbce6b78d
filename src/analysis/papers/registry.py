"""The paper registry: ``notebooks/papers.yaml`` declares every paper once.

Each paper names its notebook, title, whether ``analysis run`` runs it by default, whether it needs
the LA's own 903 (``child_level``), the processed tables it reads (``inputs``), the papers whose
``metrics.json`` it reads in the same run (``after``), the files it publishes for each LA
(``outputs``) and its parameters with type, default and help. The runner, the command line, the
notebooks' type checks and the tests all read this one file; the notebook's ``parameters`` cell is
checked against it (:func:`notebook_problems`) and can be written from it (:func:`parameters_cell`).
"""

from __future__ import annotations

import ast
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from analysis.config import Paths, paths
from analysis.errors import InputError, ParameterError

REGISTRY_FILE = "papers.yaml"

#: the types a parameter may declare (what papermill can pass: JSON values)
TYPES: dict[str, type] = {"str": str, "int": int, "float": float, "bool": bool, "list": list, "dict": dict}

#: files a paper may publish for each LA (the runner writes the HTML and PDF, ``report.finish()`` the rest)
OUTPUTS = ("report.html", "tables.xlsx", "metrics.json", "report.pdf")

_KEYS = {"notebook", "title", "default", "child_level", "inputs", "after", "outputs", "parameters"}


@dataclass(frozen=True)
class Parameter:
    name: str
    type: type
    default: Any
    help: str
    full: Any = None  # the value for a full (publication) run, where it differs: `analysis run --full`

    def line(self) -> str:
        """The parameter as the notebook's ``parameters`` cell declares it."""
        value = json.dumps(self.default, ensure_ascii=False) if isinstance(self.default, str) else repr(self.default)
        return f"{self.name}: {self.type.__name__} = {value}  # {self.help}"


@dataclass(frozen=True)
class PaperSpec:
    id: str  # "01"
    notebook: str  # file name under notebooks/
    title: str
    default: bool
    child_level: bool
    inputs: tuple[str, ...]
    after: tuple[str, ...]
    outputs: tuple[str, ...]
    parameters: tuple[Parameter, ...]
    #: the notebook's full path (set by :func:`load`; not part of the declaration, so not in its digest)
    path: Path = field(default=Path(), repr=False, compare=False)

    @property
    def slug(self) -> str:
        return Path(self.notebook).stem

    @property
    def parameter_types(self) -> dict[str, type]:
        return {x.name: x.type for x in self.parameters}

    @property
    def defaults(self) -> dict[str, Any]:
        return {x.name: x.default for x in self.parameters}

    @property
    def full_values(self) -> dict[str, Any]:
        """The parameters a full (publication) run sets, and their values (``analysis run --full``)."""
        return {x.name: x.full for x in self.parameters if x.full is not None}

    @property
    def parameter_names(self) -> tuple[str, ...]:
        return tuple(x.name for x in self.parameters)

    @property
    def takes_output_dir(self) -> bool:
        return "output_dir" in self.parameter_names

    @property
    def declared(self) -> str:
        """A digest of the declaration: a changed default, input or output re-runs the paper at refresh."""
        return hashlib.sha256(repr(self).encode()).hexdigest()[:16]

    @property
    def pdf(self) -> bool:
        return "report.pdf" in self.outputs


def _is_type(value: Any, expected: type) -> bool:
    if expected is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, expected)


def _parameter(file: Path, pid: str, name: str, entry: Any) -> Parameter:
    where = f"paper {pid}, parameter {name}"
    if not isinstance(entry, dict) or not {"type", "default", "help"} <= set(entry) <= {"type", "default", "help", "full"}:
        raise InputError(f"{where}: give type, default and help, and optionally full (got {entry!r})", file)
    kind = TYPES.get(str(entry["type"]))
    if kind is None:
        raise InputError(f"{where}: type {entry['type']!r} is not one of {', '.join(TYPES)}", file)
    default = entry["default"]
    if not _is_type(default, kind):
        raise InputError(f"{where}: default {default!r} is not a {kind.__name__}", file)
    if kind is float:
        default = float(default)
    if not str(entry["help"] or "").strip():
        raise InputError(f"{where}: the help text is empty", file)
    full = entry.get("full")
    if "full" in entry and (full is None or not _is_type(full, kind)):
        raise InputError(f"{where}: full {full!r} is not a {kind.__name__}", file)
    return Parameter(name, kind, default, str(entry["help"]).strip(), float(full) if kind is float and full is not None else full)


def _spec(file: Path, pid: str, entry: Any) -> PaperSpec:
    if not isinstance(entry, dict):
        raise InputError(f"paper {pid}: expected a mapping, got {entry!r}", file)
    unknown = set(entry) - _KEYS
    missing = {"notebook", "title", "parameters"} - set(entry)
    if unknown or missing:
        what = "; ".join(x for x in (unknown and f"unknown keys {sorted(unknown)}", missing and f"missing {sorted(missing)}") if x)
        raise InputError(f"paper {pid}: {what} (keys: {', '.join(sorted(_KEYS))})", file)
    notebook = str(entry["notebook"])
    if not notebook.startswith(f"{pid}_") or not notebook.endswith(".ipynb"):
        raise InputError(f"paper {pid}: the notebook should be named {pid}_<name>.ipynb, got {notebook!r}", file)
    outputs = tuple(entry.get("outputs") or ("report.html",))
    bad = [o for o in outputs if o not in OUTPUTS]
    if bad:
        raise InputError(f"paper {pid}: unknown outputs {bad} (choose from {', '.join(OUTPUTS)})", file)
    parameters = tuple(_parameter(file, pid, str(n), e) for n, e in (entry.get("parameters") or {}).items())
    names = {x.name for x in parameters}
    if "la_code" not in names:
        raise InputError(f"paper {pid}: every paper takes an la_code parameter", file)
    if {"tables.xlsx", "metrics.json"} & set(outputs) and "output_dir" not in names:
        raise InputError(f"paper {pid}: a paper that publishes tables.xlsx or metrics.json needs an output_dir parameter", file)
    return PaperSpec(
        pid,
        notebook,
        str(entry["title"]),
        bool(entry.get("default", False)),
        bool(entry.get("child_level", False)),
        tuple(str(x) for x in entry.get("inputs") or ()),
        tuple(str(x) for x in entry.get("after") or ()),
        outputs,
        parameters,
        file.parent / notebook,
    )


def load(p: Paths | None = None) -> dict[str, PaperSpec]:
    """Every declared paper, by id, in id order; a bad declaration names the file, paper and key."""
    p = p or paths()
    file = p.notebooks / REGISTRY_FILE
    if not file.is_file():
        raise InputError("the paper registry is missing (see docs/adding-a-paper.md)", file)
    try:
        doc = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise InputError(f"cannot read the paper registry: {exc}", file) from exc
    entries = doc.get("papers") if isinstance(doc, dict) else None
    if not isinstance(entries, dict):
        raise InputError("expected a top-level 'papers:' mapping of two-digit ids", file)
    specs = {}
    for pid, entry in entries.items():
        pid = str(pid)
        if len(pid) != 2 or not pid.isdigit():
            raise InputError(f'paper id {pid!r} should be two digits, quoted ("05")', file)
        specs[pid] = _spec(file, pid, entry)
    for spec in specs.values():
        unknown = [a for a in spec.after if a not in specs or a == spec.id]
        if unknown:
            raise InputError(f"paper {spec.id}: 'after' names {unknown}, which are not other papers here", file)
    return dict(sorted(specs.items()))


def spec(paper_id: str, p: Paths | None = None) -> PaperSpec:
    specs = load(p)
    if paper_id not in specs:
        raise InputError(f"paper {paper_id} is not declared (papers: {', '.join(specs)})", (p or paths()).notebooks / REGISTRY_FILE)
    return specs[paper_id]


def check_given(spec: PaperSpec, values: dict[str, Any]) -> None:
    """Each value given has its parameter's declared type (an int is accepted where a float is
    declared); a name the paper does not declare is refused."""
    declared = spec.parameter_types
    extra = sorted(set(values) - set(declared))
    if extra:
        raise ParameterError(f"parameter(s) {', '.join(extra)} are not declared for paper {spec.id} (notebooks/{REGISTRY_FILE})")
    for name, value in values.items():
        if not _is_type(value, declared[name]):
            raise ParameterError(f"parameter '{name}' should be {declared[name].__name__}, got {type(value).__name__} {value!r}")


def parameters(paper_id: str, namespace: dict[str, Any], p: Paths | None = None) -> dict[str, Any]:
    """The paper's declared parameters, taken from the notebook's namespace (``globals()`` after the
    ``parameters`` cell and papermill's injected one) and checked: the notebook need not list them again."""
    s = spec(paper_id, p)
    values = {name: namespace[name] for name in s.parameter_types if name in namespace}
    check(paper_id, values, p)
    return values


def check(paper_id: str, values: dict[str, Any], p: Paths | None = None) -> None:
    """The notebook's first check: every declared parameter is there with its declared type."""
    s = spec(paper_id, p)
    missing = [name for name in s.parameter_types if name not in values]
    if missing:
        raise ParameterError(f"parameter(s) {', '.join(missing)} missing for paper {paper_id}")
    check_given(s, values)


def parameters_cell(spec: PaperSpec) -> str:
    """The notebook's ``parameters`` cell, written from the declaration."""
    return "\n".join(x.line() for x in spec.parameters)


def _cell_of(nb: dict) -> str | None:
    for cell in nb.get("cells", []):
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            src = cell["source"]
            return "".join(src) if isinstance(src, list) else src
    return None


def notebook_problems(spec: PaperSpec, p: Paths | None = None) -> list[str]:
    """What in the notebook disagrees with its declaration (empty when they agree)."""
    p = p or paths()
    path = p.notebooks / spec.notebook
    if not path.is_file():
        return [f"paper {spec.id}: notebooks/{spec.notebook} does not exist"]
    source = _cell_of(json.loads(path.read_text(encoding="utf-8")))
    if source is None:
        return [f"{spec.notebook}: no cell is tagged 'parameters'"]
    found: dict[str, tuple[str, Any]] = {}
    try:
        for node in ast.parse(source).body:
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
                found[node.target.id] = (ast.unparse(node.annotation), ast.literal_eval(node.value))
            elif isinstance(node, ast.Assign):
                return [f"{spec.notebook}: every parameter needs a type ({ast.unparse(node)})"]
    except (SyntaxError, ValueError) as exc:
        return [f"{spec.notebook}: the parameters cell is not plain typed literals ({exc})"]
    problems = []
    declared = {x.name: x for x in spec.parameters}
    for name in declared.keys() - found.keys():
        problems.append(f"{spec.notebook}: declared parameter '{name}' is not in the parameters cell")
    for name in found.keys() - declared.keys():
        problems.append(f"{spec.notebook}: parameter '{name}' is not declared in notebooks/{REGISTRY_FILE}")
    for name in declared.keys() & found.keys():
        kind, value = found[name]
        want = declared[name]
        if kind != want.type.__name__ or value != want.default or type(value) is not type(want.default):
            problems.append(
                f"{spec.notebook}: '{name}' is {kind} = {value!r} in the notebook, {want.type.__name__} = {want.default!r} in the registry"
            )
    if not problems and source.strip() != parameters_cell(spec):
        problems.append(f"{spec.notebook}: the parameters cell differs from the registry in order or help text (`analysis papers {spec.id} --cell`)")
    return problems


def all_problems(p: Paths | None = None, specs: dict[str, PaperSpec] | None = None) -> list[str]:
    """Every disagreement between the registry and the notebooks, and notebooks it does not declare
    (``specs``: the registry already read, to read it once)."""
    p = p or paths()
    specs = specs if specs is not None else load(p)
    problems = [x for s in specs.values() for x in notebook_problems(s, p)]
    declared = {s.notebook for s in specs.values()}
    for path in sorted(p.notebooks.glob("[0-9][0-9]_*.ipynb")):
        if path.name not in declared:
            problems.append(f"notebooks/{path.name} is not declared in notebooks/{REGISTRY_FILE}")
    return problems


def describe(spec: PaperSpec) -> str:
    """A plain listing of one paper for the command line."""
    flags = [x for x, on in (("default", spec.default), ("needs the LA's own 903", spec.child_level)) if on]
    lines = [f"{spec.id}  {spec.title}  ({spec.notebook}{'; ' + ', '.join(flags) if flags else ''})"]
    if spec.after:
        lines.append(f"    reads the results of: {', '.join(spec.after)}")
    lines.append(f"    reads: {', '.join(spec.inputs) or '-'}")
    lines.append(f"    publishes: {', '.join(spec.outputs)}")
    for x in spec.parameters:
        lines.append(f"    --param {x.name}={json.dumps(x.default)}  ({x.type.__name__}) {x.help}")
    return "\n".join(lines)


def run_setting(pid: str, values: dict[str, Any], p: Paths | None = None) -> str:
    """A sentence for the report saying whether its resampling ran at the quick default or the full
    (publication) setting, with the numbers (empty when the paper has no full setting)."""
    spec_ = spec(pid, p)
    full = {x.name: x for x in spec_.parameters if x.full is not None}
    if not full:
        return ""

    def say(v: Any) -> str:
        return f"{v:,}" if isinstance(v, (int, float)) and not isinstance(v, bool) else json.dumps(v)

    used = ", ".join(f"{name} = {say(values.get(name, x.default))}" for name, x in full.items())
    at_full = ", ".join(f"{name} = {say(x.full)}" for name, x in full.items())
    if all(values.get(name, x.default) == x.full for name, x in full.items()):
        return f"Full run ({used}): the setting for publication."
    return (
        f"Quick run ({used}). For publication, run `analysis run {pid} --full` ({at_full}): the estimates stay the same; "
        "intervals and p-values from resampling then vary less from run to run."
    )
