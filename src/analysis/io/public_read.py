"""Reading a published table: text CSV, required columns, DfE suppression symbols kept beside the
values, rows set aside with their reason, and areas attached by code."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.errors import InputError
from analysis.io.geography import ENGLAND_CODE, canonical_code

SUPPRESSION_SYMBOLS: dict[str, str] = {
    "c": "suppressed to protect confidentiality",
    "z": "not applicable",
    "x": "not available (SFR 2015-2017 files: suppressed to protect confidentiality)",
    "k": "rounds to zero but is not zero",
    "low": "rounds to zero but is not zero (older symbol)",
    "u": "low reliability",
    "[x]": "not available (RO3)",
    ":": "not available",
    "[note n]": "not available: see the publication's note n (RO3)",
    "..": "not available",
}

#: Columns renamed between publications of the same EES table -> the name the loaders use.
COLUMN_RENAMES: dict[str, str] = {
    "children_count": "number",  # 2025 publication; earlier: number
    "children_percent": "percentage",  # 2025 publication; earlier: percentage
    "population_type": "population_count",  # 2025 rate table label column; earlier: population_count
    "CLA_group": "cla_group",  # missing-from-placement table
    "placement_stability": "characteristic",  # 2025 stability table
    "sw_stability": "characteristic",  # social worker changes (2024): read as a stability table
}

#: Whole-layout changes, applied before COLUMN_RENAMES when the marker column is present.
LAYOUT_RENAMES: dict[str, dict[str, str]] = {
    # 2025 new-placements table: characteristic/breakdown; earlier: cla_group/characteristic
    "breakdown": {"characteristic": "cla_group", "breakdown": "characteristic"},
}

GEOGRAPHIC_LEVELS = {
    "national": "national",
    "regional": "regional",
    "region": "regional",
    "local authority": "local_authority",
    "la": "local_authority",
}

INDICATOR_COLUMNS = [
    "year",
    "geographic_level",
    "area_code",
    "area_name",
    "new_la_code",
    "old_la_code",
    "la_name",
    "region_code",
    "region_name",
    "indicator",
    "measure",
    "value",
    "flag",
    "source_file",
    "publication",
]
SET_ASIDE_COLUMNS = ["source_file", "row", "column", "reason", "record"]


@dataclass
class Loaded:
    """What a loader kept, what it set aside, and how many rows it read, per file."""

    table: pd.DataFrame
    set_aside: pd.DataFrame
    rows_read: dict[str, int] = field(default_factory=dict)
    rows_kept: dict[str, int] = field(default_factory=dict)


# ----------------------------------------------------------------------------- reading helpers
def read_text_csv(path: Path, *, header_row: int = 0) -> pd.DataFrame:
    """Read a CSV as strings (no NA guessing), trying UTF-8 (with or without BOM) then cp1252.

    Adds ``_row``: the 1-based line number in the file, for messages and the set-aside table.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found (run from a full clone, or restore data/raw/)", path)
    last_error: Exception | None = None
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            df = pd.read_csv(
                path,
                dtype=str,
                keep_default_na=False,
                na_filter=False,
                encoding=encoding,
                skiprows=header_row,
                skip_blank_lines=False,
            )
            break
        except UnicodeDecodeError as exc:
            last_error = exc
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise InputError(f"cannot be read as CSV ({exc})", path) from None
    else:
        raise InputError(f"unreadable text encoding ({last_error})", path)
    df.columns = [str(c).strip() for c in df.columns]
    df["_row"] = np.arange(len(df)) + header_row + 2
    blank = (df.drop(columns="_row") == "").all(axis=1)
    return df.loc[~blank].reset_index(drop=True)


def require_columns(df: pd.DataFrame, required: list[str], path: Path, renames: dict | None = None) -> None:
    missing = [c for c in required if c not in df.columns]
    if missing:
        hint = ""
        if renames:
            known = [old for old, new in renames.items() if new in missing]
            if known:
                hint = f" (also accepted under the names: {', '.join(known)})"
        raise InputError(
            f"missing column(s) {', '.join(repr(c) for c in missing)}{hint}; found: {', '.join(c for c in df.columns if c != '_row')}",
            path,
        )


