"""Run the DfE's public 903 validator (PyPI ``csc-validator-be-903``) on one year's CSV files.

Runs in the validator's own virtual environment (it pins pandas 1.x), started by
``bench_validator903.py``; never imported by the project. Prints JSON: for each rule that flagged
anything, the table and the flagged rows as file line numbers (the header is line 1), plus the
rules that could not run.

    python dfe903_runner.py FOLDER_OF_THIS_YEAR [FOLDER_OF_LAST_YEAR] --year 2025 --la E06000004
"""

import argparse
import contextlib
import importlib
import io
import json
import logging
from pathlib import Path

TABLE_FILES = {
    "Header": "header.csv",
    "Episodes": "episodes.csv",
    "UASC": "uasc.csv",
    "OC2": "oc2.csv",
    "Missing": "missing.csv",
    "Reviews": "reviews.csv",
    "OC3": "oc3.csv",
    "AD1": "ad1.csv",
    "PlacedAdoption": "placed_for_adoption.csv",
    "PrevPerm": "previous_permanence.csv",
    "SWEpisodes": "sw_episodes.csv",
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("this_year")
    ap.add_argument("last_year", nargs="?")
    ap.add_argument("--year", type=int, required=True, help="collection year ending 31 March (2025 = 2024-25)")
    ap.add_argument("--la", required=True)
    a = ap.parse_args()
    logging.disable(logging.CRITICAL)
    from lac_validator.lac_validator import LacValidator

    files = []
    for folder, description in ((a.this_year, "This year"), (a.last_year, "Prev year")):
        if not folder:
            continue
        for path in sorted(Path(folder).glob("*.csv")):
            text = path.read_bytes()
            if len(text.splitlines()) < 2:  # a header only: the validator cannot read an empty table
                continue
            files.append({"name": path.name, "file_content": text, "description": description})
    ruleset = f"lac{a.year - 1}_{str(a.year)[2:]}"
    registry = importlib.import_module(f"lac_validator.rules.{ruleset}").registry
    with contextlib.redirect_stdout(io.StringIO()):
        # the validator reads the first four characters as the year the collection ends (2025 for 2024-25)
        v = LacValidator({"collectionYear": str(a.year), "localAuthority": a.la}, files, registry)
    out = {"ruleset": ruleset, "rules": len(registry), "failed_to_run": sorted(map(str, v.fails)), "flagged": {}}
    for table, df in v.ds_results.items():
        if table == "metadata" or table.endswith("_last") or not hasattr(df, "columns"):
            continue
        for col in [c for c in df.columns if str(c).startswith("ERR_")]:
            rows = df.index[df[col].fillna(False).astype(bool)]
            if len(rows):
                out["flagged"].setdefault(col[4:], {})[table] = [int(i) + 2 for i in rows]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
