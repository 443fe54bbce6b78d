"""The DfE's children looked after indicators: Explore Education Statistics files (2018 on) and the
older SFR tables, put in one long form, with the precedence between them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from analysis.errors import InputError
from analysis.io import indicators as ind
from analysis.io.public_read import (
    COLUMN_RENAMES,
    INDICATOR_COLUMNS,
    LAYOUT_RENAMES,
    SET_ASIDE_COLUMNS,
    Loaded,
    SourceFile,
    _concat,
    attach_area,
    parse_values,
    read_text_csv,
    require_columns,
    set_aside_rows,
)

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
