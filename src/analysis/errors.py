"""Errors that reach a person as one clear line, not a traceback."""

from __future__ import annotations

from pathlib import Path


class AnalysisError(Exception):
    """Base class: the command line prints ``str(error)`` and exits non-zero."""


class InputError(AnalysisError):
    """Bad or missing input. Names the file and, where known, the row and column."""

    def __init__(
        self,
        message: str,
        file: str | Path | None = None,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        self.file = str(file) if file is not None else None
        self.row = row
        self.column = column
        self.message = message
        super().__init__(self._render())

    def _render(self) -> str:
        where = []
        if self.file:
            where.append(self.file)
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column:
            where.append(f"column '{self.column}'")
        return f"{': '.join([', '.join(where), self.message]) if where else self.message}"


class ParameterError(AnalysisError):
    """A notebook parameter with the wrong type or an unusable value."""


class UnknownLAError(AnalysisError):
    """An LA code or name that is not in the lookup; the message names the closest matches."""


class RunLockedError(AnalysisError):
    """Another ``analysis run`` or ``analysis refresh`` holds the reports lock."""
