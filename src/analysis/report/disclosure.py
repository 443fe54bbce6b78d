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

import re
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from analysis.report.html import table_html

SUPPRESSED = "c"
MIN_COUNT = 5
#: a suppressed count in a sentence
SUPPRESSED_WORDS = "a number not shown (c)"


def _small(values: pd.Series, min_count: int) -> pd.Series:
    v = pd.to_numeric(values, errors="coerce")
    return (v > 0) & (v < min_count)


def _protect_one(values: pd.Series, mask: pd.Series) -> pd.Series:
    """If exactly one cell is suppressed, also suppress the smallest other non-zero cell."""
    if int(mask.sum()) != 1:
        return mask
    v = pd.to_numeric(values, errors="coerce")
    candidates = v[~mask & v.notna()]
    if candidates.empty:
        return mask
    # the smallest non-zero cell (by size: a gap or change can be negative); a zero only when nothing else is left
    order = pd.DataFrame({"zero": candidates == 0, "size": candidates.abs()}).sort_values(["zero", "size"], kind="mergesort")
    mask = mask.copy()
    mask[order.index[0]] = True
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
    force: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Boolean frame (same index, ``count_columns`` plus ``row_total``) of cells to suppress.

    ``row_total``: a column holding the sum of ``count_columns`` across each row.
    ``total_row``/``label_column``: the row (by its label) holding the column totals.
    ``force``: cells suppressed whatever their size (a quantity another table of the report hides).
    """
    cols = list(count_columns) + ([row_total] if row_total else [])
    mask = pd.DataFrame({c: _small(df[c], min_count) for c in cols}, index=df.index)
    if force is not None:
        for c in force.columns:
            if c not in mask.columns:
                raise KeyError(f"force: column '{c}' is not a count column of the table")
            mask[c] = mask[c] | force[c].reindex(df.index, fill_value=False).astype(bool)
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
    _check_arguments(df, count_columns, row_total, total_row, label_column)
    mask = suppression_mask(
        df, count_columns, row_total=row_total, total_row=total_row, label_column=label_column, groups=groups, min_count=min_count
    )
    return _apply_mask(df, mask, linked)


def _protect_stock_flow(df: pd.DataFrame, mask: pd.DataFrame, stock: str, inflow: str, outflow: str) -> pd.DataFrame:
    """Rows in time order tied by ``stock[t] = stock[t-1] + inflow[t] - outflow[t]``: a suppressed cell
    with every other cell of one of these identities shown could be worked out, so the next-smallest
    cell of that identity is suppressed too, repeated until no identity has a single suppressed cell."""
    mask = mask.copy()
    idx = list(df.index)
    while True:
        changed = False
        for t in range(1, len(idx)):
            cells = [(idx[t], stock), (idx[t - 1], stock), (idx[t], inflow), (idx[t], outflow)]
            values = pd.Series([df.at[i, c] for i, c in cells], index=range(4))
            hidden = pd.Series([bool(mask.at[i, c]) for i, c in cells], index=range(4))
            protected = _protect_one(values, hidden)
            for k, (i, c) in enumerate(cells):
                if protected[k] and not hidden[k]:
                    mask.at[i, c] = True
                    changed = True
        if not changed:
            return mask


def _check_arguments(
    df: pd.DataFrame, count_columns: Sequence[str], row_total: str | None, total_row: object | None, label_column: str | None
) -> None:
    if total_row is not None and label_column is None:
        raise ValueError("total_row needs label_column")
    missing = [c for c in [*count_columns, *([row_total] if row_total else [])] if c not in df.columns]
    if missing:
        raise KeyError(f"columns not in the table: {missing}")


def _apply_mask(df: pd.DataFrame, mask: pd.DataFrame, linked: Mapping[str, Sequence[str]] | None) -> pd.DataFrame:
    """``df`` with ``"c"`` where the mask (and a linked column's count) says so."""
    out = df.copy()
    for c in mask.columns:
        if mask[c].any():
            out[c] = out[c].astype(object).where(~mask[c], SUPPRESSED)
    for count_col, derived in (linked or {}).items():
        for d in derived:
            if mask[count_col].any():
                out[d] = out[d].astype(object).where(~mask[count_col], SUPPRESSED)
    return out


# --- the gate: the only way a number reaches a reader ----------------------------------------------------
#: columns that never hold counts of children and are never suppressed with them (labels on a time axis)
AXIS_COLUMNS = frozenset({"year", "years", "financial_year", "collection_year", "month", "horizon_months", "months"})

#: a numeric column with one of these words in its name looks like a count of children: it must be declared
#: either a count or (``not_counts``) not one, so that a new table cannot publish counts by forgetting to say so
COUNT_LIKE = re.compile(
    r"(?:^|_)(?:children|child|placements|entries|exits|starts|ceased|cla|people|events|unplanned|n|count|"
    r"forecast|actual|rows)(?:_|$|\d)",
    re.IGNORECASE,
)

_KEY = object()


class GateError(ValueError):
    """A table was offered for publication without saying which of its columns count children."""


class Gated:
    """A table that has passed the disclosure gate (made only by :func:`gate`).

    ``frame`` holds what may be published (``"c"`` where suppressed); ``suppressed`` is a boolean
    frame of the same shape. Charts, sentences, metrics and workbooks take a ``Gated``, never a raw
    frame, so a number that skipped the gate has no way into a report."""

    __slots__ = ("frame", "suppressed", "counts", "structure", "_shown")

    def __init__(self, frame: pd.DataFrame, suppressed: pd.DataFrame, counts: Sequence[str], structure: Mapping[str, object], *, key: object = None):
        if key is not _KEY:
            raise TypeError("a Gated table is made by disclosure.gate(), which applies disclosure control")
        self.frame = frame
        self.suppressed = suppressed
        self.counts = tuple(counts)
        self.structure = dict(structure)

    def __len__(self) -> int:
        return len(self.frame)

    def __repr__(self) -> str:
        return f"Gated({len(self.frame)} rows; counts {list(self.counts)}; {int(self.suppressed.to_numpy().sum())} cells suppressed)"

    def _ipython_display_(self) -> None:
        """Shown as a published table would be (a cell ending in ``report.table(...)`` shows it once, not twice)."""
        if getattr(self, "_shown", False):
            return
        from IPython.display import HTML, display

        display(HTML(table_html(self.frame, title="", counts=self.counts)))

    @property
    def columns(self) -> list[str]:
        return list(self.frame.columns)

    def numbers(self, column: str) -> pd.Series:
        """The column as floats, NaN where suppressed (or not a number): what a chart may plot."""
        return pd.to_numeric(self.frame[column].where(~self.suppressed[column]), errors="coerce").astype(float)

    def is_suppressed(self, column: str) -> pd.Series:
        return self.suppressed[column]

    def numeric_frame(self) -> pd.DataFrame:
        """Every column, numbers where shown and NaN where suppressed; text columns as they are."""
        out = self.frame.copy()
        for c in out.columns:
            if self.suppressed[c].any():
                out[c] = self.numbers(c)
            elif out[c].dtype == object:
                conv = pd.to_numeric(out[c], errors="coerce")
                if conv.notna().sum() == out[c].notna().sum() and out[c].notna().any():
                    out[c] = conv
        return out

    def value(self, row: object, column: str, *, by: str | None = None) -> object:
        """One published cell: the value, or ``"c"``. ``row`` is an index label, or a value of column ``by``."""
        idx = row if by is None else self.frame.index[self.frame[by] == row]
        if by is not None:
            if len(idx) != 1:
                raise KeyError(f"{by} = {row!r} matches {len(idx)} rows")
            idx = idx[0]
        return self.frame.at[idx, column]

    def say(self, row: object, column: str, *, by: str | None = None, unit: str = "") -> str:
        """A cell as words for a sentence: a count of 1 to 4 never appears (``"fewer than 5"``)."""
        v = self.value(row, column, by=by)
        if column in self.counts:
            return count_text(v)
        if isinstance(v, str):
            return "not shown (suppressed)" if v == SUPPRESSED else v
        return f"{v:,.1f}{unit}" if isinstance(v, float) and not float(v).is_integer() else f"{v:,.0f}{unit}"

    def with_labels(self, **columns: Sequence[object]) -> Gated:
        """The same gated table with extra text columns (labels for a chart); numbers cannot be added."""
        frame, suppressed = self.frame.copy(), self.suppressed.copy()
        for name, values in columns.items():
            values = pd.Series(list(values), index=frame.index)
            if pd.api.types.is_numeric_dtype(values) and len(values):
                raise TypeError(f"with_labels: '{name}' holds numbers; numbers reach a reader only through disclosure.gate")
            frame[name] = values.astype(str)
            suppressed[name] = False
        return Gated(frame, suppressed, self.counts, self.structure, key=_KEY)

    def subset(self, rows: pd.Series | Sequence[bool]) -> Gated:
        """Some rows of a gated table (still gated: suppression was decided on the whole table)."""
        keep = pd.Series(rows, index=self.frame.index) if not isinstance(rows, pd.Series) else rows
        return Gated(self.frame[keep], self.suppressed[keep], self.counts, self.structure, key=_KEY)


def published_figures(table: pd.DataFrame, count_column: str) -> dict:
    """Gate settings for a table of figures already published (DfE, RO3, Ofsted): its count of children is
    gated as a count (1 to 4 -> c, as the publisher does), and every other figure stands as published beside
    it (it is not derived from this count): ``gate(table, **published_figures(table, "Number"))``."""
    return {"counts": [count_column], "independent": [c for c in table.columns if c != count_column]}


def count_text(value: object, *, min_count: int = MIN_COUNT) -> str:
    """A count as words for a sentence: ``"fewer than 5"`` for 1 to 4, ``"a number not shown (c)"`` for a
    suppressed cell (it may hide a larger number that would reveal a small one: saying "fewer than 5"
    would be untrue, and would tell the reader which cell is the small one), else ``"1,234"``."""
    if isinstance(value, str):
        return SUPPRESSED_WORDS if value == SUPPRESSED else value
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "not available"
    v = float(value)  # type: ignore[arg-type]
    if 0 < v < min_count:
        return f"fewer than {min_count}"
    return f"{round(v):,}"


def _is_symbol_c(v: object) -> bool:
    return isinstance(v, str) and v == SUPPRESSED


NOT_A_COUNT = re.compile(r"(?:^|_)(?:pct|rate|per|gbp|spend|cost|price|share|ratio)(?:_|$)", re.IGNORECASE)


def _holds_numbers(series: pd.Series) -> bool:
    """A column of numbers: a numeric dtype, or objects that are all numbers, gaps or symbols (``c``, ``x`` ...)."""
    if pd.api.types.is_bool_dtype(series):
        return False
    if pd.api.types.is_numeric_dtype(series):
        return True
    if series.dtype != object:
        return False
    values = [v for v in series if v is not None and not (isinstance(v, float) and np.isnan(v)) and not isinstance(v, str)]
    return bool(values) and all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_)) for v in values)


