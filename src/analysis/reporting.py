"""What a paper publishes: tables (through the disclosure gate), headline metrics, charts.

A notebook creates one :class:`Report`, passes every table it shows through
:meth:`Report.table` (which applies :func:`analysis.disclosure.apply_disclosure_control` and
displays the result), records headline numbers with :meth:`Report.metric`, and calls
:meth:`Report.finish` at the end. With an ``output_dir`` (the runner gives one) ``finish`` writes
``metrics.json`` and ``tables.xlsx`` there; without one (interactive use) nothing is written.

:func:`scan_outputs` is the last check before a report is published: it looks through the HTML,
workbook and metrics for child identifiers, postcodes, dates of birth and counts of 1 to 4 left
unsuppressed.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .disclosure import MIN_COUNT, SUPPRESSED, apply_disclosure_control

METRICS_FILE = "metrics.json"
WORKBOOK_FILE = "tables.xlsx"
HTML_FILE = "report.html"

SYMBOLS_NOTE = (
    "Symbols: c = suppressed to protect confidentiality (counts of 1 to 4, and any figure that would "
    "reveal one); x = not available; z = not applicable; k = rounds to zero; .. = not published for "
    "this area and year. A symbol is never a zero."
)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return None if np.isnan(value) else float(value)
    if value is pd.NA or value is None:
        return None
    return value


@dataclass
class PublishedTable:
    name: str
    title: str
    frame: pd.DataFrame
    count_columns: tuple[str, ...]
    notes: str = ""


@dataclass
class Report:
    """Collects a paper's published tables and metrics; see the module docstring."""

    paper: str
    title: str
    output_dir: str | Path | None = None
    context: dict[str, Any] = field(default_factory=dict)
    tables: list[PublishedTable] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    sections: dict[str, Any] = field(default_factory=dict)

    def table(
        self,
        name: str,
        df: pd.DataFrame,
        *,
        title: str,
        counts: Sequence[str] = (),
        notes: str = "",
        show: bool = True,
        decimals: int | Mapping[str, int] = 0,
        **disclosure: Any,
    ) -> None:
        """Pass a table through disclosure control, keep it for the workbook, and display it.

        ``counts`` names the columns holding counts of children (they are suppressed); an empty
        list declares that the table holds no counts (rates, percentages, money). Extra keyword
        arguments go to :func:`apply_disclosure_control` (``row_total``, ``total_row``, ``linked`` ...).
        """
        if any(t.name == name for t in self.tables):
            raise ValueError(f"table name '{name}' used twice")
        published = apply_disclosure_control(df, list(counts), **disclosure)
        self.tables.append(PublishedTable(name, title, published, tuple(counts), notes))
        if show:
            display_table(published, title=title, notes=notes, decimals=decimals)

    def metric(self, name: str, value: Any, *, kind: str = "value", **details: Any) -> None:
        """Record a headline figure. ``kind="count"`` marks a count of children (1-4 -> ``c``)."""
        if kind == "count" and isinstance(value, (int, float, np.integer, np.floating)) and 0 < value < MIN_COUNT:
            value = SUPPRESSED
        self.metrics[name] = _jsonable({"value": value, "kind": kind, **details}) if details or kind != "value" else _jsonable(value)

    def section(self, name: str, payload: Mapping[str, Any]) -> None:
        """A named top-level section of metrics.json (e.g. ``planted_truth``); it holds no counts of children."""
        if name in ("paper", "title", "metrics", "tables") or name in self.context:
            raise ValueError(f"section name '{name}' is taken")
        self.sections[name] = _jsonable(dict(payload))

    def finish(self) -> Path | None:
        """Write ``metrics.json`` and ``tables.xlsx`` to ``output_dir`` (if given)."""
        if not self.output_dir:
            return None
        out = Path(self.output_dir)
        out.mkdir(parents=True, exist_ok=True)
        payload = {
            "paper": self.paper,
            "title": self.title,
            **_jsonable(self.context),
            "metrics": self.metrics,
            **self.sections,
            "tables": {t.name: {"title": t.title, "rows": len(t.frame), "count_columns": list(t.count_columns)} for t in self.tables},
        }
        (out / METRICS_FILE).write_text(json.dumps(payload, indent=2, ensure_ascii=False, sort_keys=False) + "\n", encoding="utf-8")
        write_workbook(out / WORKBOOK_FILE, self.title, self.context, self.tables)
        return out


