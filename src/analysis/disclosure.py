"""The single disclosure-control gate every published table passes through (DfE style).

Primary suppression: a count of 1 to 4 (``0 < n < min_count``) is replaced by ``c``. Zero is
shown: DfE publishes true zeros.

Secondary suppression: where a total is published, one suppressed cell in a row (or column)
could be worked out by subtraction. So when a row or column that sums to a published total has
exactly one suppressed cell, the next-smallest non-zero cell in it is suppressed too. Row and
column passes repeat until nothing changes. Percentages or rates computed from a suppressed count
are suppressed with it (``linked``), and a total that is itself 1 to 4 is suppressed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

SUPPRESSED = "c"
MIN_COUNT = 5


def _small(values: pd.Series, min_count: int) -> pd.Series:
    v = pd.to_numeric(values, errors="coerce")
    return (v > 0) & (v < min_count)


def _protect_one(values: pd.Series, mask: pd.Series) -> pd.Series:
    """If exactly one cell is suppressed, also suppress the smallest other non-zero cell."""
    if int(mask.sum()) != 1:
        return mask
    v = pd.to_numeric(values, errors="coerce")
    candidates = v[~mask & v.notna() & (v > 0)]
    if candidates.empty:
        return mask
    mask = mask.copy()
    mask[candidates.sort_values(kind="mergesort").index[0]] = True
    return mask


def suppression_mask(
    df: pd.DataFrame,
    count_columns: Sequence[str],
    *,
    row_total: str | None = None,
    total_row: object | None = None,
    label_column: str | None = None,
    groups: str | None = None,
    min_count: int = MIN_COUNT,
) -> pd.DataFrame:
    """Boolean frame (same index, ``count_columns`` plus ``row_total``) of cells to suppress.

    ``row_total``: a column holding the sum of ``count_columns`` across each row.
    ``total_row``/``label_column``: the row (by its label) holding the column totals.
    """
    cols = list(count_columns) + ([row_total] if row_total else [])
    mask = pd.DataFrame({c: _small(df[c], min_count) for c in cols}, index=df.index)
    body = df.index if total_row is None else df.index[df[label_column] != total_row]
    # ``groups``: rows sharing a value of this column add up to a total published elsewhere (for
    # example the breakdowns of one characteristic in a stacked table): protect each group's cells
    blocks = [df.index[df[groups] == g] for g in pd.unique(df[groups])] if groups else []
    while True:
        before = mask.values.copy()
        if row_total:
            for idx in df.index:
                mask.loc[idx, list(count_columns)] = _protect_one(df.loc[idx, list(count_columns)], mask.loc[idx, list(count_columns)]).to_numpy()
        if total_row is not None:
            for c in cols:
                mask.loc[body, c] = _protect_one(df.loc[body, c], mask.loc[body, c]).to_numpy()
        for block in blocks:
            for c in cols:
                mask.loc[block, c] = _protect_one(df.loc[block, c], mask.loc[block, c]).to_numpy()
        if np.array_equal(before, mask.values):
            return mask


def apply_disclosure_control(
    df: pd.DataFrame,
    count_columns: Sequence[str],
    *,
    row_total: str | None = None,
    total_row: object | None = None,
    label_column: str | None = None,
    linked: Mapping[str, Sequence[str]] | None = None,
    groups: str | None = None,
    min_count: int = MIN_COUNT,
) -> pd.DataFrame:
    """A copy of ``df`` ready to publish: suppressed cells hold ``"c"`` (columns become object).

    ``linked`` maps a count column to the columns derived from it (percentages, rates) that must
    be suppressed wherever the count is. ``groups`` names a column whose values mark blocks of rows
    that each add up to a published total (secondary suppression within each block).
    """
    if total_row is not None and label_column is None:
        raise ValueError("total_row needs label_column")
    missing = [c for c in [*count_columns, *([row_total] if row_total else [])] if c not in df.columns]
    if missing:
        raise KeyError(f"columns not in the table: {missing}")
    mask = suppression_mask(
        df, count_columns, row_total=row_total, total_row=total_row, label_column=label_column, groups=groups, min_count=min_count
    )
    out = df.copy()
    for c in mask.columns:
        if mask[c].any():
            out[c] = out[c].astype(object).where(~mask[c], SUPPRESSED)
    for count_col, derived in (linked or {}).items():
        for d in derived:
            if mask[count_col].any():
                out[d] = out[d].astype(object).where(~mask[count_col], SUPPRESSED)
    return out
