"""Where jobs run: in this process, on a process pool (waves, so a paper runs after those it reads) or on
a Dask cluster."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from analysis.config import CLUSTER_CONNECT_TIMEOUT, Paths
from analysis.errors import AnalysisError
from analysis.run import kernels
from analysis.run.execute import Job, data_903_la, execute_job

# --- running ---------------------------------------------------------------------------------------------


def _run_waves(
    p: Paths,
    waves: list[list[Job]],
    run_dir: Path,
    run_id: str,
    banner: str,
    timeout: int,
    workers: int,
    done: Callable[[dict[str, Any]], None],
    cluster: str | None = None,
) -> None:
    """Run the waves in order: here (one job at a time, or a local process pool), or on a Dask cluster
    (``cluster``: ``"local"`` for a LocalCluster on this machine, or a scheduler's address). On a
    cluster elsewhere, jobs that read the LA's own 903 stay on this machine (:func:`stays_here`)."""
    client = _dask_client(cluster, workers) if cluster else None
    try:
        for wave in waves:
            args = [(job, str(p.root), str(run_dir), run_id, banner, timeout) for job in wave]
            if client is None:
                _run_here(args, workers, done)
                continue
            remote = args if cluster == "local" else [a for a in args if not stays_here(p, a[0])]
            futures = [client.submit(execute_job, *a, pure=False, key=f"job-{run_id}-{i}") for i, a in enumerate(remote)]
            _run_here([a for a in args if a not in remote], workers, done)
            for fut in _dask_as_completed(futures):
                done(fut.result())
    finally:
        if client is not None:
            cluster_obj = client.cluster if cluster == "local" else None
            client.close()
            if cluster_obj is not None:
                cluster_obj.close()


def _run_here(args: list[tuple], workers: int, done: Callable[[dict[str, Any]], None]) -> None:
    if workers <= 1 or len(args) <= 1:
        try:
            for a in args:
                done(execute_job(*a))
        finally:
            kernels.release_warm_kernel()  # in this process: no kernel or primed parent left running after the run
        return
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
        futures = [pool.submit(execute_job, *a) for a in args]
        for fut in as_completed(futures):
            done(fut.result())


def stays_here(p: Paths, job: Job) -> bool:
    """A job that reads child-level data (the LA's own 903) never leaves this machine: papers that
    need the 903, and papers with 903 inputs run for the LA whose 903 the project holds."""
    if job.paper.child_level:
        return True
    return any(i.startswith("ssda903/") for i in job.paper.inputs) and data_903_la(p) == job.la_code


def _dask_client(cluster: str, workers: int):
    """A ``distributed.Client``: a LocalCluster of ``workers`` single-threaded processes, or the scheduler at an address."""
    from distributed import Client, LocalCluster

    logging.getLogger("distributed").setLevel(logging.ERROR)  # the scheduler's chatter is not the run's news
    if cluster == "local":
        local = LocalCluster(n_workers=max(1, workers), threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=logging.ERROR)
        return Client(local)
    try:
        return Client(cluster, timeout=f"{CLUSTER_CONNECT_TIMEOUT}s")
    except (OSError, TimeoutError) as exc:
        raise AnalysisError(f"cannot reach the Dask scheduler at {cluster} ({exc.__class__.__name__}); is it running?") from exc


def _dask_as_completed(futures: list):
    from distributed import as_completed as completed

    return completed(futures) if futures else []