def sentences(notes: Sequence[str]) -> str:
    """Notes written as sentences: ``["a note", "another"]`` -> ``"A note. Another."``."""
    return " ".join(n[0].upper() + n[1:] + ("" if n.endswith(".") else ".") for n in notes if n)


def display_table(df: pd.DataFrame, *, title: str, notes: str = "", decimals: int | Mapping[str, int] = 0) -> None:
    """Show a published table without its index, numbers formatted, symbols as they are."""
    from IPython.display import HTML, display

    def fmt_for(col: str):
        dp = decimals.get(col, 0) if isinstance(decimals, Mapping) else decimals

        plain = str(col).strip().lower() in ("year", "years")

        def f(v: Any) -> str:
            if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool):
                if pd.isna(v):
                    return ".."
                return f"{v:.0f}" if plain else f"{v:,.{dp}f}"
            return html.escape(str(v))
        return f

    body = df.to_html(index=False, escape=False, formatters={c: fmt_for(c) for c in df.columns}, border=0, classes="published")
    caption = f"<p style='font-weight:bold;margin:1em 0 0.3em'>{html.escape(title)}</p>"
    foot = f"<p style='font-size:0.85em;color:#505a5f'>{html.escape(notes)}</p>" if notes else ""
    display(HTML(caption + body + foot))


def _sheet_name(name: str, used: set[str]) -> str:
    base = re.sub(r"[\[\]:*?/\\]", "_", name)[:31]
    candidate, i = base, 2
    while candidate.lower() in used:
        candidate = f"{base[:28]}_{i}"
        i += 1
    used.add(candidate.lower())
    return candidate


def write_workbook(path: Path, title: str, context: Mapping[str, Any], tables: Sequence[PublishedTable]) -> None:
    """One sheet per table plus an 'About' sheet (what, where from, symbols, disclosure)."""
    about = [("Report", title)]
    for key, value in context.items():
        if isinstance(value, (str, int, float)):
            about.append((key.replace("_", " ").capitalize(), value))
        elif isinstance(value, Mapping):
            about.append((key.replace("_", " ").capitalize(), "; ".join(f"{k}: {v}" for k, v in value.items())))
    about += [
        ("Symbols", SYMBOLS_NOTE),
        ("Disclosure control", "Every table passed the project's disclosure gate: counts of children from 1 to 4 are shown as c, with secondary suppression where a total would reveal them."),
        ("Sheets", "; ".join(f"{t.name}: {t.title}" for t in tables)),
    ]
    used: set[str] = {"about"}
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        pd.DataFrame(about, columns=["Item", "Detail"]).to_excel(writer, sheet_name="About", index=False)
        writer.sheets["About"].column_dimensions["A"].width = 22
        writer.sheets["About"].column_dimensions["B"].width = 110
        for t in tables:
            sheet = _sheet_name(t.name, used)
            t.frame.to_excel(writer, sheet_name=sheet, index=False, startrow=2)
            ws = writer.sheets[sheet]
            ws.cell(row=1, column=1, value=t.title)
            if t.notes:
                ws.cell(row=2, column=1, value=t.notes)
            for i, col in enumerate(t.frame.columns, start=1):
                width = max(len(str(col)), *(len(str(v)) for v in t.frame[col].head(200))) if len(t.frame) else len(str(col))
                ws.column_dimensions[ws.cell(row=3, column=i).column_letter].width = min(60, max(9, width + 2))
    # stable bytes for the same content: openpyxl stamps creation/modification times
    _normalise_xlsx_times(path)


