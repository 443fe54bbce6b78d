"""Checks of notebook parameters' values, run straight after papermill injects them.

Types are checked against the paper registry (:func:`analysis.papers.registry.check`); this module
resolves the values that need the data, such as an LA code or name (an unknown one names the
closest matches).
"""

from __future__ import annotations

import pandas as pd

from analysis.config import Paths, paths
from analysis.errors import ParameterError
from analysis.io.geography import resolve_la
from analysis.io.ingest import read_table

__all__ = ["ParameterError", "resolve_la_param"]


def resolve_la_param(la_code: str, p: Paths | None = None) -> pd.Series:
    """The LA row for a code or name; an unknown one names the closest matches."""
    p = p or paths()
    if not isinstance(la_code, str) or not la_code.strip():
        raise ParameterError(f"parameter 'la_code' should be an LA code or name, got {la_code!r}")
    return resolve_la(la_code, read_table(p, "la_lookup"))
