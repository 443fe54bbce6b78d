"""One ledger per report: every count a report publishes, registered once under what it counts.

Each table is gated on its own (:func:`analysis.report.disclosure.gate`), but a reader can set one table
against another: the pack's provision table hides the LA's own children's-home placements (``c``) while
its gap table prints them, and 73 - 55 - 17 gives the other, suppressed, count of 1. So a table may
declare :class:`Keys`: what its count cells count (``what``), which column names each row's part
(``row``) and which part each count column holds (``columns``). Cells of different tables with the same
key are the same quantity: they must be printed the same way (both shown or both ``c``), and the
identities that tie each table (row totals, a total row, stock and flow) are pooled over the whole
report. :func:`determined` finds every hidden quantity that those identities pin down (exactly: the
unit vector lies in the row space of the equations over the hidden quantities), so a cell that can be
worked out by differencing across tables is found whichever tables it takes.

The same functions serve the report as it is built (:meth:`Ledger.settle`, used by ``Report.table``:
cells of a new table are suppressed until nothing hidden can be worked out) and the scan that reads
the published workbook (:func:`workbook_problems`), which knows nothing of how it was built.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

Key = tuple[str, str, str]  # (what, row part, column part)


@dataclass(frozen=True)
class Keys:
    """What a table's count cells count: cell (row r, column c) is ``(what, r[row], columns[c])``.

    ``row``: the column whose value names the row's part (``"group"``); ``columns``: count column ->
    the part it holds (``{"LA's own": "LA's own", "total": "all providers"}``). Columns left out are not
    registered (a forecast's interval is not a quantity another table prints)."""

    what: str
    row: str
    columns: Mapping[str, str]

    def key(self, row_value: object, column: str) -> Key:
        return (self.what, str(row_value), str(self.columns[column]))

    def as_json(self, label: Any = str) -> dict[str, Any]:
        """The declaration with the reader's headers (what the workbook shows), for metrics.json."""
        return {"what": self.what, "row": label(self.row), "columns": {label(c): p for c, p in self.columns.items()}}


Cell = tuple[Hashable, str]  # (row index, column) inside one table


def identities(frame: pd.DataFrame, structure: Mapping[str, Any], keys: Keys) -> list[dict[Cell, float]]:
    """The additive identities that tie a table's keyed cells (``sum coef * cell = 0``), from its structure:
    each row's parts and its row total, each column's body and its total row, stock = last stock + in - out."""
    cols = [c for c in keys.columns if c in frame.columns]
    out: list[dict[Cell, float]] = []
    row_total = structure.get("row_total")
    if row_total in cols:
        parts = [c for c in cols if c != row_total]
        for i in frame.index:
            out.append({**{(i, c): 1.0 for c in parts}, (i, row_total): -1.0})
    total_row, label = structure.get("total_row"), structure.get("label_column")
    if total_row is not None and label in frame.columns:
        is_total = frame[label].astype(str) == str(total_row)
        if is_total.sum() == 1:
            t = frame.index[is_total][0]
            body = frame.index[~is_total]
            for c in cols:
                out.append({**{(i, c): 1.0 for i in body}, (t, c): -1.0})
    tied = structure.get("stock_flow") or []
    if len(tied) == 3 and all(c in cols for c in tied):
        stock, inflow, outflow = tied
        idx = list(frame.index)
        for a, b in zip(idx, idx[1:]):
            out.append({(b, stock): 1.0, (a, stock): -1.0, (b, inflow): -1.0, (b, outflow): 1.0})
    return out


def determined(equations: Sequence[Mapping[Key, float]], hidden: Iterable[Key]) -> list[Key]:
    """The hidden quantities that the equations pin down, given every other quantity in them is known.

    Quantity ``k`` is determined when the unit vector of ``k`` lies in the row space of the equations'
    coefficients on the hidden quantities, i.e. when every vector of the null space is zero at ``k``."""
    hidden = sorted(set(hidden))
    if not hidden:
        return []
    pos = {k: j for j, k in enumerate(hidden)}
    rows = [[0.0] * len(hidden) for _ in equations]
    for r, eq in enumerate(equations):
        for k, coef in eq.items():
            if k in pos:
                rows[r][pos[k]] += coef
    a = np.array([r for r in rows if any(r)], dtype=float)
    if not len(a):
        return []
    _, s, vt = np.linalg.svd(a)
    rank = int((s > 1e-9 * max(1.0, s.max())).sum())
    null = vt[rank:]  # rows span the null space
    if not len(null):
        return hidden
    return [k for j, k in enumerate(hidden) if np.abs(null[:, j]).max() < 1e-9]


@dataclass
class Ledger:
    """The counts a report has published so far, by key: shown (with its value) or hidden."""

    shown: dict[Key, object] = field(default_factory=dict)
    hidden: set[Key] = field(default_factory=set)
    equations: list[dict[Key, float]] = field(default_factory=list)
    where: dict[Key, list[str]] = field(default_factory=dict)

    def must_hide(self, keys: Keys, frame: pd.DataFrame) -> pd.DataFrame:
        """Cells of a new table whose quantity an earlier table hid: boolean frame over ``keys.columns``."""
        cols = [c for c in keys.columns if c in frame.columns]
        return pd.DataFrame(
            {c: [keys.key(frame.at[i, keys.row], c) in self.hidden for i in frame.index] for c in cols}, index=frame.index, dtype=bool
        )

    def leaks(self, table: str, keys: Keys, frame: pd.DataFrame, suppressed: pd.DataFrame, structure: Mapping[str, Any]) -> list[Key]:
        """Hidden quantities (of the ledger and this table together) that could be worked out if the table
        were published as ``suppressed`` says."""
        shown, hidden = dict(self.shown), set(self.hidden)
        cols = [c for c in keys.columns if c in frame.columns]
        for i in frame.index:
            for c in cols:
                k = keys.key(frame.at[i, keys.row], c)
                if bool(suppressed.at[i, c]):
                    hidden.add(k)
                else:
                    shown[k] = frame.at[i, c]
        hidden -= set(shown)
        eqs = self.equations + [{keys.key(frame.at[i, keys.row], c): v for (i, c), v in eq.items()} for eq in identities(frame, structure, keys)]
        return determined(eqs, hidden)

    def record(self, table: str, keys: Keys, original: pd.DataFrame, suppressed: pd.DataFrame, structure: Mapping[str, Any]) -> None:
        cols = [c for c in keys.columns if c in original.columns]
        for i in original.index:
            for c in cols:
                k = keys.key(original.at[i, keys.row], c)
                self.where.setdefault(k, []).append(table)
                if bool(suppressed.at[i, c]):
                    self.hidden.add(k)
                else:
                    self.shown[k] = original.at[i, c]
        self.hidden -= set(self.shown)
        self.equations += [{keys.key(original.at[i, keys.row], c): v for (i, c), v in eq.items()} for eq in identities(original, structure, keys)]

    def is_hidden(self, key: Key) -> bool:
        return key in self.hidden and key not in self.shown


def next_to_hide(
    keys: Keys, frame: pd.DataFrame, suppressed: pd.DataFrame, structure: Mapping[str, Any], leaked: Sequence[Key], ledger: Ledger
) -> Cell | None:
    """The cell of a new table to suppress next so that a leaked quantity is protected: a shown cell of this
    table, in an identity with a leaked quantity, not already shown by an earlier table; the smallest non-zero
    one first (as the DfE's secondary suppression chooses)."""
    leaked = set(leaked)
    label = {(i, c): keys.key(frame.at[i, keys.row], c) for i in frame.index for c in keys.columns if c in frame.columns}
    eqs = ledger.equations + [{label[cell]: v for cell, v in eq.items()} for eq in identities(frame, structure, keys)]
    near = {k for eq in eqs if leaked & set(eq) for k in eq}
    candidates = []
    for cell, k in label.items():
        if k in near and not bool(suppressed.at[cell]) and k not in ledger.shown:
            v = pd.to_numeric(pd.Series([frame.at[cell]]), errors="coerce").iloc[0]
            if pd.notna(v):
                candidates.append((v == 0, abs(float(v)), str(cell[1]), str(cell[0]), cell))
    if not candidates:
        return None
    return sorted(candidates)[0][-1]


# --- the scan's side: the published workbook, read back ---------------------------------------------------
def workbook_problems(sheets: Mapping[str, tuple[pd.DataFrame, Mapping[str, Any]]]) -> list[str]:
    """Cross-table problems in a published workbook: the same quantity shown in one sheet and suppressed in
    another, or printed with two values, and any suppressed quantity that the sheets' identities, pooled,
    pin down. ``sheets``: sheet name -> (body with the reader's headers, the table's entry in metrics.json)."""
    from analysis.report.disclosure import SUPPRESSED

    shown: dict[Key, tuple[object, str]] = {}
    hidden: dict[Key, str] = {}
    equations: list[dict[Key, float]] = []
    problems: list[str] = []
    for sheet, (body, meta) in sheets.items():
        decl = meta.get("keys")
        if not decl or decl.get("row") not in body.columns:
            continue
        keys = Keys(decl["what"], decl["row"], {c: p for c, p in decl["columns"].items() if c in body.columns})
        st = dict(meta.get("structure", {}))
        for k in ("row_total", "total_row", "label_column"):
            st[k] = st.get(k)
        for i in body.index:
            for c in keys.columns:
                k, v = keys.key(body.at[i, keys.row], c), body.at[i, c]
                if isinstance(v, str) and v.strip() == SUPPRESSED:
                    hidden.setdefault(k, sheet)
                elif k in shown and _differs(shown[k][0], v):
                    problems.append(f"tables.xlsx[{sheet}]: {_name(k)} is {v} here but {shown[k][0]} in sheet '{shown[k][1]}'")
                else:
                    shown.setdefault(k, (v, sheet))
        equations += [{keys.key(body.at[i, keys.row], c): coef for (i, c), coef in eq.items()} for eq in identities(body, st, keys)]
    for k, sheet in hidden.items():
        if k in shown:
            problems.append(f"tables.xlsx[{sheet}]: {_name(k)} is suppressed here but shown in sheet '{shown[k][1]}' ({shown[k][0]})")
    for k in determined(equations, set(hidden) - set(shown)):
        problems.append(f"tables.xlsx[{hidden[k]}]: {_name(k)} is suppressed but can be worked out from the report's other figures")
    return problems


def _differs(a: object, b: object) -> bool:
    try:
        return abs(float(a) - float(b)) > 1e-9  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(a) != str(b)


def _name(k: Key) -> str:
    return f"'{k[0]}: {k[1]}, {k[2]}'"
