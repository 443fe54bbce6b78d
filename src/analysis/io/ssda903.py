"""SSDA903 returns: recognise the tables, read them as LAs export them, check them, stitch years.

An LA drops its 903 files into ``data/raw/ssda903/`` (one folder per collection year, or year in
the file name, or neither: the year is then worked out from the episode dates). This module:

1. **reads** every CSV or ``.xlsx`` sheet: UTF-8 (with or without a byte-order mark) or
   Windows-1252 text, comma- or semicolon-delimited, headers in any case with stray spaces, blank
   lines skipped, extra columns dropped (and reported);
2. **recognises** each table by its columns (not its file name);
3. **validates** rows against the rules in :mod:`analysis.io.ssda903_rules` (code lists by collection
   year, dates, episode order and overlaps, duplicates, placement type against provider, reason for
   placement change); failing rows are set aside with file, row, column and reason, and counts
   reconcile per table and file: rows in = rows kept + rows set aside;
4. **stitches** several years into one longitudinal history: for the same child and episode start
   (``DECOM``) the latest return wins, because each year's return restates and corrects the
   episodes still open at its start.

Everything here works on text: codes are upper-case strings, dates are parsed from DD/MM/YYYY.
"""

from __future__ import annotations

import csv
import io
import re
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.errors import InputError
from analysis.io.dates import parse_dates
from analysis.io.ssda903_dfe import check as dfe_check
from analysis.io.ssda903_rules import collection_year_of, collection_years, dfe_code, latest_possible_year, year_end
from analysis.io.ssda903_schema import (
    DATE_COLUMNS,
    DERIVED_EPISODE_COLUMNS,
    REQUIRED_TABLES,
    SET_ASIDE_COLUMNS,
    TABLES,
    identify,
    nearest_table,
    normalise_header,
)
from analysis.io.ssda903_xml import read_xml

_YEAR_RANGE = re.compile(r"(?<!\d)(20\d\d)\s*[-_/ ]\s*(\d\d)(?!\d)")
_YEAR = re.compile(r"(?<!\d)(20\d\d)(?!\d)")


def collection_year_from_path(path: Path) -> int | None:
    """``2024-25``, ``2024_25``, ``lac2024_25`` -> 2025; a lone ``2025`` -> 2025 (the year ending 31 March)."""
    for part in reversed(path.parts):
        m = _YEAR_RANGE.search(part)
        if m:
            start, end = int(m.group(1)), int(m.group(2))
            if (start + 1) % 100 == end:
                return start + 1
        m = _YEAR.search(part)
        if m:
            return int(m.group(1))
    return None


@dataclass
class RawTable:
    """One table as read from one file (or sheet): text cells, DfE column names, source rows."""

    table: str
    file: str
    frame: pd.DataFrame  # columns: the table's columns (+ derived) as strings, plus _file and _row
    collection_year: int | None
    notes: list[str] = field(default_factory=list)


def _decode(data: bytes, path: Path) -> tuple[str, str]:
    # UTF-16 (as some Excel "Unicode text" exports write): by its byte-order mark, or by the NUL bytes of ASCII text,
    # which are every other byte; a stray NUL or two in UTF-8 text is not UTF-16 (read_csv_text removes them, with a note)
    head = data[:400]
    if data[:2] in (b"\xff\xfe", b"\xfe\xff") or head.count(0) > 0.3 * len(head):
        utf16 = "utf-16" if data[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-16-le" if data[1:2] == b"\x00" else "utf-16-be"
        try:
            return data.decode(utf16), "UTF-16"
        except UnicodeDecodeError:
            raise InputError("looks like UTF-16 text but cannot be decoded as such (save it as UTF-8 CSV)", path) from None
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise InputError("cannot read the file as UTF-8 or Windows-1252 text", path)  # pragma: no cover - cp1252 maps almost every byte


def _same_delimiter(text: str, notes: list[str]) -> str:
    """A header separated by one delimiter over rows separated by another (commas over semicolons, say):
    the header is rewritten with the rows' delimiter, and a note says so. Otherwise the text as it is."""
    lines = text.split("\n", 21)
    head = lines[0]
    hd = _delimiter(head)
    sample = [line for line in lines[1:21] if line.strip()]
    if not sample or any(hd in line for line in sample):
        return text
    fields = head.count(hd) + 1
    for d in (",", ";", "\t", "|"):
        if d != hd and all(line.count(d) >= fields - 1 for line in sample):
            name = {",": "comma", ";": "semicolon", "\t": "tab", "|": "bar"}
            notes.append(f"the header is {name[hd]}-separated but the rows are {name[d]}-separated: each read with its own")
            return head.replace(hd, d) + text[len(head) :]
    return text


def _delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=counts.get)
    return best if counts[best] > 0 else ","


def read_csv_text(path: Path) -> tuple[pd.DataFrame, list[str]]:
    """A CSV as strings with a ``_row`` column (its line number in the file), and notes."""
    data = path.read_bytes()
    if not data.strip():
        raise InputError("the file is empty", path)
    text, encoding = _decode(data, path)
    notes = [] if encoding == "utf-8-sig" else [f"read as {encoding} text (not UTF-8)"]
    if "\x00" in text:  # a stray NUL byte (a damaged export): removed, and its line named
        lines = [i for i, line in enumerate(text.splitlines(), start=1) if "\x00" in line]
        notes.append(f"stray NUL byte(s) removed on line(s) {', '.join(map(str, lines[:10]))}{' ...' if len(lines) > 10 else ''}")
        text = text.replace("\x00", "")
    text = _same_delimiter(text, notes)
    fast = _read_csv_fast(text)
    if fast is not None:
        df, delim = fast
        if delim != ",":
            notes.append(f"read as {'semicolon' if delim == ';' else repr(delim)}-delimited")
        return df, notes
    lines = text.splitlines()
    first = next((i for i, line in enumerate(lines) if line.strip().strip(",;")), None)
    if first is None:
        raise InputError("the file has no header row", path)
    delim = _delimiter(lines[first])
    if delim != ",":
        notes.append(f"read as {'semicolon' if delim == ';' else repr(delim)}-delimited")
    body = "\n".join(lines[first:])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            df = pd.read_csv(io.StringIO(body), sep=delim, dtype=str, keep_default_na=False, skip_blank_lines=False, index_col=False, engine="c")
    except (pd.errors.ParserError, pd.errors.ParserWarning):
        df = None
    if df is None or len(df) != len(lines) - first - 1:
        if sum(line.count('"') for line in lines[first:]) % 2:
            # a double quote that is never closed joins the lines after it into one value: rows would vanish.
            # Rows in are the file's physical lines, so read it line by line without quoting, and say where
            notes.append(
                f"line {_unclosed_quote_line(lines, first)}: a double quote that is never closed; the file was read line "
                "by line without quoting, so no row is lost (the quote stays in its value, where the checks see it)"
            )
            return _read_csv_rows(lines, first, delim, path, quoting=csv.QUOTE_NONE), notes
        if df is None:
            # rows with more fields than the header: the careful reader tolerates empty extras, names the rest
            return _read_csv_rows(lines, first, delim, path), notes
    df.columns = [normalise_header(h) for h in df.columns]
    df = df.loc[:, [c for c in df.columns if not c.startswith("UNNAMED:")]]
    df["_row"] = range(first + 2, first + 2 + len(df))
    cells = df.drop(columns="_row")
    for c in cells.columns:
        df[c] = cells[c].str.strip()
    blank = (df.drop(columns="_row") == "").all(axis=1)
    df = df[~blank].reset_index(drop=True)
    return df, notes


