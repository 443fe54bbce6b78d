"""Placement weekly costs: the small CSV a council supplies beside its 903 (the 903 has no costs).

``data/raw/costs/placement_costs.csv`` (or any ``.csv``/``.xlsx`` in that folder), one row per
placement, columns:

=================  ==================================================================================
``CHILD``          the child's ID as in the 903 (pseudonymised at ingest like the 903 itself)
``PLACEMENT_START``  DD/MM/YYYY: the placement's first day (the DECOM of its first episode)
``WEEKLY_COST``    £ a week (gross cost to the council of the placement, before any contribution)
``PROVIDER``       optional: PR0-PR5 (the 903's own provider code is used in the analysis)
``FUNDING``        optional: ``LA`` (default) or ``joint`` (health or education contribute)
=================  ==================================================================================

:func:`validate` sets aside, with file, row, column and reason: a blank child, a start that is not
a date, a cost that is not a number, zero or negative, or implausibly large (over
:data:`MAX_WEEKLY_COST`: the largest single placement the LGA's 2023 survey found was £63,000 a
week), an unknown provider or funding code, and a second row for the same child and start.
:func:`match` then joins each cost to the placement the child was in on that date; rows with no
such placement, and later rows for a placement already costed, are set aside too. Counts reconcile:
rows in = rows matched + rows set aside.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from analysis.errors import InputError
from analysis.io.dates import parse_dates

COST_COLUMNS = ["CHILD", "PLACEMENT_START", "WEEKLY_COST", "PROVIDER", "FUNDING"]
REQUIRED = ("CHILD", "PLACEMENT_START", "WEEKLY_COST")
MAX_WEEKLY_COST = 75_000.0
FUNDING = {"LA", "JOINT"}
PROVIDERS = {"PR0", "PR1", "PR2", "PR3", "PR4", "PR5"}
SET_ASIDE_COLUMNS = ["file", "row", "column", "reason"]


def find_cost_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(f for f in folder.iterdir() if f.is_file() and f.suffix.lower() in (".csv", ".xlsx") and not f.name.startswith("."))


def read(folder: Path) -> pd.DataFrame:
    """Every cost file in the folder as text, with ``_file`` and ``_row``; missing required columns are an error."""
    from analysis.io.ssda903_read import read_csv_text, read_excel_sheets
    from analysis.io.ssda903_schema import normalise_header

    frames = []
    for path in find_cost_files(folder):
        if path.suffix.lower() == ".xlsx":
            parts = [(f"{path.name}[{sheet}]", df) for sheet, df in read_excel_sheets(path)]
        else:
            parts = [(path.name, read_csv_text(path)[0])]
        for name, df in parts:
            df.columns = [normalise_header(c) if c != "_row" else c for c in df.columns]
            missing = [c for c in REQUIRED if c not in df.columns]
            if missing:
                raise InputError(
                    f"the placement cost file lacks column(s) {', '.join(missing)} (needs {', '.join(COST_COLUMNS)}; "
                    "PROVIDER and FUNDING are optional)",
                    path,
                )
            for c in ("PROVIDER", "FUNDING"):
                if c not in df.columns:
                    df[c] = ""
            frames.append(df[[*COST_COLUMNS, "_row"]].assign(_file=name))
    if not frames:
        return pd.DataFrame(columns=[*COST_COLUMNS, "_row", "_file"])
    return pd.concat(frames, ignore_index=True)


def validate(raw: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows kept (with ``start``, ``weekly_cost``, ``funding``) and rows set aside with the reason."""

    df = raw.reset_index(drop=True)
    start = parse_dates(df["PLACEMENT_START"])
    cost = pd.to_numeric(df["WEEKLY_COST"].str.replace(",", "", regex=False).str.lstrip("£"), errors="coerce")
    provider = df["PROVIDER"].fillna("").str.upper()
    funding = df["FUNDING"].fillna("").str.upper()
    checks = [
        ("CHILD", df["CHILD"].fillna("").str.strip() == "", "CHILD is blank"),
        ("PLACEMENT_START", start.isna(), "PLACEMENT_START is not a date in DD/MM/YYYY form"),
        ("WEEKLY_COST", cost.isna(), "WEEKLY_COST is not a number"),
        ("WEEKLY_COST", cost <= 0, "WEEKLY_COST is zero or negative"),
        ("WEEKLY_COST", cost > MAX_WEEKLY_COST, f"WEEKLY_COST is over £{MAX_WEEKLY_COST:,.0f} a week (implausibly large; check the units)"),
        ("PROVIDER", (provider != "") & ~provider.isin(PROVIDERS), "PROVIDER is not PR0-PR5"),
        ("FUNDING", (funding != "") & ~funding.isin(FUNDING), "FUNDING is not LA or joint"),
    ]
    reason = pd.Series("", index=df.index)
    column = pd.Series("", index=df.index)
    for col, mask, text in checks:
        new = mask.fillna(False).astype(bool) & (reason == "")
        reason[new], column[new] = text, col
    dup = (reason == "") & df.assign(_s=start).duplicated(["CHILD", "_s"], keep="first")
    reason[dup], column[dup] = "a second cost row for the same child and placement start", "CHILD"
    bad = reason != ""
    aside = pd.DataFrame({"file": df.loc[bad, "_file"], "row": df.loc[bad, "_row"].astype(int), "column": column[bad], "reason": reason[bad]})
    kept = pd.DataFrame(
        {
            "CHILD": df.loc[~bad, "CHILD"].str.strip(),
            "start": start[~bad],
            "weekly_cost": cost[~bad].astype(float),
            "funding": funding[~bad].replace("", "LA").str.replace("JOINT", "joint"),
            "_file": df.loc[~bad, "_file"],
            "_row": df.loc[~bad, "_row"].astype(int),
        }
    )
    return kept.reset_index(drop=True), aside.reset_index(drop=True)


def match(costs: pd.DataFrame, placements: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each cost row joined to the placement the child was in on its date (start on or before it, not
    yet ended); one cost per placement (the earliest). ``costs`` has ``child`` (pseudonymised)."""
    left = costs.assign(child=costs["child"].astype(str)).astype({"child": "str"}).sort_values("start").reset_index(drop=True)
    left["_i"] = np.arange(len(left))
    right = placements[["child", "period", "placement", "start", "end"]].rename(columns={"start": "p_start", "end": "p_end"})
    right = right.astype({"child": "str"}).sort_values("p_start")
    m = pd.merge_asof(left, right, left_on="start", right_on="p_start", by="child", direction="backward")
    inside = m["p_start"].notna() & (m["p_end"].isna() | (m["start"] <= m["p_end"]))
    later = inside & m.sort_values(["start", "_i"]).duplicated(["child", "period", "placement"], keep="first").reindex(m.index)
    reason = np.select(
        [~inside, later],
        [
            "no placement in the 903 data for this child on this date",
            "a later cost row for a placement already costed (the cost at the start is used)",
        ],
        default="",
    )
    bad = reason != ""
    aside = pd.DataFrame({"file": m.loc[bad, "_file"], "row": m.loc[bad, "_row"].astype(int), "column": "PLACEMENT_START", "reason": reason[bad]})
    kept = m.loc[~bad, ["child", "period", "placement", "start", "weekly_cost", "funding"]].rename(columns={"start": "cost_date"})
    kept = kept.astype({"period": int, "placement": int}).sort_values(["child", "period", "placement"]).reset_index(drop=True)
    return kept, aside.sort_values(["file", "row"]).reset_index(drop=True)
