"""Benchmark: paper 02's models on pooled national-scale synthetic data, and one LA's paper.

    python benchmarks/bench_breakdown.py [--episodes 2000000] [--data DIR] [--json FILE]

1. Builds (or reuses, with ``--data``) the national-scale synthetic 903 of ``bench_ingest903.py``
   (about 2 million episode rows, a million placements) and ingests it in memory.
2. Times each stage of paper 02 on all placements pooled: the analysis set, rates, Kaplan-Meier,
   the Cox model with child-clustered standard errors, the discrete-time logistic model, and the
   three classifiers with permutation importance and partial dependence. Reports peak memory.
3. Times paper 02 for one LA (the project's own processed 903 data) through papermill, as the
   runner runs it.

Targets (issue 5): the pooled models fit in under 10 minutes on 2 cores; one LA's paper in under a minute.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))


def timed(label: str, figures: dict, fn):
    t = time.perf_counter()
    out = fn()
    figures[label] = round(time.perf_counter() - t, 1)
    print(f"{label}: {figures[label]} s", flush=True)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--episodes", type=int, default=2_000_000)
    ap.add_argument("--data", type=Path, help="a national synthetic 903 folder kept by bench_ingest903.py --keep")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    os.environ["ANALYSIS_PROJECT_ROOT"] = str(REPO)
    os.environ.setdefault("ANALYSIS_PSEUDONYMISATION_KEY", "benchmark-key-0123456789abcdef")
    from analysis.config import paths
    from analysis.io import ingest903
    from analysis.papers.p02_breakdown import paper as b

    p = paths(REPO)
    figures: dict = {"cpu_count": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="bench-02-") as tmp:
        folder = args.data
        if folder is None:
            from bench_ingest903 import make_national

            folder = Path(timed("generate_s", figures, lambda: make_national(Path(tmp), args.episodes))["folder"])
        tables, report = timed("ingest_s", figures, lambda: ingest903.build(p, folder))
        data = b.Data(tables["placements"], tables["periods"], tables["children"], tables.get("oc2"), report, None)
        del tables
        years = report["collection_years"]
        s = b.Settings(report["la_code"], "all LAs pooled", min(years), max(years), "standard", [6, 12], 12, 2)
        t0 = time.perf_counter()
        c, _ = timed("cohort_s", figures, lambda: b.cohort(data, s))
        figures["placements_in_data"] = len(data.placements)
        figures["placements_analysed"], figures["unplanned_endings"] = len(c), int(c["event"].sum())
        timed("rates_s", figures, lambda: b.rates_table(c))
        timed("kaplan_meier_s", figures, lambda: [b.km_curves(c, col) for col in b.KM_GROUPINGS])
        timed("horizon_table_s", figures, lambda: b.horizon_table(c, s.horizons))
        timed("cox_s", figures, lambda: b.fit_cox(c))
        timed("discrete_time_s", figures, lambda: b.fit_discrete_time(c))
        clf = timed("classifiers_s", figures, lambda: b.fit_classifiers(c, s))
        figures["models_total_s"] = round(time.perf_counter() - t0, 1)
        if isinstance(clf, b.ClassifierResult):
            figures["boosted_test_auc"] = round(float(clf.metrics.set_index("key").at["boosted", "auc"]), 3)
        figures["peak_memory_gib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2, 2)

        import papermill as pm

        from analysis.config import KERNEL_NAME

        if (p.processed / "ssda903" / "placements.parquet").is_file():
            out = Path(tmp) / "paper02"
            out.mkdir()
            timed(
                "one_la_paper_s",
                figures,
                lambda: pm.execute_notebook(
                    str(REPO / "notebooks" / "02_placement_breakdown.ipynb"),
                    str(out / "out.ipynb"),
                    kernel_name=KERNEL_NAME,
                    parameters={"output_dir": str(out)},
                    cwd=str(REPO / "notebooks"),
                    progress_bar=False,
                ),
            )
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
