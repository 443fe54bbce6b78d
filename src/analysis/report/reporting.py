"""What a paper publishes: tables, charts, sentences and headline metrics, all through the one
disclosure gate (:func:`analysis.report.disclosure.gate`).

A notebook creates one :class:`Report`, passes every table it shows through :meth:`Report.table`
(which gates it, displays it with reader labels and returns the gated table for the chart and
sentences beside it), shows charts of its own data with :meth:`Report.chart` (stamped when the
data is synthetic), records headline numbers with :meth:`Report.metric`, and calls
:meth:`Report.finish` at the end. With an ``output_dir`` (the runner gives one) ``finish`` writes
``metrics.json`` and ``tables.xlsx`` there; without one (interactive use) nothing is written.

:func:`scan_outputs` is the last check before a report is published: it reads what a reader
reads (HTML text with alt text, PDF text, workbook cells, metrics) for identifiers, postcodes,
dates, counts of 1 to 4 (in cells, metrics and words) and figures that reveal a suppressed count.
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

from analysis.report import metrics as metrics_schema
from analysis.report.disclosure import MIN_COUNT, SUPPRESSED, Gated, GateError, count_text, gate
from analysis.report.html import _is_number, cells_html, display_table, table_html  # noqa: F401 (re-exported: reporting.display_table)
from analysis.report.labels import NOT_AVAILABLE, P_VALUE_COLUMNS, cell_text, column_label, decimals_for, is_money, is_year
from analysis.report.ledger import Key, Keys, Ledger, next_to_hide, workbook_problems

METRICS_FILE = metrics_schema.METRICS_FILE
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
    structure: dict[str, Any] = field(default_factory=dict)
    keys: Keys | None = None
    gated: Gated | None = None
    published: bool = False  # every figure in it is published (DfE, ONS, Ofsted, RO3): never marked synthetic
    decimals: int | Mapping[str, int] | None = None  # as the report shows it: the workbook rounds the same way


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
    ledger: Ledger = field(default_factory=Ledger)
    _display: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)

    def table(
        self,
        name: str,
        df: pd.DataFrame | Gated,
        *,
        title: str,
        counts: Sequence[str] = (),
        notes: str = "",
        show: bool = True,
        decimals: int | Mapping[str, int] | None = None,
        keys: Keys | None = None,
        published: bool = False,
        **disclosure: Any,
    ) -> Gated:
        """Pass a table through the disclosure gate, keep it for the workbook, display it, and return
        the gated table (for the charts and sentences drawn from it).

        ``counts`` names the columns holding counts of children (they are suppressed); an empty
        list declares that the table holds no counts (rates, percentages, money). Extra keyword
        arguments go to :func:`analysis.report.disclosure.gate` (``row_total``, ``total_row``, ``groups``,
        ``not_counts``, ``independent`` ...). A table already gated is published as it is.

        ``keys`` (:class:`analysis.report.ledger.Keys`) says what the count cells count, so that the same
        quantity in two tables is printed the same way and no suppressed cell can be worked out by setting
        this table against the report's earlier ones (further cells of this table are suppressed until none
        can). ``show=False`` registers the table now (its place in the ledger) and :meth:`show` displays it later.
        ``published=True``: every figure in the table is a published one (DfE, ONS, Ofsted, RO3), so its sheet is
        not marked synthetic, whatever data the rest of the report uses, and its source line says "published".
        """
        if any(t.name == name for t in self.tables):
            raise ValueError(f"table name '{name}' used twice")
        gated = self._gate(name, df, list(counts), keys, disclosure)
        self.tables.append(PublishedTable(name, title, gated.frame, gated.counts, notes, gated.structure, keys, gated, published, decimals))
        self._display[name] = dict(title=title, notes=notes, decimals=decimals)
        if show:
            self.show(name)
        gated._shown = True  # a cell that ends in report.table(...) does not show the table a second time
        return gated

    def register(self, name: str, df: pd.DataFrame | Gated, **kw: Any) -> Gated:
        """Register a table now (gated, its place in the ledger), to be shown later with :meth:`show`: a paper's
        ``publish.publish_tables`` registers every table this way, and its notebook shows each where it belongs."""
        return self.table(name, df, show=False, **kw)

    def registered(self) -> dict[str, Gated]:
        """Every table registered so far, gated, by name."""
        return {t.name: t.gated for t in self.tables}  # type: ignore[misc]

    def show(self, name: str) -> Gated:
        """Display a table registered earlier (as :meth:`table` would have); returns its gated table."""
        t = self.published(name)
        display_table(t.frame, counts=t.count_columns, **self._display[name])
        return t.gated  # type: ignore[return-value]

    def published(self, name: str) -> PublishedTable:
        for t in self.tables:
            if t.name == name:
                return t
        raise KeyError(f"no table '{name}' in this report; tables: {', '.join(t.name for t in self.tables)}")

    def _gate(self, name: str, df: pd.DataFrame | Gated, counts: list[str], keys: Keys | None, disclosure: Mapping[str, Any]) -> Gated:
        """The gate, with the report's ledger: cells whose quantity an earlier table hid are hidden here
        too, and further cells are suppressed until nothing hidden can be worked out across tables."""
        if keys is None or isinstance(df, Gated):
            return gate(df, counts, **disclosure)
        keys = Keys(keys.what, keys.row, {c: part for c, part in keys.columns.items() if c in df.columns})  # parts this table has
        missing = [c for c in [keys.row] if c not in df.columns]
        if missing or not set(keys.columns) <= set(counts) | {disclosure.get("row_total")}:
            raise GateError(f"table '{name}': keys name columns {missing or list(keys.columns)} that are not its row label or count columns")
        force = self.ledger.must_hide(keys, df)
        for _ in range(force.size + 1):
            gated = gate(df, counts, force=force, **disclosure)
            leaked = self.ledger.leaks(name, keys, df, gated.suppressed, gated.structure)
            if not leaked:
                self.ledger.record(name, keys, df, gated.suppressed, gated.structure)
                return gated
            cell = next_to_hide(keys, df, gated.suppressed, gated.structure, leaked, self.ledger)
            if cell is None:
                raise GateError(
                    f"table '{name}': {leaked[0]} could be worked out from this and earlier tables, and no cell of this table protects it"
                )
            force.at[cell] = True
        raise GateError(f"table '{name}': the ledger did not settle")  # pragma: no cover (each round hides one more cell)

    def say(self, key: Key, value: object) -> str:
        """A count for a sentence, as the report's tables print it: ``value`` in words, or that it is not
        shown when any table of the report hides this quantity (see :mod:`analysis.report.ledger`)."""
        return count_text(SUPPRESSED if self.ledger.is_hidden(key) else value)

    def chart(self, fig: Any, alt: str, caption: str) -> None:
        """Show a chart drawn from this report's own data (see :func:`analysis.report.charts.show`); on synthetic
        data it is stamped "SYNTHETIC DATA" (a chart of published figures is shown with ``charts.show``)."""
        from analysis.report.charts import show

        show(fig, alt, caption, synthetic=self.synthetic)

    def metric(self, name: str, value: Any, *, kind: str = "value", key: Key | None = None, **details: Any) -> None:
        """Record a headline figure. ``kind="count"`` marks a count of children (1-4 -> ``c``); ``key``
        names the quantity in the report's ledger (a count a table hides is ``c`` here too)."""
        if isinstance(value, Gated):
            value = value.frame.to_dict(orient="records")
        elif isinstance(value, pd.DataFrame):
            raise TypeError(f"metric '{name}': a table must pass the disclosure gate first (disclosure.gate or Report.table)")
        if kind == "count" and isinstance(value, (int, float, np.integer, np.floating)) and 0 < value < MIN_COUNT:
            value = SUPPRESSED
        if key is not None:
            if self.ledger.is_hidden(key):
                value = SUPPRESSED
            details["key"] = list(key)
        self.metrics[name] = _jsonable({"value": value, "kind": kind, **details})  # one shape (analysis.report.metrics)

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
            "schema": metrics_schema.SCHEMA_VERSION,
            "paper": self.paper,
            "title": self.title,
            "synthetic": self.synthetic,
            **_jsonable(self.context),
            "metrics": self.metrics,
            **self.sections,
            "tables": {
                t.name: {
                    "title": t.title,
                    "rows": len(t.frame),
                    "count_columns": list(t.count_columns),
                    "count_headers": [column_label(c) for c in t.count_columns],
                    "derived_headers": [column_label(c) for c in t.structure.get("derived", [])],
                    "structure": {
                        k: (
                            column_label(v)
                            if k in ("row_total", "label_column", "groups") and v
                            else [column_label(c) for c in v]
                            if k == "stock_flow" and v
                            else v
                        )
                        for k, v in t.structure.items()
                        if k not in ("derived", "linked")
                    },
                    "linked_headers": {column_label(k): [column_label(c) for c in v] for k, v in t.structure.get("linked", {}).items()},
                    **({"keys": t.keys.as_json(column_label)} if t.keys else {}),
                }
                for t in self.tables
            },
        }
        (out / METRICS_FILE).write_text(json.dumps(payload, indent=2, ensure_ascii=False, sort_keys=False) + "\n", encoding="utf-8")
        write_workbook(out / WORKBOOK_FILE, self.title, self.context, self.tables, synthetic=self.synthetic)
        return out

    @property
    def synthetic(self) -> bool:
        """Whether the report is built on synthetic (generated) data: then every page and sheet says so."""
        return is_synthetic(self.context)


