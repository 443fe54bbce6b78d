"""The SSDA903 tables as the DfE defines them: each table's columns and the key columns that identify it, the
date columns, the tables an analysis needs, and how a table is recognised from its columns.

Kept apart from reading and checking (:mod:`analysis.io.ssda903`) so that the XML reader and the DfE's rules
can use the schema without importing the reader, which imports them.
"""

from __future__ import annotations

from collections.abc import Iterable

#: the columns of each table, as DfE names them (CSV). The first ``key`` columns identify it.
TABLES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # name: (key columns that identify the table, all columns)
    "header": (("CHILD", "SEX", "DOB", "ETHNIC"), ("CHILD", "SEX", "DOB", "ETHNIC", "UPN", "MOTHER", "MC_DOB")),
    "episodes": (
        ("CHILD", "DECOM", "RNE", "LS", "PLACE"),
        ("CHILD", "DECOM", "RNE", "LS", "CIN", "PLACE", "PLACE_PROVIDER", "DEC", "REC", "REASON_PLACE_CHANGE", "HOME_POST", "PL_POST", "URN"),
    ),
    "uasc": (("CHILD", "DUC"), ("CHILD", "SEX", "DOB", "DUC")),
    "reviews": (("CHILD", "REVIEW", "REVIEW_CODE"), ("CHILD", "DOB", "REVIEW", "REVIEW_CODE")),
    "missing": (("CHILD", "MISSING", "MIS_START"), ("CHILD", "DOB", "MISSING", "MIS_START", "MIS_END")),
    "oc2": (
        ("CHILD", "SDQ_SCORE"),
        (
            "CHILD",
            "DOB",
            "SDQ_SCORE",
            "SDQ_REASON",
            "CONVICTED",
            "HEALTH_CHECK",
            "IMMUNISATIONS",
            "TEETH_CHECK",
            "HEALTH_ASSESSMENT",
            "SUBSTANCE_MISUSE",
            "INTERVENTION_RECEIVED",
            "INTERVENTION_OFFERED",
        ),
    ),
    "oc3": (("CHILD", "IN_TOUCH", "ACTIV", "ACCOM"), ("CHILD", "DOB", "IN_TOUCH", "ACTIV", "ACCOM")),
    "ad1": (("CHILD", "DATE_INT", "DATE_MATCH"), ("CHILD", "DOB", "DATE_INT", "DATE_MATCH", "FOSTER_CARE", "NB_ADOPTR", "SEX_ADOPTR", "LS_ADOPTR")),
    "placed_for_adoption": (("CHILD", "DATE_PLACED"), ("CHILD", "DOB", "DATE_PLACED", "DATE_PLACED_CEASED", "REASON_PLACED_CEASED")),
    "previous_permanence": (("CHILD", "PREV_PERM"), ("CHILD", "DOB", "PREV_PERM", "LA_PERM", "DATE_PERM")),
    "sw_episodes": (("CHILD", "SW_ID", "SW_DECOM"), ("CHILD", "DOB", "SW_ID", "SW_DECOM", "SW_DEC", "SW_REASON")),
}
#: tables an analysis needs; the others are read and checked when present
REQUIRED_TABLES = ("header", "episodes")
#: derived columns DfE adds; an LA export may carry them, and they are kept when present
DERIVED_EPISODE_COLUMNS = ("PL_DISTANCE", "PL_LA", "PL_LOCATION")
DATE_COLUMNS = {
    "header": ("DOB", "MC_DOB"),
    "episodes": ("DECOM", "DEC"),
    "uasc": ("DOB", "DUC"),
    "reviews": ("DOB", "REVIEW"),
    "missing": ("DOB", "MIS_START", "MIS_END"),
    "oc2": ("DOB",),
    "oc3": ("DOB",),
    "ad1": ("DOB", "DATE_INT", "DATE_MATCH"),
    "placed_for_adoption": ("DOB", "DATE_PLACED", "DATE_PLACED_CEASED"),
    "previous_permanence": ("DOB",),
    "sw_episodes": ("DOB", "SW_DECOM", "SW_DEC"),
}
SET_ASIDE_COLUMNS = ["table", "collection_year", "file", "row", "column", "value", "reason"]


def normalise_header(name: object) -> str:
    """``' decom '`` -> ``DECOM``; strips a byte-order mark and surrounding quotes."""
    return str(name).replace("\ufeff", "").strip().strip('"').strip().upper().replace(" ", "_")


def identify(columns: Iterable[str]) -> str | None:
    """The table whose key columns are all present (the most specific match), or None."""
    cols = set(columns)
    hits = [(len(all_cols), name) for name, (key, all_cols) in TABLES.items() if set(key) <= cols]
    if not hits:
        return None
    # prefer the table that explains most of the columns
    best = max(hits, key=lambda h: (len(set(TABLES[h[1]][1]) & cols), h[0]))
    return best[1]


def nearest_table(columns: Iterable[str]) -> tuple[str, list[str]] | None:
    """For columns that are no 903 table: the table whose columns they mostly are (at least half of
    its key columns and of all its columns), and the key columns it lacks; None when nothing is close."""
    cols = set(columns)
    best = None
    for name, (key, all_cols) in TABLES.items():
        have_key = len(set(key) & cols) / len(key)
        have_all = len(set(all_cols) & cols) / len(all_cols)
        if have_key >= 0.5 and have_all >= 0.5 and (best is None or have_all > best[0]):
            best = (have_all, name, [k for k in key if k not in cols])
    return (best[1], best[2]) if best else None
