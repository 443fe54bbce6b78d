"""What a run records about itself: input checksums and the job fingerprint refresh compares, the git
commit, package versions, the data vintage and the run id."""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
import uuid
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from analysis.config import Paths
from analysis.io.ingest import sha256

if TYPE_CHECKING:
    from analysis.run.execute import Job
    from analysis.run.runner import Paper
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