def _normalise_xlsx_times(path: Path) -> None:
    import zipfile

    tmp = path.with_suffix(".tmp.xlsx")
    with zipfile.ZipFile(path) as zin, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "docProps/core.xml":
                data = re.sub(rb"<dcterms:(created|modified)([^>]*)>[^<]*</dcterms:\1>", rb"<dcterms:\1\2>2000-01-01T00:00:00Z</dcterms:\1>", data)
            info = zipfile.ZipInfo(item.filename, date_time=(2000, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zout.writestr(info, data)
    tmp.replace(path)


# --- the last check before publishing ----------------------------------------------------------
POSTCODE = re.compile(r"\b(?:GIR ?0AA|[A-PR-UWYZ][A-HK-Y]?[0-9][0-9A-HJKMNPR-Y]? ?[0-9][ABD-HJLNP-UW-Z]{2})\b")
DATE_DMY = re.compile(r"\b(?:0?[1-9]|[12][0-9]|3[01])/(?:0?[1-9]|1[0-2])/(?:19|20)\d{2}\b")
IDENTIFIER_COLUMNS = re.compile(r"^(?:CHILD|child_id|child|UPN|DOB|date_of_birth|HOME_POST|PL_POST|postcode|pseudo_id)$", re.IGNORECASE)


def _visible_text(markup: str) -> str:
    markup = re.sub(r"<(script|style)\b.*?</\1>", " ", markup, flags=re.S | re.I)
    markup = re.sub(r"data:[a-z/+.-]+;base64,[A-Za-z0-9+/=]+", " ", markup)
    markup = re.sub(r"<[^>]+>", " ", markup)
    return html.unescape(markup)


def _scan_text(text: str, where: str) -> list[str]:
    problems = []
    for rx, what in ((POSTCODE, "a postcode"), (DATE_DMY, "a date (possible date of birth)")):
        m = rx.search(text)
        if m:
            problems.append(f"{where}: {what} '{m.group(0)}'")
    return problems


def _small(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) and 0 < v < MIN_COUNT


def scan_outputs(folder: Path) -> list[str]:
    """Problems found in a report folder (empty when it is safe to publish)."""
    problems: list[str] = []
    meta: dict[str, Any] = {}
    metrics_path = folder / METRICS_FILE
    if metrics_path.is_file():
        meta = json.loads(metrics_path.read_text(encoding="utf-8"))
        problems += _scan_text(json.dumps(meta.get("metrics", {}), ensure_ascii=False), METRICS_FILE)
        for name, m in meta.get("metrics", {}).items():
            if isinstance(m, dict) and m.get("kind") == "count" and _small(m.get("value")):
                problems.append(f"{METRICS_FILE}: metric '{name}' is an unsuppressed count of {m['value']}")
    for page in sorted(folder.glob("*.html")):
        problems += _scan_text(_visible_text(page.read_text(encoding="utf-8", errors="replace")), page.name)
    workbook = folder / WORKBOOK_FILE
    if workbook.is_file():
        counts = {name: set(t.get("count_columns", [])) for name, t in meta.get("tables", {}).items()}
        titles = {t.get("title"): name for name, t in meta.get("tables", {}).items()}
        sheets = pd.read_excel(workbook, sheet_name=None, header=None)
        for sheet, raw in sheets.items():
            if sheet == "About":
                continue
            header = [str(c) for c in raw.iloc[2].tolist()] if len(raw) > 2 else []
            body = raw.iloc[3:]
            body.columns = header or body.columns
            for col in header:
                if IDENTIFIER_COLUMNS.match(col):
                    problems.append(f"{WORKBOOK_FILE}[{sheet}]: identifier column '{col}'")
            for value in body.to_numpy().ravel():
                if isinstance(value, str):
                    problems += _scan_text(value, f"{WORKBOOK_FILE}[{sheet}]")
            name = titles.get(str(raw.iloc[0, 0]), sheet)
            for col in counts.get(name, ()):
                if col in body.columns and any(_small(v) for v in body[col]):
                    problems.append(f"{WORKBOOK_FILE}[{sheet}]: column '{col}' has an unsuppressed count of 1 to 4")
    return sorted(set(problems))
