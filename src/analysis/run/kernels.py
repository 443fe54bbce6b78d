"""Kernels for the runner's jobs: forked from a primed parent, and warmed one job ahead.

Each job still gets a fresh kernel that papermill drives; what changes is how it starts.

* **Forked from a primed parent** (Linux): each worker process keeps one :mod:`analysis.run.zygote`
  process that has imported the stack and read each paper's shared tables (the paper module's
  ``prime()``). A job's kernel is a fork of it, so the imports and the reading are paid once per
  worker instead of once per job. The fork happens before any notebook code runs, so a job cannot
  see another job's variables. Set ``ANALYSIS_FORK_KERNELS=0`` to start every kernel as a new
  process; where fork is not available (Windows, macOS) that is what happens anyway.
* **Warmed ahead**: while a job runs, the worker starts the next job's kernel, so the next job does
  not wait for it.

A kernel is only ever used for the project, folder and settings it was started for
(:func:`warm_key`), and nothing is left running when a run ends or a worker exits.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import logging
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jupyter_client.manager import KernelManager

from analysis.config import KERNEL_NAME, KERNEL_START_TIMEOUT, Paths, package_digest
from analysis.run.zygote import STACK, paper_module

log = logging.getLogger(__name__)

#: the argument nbclient gives the kernels it starts: no history database shared between parallel kernels
KERNEL_ARGUMENTS = ["--HistoryManager.hist_file=:memory:"]
#: the settings a kernel inherits that change results or speed (a kernel started under others is not reused)
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
SETTINGS = (*THREAD_VARIABLES, "ANALYSIS_PROJECT_ROOT", "ANALYSIS_PSEUDONYMISATION_KEY", "MPLBACKEND", "ANALYSIS_FORK_KERNELS")


def kernel_temp_prefix(p: Paths) -> str:
    """Prefix of this project's kernel socket folders (per project, so a clean-up never touches another's)."""
    return f"cla-kernel-{hashlib.sha256(str(p.root).encode()).hexdigest()[:8]}-"


def warm_key(root: str, cwd: str) -> tuple:
    """What a kernel (or a primed parent) was started for: project, folder, kernel, settings and the
    package's code (a long-lived worker, such as a Dask worker elsewhere, never forks from code that
    has since changed)."""
    return (root, cwd, KERNEL_NAME, package_digest(), *(os.environ.get(v) for v in SETTINGS))


def forking_allowed() -> bool:
    return sys.platform.startswith("linux") and hasattr(os, "fork") and os.environ.get("ANALYSIS_FORK_KERNELS", "1") != "0"


# --- the primed parent ------------------------------------------------------------------------------
class Zygote:
    """The worker's handle on its :mod:`analysis.run.zygote` process."""

    def __init__(self, key: tuple, python: str, cwd: str, timeout: float = KERNEL_START_TIMEOUT):
        self.key = key
        self.lock = threading.Lock()
        self.proc = subprocess.Popen(
            [python, "-m", "analysis.run.zygote"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=cwd,
            env=dict(os.environ),
            text=True,
            bufsize=1,
        )
        try:
            self.pid = int(self._reply(timeout)["ready"])
        except BaseException:
            self.close()
            raise

    def _reply(self, timeout: float) -> dict[str, Any]:
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if ready else ""
        if not line:
            raise RuntimeError(f"the primed kernel parent did not answer (exit code {self.proc.poll()})")
        return json.loads(line)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def fork(
        self, paper: str, connection_file: str, arguments: list[str], cwd: str, env: dict[str, str], timeout: float = KERNEL_START_TIMEOUT
    ) -> int:
        request = {"paper": paper, "connection_file": connection_file, "arguments": arguments, "cwd": cwd, "env": env}
        with self.lock:
            self.proc.stdin.write(json.dumps(request) + "\n")
            self.proc.stdin.flush()
            reply = self._reply(timeout)
        if "pid" not in reply:
            raise RuntimeError(f"the primed kernel parent could not fork: {reply.get('error')}")
        return int(reply["pid"])

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        with contextlib.suppress(Exception):
            self.proc.stdout.close()


_ZYGOTE: dict[str, Zygote] = {}
_ZYGOTE_LOCK = threading.Lock()


def zygote_for(root: str, cwd: str) -> Zygote | None:
    """This worker's primed parent for the project and folder (started on first use), or None where
    kernels are not forked or it would not start."""
    if not forking_allowed():
        return None
    key = warm_key(root, cwd)
    with _ZYGOTE_LOCK:
        z = _ZYGOTE.get("current")
        if z is not None and (z.key != key or not z.alive()):
            _ZYGOTE.pop("current").close()
            z = None
        if z is None:
            from jupyter_client.kernelspec import KernelSpecManager

            argv = KernelSpecManager().get_kernel_spec(KERNEL_NAME).argv
            if "ipykernel_launcher" not in argv:  # not the standard IPython kernel: start it the usual way
                return None
            try:
                z = Zygote(key, argv[0], cwd)
            except Exception as exc:  # noqa: BLE001 - kernels then start the usual way
                log.warning("kernels will not be forked: %s", exc)
                return None
            _ZYGOTE["current"] = z
        return z


def stop_zygote() -> None:
    with _ZYGOTE_LOCK:
        z = _ZYGOTE.pop("current", None)
    if z is not None:
        z.close()


class ForkedProcess:
    """What jupyter_client's local provisioner needs of a process (``subprocess.Popen``'s methods), for
    a kernel forked by the primed parent (its child, not ours: the system reaps it)."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int):
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                self.returncode = 0  # gone; its exit code went to its parent
            except PermissionError:
                pass
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        end = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if end is not None and time.monotonic() > end:
                raise subprocess.TimeoutExpired(str(self.pid), timeout or 0)
            time.sleep(0.02)
        return self.returncode or 0

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signum)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


class ForkedKernelManager(KernelManager):
    """A KernelManager whose kernel is forked from the primed parent instead of started as a new
    process (or started the usual way when the parent cannot fork)."""

    def __init__(self, *args: Any, zygote: Zygote | None = None, paper: str = "", **kwargs: Any):
        # nbclient drives the kernel through the manager's client: an asynchronous one, because with
        # the default blocking client a waiting read blocks nbclient's loop and the cell timeout never
        # fires (a cell could run for ever)
        kwargs.setdefault("client_class", "jupyter_client.asynchronous.AsyncKernelClient")
        super().__init__(*args, **kwargs)
        self.zygote = zygote
        self.paper = paper
        self.forked = False

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
        z = self.zygote
        if z is None or "-f" not in kernel_cmd or not z.alive():
            return await super()._async_launch_kernel(kernel_cmd, **kw)
        at = kernel_cmd.index("-f")
        cwd = str(kw.get("cwd") or os.getcwd())
        env = dict(kw.get("env") or os.environ)
        try:
            pid = z.fork(self.paper, kernel_cmd[at + 1], kernel_cmd[at + 2 :], cwd, env)
        except Exception as exc:  # noqa: BLE001 - start it the usual way
            log.warning("kernel not forked: %s", exc)
            return await super()._async_launch_kernel(kernel_cmd, **kw)
        prov = self.provisioner
        prov.process = ForkedProcess(pid)
        prov.pid = pid
        prov.pgid = pid  # the forked kernel leads its own process group (as a kernel jupyter_client starts does)
        prov.cwd = cwd
        self.forked = True
        self._reconcile_connection_info(prov.connection_info)


def kernel_manager(root: str, cwd: str, paper: str, folder: str, *, fork: bool = True) -> ForkedKernelManager:
    """A kernel manager for one job, its IPC sockets in ``folder`` (no TCP ports to clash between
    parallel workers), forked from this worker's primed parent where possible."""
    z = zygote_for(root, cwd) if fork else None
    return ForkedKernelManager(kernel_name=KERNEL_NAME, transport="ipc", ip=str(Path(folder) / "k"), zygote=z, paper=paper)


# --- warm kernels: the next job's kernel starts while this job runs ------------------------------------
@dataclass
class WarmKernel:
    km: Any  # a started ForkedKernelManager
    folder: Any  # its TemporaryDirectory of IPC sockets
    key: tuple


_WARMING: dict[str, Any] = {}  # "next": (key, Future[WarmKernel])
_WARMER: Any = None


def start_warm_kernel(root: str, cwd: str, paper: str) -> WarmKernel:
    """Start a kernel as papermill would (same kernel, folder, sockets, arguments) and wait until it
    answers; a kernel that was not forked from the primed parent imports the stack first. Nothing is
    left in its namespace: the job still starts from a fresh kernel, only with its imports done."""
    folder = tempfile.TemporaryDirectory(prefix=kernel_temp_prefix(Paths(Path(root))))
    km = kernel_manager(root, cwd, paper, folder.name)
    try:
        km.start_kernel(cwd=cwd, extra_arguments=KERNEL_ARGUMENTS)
        kc = km.blocking_client()
        kc.start_channels()
        try:
            kc.wait_for_ready(timeout=KERNEL_START_TIMEOUT)
            if not km.forked:  # a new process: import the stack in it now (a forked one has it already)
                modules = [*STACK, *filter(None, [paper_module(paper)])]
                code = f"def _prime():\n    import importlib\n    for m in {modules!r}:\n        importlib.import_module(m)\n_prime()\ndel _prime"
                reply = kc.execute_interactive(code, store_history=False, timeout=KERNEL_START_TIMEOUT, output_hook=lambda msg: None)
                if reply["content"].get("status") != "ok":
                    raise RuntimeError(f"priming failed: {reply['content'].get('ename')}")
        finally:
            kc.stop_channels()
    except BaseException:
        if km.has_kernel:
            km.shutdown_kernel(now=True)
        folder.cleanup()
        raise
    return WarmKernel(km, folder, warm_key(root, cwd))


def warm_ahead(root: str, cwd: str, paper: str) -> None:
    """Start the next job's kernel in the background (one spare per worker process)."""
    global _WARMER
    if _WARMER is None:
        from concurrent.futures import ThreadPoolExecutor

        _WARMER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="warm-kernel")
    _release_spare()  # a spare nobody took (a different project or setting): stop it
    _WARMING["next"] = (warm_key(root, cwd), _WARMER.submit(start_warm_kernel, root, cwd, paper))


def take_warm_kernel(root: str, cwd: str) -> WarmKernel | None:
    """The spare kernel, if one was warmed for this project and folder and started without trouble."""
    pending = _WARMING.pop("next", None)
    if pending is None:
        return None
    key, future = pending
    try:
        warm = future.result(timeout=KERNEL_START_TIMEOUT)
    except Exception as exc:  # a spare that failed to start: this job starts its own
        log.warning("warm kernel not used: %s", exc)
        return None
    if key != warm_key(root, cwd) or not warm.km.is_alive():
        stop(warm)
        return None
    return warm


def stop(warm: WarmKernel) -> None:
    with contextlib.suppress(Exception):
        if warm.km.has_kernel:
            warm.km.shutdown_kernel(now=True)
    warm.folder.cleanup()


def _release_spare() -> None:
    pending = _WARMING.pop("next", None)
    if pending is not None:
        with contextlib.suppress(Exception):
            stop(pending[1].result(timeout=KERNEL_START_TIMEOUT))


def release_warm_kernel() -> None:
    """Stop the spare kernel and the primed parent (at the end of a run, and when a worker exits)."""
    _release_spare()
    stop_zygote()


atexit.register(release_warm_kernel)
