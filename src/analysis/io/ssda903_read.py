"""Reading 903 files as they come: the collection year from a path, decoding (BOM, UTF-16, stray bytes),
CSV with any delimiter and stray quotes, Excel sheets, zip archives, and the files left unread."""

from __future__ import annotations

import csv
import io
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.errors import InputError
from analysis.io.ssda903_schema import (
    DERIVED_EPISODE_COLUMNS,
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