SYNTHETIC_NOTE = (
    "SYNTHETIC DATA: figures from the LA's child-level returns in this report are generated, not real children, and "
    "must not be quoted as the LA's own. Published DfE, ONS and Ofsted figures are real."
)


PUBLISHED_NOTE = "Source: published figures (DfE, ONS, Ofsted, RO3), real; nothing in this sheet comes from the LA's child-level returns."


def is_synthetic(context: Mapping[str, Any]) -> bool:
    return bool(context.get("synthetic")) or "synthetic" in str(context.get("data", "")).lower()


def sentences(notes: Sequence[str]) -> str:
    """Notes written as sentences: ``["a note", "another"]`` -> ``"A note. Another."``."""
    return " ".join(n[0].upper() + n[1:] + ("" if n.endswith(".") else ".") for n in notes if n)


def _sheet_name(name: str, used: set[str]) -> str:
    base = re.sub(r"[\[\]:*?/\\]", "_", name)[:31]
    candidate, i = base, 2
    while candidate.lower() in used:
        candidate = f"{base[:28]}_{i}"
        i += 1
    used.add(candidate.lower())
    return candidate


def _workbook_value(v: Any, column: str, *, count: bool = False, decimals: int | None = None) -> Any:
    """A cell as the workbook holds it: numbers stay numbers (analysts compute with them), rounded as the report
    shows them (counts and years whole, money to the pound, others to the decimals asked or at most two places,
    p-values to four), symbols stay symbols, booleans become yes/no, and nothing is NaN or None (``x``)."""
    if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
        return NOT_AVAILABLE
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        v = float(v)
        if count or is_year(column):
            places = 0
        elif decimals is not None:
            places = decimals
        elif str(column) in P_VALUE_COLUMNS:
            if 0 <= v < 0.0001:
                return "<0.0001"
            places = 4
        elif is_money(column):
            places = 0
        else:  # as the report shows it (two places); a small figure keeps three significant digits, never rounds to 0
            places = 2 if abs(v) >= 1 or v == 0 else max(2, 2 - int(np.floor(np.log10(abs(v)))))
        v = round(v, places)
        return int(v) if v.is_integer() else v
    return cell_text(v, column) if isinstance(v, str) else v