def parse_values(raw: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Split published cells into (value, flag, bad).

    ``value`` is float with NaN for suppressed or missing cells; ``flag`` holds the suppression
    symbol (or NA); ``bad`` is True where a cell is neither a number, blank nor a known symbol.
    """
    text = raw.astype(str).str.strip()
    lowered = text.str.lower()
    is_symbol = lowered.isin(SUPPRESSION_SYMBOLS) | lowered.str.fullmatch(r"\[note \d+\]")
    cleaned = text.str.replace(",", "", regex=False)
    numbers = pd.to_numeric(cleaned.where(~is_symbol & (text != "")), errors="coerce")
    bad = numbers.isna() & ~is_symbol & (text != "")
    flag = lowered.where(is_symbol).astype("string")
    return numbers.astype("float64"), flag, bad


def _record(row: pd.Series) -> str:
    items = {k: v for k, v in row.items() if not str(k).startswith("_")}
    return json.dumps(items, ensure_ascii=False)[:500]


def set_aside_rows(df: pd.DataFrame, mask: pd.Series, source: str, column: str | pd.Series, reason: str | pd.Series) -> pd.DataFrame:
    if isinstance(column, np.ndarray):
        column = pd.Series(column, index=df.index)
    if isinstance(reason, np.ndarray):
        reason = pd.Series(reason, index=df.index)
    rows = df.loc[mask]
    if rows.empty:
        return pd.DataFrame(columns=SET_ASIDE_COLUMNS)
    col = column[mask] if isinstance(column, pd.Series) else column
    why = reason[mask] if isinstance(reason, pd.Series) else reason
    return pd.DataFrame(
        {
            "source_file": source,
            "row": rows["_row"].astype("int64").to_numpy(),
            "column": col if isinstance(col, str) else col.to_numpy(),
            "reason": why if isinstance(why, str) else why.to_numpy(),
            "record": rows.apply(_record, axis=1).to_numpy(),
        }
    )


def _concat(frames: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame(columns=columns)
    return pd.concat(frames, ignore_index=True)[columns]


# ----------------------------------------------------------------------------- area keys
def attach_area(df: pd.DataFrame, lookup: pd.DataFrame, source: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Normalise geography columns and attach area keys; set aside rows with unknown LA codes.

    Expects columns ``geographic_level``, ``new_la_code``, ``old_la_code``, ``la_name``,
    ``region_code``, ``region_name`` (strings; blank where not applicable).
    """
    level = df["geographic_level"].str.strip().str.lower().map(GEOGRAPHIC_LEVELS)
    bad_level = level.isna()
    aside = [set_aside_rows(df, bad_level, source, "geographic_level", "unrecognised geographic level")]
    df = df.loc[~bad_level].copy()
    level = level.loc[~bad_level]
    df["geographic_level"] = level

    published = df["new_la_code"].str.strip()
    old = df["old_la_code"].str.strip()
    known_codes = set(lookup["la_code"])
    by_old = lookup.sort_values("status", key=lambda s: s.ne("current")).drop_duplicates("old_la_code").set_index("old_la_code")["la_code"]
    is_la = level == "local_authority"
    code = published.where(published != "", old.map(by_old))
    unknown = is_la & ~code.isin(known_codes)
    aside.append(
        set_aside_rows(
            df, unknown, source, "new_la_code", "LA code not in the LA lookup (data/raw/public/derived/la_code_lookup_from_ons_mye_2012_2024.csv)"
        )
    )
    df, code, is_la, level = df.loc[~unknown].copy(), code.loc[~unknown], is_la.loc[~unknown], level.loc[~unknown]

    info = lookup.set_index("la_code")
    current = code.map(canonical_code)
    df["new_la_code"] = current.where(is_la).astype("string")
    df["old_la_code"] = code.map(info["old_la_code"]).where(is_la).astype("string")
    df["la_name"] = current.map(info["la_name"]).fillna(code.map(info["la_name"])).where(is_la).astype("string")
    region_code = df["region_code"].str.strip().replace("", pd.NA)
    region_name = df["region_name"].str.strip().replace("", pd.NA)
    df["region_code"] = region_code.where(~is_la, code.map(info["region_code"])).astype("string")
    df["region_name"] = region_name.where(~is_la, code.map(info["region_name"])).astype("string")
    df.loc[level == "national", ["region_code", "region_name"]] = pd.NA
    df["area_code"] = np.select([level == "national", level == "regional"], [ENGLAND_CODE, df["region_code"]], df["new_la_code"])
    df["area_name"] = np.select([level == "national", level == "regional"], ["England", df["region_name"]], df["la_name"])
    df["area_code"] = df["area_code"].astype("string")
    df["area_name"] = df["area_name"].astype("string")
    return df, _concat(aside, SET_ASIDE_COLUMNS)


@dataclass(frozen=True)
class SourceFile:
    """One shipped file: where it is, what kind it is, and the publication year it comes from."""

    path: str  # relative to data/raw/public
    kind: str
    publication: int
