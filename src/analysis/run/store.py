"""The reports store: the lock, writing safely, the last good outputs under latest/, state.json, run
manifests and the index page."""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
from filelock import FileLock, Timeout

from analysis.config import Paths
from analysis.errors import AnalysisError, RunLockedError
from analysis.run.kernels import kernel_temp_prefix

log = logging.getLogger(__name__)
OUTPUT_FILES = ("report.html", "report.pdf", "tables.xlsx", "metrics.json", "notebook.ipynb")
#: how the index names each file it links
LINK_NAMES = {"report.html": "report", "report.pdf": "PDF", "tables.xlsx": "tables (Excel)", "metrics.json": "metrics", "notebook.ipynb": "notebook"}


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