#: line breaks Python counts but a CSV parser does not: files with any take the careful reader
_ODD_BREAKS = ("\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029")


def _plain(text: str) -> bool:
    """No empty line before later rows (a parser would skip it and the line numbers would slip), no
    lone carriage-return line breaks, no odd line breaks."""
    body = text.rstrip()
    odd = _ODD_BREAKS[:5] if text.isascii() else _ODD_BREAKS
    return (
        "\n\n" not in body
        and "\n\r\n" not in body
        and ("\r" not in text or text.count("\r") == text.count("\r\n"))
        and not any(ch in text for ch in odd)
    )


def _read_csv_fast(text: str) -> tuple[pd.DataFrame, str] | None:
    """The common case, read with Arrow's multi-threaded parser: no blank lines between rows, a
    header with distinct names, every row as wide as the header, no line breaks inside values.

    Returns the same frame as the careful reader (cells stripped, wholly blank rows dropped, ``_row``
    the line number), or None when the file is not that plain and the careful reader must do it.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pv

    head = text.split("\n", 1)[0]
    if not head.strip().strip(",;") or not _plain(text):
        return None
    delim = _delimiter(head)
    raw_names = next(csv.reader([head.rstrip("\r")], delimiter=delim))
    names = [normalise_header(h) for h in raw_names]
    if len(set(raw_names)) < len(raw_names) or len(set(n for n in names if n)) < len([n for n in names if n]):
        return None
    try:
        table = pv.read_csv(
            io.BytesIO(text.encode("utf-8")),
            read_options=pv.ReadOptions(column_names=raw_names, skip_rows=1),
            parse_options=pv.ParseOptions(delimiter=delim),
            convert_options=pv.ConvertOptions(
                column_types={h: pa.string() for h in raw_names}, strings_can_be_null=False, quoted_strings_can_be_null=False
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return None  # ragged rows, stray quotes: the careful reader names the line
    # a plain file has no blank line before its last row, so its data lines are its line breaks after the header
    if table.num_rows != text.rstrip("\r\n").count("\n"):
        return None  # a quote joined physical lines into one row: the careful reader counts lines, not parsed rows
    columns = {n: pc.utf8_trim_whitespace(table.column(h)) for h, n in zip(raw_names, names) if n}
    rows = pa.array(np.arange(2, 2 + table.num_rows, dtype=np.int64))
    blank = None
    for col in columns.values():
        empty = pc.equal(col, "")
        blank = empty if blank is None else pc.and_(blank, empty)
    stripped = pa.table({**columns, "_row": rows})
    if blank is not None and pc.any(blank).as_py():
        stripped = stripped.filter(pc.invert(blank))
    stripped = stripped.combine_chunks()  # one chunk per column: pandas works faster on contiguous arrays
    df = stripped.to_pandas()
    return df, delim


def _unclosed_quote_line(lines: list[str], first: int) -> int:
    """The line number (1-based) of the first line after the header with an odd number of double quotes."""
    return next((i + 1 for i in range(first + 1, len(lines)) if lines[i].count('"') % 2), first + 2)


def _read_csv_rows(lines: list[str], first: int, delim: str, path: Path, *, quoting: int = csv.QUOTE_MINIMAL) -> pd.DataFrame:
    """Row-by-row reading for files pandas refuses: empty trailing values are dropped; a row with
    real values beyond the header is an error naming its line. With ``csv.QUOTE_NONE`` each physical
    line is one row, and a value wholly in quotes loses them."""
    if quoting == csv.QUOTE_NONE:
        rows_raw = (line.split(delim) for line in lines[first:])
        reader = ([v[1:-1] if len(v) >= 2 and v[0] == v[-1] == '"' else v for v in r] for r in rows_raw)
    else:
        reader = csv.reader(io.StringIO("\n".join(lines[first:])), delimiter=delim)
    header = [normalise_header(h) for h in next(reader)]
    rows, numbers = [], []
    for number, values in enumerate(reader, start=first + 2):
        if not any(v.strip() for v in values):
            continue
        if len(values) > len(header):
            if any(v.strip() for v in values[len(header) :]):
                raise InputError(f"has more values than the {len(header)} columns in its header", path, row=number)
            values = values[: len(header)]
        rows.append(values + [""] * (len(header) - len(values)))
        numbers.append(number)
    df = pd.DataFrame(rows, columns=header, dtype=object)
    for c in header:
        df[c] = df[c].astype(str).str.strip()
    df["_row"] = numbers
    return df


def read_excel_sheets(path: Path) -> list[tuple[str, pd.DataFrame]]:
    """Each non-empty sheet as strings with ``_row`` (the spreadsheet row number)."""
    try:
        sheets = pd.read_excel(path, sheet_name=None, dtype=str, header=None)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise InputError(f"cannot read the spreadsheet ({exc.__class__.__name__}: {exc})", path) from exc
    out = []
    for name, raw in sheets.items():
        raw = raw.dropna(how="all")
        if raw.empty:
            continue
        header = [normalise_header(h) for h in raw.iloc[0].fillna("")]
        body = raw.iloc[1:].copy()
        body.columns = header
        body = body.loc[:, [c for c in body.columns if c]]
        body = body.fillna("").astype(str).apply(lambda s: s.str.strip())
        body = _excel_dates_to_text(body)
        body["_row"] = [int(i) + 1 for i in body.index]
        out.append((str(name), body))
    return out


def _excel_dates_to_text(df: pd.DataFrame) -> pd.DataFrame:
    """Excel date cells arrive as ``2024-03-31 00:00:00``; write them as DD/MM/YYYY like a CSV export."""
    iso = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?: 00:00:00)?$")
    for c in df.columns:
        if df[c].str.match(iso).any():
            df[c] = df[c].str.replace(iso, lambda m: f"{m.group(3)}/{m.group(2)}/{m.group(1)}", regex=True)
    return df


def read_table_file(path: Path, root: Path | None = None) -> tuple[list[RawTable], list[str]]:
    """The 903 tables in one file (a CSV, or each sheet of a workbook), and notes on anything skipped."""
    shown = str(path.relative_to(root)) if root and path.is_relative_to(root) else str(path)
    year = collection_year_from_path(path.relative_to(root) if root and path.is_relative_to(root) else Path(path.name))
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        parts = [(f"{shown}[{sheet}]", df, []) for sheet, df in read_excel_sheets(path)]
    elif path.suffix.lower() == ".xml":  # the DfE's XML submission: every table of the return in one file
        try:
            parts = [(f"{shown}[{table}]", df, ["XML: rows are numbered by record"]) for table, df in read_xml(path).items()]
        except InputError as e:
            return [], [f"{shown}: {e.message if hasattr(e, 'message') else e}"]
    else:
        if not path.read_bytes().strip():  # zero bytes or a newline (as peer tools write a table with no rows): a note, not a stop
            return [], [f"{shown}: an empty table (no header, no rows); nothing to read"]
        df, notes = read_csv_text(path)
        parts = [(shown, df, notes)]
    tables, skipped = [], []
    for name, df, notes in parts:
        columns = [c for c in df.columns if c != "_row"]
        table = identify(columns)
        if table is None:
            near = nearest_table(columns)
            if near:
                got, lacking = near
                skipped.append(
                    f"{name}: looks like the {got} table but has no {', '.join(lacking)} column"
                    f"{'s' if len(lacking) > 1 else ''} (found: {', '.join(columns[:8])}{'...' if len(columns) > 8 else ''})"
                )
            else:
                skipped.append(f"{name}: not a 903 table (columns {', '.join(columns[:8])}{'...' if len(columns) > 8 else ''})")
            continue
        wanted = list(TABLES[table][1]) + (list(DERIVED_EPISODE_COLUMNS) if table == "episodes" else [])
        extra = [c for c in columns if c not in wanted]
        missing = [c for c in TABLES[table][1] if c not in columns]
        if extra:
            notes = notes + [f"extra column(s) ignored: {', '.join(extra)}"]
        if missing:
            notes = notes + [f"column(s) missing, read as blank: {', '.join(missing)}"]
        for c in missing:
            df[c] = ""
        keep = [c for c in wanted if c in df.columns]
        frame = df[keep + ["_row"]].copy()
        frame.insert(0, "_file", name)
        tables.append(RawTable(table, name, frame, year, notes))
    return tables, skipped


def find_files(folder: Path) -> list[Path]:
    """CSV, Excel and XML files under a folder, in a stable order (README files and hidden files skipped)."""
    if folder.is_file():
        return [folder]
    if not folder.is_dir():
        raise InputError("no such file or folder", folder)
    files = [
        f
        for f in folder.rglob("*")
        if f.is_file()
        and f.suffix.lower() in (".csv", ".xlsx", ".xlsm", ".xml")
        and not any(part.startswith(".") for part in f.relative_to(folder).parts)
    ]
    return sorted(files)


def find_archives(folder: Path) -> list[Path]:
    """Zip archives under a folder (or the file itself), in a stable order."""
    if folder.is_file():
        return [folder] if folder.suffix.lower() == ".zip" else []
    return sorted(f for f in folder.rglob("*.zip") if f.is_file() and not any(p.startswith(".") for p in f.relative_to(folder).parts))


def read_archive(archive: Path, root: Path) -> tuple[list[RawTable], list[str]]:
    """The 903 tables in a zip archive, read as if unzipped beside it (``2024.zip/2024-25/episodes.csv``):
    the archive's name and each member's path count towards the collection year."""
    import tempfile
    import zipfile

    shown = archive.relative_to(root) if archive.is_relative_to(root) else Path(archive.name)
    tables, skipped = [], []
    try:
        with zipfile.ZipFile(archive) as z, tempfile.TemporaryDirectory(prefix="cla-903-zip-") as tmp:
            members = [
                m
                for m in z.infolist()
                if not m.is_dir()
                and Path(m.filename).suffix.lower() in (".csv", ".xlsx", ".xlsm")
                and not any(part.startswith((".", "__MACOSX")) for part in Path(m.filename).parts)
            ]
            if not members:
                return [], [f"{shown}: a zip archive with no CSV or Excel files in it"]
            base = Path(tmp) / shown
            for m in members:
                target = base / m.filename
                if not target.resolve().is_relative_to(Path(tmp).resolve()):
                    skipped.append(f"{shown}: member {m.filename!r} points outside the archive; not read")
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(z.read(m))
                t, s = read_table_file(target, Path(tmp))
                tables += t
                skipped += s
    except zipfile.BadZipFile:
        return [], [f"{shown}: not a readable zip archive"]
    return tables, skipped


#: files that can hold returns but are not read (yet): listed as not read, never ignored in silence
UNREAD_SUFFIXES = {
    ".xls": "an old-style Excel file: save it as .xlsx or CSV",
    ".ods": "an OpenDocument sheet: save it as .xlsx or CSV",
    ".txt": "a text file: if it is a return, save it as .csv",
}


def unread_files(folder: Path) -> list[str]:
    """Files under the folder that may hold returns but are not read, each with the reason."""
    if not folder.is_dir():
        return []
    out = []
    for f in sorted(folder.rglob("*")):
        if f.is_file() and f.suffix.lower() in UNREAD_SUFFIXES and not any(p.startswith(".") for p in f.relative_to(folder).parts):
            out.append(f"{f.relative_to(folder)}: {UNREAD_SUFFIXES[f.suffix.lower()]}")
    return out


# --- validation --------------------------------------------------------------------------------
@dataclass
class Validated:
    """Checked tables (all years stacked, ``collection_year`` added), rows set aside, warnings."""

    tables: dict[str, pd.DataFrame]
    set_aside: pd.DataFrame
    warnings: pd.DataFrame
    files: list[dict]
    skipped: list[str]

    def reconciliation(self) -> pd.DataFrame:
        """Rows in, kept and set aside per table and file (kept + set aside = rows in)."""
        return pd.DataFrame(self.files, columns=["table", "collection_year", "file", "rows_in", "kept", "set_aside", "notes"])


class _Checks:
    """Collects failing rows of one frame: (mask, column, reason) in the order checked."""

    def __init__(self, df: pd.DataFrame):
        self.df = df
        self.reasons: dict[int, list[tuple[str, str]]] = {}
        self.flags: list[tuple[int, str, str, str]] = []  # rows kept with a flag: (index, column, reason, value as found)

    def flag(self, mask: pd.Series, column: str, reason: str) -> None:
        """Keep the rows, with a flag (a warning): what breaks a rule but leaves the row usable."""
        mask = mask.fillna(False).astype(bool)
        rows = mask.index[mask.to_numpy()]
        values = self.df.loc[rows, column].astype(str) if column in self.df.columns else pd.Series("", index=rows)
        self.flags += [(i, column, reason, _shorten(v)) for i, v in zip(rows, values)]

    def flagged(self, table: str, year: int) -> pd.DataFrame:
        rows = [
            {
                "table": table,
                "collection_year": year,
                "file": self.df.at[i, "_file"],
                "row": int(self.df.at[i, "_row"]),
                "column": col,
                "value": value,
                "reason": text,
            }
            for i, col, text, value in self.flags
            if i not in self.reasons
        ]
        return pd.DataFrame(rows, columns=SET_ASIDE_COLUMNS)

    def add(self, mask: pd.Series, column: str, reason: str | pd.Series) -> None:
        """``reason``: one text, a text per row, or a template filled from each failing row's
        cells (``"RNE '{RNE}' is not a valid code"``), so messages are built only for rows that fail."""
        mask = mask.fillna(False).astype(bool)
        failing = mask.index[mask.to_numpy()]
        if failing.empty:
            return
        if isinstance(reason, str) and "{" in reason:
            fields = [f for f in self.df.columns if "{" + f + "}" in reason]
            cells = self.df.loc[failing, fields].astype(str)
            texts = [reason.format(**{f: _shorten(v) for f, v in zip(fields, values)}) for values in cells.itertuples(index=False, name=None)]
        elif isinstance(reason, str):
            texts = [reason] * len(failing)
        else:
            texts = [str(t) for t in reason.reindex(failing)]
        for idx, text in zip(failing, texts):
            self.reasons.setdefault(idx, []).append((column, text))

    def split(self, table: str, year: int) -> tuple[pd.DataFrame, pd.DataFrame]:
        bad = sorted(self.reasons)
        if not bad:
            return self.df, pd.DataFrame(columns=SET_ASIDE_COLUMNS)
        aside = pd.DataFrame(
            [
                {
                    "table": table,
                    "collection_year": year,
                    "file": self.df.at[i, "_file"],
                    "row": int(self.df.at[i, "_row"]),
                    "column": self.reasons[i][0][0],
                    "value": str(self.df.at[i, self.reasons[i][0][0]]) if self.reasons[i][0][0] in self.df.columns else "",
                    "reason": "; ".join(r for _, r in self.reasons[i]),
                }
                for i in bad
            ],
            columns=SET_ASIDE_COLUMNS,
        )
        return self.df.drop(index=bad), aside


#: a value quoted in a message is cut to this many characters (a 100,000-character field is not echoed whole)
MAX_QUOTED = 40


def _shorten(value: str, limit: int = MAX_QUOTED) -> str:
    return value if len(value) <= limit else f"{value[:limit]}... ({len(value):,} characters)"


def _blank(s: pd.Series) -> pd.Series:
    return s.fillna("").astype(str).str.strip() == ""


#: dates after the year end that leave the row usable: flagged and kept (a review recorded late is still a review)
LATE_DATES_FLAGGED = frozenset({"REVIEW"})
#: dates that may lie after the year end: the date UASC status ceases is the 18th birthday, recorded
#: ahead (DfE rule 205B expects it so); DfE rule 304 (not after the 18th birthday) is checked instead
LATE_DATES_ALLOWED = frozenset({"DUC"})


def _check_dates(c: _Checks, df: pd.DataFrame, columns: Iterable[str], year: int, *, required: Iterable[str] = ()) -> dict[str, pd.Series]:

    parsed = {}
    for col in columns:
        if col not in df.columns:
            continue
        d = parse_dates(df[col])
        blank = _blank(df[col])
        if col in required:
            c.add(blank, col, f"{col} is blank")
        c.add(~blank & d.isna(), col, f"{col} is not a date in DD/MM/YYYY form")
        late = d > year_end(year)
        if col in LATE_DATES_ALLOWED:
            pass
        elif col in LATE_DATES_FLAGGED:
            c.flag(late, col, f"{col} is after the end of the collection year (31/03/{year}): kept")
        else:
            c.add(late, col, f"{col} is after the end of the collection year (31/03/{year})")
        c.add(d < pd.Timestamp(1980, 1, 1), col, f"{col} is before 1980")
        parsed[col] = d
    return parsed


def _check_header(df: pd.DataFrame, year: int) -> _Checks:
    from analysis.io import ssda903_rules as r

    c = _Checks(df)
    c.add(_blank(df["CHILD"]), "CHILD", "CHILD is blank")
    sex = df["SEX"].str.upper()
    c.add(r.code_check(sex, r.sex_codes(year)), "SEX", f"SEX is not a {year} code ({', '.join(sorted(r.sex_codes(year)))})")
    c.add(r.code_check(df["ETHNIC"].str.upper(), r.ETHNIC), "ETHNIC", "ETHNIC is not a valid code")
    _check_dates(c, df, ("DOB", "MC_DOB"), year, required=("DOB",))
    dup = df.duplicated("CHILD", keep="first") & ~_blank(df["CHILD"])
    c.add(dup, "CHILD", "a second header row for the same child")
    return c


def _lookup(keys: pd.Series, table: pd.Series) -> pd.Series:
    """``table``'s value for each key (missing where the key is not in its index), by Arrow's hash
    lookup rather than pandas' text index; ``table`` has a unique text index."""
    import pyarrow as pa
    import pyarrow.compute as pc

    at = pc.index_in(pa.array(keys.astype(str)), value_set=pa.array(table.index.astype(str)), skip_nulls=True)
    values = np.append(table.to_numpy(), np.array([None], dtype=table.dtype) if table.dtype.kind == "M" else np.nan)
    return pd.Series(values[at.fill_null(-1).to_numpy()], index=keys.index, dtype=table.dtype)


