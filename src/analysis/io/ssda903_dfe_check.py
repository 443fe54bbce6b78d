"""The DfE rules in force, by code (:data:`RULES`: code, tables, the papers a flagged row could move,
the DfE's message), and :func:`check`, which runs them on a checked return and flags the rows kept."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from analysis.io.ssda903_dfe import (
    Tables,
    _503,
    _episodes,
    r158,
    r168,
    r185,
    r186,
    r188,
    r189,
    r190,
    r193,
    r197a,
    r198,
    r202,
    r203,
    r208,
    r217,
    r222,
    r358,
    r361,
    r362,
    r363,
    r364,
    r365,
    r366,
    r367,
    r384,
    r387,
    r388,
    r389,
    r390,
    r392b,
    r392c,
    r393,
    r408,
    r426,
    r434,
    r435,
    r442,
    r452,
    r453,
    r460,
    r502,
    r516,
    r542,
    r546,
    rNoE,
)
from analysis.io.ssda903_schema import SET_ASIDE_COLUMNS

#: code -> (DfE's message, the table flagged, the column, the rule); a rule may return, instead of the rows, a
#: Series of the column to name for each row (392c: the home or the placement postcode)
RULES: dict[str, tuple[str, str, str, Callable[[Tables], pd.Index]]] = {
    "361": ("Police protection legal status lasted longer than maximum 72 hours allowed in the Children Act 1989.", "episodes", "LS", r361),
    "362": ("Emergency protection order (EPO) lasted longer than 21 days", "episodes", "LS", r362),
    "363": ("Child assessment order (CAO) lasted longer than 7 days allowed in the Children Act 1989.", "episodes", "LS", r363),
    "364": ("Sections 41-46 of PACE (1984) severely limit the time a child can be detained in custody in LA accommodation.", "episodes", "LS", r364),
    "365": ("Any individual short-term respite placement must not exceed 17 days.", "episodes", "DEC", r365),
    "366": ("A child cannot change placement during the course of an individual short-term respite break.", "episodes", "RNE", r366),
    "367": ("The maximum amount of respite care allowable is 75 days in any 12-month period.", "episodes", "DEC", r367),
    "384": ("A child receiving respite care cannot be in a long-term foster placement", "episodes", "PLACE", r384),
    "426": ("A child receiving respite care cannot be recorded under a legal status of V3 and V4 in the same year.", "episodes", "LS", r426),
    "358": ("Child with this legal status should not be under 10.", "episodes", "LS", r358),
    "387": ("Reason episode ceased is child moved into independent living arrangement, but the child is aged under 14.", "episodes", "REC", r387),
    "389": (
        "Reason episode ceased is that child transferred to care of adult social care services, but child is aged under 16.",
        "episodes",
        "REC",
        r389,
    ),
    "460": (
        "Reason episode ceased is that child stayed with current carers at age 18 (or above), but child is aged under 18.",
        "episodes",
        "REC",
        r460,
    ),
    "390": ("Reason episode ceased is adopted but child has not been previously placed for adoption.", "episodes", "REC", r390),
    "408": ("Child is placed for adoption with a placement order, but no placement order has been recorded.", "episodes", "LS", r408),
    "217": (
        "Children placed for adoption with current foster carers (A3 or A5) must have a reason for new episode of S, T or U.",
        "episodes",
        "RNE",
        r217,
    ),
    "516": ("SGO to former foster carers (E45, E46), but the episode is not a foster placement.", "episodes", "REC", r516),
    "202": ("The gender code conflicts with the gender already recorded for this child.", "header", "SEX", r202),
    "203": ("Date of birth disagrees with the date of birth already recorded for this child.", "header", "DOB", r203),
    "208": ("Unique Pupil Number (UPN) for the current year disagrees with the UPN already recorded for this child.", "header", "UPN", r208),
    "502": (
        "Last year's record ended with an open episode. The date on which that episode started does not match the start date of the first episode on this year's record.",
        "episodes",
        "DECOM",
        r502,
    ),
    "503A": ("The reason for new episode in the first episode does not match open episode at end of last year.", "episodes", "RNE", _503("RNE")),
    "503B": ("The legal status in the first episode does not match open episode at end of last year.", "episodes", "LS", _503("LS")),
    "503C": ("The category of need in the first episode does not match open episode at end of last year.", "episodes", "CIN", _503("CIN")),
    "503D": ("The placement type in the first episode does not match open episode at end of last year", "episodes", "PLACE", _503("PLACE")),
    "503E": (
        "The placement provider in the first episode does not match open episode at end of last year.",
        "episodes",
        "PLACE_PROVIDER",
        _503("PLACE_PROVIDER"),
    ),
    "503F": ("The Ofsted URN in the first episode does not match open episode at end of last year.", "episodes", "URN", _503("URN")),
    "503G": (
        "The home postcode in the first episode does not match open episode at end of last year (the distance, DfE 503G).",
        "episodes",
        "HOME_POST",
        _503("HOME_POST"),
    ),
    "503H": (
        "The placement postcode in the first episode does not match open episode at end of last year (placement LA, DfE 503H/J).",
        "episodes",
        "PL_POST",
        _503("PL_POST"),
    ),
    "452": (
        "Contradiction between local authority of placement code in the last episode of the previous year and in the first episode of the current year.",
        "episodes",
        "PL_LA",
        r452,
    ),
    "453": (
        "Contradiction between placement distance in the last episode of the previous year and in the first episode of the current year.",
        "episodes",
        "PL_DISTANCE",
        r453,
    ),
    "NoE": (
        "This child has no episodes loaded for previous year even though child started to be looked after before this current year.",
        "episodes",
        "DECOM",
        rNoE,
    ),
    "185": (
        "Child has not been looked after continuously for at least 12 months at 31 March but a SDQ score has been completed.",
        "oc2",
        "SDQ_SCORE",
        r185,
    ),
    "190": (
        "Child has not been looked after continuously for at least 12 months at 31 March but one or more data items relating to children looked after for 12 months have been completed.",
        "oc2",
        "CONVICTED",
        r190,
    ),
    "198": (
        "Child has not been looked after continuously for at least 12 months at 31 March but a reason for no SDQ score has been completed.",
        "oc2",
        "SDQ_REASON",
        r198,
    ),
    "542": ("A child aged under 10 at 31 March should not have conviction information completed.", "oc2", "CONVICTED", r542),
    "186": (
        "Children aged 4 or over at the start of the year and children aged under 17 at the end of the year and who have been looked after for at least 12 months continuously should have a Strengths and Difficulties (SDQ) score completed.",
        "oc2",
        "SDQ_SCORE",
        r186,
    ),
    "188": (
        "Child is aged under 4 years at the end of the year, but a Strengths and Difficulties (SDQ) score or a reason for no SDQ score has been completed.",
        "oc2",
        "SDQ_SCORE",
        r188,
    ),
    "189": (
        "Child is aged 17 years or over at the beginning of the year, but an Strengths and Difficulties (SDQ) score or a reason for no Strengths and Difficulties (SDQ) score has been completed.",
        "oc2",
        "SDQ_SCORE",
        r189,
    ),
    "197a": (
        "Reason for no Strengths and Difficulties (SDQ) score is not required if Strengths and Difficulties Questionnaire score is filled in.",
        "oc2",
        "SDQ_REASON",
        r197a,
    ),
    "434": (
        "Reason for new episode is that child's legal status has changed but not the placement, but this is not reflected in the episode data.",
        "episodes",
        "RNE",
        r434,
    ),
    "435": (
        "Reason for new episode is that child's placement has changed but not the legal status, but this is not reflected in the episode data recorded.",
        "episodes",
        "RNE",
        r435,
    ),
    "546": ("Children aged 5 or over at 31 March should not have health promotion information completed.", "oc2", "HEALTH_CHECK", r546),
    "158": (
        "If a child has been recorded as receiving an intervention for their substance misuse problem, then the additional item on whether an intervention was offered must be 1.",
        "oc2",
        "INTERVENTION_OFFERED",
        r158,
    ),
    "193": (
        "Child not identified as having a substance misuse problem but at least one of the two additional items on whether an intervention were offered and received have been completed.",
        "oc2",
        "SUBSTANCE_MISUSE",
        r193,
    ),
    "392b": ("Child is looked after but no postcodes are recorded.", "episodes", "HOME_POST", r392b),
    "222": ("Ofsted Unique reference number (URN) should not be recorded for this placement type.", "episodes", "URN", r222),
    "388": ("Reason episode ceased is coded new episode begins, but there is no continuation episode.", "episodes", "REC", r388),
    "393": ("Child is looked after but mother field is not completed.", "header", "MOTHER", r393),
    "442": ("Unique Pupil Number (UPN) field is not completed.", "header", "UPN", r442),
    "168": ("Unique Pupil Number (UPN) is not valid. If unknown, default codes should be UN1, UN2, UN3, UN4 or UN5.", "header", "UPN", r168),
    "392c": ("Postcode(s) provided are invalid.", "episodes", "HOME_POST", r392c),
}


def check(tables: Tables) -> pd.DataFrame:
    """Every row a DfE rule flags (kept): table, collection_year, file, row, column, value, reason."""
    out = []
    # the rules work on children numbered once (integers sort, group and match far faster than IDs)
    originals = tables
    names = [n for n, df in tables.items() if isinstance(df, pd.DataFrame) and "CHILD" in df.columns]
    numbers, _ = pd.factorize(pd.concat([tables[n]["CHILD"] for n in names], ignore_index=True)) if names else (np.array([]), None)
    tables, at = dict(tables), 0
    for n in names:
        tables[n] = tables[n].assign(CHILD=numbers[at : at + len(tables[n])])
        at += len(originals[n])
    tables["_episodes_dated"] = _episodes(tables)
    for code, (message, table, column, rule) in RULES.items():
        df = originals.get(table)
        if df is None or df.empty or column not in df.columns:
            continue
        found = rule(tables)
        columns = found if isinstance(found, pd.Series) else None  # the column named for each row, where the rule says
        idx = [i for i in (found.index if columns is not None else found) if i in df.index]
        if not idx:
            continue
        rows = df.loc[idx]
        named = columns.loc[idx].to_numpy() if columns is not None else np.full(len(idx), column, dtype=object)
        values = [str(rows.at[i, c]) if pd.notna(rows.at[i, c]) else "" for i, c in zip(idx, named)]
        out.append(
            pd.DataFrame(
                {
                    "table": table,
                    "collection_year": rows["collection_year"].astype(int).to_numpy(),
                    "file": rows["_file"].to_numpy() if "_file" in rows else "",
                    "row": rows["_row"].to_numpy() if "_row" in rows else np.nan,
                    "column": named,
                    "value": [v[:40] for v in values],
                    "reason": f"DfE rule {code}: {message} Kept.",
                }
            )
        )
    return pd.concat(out, ignore_index=True)[SET_ASIDE_COLUMNS] if out else pd.DataFrame(columns=SET_ASIDE_COLUMNS)
