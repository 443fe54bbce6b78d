"""Run the papers: papermill execution, published reports, run manifests, the index, refresh.

Layout under ``reports/`` (rebuilt by code, never committed)::

    reports/
      index.html                      every report, newest run first; latest reports at the top
      latest/<paper>/<LA code>/       the last good report for each paper and LA (stable path)
          report.html  tables.xlsx  metrics.json  notebook.ipynb
      runs/<run id>/manifest.json     git commit, packages, parameters, input checksums, vintage,
      runs/<run id>/<paper>/<LA>/     timings and status of every job; that run's outputs
      state.json                      fingerprint of the last good run of each job (for refresh)
      logs/refresh.log                what each scheduled refresh did
      .lock                           held while a run or refresh is writing

A job that fails keeps its executed notebook (with the error) in its run folder and is marked
failed in the index with the failing cell; ``latest/`` keeps the previous good report. Each job
runs in a fresh kernel with an explicit kernel name, working directory and timeouts.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import json
import logging
import math
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import jinja2
from filelock import FileLock, Timeout
from nbclient.exceptions import CellTimeoutError
from papermill.engines import NBClientEngine, papermill_engines

from analysis.config import CELL_TIMEOUT, CLUSTER_CONNECT_TIMEOUT, DEFAULT_LA_CODE, KERNEL_NAME, KERNEL_START_TIMEOUT, Paths, package_digest
from analysis.errors import AnalysisError, RunLockedError
from analysis.io.ingest import sha256
from analysis.papers import registry
from analysis.progress import Progress
from analysis.report import metrics
from analysis.run import kernels
from analysis.run.kernels import THREAD_VARIABLES, kernel_temp_prefix

log = logging.getLogger(__name__)

EXECUTION_TIMEOUT = CELL_TIMEOUT  # seconds per cell (analysis.config)
START_TIMEOUT = KERNEL_START_TIMEOUT  # seconds for the kernel to start
PACKAGES = (
    "analysis",
    "pandas",
    "numpy",
    "pyarrow",
    "scipy",
    "statsmodels",
    "scikit-learn",
    "matplotlib",
    "seaborn",
    "papermill",
    "nbconvert",
    "nbclient",
    "ipykernel",
    "openpyxl",
)
OUTPUT_FILES = ("report.html", "report.pdf", "tables.xlsx", "metrics.json", "notebook.ipynb")
#: how the index names each file it links
LINK_NAMES = {"report.html": "report", "report.pdf": "PDF", "tables.xlsx": "tables (Excel)", "metrics.json": "metrics", "notebook.ipynb": "notebook"}
PDF_FILE = "report.pdf"
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

#: the page templates (the index, and the reports' HTML, which extends JupyterLab's nbconvert template)
TEMPLATES = Path(__file__).with_name("templates")
#: cells left out of the HTML report
HIDDEN_CELL_TAGS = {"parameters", "injected-parameters", "papermill-error-cell-tag", "remove-cell"}
REPORT_CSS = """
<style>
  body { max-width: 1180px; margin: 0 auto !important; padding: 0 1.2em 3em; font-family: Arial, Helvetica, sans-serif; }
  .jp-Notebook { padding: 0 !important; }
  .jp-RenderedHTMLCommon table.published, table.published { border-collapse: collapse; font-size: 0.86em; margin: 0.2em 0 0.6em; }
  table.published th { background: #12436D; color: #fff; text-align: left !important; padding: 4px 8px; }
  table.published td { border-bottom: 1px solid #d8d8d8; padding: 3px 8px; text-align: left !important; }
  table.published tbody th { background: #eef2f6; color: #0b0c0c; font-weight: 600; border-bottom: 1px solid #d8d8d8; }
  table.published caption { caption-side: top; }
  table.published tr:nth-child(even) td { background: #f5f7f9; }
  .run-banner { font-size: 0.85em; color: #3D3D3D; border-bottom: 1px solid #ccc; padding: 0.6em 0; margin-bottom: 0.6em; }
  figure.chart img { border: 1px solid #eee; }
  .synthetic-banner { background: #801650; color: #fff; font-weight: bold; padding: 0.6em 0.9em; margin: 0.4em 0 0.8em; border-radius: 3px;
                      position: sticky; top: 0; z-index: 10; }
  .synthetic-watermark { display: none; }
  @page { size: A4; margin: 18mm 14mm 18mm 14mm;
          @bottom-right { content: "Page " counter(page) " of " counter(pages); font: 8pt Arial, sans-serif; color: #505a5f; } }
  @media print {
    body { max-width: none; padding: 0; }
    .synthetic-banner { position: static; }
    .synthetic-watermark { display: block; position: fixed; top: 42%; left: 0; width: 100%; text-align: center; transform: rotate(-30deg);
                           font: bold 64pt Arial, sans-serif; color: rgba(128, 22, 80, 0.13); z-index: 1000; pointer-events: none; }
    /* a cell's output may run on to the next page (JupyterLab's styles keep each output whole, which left half
       pages empty); a table breaks between rows, its header repeated; figures, rows and list items stay whole */
    .jp-Cell, .jp-Cell-inputWrapper, .jp-Cell-outputWrapper, .jp-OutputArea, .jp-OutputArea-child, .jp-OutputArea-output
      { break-inside: auto !important; page-break-inside: auto !important; }
    figure, tr, li { break-inside: avoid; }
    table.published { break-inside: auto; max-width: 100%; font-size: 0.74em; }
    table.published thead { display: table-header-group; }
    table.published th, table.published td { overflow-wrap: break-word; padding: 2px 4px; }
    table.published td { overflow-wrap: anywhere; }  /* a long code or name breaks rather than runs off the page */
    table.published td.n { overflow-wrap: normal; white-space: nowrap; }  /* a number never breaks */
    h1, h2, h3 { break-after: avoid; }
  }
</style>
"""


def page_css(running_title: str, footer: str, synthetic: bool) -> str:
    """The printed page's running title and footer (CSS page margin boxes), with SYNTHETIC in both when it is."""

    def css_string(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'

    title = ("SYNTHETIC DATA · " if synthetic else "") + running_title
    margin = '@top-right { content: "SYNTHETIC DATA: not real children"; font: bold 8pt Arial, sans-serif; color: #801650; }' if synthetic else ""
    return (
        f"<style>@page {{ @top-left {{ content: {css_string(title)}; font: 8pt Arial, sans-serif; color: #505a5f; }} "
        f"@bottom-left {{ content: {css_string(footer)}; font: 7.5pt Arial, sans-serif; color: #505a5f; }} {margin} }}</style>"
    )


# --- papers ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Paper:
    """A declared paper (``notebooks/papers.yaml``, read by :mod:`analysis.papers.registry`) and its notebook."""

    id: str  # "01"
    slug: str  # "01_compare_local_authorities"
    path: Path
    title: str
    default: bool
    inputs: tuple[str, ...]
    parameters: tuple[str, ...]
    child_level: bool = False  # needs the LA's own 903 data
    after: tuple[str, ...] = ()  # papers whose results (same run, same LA) it reads: they run first
    pdf: bool = False  # also print the HTML report to PDF with headless Chromium
    outputs: tuple[str, ...] = ("report.html",)  # files a successful job must leave in its folder
    declared: str = ""  # digest of its registry entry: a changed default or input re-runs it at refresh
    full: tuple[tuple[str, Any], ...] = ()  # parameter values of a full (publication) run: `analysis run --full`

    @property
    def takes_output_dir(self) -> bool:
        return "output_dir" in self.parameters


def discover_papers(p: Paths) -> list[Paper]:
    """Every paper declared in ``notebooks/papers.yaml``; a notebook that disagrees with its declaration stops the run."""
    specs = registry.load(p)
    problems = registry.all_problems(p, specs)
    if problems:
        raise AnalysisError("the paper registry and the notebooks disagree: " + "; ".join(problems[:5]))
    return [
        Paper(
            s.id,
            s.slug,
            p.notebooks / s.notebook,
            s.title,
            s.default,
            s.inputs,
            tuple(x.name for x in s.parameters),
            s.child_level,
            s.after,
            s.pdf,
            s.outputs,
            hashlib.sha256(repr(s).encode()).hexdigest()[:16],
            tuple(s.full_values.items()),
        )
        for s in specs.values()
    ]


def select_papers(p: Paths, names: Iterable[str] = ()) -> list[Paper]:
    """Papers by number (``01`` or ``1``) or name (``compare``); none named -> the default set."""
    papers = discover_papers(p)
    names = list(names)
    if not names:
        return [x for x in papers if x.default]
    chosen = []
    for name in names:
        key = name.strip().lower().removesuffix(".ipynb")
        hits = [x for x in papers if key in (x.id, x.id.lstrip("0"), x.slug.lower()) or (not key.isdigit() and key in x.slug.lower())]
        if len(hits) != 1:
            listing = ", ".join(f"{x.id} ({x.slug})" for x in papers)
            what = "matches several papers" if hits else "is not a paper"
            raise AnalysisError(f"'{name}' {what}; papers: {listing}")
        if hits[0] not in chosen:
            chosen.append(hits[0])
    return with_prerequisites(papers, chosen)


def with_prerequisites(papers: list[Paper], chosen: list[Paper]) -> list[Paper]:
    """Add the papers a chosen paper reads (``after``), so that a pack is built from the same run; in paper order."""
    by_id = {x.id: x for x in papers}
    wanted = {x.id for x in chosen}
    for x in chosen:
        wanted |= {a for a in x.after if a in by_id}
    return [x for x in papers if x.id in wanted]


def parse_param(text: str) -> tuple[str, Any]:
    """``NAME=VALUE``: the value is read as YAML, so 2024, [E06000001, E06000002] and true work."""
    import yaml

    if "=" not in text:
        raise AnalysisError(f"--param should be NAME=VALUE (or PAPER.NAME=VALUE), got {text!r}")
    name, raw = text.split("=", 1)
    name = name.strip()
    if not re.fullmatch(r"(?:[\w-]+\.)?[A-Za-z_]\w*", name):
        raise AnalysisError(f"--param name {name!r} is not a valid parameter name (NAME, or PAPER.NAME such as 04.forecast_years)")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as exc:
        raise AnalysisError(f"--param {name}: cannot read value {raw!r} ({exc.__class__.__name__})") from exc
    if isinstance(value, (datetime,)) or type(value).__name__ == "date":
        value = raw.strip()  # a date on its own is passed as the text written
    problem = _not_plain(value)
    if problem:
        raise AnalysisError(f"--param {name}: {problem}; a parameter is a plain number, text, true/false, a [list] or a {{mapping}} of them")
    return name, value


def _not_plain(value: Any) -> str | None:
    """Why a --param value is not plain data (None when it is): YAML tags such as !!binary or !!set,
    dates inside lists, and numbers JSON cannot carry are refused by design."""
    if value is None or isinstance(value, (str, bool, int)):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{value} is not a finite number"
    if isinstance(value, list):
        return next((p for p in map(_not_plain, value) if p), None)
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            return "mapping keys must be text"
        return next((p for p in map(_not_plain, value.values()) if p), None)
    kind = {
        "bytes": "binary data (!!binary)",
        "set": "a set (!!set)",
        "date": "a date inside a list or mapping (quote it)",
        "datetime": "a date and time (quote it)",
    }
    return f"{kind.get(type(value).__name__, type(value).__name__)} is not accepted"


# --- jobs -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Job:
    paper: Paper
    la_code: str
    la_name: str
    parameters: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        base = f"{self.paper.id}/{self.la_code}"
        if not self.parameters:
            return base
        return base + "?" + json.dumps(self.parameters, sort_keys=True, separators=(",", ":"))


# --- what is running: each job writes the cell it is on, the run's progress line reads it ------------
STATUS_ENGINE = "cla-status"
STATUS_FOLDER = ".progress"


def status_file(run_dir: Path, job: Job) -> Path:
    return run_dir / STATUS_FOLDER / (hashlib.sha256(job.key.encode()).hexdigest()[:16] + ".json")


class _StatusEngine(NBClientEngine):
    """papermill's own engine, telling a status file which cell it has started (for the progress line),
    and writing the executed notebook once at the end instead of around every cell."""

    @classmethod
    def execute_managed_notebook(cls, nb_man, kernel_name, status_file: str | None = None, **kwargs):
        if status_file:
            path = Path(status_file)
            path.parent.mkdir(parents=True, exist_ok=True)
            code = [i for i, c in enumerate(nb_man.nb.cells) if c.cell_type == "code"]
            label = path.stem
            original = nb_man.cell_start

            def cell_start(cell, cell_index=None, **kw):
                if cell_index in code:
                    with contextlib.suppress(OSError):
                        path.write_text(json.dumps({"job": label, "cell": code.index(cell_index) + 1, "cells": len(code)}))
                return original(cell, cell_index, **kw)

            nb_man.cell_start = cell_start
        # papermill writes the whole notebook before and after every cell; the status file says where a
        # job is, so the notebook is written once, when papermill completes it (after a failure too)
        nb_man.save = lambda **kw: None
        try:
            return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)
        finally:
            del nb_man.save


papermill_engines.register(STATUS_ENGINE, _StatusEngine)


def running_now(run_dir: Path, jobs: Iterable[Job]) -> list[str]:
    """What is running: paper, LA and cell, from the jobs' status files (removed when a job ends)."""
    out = []
    for job in jobs:
        path = status_file(run_dir, job)
        if path.is_file():
            try:
                st = json.loads(path.read_text())
            except (OSError, json.JSONDecodeError):
                continue
            out.append(f"{job.paper.id} {job.la_name}, cell {st['cell']} of {st['cells']}")
    return out


def input_checksums(p: Paths, paper: Paper) -> dict[str, str]:
    """SHA-256 of each processed table the paper declares it reads.

    A plain name (``la_indicators``) is a published table in ``data/processed/public/``; a name with
    a folder (``ssda903/placements``) is relative to ``data/processed/``.
    """
    out = {}
    for name in paper.inputs:
        rel = f"{name}.parquet" if "/" in name else f"public/{name}.parquet"
        path = p.processed / rel
        out[f"processed/{rel}"] = sha256(path) if path.is_file() else "missing"
    return out


def fingerprint(p: Paths, job: Job, code: str, inputs: dict[str, str]) -> str:
    h = hashlib.sha256()
    h.update(job.key.encode())
    h.update(sha256(job.paper.path).encode())
    h.update(job.paper.declared.encode())
    h.update(code.encode())
    h.update(json.dumps(inputs, sort_keys=True).encode())
    return h.hexdigest()


def _failing_cell(nb_path: Path) -> dict[str, Any] | None:
    """Index, first line and error of the cell that failed in an executed notebook."""
    if not nb_path.is_file():
        return None
    nb = json.loads(nb_path.read_text(encoding="utf-8"))
    code_index = 0
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        if "papermill-error-cell-tag" in cell.get("metadata", {}).get("tags", []):
            continue
        code_index += 1
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
                first = next((line for line in src.splitlines() if line.strip() and not line.startswith("#")), "")
                return {
                    "cell": code_index,
                    "cell_id": cell.get("id"),
                    "source": first[:160],
                    "error": f"{out.get('ename')}: {out.get('evalue')}"[:600],
                }
    return None


@functools.lru_cache(maxsize=1)
def _html_exporter():
    """The report exporter, made once per process: its templates are compiled once, not for every job."""
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor

    exporter = HTMLExporter(
        template_name="lab",
        template_file="report.html.j2",
        extra_template_paths=[str(TEMPLATES)],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    # cells for the machinery, not readers: parameters, papermill's, and report.finish()
    exporter.register_preprocessor(TagRemovePreprocessor(remove_cell_tags=HIDDEN_CELL_TAGS), enabled=True)
    return exporter


def export_html(nb_path: Path, out_path: Path, title: str, banner: str, *, synthetic: bool = False, footer: str = "") -> None:
    """HTML for readers: no code, no parameters cell, no prompts, no stderr; a run banner on top; on
    synthetic data a banner that says so (and a watermark on every printed page); A4 pages with a
    running title, the date and data vintage and page numbers when printed."""
    import nbformat

    from analysis.report.reporting import SYNTHETIC_NOTE

    nb = nbformat.read(nb_path, as_version=4)
    for cell in nb.cells:  # warnings and logs are for analysts (in the executed notebook), not readers
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.get("outputs", []) if not (o.get("output_type") == "stream" and o.get("name") == "stderr")]
    report = {
        "css": REPORT_CSS + page_css(title, footer, synthetic),
        "banner": banner,
        "synthetic": synthetic,
        "synthetic_note": SYNTHETIC_NOTE,
    }
    body, _ = _html_exporter().from_notebook_node(nb, resources={"metadata": {"name": title}, "report": report})
    tmp = out_path.with_suffix(".tmp")
    tmp.write_text(body, encoding="utf-8")
    tmp.replace(out_path)


def _report_meta(out: Path) -> dict[str, Any]:
    path = out / "metrics.json"
    try:
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (OSError, ValueError):
        return {}


def _footer(banner: str, meta: Mapping[str, Any]) -> str:
    """The printed footer: when it was made, and which data it reads (its vintage)."""
    made = banner.split(" · ")[0]
    vintage = meta.get("data_vintage")
    if isinstance(vintage, Mapping):
        vintage = "; ".join(f"{k} {v}" for k, v in vintage.items())
    data = meta.get("data", "")
    parts = [made, f"Data: {data}" if data else "", f"Vintage: {vintage}" if vintage else ""]
    return " · ".join(p for p in parts if p)


def chromium() -> str | None:
    """A headless-capable Chromium or Chrome on PATH (``ANALYSIS_CHROMIUM`` overrides)."""
    if os.environ.get("ANALYSIS_CHROMIUM"):
        return os.environ["ANALYSIS_CHROMIUM"]
    return next((path for name in CHROMIUM_NAMES if (path := shutil.which(name))), None)


def print_pdf(html_path: Path, pdf_path: Path, timeout: int = 120) -> str | None:
    """Print an HTML report to PDF with headless Chromium (A4, backgrounds, no header or footer).
    Returns a note when no PDF could be made (the HTML report is unaffected)."""
    browser = chromium()
    if browser is None:
        return "no PDF: Chromium is not installed (apt install chromium, or set ANALYSIS_CHROMIUM)"
    tmp = pdf_path.with_suffix(".tmp.pdf")
    with tempfile.TemporaryDirectory(prefix="cla-chromium-") as profile:
        cmd = [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            f"--user-data-dir={profile}",
            "--no-pdf-header-footer",
            "--print-to-pdf-no-header",
            f"--print-to-pdf={tmp}",
            html_path.resolve().as_uri(),
        ]
        try:
            subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"no PDF: Chromium failed ({exc.__class__.__name__})"
    if not tmp.is_file() or tmp.read_bytes()[:5] != b"%PDF-":
        return "no PDF: Chromium did not write one"
    tmp.replace(pdf_path)
    return None


def execute_job(job: Job, root: str, run_dir: str, run_id: str, banner: str, timeout: int = EXECUTION_TIMEOUT) -> dict[str, Any]:
    """Run one paper for one LA (in this process or a worker) and return its result record."""
    import html as html_lib

    import papermill as pm

    from analysis.report.reporting import HTML_FILE, is_synthetic, scan_outputs

    os.environ["ANALYSIS_PROJECT_ROOT"] = root  # the kernel reads the same project as the runner
    os.environ.setdefault("MPLBACKEND", "Agg")
    logging.getLogger("traitlets").setLevel(logging.ERROR)  # "could not destroy zmq context" noise
    out = metrics.output_folder(Path(run_dir), job.paper.slug, job.la_code)
    out.mkdir(parents=True, exist_ok=True)
    nb_out = out / "notebook.ipynb"
    params = {**job.parameters, "la_code": job.la_code}
    if job.paper.takes_output_dir:
        params["output_dir"] = str(out)
    started = time.perf_counter()
    record: dict[str, Any] = {
        "key": job.key,
        "paper": job.paper.id,
        "slug": job.paper.slug,
        "title": job.paper.title,
        "la_code": job.la_code,
        "la_name": job.la_name,
        "parameters": job.parameters,
        "folder": str(out.relative_to(Path(root) / "reports")),
        "status": "ok",
        "error": None,
        "failing_cell": None,
        "problems": [],
        "host": platform.node(),
    }
    cwd = str(job.paper.path.parent)
    warm = kernels.take_warm_kernel(root, cwd)  # started while the previous job ran (None the first time)
    kernels.warm_ahead(root, cwd, job.paper.id)  # and the next job's, starting now
    record["kernel"] = "warm" if warm else "cold"
    for attempt in (1, 2):
        try:
            with contextlib.ExitStack() as stack:
                if warm is not None and attempt == 1:
                    km = warm.km
                    stack.callback(warm.folder.cleanup)
                else:  # forked from this worker's primed parent; a retry starts a new process
                    sockets = stack.enter_context(tempfile.TemporaryDirectory(prefix=kernel_temp_prefix(Paths(Path(root)))))
                    km = kernels.kernel_manager(root, cwd, job.paper.id, sockets, fork=attempt == 1)
                try:
                    pm.execute_notebook(
                        str(job.paper.path),
                        str(nb_out),
                        parameters=params,
                        kernel_name=KERNEL_NAME,
                        cwd=str(job.paper.path.parent),
                        execution_timeout=timeout,
                        start_timeout=START_TIMEOUT,
                        progress_bar=False,
                        log_output=False,
                        report_mode=False,
                        km=km,
                        engine_name=STATUS_ENGINE,
                        status_file=str(status_file(Path(run_dir), job)),
                    )
                finally:  # papermill does not own a kernel manager it is given: stop the kernel here
                    record["forked"] = bool(getattr(km, "forked", False))  # from the worker's primed parent
                    if km.has_kernel:
                        km.shutdown_kernel(now=True)
            break
        except pm.PapermillExecutionError as exc:
            record["status"] = "failed"
            record["failing_cell"] = _failing_cell(nb_out) or {"cell": exc.exec_count, "source": "", "error": f"{exc.ename}: {exc.evalue}"}
            record["error"] = f"{exc.ename}: {exc.evalue}"
            break
        except CellTimeoutError as exc:  # a cell ran past the timeout: running it again would only take as long
            record["status"] = "failed"
            record["error"] = f"a cell timed out (more than {timeout} s): {exc}"[:600]
            record["failing_cell"] = _failing_cell(nb_out)
            break
        except Exception as exc:  # kernel failed to start or died: retry once, on a new process (parallel port clashes)
            record["kernel"] = "cold"
            if attempt == 2:
                record["status"] = "failed"
                record["error"] = f"{exc.__class__.__name__}: {exc}"[:600]
                record["failing_cell"] = _failing_cell(nb_out)
    if record["status"] == "ok":
        try:
            meta = _report_meta(out)
            export_html(
                nb_out,
                out / HTML_FILE,
                f"{job.paper.title}: {job.la_name}",
                html_lib.escape(banner),
                synthetic=is_synthetic(meta),
                footer=_footer(banner, meta),
            )
            problems = scan_outputs(out)
            if job.paper.pdf and not problems:
                note = print_pdf(out / HTML_FILE, out / PDF_FILE)
                if note:
                    record["notes"] = [note]
                problems = scan_outputs(out)  # the PDF is read too
                if problems:
                    (out / PDF_FILE).unlink(missing_ok=True)
            if problems:
                record["status"] = "failed"
                record["error"] = "disclosure check failed: " + "; ".join(problems[:5])
                record["problems"] = problems
        except Exception as exc:  # pragma: no cover - a bug in export; keep the run going
            record["status"] = "failed"
            record["error"] = f"report export failed: {exc.__class__.__name__}: {exc}"[:600]
    if record["status"] == "ok":
        # what the registry says the paper publishes must be there (a PDF only where Chromium is)
        missing = [f for f in job.paper.outputs if not (out / f).is_file() and not (f == PDF_FILE and record.get("notes"))]
        if missing:
            record["status"] = "failed"
            record["error"] = f"declared output(s) {', '.join(missing)} not written (notebooks/papers.yaml, outputs)"
    status_file(Path(run_dir), job).unlink(missing_ok=True)
    record["duration_s"] = round(time.perf_counter() - started, 2)
    record["outputs"] = [f for f in OUTPUT_FILES if (out / f).is_file()]
    return record


# --- the lock --------------------------------------------------------------------------------------
@contextlib.contextmanager
def run_lock(p: Paths, what: str) -> Iterator[None]:
    """Hold ``reports/.lock`` (``filelock``: an OS lock on Linux, macOS and Windows, released if the
    process dies) or refuse at once; ``reports/.lock.holder`` says who holds it."""
    holder_file = p.reports / ".lock.holder"
    with writing(p.reports):
        p.reports.mkdir(parents=True, exist_ok=True)
        lock = FileLock(p.reports / ".lock", timeout=0)
        try:
            lock.acquire()
        except Timeout:
            holder = (holder_file.read_text().strip() if holder_file.is_file() else "") or "another process"
            raise RunLockedError(f"another run or refresh is writing reports/ ({holder}); try again when it has finished") from None
    try:
        with writing(p.reports):
            holder_file.write_text(f"{what}, pid {os.getpid()}, since {datetime.now(UTC).strftime('%Y-%m-%d %H:%M:%S UTC')}")
            check_writable(p)
            recover_interrupted(p)
        yield
    finally:
        holder_file.unlink(missing_ok=True)
        lock.release()


@contextlib.contextmanager
def writing(where: Path) -> Iterator[None]:
    """Turn a file system refusal (read-only, no space, no permission) into one clear line."""
    try:
        yield
    except OSError as exc:
        if isinstance(exc, (FileNotFoundError, IsADirectoryError, NotADirectoryError)) and exc.errno not in (errno.EACCES, errno.EROFS, errno.ENOSPC):
            raise
        target = exc.filename or where
        raise AnalysisError(f"cannot write {target}: {exc.strerror or exc} (is the folder read-only or the disk full?)") from exc


def check_writable(p: Paths) -> None:
    """Before any job runs: every folder a run writes must be writable (else one line, nothing started)."""
    for folder in (p.reports, p.reports / "runs", p.reports / "latest", p.reports / "logs"):
        if folder.exists() and not os.access(folder, os.W_OK | os.X_OK):
            raise AnalysisError(f"cannot write {folder}: it is read-only; nothing was run")


def recover_interrupted(p: Paths) -> list[str]:
    """At a start, holding the lock: a manifest still "running" belongs to a run that was killed (no
    other run can be going); mark it failed, and remove the kernel folders such a run leaves behind."""
    fixed = []
    for path in sorted((p.reports / "runs").glob("*/manifest.json")):
        try:
            m = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        if m.get("status") == "running":
            m["status"] = "failed"
            m["error"] = "interrupted: the run stopped before it finished (killed, or the machine stopped); found at the next start"
            _write_json(path, m)
            fixed.append(m.get("run_id", path.parent.name))
    for leftover in Path(tempfile.gettempdir()).glob(kernel_temp_prefix(p) + "*"):
        shutil.rmtree(leftover, ignore_errors=True)
    if fixed:
        log.warning("marked %d interrupted run(s) as failed: %s", len(fixed), ", ".join(fixed))
    return fixed


# --- provenance ---------------------------------------------------------------------------------------
def git_info(root: Path) -> dict[str, Any]:
    def git(*args: str) -> str | None:
        try:
            return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10, check=True).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": bool(status) if status is not None else None}


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def data_vintage(p: Paths) -> dict[str, Any]:
    """The latest period in each processed source (read from the tables, cheaply)."""
    import pyarrow.parquet as pq

    out: dict[str, Any] = {}
    for table, column in (("la_indicators", "year"), ("ro3_spend", "financial_year"), ("ofsted_places", "year"), ("population", "year")):
        path = p.processed_public / f"{table}.parquet"
        if path.is_file():
            values = pq.read_table(path, columns=[column]).column(0).to_pylist()
            out[table] = max(values) if values else None
    stamp = p.processed_public / "_inputs.json"
    if stamp.is_file():
        out["raw_inputs_digest"] = hashlib.sha256(stamp.read_bytes()).hexdigest()[:16]
    return out


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]


def _write_json(path: Path, payload: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    tmp.replace(path)


def read_state(p: Paths) -> dict[str, Any]:
    path = p.reports / "state.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def publish_latest(p: Paths, record: dict[str, Any]) -> None:
    """Copy a good job's outputs to ``reports/latest/<paper>/<LA>/``, swapping the folder atomically."""
    src = p.reports / record["folder"]
    dest = p.reports / "latest" / record["slug"] / record["la_code"]
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = dest.parent / f".{record['la_code']}.new"
    old = dest.parent / f".{record['la_code']}.old"
    for d in (staging, old):
        if d.exists():
            shutil.rmtree(d)
    shutil.copytree(src, staging)
    (staging / "run.json").write_text(
        json.dumps({"run_id": record["run_id"], "key": record["key"], "parameters": record["parameters"]}, indent=2) + "\n"
    )
    if dest.exists():
        dest.rename(old)
    staging.rename(dest)
    if old.exists():
        shutil.rmtree(old)


# --- running ---------------------------------------------------------------------------------------------


def _run_waves(
    p: Paths,
    waves: list[list[Job]],
    run_dir: Path,
    run_id: str,
    banner: str,
    timeout: int,
    workers: int,
    done: Callable[[dict[str, Any]], None],
    cluster: str | None = None,
) -> None:
    """Run the waves in order: here (one job at a time, or a local process pool), or on a Dask cluster
    (``cluster``: ``"local"`` for a LocalCluster on this machine, or a scheduler's address). On a
    cluster elsewhere, jobs that read the LA's own 903 stay on this machine (:func:`stays_here`)."""
    client = _dask_client(cluster, workers) if cluster else None
    try:
        for wave in waves:
            args = [(job, str(p.root), str(run_dir), run_id, banner, timeout) for job in wave]
            if client is None:
                _run_here(args, workers, done)
                continue
            remote = args if cluster == "local" else [a for a in args if not stays_here(p, a[0])]
            futures = [client.submit(execute_job, *a, pure=False, key=f"job-{run_id}-{i}") for i, a in enumerate(remote)]
            _run_here([a for a in args if a not in remote], workers, done)
            for fut in _dask_as_completed(futures):
                done(fut.result())
    finally:
        if client is not None:
            cluster_obj = client.cluster if cluster == "local" else None
            client.close()
            if cluster_obj is not None:
                cluster_obj.close()


def _run_here(args: list[tuple], workers: int, done: Callable[[dict[str, Any]], None]) -> None:
    if workers <= 1 or len(args) <= 1:
        try:
            for a in args:
                done(execute_job(*a))
        finally:
            kernels.release_warm_kernel()  # in this process: no kernel or primed parent left running after the run
        return
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
        futures = [pool.submit(execute_job, *a) for a in args]
        for fut in as_completed(futures):
            done(fut.result())


def stays_here(p: Paths, job: Job) -> bool:
    """A job that reads child-level data (the LA's own 903) never leaves this machine: papers that
    need the 903, and papers with 903 inputs run for the LA whose 903 the project holds."""
    if job.paper.child_level:
        return True
    return any(i.startswith("ssda903/") for i in job.paper.inputs) and data_903_la(p) == job.la_code


def _dask_client(cluster: str, workers: int):
    """A ``distributed.Client``: a LocalCluster of ``workers`` single-threaded processes, or the scheduler at an address."""
    from distributed import Client, LocalCluster

    logging.getLogger("distributed").setLevel(logging.ERROR)  # the scheduler's chatter is not the run's news
    if cluster == "local":
        local = LocalCluster(n_workers=max(1, workers), threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=logging.ERROR)
        return Client(local)
    try:
        return Client(cluster, timeout=f"{CLUSTER_CONNECT_TIMEOUT}s")
    except (OSError, TimeoutError) as exc:
        raise AnalysisError(f"cannot reach the Dask scheduler at {cluster} ({exc.__class__.__name__}); is it running?") from exc


def _dask_as_completed(futures: list):
    from distributed import as_completed as completed

    return completed(futures) if futures else []


@dataclass
class RunResult:
    run_id: str
    manifest: dict[str, Any]
    records: list[dict[str, Any]]

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [r for r in self.records if r["status"] != "ok"]

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0


def parameters_by_paper(papers: list[Paper], parameters: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Which paper each ``--param`` goes to. ``NAME``: every paper in the run that declares it (refused only
    when none does); ``PAPER.NAME`` (``04.forecast_years`` or ``sufficiency.forecast_years``): that paper
    alone, which must be in the run and declare it. A paper brought in by ``after`` keeps its defaults for
    parameters it does not declare. A targeted value wins over an untargeted one for its paper."""
    out: dict[str, dict[str, Any]] = {x.id: {} for x in papers}
    targeted: list[tuple[Paper, str, Any]] = []
    for key, value in parameters.items():
        if "." in key:
            target, name = key.split(".", 1)
            t = target.strip().lower()
            hits = [x for x in papers if t in (x.id, x.id.lstrip("0"), x.slug.lower()) or (not t.isdigit() and t in x.slug.lower())]
            if len(hits) != 1:
                listing = ", ".join(f"{x.id} ({x.slug})" for x in papers)
                raise AnalysisError(f"--param {key}: '{target}' is not {'one' if hits else 'a'} paper of this run; papers in the run: {listing}")
            paper = hits[0]
            if name not in paper.parameters:
                raise AnalysisError(f"--param {key}: paper {paper.id} has no parameter {name}; its parameters: {', '.join(paper.parameters)}")
            targeted.append((paper, name, value))
            continue
        takers = [x for x in papers if key in x.parameters]
        if not takers:
            listing = "; ".join(f"{x.id}: {', '.join(x.parameters)}" for x in papers)
            raise AnalysisError(f"no paper in this run has a parameter {key} (parameters by paper: {listing})")
        for x in takers:
            out[x.id][key] = value
    for paper, name, value in targeted:
        out[paper.id][name] = value
    return out


def make_jobs(papers: list[Paper], las: list[tuple[str, str]], parameters: dict[str, Any], *, full: bool = False) -> list[Job]:
    """One job per paper and LA; ``full``: each paper's declared full-run values first (``--param`` wins).
    Each ``--param`` goes to the papers that declare it (:func:`parameters_by_paper`)."""
    given = parameters_by_paper(papers, parameters)
    return [Job(paper, code, name, {**(dict(paper.full) if full else {}), **given[paper.id]}) for paper in papers for code, name in las]


def run_jobs(
    p: Paths,
    jobs: list[Job],
    *,
    workers: int = 1,
    command: str = "analysis run",
    progress: Callable[[str], None] | None = None,
    timeout: int = EXECUTION_TIMEOUT,
    cluster: str | None = None,
) -> RunResult:
    """Execute jobs (the caller holds the lock), publish the good ones, write manifest, state, index.

    ``progress`` receives each message; without one, a :class:`analysis.progress.Progress` line shows
    jobs done, time so far and left, and the paper, LA and cell running (plain lines off a terminal)."""
    run_id = new_run_id()
    run_dir = p.reports / "runs" / run_id
    if progress is None:
        with Progress(len(jobs), label="run", running=lambda: running_now(run_dir, jobs)) as display:
            return _run_jobs(p, jobs, run_id, run_dir, workers, command, display.say, display.advance, timeout, cluster)
    return _run_jobs(p, jobs, run_id, run_dir, workers, command, progress, progress, timeout, cluster)


def _run_jobs(
    p: Paths,
    jobs: list[Job],
    run_id: str,
    run_dir: Path,
    workers: int,
    command: str,
    progress: Callable[[str], None],
    finished: Callable[[str], None],
    timeout: int,
    cluster: str | None = None,
) -> RunResult:
    with writing(p.reports):
        run_dir.mkdir(parents=True, exist_ok=True)
    git = git_info(p.root)
    code = package_digest()  # a change to any module re-runs every paper
    started_at = datetime.now(UTC)
    banner = (
        f"Generated {started_at.strftime('%d %B %Y %H:%M UTC')} · run {run_id} · code "
        f"{(git['commit'] or 'unknown')[:10]}{' (uncommitted changes)' if git['dirty'] else ''}"
    )
    inputs = {job.key: input_checksums(p, job.paper) for job in jobs}
    manifest: dict[str, Any] = {
        "run_id": run_id,
        "command": command,
        "started": started_at.isoformat(timespec="seconds"),
        "git": git,
        "packages": package_versions(),
        "kernel": KERNEL_NAME,
        "workers": workers,
        "executor": ("Dask LocalCluster" if cluster == "local" else f"Dask cluster at {cluster}") if cluster else "this machine",
        "execution_timeout_s": timeout,
        "data_vintage": data_vintage(p),
        "raw_checksums": {"file": "data/raw/public/SHA256SUMS", "sha256": sha256(p.checksums) if p.checksums.is_file() else None},
        "status": "running",
        "jobs": [],
    }
    with writing(run_dir):
        _write_json(run_dir / "manifest.json", manifest)
    where = f" on {manifest['executor']}" if cluster else ""
    progress(f"run {run_id}: {len(jobs)} job(s), {workers} worker(s){where}; outputs in {run_dir.relative_to(p.root)}/")
    records: list[dict[str, Any]] = []
    t0 = time.perf_counter()

    def done(record: dict[str, Any]) -> None:
        record["run_id"] = run_id
        record["inputs"] = inputs[record["key"]]
        records.append(record)
        status = "ok" if record["status"] == "ok" else "FAILED"
        extra = ""
        if record["status"] != "ok":
            cell = record.get("failing_cell") or {}
            extra = f" at cell {cell.get('cell')}: {record['error']}" if cell.get("cell") else f": {record['error']}"
        finished(
            f"[{len(records)}/{len(jobs)}] {record['paper']} {record['la_code']} {record['la_name']}: {status} ({record['duration_s']:.1f} s){extra}"
        )

    # papers that read other papers' results (``after``) run once those have finished
    waves = [[j for j in jobs if not j.paper.after], [j for j in jobs if j.paper.after]]
    # one maths thread per kernel (and Dask worker) unless the user set otherwise: parallel kernels, or one kernel beside
    # another busy process, otherwise make OpenMP and BLAS threads fight (paper 02: 500 s against 9 s under load)
    threads = "1"
    saved = {v: os.environ.get(v) for v in THREAD_VARIABLES}
    for v in THREAD_VARIABLES:
        os.environ.setdefault(v, threads)
    try:
        with writing(p.reports):
            _run_waves(p, waves, run_dir, run_id, banner, timeout, workers, done, cluster)
            return _finish_run(p, jobs, records, manifest, run_dir, run_id, code, t0, progress)
    except BaseException as exc:  # the manifest never stays "running" when this process can still say so
        manifest.update({"status": "failed", "error": str(exc)[:600] or exc.__class__.__name__, "jobs": records})
        with contextlib.suppress(OSError):
            _write_json(run_dir / "manifest.json", manifest)
        raise
    finally:
        for v, old in saved.items():
            if old is None:
                os.environ.pop(v, None)
            else:
                os.environ[v] = old


def _finish_run(
    p: Paths,
    jobs: list[Job],
    records: list[dict[str, Any]],
    manifest: dict[str, Any],
    run_dir: Path,
    run_id: str,
    code: str,
    t0: float,
    progress: Callable[[str], None],
) -> RunResult:
    """Publish the good reports, then write the state, the manifest and the index."""
    shutil.rmtree(run_dir / STATUS_FOLDER, ignore_errors=True)
    order = {job.key: i for i, job in enumerate(jobs)}
    records.sort(key=lambda r: order[r["key"]])

    state = read_state(p)
    for record in records:
        if record["status"] == "ok":
            publish_latest(p, record)
            state[record["key"]] = {
                "fingerprint": fingerprint(p, next(j for j in jobs if j.key == record["key"]), code, record["inputs"]),
                "run_id": run_id,
                "paper": record["paper"],
                "slug": record["slug"],
                "title": record["title"],
                "la_code": record["la_code"],
                "la_name": record["la_name"],
                "parameters": record["parameters"],
                "inputs": record["inputs"],
                "finished": datetime.now(UTC).isoformat(timespec="seconds"),
            }
    _write_json(p.reports / "state.json", state)
    manifest.update(
        {
            "finished": datetime.now(UTC).isoformat(timespec="seconds"),
            "duration_s": round(time.perf_counter() - t0, 1),
            "status": "failed" if any(r["status"] != "ok" for r in records) else "ok",
            "jobs": records,
        }
    )
    _write_json(run_dir / "manifest.json", manifest)
    write_index(p)
    n_failed = sum(r["status"] != "ok" for r in records)
    progress(
        f"run {run_id}: {len(records) - n_failed} ok, {n_failed} failed in {manifest['duration_s']:.0f} s; index: {(p.reports / 'index.html').relative_to(p.root)}"
    )
    return RunResult(run_id, manifest, records)


def resolve_las(p: Paths, codes: Iterable[str] = (), all_las: bool = False) -> list[tuple[str, str]]:
    """(code, name) of the LAs asked for; unknown codes name the closest matches."""
    from analysis.io.geography import current_las, resolve_la
    from analysis.io.ingest import read_table

    lookup = read_table(p, "la_lookup")
    if all_las:
        cur = current_las(lookup).sort_values("la_code")
        return list(zip(cur["la_code"], cur["la_name"]))
    out: list[tuple[str, str]] = []
    for q in list(codes) or [DEFAULT_LA_CODE]:
        row = resolve_la(q, lookup)
        if (row["la_code"], row["la_name"]) not in out:
            out.append((row["la_code"], row["la_name"]))
    return out


def run(
    p: Paths,
    papers: list[Paper],
    las: list[tuple[str, str]],
    parameters: dict[str, Any] | None = None,
    *,
    workers: int = 1,
    command: str = "analysis run",
    progress: Callable[[str], None] | None = None,
    timeout: int = EXECUTION_TIMEOUT,
    cluster: str | None = None,
    full: bool = False,
) -> RunResult:
    """``analysis run``: hold the lock and run every paper for every LA (here, or on a Dask cluster).
    ``full``: the papers' full (publication) settings, as declared in the registry (``--full``)."""
    specs = registry.load(p)
    for pid, given in parameters_by_paper(papers, parameters or {}).items():
        registry.check_given(specs[pid], given)  # a wrong type stops here, before any kernel starts
    with run_lock(p, command):
        if not (p.processed_public / "la_indicators.parquet").is_file():
            raise AnalysisError("no processed data: run `analysis ingest` first")
        from analysis.io.ingest903 import is_stale

        if any(x.inputs and any(i.startswith("ssda903/") for i in x.inputs) for x in papers) and is_stale(p):
            (progress or (lambda m: print(m, file=sys.stderr, flush=True)))(
                "note: the processed 903 is older than the returns in data/raw/ssda903/ (or the code that reads them); this run "
                "uses it as it is. Run `analysis ingest` (or `analysis refresh`) to bring it up to date."
            )
        jobs, skipped = child_level_jobs(p, make_jobs(papers, las, parameters or {}, full=full))
        for note in skipped:
            (progress or (lambda m: print(m, file=sys.stderr, flush=True)))(note)
        if not jobs:
            raise AnalysisError("nothing to run: " + "; ".join(skipped))
        return run_jobs(p, jobs, workers=workers, command=command, progress=progress, timeout=timeout, cluster=cluster)


def data_903_la(p: Paths) -> str | None:
    """The LA whose 903 data has been ingested, or None."""
    report = p.processed / "ssda903" / "ingest_report.json"
    return json.loads(report.read_text()).get("la_code") if report.is_file() else None


def child_level_jobs(p: Paths, jobs: list[Job]) -> tuple[list[Job], list[str]]:
    """Drop jobs for papers that need the LA's own 903 data (``child_level``) when the 903 data is for
    another LA (or absent). Papers that only use it when present (paper 03) run for every LA."""
    la = data_903_la(p)
    keep, notes = [], []
    for job in jobs:
        if not job.paper.child_level or job.la_code == la:
            keep.append(job)
        elif la is None:
            notes.append(
                f"skipped {job.paper.id} for {job.la_name}: no 903 data ingested (put the LA's 903 files in "
                "data/raw/ssda903/ and run `analysis ingest`)"
            )
        else:
            notes.append(f"skipped {job.paper.id} for {job.la_name}: it needs the LA's own 903 data, and this project's 903 data is for {la}")
    return keep, notes


# --- refresh ----------------------------------------------------------------------------------------------
def refresh_log(p: Paths) -> logging.Logger:
    logger = logging.getLogger("analysis.refresh")
    logger.setLevel(logging.INFO)
    logger.propagate = False  # the refresh prints each event itself; the root handler would print it again
    path = p.reports / "logs" / "refresh.log"
    with writing(path.parent):
        path.parent.mkdir(parents=True, exist_ok=True)
        if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
            raise AnalysisError(f"cannot write {path}: it is read-only; nothing was run")
    if not any(getattr(h, "baseFilename", None) == str(path) for h in logger.handlers):
        handler = logging.FileHandler(path, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
    return logger


def plan_refresh(p: Paths, papers: list[Paper], las: list[tuple[str, str]] | None) -> tuple[list[Job], list[str]]:
    """Jobs whose notebook, code or input tables changed since their last good run, with reasons.

    With no LAs given, the LAs each paper was last run for (or the default LA if none)."""
    state = read_state(p)
    code = package_digest()  # a change to any module re-runs every paper
    jobs: list[Job] = []
    reasons: list[str] = []
    for paper in papers:
        if las is not None:
            targets = [Job(paper, c, n) for c, n in las]
        else:
            previous = [s for s in state.values() if s.get("paper") == paper.id]
            targets = [Job(paper, s["la_code"], s["la_name"], s.get("parameters") or {}) for s in previous]
            if not targets:
                from analysis.io.geography import resolve_la
                from analysis.io.ingest import read_table

                row = resolve_la(DEFAULT_LA_CODE, read_table(p, "la_lookup"))
                targets = [Job(paper, row["la_code"], row["la_name"])]
        targets, skipped = child_level_jobs(p, targets)
        reasons += skipped
        for job in targets:
            inputs = input_checksums(p, paper)
            before = state.get(job.key)
            if before is None:
                jobs.append(job)
                reasons.append(f"{job.key}: no earlier good run")
            elif before["fingerprint"] != fingerprint(p, job, code, inputs):
                changed = [k for k, v in inputs.items() if before.get("inputs", {}).get(k) != v]
                why = f"inputs changed ({', '.join(changed)})" if changed else "notebook or code changed"
                jobs.append(job)
                reasons.append(f"{job.key}: {why}")
    return with_pack_companions(papers, jobs, reasons, state)


def with_pack_companions(papers: list[Paper], jobs: list[Job], reasons: list[str], state: dict) -> tuple[list[Job], list[str]]:
    """A pack reads its papers' results from the same run, so when a pack or a paper it reads is
    re-run for an LA, the pack and all its papers are re-run for that LA together."""
    jobs, reasons = list(jobs), list(reasons)
    for pack in [x for x in papers if x.after]:
        group = [pack] + [x for x in papers if x.id in pack.after]
        touched = {(j.la_code, j.la_name) for j in jobs if j.paper in group}
        for la_code, la_name in sorted(touched):
            for paper in group:
                key = Job(paper, la_code, la_name).key
                if any(j.key == key for j in jobs):
                    continue
                params = (state.get(key) or {}).get("parameters") or {}
                jobs.append(Job(paper, la_code, la_name, params))
                reasons.append(f"{key}: re-run with {pack.id}, which reads its results from the same run")
    order = {x.id: i for i, x in enumerate(papers)}
    jobs.sort(key=lambda j: (order.get(j.paper.id, len(order)), j.la_code))
    return jobs, reasons


def refresh(
    p: Paths,
    papers: list[Paper],
    las: list[tuple[str, str]] | None = None,
    *,
    workers: int = 1,
    progress: Callable[[str], None] | None = None,
    cluster: str | None = None,
) -> int:
    """``analysis refresh``: re-ingest if inputs changed, re-run only what changed. Exit status."""
    from analysis.io.ingest import run_ingest
    from analysis.io.ingest903 import run_ingest_903

    logger = refresh_log(p)

    def say(msg: str) -> None:
        logger.info(msg)
        (progress or (lambda m: print(m, file=sys.stderr, flush=True)))(msg)

    try:
        with run_lock(p, "analysis refresh"):
            say("refresh started")
            result = run_ingest(p)
            say(
                "published data unchanged since the last ingest" if result.status == "up to date" else f"re-ingested published data ({result.status})"
            )
            # the LA's own returns: re-ingested when a return file, the cost file, the key or the code that reads them
            # changed (by checksum); the papers that read the 903 then see changed inputs below
            r903 = run_ingest_903(p)
            say(
                {
                    "up to date": "903 returns unchanged since the last ingest",
                    "built": "re-ingested the 903 returns (a return, the cost file or the code that reads them changed)",
                }.get(r903.status, "no 903 returns in data/raw/ssda903/")
            )
            jobs, reasons = plan_refresh(p, papers, las)
            for r in reasons:
                say(f"to run: {r}")
            if not jobs:
                say("nothing to do: every report is up to date with its inputs and code")
                return 0
            run_result = run_jobs(p, jobs, workers=workers, command="analysis refresh", progress=say, cluster=cluster)
            for rec in run_result.failed:
                logger.error("%s failed: %s", rec["key"], rec["error"])
            say(f"refresh finished: {len(jobs) - len(run_result.failed)} ok, {len(run_result.failed)} failed (run {run_result.run_id})")
            return run_result.exit_code
    except RunLockedError as exc:
        logger.warning("refresh skipped: %s", exc)
        raise
    except AnalysisError as exc:
        logger.error("refresh failed: %s", exc)
        raise


# --- index -------------------------------------------------------------------------------------------------
def _manifests(p: Paths) -> list[dict[str, Any]]:
    out = []
    for path in sorted((p.reports / "runs").glob("*/manifest.json"), reverse=True):
        try:
            out.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError):
            continue
    return out


def write_index(p: Paths) -> Path:
    """``reports/index.html``: latest good reports, then every run, newest first (a Jinja2
    template, ``run/templates/index.html.j2``, escaping every value)."""
    manifests = _manifests(p)
    state = read_state(p)
    last_attempt: dict[str, dict[str, Any]] = {}
    for m in manifests:  # newest first
        for rec in m.get("jobs", []):
            last_attempt.setdefault(rec["key"], {**rec, "started": m.get("started")})

    def files(folder: str, outputs: Iterable[str]) -> list[dict[str, str]]:
        return [{"href": f"{folder}/{f}", "name": LINK_NAMES[f]} for f in OUTPUT_FILES if f in outputs]

    def failure(a: Mapping[str, Any], run: bool = False) -> str:
        cell = (a.get("failing_cell") or {}).get("cell")
        where = f" ({a.get('run_id', '')}{', cell ' + str(cell) if cell else ''})" if run else (f", cell {cell}" if cell else "")
        return f"{'latest attempt failed' if run else 'failed'}{where}: {a.get('error') or ''}"

    latest = []
    for key, s in sorted(state.items(), key=lambda kv: (kv[1]["paper"], kv[1]["la_name"])):
        folder = f"latest/{s['slug']}/{s['la_code']}"
        attempt = last_attempt.get(key)
        latest.append(
            {
                "paper": s["paper"],
                "title": s.get("title", ""),
                "la_name": s["la_name"],
                "la_code": s["la_code"],
                "parameters": json.dumps(s.get("parameters")) if s.get("parameters") else "",
                "finished": s["finished"][:16].replace("T", " "),
                "files": files(folder, [f for f in OUTPUT_FILES if (p.reports / folder / f).is_file()]),
                "failed": failure(attempt, run=True) if attempt and attempt["status"] != "ok" else "",
            }
        )
    good_since = {}  # (paper, LA) -> when its newest good report finished, whatever its parameters
    for s in state.values():
        k = (s["paper"], s["la_code"])
        good_since[k] = max(good_since.get(k, ""), s["finished"])
    for key, a in last_attempt.items():
        later_good = good_since.get((a.get("paper"), a.get("la_code")), "") > str(a.get("started") or "")
        if key not in state and not later_good:  # never had a good report; a failure followed by a good run is history (Runs)
            latest.append(
                {
                    **{k: a.get(k, "") for k in ("paper", "title", "la_name", "la_code")},
                    "parameters": "",
                    "finished": "",
                    "files": [],
                    "failed": failure(a),
                }
            )

    runs = []
    for m in manifests:
        jobs = m.get("jobs", [])
        git = m.get("git", {})
        vintage = m.get("data_vintage", {})
        runs.append(
            {
                "run_id": m["run_id"],
                "command": m.get("command", ""),
                "status": m.get("status", "?"),
                "n_failed": sum(j["status"] != "ok" for j in jobs),
                "n_ok": sum(j["status"] == "ok" for j in jobs),
                "duration_s": m.get("duration_s", "?"),
                "started": str(m.get("started")),
                "commit": str(git.get("commit"))[:10],
                "dirty": bool(git.get("dirty")),
                "dfe": str(vintage.get("la_indicators")),
                "ro3": str(vintage.get("ro3_spend")),
                "jobs": [
                    {
                        "ok": j["status"] == "ok",
                        "paper": j["paper"],
                        "la_name": j["la_name"],
                        "duration": f"{j.get('duration_s', 0):.1f}",
                        "cell": (j.get("failing_cell") or {}).get("cell"),
                        "source": (j.get("failing_cell") or {}).get("source") or "",
                        "error": j.get("error") or "",
                        "files": files(f"runs/{m['run_id']}/{j['slug']}/{j['la_code']}", j.get("outputs", [])),
                    }
                    for j in jobs[:400]
                ],
            }
        )
    env = jinja2.Environment(loader=jinja2.PackageLoader("analysis.run"), autoescape=True, undefined=jinja2.StrictUndefined)
    page = env.get_template("index.html.j2").render(latest=latest, runs=runs)
    out = p.reports / "index.html"
    tmp = out.with_suffix(".tmp")
    with writing(p.reports):
        tmp.write_text(page, encoding="utf-8")
        tmp.replace(out)
    return out
