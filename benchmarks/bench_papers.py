"""Benchmark: paper 01 for every LA through the runner, against a bare papermill run.

    python benchmarks/bench_papers.py [--las N] [--workers 2] [--baseline-runs 5] [--cluster]

Works in a scratch copy of the project (raw data linked, processed data copied, notebooks linked)
so the real reports/ folder is untouched. Reports:

* the baseline: papermill executing an empty notebook (one parameters cell) with the same kernel,
  IPC transport and settings the runner uses, one at a time (median of several runs);
* paper 01 for N LAs with the given workers: wall time, wall time per LA, and the median time of
  one job (kernel start, execution, HTML export and privacy scan), with their ratios to the baseline.

Targets: one job at most 3 times the bare run (issues 4 and 17); all LAs under 10 minutes (issue 4) and
under 3 minutes (issue 17) on 2 cores. Kernels are forked from a primed parent on Linux (set
ANALYSIS_FORK_KERNELS=0 to measure without).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

REPO = Path(__file__).resolve().parents[1]


def scratch_project(base: Path) -> Path:
    root = base / "project"
    (root / "data" / "raw").mkdir(parents=True)
    (root / "pyproject.toml").write_text("[project]\nname = 'bench'\n")
    (root / "data" / "raw" / "public").symlink_to(REPO / "data" / "raw" / "public")
    shutil.copytree(REPO / "data" / "processed" / "public", root / "data" / "processed" / "public")
    (root / "notebooks").symlink_to(REPO / "notebooks")
    return root


def empty_notebook(path: Path) -> None:
    from analysis.config import KERNEL_NAME

    cell = new_code_cell('la_code: str = "E06000004"')
    cell.metadata["tags"] = ["parameters"]
    nb = new_notebook(cells=[cell], metadata={"kernelspec": {"name": KERNEL_NAME, "display_name": "x", "language": "python"}})
    nbformat.write(nb, path)


def bare_run(nb: Path, out: Path) -> float:
    import papermill as pm
    from jupyter_client.manager import KernelManager

    from analysis.config import KERNEL_NAME

    t = time.perf_counter()
    with tempfile.TemporaryDirectory() as sockets:
        km = KernelManager(kernel_name=KERNEL_NAME, transport="ipc", ip=str(Path(sockets) / "k"))
        try:
            pm.execute_notebook(
                str(nb), str(out), parameters={"la_code": "E06000001"}, kernel_name=KERNEL_NAME, cwd=str(nb.parent), progress_bar=False, km=km
            )
        finally:
            if km.has_kernel:
                km.shutdown_kernel(now=True)
    return time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--las", type=int, default=0, help="number of LAs (default: all current LAs)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--baseline-runs", type=int, default=5)
    ap.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    ap.add_argument(
        "--cluster",
        action="store_true",
        help="also run the same LAs one at a time and on a Dask LocalCluster of --workers processes, and record the speed-ups",
    )
    args = ap.parse_args()
    if not (REPO / "data" / "processed" / "public" / "la_indicators.parquet").is_file():
        print("run `analysis ingest` first", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="bench-papers-") as tmp:
        base = Path(tmp)
        root = scratch_project(base)
        os.environ["ANALYSIS_PROJECT_ROOT"] = str(root)
        from analysis.config import paths
        from analysis.run import runner

        p = paths(root)
        nb = base / "empty.ipynb"
        empty_notebook(nb)
        bare_run(nb, base / "warm.ipynb")  # warm the disk cache
        bare = [bare_run(nb, base / f"bare{i}.ipynb") for i in range(args.baseline_runs)]
        bare_median = statistics.median(bare)

        las = runner.resolve_las(p, all_las=True)
        if args.las:
            las = las[: args.las]
        papers = runner.select_papers(p, ["01"])
        t = time.perf_counter()
        result = runner.run(p, papers, las, workers=args.workers, progress=lambda m: None)
        wall = time.perf_counter() - t
        jobs = [r["duration_s"] for r in result.records]
        job_median = statistics.median(jobs)
        figures = {
            "cpu_count": os.cpu_count(),
            "workers": args.workers,
            "las": len(las),
            "failed": len(result.failed),
            "bare_papermill_median_s": round(bare_median, 2),
            "bare_runs_s": [round(b, 2) for b in bare],
            "job_median_s": round(job_median, 2),
            "job_max_s": round(max(jobs), 2),
            "wall_s": round(wall, 1),
            "wall_per_la_s": round(wall / len(las), 2),
            "ratio_job_to_bare": round(job_median / bare_median, 2),
            "ratio_wall_per_la_to_bare": round(wall / len(las) / bare_median, 2),
            "failures": [{"la": r["la_code"], "error": r["error"], "cell": (r.get("failing_cell") or {}).get("cell")} for r in result.failed],
        }
        if args.cluster:  # the same jobs one at a time, then on a LocalCluster: the speed-up of each
            t = time.perf_counter()
            one = runner.run(p, papers, las, workers=1, progress=lambda m: None)
            serial = time.perf_counter() - t
            t = time.perf_counter()
            dask = runner.run(p, papers, las, workers=args.workers, progress=lambda m: None, cluster="local")
            cluster_wall = time.perf_counter() - t
            figures.update(
                {
                    "one_worker_wall_s": round(serial, 1),
                    "local_cluster_wall_s": round(cluster_wall, 1),
                    "speedup_pool": round(serial / wall, 2),
                    "speedup_local_cluster": round(serial / cluster_wall, 2),
                    "failed_one_worker": len(one.failed),
                    "failed_local_cluster": len(dask.failed),
                }
            )
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0 if not figures["failed"] else 1


if __name__ == "__main__":
    sys.exit(main())