def _check_episodes(df: pd.DataFrame, year: int, dob: pd.Series) -> tuple[_Checks, pd.DataFrame]:
    """Row rules and sequence rules (order, overlaps, duplicates) for one return's episodes."""
    from analysis.io import ssda903_rules as r

    c = _Checks(df)
    c.add(_blank(df["CHILD"]), "CHILD", "CHILD is blank")
    d = _check_dates(c, df, ("DECOM", "DEC"), year, required=("DECOM",))
    decom, dec = d["DECOM"], d["DEC"]
    c.add(dec < decom, "DEC", "episode ends (DEC) before it starts (DECOM)")
    for col, valid in (("RNE", r.RNE), ("LS", r.LS), ("CIN", r.CIN)):
        c.add(r.code_check(df[col], valid), col, col + " '{" + col + "}' is not a valid code")
    c.add(~r.place_valid(df["PLACE"], decom) & decom.notna(), "PLACE", "PLACE '{PLACE}' is not valid for an episode starting on {DECOM}")
    # a provider that is blank or does not fit the placement leaves the placement usable (its provider is
    # unknown): kept with a flag, as DfE's own tables count "placement provider not reported"
    prov = r.provider_problems(df["PLACE"], df["PLACE_PROVIDER"], year)
    for reason in prov.dropna().unique():
        c.flag(prov.eq(reason), "PLACE_PROVIDER", f"{reason}: kept, provider counted as not reported")
    rec_blank, dec_blank = _blank(df["REC"]), _blank(df["DEC"])
    # DfE rule 148: a reason for ending but no end date. The episode is still open: keep it (so the child
    # stays in the stock), blank the reason, and flag it, rather than lose the child
    open_with_reason = ~rec_blank & dec_blank
    if open_with_reason.any():
        c.flag(open_with_reason, "REC", "DfE rule 148: a reason for ending (REC) but no end date: kept as an open episode, REC blanked")
        df.loc[open_with_reason, "REC"] = ""
        rec_blank = _blank(df["REC"])
    c.add(~rec_blank & r.code_check(df["REC"], r.REC), "REC", "REC '{REC}' is not a valid code")
    c.add(rec_blank & ~dec_blank, "REC", "REC is blank but the episode has an end date")
    c.add(
        r.code_check(df["REASON_PLACE_CHANGE"], r.REASON_PLACE_CHANGE, allow_blank=True),
        "REASON_PLACE_CHANGE",
        "REASON_PLACE_CHANGE '{REASON_PLACE_CHANGE}' is not a valid code",
    )
    born = _lookup(df["CHILD"], dob)
    c.add(born.isna() & ~_blank(df["CHILD"]), "CHILD", "no header row (with a valid DOB) for this child in the same return")
    c.add(decom < born, "DECOM", "episode starts before the child's date of birth")

    # sequence rules, on rows that passed so far, in start order within each child. Children are
    # numbered in CHILD order once, so sorting and grouping work on integers, not text.
    child_no = pd.factorize(df["CHILD"], sort=True)[0]
    slim = pd.DataFrame(
        {
            "_child": child_no,
            "_decom": decom,
            "_dec": dec,
            "_row": df["_row"],
            "RNE": df["RNE"],
            "PLACE": df["PLACE"],
            "REC": df["REC"],
            "REASON_PLACE_CHANGE": df["REASON_PLACE_CHANGE"],
        },
        index=df.index,
    )
    ok = slim.drop(index=list(c.reasons)).sort_values(["_child", "_decom", "_row"])
    # exact repeats share child and start: compare every field only among rows that do
    fields = [col for col in TABLES["episodes"][1] if col in df.columns]
    candidates = df.loc[ok.index[ok.duplicated(["_child", "_decom"], keep=False)], [*fields, "_row"]]
    exact = candidates.duplicated(fields, keep="first")
    first_row = candidates.groupby(fields, sort=False)["_row"].transform("first")
    exact_rows = exact[exact].index
    c.add(
        pd.Series(True, index=exact_rows).reindex(df.index, fill_value=False),
        "CHILD",
        ("duplicate of row " + first_row[exact_rows].astype("Int64").astype(str)),
    )
    ok = ok.drop(index=exact_rows)
    same_start = ok.duplicated(["_child", "_decom"], keep="first")
    c.add(same_start.reindex(df.index, fill_value=False), "DECOM", "a second episode for this child starting on the same day")
    ok = ok[~same_start]
    by_child = ok.groupby("_child", sort=False)
    prev_end = by_child["_dec"].shift(1)
    prev_open = prev_end.isna() & by_child.cumcount().gt(0)
    overlap = prev_open | (ok["_decom"] < prev_end)
    prev_row = by_child["_row"].shift(1)[overlap]
    c.add(
        overlap.reindex(df.index, fill_value=False),
        "DECOM",
        "starts before the previous episode (row " + prev_row.astype("Int64").astype(str) + ") ends",
    )
    ok = ok[~overlap]

    # warnings (kept): reason for placement change missing where DfE expects one, or present where it should not be
    warnings = []
    by_child = ok.groupby("_child", sort=False)
    nxt_rne = by_child["RNE"].shift(-1)
    nxt_place = by_child["PLACE"].shift(-1)
    move = (ok["REC"] == "X1") & nxt_rne.isin(["P", "B", "T", "U"]) & ~ok["PLACE"].isin(r.TEMPORARY) & ~nxt_place.isin(r.TEMPORARY)
    for i in ok.index[move & _blank(ok["REASON_PLACE_CHANGE"])]:
        warnings.append((i, "REASON_PLACE_CHANGE", "blank, but the next episode is a placement change"))
    for i in ok.index[(ok["REC"] != "X1") & ~_blank(ok["REC"]) & ~_blank(ok["REASON_PLACE_CHANGE"])]:
        warnings.append((i, "REASON_PLACE_CHANGE", "recorded, but the child left care (REC is not X1)"))
    # a period of care starts with RNE S; after X1 the next episode is not S
    prev_rec = by_child["REC"].shift(1)
    for i in ok.index[(prev_rec == "X1") & (ok["RNE"] == "S")]:
        warnings.append((i, "RNE", "S (started care) straight after an episode that ended X1"))
    for i in ok.index[prev_rec.notna() & (prev_rec != "X1") & (ok["RNE"] != "S")]:
        warnings.append((i, "RNE", "not S although the previous episode ended the period of care"))
    w = pd.DataFrame(
        [
            {
                "table": "episodes",
                "collection_year": year,
                "file": df.at[i, "_file"],
                "row": int(df.at[i, "_row"]),
                "column": col,
                "value": str(df.at[i, col]),
                "reason": text,
            }
            for i, col, text in warnings
        ],
        columns=SET_ASIDE_COLUMNS,
    )
    return c, pd.concat([w, c.flagged("episodes", year)], ignore_index=True) if c.flags else w