def write_workbook(path: Path, title: str, context: Mapping[str, Any], tables: Sequence[PublishedTable], *, synthetic: bool = False) -> None:
    """One sheet per table plus an 'About' sheet (what, where from, symbols, disclosure); headers are the
    reader's labels; with synthetic data every sheet says so in its first rows."""
    about = [("Report", title)] + ([("SYNTHETIC DATA", SYNTHETIC_NOTE)] if synthetic else [])
    for key, value in context.items():
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            about.append((column_label(key), value))
        elif isinstance(value, Mapping):
            about.append((column_label(key), "; ".join(f"{k}: {v}" for k, v in value.items())))
    about += [
        ("Symbols", SYMBOLS_NOTE),
        (
            "Disclosure control",
            "Every table passed the project's disclosure gate: counts of children from 1 to 4 are shown as c, with secondary suppression where a total would reveal them, and every rate, percentage or amount of a suppressed group is suppressed with it.",
        ),
        ("Sheets", "; ".join(f"{t.name}: {t.title}" for t in tables)),
    ]
    used: set[str] = {"about"}
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        pd.DataFrame(about, columns=["Item", "Detail"]).to_excel(writer, sheet_name="About", index=False)
        writer.sheets["About"].column_dimensions["A"].width = 22
        writer.sheets["About"].column_dimensions["B"].width = 110
        for t in tables:
            sheet = _sheet_name(t.name, used)
            frame = pd.DataFrame(
                {
                    column_label(c): [
                        _workbook_value(v, str(c), count=c in t.count_columns, decimals=decimals_for(t.decimals, str(c))) for v in t.frame[c]
                    ]
                    for c in t.frame.columns
                },
                columns=[column_label(c) for c in t.frame.columns],
            )
            frame.to_excel(writer, sheet_name=sheet, index=False, startrow=2)
            ws = writer.sheets[sheet]
            marked = synthetic and not t.published  # the mark follows the data: a sheet of published figures is not marked
            ws.cell(row=1, column=1, value=("SYNTHETIC DATA (not real children): " if marked else "") + t.title)
            notes = " ".join(x for x in (SYNTHETIC_NOTE if marked else PUBLISHED_NOTE if t.published else "", t.notes) if x)
            if notes:
                ws.cell(row=2, column=1, value=notes)
            for i, col in enumerate(frame.columns, start=1):
                width = max(len(str(col)), *(len(str(v)) for v in frame[col].head(200))) if len(frame) else len(str(col))
                ws.column_dimensions[ws.cell(row=3, column=i).column_letter].width = min(60, max(9, width + 2))
                if is_money(str(t.frame.columns[i - 1])):
                    for cell in ws.iter_cols(min_col=i, max_col=i, min_row=4, max_row=3 + len(frame)):
                        for c in cell:
                            c.number_format = '"£"#,##0'
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
    """What a reader reads on a page: its text, plus each image's alt text and the page title."""
    markup = re.sub(r"<(script|style)\b.*?</\1>", " ", markup, flags=re.S | re.I)
    alts = " ".join(html.unescape(a) for a in re.findall(r'<img\b[^>]*\balt="([^"]*)"', markup, flags=re.I))
    markup = re.sub(r"data:[a-z/+.-]+;base64,[A-Za-z0-9+/=]+", " ", markup)
    markup = re.sub(r"<[^>]+>", " ", markup)
    return html.unescape(markup) + " " + alts


