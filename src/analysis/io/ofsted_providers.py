"""Ofsted's provider-level files (one row per registered social care provider at 31 March 2019-2025):
the homes in each LA by URN, so a reader can see homes opened and closed between years, short-break-only
homes apart from those that take looked-after children, and the homes' latest overall effectiveness.

Only what the papers need is kept: year, URN, provision type, status, the LA where the provider is
(current code), sector, places, the short-break-only flag (from 2021) and the latest overall judgement.
Names, addresses and owners are not kept. The files differ by year (a title block above the header from
2022; cp1252 and Mac Roman bytes in two of them): the header row is found by its first cell.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.errors import InputError
from analysis.io.geography import canonical_code
from analysis.io.public_data import match_names_by_year
from analysis.io.public_read import Loaded, parse_values, read_text_csv, require_columns, set_aside_rows

FOLDER = "ofsted/providers"
FILE = re.compile(r"provider_at_march_(\d{4})\.csv$")
RATING_COLUMN = "Overall experiences and progress of children and young people"
#: Ofsted's judgements in the paper's words (case and wording vary by year)
RATINGS = {
    "outstanding": "Outstanding",
    "good": "Good",
    "requires improvement to be good": "Requires improvement",
    "requires improvement": "Requires improvement",
    "inadequate": "Inadequate",
}
NOT_INSPECTED = "not yet inspected"


def files(raw: Path) -> list[tuple[int, str]]:
    """The provider files shipped, as (year, path relative to data/raw/public), in year order."""
    folder = raw / FOLDER
    out = sorted((int(m.group(1)), f"{FOLDER}/{p.name}") for p in folder.glob("provider_at_march_*.csv") if (m := FILE.search(p.name)))
    return out


def _header_row(path: Path) -> int:
    """The 0-based line of the header ("Web link, URN, ..."): the files put 1 to 4 lines above it."""
    with open(path, "rb") as fh:
        for i, line in enumerate(fh):
            if line.lstrip(b"\xef\xbb\xbf").startswith(b"Web link"):
                return i
            if i > 20:
                break
    raise InputError("no header row starting 'Web link' in the first 20 lines (is this an Ofsted provider-level file?)", path)


def load_year(path: Path, source: str, year: int, lookup: pd.DataFrame) -> Loaded:
    """One year's file: rows kept, rows set aside with their reason (LA not matched, places not a number)."""
    df = read_text_csv(path, header_row=_header_row(path))
    # the judgement's column is named differently in 2022 ("Latest full inspection overall experiences ...")
    named = [c for c in df.columns if RATING_COLUMN.lower() in c.lower()]
    if named:
        df = df.rename(columns={named[0]: RATING_COLUMN})
    require_columns(df, ["URN", "Provision type", "Registration status", "Local authority", "Sector", "Places", RATING_COLUMN], path)
    rows_read = len(df)
    codes = match_names_by_year(df["Local authority"].str.strip(), pd.Series(year, index=df.index), lookup)
    unmatched = codes["la_code"].isna()
    aside = [set_aside_rows(df, unmatched, source, "Local authority", codes["reason"])]
    df, codes = df.loc[~unmatched], codes.loc[~unmatched]
    places, _, bad = parse_values(df["Places"].replace("", "0"))
    aside.append(set_aside_rows(df, bad, source, "Places", "places is not a number"))
    keep = ~bad
    d, code = df.loc[keep], codes["la_code"].loc[keep]
    ptype = d["Provision type"].str.strip()
    rating = d[RATING_COLUMN].str.strip().str.lower().map(RATINGS).fillna(NOT_INSPECTED)
    flag = d["Short-break-only children's home"].str.strip().str.lower() if "Short-break-only children's home" in d else None
    out = pd.DataFrame(
        {
            "year": np.int64(year),
            "urn": d["URN"].str.strip(),
            "provision_type": ptype.str[0].str.upper() + ptype.str[1:].str.lower(),
            "registration_status": d["Registration status"].str.strip(),
            "new_la_code": code.map(canonical_code),
            "sector": d["Sector"].str.strip(),
            "places": places.loc[keep].astype("float64"),
            # the column names the home when it is one ("Short-break-only children's home", "Short breaks only"), else blank
            "short_break_only": flag.str.contains("short", na=False).astype("boolean")
            if flag is not None
            else pd.array([pd.NA] * len(d), dtype="boolean"),
            "rating": rating,
        }
    )
    set_aside = pd.concat([a for a in aside if not a.empty], ignore_index=True) if any(not a.empty for a in aside) else aside[0]
    return Loaded(out.reset_index(drop=True), set_aside, {source: rows_read}, {source: len(out)})


def load(raw: Path, lookup: pd.DataFrame) -> Loaded:
    """Every year's file, stacked (one row per provider and year)."""
    loads = [load_year(raw / src, src, year, lookup) for year, src in files(raw)]
    if not loads:
        raise InputError("no Ofsted provider files (provider_at_march_YYYY.csv)", raw / FOLDER)
    table = pd.concat([ld.table for ld in loads], ignore_index=True)
    aside = [ld.set_aside for ld in loads if not ld.set_aside.empty]
    return Loaded(
        table,
        pd.concat(aside, ignore_index=True) if aside else loads[0].set_aside,
        {k: v for ld in loads for k, v in ld.rows_read.items()},
        {k: v for ld in loads for k, v in ld.rows_kept.items()},
    )