def _check_other(table: str, df: pd.DataFrame, year: int) -> _Checks:
    from analysis.io import ssda903_rules as r

    c = _Checks(df)
    c.add(_blank(df["CHILD"]), "CHILD", "CHILD is blank")
    _check_dates(
        c,
        df,
        DATE_COLUMNS.get(table, ()),
        year,
        required={"missing": ("MIS_START",), "reviews": ("REVIEW",), "sw_episodes": ("SW_DECOM",)}.get(table, ()),
    )
    if table == "missing":
        c.add(r.code_check(df["MISSING"].str.upper(), r.MISSING), "MISSING", "MISSING is not M or A")
        start, end = parse_dates(df["MIS_START"]), parse_dates(df["MIS_END"])
        c.add(end < start, "MIS_END", "the missing episode ends before it starts")
    if table == "uasc" and "DOB" in df.columns:
        after_18 = parse_dates(df["DUC"]) > parse_dates(df["DOB"]) + pd.DateOffset(years=18)
        c.flag(after_18, "DUC", "DfE rule 304: the date UASC status ceased is after the 18th birthday: kept")
    if table == "reviews":
        c.add(r.code_check(df["REVIEW_CODE"], r.REVIEW_CODE, allow_blank=True), "REVIEW_CODE", "REVIEW_CODE is not PN0-PN7")
    if table == "oc2":
        score = pd.to_numeric(df["SDQ_SCORE"], errors="coerce")
        c.add(~_blank(df["SDQ_SCORE"]) & ~score.between(0, 40), "SDQ_SCORE", "SDQ_SCORE is not a whole number from 0 to 40")
    # repeated rows share the child: compare whole rows only among children with more than one row
    candidates = df.loc[df.duplicated("CHILD", keep=False), [col for col in df.columns if col not in ("_file", "_row")]]
    c.add(candidates.duplicated(keep="first").reindex(df.index, fill_value=False), "CHILD", "duplicate row")
    return c


