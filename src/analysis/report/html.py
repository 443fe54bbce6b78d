"""A published table as accessible HTML, and its display in a notebook: presentation only.

The disclosure gate (:mod:`analysis.report.disclosure`) shows a gated table with :func:`table_html`; keeping the
HTML here, below both the gate and the report, means the gate never imports the report that imports it.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from analysis.report.labels import cell_text, column_label, decimals_for


def _is_number(v: object) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) and not (isinstance(v, float) and np.isnan(v))


def table_html(df: pd.DataFrame, *, title: str, notes: str = "", decimals: int | Mapping[str, int] | None = None, counts: Sequence[str] = ()) -> str:
    """A published table as accessible HTML: a ``<caption>``, column headers with ``scope``, labels from
    the one label dictionary, counts as whole numbers, money in £, symbols as they are, no NaN."""
    head = "".join(f'<th scope="col">{html.escape(column_label(c))}</th>' for c in df.columns)
    rows = []
    for values in df.itertuples(index=False):
        cells = [html.escape(cell_text(v, str(c), count=c in counts, decimals=decimals_for(decimals, str(c)))) for c, v in zip(df.columns, values)]
        numeric = [_is_number(v) for v in values]
        rows.append("<tr>" + "".join(cells_html(cells, numeric)) + "</tr>")
    foot = f"<p class='table-notes' style='font-size:0.85em;color:#505a5f'>{html.escape(notes)}</p>" if notes else ""
    return (
        f"<table class='published' border='0'><caption style='font-weight:bold;text-align:left;margin:1em 0 0.3em'>{html.escape(title)}</caption>"
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>{foot}"
    )


def cells_html(cells: Sequence[str], numeric: Sequence[bool] = ()) -> list[str]:
    """The first cell of a row heads it (``<th scope="row">``), the rest are data cells; a number's cell is marked
    (``class="n"``) so that a printed page never breaks a number across lines."""
    numeric = list(numeric) + [False] * (len(cells) - len(numeric))
    return [f'<th scope="row">{c}</th>' if i == 0 else f'<td class="n">{c}</td>' if numeric[i] else f"<td>{c}</td>" for i, c in enumerate(cells)]


def display_table(
    df: pd.DataFrame, *, title: str, notes: str = "", decimals: int | Mapping[str, int] | None = None, counts: Sequence[str] = ()
) -> None:
    """Show a published table (see :func:`table_html`)."""
    from IPython.display import HTML, display

    display(HTML(table_html(df, title=title, notes=notes, decimals=decimals, counts=counts)))
