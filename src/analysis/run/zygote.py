"""A primed parent for kernels: it imports the stack and reads each paper's shared tables once, then
forks a fresh kernel for every job (``python -m analysis.run.zygote``, started by
:mod:`analysis.run.kernels`; POSIX only).

A forked kernel is a copy of this process taken before any notebook code ran: it has the imports and
the tables, but nothing of any earlier job (each job's kernel is a new copy, never reused). It becomes
an ordinary IPython kernel on the connection file it is given, in its own session, so jupyter_client
and papermill drive it, interrupt it and stop it as they would a kernel they started themselves.

The protocol is one JSON object per line. This process says ``{"ready": pid}`` once primed, then for
each request ``{"paper", "connection_file", "arguments", "cwd", "env"}`` answers ``{"pid": N}`` or
``{"error": "..."}``. It exits when its input closes (the worker that started it is gone), and its
kernels exit when it does (their parent is watched, as for any kernel).
"""

from __future__ import annotations

import gc
import importlib
import json
import os
import signal
import sys
import traceback

#: the modules every paper imports (and the kernel's own), imported once here
STACK = (
    "numpy",
    "pandas",
    "pyarrow.parquet",
    "matplotlib.pyplot",
    "IPython.display",
    "ipykernel.kernelapp",
    "analysis.report.reporting",
    "analysis.report.charts",
    "analysis.papers.registry",
)


def paper_module(paper: str) -> str | None:
    """``analysis.papers.pNN_*.paper`` for a paper id, if there is one."""
    from analysis.papers import registry

    folder = os.path.dirname(registry.__file__)
    names = sorted(d for d in os.listdir(folder) if d.startswith(f"p{paper}_") and os.path.isfile(os.path.join(folder, d, "paper.py")))
    return f"analysis.papers.{names[0]}.paper" if names else None


_PRIMED: set[str] = set()


def prime(paper: str) -> None:
    """Import the paper's module and call its ``prime()`` (reading the tables every LA's job reads), once.
    Any failure is left for the job to meet and report: priming only saves time."""
    if paper in _PRIMED:
        return
    _PRIMED.add(paper)
    try:
        name = paper_module(paper)
        if name:
            module = importlib.import_module(name)
            if callable(getattr(module, "prime", None)):
                module.prime()
    except Exception:  # noqa: BLE001
        return


def become_kernel(request: dict, replies: int) -> None:
    """In the forked child: drop the parent's plumbing and run an IPython kernel. Never returns."""
    code = 1
    try:
        gc.enable()  # (the parent's objects are frozen: collections here do not touch, so do not copy, them)
        os.setsid()  # its own session and process group, as jupyter_client starts kernels
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the notebook's own subprocesses are waited for as usual
        signal.signal(signal.SIGINT, signal.default_int_handler)  # an interrupt reaches the kernel (the parent ignores it)
        os.close(replies)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        argv = ["-f", request["connection_file"], *request["arguments"], f"--IPKernelApp.parent_handle={os.getppid()}"]
        sys.argv = ["ipykernel_launcher", *argv]
        from ipykernel.kernelapp import IPKernelApp

        app = IPKernelApp.instance()
        app.initialize(argv)
        app.start()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 0
    except BaseException:  # noqa: BLE001 - the child must never return into the parent's loop
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001
                pass
        os._exit(code)


def main() -> int:
    if sys.path and sys.path[0] in ("", os.getcwd()):
        del sys.path[0]  # as ipykernel_launcher does; the kernel puts the working folder back
    replies = os.dup(1)
    os.dup2(2, 1)  # anything printed goes where a kernel's output goes, never into the replies
    out = os.fdopen(os.dup(replies), "w", buffering=1)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # forked kernels are reaped by the system
    gc.disable()  # no collections here: they would leave holes in pages the kernels share (Python's gc.freeze advice)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # an interrupt is for a kernel, not for this process
    for name in STACK:
        importlib.import_module(name)
    try:
        importlib.import_module("analysis.report.charts").warm_up()
    except Exception:  # noqa: BLE001 - only saves time
        pass
    out.write(json.dumps({"ready": os.getpid()}) + "\n")
    for line in sys.stdin:
        try:
            request = json.loads(line)
            prime(str(request.get("paper", "")))
            gc.freeze()  # what the kernel inherits is never scanned by its collector
            pid = os.fork()
        except Exception as exc:  # noqa: BLE001
            out.write(json.dumps({"error": f"{exc.__class__.__name__}: {exc}"}) + "\n")
            continue
        if pid == 0:
            out.close()
            become_kernel(request, replies)
        out.write(json.dumps({"pid": pid}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
