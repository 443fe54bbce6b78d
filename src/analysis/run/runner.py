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
import math
import os
import re
import shutil
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from analysis.config import DEFAULT_LA_CODE, KERNEL_NAME, Paths, package_digest
from analysis.errors import AnalysisError
from analysis.io.ingest import sha256
from analysis.papers import registry
from analysis.progress import Progress
from analysis.run.execute import EXECUTION_TIMEOUT, STATUS_FOLDER, Job, child_level_jobs, running_now
from analysis.run.export import PDF_FILE, chromium, export_html
from analysis.run.kernels import THREAD_VARIABLES
from analysis.run.provenance import data_vintage, fingerprint, git_info, input_checksums, new_run_id, package_versions
from analysis.run.schedule import _run_waves, stays_here
from analysis.run.store import OUTPUT_FILES, _write_json, publish_latest, read_state, run_lock, write_index, writing

__all__ = [
    "Job",
    "OUTPUT_FILES",
    "PDF_FILE",
    "Paper",
    "RunResult",
    "chromium",
    "discover_papers",
    "export_html",
    "make_jobs",
    "parameters_by_paper",
    "parse_param",
    "publish_latest",
    "resolve_las",
    "run",
    "run_jobs",
    "run_lock",
    "running_now",
    "select_papers",
    "stays_here",
    "write_index",
]


# --- papers ---------------------------------------------------------------------------------------
#: a declared paper and its notebook (``notebooks/papers.yaml``, read by :mod:`analysis.papers.registry`)
Paper = registry.PaperSpec


def discover_papers(p: Paths) -> list[Paper]:
    """Every paper declared in ``notebooks/papers.yaml``; a notebook that disagrees with its declaration stops the run."""
    specs = registry.load(p)
    problems = registry.all_problems(p, specs)
    if problems:
        raise AnalysisError("the paper registry and the notebooks disagree: " + "; ".join(problems[:5]))
    return list(specs.values())


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
            if name not in paper.parameter_names:
                raise AnalysisError(f"--param {key}: paper {paper.id} has no parameter {name}; its parameters: {', '.join(paper.parameter_names)}")
            targeted.append((paper, name, value))
            continue
        takers = [x for x in papers if key in x.parameter_names]
        if not takers:
            listing = "; ".join(f"{x.id}: {', '.join(x.parameter_names)}" for x in papers)
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
    return [Job(paper, code, name, {**(paper.full_values if full else {}), **given[paper.id]}) for paper in papers for code, name in las]


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
