"""Tables read once per process: the same file, unchanged, is not parsed and checked again.

A run over every LA forks each job's kernel from a primed parent (:mod:`analysis.run.kernels`) that
has already read the published tables, so a job starts with them in memory. A table is keyed by its
path and the file's identity on disk (inode, size, modification time), so a rebuilt or edited file is
read afresh. Each caller gets its own copy: a notebook that changes a table cannot change what the
next reader gets.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pandas as pd

_TABLES: dict[str, tuple[tuple, pd.DataFrame]] = {}


def _identity(*paths: Path) -> tuple:
    out = []
    for path in paths:
        try:
            st = os.stat(path)
            out.append((st.st_ino, st.st_size, st.st_mtime_ns))
        except OSError:
            out.append(None)
    return tuple(out)


def read_once(path: Path, read: Callable[[Path], pd.DataFrame], *, also: tuple[Path, ...] = ()) -> pd.DataFrame:
    """``read(path)``, or a copy of what it returned before while ``path`` (and the files in ``also``,
    such as the checksums it was checked against) have not changed on disk."""
    key = str(Path(path).resolve())
    identity = _identity(Path(path), *also)
    hit = _TABLES.get(key)
    if hit is None or hit[0] != identity or None in identity:
        table = read(Path(path))
        _TABLES[key] = (identity, table)
        return table.copy()
    return hit[1].copy()


def forget() -> None:
    """Drop every table held (tests, and a process that wants its memory back)."""
    _TABLES.clear()
