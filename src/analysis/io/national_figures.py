"""National figures that stand in where no LA publishes its own (``national_figures.yaml`` beside this
module): each with its unit, how it was worked out, its source, year and link, so a report can say
which figure it used and where it comes from."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml


@dataclass(frozen=True)
class Figure:
    name: str
    figure: float
    unit: str
    how: str
    source: str
    year: str
    url: str
    quality: str

    def cite(self) -> str:
        """One line for a report's notes: the figure, what it is, and its source."""
        return f"{self.figure:g} ({self.unit}; {self.how}): {self.source}, {self.year}"


@cache
def _load() -> dict:
    return yaml.safe_load(resources.files(__package__).joinpath("national_figures.yaml").read_text(encoding="utf-8"))


def figure(name: str) -> Figure:
    """One national figure, by name; an unknown name lists the known ones."""
    figures = _load()["figures"]
    if name not in figures:
        raise KeyError(f"national_figures.yaml has no figure {name!r} (it has {', '.join(sorted(figures))})")
    d = figures[name]
    return Figure(name, float(d["figure"]), d["unit"], d["how"], d["source"], str(d["year"]), d["url"], d["quality"])


def names() -> list[str]:
    return sorted(_load()["figures"])
