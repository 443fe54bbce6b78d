"""Validating a 903 return: header and dates, the episode checks, the year each file belongs to (year
folders, loose files split into yearly returns), rows set aside with their reason."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.errors import InputError
from analysis.io.dates import parse_dates
from analysis.io.ssda903_dfe_check import check as dfe_check
from analysis.io.ssda903_read import RawTable
from analysis.io.ssda903_rules import collection_year_of, collection_years, latest_possible_year, year_end
from analysis.io.ssda903_schema import (
    DATE_COLUMNS,
    SET_ASIDE_COLUMNS,
    TABLES,
)


# --- validation --------------------------------------------------------------------------------
@dataclass
class Validated:
    """Checked tables (all years stacked, ``collection_year`` added), rows set aside, warnings."""

    tables: dict[str, pd.DataFrame]
    set_aside: pd.DataFrame
    warnings: pd.DataFrame
    files: list[dict]
    skipped: list[str]

    def reconciliation(self) -> pd.DataFrame:
        """Rows in, kept and set aside per table and file (kept + set aside = rows in)."""
        return pd.DataFrame(self.files, columns=["table", "collection_year", "file", "rows_in", "kept", "set_aside", "notes"])


class _Checks:
    """Collects failing rows of one frame: (mask, column, reason) in the order checked."""

    def __init__(self, df: pd.DataFrame):
        self.df = df
        self.reasons: dict[int, list[tuple[str, str]]] = {}
        self.flags: list[tuple[int, str, str, str]] = []  # rows kept with a flag: (index, column, reason, value as found)

    def flag(self, mask: pd.Series, column: str, reason: str) -> None:
        """Keep the rows, with a flag (a warning): what breaks a rule but leaves the row usable."""
        mask = mask.fillna(False).astype(bool)
        rows = mask.index[mask.to_numpy()]
        values = self.df.loc[rows, column].astype(str) if column in self.df.columns else pd.Series("", index=rows)
        self.flags += [(i, column, reason, _shorten(v)) for i, v in zip(rows, values)]

    def flagged(self, table: str, year: int) -> pd.DataFrame:
        rows = [
            {
                "table": table,
                "collection_year": year,
                "file": self.df.at[i, "_file"],
                "row": int(self.df.at[i, "_row"]),
                "column": col,
                "value": value,
                "reason": text,
            }
            for i, col, text, value in self.flags
            if i not in self.reasons
        ]
        return pd.DataFrame(rows, columns=SET_ASIDE_COLUMNS)

    def add(self, mask: pd.Series, column: str, reason: str | pd.Series) -> None:
        """``reason``: one text, a text per row, or a template filled from each failing row's
        cells (``"RNE '{RNE}' is not a valid code"``), so messages are built only for rows that fail."""
        mask = mask.fillna(False).astype(bool)
        failing = mask.index[mask.to_numpy()]
        if failing.empty:
            return
        if isinstance(reason, str) and "{" in reason:
            fields = [f for f in self.df.columns if "{" + f + "}" in reason]
            cells = self.df.loc[failing, fields].astype(str)
            texts = [reason.format(**{f: _shorten(v) for f, v in zip(fields, values)}) for values in cells.itertuples(index=False, name=None)]
        elif isinstance(reason, str):
            texts = [reason] * len(failing)
        else:
            texts = [str(t) for t in reason.reindex(failing)]
        for idx, text in zip(failing, texts):
            self.reasons.setdefault(idx, []).append((column, text))

    def split(self, table: str, year: int) -> tuple[pd.DataFrame, pd.DataFrame]:
        bad = sorted(self.reasons)
        if not bad:
            return self.df, pd.DataFrame(columns=SET_ASIDE_COLUMNS)
        aside = pd.DataFrame(
            [
                {
                    "table": table,
                    "collection_year": year,
                    "file": self.df.at[i, "_file"],
                    "row": int(self.df.at[i, "_row"]),
                    "column": self.reasons[i][0][0],
                    "value": str(self.df.at[i, self.reasons[i][0][0]]) if self.reasons[i][0][0] in self.df.columns else "",
                    "reason": "; ".join(r for _, r in self.reasons[i]),
                }
                for i in bad
            ],
            columns=SET_ASIDE_COLUMNS,
        )
        return self.df.drop(index=bad), aside


#: a value quoted in a message is cut to this many characters (a 100,000-character field is not echoed whole)
MAX_QUOTED = 40


def _shorten(value: str, limit: int = MAX_QUOTED) -> str:
    return value if len(value) <= limit else f"{value[:limit]}... ({len(value):,} characters)"


def _blank(s: pd.Series) -> pd.Series:
    return s.fillna("").astype(str).str.strip() == ""


#: dates after the year end that leave the row usable: flagged and kept (a review recorded late is still a review)
LATE_DATES_FLAGGED = frozenset({"REVIEW"})
#: dates that may lie after the year end: the date UASC status ceases is the 18th birthday, recorded
#: ahead (DfE rule 205B expects it so); DfE rule 304 (not after the 18th birthday) is checked instead
LATE_DATES_ALLOWED = frozenset({"DUC"})


def _check_dates(c: _Checks, df: pd.DataFrame, columns: Iterable[str], year: int, *, required: Iterable[str] = ()) -> dict[str, pd.Series]:

    parsed = {}
    for col in columns:
        if col not in df.columns:
            continue
        d = parse_dates(df[col])
        blank = _blank(df[col])
        if col in required:
            c.add(blank, col, f"{col} is blank")
        c.add(~blank & d.isna(), col, f"{col} is not a date in DD/MM/YYYY form")
        late = d > year_end(year)
        if col in LATE_DATES_ALLOWED:
            pass
        elif col in LATE_DATES_FLAGGED:
            c.flag(late, col, f"{col} is after the end of the collection year (31/03/{year}): kept")
        else:
            c.add(late, col, f"{col} is after the end of the collection year (31/03/{year})")
        c.add(d < pd.Timestamp(1980, 1, 1), col, f"{col} is before 1980")
        parsed[col] = d
    return parsed


def _check_header(df: pd.DataFrame, year: int) -> _Checks:
    from analysis.io import ssda903_rules as r

    c = _Checks(df)
    c.add(_blank(df["CHILD"]), "CHILD", "CHILD is blank")
    sex = df["SEX"].str.upper()
    c.add(r.code_check(sex, r.sex_codes(year)), "SEX", f"SEX is not a {year} code ({', '.join(sorted(r.sex_codes(year)))})")
    c.add(r.code_check(df["ETHNIC"].str.upper(), r.ETHNIC), "ETHNIC", "ETHNIC is not a valid code")
    _check_dates(c, df, ("DOB", "MC_DOB"), year, required=("DOB",))
    dup = df.duplicated("CHILD", keep="first") & ~_blank(df["CHILD"])
    c.add(dup, "CHILD", "a second header row for the same child")
    return c


def _lookup(keys: pd.Series, table: pd.Series) -> pd.Series:
    """``table``'s value for each key (missing where the key is not in its index), by Arrow's hash
    lookup rather than pandas' text index; ``table`` has a unique text index."""
    import pyarrow as pa
    import pyarrow.compute as pc

    at = pc.index_in(pa.array(keys.astype(str)), value_set=pa.array(table.index.astype(str)), skip_nulls=True)
    values = np.append(table.to_numpy(), np.array([None], dtype=table.dtype) if table.dtype.kind == "M" else np.nan)
    return pd.Series(values[at.fill_null(-1).to_numpy()], index=keys.index, dtype=table.dtype)


