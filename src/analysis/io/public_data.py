"""Loaders for the published LA-level data shipped in ``data/raw/public/``.

Each loader reads one kind of source and returns a :class:`Loaded`: the tidy rows it kept and
the rows it set aside, with the file, line number, column and reason. Counts reconcile per file:
rows read = rows kept + rows set aside.

Conventions shared by every loader:

- DfE suppression symbols (``c``, ``z``, ``x``, ``k``, ``low``, ``u``; ``[x]`` in RO3) become a
  missing value, and the symbol is kept in the ``flag`` column. They are never zeros.
- LA codes are harmonised by :mod:`analysis.io.geography` (one documented place for code and
  boundary changes).
- Column renames between publications are in :data:`COLUMN_RENAMES` (EES files) and
  :data:`analysis.io.indicators.SFR_COLUMN_RENAMES` (2015-2017 wide files).
- Where two publications give the same year, :func:`apply_precedence` keeps the later one and
  records what it replaced.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.errors import InputError
from analysis.io import indicators as ind
from analysis.io.geography import ENGLAND_CODE, canonical_code, match_names

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


# ----------------------------------------------------------------------------- EES long files
EES_GEOGRAPHY = ["time_period", "geographic_level", "old_la_code", "la_name", "new_la_code", "region_code", "region_name"]


def _ees_common(path: Path, required: list[str]) -> pd.DataFrame:
    df = read_text_csv(path)
    for marker, renames in LAYOUT_RENAMES.items():
        if marker in df.columns:
            df = df.rename(columns=renames)
    df = df.rename(columns={k: v for k, v in COLUMN_RENAMES.items() if k in df.columns})
    require_columns(df, EES_GEOGRAPHY + required, path, COLUMN_RENAMES)
    return df


def _year(df: pd.DataFrame, source: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    year = pd.to_numeric(df["time_period"].str.strip().str[:4], errors="coerce")
    bad = year.isna()
    aside = set_aside_rows(df, bad, source, "time_period", "time period is not a year")
    df = df.loc[~bad].copy()
    df["year"] = year.loc[~bad].astype("int64")
    return df, aside


def _to_long(
    df: pd.DataFrame, measures: dict[str, str], source: str, publication: int, indicators: dict[str, str] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Melt value columns {column: measure} into long rows; set aside rows with unparseable cells.

    ``measure`` "*" takes the measure from the row's ``_measure``; ``indicators`` (wide files)
    gives each column's indicator id.
    """
    aside = []
    bad_any = pd.Series(False, index=df.index)
    bad_col = pd.Series("", index=df.index, dtype=object)
    parsed = {}
    for col in measures:
        value, flag, bad = parse_values(df[col])
        parsed[col] = (value, flag)
        bad_col = bad_col.where(~(bad & ~bad_any), col)
        bad_any |= bad
    aside.append(set_aside_rows(df, bad_any, source, bad_col, "value is neither a number nor a DfE symbol"))
    frames = []
    for col, measure in measures.items():
        value, flag = parsed[col]
        part = df.loc[~bad_any].copy()
        part["value"] = value.loc[~bad_any]
        part["flag"] = flag.loc[~bad_any]
        if indicators is not None:
            part["indicator"] = indicators[col]
        if measure == "*":  # measure given per row
            part["measure"] = part["_measure"]
        else:
            part["measure"] = measure
        frames.append(part)
    out = pd.concat(frames, ignore_index=True)
    out["source_file"] = source
    out["publication"] = publication
    return out, _concat(aside, SET_ASIDE_COLUMNS)


def _finish(df: pd.DataFrame) -> pd.DataFrame:
    out = df[INDICATOR_COLUMNS].copy()
    out["year"] = out["year"].astype("int64")
    out["publication"] = out["publication"].astype("int64")
    out["value"] = out["value"].astype("float64")
    for c in INDICATOR_COLUMNS:
        if c not in ("year", "publication", "value"):
            out[c] = out[c].astype("string")
    return out


