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

import re
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.errors import InputError
from analysis.io.geography import canonical_code, match_names
from analysis.io.public_ees import EES_GEOGRAPHY, KEY, _year, apply_precedence, load_ees, load_sfr
from analysis.io.public_read import (
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

__all__ = [
    "KEY",
    "Loaded",
    "SET_ASIDE_COLUMNS",
    "SourceFile",
    "apply_precedence",
    "load_ees",
    "load_sfr",
    "parse_values",
    "read_text_csv",
    "require_columns",
]


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