def _check_episodes(df: pd.DataFrame, year: int, dob: pd.Series) -> tuple[_Checks, pd.DataFrame]:
    """Row rules and sequence rules (order, overlaps, duplicates) for one return's episodes."""
    from analysis.io import ssda903_rules as r

    c = _Checks(df)
    c.add(_blank(df["CHILD"]), "CHILD", "CHILD is blank")
    d = _check_dates(c, df, ("DECOM", "DEC"), year, required=("DECOM",))
    decom, dec = d["DECOM"], d["DEC"]
    c.add(dec < decom, "DEC", "episode ends (DEC) before it starts (DECOM)")
    for col, valid in (("RNE", r.RNE), ("LS", r.LS), ("CIN", r.CIN)):
        c.add(r.code_check(df[col], valid), col, col + " '{" + col + "}' is not a valid code")
    c.add(~r.place_valid(df["PLACE"], decom) & decom.notna(), "PLACE", "PLACE '{PLACE}' is not valid for an episode starting on {DECOM}")
    # a provider that is blank or does not fit the placement leaves the placement usable (its provider is
    # unknown): kept with a flag, as DfE's own tables count "placement provider not reported"
    prov = r.provider_problems(df["PLACE"], df["PLACE_PROVIDER"], year)
    for reason in prov.dropna().unique():
        c.flag(prov.eq(reason), "PLACE_PROVIDER", f"{reason}: kept, provider counted as not reported")
    rec_blank, dec_blank = _blank(df["REC"]), _blank(df["DEC"])
    # DfE rule 148: a reason for ending but no end date. The episode is still open: keep it (so the child
    # stays in the stock), blank the reason, and flag it, rather than lose the child
    open_with_reason = ~rec_blank & dec_blank
    if open_with_reason.any():
        c.flag(open_with_reason, "REC", "DfE rule 148: a reason for ending (REC) but no end date: kept as an open episode, REC blanked")
        df.loc[open_with_reason, "REC"] = ""
        rec_blank = _blank(df["REC"])
    c.add(~rec_blank & r.code_check(df["REC"], r.REC), "REC", "REC '{REC}' is not a valid code")
    c.add(rec_blank & ~dec_blank, "REC", "REC is blank but the episode has an end date")
    c.add(
        r.code_check(df["REASON_PLACE_CHANGE"], r.REASON_PLACE_CHANGE, allow_blank=True),
        "REASON_PLACE_CHANGE",
        "REASON_PLACE_CHANGE '{REASON_PLACE_CHANGE}' is not a valid code",
    )
    born = _lookup(df["CHILD"], dob)
    c.add(born.isna() & ~_blank(df["CHILD"]), "CHILD", "no header row (with a valid DOB) for this child in the same return")
    c.add(decom < born, "DECOM", "episode starts before the child's date of birth")

    # sequence rules, on rows that passed so far, in start order within each child. Children are
    # numbered in CHILD order once, so sorting and grouping work on integers, not text.
    child_no = pd.factorize(df["CHILD"], sort=True)[0]
    slim = pd.DataFrame(
        {
            "_child": child_no,
            "_decom": decom,
            "_dec": dec,
            "_row": df["_row"],
            "RNE": df["RNE"],
            "PLACE": df["PLACE"],
            "REC": df["REC"],
            "REASON_PLACE_CHANGE": df["REASON_PLACE_CHANGE"],
        },
        index=df.index,
    )
    ok = slim.drop(index=list(c.reasons)).sort_values(["_child", "_decom", "_row"])
    # exact repeats share child and start: compare every field only among rows that do
    fields = [col for col in TABLES["episodes"][1] if col in df.columns]
    candidates = df.loc[ok.index[ok.duplicated(["_child", "_decom"], keep=False)], [*fields, "_row"]]
    exact = candidates.duplicated(fields, keep="first")
    first_row = candidates.groupby(fields, sort=False)["_row"].transform("first")
    exact_rows = exact[exact].index
    c.add(
        pd.Series(True, index=exact_rows).reindex(df.index, fill_value=False),
        "CHILD",
        ("duplicate of row " + first_row[exact_rows].astype("Int64").astype(str)),
    )
    ok = ok.drop(index=exact_rows)
    same_start = ok.duplicated(["_child", "_decom"], keep="first")
    c.add(same_start.reindex(df.index, fill_value=False), "DECOM", "a second episode for this child starting on the same day")
    ok = ok[~same_start]
    by_child = ok.groupby("_child", sort=False)
    prev_end = by_child["_dec"].shift(1)
    prev_open = prev_end.isna() & by_child.cumcount().gt(0)
    overlap = prev_open | (ok["_decom"] < prev_end)
    prev_row = by_child["_row"].shift(1)[overlap]
    c.add(
        overlap.reindex(df.index, fill_value=False),
        "DECOM",
        "starts before the previous episode (row " + prev_row.astype("Int64").astype(str) + ") ends",
    )
    ok = ok[~overlap]

    # warnings (kept): reason for placement change missing where DfE expects one, or present where it should not be
    warnings = []
    by_child = ok.groupby("_child", sort=False)
    nxt_rne = by_child["RNE"].shift(-1)
    nxt_place = by_child["PLACE"].shift(-1)
    move = (ok["REC"] == "X1") & nxt_rne.isin(["P", "B", "T", "U"]) & ~ok["PLACE"].isin(r.TEMPORARY) & ~nxt_place.isin(r.TEMPORARY)
    for i in ok.index[move & _blank(ok["REASON_PLACE_CHANGE"])]:
        warnings.append((i, "REASON_PLACE_CHANGE", "blank, but the next episode is a placement change"))
    for i in ok.index[(ok["REC"] != "X1") & ~_blank(ok["REC"]) & ~_blank(ok["REASON_PLACE_CHANGE"])]:
        warnings.append((i, "REASON_PLACE_CHANGE", "recorded, but the child left care (REC is not X1)"))
    # a period of care starts with RNE S; after X1 the next episode is not S
    prev_rec = by_child["REC"].shift(1)
    for i in ok.index[(prev_rec == "X1") & (ok["RNE"] == "S")]:
        warnings.append((i, "RNE", "S (started care) straight after an episode that ended X1"))
    for i in ok.index[prev_rec.notna() & (prev_rec != "X1") & (ok["RNE"] != "S")]:
        warnings.append((i, "RNE", "not S although the previous episode ended the period of care"))
    w = pd.DataFrame(
        [
            {
                "table": "episodes",
                "collection_year": year,
                "file": df.at[i, "_file"],
                "row": int(df.at[i, "_row"]),
                "column": col,
                "value": str(df.at[i, col]),
                "reason": text,
            }
            for i, col, text in warnings
        ],
        columns=SET_ASIDE_COLUMNS,
    )
    return c, pd.concat([w, c.flagged("episodes", year)], ignore_index=True) if c.flags else w