def _looks_like_count(name: str, series: pd.Series) -> bool:
    return bool(COUNT_LIKE.search(str(name))) and not NOT_A_COUNT.search(str(name)) and _holds_numbers(series)


def gate(
    df: pd.DataFrame | Gated,
    counts: Sequence[str],
    *,
    not_counts: Sequence[str] = (),
    independent: Sequence[str] = (),
    linked: Mapping[str, Sequence[str]] | None = None,
    row_total: str | None = None,
    total_row: object | None = None,
    label_column: str | None = None,
    groups: str | None = None,
    stock_flow: tuple[str, str, str] | None = None,
    min_count: int = MIN_COUNT,
    force: pd.DataFrame | None = None,
) -> Gated:
    """The one disclosure gate. Returns a :class:`Gated` table.

    ``counts``: columns of counts of children (forecast numbers of children and gaps are counts too);
    primary (1 to 4) and secondary suppression as in :func:`apply_disclosure_control`.
    Every other numeric column in a row where a count is suppressed is suppressed with it (a rate,
    percentage, interval, exposure or money figure of a suppressed group could reveal it), except the
    time-axis columns (``year`` ...) and those named in ``independent`` (figures that do not come from
    the row's children, e.g. a planted value). A numeric column whose name looks like a count must be
    in ``counts`` or ``not_counts``: :class:`GateError` otherwise. ``stock_flow`` = (stock, in, out)
    count columns of rows in time order tied by stock = previous stock + in - out: no such identity
    is left with a single suppressed cell. ``force``: count cells to suppress whatever their size (the
    report's ledger passes the quantities another table hides; see :mod:`analysis.report.ledger`).
    """
    if isinstance(df, Gated):
        return df
    counts = list(counts)
    declared = set(counts) | set(not_counts) | set(independent) | AXIS_COLUMNS | {c for d in (linked or {}).values() for c in d}
    undeclared = [c for c in df.columns if c not in declared and _looks_like_count(c, df[c])]
    if undeclared:
        raise GateError(
            f"column(s) {undeclared} look like counts of children: name them in counts=[...] "
            "(to suppress 1 to 4) or in not_counts=[...] (if they are not counts of children)"
        )
    _check_arguments(df, counts, row_total, total_row, label_column)
    mask = (
        suppression_mask(
            df, counts, row_total=row_total, total_row=total_row, label_column=label_column, groups=groups, min_count=min_count, force=force
        )
        if counts
        else pd.DataFrame(index=df.index)
    )
    if stock_flow:
        mask = _protect_stock_flow(df, mask, *stock_flow)
    published = _apply_mask(df, mask, linked)  # the mask is worked out once (as apply_disclosure_control would)
    # suppressed: every cell the gate turned into "c", and any "c" the source already carried (DfE's own)
    suppressed = pd.DataFrame({c: published[c].map(_is_symbol_c).astype(bool).to_numpy() for c in published.columns}, index=df.index)
    row_hit = mask.any(axis=1) if len(mask.columns) else pd.Series(False, index=df.index)
    if row_hit.any():
        # columns linked to one count follow that count alone (above); every other figure follows the row
        keep = set(counts) | set(independent) | AXIS_COLUMNS | ({row_total} if row_total else set()) | {c for d in (linked or {}).values() for c in d}
        for c in df.columns:
            if c in keep or not _holds_numbers(df[c]):
                continue
            published[c] = published[c].astype(object).where(~row_hit, SUPPRESSED)
            suppressed[c] |= row_hit.to_numpy()
    structure = {
        "row_total": row_total,
        "total_row": total_row,
        "label_column": label_column,
        "groups": groups,
        "stock_flow": list(stock_flow) if stock_flow else None,
        "linked": {k: list(v) for k, v in (linked or {}).items()},
        "derived": [
            c for c in df.columns if c not in counts and c not in AXIS_COLUMNS and c not in independent and c != row_total and _holds_numbers(df[c])
        ],
    }
    return Gated(published, suppressed, counts, structure, key=_KEY)
