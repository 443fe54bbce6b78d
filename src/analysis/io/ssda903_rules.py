"""903 code lists by collection year, and the row checks that use them.

Collection years are named by the year they end: 2025 is the 2024-25 return (1 April 2024 to
31 March 2025). Code changes handled (from ``shared/reference/ssda903.md``):

* SEX: ``1``/``2`` up to 2023-24; ``M``/``F``/``U`` from 2024-25.
* PLACE: ``P2`` (independent living) not valid for episodes starting on or after 28 October 2023;
  ``K3`` (registered supported accommodation) from 2024-25; ``Z1`` replaced by ``Z11``-``Z14`` and
  ``H5``/``P2`` dropped from 2025-26. An episode is checked against the codes valid when it
  *started*, so a 2025-26 return may restate an older episode coded ``Z1`` or ``H5``.
* PLACE_PROVIDER: blank only for temporary placements (T0-T4) and, from 2025-26, Z11-Z14.

Each check returns a boolean "fails" mask plus the column and reason, so the caller can set the
rows aside with the file and row they came from.
"""

from __future__ import annotations

import re
from datetime import date

import numpy as np
import pandas as pd

SEX_NUMERIC_LAST_YEAR = 2024
P2_END = pd.Timestamp(2023, 10, 28)
K3_FIRST_YEAR = 2025
Z_SPLIT_FIRST_YEAR = 2026

ETHNIC = frozenset("WBRI WIRI WOTH WIRT WROM MWBC MWBA MWAS MOTH AIND APKN ABAN AOTH BCRB BAFR BOTH CHNE OOTH REFU NOBT".split())
RNE = frozenset("S L P T B U".split())
CARER_CHANGE_RNE = frozenset("S P B".split())
LS = frozenset("C1 C2 D1 E1 V2 V3 V4 J1 J2 J3 L1 L2 L3".split())
SHORT_BREAKS_LS = frozenset({"V3", "V4"})
CIN = frozenset(f"N{i}" for i in range(1, 9))
PLACE_BASE = frozenset("A3 A4 A5 A6 H5 K1 K2 P1 P2 P3 R1 R2 R3 R5 S1 T0 T1 T2 T3 T4 U1 U2 U3 U4 U5 U6 Z1".split())
TEMPORARY = frozenset("T0 T1 T2 T3 T4".split())
Z_SPLIT = frozenset("Z11 Z12 Z13 Z14".split())
PROVIDER = frozenset("PR0 PR1 PR2 PR3 PR4 PR5".split())
REC = frozenset("X1 E11 E12 E13 E14 E15 E16 E17 E2 E3 E41 E43 E44 E45 E46 E47 E48 E4A E4B E5 E6 E7 E8 E9".split())
REASON_PLACE_CHANGE = frozenset("CARPL PLACE CREQB CREQO CHILD LAREQ STAND CLOSE ALLEG APPRR CUSTOD OTHER".split())
MISSING = frozenset({"M", "A"})
REVIEW_CODE = frozenset(f"PN{i}" for i in range(8))
FLAG = frozenset({"0", "1"})

#: unplanned endings of a placement that ends in a move (reason for placement change)
UNPLANNED = {
    "narrow": frozenset({"CREQB", "CREQO", "CHILD"}),
    "standard": frozenset({"CREQB", "CREQO", "CHILD", "ALLEG", "STAND", "APPRR", "CLOSE"}),
    "broad": frozenset({"CREQB", "CREQO", "CHILD", "ALLEG", "STAND", "APPRR", "CLOSE", "LAREQ", "CUSTOD"}),
}

#: analytic groups of placement type (PLACE)
PLACE_GROUP = {
    **{c: "kinship foster" for c in ("U1", "U2", "U3")},
    **{c: "foster" for c in ("U4", "U5", "U6")},
    **{c: "adoption" for c in ("A3", "A4", "A5", "A6")},
    "P1": "with parents",
    "P2": "independent or supported",
    "H5": "independent or supported",
    "K3": "independent or supported",
    "P3": "other",
    "K1": "secure",
    "K2": "children's home",
    "R1": "other residential",
    "R2": "other residential",
    "R3": "other residential",
    "R5": "custody",
    "S1": "residential school",
    **{c: "temporary" for c in TEMPORARY},
    "Z1": "other",
    **{c: "other" for c in Z_SPLIT},
}
PROVIDER_GROUP = {"PR0": "parents", "PR1": "own LA", "PR2": "other LA", "PR3": "other public", "PR4": "private", "PR5": "voluntary"}


def collection_year_of(day: pd.Timestamp | date) -> int:
    """The collection year a date falls in: 1 April 2024 to 31 March 2025 -> 2025."""
    return day.year + 1 if (day.month, day.day) >= (4, 1) else day.year


def collection_years(days: pd.Series) -> pd.Series:
    """:func:`collection_year_of` for a column of dates (missing where the date is)."""
    days = pd.to_datetime(days)
    after_march = (days.dt.month >= 4).astype("Int64")
    return days.dt.year.astype("Int64") + after_march


def year_end(year: int) -> pd.Timestamp:
    return pd.Timestamp(year, 3, 31)


def latest_possible_year(today: date | None = None) -> int:
    """The latest collection year a return can hold: the one running today. A date after its end is an error in the
    return, never a sign of a later year (a DECOM typed as 2031 must not make collection years up to 2031)."""
    return collection_year_of(today or date.today())


def sex_codes(year: int) -> frozenset[str]:
    return frozenset({"1", "2"}) if year <= SEX_NUMERIC_LAST_YEAR else frozenset({"M", "F", "U"})


