"""Paper 04's inputs: the parameters checked (Settings, setup), the data it reads (Data: the 903 or the
published figures) and the sibling papers' metrics."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from analysis.config import Paths, paths
from analysis.errors import ParameterError
from analysis.io.ingest import read_table
from analysis.io.ingest903 import read_processed
from analysis.papers.p04_sufficiency import scenarios as scn
from analysis.papers.params import resolve_la_param
from analysis.report import metrics
from analysis.stats import demand
from analysis.stats import published_forecast as fp

#: where the forecast and profile come from
FROM_903, FROM_PUBLISHED = demand.FROM_903, demand.FROM_PUBLISHED
PAPERS = {
    "01": "How the LA compares (paper 01)",
    "02": "Stability and breakdown risk (paper 02)",
    "03": "Placement costs (paper 03)",
    "05": "Local supply and the sufficiency gap (paper 05)",
}
AGE_BANDS = [(0, 1, "under 1"), (1, 5, "1 to 4"), (5, 10, "5 to 9"), (10, 16, "10 to 15"), (16, 19, "16 and over")]
LEGAL = {
    "C1": "interim care order",
    "C2": "full care order",
    "V2": "voluntary (section 20)",
    "E1": "placement order",
    "D1": "freeing order",
    "J1": "remanded or on remand",
    "J2": "youth justice",
    "J3": "youth justice",
    "L1": "police protection",
    "L2": "emergency protection order",
    "L3": "child assessment order",
    "V3": "short breaks",
    "V4": "short breaks",
}
NEED = {
    "N1": "abuse or neglect",
    "N2": "disability",
    "N3": "parental illness or disability",
    "N4": "family in acute stress",
    "N5": "family dysfunction",
    "N6": "socially unacceptable behaviour",
    "N7": "low income",
    "N8": "absent parenting",
}


# --- data and settings ----------------------------------------------------------------------------------
@dataclass
class Data(demand.PooledOnce):
    """The LA's processed 903 (any of it None when the project has none) and the published figures."""

    episodes: pd.DataFrame | None
    placements: pd.DataFrame | None
    periods: pd.DataFrame | None
    children: pd.DataFrame | None
    oc2: pd.DataFrame | None
    costs: pd.DataFrame | None
    report: dict | None
    truth: dict | None
    indicators: pd.DataFrame | None = None
    _panel: pd.DataFrame | None = field(default=None, repr=False)
    _pooled: dict = field(default_factory=dict, repr=False)

    def published_panel(self) -> pd.DataFrame | None:
        """Every LA's published counts by year and group (:func:`analysis.stats.published_forecast.published_panel`), made once per
        loaded data: the benchmark builds every LA's pack from one ``Data``."""
        if self._panel is None and self.indicators is not None:
            self._panel = fp.published_panel(self.indicators)
        return self._panel

    def up_to(self, year: int) -> Data:
        """The same data with the published figures cut at ``year`` (31 March): a pack as at a past year reads nothing
        published after it. The 903 is cut by the pack's own years."""
        li = None if self.indicators is None else self.indicators[self.indicators["year"] <= year]
        return dataclasses.replace(self, indicators=li, _panel=None, _pooled={})

    @classmethod
    def load(cls, p: Paths | None = None) -> Data:
        p = p or paths()
        li = read_table(p, "la_indicators")
        d = read_processed(p, ("episodes", "placements", "periods", "children", "oc2", "placement_costs"))
        if d is None:
            return cls(None, None, None, None, None, None, None, None, li)
        t = d.tables
        return cls(t["episodes"], t["placements"], t["periods"], t["children"], t["oc2"], t["placement_costs"], d.report, d.truth, li)

    def for_la(self, la_code: str) -> bool:
        """Whether the project's 903 is this LA's."""
        return self.report is not None and self.report.get("la_code") == la_code


@dataclass
class Settings:
    la_code: str
    la_name: str
    years: list[int]
    forecast_years: int
    fit_years: int
    holdout_years: int
    bootstrap: int
    scenarios: list[scn.Scenario]
    source: str = FROM_903
    unit_costs: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    as_at_past_year: bool = False  # made at a past 31 March (``last_year`` before the latest in the data): nothing later is used

    @property
    def last_year(self) -> int:
        return self.years[-1]

    @property
    def scenario_names(self) -> list[str]:
        return [CURRENT] + [sc.name for sc in self.scenarios]


