"""Paper 03's inputs: the parameters checked (Settings, setup, the unit costs) and the 903 cost tables (Data)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from analysis.config import Paths, paths
from analysis.errors import AnalysisError, ParameterError
from analysis.io import unit_costs
from analysis.io.geography import statistical_neighbours

#: evidence.md section 2.1 (weekly, prices of the year given): the defaults of the unit-cost parameters
#: paper 03's unit-cost parameters and the placement type each prices in the one unit-cost file (shared with paper 04)
UNIT_COST_TYPES = {
    "cost_inhouse_foster": "inhouse_fostering",
    "cost_ifa_foster": "ifa_fostering",
    "cost_inhouse_home": "la_childrens_home",
    "cost_private_home": "private_childrens_home",
}
#: each parameter's default (0 in the notebook): the published figure uprated to the price base, and where it comes from
EVIDENCE_UNIT_COSTS = {
    k: (
        round(unit_costs.cost(t).weekly, 0),
        f"{unit_costs.cost(t).label}: {unit_costs.cost(t).source.split(':')[0]}, {unit_costs.cost(t).price_year} prices uprated by CPI "
        f"to {unit_costs.price_base()}",
    )
    for k, t in UNIT_COST_TYPES.items()
}
WEEKS_PER_YEAR = 365.25 / 7
SPEND_LINES = {"cla_total": "All spend on children looked after", "cla_residential": "Residential care", "cla_fostering": "Fostering"}
MIN_CLA_FOR_PANEL = 50


# --- within the LA ------------------------------------------------------------------------------------
@dataclass
class Data:
    placements: pd.DataFrame
    periods: pd.DataFrame
    oc2: pd.DataFrame
    costs: pd.DataFrame | None  # placement_costs (child, period, placement, cost_date, weekly_cost, funding) or None
    report: dict
    truth: dict | None
    children: pd.DataFrame | None = None  # child, birth_month ...: for exact age at the start

    @classmethod
    def load(cls, p: Paths | None = None) -> Data | None:
        """The processed 903 tables and placement costs, or None when there is no 903 data."""
        from analysis.io.ingest903 import read_processed

        d = read_processed(p or paths(), ("placements", "periods", "oc2", "placement_costs", "children"))
        if d is None:
            return None
        t = d.tables
        return cls(t["placements"], t["periods"], t["oc2"], t["placement_costs"], d.report, d.truth, t["children"])


def check_unit_costs(values: dict[str, float]) -> dict[str, float]:
    """The weekly costs to use: 0 (the default) means the published figure uprated to the price base
    (:data:`EVIDENCE_UNIT_COSTS`, from the unit-cost file paper 04 uses too); any other value is the user's."""
    for name, v in values.items():
        if not (isinstance(v, (int, float)) and 0 <= v < 100_000):
            raise ParameterError(f"parameter '{name}' should be a weekly cost in £ from 0 (the published figure) to 100,000, got {v!r}")
    return {k: float(v) if v else EVIDENCE_UNIT_COSTS[k][0] for k, v in values.items()}


def require(condition: bool, message: str) -> None:
    if not condition:
        raise AnalysisError(message)


# --- the paper's settings and parts -----------------------------------------------------------------
@dataclass
class Settings:
    la: pd.Series
    neighbours: list[str]
    names: dict[str, str]
    compare_years: list[int]
    homes_moved: int
    foster_shift_points: float
    unit_costs: dict[str, float]
    bootstrap: int
    notes: list[str] = field(default_factory=list)

    @property
    def la_code(self) -> str:
        return str(self.la["la_code"])

    @property
    def la_name(self) -> str:
        return str(self.la["la_name"])


def setup(
    inputs,
    *,
    la_code: str,
    sn_model: int,
    compare_years: list,
    homes_moved: int,
    foster_shift_points: float,
    unit_costs: dict[str, float],
    bootstrap: int,
) -> Settings:
    """Check the parameters; resolve the LA and its statistical neighbours."""
    from analysis.io.geography import resolve_la

    la = resolve_la(la_code, inputs.lookup)
    neighbours, notes = statistical_neighbours(inputs.neighbours, inputs.lookup, la["la_code"], sn_model)
    if compare_years and (
        len(compare_years) != 2
        or not all(isinstance(y, int) and not isinstance(y, bool) for y in compare_years)
        or compare_years[0] >= compare_years[1]
    ):
        raise ParameterError(
            f"parameter 'compare_years' should be two years in order, e.g. [2023, 2025] (financial years "
            f"named by the 31 March they end), or [] for the last two; got {compare_years!r}"
        )
    if not 0 <= homes_moved <= 500:
        raise ParameterError(f"parameter 'homes_moved' should be a number of children from 0 to 500, got {homes_moved!r}")
    if not 0 <= foster_shift_points <= 100:
        raise ParameterError(f"parameter 'foster_shift_points' should be percentage points from 0 to 100, got {foster_shift_points!r}")
    if not 0 <= bootstrap <= 2000:
        raise ParameterError(f"parameter 'bootstrap' should be a number of resamples from 0 to 2000, got {bootstrap!r}")
    names = dict(zip(inputs.lookup["la_code"], inputs.lookup["la_name"]))
    return Settings(
        la, neighbours, names, list(compare_years), homes_moved, float(foster_shift_points), check_unit_costs(unit_costs), bootstrap, notes
    )
