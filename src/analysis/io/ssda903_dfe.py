"""The DfE's own 903 validation rules, by their codes, on a checked return (rows kept, with a flag).

:mod:`analysis.io.ssda903` sets aside only what the papers cannot use. The DfE's rules that follow
here find rows that are usable but doubtful: a legal status held longer than the law allows, an
adoption without a placement for adoption, a child whose record does not continue from last year's.
Each is kept with a flag ``DfE rule CODE: message`` (the DfE's wording, from its public validator's
rule list, ``docs/dfe-903-rules.md``), and the ingest report counts them per rule with the papers
they could move.

Which rules are here, which are not needed for analysis and why, and which are not yet: the
table in ``docs/dfe-903-rules.md``. Each rule is a small function of the stacked tables (all years,
``collection_year`` added) returning the flagged rows' index; :data:`analysis.io.ssda903_dfe_check.RULES` lists them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from analysis.io.dates import parse_dates, whole_years

Tables = dict[str, pd.DataFrame]


def _dates(df: pd.DataFrame, col: str) -> pd.Series:
    return parse_dates(df[col]) if col in df.columns else pd.Series(pd.NaT, index=df.index)


def _blank(s: pd.Series) -> pd.Series:
    return s.fillna("").astype(str).str.strip().eq("")


def _episodes(t: Tables) -> pd.DataFrame:
    """The episodes with their dates parsed (once for all the rules: see :func:`check`)."""
    if "_episodes_dated" in t:
        return t["_episodes_dated"]
    e = t.get("episodes")
    if e is None or e.empty:
        return pd.DataFrame(columns=["CHILD", "collection_year", "_decom", "_dec", "LS", "RNE", "PLACE", "REC"])
    return e.assign(_decom=_dates(e, "DECOM"), _dec=_dates(e, "DEC"))


def _key(t: Tables, child: pd.Series, other: pd.Series) -> np.ndarray:
    """An integer key of child (a number: :func:`check` numbers the children) and a year or day."""
    return np.asarray(child, dtype=np.int64) * 1_000_000 + np.asarray(other, dtype=np.int64)


def _isin(values: np.ndarray, within: np.ndarray) -> np.ndarray:
    """Membership by hashing (numpy's isin sorts: ten times slower on two million keys)."""
    return pd.Series(values).isin(within).to_numpy()


def _days(d: pd.Series) -> np.ndarray:
    return (d.to_numpy(dtype="datetime64[D]").astype(np.int64)) % 1_000_000


def _looked_after_years(t: Tables) -> np.ndarray:
    """Keys (child, year) with an episode that is not a short break."""
    if "_la_years" not in t:
        e = _episodes(t)
        keep = ~e["LS"].isin(["V3", "V4"])
        t["_la_years"] = pd.unique(_key(t, e.loc[keep, "CHILD"], e.loc[keep, "collection_year"]))
    return t["_la_years"]


def _with_dob(e: pd.DataFrame, t: Tables) -> pd.DataFrame:
    if "_with_dob" in t:
        return t["_with_dob"]
    h = t.get("header")
    if h is None or h.empty or e.empty:
        return e.assign(_dob=pd.NaT)
    h = h.drop_duplicates(["CHILD", "collection_year"], keep="last")
    dob = pd.Series(_dates(h, "DOB").to_numpy(), index=_key(t, h["CHILD"], h["collection_year"]))
    t["_with_dob"] = e.assign(_dob=dob.reindex(_key(t, e["CHILD"], e["collection_year"])).to_numpy())
    return t["_with_dob"]


_age = whole_years  # whole years of age on a date (NaN where either is missing)


def _year_day(e: pd.DataFrame, start: bool) -> pd.Series:
    """31 March of each row's collection year (or 1 April before it), by a lookup of the few years."""
    years = e["collection_year"].astype(int)
    day = {y: pd.Timestamp(y - 1, 4, 1) if start else pd.Timestamp(y, 3, 31) for y in years.unique()}
    return years.map(day).astype("datetime64[ns]")


def _year_end(e: pd.DataFrame) -> pd.Series:
    return _year_day(e, start=False)


def _year_start(e: pd.DataFrame) -> pd.Series:
    return _year_day(e, start=True)


# --- legal status durations (361-364) --------------------------------------------------------------
def _held_longer(e: pd.DataFrame, codes: tuple[str, ...], days: float) -> pd.Index:
    """Episodes in a run of consecutive episodes (no gap) under one of ``codes`` that lasts longer
    than ``days`` (an open run counts to the year end)."""
    s = e[e["LS"].isin(codes)].sort_values(["CHILD", "_decom"])
    if s.empty:
        return s.index
    end = s["_dec"].fillna(_year_end(s))
    new_run = (s["CHILD"] != s["CHILD"].shift()) | (s["_decom"] != end.shift())
    run = new_run.cumsum()
    length = (end.groupby(run).transform("max") - s["_decom"].groupby(run).transform("min")).dt.total_seconds() / 86400
    return s.index[length > days]


def r361(t: Tables) -> pd.Index:
    return _held_longer(_episodes(t), ("L1",), 3)


def r362(t: Tables) -> pd.Index:
    return _held_longer(_episodes(t), ("L2",), 21)


def r363(t: Tables) -> pd.Index:
    return _held_longer(_episodes(t), ("L3",), 7)


def r364(t: Tables) -> pd.Index:
    e = _episodes(t)
    return _held_longer(e, ("J2",), 1)


# --- short breaks (365-367, 384, 426) ----------------------------------------------------------------
def r365(t: Tables) -> pd.Index:
    e = _episodes(t)
    v3 = e[e["LS"].eq("V3") & e["_dec"].notna()]
    return v3.index[(v3["_dec"] - v3["_decom"]).dt.days > 17]


def r366(t: Tables) -> pd.Index:
    e = _episodes(t)
    return e.index[e["LS"].eq("V3") & e["RNE"].isin(["P", "B", "T", "U"])]


def r367(t: Tables) -> pd.Index:
    e = _episodes(t)
    v3 = e[e["LS"].eq("V3")]
    days = ((v3["_dec"].fillna(_year_end(v3)) - v3["_decom"]).dt.days).groupby([v3["CHILD"], v3["collection_year"]]).transform("sum")
    return v3.index[days > 75]


def r384(t: Tables) -> pd.Index:
    e = _episodes(t)
    return e.index[e["LS"].isin(["V3", "V4"]) & e["PLACE"].isin(["U1", "U4"])]


def r426(t: Tables) -> pd.Index:
    e = _episodes(t)
    sb = e[e["LS"].isin(["V3", "V4"])]
    both = sb.groupby(["CHILD", "collection_year"])["LS"].transform("nunique") > 1
    return sb.index[both]


# --- age against legal status or reason for ending (358, 387, 389, 460) -------------------------------
def r358(t: Tables) -> pd.Index:
    e = _with_dob(_episodes(t), t)
    j = e[e["LS"].isin(["J1", "J2", "J3"])]
    return j.index[_age(j["_decom"], j["_dob"]) < 10]


def _ended_under(t: Tables, recs: tuple[str, ...], age: int) -> pd.Index:
    e = _with_dob(_episodes(t), t)
    x = e[e["REC"].isin(recs) & e["_dec"].notna()]
    return x.index[_age(x["_dec"], x["_dob"]) < age]


def r387(t: Tables) -> pd.Index:
    return _ended_under(t, ("E5", "E6"), 14)


def r389(t: Tables) -> pd.Index:
    return _ended_under(t, ("E7",), 16)


def r460(t: Tables) -> pd.Index:
    return _ended_under(t, ("E17",), 18)


# --- adoption (390, 408, 217) ------------------------------------------------------------------------
ADOPTION_PLACES = ("A3", "A4", "A5", "A6")


def r390(t: Tables) -> pd.Index:
    e = _episodes(t)
    return e.index[e["REC"].isin(["E11", "E12"]) & ~e["PLACE"].isin(ADOPTION_PLACES)]


def r408(t: Tables) -> pd.Index:
    e = _episodes(t)
    return e.index[e["PLACE"].isin(["A5", "A6"]) & ~e["LS"].isin(["E1", "D1"])]


def r217(t: Tables) -> pd.Index:
    e = _episodes(t)
    return e.index[e["PLACE"].isin(["A3", "A5"]) & ~e["RNE"].isin(["S", "T", "U"])]


def r516(t: Tables) -> pd.Index:
    e = _episodes(t)
    return e.index[e["REC"].isin(["E45", "E46"]) & ~e["PLACE"].str.startswith("U", na=False)]


# --- continuity with last year (202, 203, 208, 502, 503A-J, NoE) ---------------------------------------
def _changed_from_last_year(t: Tables, col: str) -> pd.Index:
    h = t.get("header")
    if h is None or h.empty or col not in h.columns:
        return pd.Index([])
    if "_header_once" not in t:
        t["_header_once"] = h.drop_duplicates(["CHILD", "collection_year"], keep="last")
    h = t["_header_once"]
    last = pd.Series(h[col].to_numpy(), index=_key(t, h["CHILD"], h["collection_year"] + 1))
    before = last.reindex(_key(t, h["CHILD"], h["collection_year"])).to_numpy()
    now = h[col].fillna("").astype(str).str.upper().to_numpy()
    was = pd.Series(before, index=h.index).fillna("\0").astype(str).str.upper()
    if col == "SEX":  # DfE moved from 1/2 to M/F in 2024-25: compare like with like
        code = {"1": "M", "2": "F"}
        now = pd.Series(now, index=h.index).replace(code).to_numpy()
        was = was.replace(code)
    blank = (was == "").to_numpy() | (np.asarray(now) == "")  # a value not recorded is another rule's (442), not a disagreement
    return h.index[(was != "\0").to_numpy() & (was.to_numpy() != now) & ~blank]


def r202(t: Tables) -> pd.Index:
    return _changed_from_last_year(t, "SEX")


def r203(t: Tables) -> pd.Index:
    return _changed_from_last_year(t, "DOB")


def r208(t: Tables) -> pd.Index:
    return _changed_from_last_year(t, "UPN")


_CONTINUITY = [
    "CHILD",
    "collection_year",
    "_decom",
    "RNE",
    "LS",
    "CIN",
    "PLACE",
    "PLACE_PROVIDER",
    "URN",
    "HOME_POST",
    "PL_POST",
    "PL_LA",
    "PL_DISTANCE",
]


def _open_last_year(e: pd.DataFrame, t: Tables | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(this year's first episode beside last year's open one, matched per child and year), worked
    out once for the continuity rules."""
    if t is not None and "_continuity" in t:
        return t["_continuity"]
    e = e[[c for c in _CONTINUITY if c in e.columns] + ["_dec"]]
    open_ = e[e["_dec"].isna()]
    # the latest open episode and the first episode of each child and year, found by grouping (children are numbers)
    last_open = open_.loc[open_.groupby(["CHILD", "collection_year"])["_decom"].idxmax().to_numpy()]
    last_open = last_open.assign(collection_year=last_open["collection_year"] + 1)
    first = e.loc[e.groupby(["CHILD", "collection_year"])["_decom"].idxmin().to_numpy()]
    years = set(e["collection_year"].unique())
    last_open = last_open[last_open["collection_year"].isin(years)]
    m = first.reset_index().merge(last_open, on=["CHILD", "collection_year"], suffixes=("", "_last"))
    if t is not None:
        t["_continuity"] = (m, last_open)
    return m, last_open


def r502(t: Tables) -> pd.Index:
    e = _episodes(t)
    if e.empty:
        return pd.Index([])
    m, _ = _open_last_year(e, t)
    return pd.Index(m.loc[m["_decom"] != m["_decom_last"], "index"])


def _503(column: str) -> Callable[[Tables], pd.Index]:
    def rule(t: Tables) -> pd.Index:
        e = _episodes(t)
        if e.empty or column not in e.columns:
            return pd.Index([])
        m, _ = _open_last_year(e, t)
        same_start = m["_decom"] == m["_decom_last"]
        differs = m[column].fillna("").astype(str) != m[f"{column}_last"].fillna("").astype(str)
        return pd.Index(m.loc[same_start & differs, "index"])

    return rule


def _carried_over(t: Tables, column: str) -> pd.DataFrame | None:
    """This year's first episode beside last year's open one with the same reason for new episode, when the
    return carries ``column`` (the DfE's derived PL_LA and PL_DISTANCE: an LA export may hold them)."""
    e = _episodes(t)
    if e.empty or column not in e.columns:
        return None
    m, _ = _open_last_year(e, t)
    return m[m["RNE"].fillna("").astype(str) == m["RNE_last"].fillna("").astype(str)]


def r452(t: Tables) -> pd.Index:
    """The placement LA of the first episode is not that of last year's open episode carried over (same RNE)."""
    m = _carried_over(t, "PL_LA")
    if m is None:
        return pd.Index([])
    return pd.Index(m.loc[m["PL_LA"].fillna("").astype(str).str.strip() != m["PL_LA_last"].fillna("").astype(str).str.strip(), "index"])


def r453(t: Tables) -> pd.Index:
    """The placement distance of the first episode differs by 0.2 miles or more from that of last year's open
    episode carried over (same RNE), or is given where last year's was blank."""
    m = _carried_over(t, "PL_DISTANCE")
    if m is None:
        return pd.Index([])
    now, last = (pd.to_numeric(m[c], errors="coerce") for c in ("PL_DISTANCE", "PL_DISTANCE_last"))
    return pd.Index(m.loc[((now - last).abs() >= 0.2) | (last.isna() & now.notna()), "index"])


def rNoE(t: Tables) -> pd.Index:
    """A child looked after from before this year with no episodes in last year's return (when that
    return was supplied)."""
    e = _episodes(t)
    if e.empty:
        return pd.Index([])
    e = e[["CHILD", "collection_year", "_decom"]]
    years = set(e["collection_year"].unique())
    first = e.sort_values("_decom").drop_duplicates(["CHILD", "collection_year"], keep="first")
    start_of_year = _year_start(first)
    had_last = pd.unique(_key(t, e["CHILD"], e["collection_year"] + 1))
    key = _key(t, first["CHILD"], first["collection_year"])
    missing = ~_isin(key, had_last) & (first["_decom"] < start_of_year).to_numpy() & first["collection_year"].sub(1).isin(years).to_numpy()
    return first.index[missing]


# --- OC2 (158, 185, 190, 193, 198, 542, 546) ------------------------------------------------------------
def _oc2_looked_after_12_months(t: Tables) -> tuple[pd.DataFrame, pd.Series]:
    """OC2 rows and whether the child was looked after continuously for the 12 months to 31 March
    (one period of care covering the whole year in that year's episodes)."""
    if "_oc2_cla" in t:
        return t["_oc2_cla"]
    oc2, e = t.get("oc2"), _episodes(t)
    if oc2 is None or oc2.empty or e.empty:
        return pd.DataFrame(), pd.Series(dtype=bool)
    e = e.loc[~e["LS"].isin(["V3", "V4"]), ["CHILD", "collection_year", "_decom", "_dec"]].sort_values(["CHILD", "collection_year", "_decom"])
    start = _year_start(e)
    end = _year_end(e)
    g = e.groupby(["CHILD", "collection_year"])
    still_open = e["_dec"].isna().groupby([e["CHILD"], e["collection_year"]]).transform("any")
    covered = (g["_decom"].transform("min") <= start) & (still_open | (g["_dec"].transform("max") >= end))
    gap = (e["_decom"] > g["_dec"].shift()) & g.cumcount().gt(0)
    ok = covered & ~gap.groupby([e["CHILD"], e["collection_year"]]).transform("any")
    cla = ok.groupby([e["CHILD"], e["collection_year"]]).first()
    cla = pd.Series(cla.to_numpy(), index=_key(t, cla.index.get_level_values(0).to_series(), cla.index.get_level_values(1)))
    t["_oc2_cla"] = (oc2, pd.Series(cla.reindex(_key(t, oc2["CHILD"], oc2["collection_year"])).fillna(False).to_numpy(dtype=bool), index=oc2.index))
    return t["_oc2_cla"]


def _oc2_with(t: Tables, cols: tuple[str, ...]) -> pd.Index:
    oc2, cla = _oc2_looked_after_12_months(t)
    if oc2.empty:
        return pd.Index([])
    filled = ~pd.concat([_blank(oc2[c]) for c in cols if c in oc2.columns], axis=1).all(axis=1)
    return oc2.index[filled & ~cla]


def r185(t: Tables) -> pd.Index:
    return _oc2_with(t, ("SDQ_SCORE",))


def r198(t: Tables) -> pd.Index:
    return _oc2_with(t, ("SDQ_REASON",))


def r190(t: Tables) -> pd.Index:
    return _oc2_with(t, ("CONVICTED", "HEALTH_CHECK", "IMMUNISATIONS", "TEETH_CHECK", "HEALTH_ASSESSMENT", "SUBSTANCE_MISUSE"))


def _oc2_age(t: Tables, col: str, at_least: int | None, under: int | None) -> pd.Index:
    oc2 = t.get("oc2")
    if oc2 is None or oc2.empty or col not in oc2.columns:
        return pd.Index([])
    age = _age(_year_end(oc2), _dates(oc2, "DOB"))
    wrong = (age < at_least) if at_least is not None else (age >= under)
    return oc2.index[~_blank(oc2[col]) & wrong.fillna(False)]


def r542(t: Tables) -> pd.Index:
    return _oc2_age(t, "CONVICTED", 10, None)


def r546(t: Tables) -> pd.Index:
    return _oc2_age(t, "HEALTH_CHECK", None, 5)


def r158(t: Tables) -> pd.Index:
    oc2 = t.get("oc2")
    if oc2 is None or oc2.empty or "INTERVENTION_RECEIVED" not in oc2.columns:
        return pd.Index([])
    return oc2.index[oc2["INTERVENTION_RECEIVED"].eq("1") & ~oc2["INTERVENTION_OFFERED"].eq("1")]


def r193(t: Tables) -> pd.Index:
    oc2 = t.get("oc2")
    if oc2 is None or oc2.empty or "SUBSTANCE_MISUSE" not in oc2.columns:
        return pd.Index([])
    return oc2.index[oc2["SUBSTANCE_MISUSE"].eq("0") & (~_blank(oc2["INTERVENTION_RECEIVED"]) | ~_blank(oc2["INTERVENTION_OFFERED"]))]


# --- postcodes, URN and completeness (392a, 392b, 222, 388, 393, 442, 607) ----------------------------
NO_POSTCODE_PLACES = ("T0", "T1", "T2", "T3", "T4")


def r392b(t: Tables) -> pd.Index:
    e = _episodes(t)
    looked_after = ~e["LS"].isin(["V3", "V4"]) & ~e["PLACE"].isin(NO_POSTCODE_PLACES)
    uasc = set(t["uasc"]["CHILD"]) if "uasc" in t and not t["uasc"].empty else set()
    return e.index[looked_after & ~e["CHILD"].isin(uasc) & (_blank(e["HOME_POST"]) | _blank(e["PL_POST"]))]


def r222(t: Tables) -> pd.Index:
    e = _episodes(t)
    return e.index[
        e["PLACE"].isin(["P1", "R2", "R5", "T0", "T1", "T2", "T3", "T4", "Z1"]) & ~_blank(e["URN"]) & ~e["URN"].astype(str).str.upper().eq("XXXXXXX")
    ]


def r388(t: Tables) -> pd.Index:
    """REC X1 (a new episode follows) but no episode starts on that day for the child."""
    e = _episodes(t)
    x1 = e[e["REC"].eq("X1") & e["_dec"].notna()]
    starts = _key(t, e["CHILD"], _days(e["_decom"]))
    return x1.index[~_isin(_key(t, x1["CHILD"], _days(x1["_dec"])), starts)]


def _female_looked_after(t: Tables) -> tuple[pd.DataFrame, pd.Series]:
    h, e = t.get("header"), _episodes(t)
    if h is None or h.empty or e.empty or "MOTHER" not in h.columns:
        return pd.DataFrame(), pd.Series(dtype=bool)
    looked_after = _isin(_key(t, h["CHILD"], h["collection_year"]), _looked_after_years(t))
    return h, h["SEX"].astype(str).str.upper().isin(["F", "2"]) & looked_after


def r393(t: Tables) -> pd.Index:
    h, girl = _female_looked_after(t)
    return h.index[girl & _blank(h["MOTHER"])] if len(h) else pd.Index([])


def r442(t: Tables) -> pd.Index:
    h, e = t.get("header"), _episodes(t)
    if h is None or h.empty or e.empty or "UPN" not in h.columns:
        return pd.Index([])
    return h.index[_blank(h["UPN"]) & _isin(_key(t, h["CHILD"], h["collection_year"]), _looked_after_years(t))]


#: a UPN as the DfE writes it: a letter, eleven digits and a digit or letter (13 characters), or an "unknown" code
UPN_FORMAT = r"^(?:[A-Z]\d{11}[0-9A-Z]|UN[1-5])$"
#: a UK postcode's shape (outward and inward code, the space optional), as the DfE's rule 392c checks it
POSTCODE_FORMAT = r"^[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}$"


def r168(t: Tables) -> pd.Index:
    """A UPN that is recorded but not 13 characters of the DfE's form (nor UN1-UN5): a long or garbled value."""
    h = t.get("header")
    if h is None or h.empty or "UPN" not in h.columns:
        return pd.Index([])
    upn = h["UPN"].fillna("").astype(str).str.strip().str.upper()
    return h.index[(upn != "") & ~upn.str.match(UPN_FORMAT)]


def r392c(t: Tables) -> pd.Series:
    """Postcodes recorded but not of a postcode's form: the row, and which column (home, or else placement)."""
    e = _episodes(t)
    bad = {}
    for col in ("HOME_POST", "PL_POST"):
        if col in e.columns:
            v = e[col].fillna("").astype(str).str.strip().str.upper()
            bad[col] = (v != "") & ~v.str.match(POSTCODE_FORMAT)
    if not bad:
        return pd.Series(dtype=str)
    home = bad.get("HOME_POST", pd.Series(False, index=e.index))
    place = bad.get("PL_POST", pd.Series(False, index=e.index))
    return pd.Series(np.where(home, "HOME_POST", "PL_POST"), index=e.index)[home | place]


# --- what changed at a new episode (434, 435) -------------------------------------------------------
_PLACEMENT = ("PLACE", "PL_POST", "URN", "PLACE_PROVIDER")


def _with_previous(t: Tables) -> pd.DataFrame:
    """Each episode beside the child's episode before it in the same year's return (by start date), as the
    DfE's validator pairs them; an episode with none before it is left out."""
    e = _episodes(t)
    cols = [c for c in ("LS", *_PLACEMENT) if c in e.columns]
    s = e.sort_values(["collection_year", "CHILD", "_decom"], kind="mergesort")
    prev = s.groupby(["collection_year", "CHILD"], sort=False)[cols].shift()
    first = ~s.duplicated(["collection_year", "CHILD"], keep="first")
    out = s.assign(**{f"_prev_{c}": prev[c] for c in cols})
    return out[~first]


def _text(v: pd.Series) -> pd.Series:
    return v.astype("string").str.strip().str.upper()


def r434(t: Tables) -> pd.Index:
    """RNE L (legal status changed, placement did not): the legal status is the same as the episode before,
    or a detail of the placement is not (blanks count as the same)."""
    j = _with_previous(t)
    j = j[_text(j["RNE"]).eq("L")]
    if j.empty:
        return j.index
    same_ls = _text(j["LS"]).fillna("") == _text(j["_prev_LS"]).fillna("")
    moved = pd.Series(False, index=j.index)
    for c in (c for c in _PLACEMENT if c in j.columns):
        moved |= _text(j[c]).fillna("") != _text(j[f"_prev_{c}"]).fillna("")
    return j.index[same_ls | moved]


def r435(t: Tables) -> pd.Index:
    """RNE P or T (placement changed, legal status did not): the legal status changed, or every detail of the
    placement is as before (a blank detail is never the same as another blank, as in the DfE's validator)."""
    j = _with_previous(t)
    j = j[_text(j["RNE"]).isin(["P", "T"])]
    if j.empty:
        return j.index
    ls_changed = (_text(j["LS"]) != _text(j["_prev_LS"])).fillna(True)
    unchanged = pd.Series(True, index=j.index)
    for c in _PLACEMENT:
        if c not in j.columns:
            unchanged &= False
            continue
        now, before = _text(j[c]).replace("", pd.NA), _text(j[f"_prev_{c}"]).replace("", pd.NA)
        unchanged &= (now == before).fillna(False)
    return j.index[ls_changed | unchanged]


# --- Strengths and Difficulties Questionnaire by age (188, 189, 197a) ----------------------------------
def _sdq_given(oc2: pd.DataFrame) -> pd.Series:
    given = pd.Series(False, index=oc2.index)
    for col in ("SDQ_SCORE", "SDQ_REASON"):
        if col in oc2.columns:
            given |= ~_blank(oc2[col])
    return given


def r186(t: Tables) -> pd.Index:
    """Looked after for the 12 months to 31 March, 4 or over when the year began and under 17 when it ended, with
    neither an SDQ score nor a reason for none."""
    oc2, cla = _oc2_looked_after_12_months(t)
    if oc2.empty:
        return pd.Index([])
    dob = _dates(oc2, "DOB")
    due = ((dob + pd.DateOffset(years=4)) <= _year_start(oc2)) & ((dob + pd.DateOffset(years=17)) > _year_end(oc2))
    return oc2.index[due.fillna(False).to_numpy() & cla.to_numpy() & ~_sdq_given(oc2).to_numpy()]


def r188(t: Tables) -> pd.Index:
    """Aged under 4 at 31 March, with an SDQ score or a reason for none."""
    oc2 = t.get("oc2")
    if oc2 is None or oc2.empty:
        return pd.Index([])
    age = _age(_year_end(oc2), _dates(oc2, "DOB"))
    return oc2.index[_sdq_given(oc2) & (age < 4).fillna(False)]


def r189(t: Tables) -> pd.Index:
    """17 before the year began (the 17th birthday before 1 April), with an SDQ score or a reason for none."""
    oc2 = t.get("oc2")
    if oc2 is None or oc2.empty:
        return pd.Index([])
    seventeenth = _dates(oc2, "DOB") + pd.DateOffset(years=17)
    return oc2.index[_sdq_given(oc2) & (seventeenth < _year_start(oc2)).fillna(False)]


def r197a(t: Tables) -> pd.Index:
    """An SDQ score and a reason for no score, both given."""
    oc2 = t.get("oc2")
    if oc2 is None or oc2.empty or not {"SDQ_SCORE", "SDQ_REASON"} <= set(oc2.columns):
        return pd.Index([])
    return oc2.index[~_blank(oc2["SDQ_SCORE"]) & ~_blank(oc2["SDQ_REASON"])]
