"""``analysis ingest`` for child-level data: ``data/raw/ssda903/`` -> ``data/processed/ssda903/``.

read and check every return (:mod:`analysis.io.ssda903`) -> stitch the years -> derive distance and
location from postcodes where the export lacks them (:mod:`analysis.io.geography`) -> pseudonymise
children (:mod:`analysis.io.privacy`) -> placements and periods of care (:mod:`analysis.io.placements`)
-> write Parquet tables and a report to a staging folder -> swap it in (a failure keeps the
previous output). Postcodes, dates of birth, UPNs and raw child IDs never reach the processed
tables; set-aside rows keep file, row, column and reason but withhold personal values.

The responsible LA (for "inside or outside the boundary" and the pseudonym key) is read from a
one-line ``LA_CODE`` file beside the returns (the synthetic generator writes one); without it the
project's default LA is assumed and the report says so.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.config import DEFAULT_LA_CODE, Paths, code_digest
from analysis.errors import AnalysisError, InputError
from analysis.io import costs, geography, placements, privacy, ssda903
from analysis.io.ingest import STAMP, check_output, damaged_outputs, output_checksums, read_table

LA_CODE_FILE = "LA_CODE"
#: the modules whose change should rebuild the 903 tables
SEX = {"1": "M", "2": "F", "M": "M", "F": "F", "U": "U"}
EPISODE_OUT = [
    "child",
    "collection_year",
    "decom",
    "dec",
    "rne",
    "ls",
    "cin",
    "place",
    "place_provider",
    "rec",
    "reason_place_change",
    "pl_distance",
    "pl_la",
    "pl_location",
    "urn",
    "derived_location",
    "closed_by_stitch",
]


@dataclass
class Ingest903Result:
    status: str  # "built", "up to date", "no data"
    out_dir: Path
    report: dict


def raw_903(p: Paths) -> Path:
    return p.raw / "ssda903"


def processed_903(p: Paths) -> Path:
    return p.processed / "ssda903"


def la_of_returns(folder: Path, lookup: pd.DataFrame | None = None) -> tuple[str, bool]:
    """The responsible LA named by the ``LA_CODE`` file (a current LA's new or old code, or its name),
    or the project default when there is no such file. An empty file, or one naming no current LA,
    is an error naming the file and the closest LAs; the file's text is never echoed at length."""
    f = folder / LA_CODE_FILE
    if not f.is_file():
        return DEFAULT_LA_CODE, False
    text = f.read_text(encoding="utf-8", errors="replace").strip()
    if not text:
        raise InputError("the LA_CODE file is empty: write the LA's code (e.g. E06000004 or 808) on its first line", f)
    first = text.splitlines()[0].strip()
    code = first.split()[0] if re.fullmatch(r"[A-Za-z]?\d+", first.split()[0]) else first
    shown = code if len(code) <= 40 and code.isprintable() else repr(code[:40]) + "..."
    if lookup is None:  # no LA lookup to hand (published data not ingested): the code must at least look like one
        if not re.fullmatch(r"[EW]\d{8}|\d{3}", code):
            raise InputError(f"the LA_CODE file holds {shown}, which is not an LA code (e.g. E06000004 or 808)", f)
        return geography.canonical_code(code) or code, True
    try:
        return str(geography.resolve_la(code, lookup)["la_code"]), True
    except AnalysisError as exc:
        why = str(exc) if len(code) <= 40 and code.isprintable() else "run `analysis las` to list LA codes"
        raise InputError(f"the LA_CODE file names no current LA ({shown}): {why}", f) from None


def raw_costs(p: Paths) -> Path:
    return p.raw / "costs"


@dataclass
class Processed903:
    """The processed 903 tables a paper asked for (an absent optional table is None; an absent OC2 is
    an empty table), the ingest report, and ``truth.json`` when the data is synthetic for this LA."""

    tables: dict[str, pd.DataFrame | None]
    report: dict
    truth: dict | None


NO_903 = "no processed 903 data: put the LA's 903 files in data/raw/ssda903/ (or run `analysis synth --if-missing`) and then `analysis ingest`"


def read_processed(p: Paths, names: tuple[str, ...]) -> Processed903 | None:
    """Read ``data/processed/ssda903/`` for the papers; None when nothing has been ingested."""
    folder = processed_903(p)
    if not (folder / "placements.parquet").is_file():
        return None
    report = json.loads((folder / "ingest_report.json").read_text())
    tables: dict[str, pd.DataFrame | None] = {}
    for name in names:
        path = folder / f"{name}.parquet"
        if path.is_file():
            check_output(path)
        tables[name] = pd.read_parquet(path) if path.is_file() else None
    if "oc2" in tables and tables["oc2"] is None:
        tables["oc2"] = pd.DataFrame(columns=["child", "collection_year", "sdq_score"])
    truth_file = raw_903(p) / "truth.json"
    truth = json.loads(truth_file.read_text()) if truth_file.is_file() else None
    if truth is not None and truth.get("la_code") != report.get("la_code"):
        truth = None  # a truth file left from another LA's synthetic data says nothing about these returns
    return Processed903(tables, report, truth)


def _fingerprint(p: Paths, folder: Path) -> str:
    h = hashlib.sha256()
    for f in ssda903.find_files(folder) + ssda903.find_archives(folder) + ([folder / LA_CODE_FILE] if (folder / LA_CODE_FILE).is_file() else []):
        h.update(str(f.relative_to(folder)).encode())
        h.update(f.read_bytes())
    for f in costs.find_cost_files(raw_costs(p)):
        h.update(f"costs/{f.name}".encode())
        h.update(f.read_bytes())
    h.update(code_digest("analysis.io.ingest903").encode())  # this module and all it imports (the DfE rules too)
    h.update(f"postcodes {version(geography.POSTCODE_PACKAGE)}".encode())  # a new postcode directory re-derives distances
    h.update(privacy.get_key(p))  # a new key re-pseudonymises
    return h.hexdigest()


def _locate(p: Paths, eps: pd.DataFrame, la_code: str, uasc: set) -> tuple[pd.DataFrame, int, list[str]]:
    """Episodes with distance (numeric miles), placement LA and location filled from postcodes where
    the return lacks them, how many placement postcodes the directory does not know, and warnings
    about home postcodes in another LA (another LA's children mixed in)."""
    home_post, pl_post = geography.normalise_postcode(eps["HOME_POST"]), geography.normalise_postcode(eps["PL_POST"])
    need = eps["PL_DISTANCE"].fillna("").eq("") if "PL_DISTANCE" in eps.columns else pd.Series(True, index=eps.index)
    codes = set(home_post[need].unique()) | set(pl_post[need].unique())
    directory = (
        geography.postcode_directory(codes, geography.postcode_cache(p)) if need.any() else pd.DataFrame(columns=["easting", "northing", "ltla"])
    )
    utla_of = geography.ltla_to_utla(p.raw_public)
    eps = geography.derive_distances(eps.assign(HOME_POST=home_post, PL_POST=pl_post), la_code, directory, utla_of, uasc=uasc, normalised=True)
    eps["PL_DISTANCE"] = pd.to_numeric(eps["PL_DISTANCE"], errors="coerce")  # once, for placements, episodes and measures
    warnings = geography.other_la_homes(eps.loc[need, "CHILD"], home_post[need], la_code, directory, utla_of) if need.any() else []
    return eps, int((pl_post.ne("") & ~pl_post.isin(directory.index)).sum()), warnings


def build(p: Paths, folder: Path, costs_folder: Path | None = None) -> tuple[dict[str, pd.DataFrame], dict]:
    """All processed 903 tables and the report, in memory (placement costs too, from ``costs_folder``)."""
    # the LA lookup through the one reader of processed tables (schema and checksum checked); none before `ingest` of public data
    lookup = read_table(p, "la_lookup") if (p.processed_public / "la_lookup.parquet").is_file() else None
    la_code, declared = la_of_returns(folder, lookup)
    v = ssda903.read_returns(folder)
    missing = ssda903.missing_tables(v)
    if missing:
        raise InputError("; ".join(ssda903.why_missing(v, t) for t in missing), folder)
    dob_conflicts = ssda903.conflicting_dobs(v)
    s = ssda903.stitch(v)
    v.tables.clear()  # the stitched copies replace them (at national scale this frees about 0.7 GiB)
    eps, hdr = s.pop("episodes"), s["header"]
    # every child hashed once and numbered (in ID order, as the stitched episodes are sorted): the rest works on the numbers
    key = privacy.get_key(p)
    keyed = [name for name in ("header", "uasc", "oc2", "missing") if name in s]
    names, numbers = privacy.number_children([eps["CHILD"], *(s[name]["CHILD"] for name in keyed)], key, la_code)
    eps = eps.assign(CHILD=numbers[0])
    child_no = dict(zip(keyed, numbers[1:]))
    uasc = set(child_no.get("uasc", ()))
    eps, unknown_postcodes, other_la = _locate(p, eps, la_code, uasc)

    births = ssda903.parse_dates(hdr["DOB"])
    birth = pd.Series(births.to_numpy(), index=child_no["header"])
    placement_table, period_table = placements.derive(eps, birth)
    episodes_out = pd.DataFrame(
        {
            "child": eps["CHILD"],
            "collection_year": eps["collection_year"].astype(int),
            "decom": eps["_decom"],
            "dec": eps["_dec"],
            "rne": eps["RNE"],
            "ls": eps["LS"],
            "cin": eps["CIN"],
            "place": eps["PLACE"],
            "place_provider": eps["PLACE_PROVIDER"],
            "rec": eps["REC"].fillna(""),
            "reason_place_change": eps["REASON_PLACE_CHANGE"].fillna(""),
            "pl_distance": pd.to_numeric(eps["PL_DISTANCE"], errors="coerce"),
            "pl_la": eps["PL_LA"],
            "pl_location": eps["PL_LOCATION"],
            "urn": eps["URN"].fillna(""),
            "derived_location": eps["derived_location"].astype(bool),
            "closed_by_stitch": eps["closed_by_stitch"].astype(bool),
        }
    )[EPISODE_OUT]
    del eps  # postcodes and raw IDs go no further
    # DfE measures, on child numbers
    years = sorted(int(y) for y in episodes_out["collection_year"].unique())
    dfe_eps = episodes_out.rename(
        columns={
            "child": "CHILD",
            "decom": "_decom",
            "dec": "_dec",
            "rne": "RNE",
            "ls": "LS",
            "rec": "REC",
            "place": "PLACE",
            "pl_distance": "PL_DISTANCE",
            "pl_location": "PL_LOCATION",
        }
    )
    numbered = placements.number_episodes(dfe_eps)
    measure_rows = [{"year": y, **m} for y, m in zip(years, placements.measures_by_year(dfe_eps, placement_table, birth, years, numbered=numbered))]
    del dfe_eps, numbered
    # numbers back to pseudonyms; placements and periods in pseudonym order, as the papers expect
    rank = privacy.pseudonym_order(names)
    placement_table = placement_table.iloc[np.lexsort((placement_table["start"].to_numpy(), rank[placement_table["child"].to_numpy()]))]
    period_table = period_table.iloc[np.lexsort((period_table["period"].to_numpy(), rank[period_table["child"].to_numpy()]))]
    for table in (episodes_out, placement_table, period_table):
        table["child"] = names[table["child"].to_numpy()]
    children = pd.DataFrame(
        {
            "child": names[child_no["header"]],
            "sex": hdr["SEX"].str.upper().map(SEX).fillna("U"),
            "birth_month": privacy.birth_month(births),
            "ethnic": hdr["ETHNIC"].str.upper(),
            "uasc": np.isin(child_no["header"], list(uasc)),
            "latest_return": hdr["collection_year"].astype(int),
        }
    )
    tables = {"episodes": episodes_out, "placements": placement_table, "periods": period_table, "children": children}
    if "oc2" in s:
        oc2 = s["oc2"]
        tables["oc2"] = pd.DataFrame(
            {
                "child": pd.Series(names[child_no["oc2"]], index=oc2.index, dtype=object),
                "collection_year": oc2["collection_year"].astype(int),
                "sdq_score": pd.to_numeric(oc2["SDQ_SCORE"], errors="coerce"),
                "sdq_reason": oc2["SDQ_REASON"].fillna(""),
            }
        )
    if "missing" in s:
        mi = s["missing"]
        tables["missing"] = pd.DataFrame(
            {
                "child": pd.Series(names[child_no["missing"]], index=mi.index, dtype=object),
                "collection_year": mi["collection_year"].astype(int),
                "missing": mi["MISSING"].str.upper(),
                "start": ssda903.parse_dates(mi["MIS_START"]),
                "end": ssda903.parse_dates(mi["MIS_END"]),
            }
        )
    cost_report = {"cost_files": [], "cost_rows_in": 0, "cost_rows_matched": 0, "cost_rows_set_aside": 0, "cost_set_aside_reasons": {}}
    if costs_folder is not None and costs.find_cost_files(costs_folder):
        raw_costs_ = costs.read(costs_folder)
        valid, aside = costs.validate(raw_costs_)
        valid = valid.assign(child=privacy.pseudonymise(valid["CHILD"], key, la_code)).drop(columns="CHILD")
        matched, unmatched = costs.match(valid, placement_table)
        aside = pd.concat([aside, unmatched], ignore_index=True)
        tables["placement_costs"] = matched
        tables["costs_set_aside"] = aside
        cost_report = {
            "cost_files": [f.name for f in costs.find_cost_files(costs_folder)],
            "cost_rows_in": int(len(raw_costs_)),
            "cost_rows_matched": int(len(matched)),
            "cost_rows_set_aside": int(len(aside)),
            "cost_set_aside_reasons": {str(k): int(v) for k, v in aside["reason"].value_counts().sort_index().items()},
        }
    tables["set_aside"] = privacy.withhold_personal_values(v.set_aside)
    tables["warnings"] = privacy.withhold_personal_values(v.warnings)
    tables["measures"] = pd.DataFrame(measure_rows)
    report = {
        "la_code": la_code,
        "la_code_declared": declared,
        "collection_years": years,
        "files": v.files,
        "skipped_files": v.skipped,
        "rows_set_aside": int(len(v.set_aside)),
        "warnings": int(len(v.warnings)),
        "episodes_after_stitching": int(len(episodes_out)),
        "children": int(len(children)),
        "placements": int(len(placement_table)),
        "periods": int(len(period_table)),
        "episodes_closed_by_stitching": int(episodes_out["closed_by_stitch"].sum()),
        "children_with_conflicting_dob": dob_conflicts,
        "other_la_warnings": other_la,
        "rules": ssda903.rule_summary(v.set_aside, v.warnings).to_dict(orient="records"),
        "placement_postcodes_not_found": unknown_postcodes,
        "locations_derived_from_postcodes": int(episodes_out["derived_location"].sum()),
        **cost_report,
    }
    return {k: v_.reset_index(drop=True) for k, v_ in tables.items()}, report


def report_markdown(report: dict) -> str:
    lines = [
        "# 903 ingest report",
        "",
        f"Responsible LA: {report['la_code']}" + ("" if report["la_code_declared"] else " (no LA_CODE file: the project default was assumed)"),
        f"Collection years: {', '.join(map(str, report['collection_years']))}",
        "",
        "| table | year | file | rows in | kept | set aside | notes |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {f['table']} | {f['collection_year']} | {f['file']} | {f['rows_in']} | {f['kept']} | {f['set_aside']} | {f['notes']} |"
        for f in report["files"]
    ]
    lines += [
        "",
        f"Rows set aside: {report['rows_set_aside']} (see set_aside.parquet: file, row, column, reason). Warnings (rows kept): {report['warnings']}.",
        f"After stitching: {report['episodes_after_stitching']} episodes, {report['children']} children, "
        f"{report['placements']} placements, {report['periods']} periods of care; "
        f"{report['episodes_closed_by_stitching']} episode(s) left open by an earlier return were closed at the next episode's start.",
        f"Children whose date of birth differs between years' returns (the latest return's is used): "
        f"{report.get('children_with_conflicting_dob', 0)}.",
        *[f"Warning: {w}." for w in report.get("other_la_warnings", [])],
        f"Placement locations derived from postcodes: {report['locations_derived_from_postcodes']}; placement postcodes not in the directory: {report['placement_postcodes_not_found']}.",
    ]
    if report.get("rules"):
        lines += [
            "",
            "By rule: rows set aside or kept with a flag, and the papers whose figures they could move.",
            "",
            "| table | rule | set aside | kept, flagged | papers reading the table |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {r['table']} | {r['rule']} | {r['set aside']} | {r['kept, flagged']} | {r['papers reading the table']} |" for r in report["rules"]
        ]
    if report.get("cost_files"):
        lines += [
            "",
            f"Placement costs ({', '.join(report['cost_files'])}): {report['cost_rows_in']} rows in = "
            f"{report['cost_rows_matched']} matched to a placement + {report['cost_rows_set_aside']} set aside "
            "(costs_set_aside.parquet: file, row, column, reason).",
        ]
        lines += [f"- {reason}: {n}" for reason, n in report["cost_set_aside_reasons"].items()]
    else:
        lines += ["", "No placement cost file in data/raw/costs/ (paper 03's within-LA part needs one; see docs/papers/03-costs.md)."]
    if report["skipped_files"]:
        lines += ["", "Files not read:", *[f"- {s}" for s in report["skipped_files"]]]
    return "\n".join(lines) + "\n"


def is_stale(p: Paths) -> bool:
    """Whether the processed 903 was built from other returns (or other code, or another key) than those now in
    ``data/raw/ssda903/``: a run on it would use old data. False when there is no 903 or nothing processed."""
    folder, stamp = raw_903(p), processed_903(p) / STAMP
    if not stamp.is_file() or not folder.is_dir() or not (ssda903.find_files(folder) or ssda903.find_archives(folder)):
        return False
    try:
        return json.loads(stamp.read_text()).get("fingerprint") != _fingerprint(p, folder)
    except (OSError, ValueError, AnalysisError):
        return True


def run_ingest_903(p: Paths, *, force: bool = False) -> Ingest903Result:
    folder = raw_903(p)
    out = processed_903(p)
    if not folder.is_dir() or not (ssda903.find_files(folder) or ssda903.find_archives(folder)):
        return Ingest903Result("no data", out, {})
    fingerprint = _fingerprint(p, folder)
    stamp = out / STAMP
    same = stamp.is_file() and json.loads(stamp.read_text()).get("fingerprint") == fingerprint
    damaged = damaged_outputs(out) if same else []
    if not force and same and not damaged:
        return Ingest903Result("up to date", out, json.loads((out / "ingest_report.json").read_text()))
    tables, report = build(p, folder, raw_costs(p))
    report["rebuilt_damaged"] = damaged  # tables that were missing or changed since the last build: said, not silently redone
    staging, old = p.processed / ".ssda903.staging", p.processed / ".ssda903.old"
    for d in (staging, old):
        if d.exists():
            shutil.rmtree(d)
    staging.mkdir(parents=True)
    try:
        for name, df in tables.items():
            df.to_parquet(staging / f"{name}.parquet", index=False)
        (staging / "ingest_report.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
        (staging / "ingest_report.md").write_text(report_markdown(report))
        (staging / STAMP).write_text(json.dumps({"fingerprint": fingerprint, "outputs": output_checksums(staging)}) + "\n")
        if out.exists():
            out.rename(old)
        staging.rename(out)
    except BaseException:
        if staging.exists():
            shutil.rmtree(staging)
        if old.exists() and not out.exists():
            old.rename(out)
        raise
    if old.exists():
        shutil.rmtree(old)
    return Ingest903Result("built", out, report)
