"""``analysis ingest``: build ``data/processed/public/`` from ``data/raw/public/``.

Steps: verify the shipped files against ``SHA256SUMS`` -> load each source (set aside bad rows
with reasons) -> apply publication precedence -> check every table against its schema -> write
to a staging folder -> swap it in. A failure at any step leaves the previous processed data as it
was. Re-running on unchanged inputs and code rewrites nothing (the stamp file says so), and a
forced rebuild writes byte-identical files.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from analysis.config import Paths, code_digest
from analysis.errors import InputError
from analysis.io import indicators as ind
from analysis.io import memo, ofsted_providers, schemas
from analysis.io import public_data as pdl
from analysis.io.geography import build_la_lookup
from analysis.progress import Progress

log = logging.getLogger(__name__)

EES_SOURCES: tuple[pdl.SourceFile, ...] = (
    pdl.SourceFile("dfe_cla/cla_number_and_rate_per_10k_children_2019_2023.csv", "cla_numbers", 2023),
    pdl.SourceFile("dfe_cla/cla_number_and_rate_per_10k_children_2021_2025.csv", "cla_numbers", 2025),
    pdl.SourceFile("dfe_cla/la_cla_at_31_march_placement_stability_indicator_2018_2022.csv", "placement_stability", 2022),
    pdl.SourceFile("dfe_cla/la_cla_placement_stability_2021_2025.csv", "placement_stability", 2025),
    pdl.SourceFile("dfe_cla/la_cla_swcount_2024.csv", "placement_stability", 2024),
    pdl.SourceFile("dfe_cla/la_cla_during_year_new_placements_2018_2022.csv", "new_placements", 2022),
    pdl.SourceFile("dfe_cla/la_cla_during_year_new_placements_2021_2025.csv", "new_placements", 2025),
    pdl.SourceFile("dfe_cla/la_cla_on_31_march_la_of_placement_net_gain_2018_2022.csv", "net_gain", 2022),
    pdl.SourceFile("dfe_cla/la_cla_on_31_march_la_of_placement_netgain_2020_2024.csv", "net_gain", 2024),
    pdl.SourceFile("dfe_cla/la_children_who_were_missing_or_away_from_placement_without_authorisation_2020_2024.csv", "missing", 2024),
    pdl.SourceFile("derived/la_cla_on_31_march_by_characteristics_2020_2025_reconstructed.csv", "characteristics", 2025),
    pdl.SourceFile("dfe_csc/b1_children_in_need_2013_to_2025.csv", "cin", 2025),
    pdl.SourceFile("dfe_csc/c1_children_in_need_referrals_and_rereferrals_2013_to_2025.csv", "referrals", 2025),
    pdl.SourceFile("dfe_csc/d5_cpps_at31march_by_duration_2013_to_2025.csv", "cpp", 2025),
    pdl.SourceFile("dfe_csc/la_care_leavers_activity.csv", "care_leavers", 2025),
    pdl.SourceFile("dfe_csc/la_care_leavers_accommodation_suitability.csv", "care_leavers", 2025),
)
SFR_SOURCES: tuple[pdl.SourceFile, ...] = (
    pdl.SourceFile("dfe_cla_sfr_2015_2017/SFR34_CLA2015.csv", "sfr", 2015),
    pdl.SourceFile("dfe_cla_sfr_2015_2017/SFR41_CLA2016.csv", "sfr", 2016),
    pdl.SourceFile("dfe_cla_sfr_2015_2017/SFR50_CLA2017.csv", "sfr", 2017),
)
LOOKUP_SOURCE = "derived/la_code_lookup_from_ons_mye_2012_2024.csv"
POPULATION_SOURCE = "population_lookups/ons_mid-year_population_estimates_2012_to_2024.csv"
RO3_SOURCE = "derived/ro3_children_looked_after_expenditure_by_la_2022_23_to_2024_25.csv"
SN_2021_SOURCE = "population_lookups/New_Statistical_Neighbour_Groupings_April_2021.csv"
SN_2025_SOURCE = "population_lookups/sn_model_2025_wide.csv"
OFSTED_SOURCE = "derived/ofsted_providers_places_by_la_2019_2025.csv"

#: the code whose change should trigger a rebuild
STAMP = "_inputs.json"


#: Ofsted's provider-level files, one a year (read by analysis.io.ofsted_providers)
PROVIDER_SOURCES = tuple(f"ofsted/providers/provider_at_march_{y}.csv" for y in range(2019, 2026))


def input_files() -> list[str]:
    return sorted(
        [s.path for s in EES_SOURCES + SFR_SOURCES]
        + [LOOKUP_SOURCE, POPULATION_SOURCE, RO3_SOURCE, SN_2021_SOURCE, SN_2025_SOURCE, OFSTED_SOURCE, *PROVIDER_SOURCES]
    )


# ----------------------------------------------------------------------------- checksums
def sha256(path: Path) -> str:
    """The SHA-256 of a file (the project's one file-hashing helper)."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def read_checksums(path: Path) -> dict[str, str]:
    if not path.is_file():
        raise InputError("checksum list not found; restore it from git", path)
    out = {}
    for n, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split(maxsplit=1)
        if len(parts) != 2 or len(parts[0]) != 64:
            raise InputError("expected '<sha256>  <relative path>'", path, row=n)
        out[parts[1].strip().lstrip("*")] = parts[0]
    return out


def verify_checksums(p: Paths) -> list[str]:
    """Problems found comparing the shipped files with SHA256SUMS (empty list = all good)."""
    expected = read_checksums(p.checksums)
    problems = []
    for rel, digest in sorted(expected.items()):
        f = p.raw_public / rel
        if not f.is_file():
            problems.append(f"{f}: missing (listed in SHA256SUMS)")
        elif sha256(f) != digest:
            problems.append(
                f"{f}: checksum differs from SHA256SUMS (raw files are read-only; restore it with `git checkout -- {f.relative_to(p.root)}`)"
            )
    for rel in input_files():
        if rel not in expected:
            problems.append(f"{p.raw_public / rel}: used by ingest but not listed in SHA256SUMS")
    return problems


def write_checksums(p: Paths) -> Path:
    """Write SHA256SUMS for every data file under data/raw/public (used when a file is added)."""
    lines = []
    for f in sorted(p.raw_public.rglob("*")):
        if f.is_file() and f.name not in ("SHA256SUMS",) and not f.name.startswith("."):
            lines.append(f"{sha256(f)}  {f.relative_to(p.raw_public).as_posix()}")
    p.checksums.write_text("\n".join(lines) + "\n")
    return p.checksums


def code_version() -> str:
    """A short digest of the code the public ingest runs: this module and every module it imports, found from
    their imports (:func:`analysis.config.code_digest`), so a change to any of them rebuilds the processed data."""
    return code_digest("analysis.io.ingest")


# ----------------------------------------------------------------------------- build
@dataclass
class IngestResult:
    status: str  # "built" or "up to date"
    out_dir: Path
    report: dict


def build_tables(raw: Path, progress: Progress | None = None) -> tuple[dict[str, pd.DataFrame], dict]:
    """Load every source; return the processed tables and the ingest report (no writing).
    ``progress`` hears of each file read (its total: :func:`input_files`)."""
    step = progress.advance if progress is not None else (lambda message="": None)
    lookup_raw = pdl.read_text_csv(raw / LOOKUP_SOURCE)
    pdl.require_columns(lookup_raw, ["old_la_code", "new_la_code", "la_name", "region_code", "region_name"], raw / LOOKUP_SOURCE)
    lookup = build_la_lookup(lookup_raw.drop(columns="_row"))

    loads: dict[str, pdl.Loaded] = {}
    for spec in EES_SOURCES:
        log.info("reading %s", spec.path)
        loads[spec.path] = pdl.load_ees(spec, raw, lookup)
        step()
    for spec in SFR_SOURCES:
        log.info("reading %s", spec.path)
        loads[spec.path] = pdl.load_sfr(spec, raw, lookup)
        step()
    indicators_all = pd.concat([loads[s.path].table for s in EES_SOURCES + SFR_SOURCES], ignore_index=True)
    la_indicators, superseded = pdl.apply_precedence(indicators_all)

    log.info("reading population, RO3, statistical neighbours, Ofsted")
    loads[POPULATION_SOURCE] = pdl.load_population(raw / POPULATION_SOURCE, POPULATION_SOURCE, lookup)
    loads[RO3_SOURCE] = pdl.load_ro3(raw / RO3_SOURCE, RO3_SOURCE, lookup)
    sn = pdl.load_statistical_neighbours(raw / SN_2021_SOURCE, SN_2021_SOURCE, raw / SN_2025_SOURCE, SN_2025_SOURCE, lookup)
    loads["statistical_neighbours"] = sn
    loads[OFSTED_SOURCE] = pdl.load_ofsted_places(raw / OFSTED_SOURCE, OFSTED_SOURCE, lookup)
    loads["ofsted_providers"] = ofsted_providers.load(raw, lookup)
    for _ in range(7):  # lookup, population, RO3, two neighbour models, Ofsted places, Ofsted providers
        step()

    set_aside = (
        pd.concat([ld.set_aside for ld in loads.values() if not ld.set_aside.empty], ignore_index=True)
        if any(not ld.set_aside.empty for ld in loads.values())
        else pd.DataFrame(columns=pdl.SET_ASIDE_COLUMNS)
    )
    set_aside = set_aside.sort_values(["source_file", "row"], kind="mergesort")

    tables = {
        "la_indicators": la_indicators,
        "superseded": superseded,
        "indicators": ind.catalogue(),
        "ro3_spend": loads[RO3_SOURCE].table,
        "population": loads[POPULATION_SOURCE].table,
        "statistical_neighbours": sn.table,
        "ofsted_places": loads[OFSTED_SOURCE].table,
        "ofsted_providers": loads["ofsted_providers"].table,
        "la_lookup": lookup,
        "set_aside": set_aside,
    }
    tables = {name: schemas.conform(name, df) for name, df in tables.items()}
    for name, df in tables.items():
        schemas.check(name, df)

    # per-file reconciliation: rows read = rows kept + rows set aside
    files = {}
    for load in loads.values():
        for src, n_read in load.rows_read.items():
            aside = set_aside[set_aside["source_file"] == src]
            files[src] = {
                "rows_read": int(n_read),
                "rows_kept": int(load.rows_kept[src]),
                "rows_set_aside": int(len(aside)),
                "set_aside_reasons": {str(k): int(v) for k, v in aside["reason"].value_counts().sort_index().items()},
            }
            if files[src]["rows_read"] != files[src]["rows_kept"] + files[src]["rows_set_aside"]:
                raise InputError(
                    f"row counts do not reconcile: read {n_read}, kept {load.rows_kept[src]}, set aside {len(aside)}",
                    raw / src,
                )
    files[LOOKUP_SOURCE] = {
        "rows_read": int(len(lookup_raw)),
        "rows_kept": int(len(lookup_raw)),
        "rows_set_aside": 0,
        "set_aside_reasons": {},
        "rows_added": int(len(lookup) - len(lookup_raw)),  # replaced codes the ONS file no longer carries (see geography.py)
    }

    sup = tables["superseded"]
    sup_summary = (
        sup.groupby(["source_file", "source_file_kept"]).agg(rows=("differs", "size"), revised=("differs", "sum")).reset_index()
        if not sup.empty
        else pd.DataFrame(columns=["source_file", "source_file_kept", "rows", "revised"])
    )
    li = tables["la_indicators"]
    coverage = (
        li.groupby("indicator")["year"]
        .agg(["min", "max", "nunique"])
        .reset_index()
        .rename(columns={"min": "first_year", "max": "last_year", "nunique": "years"})
    )
    report = {
        "code_version": code_version(),
        "files": dict(sorted(files.items())),
        "tables": {name: {"rows": int(len(df)), "columns": len(df.columns)} for name, df in tables.items()},
        "superseded_by_later_publication": [
            {"earlier": r.source_file, "later": r.source_file_kept, "values_replaced": int(r.rows), "values_revised": int(r.revised)}
            for r in sup_summary.itertuples()
        ],
        "suppressed_values": {str(k): int(v) for k, v in li["flag"].value_counts().sort_index().items()},
        "indicator_coverage": [
            {"indicator": r.indicator, "first_year": int(r.first_year), "last_year": int(r.last_year), "years": int(r.years)}
            for r in coverage.itertuples()
        ],
        "la_changes": [
            {"la_code": r.la_code, "la_name": r.la_name, "status": r.status, "successors": r.successors, "predecessors": r.predecessors}
            for r in lookup.itertuples()
            if r.status != "current" or r.predecessors
        ],
    }
    return tables, report


def report_markdown(report: dict) -> str:
    lines = [
        "# Ingest report: published data",
        "",
        f"Code version `{report['code_version']}`.",
        "",
        "## Files read",
        "",
        "| file | rows read | kept | set aside | reasons |",
        "|---|---:|---:|---:|---|",
    ]
    for f, r in report["files"].items():
        reasons = "; ".join(f"{k} ({v})" for k, v in r["set_aside_reasons"].items())
        lines.append(f"| `{f}` | {r['rows_read']} | {r['rows_kept']} | {r['rows_set_aside']} | {reasons} |")
    lines += [
        "",
        "Rows read = rows kept + rows set aside, for every file. Set-aside rows are in `set_aside.parquet` with file, line, column and reason.",
        "",
        "## Tables written",
        "",
        "| table | rows | columns |",
        "|---|---:|---:|",
    ]
    lines += [f"| `{t}.parquet` | {r['rows']} | {r['columns']} |" for t, r in report["tables"].items()]
    lines += [
        "",
        "## Where two publications give the same year, the later one wins",
        "",
        "| earlier file | later file (kept) | values replaced | of which revised |",
        "|---|---|---:|---:|",
    ]
    lines += [
        f"| `{r['earlier']}` | `{r['later']}` | {r['values_replaced']} | {r['values_revised']} |" for r in report["superseded_by_later_publication"]
    ]
    lines += [
        "",
        "Every replaced value is in `superseded.parquet`.",
        "",
        "## Suppressed or missing values (kept as missing, never zero)",
        "",
        "| symbol | values |",
        "|---|---:|",
    ]
    lines += [f"| `{k}` | {v} |" for k, v in report["suppressed_values"].items()]
    lines += ["", "## LA boundary and code changes", "", "| code | name | status | successors | predecessors |", "|---|---|---|---|---|"]
    lines += [f"| {r['la_code']} | {r['la_name']} | {r['status']} | {r['successors']} | {r['predecessors']} |" for r in report["la_changes"]]
    return "\n".join(lines) + "\n"


def _stamp(p: Paths) -> dict:
    """Inputs and code the processed data were built from. Called after verify_checksums, so the
    recorded checksums are the files' own (no second hashing pass)."""
    listed = read_checksums(p.checksums)
    return {
        "code_version": code_version(),
        "inputs": {rel: listed[rel] for rel in input_files()},
    }


def output_checksums(folder: Path) -> dict[str, str]:
    """SHA-256 of every processed table in a folder (recorded in its stamp, checked at every read)."""
    return {f.name: sha256(f) for f in sorted(folder.glob("*.parquet"))}


def damaged_outputs(folder: Path) -> list[str]:
    """Processed tables that are missing or differ from the checksums recorded when they were built."""
    try:
        recorded = json.loads((folder / STAMP).read_text()).get("outputs", {})
    except (json.JSONDecodeError, OSError):
        return [STAMP]
    return [name for name, digest in recorded.items() if not (folder / name).is_file() or sha256(folder / name) != digest]


def check_output(path: Path) -> None:
    """Refuse a processed table whose bytes are not those its ingest wrote (a damaged or edited file),
    with a line saying how to rebuild it, instead of a Parquet traceback later."""
    try:
        recorded = json.loads((path.parent / STAMP).read_text()).get("outputs", {})
    except (json.JSONDecodeError, OSError):
        return  # built before checksums were recorded: nothing to check against
    if path.name in recorded and sha256(path) != recorded[path.name]:
        raise InputError("is damaged or was changed after ingest (its checksum differs): run `analysis ingest --force` to rebuild it", path)


def is_up_to_date(p: Paths) -> bool:
    stamp = p.processed_public / STAMP
    if not stamp.is_file():
        return False
    try:
        recorded = json.loads(stamp.read_text())
        return {k: recorded.get(k) for k in ("code_version", "inputs")} == _stamp(p) and not damaged_outputs(p.processed_public)
    except (json.JSONDecodeError, OSError, InputError):
        return False


def run_ingest(p: Paths, *, force: bool = False, progress: Progress | None = None) -> IngestResult:
    """Build data/processed/public atomically. See the module docstring."""
    problems = verify_checksums(p)
    if problems:
        raise InputError(problems[0] + (f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""))
    staging = p.processed / ".public.staging"
    old = p.processed / ".public.old"
    # what an interrupted ingest (killed mid-way) leaves: a half-built staging folder, or the previous
    # output moved aside just before the swap (put back: it is the last good output)
    if old.exists() and not p.processed_public.exists():
        old.rename(p.processed_public)
    for leftover in (staging, old):
        if leftover.exists():
            shutil.rmtree(leftover)
    if not force and is_up_to_date(p):
        report = json.loads((p.processed_public / "ingest_report.json").read_text())
        return IngestResult("up to date", p.processed_public, report)

    tables, report = build_tables(p.raw_public, progress)
    p.processed.mkdir(parents=True, exist_ok=True)
    staging.mkdir()
    try:
        for name, df in tables.items():
            df.to_parquet(staging / f"{name}.parquet", index=False, engine="pyarrow")
        (staging / "ingest_report.json").write_text(json.dumps(report, indent=2, sort_keys=False) + "\n")
        (staging / "ingest_report.md").write_text(report_markdown(report))
        (staging / "SCHEMAS.md").write_text(schemas.describe_markdown())
        (staging / STAMP).write_text(json.dumps({**_stamp(p), "outputs": output_checksums(staging)}, indent=2, sort_keys=True) + "\n")
        # swap: previous good output stays until the new one is complete
        if p.processed_public.exists():
            p.processed_public.rename(old)
        staging.rename(p.processed_public)
    except BaseException:
        if staging.exists():
            shutil.rmtree(staging)
        if old.exists() and not p.processed_public.exists():
            old.rename(p.processed_public)
        raise
    if old.exists():
        shutil.rmtree(old)
    return IngestResult("built", p.processed_public, report)


def read_table(p: Paths, name: str) -> pd.DataFrame:
    """Read a processed table and check it against its schema (once per process while the file is
    unchanged: :func:`analysis.io.memo.read_once`)."""
    path = p.processed_public / f"{name}.parquet"
    if not path.is_file():
        raise InputError("processed table not found; run `analysis ingest` first", path)
    return memo.read_once(path, lambda f: _read_checked(name, f), also=(path.parent / STAMP,))


def _read_checked(name: str, path: Path) -> pd.DataFrame:
    check_output(path)
    df = pd.read_parquet(path)
    for col, dtype, _ in schemas.SCHEMAS[name]:
        if col in df.columns and dtype == "string":
            df[col] = df[col].astype("string")
    schemas.check(name, df, path)
    return df
