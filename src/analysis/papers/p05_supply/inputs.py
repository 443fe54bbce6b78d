"""Paper 05's inputs: the parameters checked (Settings, setup) and the data it reads (Data): every LA's
published figures (children looked after by placement, net gain, UASC, care leavers), Ofsted's
registered places by LA, the ONS child population, statistical neighbours, and the LA's own 903 when
the project holds it (for the forecast, as paper 04 makes it, and the child-level detail)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import pandas as pd

from analysis.config import Paths, paths
from analysis.errors import ParameterError
from analysis.io import national_figures
from analysis.io.geography import statistical_neighbours
from analysis.io.ingest import read_table
from analysis.io.ingest903 import read_processed
from analysis.papers.params import resolve_la_param
from analysis.stats import demand
from analysis.stats import published_forecast as fp

#: the years after the last 31 March the gap is shown for (the pack's forecast runs further)
GAP_YEARS_RANGE = (1, 3)


@dataclass
class Data(demand.PooledOnce):
    """Every LA's published figures, Ofsted's places and the child population; the project's 903 (None without one)."""

    indicators: pd.DataFrame
    places: pd.DataFrame
    providers: pd.DataFrame
    population: pd.DataFrame
    lookup: pd.DataFrame
    neighbours: pd.DataFrame
    placements: pd.DataFrame | None = None
    periods: pd.DataFrame | None = None
    children: pd.DataFrame | None = None
    missing: pd.DataFrame | None = None
    report: dict | None = None
    truth: dict | None = None
    _panel: pd.DataFrame | None = field(default=None, repr=False)
    _pooled: dict = field(default_factory=dict, repr=False)

    def up_to(self, year: int) -> Data:
        """The same data with every published table cut at ``year`` (31 March; Ofsted's and the ONS's by their year):
        a paper as at a past year reads nothing published after it. The 903 is cut by the paper's own years."""
        cut = {name: getattr(self, name) for name in ("indicators", "places", "providers", "population")}
        cut = {name: df[df["year"] <= year] for name, df in cut.items()}
        return dataclasses.replace(self, **cut, _panel=None, _pooled={})

    @classmethod
    def load(cls, p: Paths | None = None) -> Data:
        p = p or paths()
        d = read_processed(p, ("placements", "periods", "children", "missing"))
        tables = d.tables if d is not None else {}
        return cls(
            read_table(p, "la_indicators"),
            read_table(p, "ofsted_places"),
            read_table(p, "ofsted_providers"),
            read_table(p, "population"),
            read_table(p, "la_lookup"),
            read_table(p, "statistical_neighbours"),
            tables.get("placements"),
            tables.get("periods"),
            tables.get("children"),
            tables.get("missing"),
            d.report if d is not None else None,
            d.truth if d is not None else None,
        )

    def published_panel(self) -> pd.DataFrame:
        """Every LA's published counts by year and group, made once (the forecast's pooled intervals)."""
        if self._panel is None:
            self._panel = fp.published_panel(self.indicators)
        return self._panel

    def for_la(self, la_code: str) -> bool:
        """Whether the project's 903 is this LA's."""
        return self.report is not None and self.report.get("la_code") == la_code


@dataclass(frozen=True)
class Levers:
    """What the LA aims for, as shares (0-1), and the fostering figures, each with where it came from."""

    inside_share: float | None  # children in children's homes living inside the LA; None: keep today's share
    own_share: float | None  # children in children's homes in the LA's own homes; None: keep today's share
    inhouse_foster_share: float
    children_per_household: float
    households_lost: float
    sources: dict[str, str]


@dataclass
class Settings:
    la_code: str
    la_name: str
    region_code: str
    region_name: str
    neighbours: list[str]
    names: dict[str, str]
    source: str  # demand.FROM_903 or demand.FROM_PUBLISHED
    years: list[int]  # the demand history (31 March of each), as paper 04 takes it
    forecast_years: int
    fit_years: int
    bootstrap: int
    gap_years: int
    levers: Levers
    notes: list[str] = field(default_factory=list)
    region_las: list[str] = field(default_factory=list)  # current LAs of the LA's region
    as_at_past_year: bool = False  # made at a past 31 March (``last_year``): nothing published after it is used

    @property
    def last_year(self) -> int:
        return self.years[-1]