def _folder(t: RawTable) -> str:
    return str(Path(t.file.split("[")[0]).parent)


def _check_year_names(tables: list[RawTable], year_from: str) -> None:
    """Where a folder or file name gives one collection year and the episode dates show the next (a folder
    "2017" holding 2017-18's return, as some tools name them): say so, and with ``year_from="dates"``
    (the default) take the year from the dates for every table of that folder and named year."""
    from analysis.io.ssda903_rules import year_end

    moved: dict[str, tuple[int, int]] = {}
    for t in tables:
        if t.table != "episodes" or t.collection_year is None or t.frame.empty:
            continue
        dates = pd.concat([parse_dates(t.frame["DECOM"]), parse_dates(t.frame["DEC"])]).dropna()
        named = int(t.collection_year)
        late = dates > year_end(named)
        # the next year's return: some of its dates are after the named year's end, and next to none after the next
        # one's (a stray date a day past it is that row's fault, flagged by the year's checks, not a sign of the year)
        if late.mean() >= 0.01 and (dates > year_end(named + 1)).mean() < 0.01:
            moved[(_folder(t), named)] = (named, named + 1)
    # by folder and named year: a flat folder of 2017-episodes.csv, 2018-episodes.csv ... (cs-demand-model's sample)
    # moves each year's files by that year's episodes, never all of them by the folder's latest dates
    for t in tables:
        if t.collection_year is not None and (_folder(t), int(t.collection_year)) in moved:
            named, shown = moved[(_folder(t), int(t.collection_year))]
            if year_from == "dates":
                t.collection_year = shown
                t.notes.append(
                    f"named as collection year {named - 1}-{str(named)[2:]}, but its episode dates are {shown - 1}-{str(shown)[2:]}'s: "
                    f"read as {shown - 1}-{str(shown)[2:]} (use --year-from name to keep the name)"
                )
            else:
                t.notes.append(
                    f"named as collection year {named - 1}-{str(named)[2:]}, but its episode dates are {shown - 1}-{str(shown)[2:]}'s: "
                    "kept as named (--year-from name)"
                )