def _check_other(table: str, df: pd.DataFrame, year: int) -> _Checks:
    from analysis.io import ssda903_rules as r

    c = _Checks(df)
    c.add(_blank(df["CHILD"]), "CHILD", "CHILD is blank")
    _check_dates(
        c,
        df,
        DATE_COLUMNS.get(table, ()),
        year,
        required={"missing": ("MIS_START",), "reviews": ("REVIEW",), "sw_episodes": ("SW_DECOM",)}.get(table, ()),
    )
    if table == "missing":
        c.add(r.code_check(df["MISSING"].str.upper(), r.MISSING), "MISSING", "MISSING is not M or A")
        start, end = parse_dates(df["MIS_START"]), parse_dates(df["MIS_END"])
        c.add(end < start, "MIS_END", "the missing episode ends before it starts")
    if table == "uasc" and "DOB" in df.columns:
        after_18 = parse_dates(df["DUC"]) > parse_dates(df["DOB"]) + pd.DateOffset(years=18)
        c.flag(after_18, "DUC", "DfE rule 304: the date UASC status ceased is after the 18th birthday: kept")
    if table == "reviews":
        c.add(r.code_check(df["REVIEW_CODE"], r.REVIEW_CODE, allow_blank=True), "REVIEW_CODE", "REVIEW_CODE is not PN0-PN7")
    if table == "oc2":
        score = pd.to_numeric(df["SDQ_SCORE"], errors="coerce")
        c.add(~_blank(df["SDQ_SCORE"]) & ~score.between(0, 40), "SDQ_SCORE", "SDQ_SCORE is not a whole number from 0 to 40")
    # repeated rows share the child: compare whole rows only among children with more than one row
    candidates = df.loc[df.duplicated("CHILD", keep=False), [col for col in df.columns if col not in ("_file", "_row")]]
    c.add(candidates.duplicated(keep="first").reindex(df.index, fill_value=False), "CHILD", "duplicate row")
    return c