#: a count of 1 to 4 of people written in words ("3 children", "(2 are in such homes", "1 in the LA's own");
#: not a range ("1 to 4 are ..."), a ratio ("1 in 5") or part of a larger number or date
SMALL_COUNT_IN_WORDS = re.compile(
    r"(?<![\d.,/£%-])(?<!to )(?<!and )(?<!of )\b([1-4])\s+(?:(?:more |fewer |other |more than |extra )?(?:children|child|young (?:people|person)|care leavers?|boys|girls|"
    r"placements?|unaccompanied|unplanned|endings?|events?|entries|exits|moves|cases|referrals|are\b|were\b|is\b|"
    r"in (?:the|such|its|their|LA)\b|of (?:them|these|whom)\b))(?!\s*(?:in|per|out of)\s+\d)",
    re.IGNORECASE,
)


def _scan_text(text: str, where: str) -> list[str]:
    problems = []
    for rx, what in ((POSTCODE, "a postcode"), (DATE_DMY, "a date (possible date of birth)")):
        m = rx.search(text)
        if m:
            problems.append(f"{where}: {what} '{m.group(0)}'")
    for m in SMALL_COUNT_IN_WORDS.finditer(text):
        context = " ".join(text[max(0, m.start() - 40) : m.end() + 30].split())
        problems.append(f"{where}: a count of 1 to 4 in words: '...{context}...'")
    return problems


def _small(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) and 0 < v < MIN_COUNT


COUNT_KEYS = re.compile(
    r"^(?:children|count|n|placements|events|entries|exits|mean|lower_95|upper_95|lower|upper|children_now|"
    r"in_own_provision_now|value)$"
)


COUNTISH_METRIC = re.compile(r"(?:^|_)(?:forecast|children|count|placements|gap|entries|exits)(?:_|$)", re.IGNORECASE)


