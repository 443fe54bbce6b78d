"""Unit costs of placements: one sourced file (``unit_costs.yaml`` beside this module) for every paper.

Each figure is as published (pounds a week, in the prices of its ``price_year``) with its source; it is
uprated to the file's ``price_base`` by the index it names (ONS CPI). Papers 03 and 04 both read it here,
so the same placement type costs the same in both, and :func:`sense_checks` says, in words, where a figure
runs against what the NAO and the CMA published (an LA's own children's home dearer than a private one).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np
import yaml


@cache
def load() -> dict:
    """The file as read (cached: it ships with the package)."""
    return yaml.safe_load(resources.files(__package__).joinpath("unit_costs.yaml").read_text(encoding="utf-8"))


@dataclass(frozen=True)
class UnitCost:
    type: str
    label: str
    published_weekly: float
    price_year: int
    factor: float  # uprating from price_year to the price base
    source: str
    stand_in: bool

    @property
    def weekly(self) -> float:
        """The cost a week in price-base prices."""
        return self.published_weekly * self.factor


def price_base() -> int:
    return int(load()["price_base"])


def uprating(price_year: int, base: int | None = None) -> float:
    """The index's growth from ``price_year`` prices to ``base`` prices (the file's price base by default)."""
    doc = load()
    base = price_base() if base is None else base
    rates = {int(k): float(v) for k, v in doc["index"]["rates"].items()}
    missing = [y for y in range(price_year + 1, base + 1) if y not in rates]
    if missing:
        raise ValueError(f"unit_costs.yaml: no index rate for {', '.join(map(str, missing))}")
    return float(np.prod([1 + rates[y] / 100 for y in range(price_year + 1, base + 1)]))


def cost(type_: str) -> UnitCost:
    d = load()["types"][type_]
    return UnitCost(type_, d["label"], float(d["weekly"]), int(d["price_year"]), uprating(int(d["price_year"])), d["source"], bool(d.get("stand_in")))


def types() -> list[str]:
    return list(load()["types"])


def index_note() -> str:
    doc = load()
    return f"{doc['index']['name']}; price base {doc['price_base']}. {doc['index']['note']}"


def sense_checks(weekly: dict[str, float]) -> list[str]:
    """Sentences for figures that run against the published evidence: an LA's own children's home costed above
    a private one (the CMA and the DfE found private homes the dearer: CMA 2020 GBP 3,830 against the DfE's
    c.2016 LA figure of GBP 3,000), or in-house fostering above an agency's (PSSRU against CMA)."""
    out = []
    own, private = weekly.get("la_childrens_home"), weekly.get("private_childrens_home")
    if own is not None and private is not None and own > private:
        out.append(
            f"An LA children's home is costed here at £{own:,.0f} a week, above a private one (£{private:,.0f}). The published "
            "national figures point the other way (DfE c.2016: about £3,000 a week in an LA's own home; CMA 2020: £3,830 in the "
            "largest private providers' homes), so this comes from the figures used: an LA's own cost file that counts "
            "overheads, vacancies or smaller homes, or a figure set by hand. Check it before comparing the two."
        )
    inhouse, ifa = weekly.get("inhouse_fostering"), weekly.get("ifa_fostering")
    if inhouse is not None and ifa is not None and inhouse > ifa:
        out.append(
            f"In-house fostering is costed here at £{inhouse:,.0f} a week, above an agency placement (£{ifa:,.0f}); the published "
            "national figures (PSSRU 2017, CMA 2020) put agency fostering the dearer. Check the figures used."
        )
    return out