def _infer_year(tables: list[RawTable]) -> None:
    """Give files with no year in their path the year of the episodes file in the same folder."""
    by_folder: dict[str, int] = {}
    for t in tables:
        if t.table == "episodes" and t.collection_year is None:
            dates = pd.concat([parse_dates(t.frame["DECOM"]), parse_dates(t.frame["DEC"])]).dropna()
            dates = dates[dates <= year_end(latest_possible_year())]  # a date in the future is the row's fault (flagged), not a year
            if not dates.empty:
                t.collection_year = collection_year_of(dates.max())
                t.notes.append(f"collection year {t.collection_year} worked out from the latest episode date")
        if t.table == "episodes" and t.collection_year is not None:
            by_folder.setdefault(str(Path(t.file.split("[")[0]).parent), t.collection_year)
    for t in tables:
        if t.collection_year is None:
            t.collection_year = by_folder.get(str(Path(t.file.split("[")[0]).parent))
            if t.collection_year is None:
                raise InputError(
                    "cannot tell which collection year this file belongs to: put each year's files in a folder "
                    "named like 2024-25, or name the files with the year",
                    t.file,
                )
            t.notes.append(f"collection year {t.collection_year} taken from the episodes file beside it")


def _split_multi_year(tables: list[RawTable]) -> list[RawTable]:
    """One file per table for several years (as some tools export): split into the yearly returns
    the DfE would hold. An episode goes to every collection year it was open in; a child's header and
    UASC rows to every year the child has an episode (SEX recoded to the year's list: 1/2 to 2023-24,
    M/F after); a missing episode to the year it began; a table with no dates (OC2) to the latest year.
    Only a folder whose episodes file has no year in its path and holds episodes that ended before
    the latest year began (which no single return can) is split."""
    out, by_folder = [], {}
    for t in tables:
        by_folder.setdefault(_folder(t), []).append(t)
    for group in by_folder.values():
        eps = [t for t in group if t.table == "episodes" and t.collection_year is None]
        if len(eps) != 1:
            out += group
            continue
        e = eps[0].frame
        start, end = parse_dates(e["DECOM"]), parse_dates(e["DEC"])
        cap = year_end(latest_possible_year())
        # a date after the running collection year is a fault of its row (flagged by the year's checks), never a new year
        first = collection_years(start[start <= cap]).min()
        last = collection_years(pd.concat([start[start <= cap], end[end <= cap]])).max()
        if pd.isna(first) or pd.isna(last) or not (end < pd.Timestamp(int(last) - 1, 4, 1)).any():
            out += group
            continue
        years = range(int(first), int(last) + 1)
        children: dict[int, set] = {}
        for y in years:
            open_in = (start <= year_end(y)) & (end.isna() | (end >= pd.Timestamp(y - 1, 4, 1)))
            children[y] = set(e.loc[open_in, "CHILD"])
        for t in group:
            note = "one file for several collection years: split into yearly returns"
            for y in years:
                f = t.frame
                if t.table == "episodes":
                    in_year = (start <= year_end(y)) & (end.isna() | (end >= pd.Timestamp(y - 1, 4, 1)))
                    if y == years[-1]:
                        in_year |= start > cap  # a start in the future: kept in the latest year, whose checks set it aside
                    part = f[in_year].copy()
                    # open at that year's end: as its return showed it (a DEC in the future stays, for the checks to flag)
                    still_open = ((end[part.index] > year_end(y)) & (end[part.index] <= cap)).to_numpy()
                    part.loc[still_open, [c for c in ("DEC", "REC", "REASON_PLACE_CHANGE") if c in part.columns]] = ""
                elif t.table == "missing" and "MIS_START" in f.columns:
                    part = f[collection_years(parse_dates(f["MIS_START"])) == y]
                elif "CHILD" in f.columns and t.table in ("header", "uasc"):
                    part = f[f["CHILD"].isin(children[y])].copy()
                    if "SEX" in part.columns:
                        code = {"1": "M", "2": "F"} if y >= 2025 else {"M": "1", "F": "2"}
                        part["SEX"] = part["SEX"].str.upper().map(lambda v, code=code: code.get(v, v))
                elif y == years[-1]:
                    part = f
                else:
                    continue
                if len(part):
                    out.append(
                        RawTable(
                            t.table, f"{t.file}[{y - 1}-{str(y)[2:]}]", part.assign(_file=f"{t.file}[{y - 1}-{str(y)[2:]}]"), y, [*t.notes, note]
                        )
                    )
    return out