def _scan_metric(name: str, value: Any, where: str) -> list[str]:
    """Counts of 1 to 4 inside a metric: a metric of kind count, or a count field of a forecast or table."""
    problems = []
    if isinstance(value, Mapping):
        if value.get("kind") == "count" and _small(value.get("value")):
            problems.append(f"{where}: metric '{name}' is an unsuppressed count of {value['value']}")
        countish = bool(COUNTISH_METRIC.search(name.split(".")[0]))
        for k, v in value.items():
            if isinstance(v, (Mapping, list)):
                problems += _scan_metric(f"{name}.{k}", v, where)
            elif countish and k != "value" and COUNT_KEYS.match(str(k)) and _small(v) and float(v).is_integer():
                problems.append(f"{where}: metric '{name}.{k}' is a count of {v}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            problems += _scan_metric(f"{name}[{i}]", v, where)
    return problems


def _pdf_text(path: Path) -> str:
    from pypdf import PdfReader

    return "\n".join(page.extract_text() or "" for page in PdfReader(str(path)).pages)


def _is_c(v: Any) -> bool:
    return isinstance(v, str) and v.strip() == SUPPRESSED


def _sheet_leaks(sheet: str, body: pd.DataFrame, meta: Mapping[str, Any]) -> list[str]:
    """Figures in a workbook sheet that reveal a suppressed count: small counts, a rate or amount beside a
    suppressed count, and a single suppressed cell in a block whose total is shown."""
    where = f"{WORKBOOK_FILE}[{sheet}]"
    counts = [c for c in meta.get("count_headers", []) if c in body.columns]
    derived = [c for c in meta.get("derived_headers", []) if c in body.columns and c not in counts]
    st = meta.get("structure", {})
    problems = []
    for col in counts:
        for i, v in body[col].items():
            if _small(v):
                problems.append(f"{where}: column '{col}', row {i + 4}: a count of {v} is shown")
    links = {k: [c for c in v if c in body.columns] for k, v in meta.get("linked_headers", {}).items()}
    follows_row = [c for c in derived if not any(c in v for v in links.values())]
    for i, row in body.iterrows():
        for c in counts:
            if _is_c(row[c]):
                shown = [d for d in links.get(c, []) + follows_row if _is_number(row[d])]
                if shown:
                    problems.append(f"{where}: row {i + 4}: '{', '.join(dict.fromkeys(shown))}' shown beside the suppressed '{c}'")
    label, total_row, groups, row_total = st.get("label_column"), st.get("total_row"), st.get("groups"), st.get("row_total")
    blocks: list[pd.Index] = []
    totals = pd.Series(True, index=counts)  # whether each column's total is shown (a groups block's total is published elsewhere)
    if total_row is not None and label in body.columns:
        blocks.append(body.index[body[label].astype(str) != str(total_row)])
        total_line = body[body[label].astype(str) == str(total_row)]
        totals = pd.Series({c: bool(len(total_line)) and _is_number(total_line[c].iloc[0]) for c in counts}, dtype=bool)
    if groups in body.columns:
        blocks += [body.index[body[groups] == g] for g in pd.unique(body[groups])]
    for block in blocks:
        if len(block) < 2:  # a block of one row is its own total: nothing to subtract
            continue
        for col in counts:
            if sum(_is_c(v) for v in body.loc[block, col]) == 1 and (groups in body.columns or totals.get(col, True)):
                problems.append(
                    f"{where}: column '{col}': one suppressed cell in a block with a published total (it can be worked out by subtraction)"
                )
    tied = st.get("stock_flow") or []
    if len(tied) == 3 and all(c in body.columns for c in tied):
        stock, inflow, outflow = tied
        for t in range(1, len(body)):
            cells = [body.at[t, stock], body.at[t - 1, stock], body.at[t, inflow], body.at[t, outflow]]
            if sum(_is_c(v) for v in cells) == 1:
                problems.append(f"{where}: row {t + 4}: one suppressed cell in stock = last stock + in - out (it can be worked out)")
    if row_total in body.columns:
        for i, row in body.iterrows():
            parts = [c for c in counts if c != row_total]
            if sum(_is_c(row[c]) for c in parts) == 1 and _is_number(row[row_total]):
                problems.append(f"{where}: row {i + 4}: one suppressed cell and its row total '{row_total}' shown")
    return problems


def sheet_table(raw: pd.DataFrame) -> tuple[list[str], pd.DataFrame]:
    """A workbook sheet (read with ``header=None``) as its header labels and its body (rows from the
    4th): title and notes sit in rows 1-2. A header read back as a number (``2016.0``) is ``"2016"``."""
    if len(raw) < 3:
        return [], pd.DataFrame()
    header = [str(int(c)) if isinstance(c, float) and c.is_integer() else str(c) for c in raw.iloc[2].tolist()]
    body = raw.iloc[3:].reset_index(drop=True)
    body.columns = header
    return header, body


def scan_outputs(folder: Path) -> list[str]:
    """Problems found in a report folder (empty when it is safe to publish): identifiers, postcodes and
    dates anywhere; counts of 1 to 4 in metrics (forecasts included), in the words of the HTML report
    (alt text and captions too), the PDF and the workbook; and workbook figures that reveal a suppressed
    count (a rate beside it, or a total minus the other cells)."""
    problems: list[str] = []
    meta: dict[str, Any] = {}
    metrics_path = folder / METRICS_FILE
    if metrics_path.is_file():
        meta = json.loads(metrics_path.read_text(encoding="utf-8"))
        problems += _scan_text(json.dumps(meta.get("metrics", {}), ensure_ascii=False), METRICS_FILE)
        for name, m in meta.get("metrics", {}).items():
            problems += _scan_metric(name, m, METRICS_FILE)
    for page in sorted(folder.glob("*.html")):
        problems += _scan_text(_visible_text(page.read_text(encoding="utf-8", errors="replace")), page.name)
    for pdf in sorted(folder.glob("*.pdf")):
        problems += _scan_text(_pdf_text(pdf), pdf.name)
    workbook = folder / WORKBOOK_FILE
    if workbook.is_file():
        tables = meta.get("tables", {})
        sheets = pd.read_excel(workbook, sheet_name=None, header=None)
        used: set[str] = {"about"}  # each table's sheet, named as write_workbook names it
        by_sheet = {_sheet_name(name, used): t for name, t in tables.items()}
        keyed: dict[str, tuple[pd.DataFrame, Mapping[str, Any]]] = {}
        for sheet, raw in sheets.items():
            if sheet == "About":
                problems += [p for v in raw.to_numpy().ravel() if isinstance(v, str) for p in _scan_text(v, f"{WORKBOOK_FILE}[About]")]
                continue
            header, body = sheet_table(raw)
            for col in header:
                if IDENTIFIER_COLUMNS.match(col):
                    problems.append(f"{WORKBOOK_FILE}[{sheet}]: identifier column '{col}'")
            for value in raw.iloc[:2].to_numpy().ravel().tolist() + body.to_numpy().ravel().tolist():
                if isinstance(value, str):
                    problems += _scan_text(value, f"{WORKBOOK_FILE}[{sheet}]")
            problems += _sheet_leaks(sheet, body, by_sheet.get(sheet, {}))
            if by_sheet.get(sheet, {}).get("keys"):
                keyed[sheet] = (body, by_sheet[sheet])
        problems += workbook_problems(keyed)  # one table set against another
        problems += _metric_keys(meta.get("metrics", {}), keyed)
    return sorted(set(problems))


def _metric_keys(metrics: Mapping[str, Any], keyed: Mapping[str, tuple[pd.DataFrame, Mapping[str, Any]]]) -> list[str]:
    """A metric that names a quantity (``key``) must print it as the workbook does: not shown where a sheet hides it."""
    hidden: dict[tuple[str, ...], str] = {}
    for sheet, (body, meta) in keyed.items():
        decl = meta["keys"]
        if decl.get("row") not in body.columns:
            continue
        for c, part in decl["columns"].items():
            if c in body.columns:
                for r, v in zip(body[decl["row"]], body[c]):
                    if _is_c(v):
                        hidden[(decl["what"], str(r), str(part))] = sheet
    out = []
    for name, m in metrics.items():
        if isinstance(m, Mapping) and m.get("key") and tuple(m["key"]) in hidden and not _is_c(m.get("value")):
            out.append(f"{METRICS_FILE}: metric '{name}' shows {m.get('value')}, which sheet '{hidden[tuple(m['key'])]}' suppresses")
    return out
