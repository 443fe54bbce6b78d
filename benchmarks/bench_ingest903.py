"""Benchmark: the 903 ingest on national-scale synthetic data, against a bare pyarrow read.

    python benchmarks/bench_ingest903.py [--episodes 2000000] [--keep DIR]

1. Generates synthetic 903s for a few LAs (uncalibrated, fixed seeds) and repeats them, with fresh
   child IDs for each copy, until the ten yearly episode files hold about ``--episodes`` rows in all
   (England has about 150 LAs and 80,000 children looked after at a time).
2. Times a bare ``pyarrow.csv.read_csv`` of every CSV (all columns as text): the floor for any ingest.
3. Runs the 903 ingest (read, validate, stitch, postcode distances, pseudonymise, placements,
   periods, measures) in a child process and reports its wall time and peak memory (max RSS).

Targets (issue 3): ingest within 5 times the bare read, and under 4 GiB peak.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
SEED_LAS = (("E06000004", 101), ("E08000025", 102), ("E10000016", 103), ("E09000022", 104))  # Stockton, Birmingham, Kent, Lambeth


def make_national(base: Path, episodes_target: int) -> dict:
    os.environ["ANALYSIS_PROJECT_ROOT"] = str(REPO)
    from analysis.config import paths
    from analysis.synth import synthetic

    p = paths(REPO)
    parts = []
    for code, seed in SEED_LAS:
        out = base / "seed" / code
        synthetic.generate(p, code, seed, out, calibrate=False)
        parts.append(out)
    per_copy = sum(len(pd.read_csv(f, dtype=str)) for part in parts for f in part.glob("*/episodes.csv"))
    copies = max(1, round(episodes_target / per_copy))
    national = base / "national"
    for year_dir in sorted(d.name for d in parts[0].iterdir() if d.is_dir() and d.name[0].isdigit()):
        (national / year_dir).mkdir(parents=True, exist_ok=True)
        for table in ("header", "episodes", "uasc", "missing", "oc2"):
            frames = []
            for i, part in enumerate(parts):
                df = pd.read_csv(part / year_dir / f"{table}.csv", dtype=str, keep_default_na=False)
                for k in range(copies):
                    frames.append(df.assign(CHILD=f"{i}{k:03d}" + df["CHILD"]))
            pd.concat(frames, ignore_index=True).to_csv(national / year_dir / f"{table}.csv", index=False, lineterminator="\n")
    (national / "LA_CODE").write_text("E06000004\n")
    rows = sum(len(pd.read_csv(f, dtype=str, usecols=["CHILD"])) for f in national.glob("*/episodes.csv"))
    return {"folder": str(national), "copies": copies, "episode_rows": rows, "csv_bytes": sum(f.stat().st_size for f in national.rglob("*.csv"))}


def bare_read(folder: Path) -> float:
    import pyarrow.csv as pv

    files = sorted(folder.rglob("*.csv"))
    t = time.perf_counter()
    for f in files:
        header = f.open(encoding="utf-8").readline().strip().split(",")
        pv.read_csv(f, convert_options=pv.ConvertOptions(column_types={c: "string" for c in header}))
    return time.perf_counter() - t


CHILD_SCRIPT = r"""
import json, os, resource, sys, time
from pathlib import Path
from analysis.io import ingest903
from analysis.config import paths
p = paths(sys.argv[1])
t = time.perf_counter()
tables, report = ingest903.build(p, Path(sys.argv[2]))
wall = time.perf_counter() - t
print(json.dumps({"wall_s": wall, "episodes": report["episodes_after_stitching"], "children": report["children"],
                  "placements": report["placements"], "set_aside": report["rows_set_aside"]}))
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--episodes", type=int, default=2_000_000, help="episode rows across the ten yearly files")
    ap.add_argument("--keep", type=Path, help="keep the generated data in this folder")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-903-"))
    try:
        t = time.perf_counter()
        data = make_national(tmp, args.episodes)
        generate_s = time.perf_counter() - t
        folder = Path(data["folder"])
        bare = min(bare_read(folder) for _ in range(2))
        env = {**os.environ, "ANALYSIS_PSEUDONYMISATION_KEY": "benchmark-key-0123456789abcdef", "ANALYSIS_PROJECT_ROOT": str(REPO)}
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        out = subprocess.run([sys.executable, "-c", CHILD_SCRIPT, str(REPO), str(folder)], capture_output=True, text=True, env=env)
        if out.returncode != 0:
            print(out.stderr, file=sys.stderr)
            return 1
        peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        result = json.loads(out.stdout.strip().splitlines()[-1])
        figures = {
            "episode_rows_in_files": data["episode_rows"],
            "csv_megabytes": round(data["csv_bytes"] / 1e6, 1),
            "copies_of_4_las": data["copies"],
            "generate_s": round(generate_s, 1),
            "bare_pyarrow_read_s": round(bare, 2),
            "ingest_s": round(result["wall_s"], 1),
            "ratio_ingest_to_bare": round(result["wall_s"] / bare, 1),
            "peak_memory_gib": round(max(peak_kib, before) / 1024**2, 2),
            "episodes_after_stitching": result["episodes"],
            "children": result["children"],
            "placements": result["placements"],
            "rows_set_aside": result["set_aside"],
            "cpu_count": os.cpu_count(),
        }
        print(json.dumps(figures, indent=2))
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2) + "\n")
        if args.keep:
            shutil.copytree(folder, args.keep, dirs_exist_ok=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
