"""The project's 903 checks beside the DfE's public validator (PyPI ``csc-validator-be-903``).

Not part of CI: the validator pins pandas 1.x, so it runs in its own virtual environment
(``benchmarks/.venv-dfe903``, made on first use with pip). For each LA (default: Stockton, Kent,
Birmingham, Rutland) it writes the synthetic 903, optionally a messy copy (``--messy RATE``),
then runs both on the same files for one collection year (default 2024-25, with 2023-24 as last
year) and prints, per DfE rule code, the rows each flags and the rows both flag. ``--folder`` runs
on any 903 folder instead (your own returns: nothing leaves the machine).

    .venv/bin/python benchmarks/bench_validator903.py                    # clean synthetic, four LAs
    .venv/bin/python benchmarks/bench_validator903.py --messy 0.02 --las E06000004
    .venv/bin/python benchmarks/bench_validator903.py --folder data/raw/ssda903 --la E06000004
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from analysis.io.ssda903_rules import dfe_code

HERE = Path(__file__).resolve().parent
VALIDATOR = "csc-validator-be-903==0.1.17"
FOUR = ["E06000004", "E10000016", "E08000025", "E06000017"]
#: the project's own checks (not prefixed "DfE rule"), by the DfE rule they implement


def ensure_venv(path: Path) -> Path:
    py = path / "bin" / "python"
    if not py.exists():
        print(f"making {path} with {VALIDATOR} (once) ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", VALIDATOR], check=True)
    return py


def dfe_flags(py: Path, folder: Path, year: int, la: str) -> dict:
    this, last = folder / f"{year - 1}-{str(year)[2:]}", folder / f"{year - 2}-{str(year - 1)[2:]}"
    args = [str(py), str(HERE / "dfe903_runner.py"), str(this)] + ([str(last)] if last.is_dir() else []) + ["--year", str(year), "--la", la]
    out = subprocess.run(args, check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def own_flags(folder: Path, year: int) -> pd.DataFrame:
    """The project's flagged and set-aside rows for the year, with the DfE code each implements."""
    from analysis.io import ssda903

    v = ssda903.read_returns(folder)
    rows = pd.concat([v.set_aside.assign(kept=False), v.warnings.assign(kept=True)], ignore_index=True)
    rows = rows[rows["collection_year"] == year]
    codes = rows["reason"].map(dfe_code)  # the codes live with the checks (analysis.io.ssda903_rules.DFE_CODES)
    table_of = {"header.csv": "Header", "episodes.csv": "Episodes", "uasc.csv": "UASC", "oc2.csv": "OC2", "missing.csv": "Missing"}
    return pd.DataFrame(
        {
            "rule": codes,
            "table": rows["file"].map(lambda f: table_of.get(Path(f).name, Path(f).name)),
            "line": rows["row"].astype(int),
            "reason": rows["reason"],
        }
    ).dropna(subset=["rule"])


def compare(dfe: dict, own: pd.DataFrame) -> pd.DataFrame:
    rules = sorted(set(dfe["flagged"]) | set(own["rule"]), key=lambda c: (len(re.sub(r"\D", "", c)) or 9, c))
    rows = []
    for code in rules:
        ours = {(t, int(line)) for t, line in own.loc[own["rule"] == code, ["table", "line"]].itertuples(index=False)}
        tables = {t for t, _ in ours}  # (the validator may flag the child's header row too: compare the rows the project flags)
        theirs = {(t, int(line)) for t, lines in dfe["flagged"].get(code, {}).items() for line in lines if not tables or t in tables}
        rows.append(
            {
                "rule": code,
                "dfe_rows": len(theirs),
                "project_rows": len(ours),
                "both": len(theirs & ours),
                "agreement": round(len(theirs & ours) / len(theirs | ours), 3) if theirs | ours else 1.0,
            }
        )
    return pd.DataFrame(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--las", nargs="*", default=FOUR)
    ap.add_argument("--folder", type=Path, help="a 903 folder to check instead of the synthetic ones (give --la)")
    ap.add_argument("--la", help="the LA code of --folder")
    ap.add_argument("--year", type=int, default=2025)
    ap.add_argument("--messy", type=float, default=0.0, help="inject faults at this rate first (analysis.synth.messy)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--venv", type=Path, default=HERE / ".venv-dfe903")
    a = ap.parse_args()
    py = ensure_venv(a.venv)
    from analysis.config import find_project_root, paths
    from analysis.synth import messy, synthetic

    p = paths(find_project_root())
    jobs = [(a.la, a.folder)] if a.folder else [(code, None) for code in a.las]
    for code, folder in jobs:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            if folder is None:
                folder = Path(tmp) / "clean"
                synthetic.generate(p, code, a.seed, folder)
            if a.messy:
                messy.make_messy(folder, Path(tmp) / "messy", a.messy, a.seed, file_faults=False)
                folder = Path(tmp) / "messy"
            dfe = dfe_flags(py, folder, a.year, code)
            own = own_flags(folder, a.year)
            table = compare(dfe, own)
            print(
                f"\n{code}: {a.year - 1}-{str(a.year)[2:]}{' messy ' + str(a.messy) if a.messy else ''}; DfE validator ran "
                f"{dfe['rules']} rules ({', '.join(dfe['failed_to_run']) or 'none'} failed to run); {time.perf_counter() - t0:.0f} s"
            )
            print(table.to_string(index=False))


if __name__ == "__main__":
    main()