def place_codes(year: int) -> frozenset[str]:
    """PLACE codes valid for an episode starting in this collection year."""
    codes = set(PLACE_BASE)
    if year >= K3_FIRST_YEAR:
        codes.add("K3")
    if year >= Z_SPLIT_FIRST_YEAR:
        codes -= {"Z1", "H5", "P2"}
        codes |= Z_SPLIT
    return frozenset(codes)


def place_valid(place: pd.Series, decom: pd.Series) -> pd.Series:
    """Whether each PLACE code was valid when its episode started (NaT start: judged on 2025 rules)."""
    if place.empty:  # a return with a header and no episodes
        return pd.Series(False, index=place.index, dtype=bool)
    start_year = collection_years(decom).fillna(2025).astype(int).to_numpy()
    codes, distinct = pd.factorize(place)  # judged once per distinct (code, year): tens of pairs however many rows
    years = np.unique(start_year)
    table = np.array([[str(code) in place_codes(int(y)) for code in distinct] + [False] for y in years], dtype=bool)
    ok = pd.Series(table[np.searchsorted(years, start_year), codes], index=place.index)
    p2_late = (place == "P2") & (decom >= P2_END)
    return ok & ~p2_late


def provider_problem(place: str, provider: str, year: int) -> str | None:
    """Why a PLACE/PLACE_PROVIDER pair is inconsistent, or None (rules from the DfE validator)."""
    no_provider = place in TEMPORARY or place in Z_SPLIT
    if not provider:
        return None if no_provider else "placement provider is blank"
    if provider not in PROVIDER:
        return f"'{provider}' is not a placement provider code (PR0-PR5)"
    if year >= Z_SPLIT_FIRST_YEAR and no_provider:
        return f"no provider is recorded for {place} placements"
    if provider == "PR0" and place != "P1":
        return "PR0 (parents) is only valid with placement P1"
    if provider in ("PR1", "PR2") and place in ("P1", "R2", "R5"):
        return f"{provider} is not valid with placement {place}"
    if provider in ("PR4", "PR5") and place == "P1":
        return f"{provider} is not valid with placement P1"
    if provider == "PR3" and (place == "P1" or place in {"A3", "A4", "A5", "A6", "K1", "K2"} or place.startswith("U")):
        return f"PR3 (other public) is not valid with placement {place}"
    return None


def provider_problems(place: pd.Series, provider: pd.Series, year: int) -> pd.Series:
    """:func:`provider_problem` for whole columns (missing where the pair is consistent).

    The rule is evaluated once per distinct (PLACE, PLACE_PROVIDER) pair, which keeps it exact and
    fast: a return has tens of distinct pairs however many rows it has.
    """
    pairs = pd.DataFrame({"place": place.fillna("").astype(str), "provider": provider.fillna("").astype(str)}, index=place.index)
    distinct = pairs.drop_duplicates()
    verdict = {(pl, pr): provider_problem(pl, pr, year) for pl, pr in zip(distinct["place"], distinct["provider"])}
    keys = pd.MultiIndex.from_frame(pairs)
    lookup = pd.Series(list(verdict.values()), index=pd.MultiIndex.from_tuples(list(verdict), names=["place", "provider"]), dtype=object)
    return pd.Series(lookup.reindex(keys).to_numpy(), index=place.index, dtype=object)


def code_check(values: pd.Series, valid: frozenset[str], *, allow_blank: bool = False) -> pd.Series:
    """True where a value is not in the list (blank fails unless ``allow_blank``)."""
    blank = values.fillna("").astype(str).str.strip() == ""
    return ~values.isin(valid) & ~(blank & allow_blank)


# --- DfE codes of the project's own checks ------------------------------------------------------------------
#: the DfE validation rule each of the project's own checks implements (a pattern of its message -> the code); the
#: rules of :mod:`analysis.io.ssda903_dfe` say their code in their message ("DfE rule 392b: ..."). The benchmark
#: that sets the project beside the DfE's validator (``benchmarks/bench_validator903.py``) reads them from here.
DFE_CODES = [
    (r"placement provider is blank", "526"),
    (r"is not valid with placement|PR0 \(parents\) is only valid", "178"),
    (r"SEX is not a", "101"),
    (r"ETHNIC is not a valid", "103"),
    (r"RNE '.*' is not a valid", "143"),
    (r"LS '.*' is not a valid", "144"),
    (r"CIN '.*' is not a valid", "145"),
    (r"PLACE '.*' is not valid", "146"),
    (r"REC '.*' is not a valid", "149"),
    (r"REC is blank but the episode has an end date|DfE rule 148", "148"),
    (r"starts before the previous episode", "142"),
    (r"DECOM is after the end of the collection year", "354"),
    (r"DEC is after the end of the collection year", "385"),
    (r"episode starts before the child's date of birth", "302"),
    (r"DfE rule 304", "304"),
    (r"DOB is after the end", "301"),
    (r"DOB is not a date", "102"),
    (r"DECOM is not a date", "141"),
    (r"DEC is not a date", "147"),
    (r"DUC is not a date", "104"),
    (r"episode ends \(DEC\) before it starts", "356"),
    (r"blank, but the next episode is a placement change", "225"),
    (r"recorded, but the child left care", "226"),
    (r"no header row", "INT03"),
    (r"a second header row for the same child", "INT32"),
    (r"SDQ_SCORE is not a whole number", "180"),
    (r"DECOM is before 1980", "353"),
]


_CODE_IN_MESSAGE = re.compile(r"DfE rule (\S+?):")


def dfe_code(message: str) -> str | None:
    """The DfE rule code behind a check's message, or None when no DfE rule matches it."""
    m = _CODE_IN_MESSAGE.search(str(message))
    if m:
        return m.group(1)
    for pattern, code in DFE_CODES:
        if re.search(pattern, str(message)):
            return code
    return None
