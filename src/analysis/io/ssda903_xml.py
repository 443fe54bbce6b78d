"""The 903 as the DfE's XML submission (the file an LA uploads), read into the CSV tables.

The XML holds one ``CHILD`` element per child under the root (``EXPSSDA903`` in the DfE's
schema). Each ``CHILD`` has a ``HEADER`` (the child's fields: ``CHILDID``, ``SEX``, ``DOB``,
``ETHNIC``, ``UPN``, ``MOTHER``, ``MC_DOB``, ``UASC`` and ``DUC``; the care-leaver fields
``IN_TOUCH``, ``ACTIV``, ``ACCOM``; the adoption fields ``DATE_INT`` ... ``LS_ADOPTR``; and nested
``AREVIEW``, ``AMISSING``, ``OC2``, ``AD_PLACED`` and ``PERMANENCE`` records) and one ``EPISODE``
element per episode, whose placement type is tagged ``PL`` (the CSV's ``PLACE``). The layout is
the DfE's "Expanded SSDA903 Return" schema, as the DfE's public validator (``csc-validator-be-903``,
``lac_validator/ingress.py``) and its fake-data writer read and write it; ``ssda903.md`` section 1
summarises it.

:func:`read_xml` returns each table as text columns named as in the CSV files, with ``_row``: the
record's number in its table (XML has no lines to name), so a message points at the nth record.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd

from analysis.errors import InputError
from analysis.io.ssda903_schema import TABLES

RENAME = {"CHILDID": "CHILD", "PL": "PLACE"}
#: nested records under HEADER: tag -> table
NESTED = {"AREVIEW": "reviews", "AMISSING": "missing", "OC2": "oc2", "AD_PLACED": "placed_for_adoption", "PERMANENCE": "previous_permanence"}
#: header fields that mean a record of another table is present: field -> table
PRESENT_IF = {"IN_TOUCH": "oc3", "DATE_INT": "ad1"}


def _leaves(node: ET.Element) -> dict[str, str]:
    return {RENAME.get(n.tag, n.tag): (n.text or "").strip() for n in node if len(n) == 0}


def read_xml(path: Path) -> dict[str, pd.DataFrame]:
    """Tables from one XML return (table name -> text frame with ``_row``)."""
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        raise InputError(f"not well-formed XML ({e})", path) from None
    children = [c for c in root.iter("CHILD")]
    if not children:
        raise InputError("an XML file with no CHILD elements (expected the DfE's 903 XML: CHILD, HEADER, EPISODE)", path)
    rows: dict[str, list[dict]] = {name: [] for name in TABLES}
    for child in children:
        header = child.find("HEADER")
        h = _leaves(header) if header is not None else {}
        h.update({k: v for k, v in _leaves(child).items() if k not in h})
        person = {"CHILD": h.get("CHILD", ""), "DOB": h.get("DOB", ""), "SEX": h.get("SEX", "")}
        rows["header"].append(h)
        if h.get("UASC", "") == "1" or h.get("DUC", ""):
            rows["uasc"].append({**person, "DUC": h.get("DUC", "")})
        for field, table in PRESENT_IF.items():
            if h.get(field, ""):
                rows[table].append({**person, **h})
        for sub in header if header is not None else []:
            if sub.tag in NESTED:
                rows[NESTED[sub.tag]].append({**person, **_leaves(sub)})
        for ep in child.iter("EPISODE"):
            rows["episodes"].append({"CHILD": person["CHILD"], **_leaves(ep)})
    out = {}
    for name, records in rows.items():
        if not records:
            continue
        # the table's columns (the ones the DfE derives kept for episodes); others in the record dropped
        keep = [*TABLES[name][1], *(("PL_DISTANCE", "PL_LA", "PL_LOCATION") if name == "episodes" else ())]
        found = pd.DataFrame(records)
        df = found.reindex(columns=[c for c in keep if c in found.columns or c in TABLES[name][1]]).fillna("").astype(str)
        df["_row"] = range(1, len(df) + 1)
        out[name] = df
    return out
