"""Pseudonymisation of child identifiers, and what personal fields processed tables may keep.

``CHILD`` is replaced by a keyed hash (HMAC-SHA256 of the LA code and the child's ID): stable
across years and runs for the same key, so histories link, but not reversible without the key and
not linkable between projects that use different keys. The key comes from the
``ANALYSIS_PSEUDONYMISATION_KEY`` environment variable, or else a key file kept **outside the project**,
in the user's configuration folder (``$ANALYSIS_KEY_DIR``, else ``$XDG_CONFIG_HOME/cla-analysis``, else
``~/.config/cla-analysis``), one per project (named by a digest of the project's folder), created with a
random key and owner-only permissions on first use. So whoever is given the project folder is given no key
and cannot reverse a pseudonym. A key left inside the project by an older version (``.secrets/``) is moved
out on first use.

Processed tables keep month and year of birth (``birth_month``), never the date; postcodes are
used only to derive distance and location, then dropped.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.config import Paths
from analysis.errors import AnalysisError

KEY_ENV = "ANALYSIS_PSEUDONYMISATION_KEY"
KEY_DIR_ENV = "ANALYSIS_KEY_DIR"
#: where older versions kept the key, inside the project (moved out on first use)
LEGACY_KEY_FILE = Path(".secrets") / "pseudonymisation.key"
#: columns that must never reach data/processed or reports
PERSONAL_COLUMNS = ("CHILD", "DOB", "MC_DOB", "UPN", "HOME_POST", "PL_POST")


def key_dir() -> Path:
    """The folder that holds projects' keys, outside every project: ``$ANALYSIS_KEY_DIR``, else the user's
    configuration folder."""
    if os.environ.get(KEY_DIR_ENV, "").strip():
        return Path(os.environ[KEY_DIR_ENV]).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME", "").strip() or str(Path.home() / ".config")
    return Path(base) / "cla-analysis"


def key_path(p: Paths) -> Path:
    """This project's key file: in :func:`key_dir`, named by a digest of the project's folder."""
    return key_dir() / f"pseudonymisation-{hashlib.sha256(str(p.root.resolve()).encode()).hexdigest()[:16]}.key"


def _move_legacy_key(p: Paths, path: Path) -> None:
    """A key an older version left inside the project is moved to the key folder (the project then carries none)."""
    legacy = p.root / LEGACY_KEY_FILE
    if legacy.is_file() and not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(legacy.read_text(encoding="utf-8"))
        legacy.unlink()
        logging.getLogger(__name__).warning("moved the pseudonymisation key out of the project, to %s", path)


def get_key(p: Paths, *, create: bool = True) -> bytes:
    """The pseudonymisation key: the environment variable, else this project's key file outside the project
    (:func:`key_path`; created with a random key, owner-only, if absent)."""
    env = os.environ.get(KEY_ENV, "").strip()
    if env:
        if len(env) < 16:
            raise AnalysisError(f"{KEY_ENV} is too short to be a safe key (use at least 16 characters, e.g. 64 hex digits)")
        return env.encode("utf-8")
    path = key_path(p)
    _move_legacy_key(p, path)
    if path.is_file():
        text = path.read_text(encoding="utf-8").strip()
        if len(text) < 16:
            raise AnalysisError(f"{path} does not hold a usable key (at least 16 characters)")
        return text.encode("utf-8")
    if not create:
        raise AnalysisError(f"no pseudonymisation key: set {KEY_ENV} or create {path}")
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_hex(32) + "\n")
    return path.read_text(encoding="utf-8").strip().encode("utf-8")


def pseudonyms(ids: Iterable[str], key: bytes, la_code: str) -> list[str]:
    """``C`` + the first 16 hex digits of HMAC-SHA256 of ``"<LA code>:<ID>"``, for each ID."""
    base = hmac.new(key, digestmod=hashlib.sha256)

    def one(value: str) -> str:
        h = base.copy()
        h.update(f"{la_code}:{value}".encode())
        return "C" + h.hexdigest()[:16]

    return [one(v) for v in ids]


def pseudonymise(ids: pd.Series, key: bytes, la_code: str) -> pd.Series:
    """Keyed hash of each ID (``C`` + 16 hex digits); the same ID and key always give the same value.

    HMAC-SHA256 of ``"<LA code>:<ID>"``; each distinct ID is hashed once.
    """
    text = ids.astype(str).str.strip()
    distinct = text.unique()
    lookup = pd.Series(pseudonyms(distinct, key, la_code), index=distinct, dtype=object)
    return pd.Series(lookup.reindex(text.to_numpy()).to_numpy(), index=ids.index, dtype=object)


def number_children(columns: Sequence[pd.Series], key: bytes, la_code: str) -> tuple[np.ndarray, list[np.ndarray]]:
    """Every child ID in several columns, hashed once and numbered in ID order.

    Returns ``(names, numbers)``: ``numbers[k]`` gives, for each row of ``columns[k]``, the child's
    number, and ``names[number]`` its pseudonym. Numbers follow the order of the IDs, so tables
    sorted by ID stay sorted by number; grouping on numbers is much faster at national scale than
    on text.
    """
    text = pd.concat([c.astype(str).str.strip() for c in columns], ignore_index=True)
    codes, distinct = pd.factorize(text, sort=True)
    if (codes < 0).any():
        raise AnalysisError("a child ID is missing where every row should have one (validation should have set the row aside)")
    names = np.asarray(pseudonyms(distinct, key, la_code), dtype=object)
    return names, np.split(codes.astype(np.int64), np.cumsum([len(c) for c in columns])[:-1])


def pseudonym_order(names: np.ndarray) -> np.ndarray:
    """For each child number, its position when children are sorted by pseudonym."""
    rank = np.empty(len(names), dtype=np.int64)
    rank[np.argsort(names.astype("S"), kind="stable")] = np.arange(len(names))  # pseudonyms are ASCII: sort as bytes
    return rank


def birth_month(dob: pd.Series) -> pd.Series:
    """Date of birth reduced to ``YYYY-MM``."""
    return pd.to_datetime(dob).dt.strftime("%Y-%m")


def withhold_personal_values(set_aside: pd.DataFrame) -> pd.DataFrame:
    """Set-aside rows keep file, row, column and reason; a personal value itself is withheld."""
    out = set_aside.copy()
    personal = out["column"].isin(PERSONAL_COLUMNS)
    out.loc[personal, "value"] = "(withheld)"
    return out