def validate(tables: list[RawTable], skipped: list[str] | None = None, *, year_from: str = "dates") -> Validated:
    """Check every table; set aside failing rows; stack the kept rows of each table across years.
    ``year_from``: where a name and the episode dates disagree on the collection year, which wins."""
    if year_from not in ("dates", "name"):
        raise ValueError(f"year_from should be 'dates' or 'name', got {year_from!r}")
    _check_year_names(tables, year_from)
    tables = _split_multi_year(tables)
    try:
        _infer_year(tables)
    except InputError as exc:  # the year cannot be told: name the other faults of the same files too (often the cause)
        faults = [f"{t.file}: no rows" for t in tables if not len(t.frame)]
        faults += [f"{t.file}: {n}" for t in tables for n in t.notes if n.startswith("column(s) missing")]
        faults += list(skipped or [])
        if not faults:
            raise
        raise InputError(f"{exc.message}; also found: {'; '.join(faults[:6])}", exc.file, exc.row, exc.column) from None
    repeats = _repeated_across_files(tables)
    kept: dict[str, list[pd.DataFrame]] = {}
    asides, warns, files = [], [], []
    headers = {}
    for t in sorted(tables, key=lambda t: (t.table != "header", t.collection_year, t.file)):
        df = t.frame.reset_index(drop=True)
        year = int(t.collection_year)
        rows_in = len(df)
        if id(t) in repeats:  # the same year's table supplied again: rows that repeat, or contradict, an earlier file's are set aside
            drop, reasons, columns = repeats[id(t)]
            asides.append(
                pd.DataFrame(
                    {
                        "table": t.table,
                        "collection_year": year,
                        "file": t.file,
                        "row": df.loc[drop, "_row"].to_numpy(),
                        "column": columns,
                        "value": "",
                        "reason": reasons,
                    },
                    columns=SET_ASIDE_COLUMNS,
                )
            )
            df = df.drop(index=drop).reset_index(drop=True)
        if t.table == "header":
            c = _check_header(df, year)
        elif t.table == "episodes":
            hdr = headers.get(year)
            dob = hdr.set_index("CHILD")["_dob"] if hdr is not None and not hdr.empty else pd.Series(dtype="datetime64[ns]")
            c, w = _check_episodes(df, year, dob[~dob.index.duplicated()])
            warns.append(w)
        else:
            c = _check_other(t.table, df, year)
            if c.flags:
                warns.append(c.flagged(t.table, year))
        good, aside = c.split(t.table, year)
        good = good.assign(collection_year=year)
        if t.table == "header":
            good = good.assign(_dob=parse_dates(good["DOB"]))
            headers[year] = pd.concat([headers[year], good]) if year in headers else good
        kept.setdefault(t.table, []).append(good)
        asides.append(aside)
        files.append(
            {
                "table": t.table,
                "collection_year": year,
                "file": t.file,
                "rows_in": rows_in,
                "kept": len(good),
                "set_aside": rows_in - len(good),
                "notes": "; ".join(t.notes),
            }
        )
    out = {name: pd.concat(frames, ignore_index=True).drop(columns=["_dob"], errors="ignore") for name, frames in kept.items()}
    # the DfE's own rules, by code, on what was kept: usable rows that break one are kept with a flag

    warns.append(dfe_check(out))
    set_aside = (
        pd.concat([a for a in asides if not a.empty], ignore_index=True)
        if any(not a.empty for a in asides)
        else pd.DataFrame(columns=SET_ASIDE_COLUMNS)
    )
    warnings = (
        pd.concat([w for w in warns if not w.empty], ignore_index=True)
        if any(not w.empty for w in warns)
        else pd.DataFrame(columns=SET_ASIDE_COLUMNS)
    )
    return Validated(out, set_aside, warnings, files, list(skipped or []))


def _repeated_across_files(tables: list[RawTable]) -> dict[int, tuple[list[int], list[str], list[str]]]:
    """Where one collection year's table comes from more than one file: the rows of each later file that repeat a
    row of an earlier one (by every value), and, in the header (one row per child a year), those that contradict
    one (the same child with another date of birth, sex ...), each with its reason naming both files, and the
    columns that differ. Each file gets a note. The earliest file (by name) stands; the later copy is set aside."""
    out: dict[int, tuple[list[int], list[str], list[str]]] = {}
    groups: dict[tuple[str, int], list[RawTable]] = {}
    for t in tables:
        groups.setdefault((t.table, int(t.collection_year)), []).append(t)
    for (table, year), group in groups.items():
        if len(group) < 2:
            continue
        group = sorted(group, key=lambda t: t.file)
        names = [t.file for t in group]
        for t in group:
            t.notes.append(f"collection year {year} of the {table} table is supplied in {len(group)} files ({', '.join(names)})")
        first = group[0].frame.drop(columns=["_file", "_row"]).astype(str)
        seen = {tuple(r) for r in first.itertuples(index=False, name=None)}
        by_child = {}
        if table == "header" and "CHILD" in first.columns:
            by_child = {r["CHILD"]: (r, row, group[0].file) for (_, r), row in zip(first.iterrows(), group[0].frame["_row"])}
        for t in group[1:]:
            values = t.frame.drop(columns=["_file", "_row"]).astype(str)
            drop, reasons, columns = [], [], []
            for i, (row_values, (_, r)) in enumerate(zip(values.itertuples(index=False, name=None), values.iterrows())):
                if row_values in seen:
                    drop.append(i)
                    reasons.append(f"repeats a row of {group[0].file} (collection year {year} is supplied twice)")
                    columns.append("")
                elif by_child and r["CHILD"] in by_child:
                    earlier, line, where = by_child[r["CHILD"]]
                    differ = [c for c in values.columns if c != "CHILD" and str(earlier[c]) != str(r[c])]
                    drop.append(i)
                    reasons.append(
                        f"the same child as row {line} of {where}, with another {', '.join(differ)} (collection year {year} is supplied "
                        f"twice, in {where} and {t.file}: the first is kept; check which is right)"
                    )
                    columns.append(differ[0] if differ else "")
                seen.add(row_values)
            if drop:
                out[id(t)] = (drop, reasons, columns)
    return out


def read_returns(folder: Path, *, year_from: str = "dates") -> Validated:
    """Read and check every 903 file under a folder (or one file)."""
    folder = Path(folder)
    root = folder.parent  # so the folder's own name (e.g. 2024-25) counts towards the year
    tables, skipped = [], []
    for path in find_files(folder):
        t, s = read_table_file(path, root)
        tables += t
        skipped += s
    for archive in find_archives(folder):
        t, s = read_archive(archive, root)
        tables += t
        skipped += s
    skipped += unread_files(folder)
    if not tables:
        found = f" ({'; '.join(skipped[:5])}{'; ...' if len(skipped) > 5 else ''})" if skipped else ""
        raise InputError(f"no 903 tables found (expected CSV, .xlsx or XML files with DfE column names such as CHILD, DECOM, RNE){found}", folder)
    return validate(tables, skipped, year_from=year_from)


#: which papers read each table: a rule that sets aside or flags its rows could move their figures
PAPERS_READING = {
    "episodes": "02, 03, 04 (placements, periods, stock, flows)",
    "header": "02, 03, 04 (age, sex; a child without one is lost)",
    "oc2": "02, 03, 04 (SDQ)",
    "uasc": "04 (UASC needs)",
    "missing": "none yet",
    "reviews": "none yet",
    "oc3": "none yet",
    "ad1": "none yet",
    "placed_for_adoption": "none yet",
    "previous_permanence": "none yet",
    "sw_episodes": "none yet",
}

_VALUES = re.compile(r"'[^']*'|\b\d{1,2}/\d{1,2}/\d{4}\b|\(row \d+\)|row \d+|\b20\d\d\b")


def rule_summary(set_aside: pd.DataFrame, warnings: pd.DataFrame) -> pd.DataFrame:
    """Per table and rule (the reason with its values taken out): rows set aside, rows kept with a flag,
    and which papers read that table, so a reader can see which figures a rule could move."""
    frames = []
    for frame, what in ((set_aside, "set aside"), (warnings, "kept, flagged")):
        if len(frame):
            rules = frame["reason"].astype(str).str.split("; ").explode().str.replace(_VALUES, "…", regex=True)
            frames.append(pd.DataFrame({"table": frame.loc[rules.index, "table"].to_numpy(), "rule": rules.to_numpy(), "what": what}))
    if not frames:
        return pd.DataFrame(columns=["table", "rule", "set aside", "kept, flagged", "papers reading the table"])
    t = pd.concat(frames, ignore_index=True).groupby(["table", "rule", "what"]).size().unstack("what", fill_value=0).reset_index()
    for col in ("set aside", "kept, flagged"):
        if col not in t.columns:
            t[col] = 0
    t["papers reading the table"] = t["table"].map(PAPERS_READING).fillna("none yet")
    return t[["table", "rule", "set aside", "kept, flagged", "papers reading the table"]].sort_values(["table", "set aside"], ascending=[True, False])


