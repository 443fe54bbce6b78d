"""Validation of notebook parameters, run in the cell straight after papermill injects them.

Papermill only warns about a misspelt parameter and passes everything as JSON types, so each
notebook calls :func:`validate` with its own defaults: wrong types, unknown names and unknown LA
codes stop the run at once with one clear message.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from analysis.config import Paths, paths
from analysis.errors import ParameterError
from analysis.io.geography import resolve_la
from analysis.io.ingest import read_table

__all__ = ["ParameterError", "check_declared_types", "check_types", "resolve_la_param"]


def check_types(values: dict[str, Any], defaults: dict[str, Any]) -> None:
    """Every value has the type of its default (an int is accepted where a float is expected)."""
    check_declared_types({**defaults, **values}, {name: type(default) for name, default in defaults.items()})


def check_declared_types(values: dict[str, Any], types: dict[str, type]) -> None:
    """Every value has its declared type (an int is accepted where a float is expected)."""
    for name, expected in types.items():
        if name not in values:
            raise ParameterError(f"parameter '{name}' is missing")
        value = values[name]
        ok = isinstance(value, expected) or (expected is float and isinstance(value, int) and not isinstance(value, bool))
        if expected is int and isinstance(value, bool):
            ok = False
        if not ok:
            raise ParameterError(f"parameter '{name}' should be {expected.__name__}, got {type(value).__name__} {value!r}")


def resolve_la_param(la_code: str, p: Paths | None = None) -> pd.Series:
    """The LA row for a code or name; an unknown one names the closest matches."""
    p = p or paths()
    if not isinstance(la_code, str) or not la_code.strip():
        raise ParameterError(f"parameter 'la_code' should be an LA code or name, got {la_code!r}")
    return resolve_la(la_code, read_table(p, "la_lookup"))
