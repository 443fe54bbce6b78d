"""The ``analysis`` command. Thin: parses arguments and calls the modules that do the work.

Errors in input (a missing file, a renamed column, an unknown LA code) print one line naming
the file and what is wrong, and exit with status 2. A bug still shows its traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys

from . import __version__
from .config import DEFAULT_LA_CODE, paths
from .errors import AnalysisError

EXIT_INPUT_ERROR = 2


def _cmd_ingest(args: argparse.Namespace) -> int:
    from .ingest import run_ingest

    p = paths()
    result = run_ingest(p, force=args.force)
    report = result.report
    n_files = len(report["files"])
    n_aside = sum(f["rows_set_aside"] for f in report["files"].values())
    if result.status == "up to date":
        print(f"Processed data is up to date with data/raw/public ({n_files} files); nothing rewritten. Use --force to rebuild.")
    else:
        tables = ", ".join(f"{t} ({r['rows']:,})" for t, r in report["tables"].items())
        print(f"Built {result.out_dir.relative_to(p.root)}/ from {n_files} files: {tables}.")
        print(f"{n_aside} row(s) set aside with reasons; see {(result.out_dir / 'ingest_report.md').relative_to(p.root)}.")
    return 0


def _cmd_check_data(args: argparse.Namespace) -> int:
    from .ingest import verify_checksums, write_checksums

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
    from .geography import resolve_la
    from .ingest import read_table

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
    from .geography import resolve_la
    from .ingest import read_table
    from .profile import headline_table

    p = paths()
    lookup = read_table(p, "la_lookup")
    la = resolve_la(args.la, lookup)
    table = headline_table(read_table(p, "la_indicators"), la)
    print(f"{la['la_name']} ({la['la_code']}, {la['old_la_code']}), {la['region_name']}: latest published figures")
    print(table.to_string(index=False))
    print("Suppressed or unavailable values are shown as their DfE symbol, never as zero.")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="analysis",
        description="Evidence for planning homes for children in care: ingest published and local "
        "data, and build the papers.",
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
        description="A quick check of the processed data: latest published values for an LA, its "
        "region and England. Needs `analysis ingest` first.",
    )
    p_sum.add_argument("--la", default=DEFAULT_LA_CODE, help=f"LA code or name (default {DEFAULT_LA_CODE}, Stockton-on-Tees)")
    p_sum.set_defaults(func=_cmd_summary)
    return parser


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
    except AnalysisError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INPUT_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
