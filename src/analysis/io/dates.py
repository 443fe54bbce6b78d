"""Dates as the 903 writes them, and ages: small helpers every 903 module uses (kept here so that none of
them imports another for a date)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def parse_dates(values: pd.Series) -> pd.Series:
    """DD/MM/YYYY text to dates (NaT where blank or unparseable)."""
    # a few thousand distinct dates however many rows: parse each once, then spread by position
    codes, distinct = pd.factorize(values.astype(str).str.strip())
    parsed = pd.to_datetime(pd.Series(distinct).where(pd.Series(distinct) != ""), format="%d/%m/%Y", errors="coerce")
    out = np.append(parsed.to_numpy(), np.datetime64("NaT", "ns").astype(parsed.dtype))[codes]  # code -1 (missing) -> NaT
    return pd.Series(out, index=values.index, dtype=parsed.dtype)


def whole_years(at: pd.Series, born: pd.Series) -> pd.Series:
    """Whole years of age on each date (float; NaN where either date is missing)."""
    at, born = pd.to_datetime(at), pd.to_datetime(born)
    had_birthday = (at.dt.month > born.dt.month) | ((at.dt.month == born.dt.month) & (at.dt.day >= born.dt.day))
    return at.dt.year - born.dt.year - (~had_birthday).astype(float)
