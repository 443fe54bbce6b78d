"""Scheduled re-runs: which jobs are out of date (inputs, code, parameters or a changed 903 return),
re-ingest when the 903 changed, re-run them, and log what was done."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable

from analysis.config import DEFAULT_LA_CODE, Paths, package_digest
from analysis.errors import AnalysisError, RunLockedError
from analysis.run import runner
from analysis.run.execute import Job, child_level_jobs
from analysis.run.provenance import fingerprint, input_checksums
from analysis.run.runner import Paper
from analysis.run.store import read_state, run_lock, writing


# --- refresh ----------------------------------------------------------------------------------------------
def refresh_log(p: Paths) -> logging.Logger:
    logger = logging.getLogger("analysis.refresh")
    logger.setLevel(logging.INFO)
    logger.propagate = False  # the refresh prints each event itself; the root handler would print it again
    path = p.reports / "logs" / "refresh.log"
    with writing(path.parent):
        path.parent.mkdir(parents=True, exist_ok=True)
        if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
            raise AnalysisError(f"cannot write {path}: it is read-only; nothing was run")
    if not any(getattr(h, "baseFilename", None) == str(path) for h in logger.handlers):
        handler = logging.FileHandler(path, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
    return logger


def plan_refresh(p: Paths, papers: list[Paper], las: list[tuple[str, str]] | None) -> tuple[list[Job], list[str]]:
    """Jobs whose notebook, code or input tables changed since their last good run, with reasons.

    With no LAs given, the LAs each paper was last run for (or the default LA if none)."""
    state = read_state(p)
    code = package_digest()  # a change to any module re-runs every paper
    jobs: list[Job] = []
    reasons: list[str] = []
    for paper in papers:
        if las is not None:
            targets = [Job(paper, c, n) for c, n in las]
        else:
            previous = [s for s in state.values() if s.get("paper") == paper.id]
            targets = [Job(paper, s["la_code"], s["la_name"], s.get("parameters") or {}) for s in previous]
            if not targets:
                from analysis.io.geography import resolve_la
                from analysis.io.ingest import read_table

                row = resolve_la(DEFAULT_LA_CODE, read_table(p, "la_lookup"))
                targets = [Job(paper, row["la_code"], row["la_name"])]
        targets, skipped = child_level_jobs(p, targets)
        reasons += skipped
        for job in targets:
            inputs = input_checksums(p, paper)
            before = state.get(job.key)
            if before is None:
                jobs.append(job)
                reasons.append(f"{job.key}: no earlier good run")
            elif before["fingerprint"] != fingerprint(p, job, code, inputs):
                changed = [k for k, v in inputs.items() if before.get("inputs", {}).get(k) != v]
                why = f"inputs changed ({', '.join(changed)})" if changed else "notebook or code changed"
                jobs.append(job)
                reasons.append(f"{job.key}: {why}")
    return with_pack_companions(papers, jobs, reasons, state)


def with_pack_companions(papers: list[Paper], jobs: list[Job], reasons: list[str], state: dict) -> tuple[list[Job], list[str]]:
    """A pack reads its papers' results from the same run, so when a pack or a paper it reads is
    re-run for an LA, the pack and all its papers are re-run for that LA together."""
    jobs, reasons = list(jobs), list(reasons)
    for pack in [x for x in papers if x.after]:
        group = [pack] + [x for x in papers if x.id in pack.after]
        touched = {(j.la_code, j.la_name) for j in jobs if j.paper in group}
        for la_code, la_name in sorted(touched):
            for paper in group:
                key = Job(paper, la_code, la_name).key
                if any(j.key == key for j in jobs):
                    continue
                params = (state.get(key) or {}).get("parameters") or {}
                jobs.append(Job(paper, la_code, la_name, params))
                reasons.append(f"{key}: re-run with {pack.id}, which reads its results from the same run")
    order = {x.id: i for i, x in enumerate(papers)}
    jobs.sort(key=lambda j: (order.get(j.paper.id, len(order)), j.la_code))
    return jobs, reasons


def refresh(
    p: Paths,
    papers: list[Paper],
    las: list[tuple[str, str]] | None = None,
    *,
    workers: int = 1,
    progress: Callable[[str], None] | None = None,
    cluster: str | None = None,
) -> int:
    """``analysis refresh``: re-ingest if inputs changed, re-run only what changed. Exit status."""
    from analysis.io.ingest import run_ingest
    from analysis.io.ingest903 import run_ingest_903

    logger = refresh_log(p)

    def say(msg: str) -> None:
        logger.info(msg)
        (progress or (lambda m: print(m, file=sys.stderr, flush=True)))(msg)

    try:
        with run_lock(p, "analysis refresh"):
            say("refresh started")
            result = run_ingest(p)
            say(
                "published data unchanged since the last ingest" if result.status == "up to date" else f"re-ingested published data ({result.status})"
            )
            # the LA's own returns: re-ingested when a return file, the cost file, the key or the code that reads them
            # changed (by checksum); the papers that read the 903 then see changed inputs below
            r903 = run_ingest_903(p)
            say(
                {
                    "up to date": "903 returns unchanged since the last ingest",
                    "built": "re-ingested the 903 returns (a return, the cost file or the code that reads them changed)",
                }.get(r903.status, "no 903 returns in data/raw/ssda903/")
            )
            jobs, reasons = plan_refresh(p, papers, las)
            for r in reasons:
                say(f"to run: {r}")
            if not jobs:
                say("nothing to do: every report is up to date with its inputs and code")
                return 0
            run_result = runner.run_jobs(  # looked up on the module, so a test can stand in for it
                p, jobs, workers=workers, command="analysis refresh", progress=say, cluster=cluster
            )
            for rec in run_result.failed:
                logger.error("%s failed: %s", rec["key"], rec["error"])
            say(f"refresh finished: {len(jobs) - len(run_result.failed)} ok, {len(run_result.failed)} failed (run {run_result.run_id})")
            return run_result.exit_code
    except RunLockedError as exc:
        logger.warning("refresh skipped: %s", exc)
        raise
    except AnalysisError as exc:
        logger.error("refresh failed: %s", exc)
        raise
