"""A messy copy of a 903: the faults real returns have, injected at a stated rate, each one listed.

``analysis synth --messy RATE`` (or :func:`make_messy` on any 903 folder) copies the returns and
breaks a share ``RATE`` of the rows each fault can apply to: one fault per DfE rule family the
project checks (legal status held too long, short breaks, age against legal status or reason for
leaving, adoption, continuity with last year, OC2 items by age, postcodes, URN, completeness), plus
duplicated rows, another LA's children mixed in, and file faults (a stray quote, a header with a
different delimiter, a missing column, a folder named by its end year). ``faults.json`` lists each
fault: its family, the DfE rule it should trip, the file, line, child and column, and the value
before and after, so a test can measure the validator's recall and precision against it.

Deterministic for a seed. Row faults never touch the same row twice, so each is attributable.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.io.dates import parse_dates, whole_years

#: the row faults: family, DfE rule, table, and how the fault is made (see _ROW_FAULTS)
FAMILIES = {
    "361": "legal status durations",
    "362": "legal status durations",
    "365": "short breaks",
    "358": "age against legal status",
    "387": "age against reason for ending",
    "460": "age against reason for ending",
    "390": "adoption",
    "408": "adoption",
    "542": "OC2 items by age",
    "546": "OC2 items by age",
    "392b": "postcodes",
    "222": "URN",
    "393": "completeness",
    "442": "completeness",
    "202": "continuity with last year",
    "208": "continuity with last year",
}


@dataclass
class Fault:
    family: str
    rule: str
    file: str
    line: int | None
    child: str
    column: str
    was: str
    now: str


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _write(df: pd.DataFrame, path: Path) -> None:
    df.to_csv(path, index=False, lineterminator="\n")


def _age(on: pd.Series, dob: pd.Series) -> pd.Series:
    """Whole years of age between two columns of DD/MM/YYYY text."""
    return whole_years(parse_dates(on.fillna("")), parse_dates(dob.fillna("")))


def make_messy(clean: Path, out: Path, rate: float, seed: int = 0, *, file_faults: bool = True) -> list[Fault]:
    """Copy ``clean`` (a 903 folder of year folders) to ``out`` with faults; returns (and writes to
    ``out/faults.json``) the list of faults."""
    if not 0 <= rate <= 0.5:
        raise ValueError(f"the fault rate should be between 0 and 0.5 (a share of rows), got {rate}")
    rng = np.random.default_rng(seed)
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(clean, out)
    faults: list[Fault] = []
    years = sorted(p for p in out.iterdir() if p.is_dir() and (p / "episodes.csv").is_file())
    used: set[tuple[str, int]] = set()
    unrecorded: set[str] = set()  # children whose MOTHER or UPN a fault blanked (continuity faults leave them alone)

    def pick(df: pd.DataFrame, mask: pd.Series, key: str) -> list[int]:
        idx = [i for i in df.index[mask.to_numpy()] if (key, i) not in used]
        n = int(round(rate * len(idx)))
        chosen = sorted(rng.choice(idx, size=min(n, len(idx)), replace=False).tolist()) if n else []
        used.update((key, i) for i in chosen)
        return chosen

    for folder in years:
        ep_path, hd_path = folder / "episodes.csv", folder / "header.csv"
        e, h = _read(ep_path), _read(hd_path)
        rel_e, rel_h = str(ep_path.relative_to(out)), str(hd_path.relative_to(out))
        dob = e["CHILD"].map(h.drop_duplicates("CHILD").set_index("CHILD")["DOB"])
        age = _age(e["DECOM"], dob)
        ended_age = _age(e["DEC"], dob)
        key = rel_e
        girls = h["SEX"].isin(["F", "2"]) & h["MOTHER"].ne("")
        for i in pick(h, girls, rel_h):
            faults.append(Fault(FAMILIES["393"], "393", rel_h, int(i) + 2, str(h.at[i, "CHILD"]), "MOTHER", str(h.at[i, "MOTHER"]), ""))
            h.at[i, "MOTHER"] = ""
            unrecorded.add(str(h.at[i, "CHILD"]))
        for i in pick(h, h["UPN"].ne(""), rel_h):
            faults.append(Fault(FAMILIES["442"], "442", rel_h, int(i) + 2, str(h.at[i, "CHILD"]), "UPN", str(h.at[i, "UPN"]), ""))
            h.at[i, "UPN"] = ""
            unrecorded.add(str(h.at[i, "CHILD"]))

        def change(i: int, col: str, value: str, rule: str, table_df: pd.DataFrame = e, rel: str = rel_e) -> None:
            faults.append(Fault(FAMILIES[rule], rule, rel, int(i) + 2, str(table_df.at[i, "CHILD"]), col, str(table_df.at[i, col]), value))
            table_df.at[i, col] = value

        closed = e["DEC"].ne("")
        long_closed = closed & (
            (pd.to_datetime(e["DEC"], format="%d/%m/%Y", errors="coerce") - pd.to_datetime(e["DECOM"], format="%d/%m/%Y", errors="coerce")).dt.days
            > 30
        )
        plain = e["LS"].isin(["C1", "C2", "V2"]) & ~e["PLACE"].str.startswith(("A", "T", "P1"))
        for i in pick(e, long_closed & plain & e["RNE"].isin(["P", "B"]) & (age >= 1), key):
            change(i, "LS", rng.choice(["L1", "L2"]), "361")
            if e.at[i, "LS"] == "L2":
                faults[-1].rule, faults[-1].family = "362", FAMILIES["362"]
        # (a child whose header is faulted keeps episodes that count as looked after: no respite for them)
        header_faulted = set(h.loc[[i for (k, i) in used if k == rel_h], "CHILD"]) if any(k == rel_h for k, _ in used) else set()
        for i in pick(
            e,
            long_closed
            & plain
            & e["RNE"].eq("S")
            & e["PLACE"].str.startswith("U")
            & ~e["PLACE"].isin(["U1", "U4"])
            & ~e["CHILD"].isin(header_faulted),
            key,
        ):
            change(i, "LS", "V3", "365")
        for i in pick(e, plain & (age < 9) & (age >= 0), key):
            change(i, "LS", "J1", "358")
        for i in pick(e, closed & ~e["REC"].isin(["X1", "E11", "E12", "E5", "E6", "E17"]) & (ended_age < 13), key):
            change(i, "REC", "E6", "387")
        for i in pick(e, closed & ~e["REC"].isin(["X1", "E11", "E12", "E5", "E6", "E17"]) & (ended_age >= 13) & (ended_age < 17), key):
            change(i, "REC", "E17", "460")
        for i in pick(e, closed & ~e["REC"].isin(["X1", "E11", "E12"]) & ~e["PLACE"].str.startswith("A") & (ended_age < 10), key):
            change(i, "REC", "E11", "390")
        for i in pick(e, e["PLACE"].isin(["U4", "U6"]) & e["LS"].isin(["C1", "C2"]) & (age < 8) & e["RNE"].isin(["P", "B"]), key):
            change(i, "PLACE", "A6", "408")
        for i in pick(e, ~e["PLACE"].isin(["T0", "T1", "T2", "T3", "T4", "Z1"]) & e["HOME_POST"].ne("") & e["PL_POST"].ne(""), key):
            change(i, "PL_POST", "", "392b")
        for i in pick(e, e["PLACE"].eq("P1") & e["URN"].eq(""), key):
            change(i, "URN", f"SC{int(rng.integers(100000, 999999))}", "222")
        _write(e, ep_path)
        _write(h, hd_path)
        oc2_path = folder / "oc2.csv"
        if oc2_path.is_file():
            o = _read(oc2_path)
            rel_o = str(oc2_path.relative_to(out))
            o_age = _age(pd.Series(f"31/03/{_year(folder)}", index=o.index), o["DOB"])
            for i in pick(o, o["CONVICTED"].eq("") & (o_age < 10), rel_o):
                change(i, "CONVICTED", "0", "542", o, rel_o)
            for i in pick(o, o["HEALTH_CHECK"].eq("") & (o_age >= 5), rel_o):
                change(i, "HEALTH_CHECK", "1", "546", o, rel_o)
            _write(o, oc2_path)
    # continuity: from one year on, a child's sex or UPN is recorded differently from the year before
    # (and so in the later years too: one break in the record, one fault)
    headers = {y: _read(y / "header.csv") for y in years}
    changed: set[str] = set()
    for k, (last, this) in enumerate(zip(years, years[1:])):
        h0, h1 = headers[last], headers[this]
        rel = str((this / "header.csv").relative_to(out))
        both = h1["CHILD"].isin(set(h0["CHILD"])) & ~h1["CHILD"].isin(changed | unrecorded)
        flips = []
        for i in pick(h1, both & h1["SEX"].isin(["F", "2"]) & h1["UPN"].ne("") & h1["MOTHER"].ne(""), rel):  # a girl recorded as a boy from now on
            faults.append(
                Fault(FAMILIES["202"], "202", rel, int(i) + 2, h1.at[i, "CHILD"], "SEX", h1.at[i, "SEX"], "M" if h1.at[i, "SEX"] == "F" else "1")
            )
            flips.append((h1.at[i, "CHILD"], "SEX"))
        for i in pick(h1, both & h1["UPN"].ne("") & h1["SEX"].isin(["M", "1"]), rel):
            faults.append(Fault(FAMILIES["208"], "208", rel, int(i) + 2, h1.at[i, "CHILD"], "UPN", h1.at[i, "UPN"], "new"))
            flips.append((h1.at[i, "CHILD"], "UPN"))
        for child, col in flips:
            changed.add(child)
            for later in years[k + 1 :]:
                h = headers[later]
                at = h["CHILD"] == child
                if col == "SEX":
                    h.loc[at, "SEX"] = h.loc[at, "SEX"].map({"F": "M", "2": "1"}).fillna(h.loc[at, "SEX"])
                else:
                    h.loc[at, "UPN"] = h.loc[at, "UPN"].map(lambda u: u[:-1] + str((int(u[-1]) + 1) % 10) if u[-1:].isdigit() else u)
    for y, h in headers.items():
        _write(h, y / "header.csv")
    if file_faults and years:
        faults = _file_faults(out, years, rng, rate, faults)
    (out / "faults.json").write_text(json.dumps([asdict(f) for f in faults], indent=1) + "\n")
    return faults


def _year(folder: Path) -> int:
    return int(folder.name[:4]) + 1


def _file_faults(out: Path, years: list[Path], rng: np.random.Generator, rate: float, faults: list[Fault]) -> list[Fault]:
    """Faults in files: exact duplicate rows, a stray quote, a header with another delimiter, a
    missing column and a folder named by its end year (one of each, where the rate is above zero)."""
    if rate <= 0:
        return faults
    latest = years[-1]
    # duplicated rows in the latest episodes
    path = latest / "episodes.csv"
    e = _read(path)
    dup = sorted(rng.choice(len(e), size=max(1, int(rate * len(e) / 10)), replace=False).tolist())
    _write(pd.concat([e, e.iloc[dup]], ignore_index=True), path)
    faults += [
        Fault("duplicates", "duplicate row", str(path.relative_to(out)), len(e) + 2 + k, e.at[i, "CHILD"], "", "", f"a repeat of line {i + 2}")
        for k, i in enumerate(dup)
    ]
    # a stray quote in the second-latest year's missing table (a row the parser would swallow)
    if len(years) > 1 and (years[-2] / "missing.csv").is_file():
        p = years[-2] / "missing.csv"
        lines = p.read_text().splitlines()
        if len(lines) > 3:
            lines[2] = lines[2].replace(",", ',"', 1)
            p.write_text("\n".join(lines) + "\n")
            faults.append(Fault("file", "stray quote", str(p.relative_to(out)), 3, "", "", "", '"'))
    # a header with semicolons over comma rows in an early year's reviews-free table: uasc
    if len(years) > 2 and (years[0] / "uasc.csv").is_file():
        p = years[0] / "uasc.csv"
        lines = p.read_text().splitlines()
        if len(lines) > 1:
            lines[0] = lines[0].replace(",", ";")
            p.write_text("\n".join(lines) + "\n")
            faults.append(Fault("file", "header delimiter differs from the rows", str(p.relative_to(out)), 1, "", "", ",", ";"))
    # a missing column: OC2 without SDQ_REASON in one year
    if len(years) > 3 and (years[1] / "oc2.csv").is_file():
        p = years[1] / "oc2.csv"
        o = _read(p)
        if "SDQ_REASON" in o.columns:
            _write(o.drop(columns="SDQ_REASON"), p)
            faults.append(Fault("file", "missing column", str(p.relative_to(out)), 1, "", "SDQ_REASON", "SDQ_REASON", ""))
    # a folder named by the year the collection ends ("2019" for 2018-19)
    if len(years) > 4:
        old = years[3]
        new = old.with_name(str(_year(old)))
        old.rename(new)
        for f in faults:  # the faults already listed in that folder are now under its new name
            if f.file.startswith(old.name + "/"):
                f.file = new.name + f.file[len(old.name) :]
        faults.append(Fault("file", "folder named by its end year", str(new.relative_to(out)), None, "", "", old.name, new.name))
    return faults


def _where(file: str) -> str:
    """A file as ``END_YEAR/name`` whatever its folder is called (``2018-19`` and ``2019`` alike)."""
    parts = Path(file).parts
    folder = parts[-2] if len(parts) > 1 else ""
    year = int(folder[:4]) + 1 if len(folder) == 7 and folder[4] == "-" else folder
    return f"{year}/{parts[-1]}"


def read_faults(folder: Path) -> pd.DataFrame:
    return pd.DataFrame(json.loads((Path(folder) / "faults.json").read_text()))


def score(faults: pd.DataFrame, flagged: pd.DataFrame, clean: pd.DataFrame | None = None) -> pd.DataFrame:
    """Recall and precision of the project's DfE rules against the injected row faults: ``flagged``
    (and ``clean``, the same for the data before the faults) have rule, file, line. A row the rule
    flags in the clean data too is not counted against precision (it was there before)."""

    def keys(df: pd.DataFrame, rule: str) -> set[tuple[str, int]]:
        return {(_where(f), int(line)) for f, line in df.loc[df["rule"] == rule, ["file", "line"]].itertuples(index=False)}

    rows = []
    for rule in sorted(set(faults["rule"]) & set(FAMILIES)):
        injected = keys(faults, rule)
        before = set() if clean is None else keys(clean, rule)
        found = keys(flagged, rule) - (before - injected)
        hit = injected & found
        rows.append(
            {
                "rule": rule,
                "family": FAMILIES[rule],
                "injected": len(injected),
                "flagged": len(found),
                "both": len(hit),
                "recall": len(hit) / len(injected) if injected else np.nan,
                "precision": len(hit) / len(found) if found else np.nan,
            }
        )
    return pd.DataFrame(rows)