CURRENT = demand.CURRENT


def setup(
    data: Data,
    *,
    la_code: str,
    first_year: int,
    forecast_years: int,
    last_year: int = 0,
    fit_years: int,
    holdout_years: int,
    bootstrap: int,
    fewer_entries_pct: float,
    faster_exits_pct: float,
    shift_to_fostering_pct: float,
    scenario_file: str = "",
    p: Paths | None = None,
) -> Settings:
    la = resolve_la_param(la_code, p)
    demand.check_settings(forecast_years, fit_years, bootstrap)
    if not 1 <= holdout_years <= 3:
        raise ParameterError(f"parameter 'holdout_years' should be 1 to 3, got {holdout_years!r}")
    for name, v in (
        ("fewer_entries_pct", fewer_entries_pct),
        ("faster_exits_pct", faster_exits_pct),
        ("shift_to_fostering_pct", shift_to_fostering_pct),
    ):
        if not 0 <= v <= 100:
            raise ParameterError(f"parameter '{name}' should be a percentage from 0 to 100, got {v!r}")
    notes = []
    source, available = demand.available_years(data.report, data.indicators, la["la_code"])  # as paper 05 does
    if source == FROM_PUBLISHED:
        if not available:
            raise ParameterError(f"no published figures for {la['la_name']} ({la['la_code']}): the pack needs its children looked after at 31 March")
        why = "the project holds no 903 data" if data.report is None else f"the project's 903 is for another LA ({data.report.get('la_code')})"
        notes.append(
            f"Built from the DfE's published figures for {la['la_name']}: {why}. The needs profile, forecast and costs use "
            "published counts; placement moves, provision by provider and the truth check need the LA's own 903."
        )
    years = demand.history_years(available, first_year, last_year)
    if last_year and last_year < available[-1]:  # a pack as at a past 31 March
        notes.append(
            f"A pack as at 31 March {last_year}: nothing published after it is used (the forecast, its back-test, the pooled model, "
            "Ofsted's registrations and the needs profile all stop there), so its forecast can be set against what happened since. "
            "Papers 01-03 and 05 of the same run use the latest figures, so they are not drawn on."
        )
    scenarios = scn.from_parameters(fewer_entries_pct, faster_exits_pct, shift_to_fostering_pct)
    overrides: dict[str, float] = {}
    if scenario_file:
        path = Path(scenario_file)
        if not path.is_absolute():
            path = (p or paths()).root / path
        extra, overrides = scn.load(path)
        scenarios += extra
    names = [sc.name for sc in scenarios]
    if len(set(names)) < len(names) or CURRENT in names:
        raise ParameterError(f"scenario names must differ from each other and from '{CURRENT}': {names}")
    past = bool(last_year) and last_year < available[-1]
    return Settings(
        la["la_code"],
        la["la_name"],
        years,
        forecast_years,
        fit_years,
        holdout_years,
        bootstrap,
        scenarios,
        source,
        overrides,
        notes,
        as_at_past_year=past,
    )


def history_ok(s: Settings) -> str | None:
    """Why the forecast cannot run on this history, or None."""
    need = s.fit_years + s.holdout_years + 1
    if len(s.years) < need:
        what = "903 history" if s.source == FROM_903 else "published history"
        return (
            f"only {len(s.years)} year(s) of {what} ({s.years[0]}-{s.years[-1]}): the forecast needs at least {need} "
            f"({s.fit_years} to fit, {s.holdout_years} to test, and the year before them). The descriptive parts are shown."
        )
    return None


# --- the other papers' results ----------------------------------------------------------------------
def sibling_metrics(output_dir: str, la_code: str, p: Paths | None = None) -> tuple[dict[str, dict | None], str]:
    """Each of papers 01-03's metrics.json from the same run (or, run by hand, the latest reports,
    said so), and a sentence on where they came from (read through :mod:`analysis.report.metrics`)."""
    p = p or paths()
    if output_dir:
        folder = metrics.run_folder(output_dir)
        where = f"the same run ({folder.name})"
    else:
        folder = p.reports / "latest"
        where = "the latest published reports (this pack was run by hand, not as part of a run)"
    found: dict[str, dict | None] = {}
    for pid in PAPERS:
        path = metrics.find(folder, pid, la_code)
        found[pid] = metrics.read(path) if path else None
    return found, where
