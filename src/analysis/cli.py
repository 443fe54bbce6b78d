"""The ``analysis`` command. Thin: parses arguments and calls the modules that do the work.

Errors in input (a missing file, a renamed column, an unknown LA code) print one line naming
the file and what is wrong, and exit with status 2. A bug still shows its traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys

from analysis import __version__
from analysis.config import CELL_TIMEOUT, CLUSTER, DEFAULT_LA_CODE, paths
from analysis.errors import AnalysisError, RunLockedError
from analysis.progress import Progress

EXIT_FAILED = 1
EXIT_INPUT_ERROR = 2
EXIT_LOCKED = 3


def _cmd_ingest(args: argparse.Namespace) -> int:
    from analysis.io.ingest import input_files, run_ingest

    p = paths()
    with Progress(len(input_files()), label="ingest: reading the published files") as progress:
        result = run_ingest(p, force=args.force, progress=progress)
    report = result.report
    n_files = len(report["files"])
    n_aside = sum(f["rows_set_aside"] for f in report["files"].values())
    if result.status == "up to date":
        when = _built_at(result.out_dir / "ingest_report.json")
        print(f"Processed data is up to date with data/raw/public ({n_files} files; built {when}); nothing rewritten. Use --force to rebuild.")
    else:
        tables = ", ".join(f"{t} ({r['rows']:,})" for t, r in report["tables"].items())
        print(f"Built {result.out_dir.relative_to(p.root)}/ from {n_files} files: {tables}.")
        print(f"{n_aside} row(s) set aside with reasons; see {(result.out_dir / 'ingest_report.md').relative_to(p.root)}.")
    _cmd_ingest_903(p, force=args.force)
    return 0


def _cmd_ingest_903(p, *, force: bool = False) -> None:
    from analysis.io.ingest903 import run_ingest_903

    result = run_ingest_903(p, force=force)  # --force rebuilds the 903 tables too
    if result.status == "no data":
        print("No 903 returns in data/raw/ssda903/ (run `analysis synth` for the synthetic default); child-level tables not built.")
    elif result.status == "up to date":
        print(f"903 tables are up to date with data/raw/ssda903/ (built {_built_at(result.out_dir / 'ingest_report.json')}); nothing rewritten.")
    else:
        r = result.report
        print(
            f"Built {result.out_dir.relative_to(p.root)}/ for {r['la_code']}: {r['children']:,} children, {r['placements']:,} placements, "
            f"{r['periods']:,} periods of care ({', '.join(map(str, r['collection_years'][:1] + r['collection_years'][-1:]))}); "
            f"{r['rows_set_aside']} row(s) set aside, {r['warnings']} warning(s); see {(result.out_dir / 'ingest_report.md').relative_to(p.root)}."
        )
        if r.get("rebuilt_damaged"):
            print(f"note: rebuilt because the processed table(s) were damaged or changed after the last ingest: {', '.join(r['rebuilt_damaged'])}")
        for f in r.get("files", []):  # a column the return lacks is read as blank, and can set many rows aside: say which
            missing = [n for n in str(f.get("notes", "")).split("; ") if n.startswith("column(s) missing")]
            if missing:
                print(f"note: {f['file']}: {missing[0]}")
        for w in r.get("other_la_warnings", []):
            print(f"warning: {w}")


def _built_at(path) -> str:
    """When a processed folder was built (its report's time), in words."""
    from datetime import datetime

    try:
        return datetime.fromtimestamp(path.stat().st_mtime).strftime("%d %B %Y at %H:%M")
    except OSError:
        return "at an unknown time"


def _cmd_validate(args: argparse.Namespace) -> int:
    from pathlib import Path

    from analysis.io.ssda903 import conflicting_dobs, flagged_rows, flags_by_rule, missing_tables, read_returns, why_missing

    out = Path(args.out) if args.out else None
    if out is not None and out.suffix.lower() not in (".csv", ".xlsx"):
        raise AnalysisError(f"--out {out}: give a .csv or .xlsx file name")
    folder = Path(args.path)
    if folder.is_dir():  # the LA_CODE file by the same rule as `analysis ingest` (an empty or unknown code stops both)
        from analysis.io.ingest import read_table
        from analysis.io.ingest903 import la_of_returns

        try:
            lookup = read_table(paths(), "la_lookup")
        except AnalysisError:
            lookup = None  # no processed published data: the code must at least look like an LA code
        la, named = la_of_returns(folder, lookup)
        print(f"LA: {la} (from the LA_CODE file)" if named else f"no LA_CODE file: ingest would take the project's default LA ({la})")
    v = read_returns(folder, year_from=args.year_from)
    rec = v.reconciliation()
    print(rec.groupby(["collection_year", "table"])[["rows_in", "kept", "set_aside"]].sum().to_string())
    for note in (f"{r.file}: {r.notes}" for r in rec.itertuples() if r.notes):
        print(f"note: {note}")
    for s in v.skipped:
        print(f"not read: {s}")
    if not v.set_aside.empty:
        print(f"\n{len(v.set_aside)} row(s) set aside (first {min(20, len(v.set_aside))}):")
        for r in v.set_aside.head(20).itertuples():
            print(f"  {r.file}, row {r.row}, column {r.column}: {r.reason}")
    flagged = flagged_rows(v)
    if len(flagged):
        import pandas as pd

        by_rule = flags_by_rule(flagged)
        print(f"\nEvery flag by rule ({len(flagged)} flag(s) on {flagged[['file', 'row']].drop_duplicates().shape[0]} row(s)):")
        with pd.option_context("display.max_colwidth", 90, "display.width", 200):
            print(by_rule.to_string(index=False))
        if out is None:
            print("Every flagged row, with file, row, column, DfE code and message: add --out flagged.xlsx (or .csv).")
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.suffix.lower() == ".csv":
            flagged.to_csv(out, index=False)
        else:
            flagged.to_excel(out, index=False, sheet_name="flagged rows")
        print(f"wrote {len(flagged)} flagged row(s) to {out}")
    conflicts = conflicting_dobs(v)
    if conflicts:
        print(f"warning: {conflicts} child(ren) have a different date of birth in different years' returns; the latest return's is used")
    missing = missing_tables(v)
    if missing:
        for table in missing:
            print(f"error: {why_missing(v, table)}", file=sys.stderr)
        return EXIT_INPUT_ERROR
    return 1 if len(v.set_aside) else 0  # 1: rows would be set aside (the analyst has rows to fix)


def _cmd_synth(args: argparse.Namespace) -> int:
    from pathlib import Path

    from analysis.synth.synthetic import generate

    p = paths()
    default_out = p.raw / "ssda903"
    out = Path(args.out) if args.out else default_out
    existing = [f for f in out.rglob("*") if f.is_file() and f.name != "README.md"] if out.is_dir() else []
    if existing and not (out / "truth.json").is_file():
        if args.if_missing:
            print(f"{out} already holds 903 files; not generating synthetic data.")
            return 0
        raise AnalysisError(f"{out} already holds files that are not a synthetic 903 (no truth.json); choose an empty folder")
    if existing and args.if_missing:
        print(f"{out} already holds a synthetic 903 ({json_la(out)}); not regenerating.")
        return 0
    for f in existing:
        f.unlink()
    from analysis.io.ingest import run_ingest

    built = run_ingest(p)  # calibration reads the published figures (does nothing if they are up to date)
    if built.status == "built":
        print(f"Built {built.out_dir.relative_to(p.root)}/ from the published files first (the synthetic 903 is calibrated to them).")
    costs = p.raw / "costs" if out.resolve() == default_out.resolve() else None
    if args.messy is not None:  # the clean returns first, then the messy copy in their place
        import shutil
        import tempfile

        from analysis.synth.messy import make_messy

        with tempfile.TemporaryDirectory() as tmp:
            with Progress(7, label="synth") as progress:
                truth = generate(p, args.la, args.seed, Path(tmp) / "clean", costs_dir=costs, progress=progress)
            faults = make_messy(Path(tmp) / "clean", Path(tmp) / "messy", args.messy, args.seed)
            shutil.copytree(Path(tmp) / "messy", out, dirs_exist_ok=True)
        print(f"Injected {len(faults):,} faults at a rate of {args.messy:g}: listed in {out / 'faults.json'}.")
    else:
        with Progress(7, label="synth") as progress:
            truth = generate(p, args.la, args.seed, out, costs_dir=costs, progress=progress)
    cal = next(c for c in truth["calibration"] if c.get("chosen"))  # the run written
    print(
        f"Wrote a synthetic 903 for {truth['la_name']} ({truth['la_code']}), seed {args.seed}: {truth['children']:,} children, "
        f"collection years {truth['collection_years'][0]}-{truth['collection_years'][1]}, to {out}. "
        f"3+ placements {cal['three_plus']:.1%} (published {truth['targets']['three_plus']:.0%}), outside the LA {cal['outside']:.0%} "
        f"(published {truth['targets']['outside']:.0%}). Planted effects: {out / 'truth.json'}."
    )
    return 0


def json_la(folder) -> str:
    import json

    try:
        return json.loads((folder / "truth.json").read_text())["la_code"]
    except (OSError, ValueError, KeyError):
        return "unknown LA"


def _cmd_check_data(args: argparse.Namespace) -> int:
    from analysis.io.ingest import verify_checksums, write_checksums

    p = paths()
    if args.write:
        out = write_checksums(p)
        print(f"Wrote {out.relative_to(p.root)}. Commit it with the new file(s) and their provenance.")
        return 0
    problems = verify_checksums(p)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        return EXIT_INPUT_ERROR
    print(f"All shipped files match {p.checksums.relative_to(p.root)}.")
    return 0


def _cmd_las(args: argparse.Namespace) -> int:
    from analysis.io.geography import resolve_la
    from analysis.io.ingest import read_table

    p = paths()
    lookup = read_table(p, "la_lookup")
    if args.query:
        row = resolve_la(args.query, lookup)
        print(f"{row['la_code']}  {row['old_la_code']}  {row['la_name']}  ({row['region_name']})")
        if row["predecessors"]:
            print(f"  series starts {row['series_break_year']}: {row['change_note']}")
        return 0
    shown = lookup if args.all else lookup[lookup["status"] == "current"]
    for r in shown.sort_values(["region_name", "la_name"]).itertuples():
        status = "" if r.status == "current" else f"  [{r.status}; now {r.successors}]"
        print(f"{r.la_code}  {r.old_la_code}  {r.la_name}  ({r.region_name}){status}")
    return 0


def _cmd_summary(args: argparse.Namespace) -> int:
    from analysis.io.geography import resolve_la
    from analysis.io.ingest import read_table
    from analysis.io.profile import headline_table

    p = paths()
    lookup = read_table(p, "la_lookup")
    la = resolve_la(args.la, lookup)
    table = headline_table(read_table(p, "la_indicators"), la)
    print(f"{la['la_name']} ({la['la_code']}, {la['old_la_code']}), {la['region_name']}: latest published figures")
    print(table.to_string(index=False))
    print("Suppressed or unavailable values are shown as their DfE symbol, never as zero.")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from analysis.run.runner import parse_param, resolve_las, run, select_papers

    p = paths()
    papers = select_papers(p, args.papers)
    if not papers:
        print("no papers to run (none is marked as default)", file=sys.stderr)
        return EXIT_INPUT_ERROR
    parameters = dict(parse_param(x) for x in args.param)
    for reserved in ("la_code", "output_dir"):
        if reserved in {k.split(".")[-1] for k in parameters}:
            raise AnalysisError(f"--param {reserved} is set by the runner; use --la for the LA")
    las = resolve_las(p, args.la, args.all_las)
    result = run(
        p,
        papers,
        las,
        parameters,
        workers=args.workers,
        timeout=args.timeout,
        cluster=args.cluster,
        full=args.full,
        command="analysis run " + " ".join(sys.argv[2:]) if sys.argv[1:2] == ["run"] else "analysis run",
    )
    if result.failed:
        print(
            f"{len(result.failed)} of {len(result.records)} report(s) failed; the previous good reports stay in reports/latest/. "
            f"See reports/index.html.",
            file=sys.stderr,
        )
    return result.exit_code


def _cmd_refresh(args: argparse.Namespace) -> int:
    from analysis.run.refresh import refresh
    from analysis.run.runner import resolve_las, select_papers

    p = paths()
    papers = select_papers(p, args.papers)
    las = resolve_las(p, args.la, args.all_las) if (args.la or args.all_las) else None
    return refresh(p, papers, las, workers=args.workers, cluster=args.cluster)


def _cmd_papers(args: argparse.Namespace) -> int:
    from analysis.papers import registry

    p = paths()
    specs = registry.load(p)
    if args.check:
        problems = registry.all_problems(p)
        for problem in problems:
            print(f"error: {problem}", file=sys.stderr)
        if not problems:
            print(f"{len(specs)} paper(s) declared in notebooks/{registry.REGISTRY_FILE}; every notebook agrees with its declaration.")
        return EXIT_INPUT_ERROR if problems else 0
    chosen = [registry.spec(x.zfill(2), p) for x in args.ids] or list(specs.values())
    if args.cell:
        print("\n\n".join(registry.parameters_cell(s) for s in chosen))
        return 0
    print("\n\n".join(registry.describe(s) for s in chosen))
    return 0


def _cmd_index(args: argparse.Namespace) -> int:
    from analysis.run.runner import write_index

    p = paths()
    print(write_index(p).relative_to(p.root))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="analysis",
        description="Evidence for planning homes for children in care: ingest published and local data, and build the papers.",
    )
    parser.add_argument("--version", action="version", version=f"analysis {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p_ingest = sub.add_parser(
        "ingest",
        help="build data/processed/ from data/raw/ and write an ingest report",
        description="Verify the shipped files, read every source, set aside bad rows with reasons, "
        "and write tidy Parquet tables to data/processed/public/ (atomically: a failure keeps the "
        "previous output). Does nothing if inputs and code are unchanged.",
    )
    p_ingest.add_argument("--force", action="store_true", help="rebuild even if inputs are unchanged")
    p_ingest.set_defaults(func=_cmd_ingest)

    p_val = sub.add_parser(
        "validate",
        help="check 903 returns (a folder or a file) and report, without ingesting",
        description="Read every 903 CSV or .xlsx under PATH, recognise the tables by their columns, apply the "
        "validation rules, and print rows in / kept / set aside per year and table, the first rows set aside "
        "(file, row, column, reason), and every flag grouped by rule (DfE code, message, rows, first rows); --out writes every "
        "flagged row (set aside or kept with a flag) with file, row, column, DfE code and message to a .csv or .xlsx file. "
        "Nothing else is written. Exit 0 if nothing would be set aside, 1 if rows would be, 2 if no usable header or episodes remain.",
    )
    p_val.add_argument("--out", metavar="FILE", help="write every flagged row to FILE (.csv or .xlsx), to filter and fix the return")
    p_val.add_argument("path", help="folder of returns (one sub-folder per year, e.g. 2024-25/) or one file")
    p_val.add_argument(
        "--year-from",
        choices=("dates", "name"),
        default="dates",
        help="where a folder or file name and the episode dates disagree on the collection year, which wins (default: dates)",
    )
    p_val.set_defaults(func=_cmd_validate)

    p_syn = sub.add_parser(
        "synth",
        help="write a synthetic 903 (ten years) calibrated to an LA's published figures",
        description="Simulate children looked after in an LA, calibrated to its published figures, with real "
        "postcodes and planted effects on placement breakdown and cost (recorded in truth.json), and write "
        "the CSV returns an LA exports, a placement weekly-cost file and LA_CODE. The same seed gives the same bytes.",
    )
    p_syn.add_argument("--la", default=DEFAULT_LA_CODE, help=f"LA code or name (default {DEFAULT_LA_CODE})")
    p_syn.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    p_syn.add_argument("--out", help="output folder (default data/raw/ssda903; costs then go to data/raw/costs)")
    p_syn.add_argument("--if-missing", action="store_true", help="do nothing if the folder already holds 903 data")
    p_syn.add_argument(
        "--messy",
        type=float,
        metavar="RATE",
        help="write a messy copy instead: the faults real returns have, in this share of the rows each can "
        "apply to (0 to 0.5), each listed in faults.json",
    )
    p_syn.set_defaults(func=_cmd_synth)

    p_check = sub.add_parser(
        "check-data",
        help="verify the shipped raw files against data/raw/public/SHA256SUMS",
        description="Compare every file under data/raw/public/ with its recorded SHA-256 checksum.",
    )
    p_check.add_argument("--write", action="store_true", help="rewrite SHA256SUMS (only when adding a new published file)")
    p_check.set_defaults(func=_cmd_check_data)

    p_las = sub.add_parser(
        "las",
        help="list local authorities, or look one up by code or name",
        description="List current LAs with new code, old DfE code, name and region; or resolve one "
        "query (E06000004, 808 or Stockton-on-Tees). Needs `analysis ingest` first.",
    )
    p_las.add_argument("query", nargs="?", help="an LA code or name to look up")
    p_las.add_argument("--all", action="store_true", help="include LAs that ceased or whose code was replaced")
    p_las.set_defaults(func=_cmd_las)

    p_sum = sub.add_parser(
        "summary",
        help="print an LA's latest headline figures beside its region and England",
        description="A quick check of the processed data: latest published values for an LA, its region and England. Needs `analysis ingest` first.",
    )
    p_sum.add_argument("--la", default=DEFAULT_LA_CODE, help=f"LA code or name (default {DEFAULT_LA_CODE}, Stockton-on-Tees)")
    p_sum.set_defaults(func=_cmd_summary)

    def add_targets(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("papers", nargs="*", metavar="PAPER", help="paper number or name, e.g. 01 (default: the default set)")
        sp.add_argument("--la", action="append", default=[], metavar="CODE", help="LA code or name; repeat for several")
        sp.add_argument("--all-las", action="store_true", help="every current LA in England")
        sp.add_argument("--workers", type=_positive, default=1, metavar="N", help="papers to run at once (default 1; 2 on a 2-core machine)")
        sp.add_argument(
            "--cluster",
            default=CLUSTER or None,
            metavar="ADDRESS",
            help="run the jobs on a Dask cluster: 'local' starts a LocalCluster of --workers processes here, or a scheduler "
            "address (tcp://host:8786); jobs that read the LA's own 903 stay on this machine (default: $ANALYSIS_CLUSTER, else here)",
        )

    p_run = sub.add_parser(
        "run",
        help="run papers with papermill and publish HTML, Excel and metrics to reports/",
        description="Execute each paper for each LA in a fresh kernel, write the executed notebook, an HTML "
        "report without code, metrics.json and an Excel workbook, a run manifest and reports/index.html. "
        "A failed paper is marked in the index; the others still run, the previous good report stays in "
        "reports/latest/, and the exit status is 1.",
    )
    add_targets(p_run)
    p_run.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="notebook parameter (value read as YAML: 2024, region, [E06000001, E06000002]); it goes to every paper "
        "in the run that declares it (papers brought in by 'after' keep their defaults otherwise); PAPER.NAME=VALUE "
        "(04.forecast_years=4) sets it for one paper",
    )
    p_run.add_argument(
        "--full",
        action="store_true",
        help="a full run for publication: each paper's resampling at its full setting (papers.yaml, 'full'); "
        "slower, with intervals and p-values that vary less from run to run (default: the quick setting)",
    )
    p_run.add_argument(
        "--timeout", type=_positive, default=CELL_TIMEOUT, metavar="S", help=f"time limit per notebook cell, seconds (default {CELL_TIMEOUT})"
    )
    p_run.set_defaults(func=_cmd_run)

    p_refresh = sub.add_parser(
        "refresh",
        help="for scheduled use: re-ingest and re-run only the reports whose inputs or code changed",
        description="Re-ingest if the published files changed, then re-run each report whose notebook, code or "
        "input tables changed since its last good run (by checksum). Holds a lock, logs to "
        "reports/logs/refresh.log, exits 1 if a report failed and 3 if another run holds the lock.",
    )
    add_targets(p_refresh)
    p_refresh.set_defaults(func=_cmd_refresh)

    p_papers = sub.add_parser(
        "papers",
        help="list the papers, their inputs and parameters (from notebooks/papers.yaml)",
        description="Every paper declared in notebooks/papers.yaml: notebook, what it reads and publishes, "
        "and each parameter with its type, default and help.",
    )
    p_papers.add_argument("ids", nargs="*", metavar="NN", help="paper numbers (default: all)")
    p_papers.add_argument("--check", action="store_true", help="check that every notebook's parameters cell agrees with the registry")
    p_papers.add_argument("--cell", action="store_true", help="print the parameters cell the registry implies (paste it into the notebook)")
    p_papers.set_defaults(func=_cmd_papers)

    p_index = sub.add_parser("index", help="rebuild reports/index.html from the run manifests")
    p_index.set_defaults(func=_cmd_index)
    return parser


def _positive(text: str) -> int:
    """A whole number of 1 or more (workers, seconds): 0 or a negative number is refused by argparse in one line."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"{n} is not allowed: give 1 or more")
    return n


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return args.func(args)
    except RunLockedError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_LOCKED
    except AnalysisError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INPUT_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`analysis las | head -2`): end quietly, as Unix tools do
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so that Python's own flush at exit does not raise again
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
