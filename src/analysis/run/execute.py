"""One job: a paper for an LA executed by papermill in a fresh (or forked) kernel, with its status file,
timeouts and the failing cell named when it fails."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import platform
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbclient.exceptions import CellTimeoutError
from papermill.engines import NBClientEngine, papermill_engines

from analysis.config import CELL_TIMEOUT, KERNEL_NAME, KERNEL_START_TIMEOUT, Paths
from analysis.report import metrics
from analysis.run import kernels
from analysis.run.export import PDF_FILE, _footer, _report_meta, export_html, print_pdf
from analysis.run.kernels import kernel_temp_prefix
from analysis.run.store import OUTPUT_FILES

if TYPE_CHECKING:
    from analysis.run.runner import Paper

EXECUTION_TIMEOUT = CELL_TIMEOUT  # seconds per cell (analysis.config)
START_TIMEOUT = KERNEL_START_TIMEOUT  # seconds for the kernel to start


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


def execute_in(km, notebook: Path, out: Path, params: dict, *, timeout: int, **extra: Any):
    """papermill on ``notebook`` in the kernel ``km`` (:func:`analysis.run.kernels.kernel_manager`), as the runner runs
    a paper: in the notebook's folder, with the project's kernel; the kernel stopped afterwards however the run ends
    (papermill does not own a kernel manager it is given). ``extra``: more papermill options."""
    import papermill as pm

    try:
        return pm.execute_notebook(
            str(notebook),
            str(out),
            parameters=params,
            kernel_name=KERNEL_NAME,
            cwd=str(notebook.parent),
            execution_timeout=timeout,
            start_timeout=START_TIMEOUT,
            progress_bar=False,
            km=km,
            **extra,
        )
    finally:
        if km.has_kernel:
            km.shutdown_kernel(now=True)


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
                    execute_in(
                        km,
                        Path(job.paper.path),
                        Path(nb_out),
                        params,
                        timeout=timeout,
                        log_output=False,
                        report_mode=False,
                        engine_name=STATUS_ENGINE,
                        status_file=str(status_file(Path(run_dir), job)),
                    )
                finally:
                    record["forked"] = bool(getattr(km, "forked", False))  # from the worker's primed parent
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
