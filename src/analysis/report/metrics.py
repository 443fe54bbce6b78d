"""``metrics.json``: the one schema every paper writes and the pack reads (docs/metrics.md).

Each paper's folder in a run is ``reports/runs/<run id>/<NN_name>/<LA code>/`` (and the latest
good one is copied to ``reports/latest/<NN_name>/<LA code>/``). Its ``metrics.json`` holds:

- ``schema``: this schema's version (:data:`SCHEMA_VERSION`);
- ``paper``, ``title``, ``synthetic`` and the paper's context (``la_code``, ``la_name``, ...);
- ``metrics``: name -> ``{"value": ..., "kind": ..., <details>}``, every metric in this one shape
  (``kind`` is ``value``, ``count``, ``rate``, ... ; details such as ``year``, ``unit``, ``count``,
  ``england`` sit beside the value);
- named sections (e.g. ``planted_truth``) and ``tables`` (each table's title, rows and count columns).

Another paper's results are read only through :func:`find` and :func:`value` here, never by
walking folders.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from analysis.errors import InputError

SCHEMA_VERSION = 2
METRICS_FILE = "metrics.json"


def output_folder(run_dir: Path, slug: str, la_code: str) -> Path:
    """Where a paper's outputs for one LA go in a run (the runner's ``output_dir``)."""
    return Path(run_dir) / slug / la_code


def run_folder(output_dir: str | Path) -> Path:
    """The run folder an ``output_dir`` from :func:`output_folder` belongs to."""
    return Path(output_dir).resolve().parent.parent


def find(folder: Path, paper_id: str, la_code: str) -> Path | None:
    """The ``metrics.json`` of paper ``paper_id`` for ``la_code`` in a run folder (or ``reports/latest``)."""
    files = sorted(Path(folder).glob(f"{paper_id}_*/{la_code}/{METRICS_FILE}"))
    return files[0] if files else None


def read(path: Path) -> dict[str, Any]:
    """A ``metrics.json``, checked for this schema."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read metrics ({exc.__class__.__name__})", path) from exc
    if doc.get("schema") != SCHEMA_VERSION:
        raise InputError(f"metrics schema {doc.get('schema')!r}, expected {SCHEMA_VERSION}: re-run the paper", path)
    return doc


def entry(doc: dict[str, Any] | None, name: str) -> dict[str, Any] | None:
    """One metric (``{"value": ..., "kind": ..., ...}``), or None when the paper or metric is absent."""
    if doc is None:
        return None
    return doc.get("metrics", {}).get(name)


def value(doc: dict[str, Any] | None, name: str) -> Any:
    """A metric's value, or None when the paper or metric is absent."""
    e = entry(doc, name)
    return None if e is None else e.get("value")