def _folder(t: RawTable) -> str:
    return str(Path(t.file.split("[")[0]).parent)


def _check_year_names(tables: list[RawTable], year_from: str) -> None:
    """Where a folder or file name gives one collection year and the episode dates show the next (a folder
    "2017" holding 2017-18's return, as some tools name them): say so, and with ``year_from="dates"``
    (the default) take the year from the dates for every table of that folder and named year."""
    from analysis.io.ssda903_rules import year_end

    moved: dict[str, tuple[int, int]] = {}
    for t in tables:
        if t.table != "episodes" or t.collection_year is None or t.frame.empty:
            continue
        dates = pd.concat([parse_dates(t.frame["DECOM"]), parse_dates(t.frame["DEC"])]).dropna()
        named = int(t.collection_year)
        late = dates > year_end(named)
        # the next year's return: some of its dates are after the named year's end, and next to none after the next
        # one's (a stray date a day past it is that row's fault, flagged by the year's checks, not a sign of the year)
        if late.mean() >= 0.01 and (dates > year_end(named + 1)).mean() < 0.01:
            moved[(_folder(t), named)] = (named, named + 1)
    # by folder and named year: a flat folder of 2017-episodes.csv, 2018-episodes.csv ... (cs-demand-model's sample)
    # moves each year's files by that year's episodes, never all of them by the folder's latest dates
    for t in tables:
        if t.collection_year is not None and (_folder(t), int(t.collection_year)) in moved:
            named, shown = moved[(_folder(t), int(t.collection_year))]
            if year_from == "dates":
                t.collection_year = shown
                t.notes.append(
                    f"named as collection year {named - 1}-{str(named)[2:]}, but its episode dates are {shown - 1}-{str(shown)[2:]}'s: "
                    f"read as {shown - 1}-{str(shown)[2:]} (use --year-from name to keep the name)"
                )
            else:
                t.notes.append(
                    f"named as collection year {named - 1}-{str(named)[2:]}, but its episode dates are {shown - 1}-{str(shown)[2:]}'s: "
                    "kept as named (--year-from name)"
                )


