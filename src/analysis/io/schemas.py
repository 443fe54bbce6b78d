"""The documented schema of every processed table: column, type, meaning.

Checked when a table is written (by ingest) and when it is read (by papers), so a change in one
stage that the next does not expect fails loudly at the boundary.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from analysis.errors import InputError

_AREA = [
    ("year", "int64", "reporting year ending 31 March (e.g. 2024 = year to 31 March 2024)"),
    ("geographic_level", "string", "national, regional or local_authority"),
    ("area_code", "string", "E92000001 for England, E12... for a region, the current LA code for an LA"),
    ("area_name", "string", "England, the region name, or the LA name"),
    ("new_la_code", "string", "current 9-character LA code (after code changes); blank for national/regional rows"),
    ("old_la_code", "string", "DfE 3-digit LA code"),
    ("la_name", "string", "LA name as in the LA lookup"),
    ("region_code", "string", "region code (E12...)"),
    ("region_name", "string", "region name"),
]

SCHEMAS: dict[str, list[tuple[str, str, str]]] = {
    "la_indicators": _AREA
    + [
        ("indicator", "string", "indicator id (see indicators table)"),
        ("measure", "string", "number, percent, rate_per_10000, population, denominator or average"),
        ("value", "float64", "the published value; missing where suppressed or not applicable"),
        ("flag", "string", "DfE symbol where the value is missing: c, z, x, k, low, u"),
        ("source_file", "string", "file under data/raw/public/ the value came from"),
        ("publication", "int64", "reporting year of the publication the value came from (later wins)"),
    ],
    "superseded": [
        ("year", "int64", "reporting year"),
        ("area_code", "string", "area code"),
        ("area_name", "string", "area name"),
        ("indicator", "string", "indicator id"),
        ("measure", "string", "measure"),
        ("value", "float64", "value in the earlier publication"),
        ("flag", "string", "symbol in the earlier publication"),
        ("source_file", "string", "earlier file"),
        ("publication", "int64", "earlier publication year"),
        ("value_kept", "float64", "value kept (later publication)"),
        ("flag_kept", "string", "symbol kept"),
        ("source_file_kept", "string", "later file"),
        ("publication_kept", "int64", "later publication year"),
        ("differs", "bool", "True where the later publication revised the value"),
    ],
    "indicators": [
        ("indicator", "string", "indicator id"),
        ("topic", "string", "source topic"),
        ("label", "string", "published label (normalised) or column the id comes from"),
        ("description", "string", "what it counts"),
        ("denominator", "string", "indicator id of the denominator for proportions, if any"),
    ],
    "ro3_spend": [
        ("year", "int64", "financial year end (2022-23 -> 2023)"),
        ("financial_year", "string", "financial year as published"),
        ("new_la_code", "string", "current LA code"),
        ("old_la_code", "string", "DfE 3-digit LA code"),
        ("la_name", "string", "LA name"),
        ("region_code", "string", "region code"),
        ("region_name", "string", "region name"),
        ("ro3_name", "string", "authority name as in RO3"),
        ("la_class", "string", "RO3 authority class: UA, MD, LB, SC"),
        ("service_line", "string", "cla_total, cla_residential, cla_fostering, cla_uasc, cla_other"),
        (
            "measure",
            "string",
            "employees, running_expenses, total_expenditure, sales_fees_charges, other_income, total_income, net_current_expenditure",
        ),
        ("value_gbp_thousand", "float64", "£ thousand, as published"),
        ("flag", "string", "symbol where missing ([x] = not available)"),
    ],
    "population": _AREA
    + [
        ("age_group", "string", "0-17"),
        ("population", "float64", "ONS mid-year estimate of children aged 0-17 (mid-year of the calendar year)"),
        ("flag", "string", "symbol where missing"),
    ],
    "statistical_neighbours": [
        ("model", "string", "2021 or 2025 DfE statistical neighbour model"),
        ("new_la_code", "string", "current LA code"),
        ("old_la_code", "string", "DfE 3-digit LA code as in the model"),
        ("la_name", "string", "LA name"),
        ("rank", "int64", "1 = closest neighbour"),
        ("neighbour_la_code", "string", "neighbour's current LA code"),
        ("neighbour_old_la_code", "string", "neighbour's 3-digit code as in the model"),
        ("neighbour_name", "string", "neighbour's name"),
        ("closeness", "string", "closeness label as published (Very Close ... Not Close)"),
    ],
    "ofsted_places": [
        ("year", "int64", "year of the 31 March snapshot"),
        ("new_la_code", "string", "current LA code of the LA where the provider is located"),
        ("old_la_code", "string", "DfE 3-digit LA code"),
        ("la_name", "string", "LA name"),
        ("region_code", "string", "region code"),
        ("region_name", "string", "region name"),
        ("provision_type", "string", "Ofsted provision type (case normalised)"),
        ("sector", "string", "Local Authority, Private, Voluntary, Health Authority, Academy"),
        ("registration_status", "string", "Active or Suspended"),
        ("providers", "float64", "number of providers"),
        ("places", "float64", "registered places (blank for agencies)"),
        ("providers_with_places_reported", "float64", "providers with places reported"),
    ],
    "ofsted_providers": [
        ("year", "int64", "year of the 31 March snapshot"),
        ("urn", "string", "Ofsted's unique reference number of the provider"),
        ("provision_type", "string", "Ofsted provision type (case normalised)"),
        ("registration_status", "string", "Active, Suspended, ..."),
        ("new_la_code", "string", "current LA code of the LA where the provider is located"),
        ("sector", "string", "Local Authority, Private, Voluntary, Health Authority, Academy"),
        ("places", "float64", "registered places (0 where none are given: agencies)"),
        ("short_break_only", "boolean", "a short-break-only children's home (Ofsted's flag, from 2021; blank before)"),
        ("rating", "string", "latest overall experiences and progress judgement, or 'not yet inspected'"),
    ],
    "la_lookup": [
        ("la_code", "string", "9-character LA code as used at some time"),
        ("current_la_code", "string", "current code for the same area (differs after a code change)"),
        ("old_la_code", "string", "DfE 3-digit LA code"),
        ("la_name", "string", "LA name"),
        ("region_code", "string", "region code"),
        ("region_name", "string", "region name"),
        ("status", "string", "current, code replaced, or ceased (boundary change)"),
        ("series_break_year", "Int64", "first reporting year of an LA created by a boundary change"),
        ("predecessors", "string", "codes of the LAs it was formed from"),
        ("successors", "string", "codes of the LAs that replaced it"),
        ("change_note", "string", "what changed"),
        ("name_key", "string", "normalised name used for matching"),
    ],
    "set_aside": [
        ("source_file", "string", "file under data/raw/public/"),
        ("row", "int64", "line number in the file (header = line 1)"),
        ("column", "string", "column that failed"),
        ("reason", "string", "why the row was set aside"),
        ("record", "string", "the row as read (JSON, truncated)"),
    ],
}


def conform(name: str, df: pd.DataFrame) -> pd.DataFrame:
    """Return ``df`` with exactly the schema's columns, in order, cast to the schema's types."""
    schema = SCHEMAS[name]
    cols = [c for c, _, _ in schema]
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ValueError(f"table {name}: missing columns {missing}")
    out = df[cols].copy()
    for col, dtype, _ in schema:
        out[col] = out[col].astype(dtype)
    return out.reset_index(drop=True)


def check(name: str, df: pd.DataFrame, path: Path | None = None) -> None:
    """Raise if ``df`` does not have exactly the documented columns and types."""
    schema = SCHEMAS[name]
    expected = [c for c, _, _ in schema]
    if list(df.columns) != expected:
        raise InputError(
            f"table '{name}' has columns {list(df.columns)}, expected {expected}; re-run `analysis ingest`",
            path,
        )
    for col, dtype, _ in schema:
        if str(df[col].dtype) != dtype and not (dtype == "string" and str(df[col].dtype) in ("string", "str")):
            raise InputError(
                f"table '{name}' column '{col}' has type {df[col].dtype}, expected {dtype}; re-run `analysis ingest`",
                path,
            )


def describe_markdown() -> str:
    """The schemas as Markdown (written next to the processed tables)."""
    lines = ["# Processed tables", "", "Written by `analysis ingest`; do not edit by hand.", ""]
    for name, schema in SCHEMAS.items():
        lines += [f"## `{name}.parquet`", "", "| column | type | meaning |", "|---|---|---|"]
        lines += [f"| `{c}` | {t} | {m} |" for c, t, m in schema]
        lines.append("")
    return "\n".join(lines)
