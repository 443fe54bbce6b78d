"""The synthetic 903 for every current LA against its published figures (not part of CI).

For each LA: generate (seed 1), ingest, count the stock at each 31 March by characteristic
(``analysis.io.stock``) and compare with what DfE published (``analysis.io.published_counts.compare``):
the share of published figures within 2% or 2 children, the worst miss, and the time taken, in a
pool of workers. Prints a summary and writes ``benchmarks/results/synthetic_all_las.csv``.

    .venv/bin/python benchmarks/bench_synthetic.py [--workers 2] [--las E06000004 ...]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent


def one(code: str) -> dict:
    os.environ.setdefault("ANALYSIS_PSEUDONYMISATION_KEY", "benchmark-key-" + "x" * 20)
    from analysis.config import find_project_root, paths
    from analysis.io import ingest903, stock
    from analysis.io import published_counts as synthetic_targets
    from analysis.io.ingest import read_table
    from analysis.synth import synthetic

    p = paths(find_project_root())
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        try:
            synthetic.generate(p, code, 1, Path(tmp) / "903")
            gen = time.perf_counter() - t0
            tables, report = ingest903.build(p, Path(tmp) / "903")
        except Exception as e:  # noqa: BLE001 (a benchmark reports every LA's outcome)
            return {"la_code": code, "error": f"{type(e).__name__}: {e}"[:200]}
    got = stock.characteristics(tables["episodes"], tables["children"], list(range(2015, 2026)))
    check = synthetic_targets.compare(synthetic_targets.targets_for(read_table(p, "la_indicators"), code), got)
    miss = check[~check["within_tolerance"]]
    worst = miss.assign(off=(miss["synthetic"] - miss["published"]).abs()).sort_values("off").iloc[-1] if len(miss) else None
    return {
        "la_code": code,
        "figures": len(check),
        "within": int(check["within_tolerance"].sum()),
        "share_within": round(check["within_tolerance"].mean(), 4),
        "set_aside": report["rows_set_aside"],
        "worst": ""
        if worst is None
        else f"{worst['year']} {worst['dimension']} {worst['category']}: {worst['synthetic']:.0f} vs {worst['published']:.0f}",
        "generate_s": round(gen, 1),
        "total_s": round(time.perf_counter() - t0, 1),
        "error": "",
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--las", nargs="*")
    a = ap.parse_args()
    from analysis.config import find_project_root, paths
    from analysis.io.ingest import read_table

    p = paths(find_project_root())
    lookup = read_table(p, "la_lookup")
    codes = a.las or sorted(lookup.loc[lookup["status"] == "current", "la_code"].unique())
    t0 = time.perf_counter()
    with ProcessPoolExecutor(a.workers) as pool:
        rows = list(pool.map(one, codes))
    df = pd.DataFrame(rows)
    (HERE / "results").mkdir(exist_ok=True)
    df.to_csv(HERE / "results" / "synthetic_all_las.csv", index=False)
    ok = df[df["error"] == ""]
    print(f"{len(df)} LAs in {time.perf_counter() - t0:.0f} s with {a.workers} workers; {len(df) - len(ok)} failed")
    if len(ok):
        print(
            f"published figures within 2% or 2 children: {ok['within'].sum():,} of {ok['figures'].sum():,} "
            f"({ok['within'].sum() / ok['figures'].sum():.2%}); LAs with every figure within: {(ok['within'] == ok['figures']).sum()} of {len(ok)}"
        )
        print(f"generate median {ok['generate_s'].median():.1f} s, max {ok['generate_s'].max():.1f} s")
        print(ok.sort_values("share_within").head(10).to_string(index=False))
    if len(df) > len(ok):
        print(df[df["error"] != ""][["la_code", "error"]].to_string(index=False))


if __name__ == "__main__":
    main()