def _infer_year(tables: list[RawTable]) -> None:
    """Give files with no year in their path the year of the episodes file in the same folder."""
    by_folder: dict[str, int] = {}
    for t in tables:
        if t.table == "episodes" and t.collection_year is None:
            dates = pd.concat([parse_dates(t.frame["DECOM"]), parse_dates(t.frame["DEC"])]).dropna()
            dates = dates[dates <= year_end(latest_possible_year())]  # a date in the future is the row's fault (flagged), not a year
            if not dates.empty:
                t.collection_year = collection_year_of(dates.max())
                t.notes.append(f"collection year {t.collection_year} worked out from the latest episode date")
        if t.table == "episodes" and t.collection_year is not None:
            by_folder.setdefault(str(Path(t.file.split("[")[0]).parent), t.collection_year)
    for t in tables:
        if t.collection_year is None:
            t.collection_year = by_folder.get(str(Path(t.file.split("[")[0]).parent))
            if t.collection_year is None:
                raise InputError(
                    "cannot tell which collection year this file belongs to: put each year's files in a folder "
                    "named like 2024-25, or name the files with the year",
                    t.file,
                )
            t.notes.append(f"collection year {t.collection_year} taken from the episodes file beside it")


def _split_multi_year(tables: list[RawTable]) -> list[RawTable]:
    """One file per table for several years (as some tools export): split into the yearly returns
    the DfE would hold. An episode goes to every collection year it was open in; a child's header and
    UASC rows to every year the child has an episode (SEX recoded to the year's list: 1/2 to 2023-24,
    M/F after); a missing episode to the year it began; a table with no dates (OC2) to the latest year.
    Only a folder whose episodes file has no year in its path and holds episodes that ended before
    the latest year began (which no single return can) is split."""
    out, by_folder = [], {}
    for t in tables:
        by_folder.setdefault(_folder(t), []).append(t)
    for group in by_folder.values():
        eps = [t for t in group if t.table == "episodes" and t.collection_year is None]
        if len(eps) != 1:
            out += group
            continue
        e = eps[0].frame
        start, end = parse_dates(e["DECOM"]), parse_dates(e["DEC"])
        cap = year_end(latest_possible_year())
        # a date after the running collection year is a fault of its row (flagged by the year's checks), never a new year
        first = collection_years(start[start <= cap]).min()
        last = collection_years(pd.concat([start[start <= cap], end[end <= cap]])).max()
        if pd.isna(first) or pd.isna(last) or not (end < pd.Timestamp(int(last) - 1, 4, 1)).any():
            out += group
            continue
        years = range(int(first), int(last) + 1)
        children: dict[int, set] = {}
        for y in years:
            open_in = (start <= year_end(y)) & (end.isna() | (end >= pd.Timestamp(y - 1, 4, 1)))
            children[y] = set(e.loc[open_in, "CHILD"])
        for t in group:
            note = "one file for several collection years: split into yearly returns"
            for y in years:
                f = t.frame
                if t.table == "episodes":
                    in_year = (start <= year_end(y)) & (end.isna() | (end >= pd.Timestamp(y - 1, 4, 1)))
                    if y == years[-1]:
                        in_year |= start > cap  # a start in the future: kept in the latest year, whose checks set it aside
                    part = f[in_year].copy()
                    # open at that year's end: as its return showed it (a DEC in the future stays, for the checks to flag)
                    still_open = ((end[part.index] > year_end(y)) & (end[part.index] <= cap)).to_numpy()
                    part.loc[still_open, [c for c in ("DEC", "REC", "REASON_PLACE_CHANGE") if c in part.columns]] = ""
                elif t.table == "missing" and "MIS_START" in f.columns:
                    part = f[collection_years(parse_dates(f["MIS_START"])) == y]
                elif "CHILD" in f.columns and t.table in ("header", "uasc"):
                    part = f[f["CHILD"].isin(children[y])].copy()
                    if "SEX" in part.columns:
                        code = {"1": "M", "2": "F"} if y >= 2025 else {"M": "1", "F": "2"}
                        part["SEX"] = part["SEX"].str.upper().map(lambda v, code=code: code.get(v, v))
                elif y == years[-1]:
                    part = f
                else:
                    continue
                if len(part):
                    out.append(
                        RawTable(
                            t.table, f"{t.file}[{y - 1}-{str(y)[2:]}]", part.assign(_file=f"{t.file}[{y - 1}-{str(y)[2:]}]"), y, [*t.notes, note]
                        )
                    )
    return out


