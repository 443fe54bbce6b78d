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

import re
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.errors import InputError
from analysis.io.dates import parse_dates
from analysis.io.ssda903_read import (
    _read_csv_fast,
    collection_year_from_path,
    find_archives,
    find_files,
    read_archive,
    read_csv_text,
    read_excel_sheets,
    read_table_file,
    unread_files,
)
from analysis.io.ssda903_rules import dfe_code
from analysis.io.ssda903_schema import (
    REQUIRED_TABLES,
    TABLES,
)
from analysis.io.ssda903_validate import Validated, _Checks, validate

__all__ = [
    "FLAGGED_COLUMNS",
    "_Checks",
    "_read_csv_fast",
    "collection_year_from_path",
    "conflicting_dobs",
    "find_archives",
    "find_files",
    "flagged_rows",
    "flags_by_rule",
    "missing_tables",
    "read_csv_text",
    "read_excel_sheets",
    "read_returns",
    "rule_summary",
    "stitch",
    "validate",
    "why_missing",
]


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