def _label_map(df: pd.DataFrame, source: str, keys: pd.Series, mapping: dict, column: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    mapped = keys.map(mapping)
    unknown = mapped.isna()
    aside = set_aside_rows(df, unknown, source, column, "unrecognised label (add it to analysis/indicators.py)")
    return df.loc[~unknown].copy(), aside, mapped.loc[~unknown]


@dataclass(frozen=True)
class SourceFile:
    """One shipped file: where it is, what kind it is, and the publication year it comes from."""

    path: str  # relative to data/raw/public
    kind: str
    publication: int


def load_ees(spec: SourceFile, root: Path, lookup: pd.DataFrame) -> Loaded:
    """Load one Explore Education Statistics (long-format) CLA file into indicator rows."""
    path = root / spec.path
    source = spec.path
    kind = spec.kind
    if kind == "cla_numbers":
        df = _ees_common(path, ["population_count", "population_estimate", "number", "rate_per_10000"])
    elif kind in ("placement_stability", "new_placements"):
        df = _ees_common(path, ["cla_group", "characteristic", "number", "percentage"])
    elif kind == "net_gain":
        df = _ees_common(path, ["characteristic", "number"])
    elif kind == "missing":
        df = _ees_common(path, ["cla_group", "number"])
    elif kind in ind.CSC_WIDE:
        df = _ees_common(path, list(ind.CSC_WIDE[kind]))
    elif kind == "care_leavers":  # read as it is: its "breakdown" column is not the new-placements layout's
        df = read_text_csv(path)
        require_columns(df, EES_GEOGRAPHY + ["care_leaver_age", "breakdown", "care_leaver_count", "care_leaver_percent"], path)
    elif kind == "characteristics":
        df = read_text_csv(path)
        require_columns(
            df,
            [
                "time_period",
                "geographic_level",
                "new_la_code",
                "old_la_code",
                "la_name",
                "region_code",
                "region_name",
                "cla_group",
                "characteristic",
                "number",
                "percentage",
            ],
            path,
        )
    else:  # pragma: no cover - programming error
        raise ValueError(kind)

    rows_read = len(df)
    aside = []
    df, a = _year(df, source)
    aside.append(a)

    if kind == "cla_numbers":
        df, a, mapped = _label_map(df, source, df["population_count"].map(ind.label_key), ind.CLA_NUMBERS, "population_count")
        aside.append(a)
        df["indicator"] = mapped
        measures = {"number": "number", "rate_per_10000": "rate_per_10000", "population_estimate": "population"}
    elif kind == "placement_stability":
        keys = pd.Series(list(zip(df["cla_group"].map(ind.label_key), df["characteristic"].map(ind.label_key))), index=df.index)
        df, a, mapped = _label_map(df, source, keys, ind.STABILITY, "characteristic")
        aside.append(a)
        df["indicator"] = mapped.map(lambda t: t[0])
        role = mapped.map(lambda t: t[1])
        # the "Total children" row is the denominator of its group; its percentage (100) is dropped
        df["_measure_number"] = np.where(role == "denominator", "denominator", "number")
        df["_is_total"] = role == "denominator"
        measures = None
    elif kind == "new_placements":
        gkey = df["cla_group"].map(ind.label_key)
        ckey = df["characteristic"].map(ind.label_key)
        keys = pd.Series([ind.NEW_PLACEMENT_GROUPS.get(g, {}).get(c) for g, c in zip(gkey, ckey)], index=df.index)
        df, a, mapped = _label_map(df, source, keys.fillna("__unknown__"), {v: v for v in keys.dropna()}, "characteristic")
        aside.append(a)
        df["indicator"] = mapped
        measures = {"number": "number", "percentage": "percent"}
    elif kind == "net_gain":
        df, a, mapped = _label_map(df, source, df["characteristic"].map(ind.label_key), ind.NET_GAIN, "characteristic")
        aside.append(a)
        df["indicator"] = mapped
        measures = {"number": "number"}
    elif kind == "missing":
        df, a, mapped = _label_map(df, source, df["cla_group"].map(ind.label_key), ind.MISSING, "cla_group")
        aside.append(a)
        df["indicator"] = mapped.map(lambda t: t[0])
        df["_measure"] = mapped.map(lambda t: t[1])
        measures = {"number": "*"}
    elif kind in ind.CSC_WIDE:
        cols = ind.CSC_WIDE[kind]
        measures = {col: meas for col, (_, meas) in cols.items()}
        wide_indicators = {col: indicator for col, (indicator, _) in cols.items()}
    elif kind == "care_leavers":
        keys = pd.Series(list(zip(df["care_leaver_age"].map(ind.label_key), df["breakdown"].map(ind.label_key))), index=df.index)
        df, a, mapped = _label_map(df, source, keys, ind.CARE_LEAVERS, "breakdown")
        aside.append(a)
        df["indicator"] = mapped.map(lambda t: t[0])
        df["_is_total"] = mapped.map(lambda t: t[1]) == "denominator"
        measures = None
    else:  # characteristics
        group = df["cla_group"].map(ind.label_key).map(ind.CHARACTERISTIC_GROUPS)
        ckey = df["characteristic"].map(ind.label_key)
        is_total = ckey == "total"
        mapped_char = ckey.map(ind.CHARACTERISTICS)
        indicator = mapped_char.where(~is_total, group + "_total")
        indicator = indicator.where(group.notna())
        df, a, mapped = _label_map(df, source, indicator.fillna("__unknown__"), {v: v for v in indicator.dropna()}, "characteristic")
        aside.append(a)
        df["indicator"] = mapped
        measures = {"number": "number", "percentage": "percent"}

    df, a = attach_area(df, lookup, source)
    aside.append(a)

    if kind in ("placement_stability", "care_leavers"):
        n_col, pct_col = ("number", "percentage") if kind == "placement_stability" else ("care_leaver_count", "care_leaver_percent")
        totals = df[df["_is_total"]]
        values = df[~df["_is_total"]]
        long_totals, a1 = _to_long(totals, {n_col: "denominator"}, source, spec.publication)
        long_values, a2 = _to_long(values, {n_col: "number", pct_col: "percent"}, source, spec.publication)
        long = pd.concat([long_values, long_totals], ignore_index=True)
        aside += [a1, a2]
    elif kind in ind.CSC_WIDE:
        long, a = _to_long(df, measures, source, spec.publication, indicators=wide_indicators)
        aside.append(a)
    else:
        long, a = _to_long(df, measures, source, spec.publication)
        aside.append(a)

    aside_df = _concat(aside, SET_ASIDE_COLUMNS)
    table = _finish(long)
    return Loaded(table, aside_df, {source: rows_read}, {source: rows_read - len(aside_df)})


# ----------------------------------------------------------------------------- SFR wide files
SFR_SUBREGIONS = {"INNER LONDON": "E13000001", "OUTER LONDON": "E13000002"}


def load_sfr(spec: SourceFile, root: Path, lookup: pd.DataFrame) -> Loaded:
    """Load a 2015-2017 SFR wide file (one row per area) into the same indicator rows."""
    path = root / spec.path
    source = spec.path
    year = spec.publication
    df = read_text_csv(path)
    df = df.rename(columns={k: v for k, v in ind.SFR_COLUMN_RENAMES.items() if k in df.columns})
    require_columns(df, ["New_geog_code", "geog_l", "geog_c", "geog_n", f"CLA_Mar{year}"], path)
    rows_read = len(df)
    columns = {}
    unknown_cols = []
    for col in df.columns:
        if col == "_row" or col in ind.SFR_ID_COLUMNS:
            continue
        key = col.replace(str(year), "YYYY")
        if key in ind.SFR_COLUMNS:
            columns[col] = ind.SFR_COLUMNS[key]
        else:
            unknown_cols.append(col)
    if unknown_cols:
        raise InputError(f"unrecognised column(s) {', '.join(unknown_cols)} (map them in analysis/indicators.py)", path)
    level = df["geog_l"].str.strip().str.upper().map({"NATIONAL": "National", "REGION": "Regional", "LA": "Local authority"})
    # SFR50 (2017) leaves geog_l blank for the Isles of Scilly: an LA row by its codes
    la_like = df["geog_c"].str.strip().str.fullmatch(r"\d{3}") & df["New_geog_code"].str.match(r"E0[6-9]|E10")
    level = level.where(level.notna() | ~la_like, "Local authority")
    # Inner and Outer London carry London's region code in the SFR files; EES uses E13 codes.
    sub_region = df["geog_n"].str.strip().str.upper().map(SFR_SUBREGIONS)
    df["New_geog_code"] = sub_region.fillna(df["New_geog_code"])
    df = df.assign(
        time_period=str(year),
        geographic_level=level.fillna(df["geog_l"]),
        new_la_code=np.where(level == "Local authority", df["New_geog_code"], ""),
        old_la_code=np.where(level == "Local authority", df["geog_c"], ""),
        la_name=np.where(level == "Local authority", df["geog_n"], ""),
        region_code=np.where(level == "Regional", df["New_geog_code"], ""),
        region_name=np.where(level == "Regional", df["geog_n"].str.title().str.replace(" And ", " and ").str.replace(" Of ", " of "), ""),
        year=year,
    )
    aside = []
    df, a = attach_area(df, lookup, source)
    aside.append(a)
    long, a = _to_long(df, {col: "number" for col in columns}, source, year, indicators=columns)
    aside.append(a)
    aside_df = _concat(aside, SET_ASIDE_COLUMNS)
    return Loaded(_finish(long), aside_df, {source: rows_read}, {source: rows_read - len(aside_df)})


# ----------------------------------------------------------------------------- precedence
KEY = ["year", "area_code", "indicator", "measure"]


def apply_precedence(table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Where several publications give the same (year, area, indicator, measure), keep the latest.

    Returns the kept rows and a ``superseded`` table: each replaced row with the value that
    replaced it, its publication, and whether the value differed.
    """
    ordered = table.sort_values(KEY + ["publication", "source_file"], kind="mergesort")
    is_last = ~ordered.duplicated(KEY, keep="last")
    kept = ordered[is_last]
    dropped = ordered[~is_last]
    winners = kept[KEY + ["value", "flag", "publication", "source_file"]]
    sup = dropped.merge(winners, on=KEY, how="left", suffixes=("", "_kept"))
    same_pub = sup["publication"] == sup["publication_kept"]
    if same_pub.any():
        first = sup[same_pub].iloc[0]
        raise InputError(
            f"two files of the same publication ({first['publication']}) give {first['indicator']} "
            f"for {first['area_code']} in {first['year']}: {first['source_file']} and {first['source_file_kept']}"
        )
    differs = ~((sup["value"] == sup["value_kept"]) | (sup["value"].isna() & sup["value_kept"].isna())) | (
        sup["flag"].fillna("") != sup["flag_kept"].fillna("")
    )
    superseded = pd.DataFrame(
        {
            "year": sup["year"],
            "area_code": sup["area_code"],
            "area_name": sup["area_name"],
            "indicator": sup["indicator"],
            "measure": sup["measure"],
            "value": sup["value"],
            "flag": sup["flag"],
            "source_file": sup["source_file"],
            "publication": sup["publication"],
            "value_kept": sup["value_kept"],
            "flag_kept": sup["flag_kept"],
            "source_file_kept": sup["source_file_kept"],
            "publication_kept": sup["publication_kept"],
            "differs": differs.astype(bool),
        }
    ).reset_index(drop=True)
    kept = kept.sort_values(["indicator", "measure", "geographic_level", "area_code", "year"], kind="mergesort").reset_index(drop=True)
    return kept, superseded


# ----------------------------------------------------------------------------- other sources
def load_population(path: Path, source: str, lookup: pd.DataFrame) -> Loaded:
    """ONS mid-year population estimates, children aged 0-17, by area and year."""
    df = read_text_csv(path)
    require_columns(df, EES_GEOGRAPHY + ["age_group", "population_estimate"], path)
    rows_read = len(df)
    aside = []
    df, a = _year(df, source)
    aside.append(a)
    df, a = attach_area(df, lookup, source)
    aside.append(a)
    value, flag, bad = parse_values(df["population_estimate"])
    aside.append(set_aside_rows(df, bad, source, "population_estimate", "population is not a number"))
    df = df.assign(population=value, flag=flag).loc[~bad]
    df["age_group"] = "0-17"
    cols = [
        "year",
        "geographic_level",
        "area_code",
        "area_name",
        "new_la_code",
        "old_la_code",
        "la_name",
        "region_code",
        "region_name",
        "age_group",
        "population",
        "flag",
    ]
    out = df[cols].copy()
    out["year"] = out["year"].astype("int64")
    for c in cols:
        if c not in ("year", "population"):
            out[c] = out[c].astype("string")
    out = out.sort_values(["geographic_level", "area_code", "year"]).reset_index(drop=True)
    aside_df = _concat(aside, SET_ASIDE_COLUMNS)
    return Loaded(out, aside_df, {source: rows_read}, {source: rows_read - len(aside_df)})


RO3_SERVICE_LINES = {
    "Children Looked After": "cla_total",
    "Children Looked After of which residential care": "cla_residential",
    "Children Looked After of which fostering services": "cla_fostering",
    "Children Looked After of which asylum seeking children who are looked after": "cla_uasc",
    "Children Looked After of which other": "cla_other",
}
RO3_MEASURES = {
    "Employees (C1)": "employees",
    "Running Expenses (C2)": "running_expenses",
    "Total Expenditure (C3 = C1 + C2)": "total_expenditure",
    "Sales, Fees and Charges (C4)": "sales_fees_charges",
    "Other Income (C5)": "other_income",
    "Total Income (C6 = C4 + C5)": "total_income",
    "Net Current Expenditure (C7 = C3 - C6)": "net_current_expenditure",
}


def load_ro3(path: Path, source: str, lookup: pd.DataFrame) -> Loaded:
    """RO3 spending on children looked after (long CSV extracted from the RO3 .ods files).

    ``year`` is the financial year's end (2022-23 -> 2023), aligned with DfE reporting years that
    end on 31 March. Values are in £ thousand, as published.
    """
    df = read_text_csv(path)
    require_columns(df, ["financial_year", "ons_code", "local_authority", "class", "service_line", "measure", "value_gbp_thousand"], path)
    rows_read = len(df)
    aside = []
    fy = df["financial_year"].str.strip()
    year = pd.to_numeric(fy.str[:4], errors="coerce") + 1
    bad = year.isna() | ~fy.str.fullmatch(r"\d{4}-\d{2}")
    aside.append(set_aside_rows(df, bad, source, "financial_year", "financial year is not like 2022-23"))
    df = df.loc[~bad].copy()
    df["year"] = year.loc[~bad].astype("int64")
    service = df["service_line"].str.strip().map(RO3_SERVICE_LINES)
    measure = df["measure"].str.strip().map(RO3_MEASURES)
    unknown = service.isna() | measure.isna()
    aside.append(set_aside_rows(df, unknown, source, np.where(service.isna(), "service_line", "measure"), "unrecognised RO3 line or measure"))
    df = df.loc[~unknown].copy()
    df["service_line"], df["measure"] = service.loc[~unknown], measure.loc[~unknown]
    code = df["ons_code"].str.strip()
    known = code.isin(set(lookup["la_code"]))
    aside.append(set_aside_rows(df, ~known, source, "ons_code", "ONS code not in the LA lookup"))
    df, code = df.loc[known].copy(), code.loc[known]
    value, flag, bad = parse_values(df["value_gbp_thousand"])
    aside.append(set_aside_rows(df, bad, source, "value_gbp_thousand", "value is neither a number nor a symbol"))
    df = df.assign(value_gbp_thousand=value, flag=flag).loc[~bad]
    code = code.loc[~bad]
    info = lookup.set_index("la_code")
    current = code.map(canonical_code)
    out = pd.DataFrame(
        {
            "year": df["year"].astype("int64"),
            "financial_year": df["financial_year"].str.strip(),
            "new_la_code": current,
            "old_la_code": code.map(info["old_la_code"]),
            "la_name": current.map(info["la_name"]),
            "region_code": code.map(info["region_code"]),
            "region_name": code.map(info["region_name"]),
            "ro3_name": df["local_authority"].str.strip(),
            "la_class": df["class"].str.strip(),
            "service_line": df["service_line"],
            "measure": df["measure"],
            "value_gbp_thousand": df["value_gbp_thousand"].astype("float64"),
            "flag": df["flag"],
        }
    )
    for c in out.columns:
        if c not in ("year", "value_gbp_thousand"):
            out[c] = out[c].astype("string")
    out = out.sort_values(["new_la_code", "year", "service_line", "measure"]).reset_index(drop=True)
    aside_df = _concat(aside, SET_ASIDE_COLUMNS)
    return Loaded(out, aside_df, {source: rows_read}, {source: rows_read - len(aside_df)})


def load_statistical_neighbours(path_2021: Path, src_2021: str, path_2025: Path, src_2025: str, lookup: pd.DataFrame) -> Loaded:
    """DfE statistical neighbours, 2021 and 2025 models: one row per LA and neighbour rank."""
    frames, aside, read, kept = [], [], {}, {}
    # 2021: repeated 'SNP' headers and a trailing empty column; read positionally.
    raw21 = read_text_csv(path_2021)
    cols = list(raw21.columns)
    if len(cols) < 25 or not str(cols[0]).lower().startswith("la num"):
        raise InputError("expected 'LA num', 'LA Name', ... then SN1, SNP ... SN10, SNP columns", path_2021)
    long21 = []
    for r in range(10):
        long21.append(
            pd.DataFrame(
                {
                    "_row": raw21["_row"],
                    "la": raw21.iloc[:, 0].str.strip(),
                    "rank": r + 1,
                    "neighbour": raw21.iloc[:, 5 + 2 * r].str.strip(),
                    "closeness": raw21.iloc[:, 6 + 2 * r].str.strip(),
                }
            )
        )
    frames.append(("2021", src_2021, raw21, pd.concat(long21, ignore_index=True)))
    raw25 = read_text_csv(path_2025)
    require_columns(raw25, ["old_la_code"] + [f"SN_{i}" for i in range(1, 11)], path_2025)
    long25 = []
    for r in range(1, 11):
        long25.append(
            pd.DataFrame(
                {
                    "_row": raw25["_row"],
                    "la": raw25["old_la_code"].str.strip(),
                    "rank": r,
                    "neighbour": raw25[f"SN_{r}"].str.strip(),
                    "closeness": raw25.get(f"SN_{r}P", pd.Series("", index=raw25.index)).str.strip(),
                }
            )
        )
    frames.append(("2025", src_2025, raw25, pd.concat(long25, ignore_index=True)))

    current_first = lookup.sort_values("status", key=lambda s: s.ne("current")).drop_duplicates("old_la_code")
    old_to_code = current_first.set_index("old_la_code")["la_code"].map(canonical_code)
    info = lookup.set_index("la_code")
    out = []
    for model, source, raw, long in frames:
        read[source] = len(raw)
        la_code = long["la"].map(old_to_code)
        nb_code = long["neighbour"].map(old_to_code)
        bad = la_code.isna() | nb_code.isna()
        bad_rows = set(long.loc[bad, "_row"])
        raw_bad = raw["_row"].isin(bad_rows)
        own = raw.iloc[:, 0].str.strip() if model == "2021" else raw["old_la_code"].str.strip()
        col = np.where(own.map(old_to_code).isna(), raw.columns[0], "SN_*")
        reason = np.where(own == "", "no LA code (a heading or note row)", "old LA code not in the LA lookup")
        aside.append(set_aside_rows(raw, raw_bad, source, col, reason))
        kept[source] = len(raw) - int(raw_bad.sum())
        good = long[~long["_row"].isin(bad_rows)]
        out.append(
            pd.DataFrame(
                {
                    "model": model,
                    "new_la_code": good["la"].map(old_to_code),
                    "old_la_code": good["la"],
                    "la_name": good["la"].map(old_to_code).map(info["la_name"]),
                    "rank": good["rank"].astype("int64"),
                    "neighbour_la_code": good["neighbour"].map(old_to_code),
                    "neighbour_old_la_code": good["neighbour"],
                    "neighbour_name": good["neighbour"].map(old_to_code).map(info["la_name"]),
                    "closeness": good["closeness"].str.strip(),
                }
            )
        )
    table = pd.concat(out, ignore_index=True)
    for c in table.columns:
        if c != "rank":
            table[c] = table[c].astype("string")
    table = table.sort_values(["model", "new_la_code", "rank"]).reset_index(drop=True)
    return Loaded(table, _concat(aside, SET_ASIDE_COLUMNS), read, kept)


def _as_at_year(text: pd.Series) -> pd.Series:
    return pd.to_numeric(text.str.extract(r"(\d{4})\s*$")[0], errors="coerce")


def load_ofsted_places(path: Path, source: str, lookup: pd.DataFrame) -> Loaded:
    """Ofsted providers and places by LA (where the provider is), provision type and sector."""
    df = read_text_csv(path)
    require_columns(
        df,
        ["as_at", "local_authority", "provision_type", "sector", "registration_status", "providers", "places", "providers_with_places_reported"],
        path,
    )
    rows_read = len(df)
    aside = []
    year = _as_at_year(df["as_at"])
    bad = year.isna()
    aside.append(set_aside_rows(df, bad, source, "as_at", "date is not like '31 March 2024'"))
    df = df.loc[~bad].copy()
    df["year"] = year.loc[~bad].astype("int64")
    codes = match_names_by_year(df["local_authority"], df["year"], lookup)
    unmatched = codes["la_code"].isna()
    aside.append(set_aside_rows(df, unmatched, source, "local_authority", codes["reason"]))
    df, codes = df.loc[~unmatched].copy(), codes.loc[~unmatched]
    values = {}
    bad_any = pd.Series(False, index=df.index)
    for col in ("providers", "places", "providers_with_places_reported"):
        v, _, b = parse_values(df[col])
        values[col] = v
        bad_any |= b
    aside.append(set_aside_rows(df, bad_any, source, "places", "count is not a number"))
    info = lookup.set_index("la_code")
    code = codes["la_code"].loc[~bad_any]
    current = code.map(canonical_code)
    d = df.loc[~bad_any]
    ptype = d["provision_type"].str.strip()
    out = pd.DataFrame(
        {
            "year": d["year"].astype("int64"),
            "new_la_code": current,
            "old_la_code": code.map(info["old_la_code"]),
            "la_name": current.map(info["la_name"]),
            "region_code": code.map(info["region_code"]),
            "region_name": code.map(info["region_name"]),
            "provision_type": ptype.str[0].str.upper() + ptype.str[1:].str.lower(),
            "sector": d["sector"].str.strip(),
            "registration_status": d["registration_status"].str.strip(),
            "providers": values["providers"].loc[~bad_any].astype("float64"),
            "places": values["places"].loc[~bad_any].astype("float64"),
            "providers_with_places_reported": values["providers_with_places_reported"].loc[~bad_any].astype("float64"),
        }
    )
    # "Children's Home" and "Children's home" (and similar) are the same type: merge after normalising case
    keys = [c for c in out.columns if c not in ("providers", "places", "providers_with_places_reported")]
    out = out.groupby(keys, dropna=False, sort=True).sum(min_count=1).reset_index()
    for c in keys:
        if c != "year":
            out[c] = out[c].astype("string")
    aside_df = _concat(aside, SET_ASIDE_COLUMNS)
    return Loaded(out.reset_index(drop=True), aside_df, {source: rows_read}, {source: rows_read - len(aside_df)})


def match_names_by_year(names: pd.Series, years: pd.Series, lookup: pd.DataFrame) -> pd.DataFrame:
    """Match publisher LA names to the code valid in each reporting year.

    Dorset before the 2019 change is Dorset County Council (E10000009); from 2020 it is the
    unitary Dorset (E06000059). Names held by one LA only match regardless of year.
    """
    from analysis.io.geography import LA_CHANGES

    result = match_names(names, lookup)
    # names that map to a successor code before it existed -> the predecessor with that name
    for change in LA_CHANGES:
        if change.kind != "boundary":
            continue
        for new in change.new:
            early = (result["la_code"] == new) & (years < change.first_reporting_year)
            if early.any():
                new_name = lookup.loc[lookup["la_code"] == new, "name_key"].iloc[0]
                olds = lookup[lookup["la_code"].isin(change.old) & (lookup["name_key"] == new_name)]
                if not olds.empty:
                    result.loc[early, "la_code"] = olds["la_code"].iloc[0]
                else:
                    result.loc[early, "la_code"] = pd.NA
                    result.loc[early, "reason"] = f"LA did not exist before {change.first_reporting_year}"
    return result


# ----------------------------------------------------------------------------- RO3 spreadsheets
RO3_CLASSES = ("UA", "MD", "LB", "SC")


def read_ro3_ods(path: Path) -> pd.DataFrame:
    """Read the 'Children Looked After' columns of an RO3 .ods into the long layout of the
    derived CSV (financial_year, e_code, ons_code, local_authority, class, service_line,
    measure, value_gbp_thousand), all as strings.

    Reads the single-header layout (2024-25 onwards: one header row with columns named
    "Children's social care - <service line> - <measure>"). Older layouts with a multi-row
    header raise :class:`InputError`; ingest uses ``derived/`` for them. Takes about 15 s.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", path)
    try:
        sheets = pd.read_excel(path, sheet_name=None, header=None, engine="odf", dtype=str)
    except Exception as exc:  # odfpy raises several unrelated types for a damaged file
        raise InputError(f"cannot be read as an OpenDocument spreadsheet ({type(exc).__name__}: {exc})", path) from None
    data_sheets = [name for name in sheets if name.startswith("RO3_LA_Data")]
    if not data_sheets:
        raise InputError(f"no sheet named RO3_LA_Data*; sheets: {', '.join(sheets)}", path)
    sheet = sheets[data_sheets[0]]
    header_rows = [i for i in range(min(20, len(sheet))) if "ONS Code" in sheet.iloc[i].astype(str).str.strip().tolist()]
    if not header_rows:
        raise InputError("no header row with 'ONS Code' in the first 20 rows", path)
    h = header_rows[0]
    header = sheet.iloc[h].astype(str).str.strip().tolist()
    fy = re.search(r"(\d{4})-(\d{2})", str(sheet.iloc[0, 0]) + " " + data_sheets[0])
    if not fy:
        m = re.search(r"(\d{4})(\d{2})$", data_sheets[0])
        financial_year = f"{m.group(1)}-{m.group(2)}" if m else ""
    else:
        financial_year = f"{fy.group(1)}-{fy.group(2)}"
    cla_cols = {}
    for j, name in enumerate(header):
        parts = [s.strip() for s in name.split(" - ", 2)]
        if len(parts) == 3 and parts[1] in RO3_SERVICE_LINES and parts[2] in RO3_MEASURES:
            cla_cols[j] = (parts[1], parts[2])
    if len(cla_cols) != len(RO3_SERVICE_LINES) * len(RO3_MEASURES):
        raise InputError(
            f"found {len(cla_cols)} 'Children Looked After' columns, expected "
            f"{len(RO3_SERVICE_LINES) * len(RO3_MEASURES)} (an older multi-row header layout? use derived/ instead)",
            path,
        )
    col = {name: header.index(name) for name in ("E-code", "ONS Code", "Local authority", "Class")}
    body = sheet.iloc[h + 1 :]
    body = body[
        body.iloc[:, col["Class"]].astype(str).str.strip().isin(RO3_CLASSES)
        & body.iloc[:, col["ONS Code"]].astype(str).str.strip().str.fullmatch(r"E\d{8}")  # not class totals
    ]
    rows = []
    for j, (line, measure) in cla_cols.items():
        rows.append(
            pd.DataFrame(
                {
                    "financial_year": financial_year,
                    "e_code": body.iloc[:, col["E-code"]].str.strip(),
                    "ons_code": body.iloc[:, col["ONS Code"]].str.strip(),
                    "local_authority": body.iloc[:, col["Local authority"]].str.strip(),
                    "class": body.iloc[:, col["Class"]].str.strip(),
                    "service_line": line,
                    "measure": measure,
                    "value_gbp_thousand": body.iloc[:, j].astype(str).str.strip(),
                }
            )
        )
    return pd.concat(rows, ignore_index=True)