def validate(tables: list[RawTable], skipped: list[str] | None = None, *, year_from: str = "dates") -> Validated:
    """Check every table; set aside failing rows; stack the kept rows of each table across years.
    ``year_from``: where a name and the episode dates disagree on the collection year, which wins."""
    if year_from not in ("dates", "name"):
        raise ValueError(f"year_from should be 'dates' or 'name', got {year_from!r}")
    _check_year_names(tables, year_from)
    tables = _split_multi_year(tables)
    try:
        _infer_year(tables)
    except InputError as exc:  # the year cannot be told: name the other faults of the same files too (often the cause)
        faults = [f"{t.file}: no rows" for t in tables if not len(t.frame)]
        faults += [f"{t.file}: {n}" for t in tables for n in t.notes if n.startswith("column(s) missing")]
        faults += list(skipped or [])
        if not faults:
            raise
        raise InputError(f"{exc.message}; also found: {'; '.join(faults[:6])}", exc.file, exc.row, exc.column) from None
    repeats = _repeated_across_files(tables)
    kept: dict[str, list[pd.DataFrame]] = {}
    asides, warns, files = [], [], []
    headers = {}
    for t in sorted(tables, key=lambda t: (t.table != "header", t.collection_year, t.file)):
        df = t.frame.reset_index(drop=True)
        year = int(t.collection_year)
        rows_in = len(df)
        if id(t) in repeats:  # the same year's table supplied again: rows that repeat, or contradict, an earlier file's are set aside
            drop, reasons, columns = repeats[id(t)]
            asides.append(
                pd.DataFrame(
                    {
                        "table": t.table,
                        "collection_year": year,
                        "file": t.file,
                        "row": df.loc[drop, "_row"].to_numpy(),
                        "column": columns,
                        "value": "",
                        "reason": reasons,
                    },
                    columns=SET_ASIDE_COLUMNS,
                )
            )
            df = df.drop(index=drop).reset_index(drop=True)
        if t.table == "header":
            c = _check_header(df, year)
        elif t.table == "episodes":
            hdr = headers.get(year)
            dob = hdr.set_index("CHILD")["_dob"] if hdr is not None and not hdr.empty else pd.Series(dtype="datetime64[ns]")
            c, w = _check_episodes(df, year, dob[~dob.index.duplicated()])
            warns.append(w)
        else:
            c = _check_other(t.table, df, year)
            if c.flags:
                warns.append(c.flagged(t.table, year))
        good, aside = c.split(t.table, year)
        good = good.assign(collection_year=year)
        if t.table == "header":
            good = good.assign(_dob=parse_dates(good["DOB"]))
            headers[year] = pd.concat([headers[year], good]) if year in headers else good
        kept.setdefault(t.table, []).append(good)
        asides.append(aside)
        files.append(
            {
                "table": t.table,
                "collection_year": year,
                "file": t.file,
                "rows_in": rows_in,
                "kept": len(good),
                "set_aside": rows_in - len(good),
                "notes": "; ".join(t.notes),
            }
        )
    out = {name: pd.concat(frames, ignore_index=True).drop(columns=["_dob"], errors="ignore") for name, frames in kept.items()}
    # the DfE's own rules, by code, on what was kept: usable rows that break one are kept with a flag

    warns.append(dfe_check(out))
    set_aside = (
        pd.concat([a for a in asides if not a.empty], ignore_index=True)
        if any(not a.empty for a in asides)
        else pd.DataFrame(columns=SET_ASIDE_COLUMNS)
    )
    warnings = (
        pd.concat([w for w in warns if not w.empty], ignore_index=True)
        if any(not w.empty for w in warns)
        else pd.DataFrame(columns=SET_ASIDE_COLUMNS)
    )
    return Validated(out, set_aside, warnings, files, list(skipped or []))