def _share(name: str, pct: float) -> float | None:
    if not 0 <= pct <= 100:
        raise ParameterError(f"parameter '{name}' should be a percentage from 0 to 100 (0: keep today's), got {pct!r}")
    return pct / 100 if pct else None


def _national(name: str, given: float, figure: str, low: float, high: float) -> tuple[float, str]:
    """The LA's own value when given (checked), else the national stand-in; and a sentence on which."""
    if given:
        if not low <= given <= high:
            raise ParameterError(f"parameter '{name}' should be {low:g} to {high:g} (0: the national figure), got {given!r}")
        return float(given), f"the LA's own figure ({given:g}, parameter {name})"
    f = national_figures.figure(figure)
    return f.figure, f"national stand-in: {f.cite()}"


def setup(
    data: Data,
    *,
    la_code: str,
    sn_model: int,
    first_year: int,
    forecast_years: int,
    fit_years: int,
    bootstrap: int,
    gap_years: int,
    last_year: int = 0,
    target_inside_pct: float,
    target_own_pct: float,
    inhouse_foster_pct: float,
    children_per_household: float,
    households_lost_pct: float,
    p: Paths | None = None,
) -> Settings:
    """Check the parameters (the forecast's as paper 04 checks them) and resolve the LA, its neighbours and its history."""
    la = resolve_la_param(la_code, p)
    demand.check_settings(forecast_years, fit_years, bootstrap)
    lo, hi = GAP_YEARS_RANGE
    if not lo <= gap_years <= min(hi, forecast_years):
        raise ParameterError(f"parameter 'gap_years' should be {lo} to {min(hi, forecast_years)} (and not beyond forecast_years), got {gap_years!r}")
    inhouse, inhouse_src = _national("inhouse_foster_pct", inhouse_foster_pct, "inhouse_share_of_fostering_pct", 1, 100)
    cph, cph_src = _national("children_per_household", children_per_household, "children_per_fostering_household", 0.5, 4)
    lost, lost_src = _national("households_lost_pct", households_lost_pct, "fostering_households_lost_pct", 0.1, 50)
    levers = Levers(
        _share("target_inside_pct", target_inside_pct),
        _share("target_own_pct", target_own_pct),
        inhouse / 100,
        cph,
        lost / 100,
        {"in-house share of fostering": inhouse_src, "children per fostering household": cph_src, "households lost a year": lost_src},
    )
    neighbours, notes = statistical_neighbours(data.neighbours, data.lookup, la["la_code"], sn_model)
    names = dict(zip(data.lookup["la_code"], data.lookup["la_name"], strict=False)) if "la_code" in data.lookup else {}
    source, available = demand.available_years(data.report, data.indicators, la["la_code"])
    if not available:
        raise ParameterError(f"no published figures for {la['la_name']} ({la['la_code']}): the paper needs its children looked after at 31 March")
    years = demand.history_years(available, first_year, last_year)
    past = bool(last_year) and last_year < available[-1]
    if past:
        notes.append(
            f"As at 31 March {last_year}: nothing published after it is used (Ofsted's registrations, the child population, "
            "the DfE's figures and the demand forecast all stop there)"
        )
    if source == demand.FROM_PUBLISHED:
        why = "the project holds no 903 data" if data.report is None else f"the project's 903 is for another LA ({data.report.get('la_code')})"
        notes.append(f"Demand is forecast from the DfE's published figures for {la['la_name']} ({why}), as paper 04 does.")
    return Settings(
        la["la_code"],
        la["la_name"],
        str(la.get("region_code", "")),
        str(la.get("region_name", "")),
        neighbours,
        names,
        source,
        years,
        forecast_years,
        fit_years,
        bootstrap,
        gap_years,
        levers,
        notes,
        list(data.lookup.loc[(data.lookup["status"] == "current") & (data.lookup["region_code"] == la.get("region_code")), "la_code"]),
        as_at_past_year=past,
    )


#: years the forecast needs beyond those it is fitted on (paper 04's default: two held out, and the year before)
HELD_OUT = 2


def history_too_short(s: Settings) -> str | None:
    """Why the forecast cannot run on this history (paper 04's rule at its default settings), or None."""
    need = s.fit_years + HELD_OUT + 1
    if len(s.years) < need:
        return f"only {len(s.years)} year(s) of history ({s.years[0]}-{s.years[-1]}): the forecast needs at least {need}, so the gap is not shown."
    return None