#: the columns of every flagged row, as ``analysis validate --out`` writes them
FLAGGED_COLUMNS = ["status", "table", "collection_year", "file", "row", "column", "value", "dfe_code", "message"]


def flagged_rows(v: Validated) -> pd.DataFrame:
    """Every row set aside and every row kept with a flag, one line per flag (a row with two flags is two lines):
    status, table, collection year, file, row (as the analyst's file numbers it: the header is row 1), column,
    value, the DfE rule code where there is one, and the message. Sorted by file and row."""
    frames = []
    for frame, status in ((v.set_aside, "set aside"), (v.warnings, "kept, flagged")):
        if len(frame):
            f = frame.assign(message=frame["reason"].astype(str).str.split("; ")).explode("message")
            frames.append(f.assign(status=status))
    if not frames:
        return pd.DataFrame(columns=FLAGGED_COLUMNS)
    out = pd.concat(frames, ignore_index=True)
    out["dfe_code"] = out["message"].map(dfe_code).fillna("")
    out["row"] = pd.to_numeric(out["row"], errors="coerce").astype("Int64")
    return out[FLAGGED_COLUMNS].sort_values(["file", "row", "status"], kind="mergesort").reset_index(drop=True)


def flags_by_rule(flagged: pd.DataFrame, first: int = 3) -> pd.DataFrame:
    """The flagged rows grouped by rule: code, message (its values taken out), rows set aside and kept with a flag,
    and the first rows (file and row) to look at."""
    if flagged.empty:
        return pd.DataFrame(columns=["dfe_code", "rule", "set aside", "kept, flagged", "first rows"])
    f = flagged.assign(rule=flagged["message"].str.replace(_VALUES, "…", regex=True))
    rows = []
    for (code, rule), g in f.groupby(["dfe_code", "rule"], sort=False):
        rows.append(
            {
                "dfe_code": code or "-",
                "rule": rule,
                "set aside": int((g["status"] == "set aside").sum()),
                "kept, flagged": int((g["status"] == "kept, flagged").sum()),
                "first rows": ", ".join(f"{Path(str(r.file)).name}:{r.row}" for r in g.head(first).itertuples()),
            }
        )
    return pd.DataFrame(rows).sort_values(["set aside", "kept, flagged"], ascending=False, kind="mergesort").reset_index(drop=True)


def conflicting_dobs(v: Validated) -> int:
    """Children whose date of birth differs between years' returns (the latest return's is used)."""
    hdr = v.tables.get("header")
    if hdr is None or hdr.empty:
        return 0
    dobs = hdr.loc[hdr["DOB"] != "", ["CHILD", "DOB"]].drop_duplicates()
    return int(dobs.loc[dobs["CHILD"].duplicated(), "CHILD"].nunique())


def missing_tables(v: Validated) -> list[str]:
    return [t for t in REQUIRED_TABLES if t not in v.tables or v.tables[t].empty]


def why_missing(v: Validated, table: str) -> str:
    """Why nothing usable was found for a required table, naming the files and the cause."""
    rec = v.reconciliation()
    read = rec[rec["table"] == table]
    if len(read):
        aside = v.set_aside[v.set_aside["table"] == table]
        first = f" (first: {aside['file'].iloc[0]}, row {aside['row'].iloc[0]}: {aside['reason'].iloc[0]})" if len(aside) else ""
        return f"nothing usable in {table}: {int(read['rows_in'].sum()):,} row(s) read from {', '.join(read['file'])}, all set aside{first}"
    near = [s for s in v.skipped if f"the {table} table" in s]
    if near:
        return f"nothing usable in {table}: {'; '.join(near)}"
    return f"nothing usable in {table}: no file was recognised as the {table} table" + (
        f" (not read: {'; '.join(v.skipped[:3])})" if v.skipped else ""
    )


# --- stitching ----------------------------------------------------------------------------------
def stitch(v: Validated) -> dict[str, pd.DataFrame]:
    """One longitudinal history from several years' returns.

    * Episodes: for the same child and start date, the row from the **latest** return is kept (each
      return restates the episodes open at its start, with their corrections and end dates). An
      episode an earlier return left open that a later return does not restate is closed the day
      the child's next episode starts (REC X1), as DfE's longitudinal store does; if nothing
      follows, it stays open.
    * Header: the latest return's row for each child (DOB and SEX corrections win).
    * Other tables: stacked, exact repeats across years dropped.
    """
    out: dict[str, pd.DataFrame] = {}
    eps = v.tables.get("episodes", pd.DataFrame(columns=[*TABLES["episodes"][1], "_file", "_row", "collection_year"]))
    eps = eps.assign(_decom=parse_dates(eps["DECOM"]), _dec=parse_dates(eps["DEC"]))
    # sort by child, start and return on integers, keep the latest return's row for each child and start
    child = pd.factorize(eps["CHILD"], sort=True)[0]
    start = eps["_decom"].to_numpy()
    order = np.lexsort((eps["collection_year"].to_numpy(), start.view("i8"), np.isnat(start), child))
    c, d = child[order], start[order].view("i8")
    keep = order[np.r_[(c[1:] != c[:-1]) | (d[1:] != d[:-1]), True]] if len(order) else order
    eps = eps.iloc[keep]
    same_child_next = np.r_[child[keep][1:] == child[keep][:-1], False] if len(keep) else np.array([], dtype=bool)
    nxt = eps["_decom"].shift(-1).where(same_child_next)
    still_open = eps["_dec"].isna() & nxt.notna()
    eps.loc[still_open, "_dec"] = nxt[still_open]
    eps.loc[still_open, "DEC"] = nxt[still_open].dt.strftime("%d/%m/%Y")
    eps.loc[still_open, "REC"] = "X1"
    eps["closed_by_stitch"] = still_open
    # an overlap across returns (an earlier return's end date after the next start): end at the next start
    overlap = eps["_dec"].notna() & nxt.notna() & (eps["_dec"] > nxt)
    eps.loc[overlap, "_dec"] = nxt[overlap]
    eps.loc[overlap, "DEC"] = nxt[overlap].dt.strftime("%d/%m/%Y")
    out["episodes"] = eps.reset_index(drop=True)
    hdr = v.tables.get("header", pd.DataFrame(columns=[*TABLES["header"][1], "_file", "_row", "collection_year"]))
    child = pd.factorize(hdr["CHILD"], sort=True)[0]
    order = np.lexsort((hdr["collection_year"].to_numpy(), child))  # by child, then return; keep each child's latest
    out["header"] = hdr.iloc[order[np.r_[child[order][1:] != child[order][:-1], True]] if len(order) else order].reset_index(drop=True)
    for name, df in v.tables.items():
        if name in out:
            continue
        cols = [c for c in df.columns if c not in ("_file", "_row", "collection_year")]
        out[name] = df.sort_values("collection_year").drop_duplicates(cols, keep="last").reset_index(drop=True)
    return out