def _repeated_across_files(tables: list[RawTable]) -> dict[int, tuple[list[int], list[str], list[str]]]:
    """Where one collection year's table comes from more than one file: the rows of each later file that repeat a
    row of an earlier one (by every value), and, in the header (one row per child a year), those that contradict
    one (the same child with another date of birth, sex ...), each with its reason naming both files, and the
    columns that differ. Each file gets a note. The earliest file (by name) stands; the later copy is set aside."""
    out: dict[int, tuple[list[int], list[str], list[str]]] = {}
    groups: dict[tuple[str, int], list[RawTable]] = {}
    for t in tables:
        groups.setdefault((t.table, int(t.collection_year)), []).append(t)
    for (table, year), group in groups.items():
        if len(group) < 2:
            continue
        group = sorted(group, key=lambda t: t.file)
        names = [t.file for t in group]
        for t in group:
            t.notes.append(f"collection year {year} of the {table} table is supplied in {len(group)} files ({', '.join(names)})")
        first = group[0].frame.drop(columns=["_file", "_row"]).astype(str)
        seen = {tuple(r) for r in first.itertuples(index=False, name=None)}
        by_child = {}
        if table == "header" and "CHILD" in first.columns:
            by_child = {r["CHILD"]: (r, row, group[0].file) for (_, r), row in zip(first.iterrows(), group[0].frame["_row"])}
        for t in group[1:]:
            values = t.frame.drop(columns=["_file", "_row"]).astype(str)
            drop, reasons, columns = [], [], []
            for i, (row_values, (_, r)) in enumerate(zip(values.itertuples(index=False, name=None), values.iterrows())):
                if row_values in seen:
                    drop.append(i)
                    reasons.append(f"repeats a row of {group[0].file} (collection year {year} is supplied twice)")
                    columns.append("")
                elif by_child and r["CHILD"] in by_child:
                    earlier, line, where = by_child[r["CHILD"]]
                    differ = [c for c in values.columns if c != "CHILD" and str(earlier[c]) != str(r[c])]
                    drop.append(i)
                    reasons.append(
                        f"the same child as row {line} of {where}, with another {', '.join(differ)} (collection year {year} is supplied "
                        f"twice, in {where} and {t.file}: the first is kept; check which is right)"
                    )
                    columns.append(differ[0] if differ else "")
                seen.add(row_values)
            if drop:
                out[id(t)] = (drop, reasons, columns)
    return out
