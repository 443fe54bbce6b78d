"""Paper 01: compare a local authority with its statistical neighbours, region and England.

Everything the notebook shows is computed here from ``data/processed/public`` (never from raw
files): one long *panel* of measures by area and year, the comparator group, trends, rankings,
funnel-plot flags and the plain-English findings.

Conventions
-----------
* A measure's **value** is the published figure where DfE publishes it (rates and percentages are
  rounded to whole numbers, as published). Where only counts are published (the 2015-2017
  SFR tables) the value is calculated from them and rounded the same way.
* Funnel plots and significance flags use the unrounded ``numerator / denominator`` against the
  England figure (see :mod:`analysis.stats.funnel`).
* The **comparator average** is the simple mean of the comparator LAs' values, as in DfE's LA
  Interactive Tool (LAIT); the number of LAs with a value is kept beside it.
* A suppressed value keeps its DfE symbol (``c``, ``x``, ``z``, ``k``); ``..`` marks a value not
  published for that LA and year. Neither is ever shown as zero.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.config import Paths, package_digest, paths
from analysis.errors import InputError, ParameterError
from analysis.io import indicators, memo
from analysis.io.geography import current_las, resolve_la, statistical_neighbours
from analysis.io.indicators import Measure
from analysis.io.ingest import read_table
from analysis.report.disclosure import count_text, gate
from analysis.report.labels import SYMBOL_WORDS
from analysis.stats import funnel

ENGLAND = "E92000001"
NOT_PUBLISHED = ".."
COMPARATORS = ("statistical_neighbours", "region", "england", "list")
MIN_COMPARATORS = 3


#: the measures compared, in order, as declared in ``analysis/io/indicators.yaml`` (``measures``)
MEASURES: tuple[Measure, ...] = indicators.MEASURES
MEASURE_BY_ID = {m.id: m for m in MEASURES}

#: where each measure from the published indicators comes from: (numerator), (denominator), (published value, or None
#: where DfE does not publish one and the value is calculated)
PUBLISHED: dict[str, tuple[tuple[str, str], tuple[str, str], tuple[str, str] | None]] = {
    m.id: (m.numerator, m.denominator, m.published) for m in MEASURES if not m.source
}

#: proportions that are shares of money, not of children (no count of children beside them)
SHARES_OF_MONEY = frozenset({"residential_spend_share", "fostering_spend_share"})

#: Ofsted provision types counted as children's home places
HOME_TYPES = ("Children's home",)

PANEL_COLUMNS = ["measure", "area_code", "area_name", "geographic_level", "region_code", "year", "numerator", "denominator", "value", "flag"]


# --- inputs and parameters --------------------------------------------------------------------
@dataclass
class Inputs:
    la_indicators: pd.DataFrame
    lookup: pd.DataFrame
    neighbours: pd.DataFrame
    ro3: pd.DataFrame
    ofsted: pd.DataFrame
    population: pd.DataFrame

    @classmethod
    def load(cls, p: Paths | None = None) -> Inputs:
        p = p or paths()
        return cls(
            la_indicators=read_table(p, "la_indicators"),
            lookup=read_table(p, "la_lookup"),
            neighbours=read_table(p, "statistical_neighbours"),
            ro3=read_table(p, "ro3_spend"),
            ofsted=read_table(p, "ofsted_places"),
            population=read_table(p, "population"),
        )


@dataclass(frozen=True)
class Settings:
    la: pd.Series
    comparator: str
    comparator_label: str
    comparator_codes: tuple[str, ...]
    first_year: int
    last_year: int
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def la_code(self) -> str:
        return str(self.la["la_code"])

    @property
    def la_name(self) -> str:
        return str(self.la["la_name"])


def setup(
    inputs: Inputs,
    *,
    la_code: str,
    comparator: str = "statistical_neighbours",
    comparator_codes: list | tuple = (),
    first_year: int = 2015,
    last_year: int = 0,
    sn_model: int = 2025,
) -> Settings:
    """Check the notebook's parameters and resolve the LA, comparator group and years.

    Raises :class:`ParameterError` (or :class:`UnknownLAError`, which names the closest LAs)
    with one clear sentence.
    """
    if not isinstance(la_code, str) or not la_code.strip():
        raise ParameterError(f"parameter 'la_code' should be an LA code or name, got {la_code!r}")
    la = resolve_la(la_code, inputs.lookup)
    current = current_las(inputs.lookup)
    if comparator not in COMPARATORS:
        key = str(comparator).strip().lower().replace(" ", "_").replace("neighbor", "neighbour")
        close = [c for c in COMPARATORS if key and key in c] or difflib.get_close_matches(key, COMPARATORS, n=1, cutoff=0.5)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ParameterError(f"parameter 'comparator' should be one of {', '.join(COMPARATORS)}, got {comparator!r}{hint}")
    notes: list[str] = []
    if comparator == "statistical_neighbours":
        codes, notes = statistical_neighbours(inputs.neighbours, inputs.lookup, la["la_code"], sn_model)
        label = f"statistical neighbours ({sn_model} model)"
    elif comparator == "region":
        codes = current[(current["region_code"] == la["region_code"]) & (current["la_code"] != la["la_code"])]["la_code"].tolist()
        label = f"other LAs in the {la['region_name']} region"
    elif comparator == "england":
        codes = current[current["la_code"] != la["la_code"]]["la_code"].tolist()
        label = "all other LAs in England"
    else:
        if not comparator_codes:
            raise ParameterError("comparator 'list' needs comparator_codes: a list of LA codes or names")
        codes = []
        for q in comparator_codes:
            row = resolve_la(str(q), inputs.lookup)
            if row["la_code"] != la["la_code"] and row["la_code"] not in codes:
                codes.append(row["la_code"])
        label = "a chosen group of LAs"
    if len(codes) < MIN_COMPARATORS:
        raise ParameterError(
            f"the comparator group ({label}) has {len(codes)} LA(s) besides {la['la_name']}; at least "
            f"{MIN_COMPARATORS} are needed for a comparator average to mean anything"
        )
    years = sorted(int(y) for y in inputs.la_indicators["year"].unique())
    latest = years[-1]
    last = latest if last_year in (0, None) else int(last_year)
    if last not in years:
        raise ParameterError(f"no published data for year {last}: the data cover {years[0]} to {latest} (use last_year=0 for the latest)")
    if first_year > last:
        raise ParameterError(f"first_year ({first_year}) is after last_year ({last})")
    return Settings(
        la=la,
        comparator=comparator,
        comparator_label=label,
        comparator_codes=tuple(codes),
        first_year=int(first_year),
        last_year=last,
        notes=tuple(notes),
    )


# --- the panel ---------------------------------------------------------------------------------
Groups = dict[tuple[str, str], pd.DataFrame]


def _indexed(li: pd.DataFrame) -> Groups:
    """The indicators the panel uses, split once by (indicator, measure) for fast lookups."""
    wanted = {pair[0] for spec in PUBLISHED.values() for pair in spec if pair} | {"cla_31_march"}
    sub = li[li["indicator"].isin(wanted)][["indicator", "measure", "area_code", "geographic_level", "year", "value", "flag"]]
    sub = sub.astype({"indicator": object, "measure": object, "area_code": object, "geographic_level": object, "flag": object})
    return {key: g for key, g in sub.groupby(["indicator", "measure"], sort=False)}


def _series(groups: Groups, indicator: str, measure: str, name: str, *, la_only: bool = False) -> pd.DataFrame:
    """One indicator/measure as (area_code, year, <name>, <name>_flag)."""
    s = groups.get((indicator, measure))
    if s is None:
        return pd.DataFrame(columns=["area_code", "year", name, f"{name}_flag"])
    if la_only:
        s = s[s["geographic_level"] == "local_authority"]
    s = s[["area_code", "year", "value", "flag"]].drop_duplicates(["area_code", "year"])
    return s.rename(columns={"value": name, "flag": f"{name}_flag"})


def _areas(li: pd.DataFrame) -> pd.DataFrame:
    return li[["area_code", "area_name", "geographic_level", "region_code"]].drop_duplicates("area_code")


def _published_measure(li: Groups, measure: Measure, population: pd.DataFrame | None = None) -> pd.DataFrame:
    (n_ind, n_meas), (d_ind, d_meas), published = PUBLISHED[measure.id]
    p_ind, p_meas = published or ("", "")  # none published: calculated from numerator and denominator
    num = _series(li, n_ind, n_meas, "numerator")
    den = _series(li, d_ind, d_meas, "denominator")
    if d_meas == "population" and population is not None:
        # years before the DfE rates files (2015-2018): the ONS mid-year estimate DfE uses
        ons = population.rename(columns={"population": "ons"})[["area_code", "year", "ons"]]
        den = den.merge(ons, on=["area_code", "year"], how="outer")
        den["denominator"] = den["denominator"].fillna(den["ons"])
        den = den.drop(columns="ons")
    pub = _series(li, p_ind, p_meas, "published")
    m = num.merge(den, on=["area_code", "year"], how="outer").merge(pub, on=["area_code", "year"], how="outer")
    with np.errstate(divide="ignore", invalid="ignore"):
        computed = (m["numerator"] / m["denominator"].where(m["denominator"] > 0) * measure.scale).round(0)
    m["value"] = m["published"].where(m["published"].notna(), computed)
    # a suppressed published value keeps its symbol; else the numerator's symbol explains a gap
    m["flag"] = m["published_flag"].where(m["published_flag"].notna(), m["numerator_flag"])
    m.loc[m["value"].notna(), "flag"] = pd.NA
    m["measure"] = measure.id
    return m


def _la_totals(values: pd.DataFrame, lookup: pd.DataFrame) -> pd.DataFrame:
    """Add England and regional rows by summing LA numerators and denominators (where both exist)."""
    regions = lookup.drop_duplicates("la_code").set_index("la_code")["region_code"]
    v = values.dropna(subset=["numerator", "denominator"]).copy()
    v["region_code"] = v["area_code"].map(regions)
    frames = [values]
    for key in ("region_code", None):  # regional, then national
        g = v.groupby(["year", key] if key else ["year"], as_index=False)[["numerator", "denominator"]].sum()
        g["area_code"] = g[key] if key else ENGLAND
        frames.append(g[["area_code", "year", "numerator", "denominator"]])
    return pd.concat(frames, ignore_index=True)


def _spend_measures(inputs: Inputs, li: Groups) -> list[pd.DataFrame]:
    spend = inputs.ro3[(inputs.ro3["service_line"] == "cla_total") & (inputs.ro3["measure"] == "net_current_expenditure")]
    spend = spend.rename(columns={"new_la_code": "area_code"})[["area_code", "year", "value_gbp_thousand"]]
    spend = spend.assign(numerator=spend["value_gbp_thousand"] * 1000).drop(columns="value_gbp_thousand")
    out = []
    for mid, (ind, meas) in (("spend_per_child", ("cla_31_march", "number")), ("spend_per_head", ("cla_31_march", "population"))):
        den = _series(li, ind, meas, "denominator", la_only=True)[["area_code", "year", "denominator"]]
        m = _la_totals(spend.merge(den, on=["area_code", "year"], how="left"), inputs.lookup)
        m["value"] = (m["numerator"] / m["denominator"].where(m["denominator"] > 0)).round(0)
        m["measure"] = mid
        out.append(m)
    # the split of that spend: residential care and fostering services as shares of the total, and residential per child
    lines = inputs.ro3[inputs.ro3["measure"] == "net_current_expenditure"].rename(columns={"new_la_code": "area_code"})
    by_line = lines.pivot_table(index=["area_code", "year"], columns="service_line", values="value_gbp_thousand", aggfunc="sum").reset_index()
    for mid, line in (("residential_spend_share", "cla_residential"), ("fostering_spend_share", "cla_fostering")):
        if line not in by_line.columns or "cla_total" not in by_line.columns:
            continue
        m = by_line[["area_code", "year"]].assign(numerator=by_line[line] * 1000, denominator=by_line["cla_total"] * 1000)
        m = _la_totals(m, inputs.lookup)
        m["value"] = (100 * m["numerator"] / m["denominator"].where(m["denominator"] > 0)).round(0)
        m["measure"] = mid
        out.append(m)
    if "cla_residential" in by_line.columns:
        res = by_line[["area_code", "year"]].assign(numerator=by_line["cla_residential"] * 1000)
        den = _series(li, "cla_31_march", "number", "denominator", la_only=True)[["area_code", "year", "denominator"]]
        m = _la_totals(res.merge(den, on=["area_code", "year"], how="left"), inputs.lookup)
        m["value"] = (m["numerator"] / m["denominator"].where(m["denominator"] > 0)).round(0)
        m["measure"] = "residential_spend_per_child"
        out.append(m)
    return out


def _places_measure(inputs: Inputs, li: Groups) -> pd.DataFrame:
    o = inputs.ofsted[inputs.ofsted["provision_type"].isin(HOME_TYPES)]
    places = o.groupby(["new_la_code", "year"], as_index=False)["places"].sum().rename(columns={"new_la_code": "area_code", "places": "numerator"})
    pop = _series(li, "cla_31_march", "population", "denominator", la_only=True)[["area_code", "year", "denominator"]]
    pop = pop[pop["year"].isin(places["year"].unique())]
    # an LA with no children's homes registered has no Ofsted rows: that is a true zero
    m = pop.merge(places, on=["area_code", "year"], how="left").fillna({"numerator": 0.0})
    m = _la_totals(m, inputs.lookup)
    m["value"] = (m["numerator"] / m["denominator"].where(m["denominator"] > 0) * 10_000).round(1)
    m["measure"] = "home_places_rate"
    return m


def build_panel(inputs: Inputs) -> pd.DataFrame:
    """Every measure for every area (LA, region, England) and year, in one long table."""
    li = _indexed(inputs.la_indicators)
    frames = [_published_measure(li, m, inputs.population) for m in MEASURES if m.id in PUBLISHED]
    frames += _spend_measures(inputs, li)
    frames.append(_places_measure(inputs, li))
    made = {f["measure"].iloc[0] for f in frames if len(f)}
    missing = [m.id for m in MEASURES if m.source and m.id not in made]
    if missing:
        raise InputError(
            f"measure(s) {', '.join(missing)} declared with a source, but paper 01 calculates no such measure "
            "(a measure from RO3 or Ofsted needs its calculation in papers/p01_compare/paper.py)",
            indicators.INDICATORS_FILE,
        )
    frames = [f for f in frames if len(f) and f["measure"].iloc[0] in MEASURE_BY_ID]
    panel = pd.concat(
        [f.reindex(columns=["measure", "area_code", "year", "numerator", "denominator", "value", "flag"]) for f in frames], ignore_index=True
    )
    panel = panel.merge(_areas(inputs.la_indicators), on="area_code", how="left")
    panel = panel[panel["area_name"].notna()]
    panel["year"] = panel["year"].astype(int)
    for c in ("numerator", "denominator", "value"):
        panel[c] = pd.to_numeric(panel[c], errors="coerce").astype(float)
    panel = panel[PANEL_COLUMNS].sort_values(["measure", "geographic_level", "area_code", "year"]).reset_index(drop=True)
    return _text_as_object(panel)


#: the panel's key columns (never missing), held as Arrow strings: every paper-01 job filters the
#: 40,000-row panel by them a few hundred times, and Arrow compares them about 13 times faster than
#: Python string objects (measured)
PANEL_KEYS = ("measure", "area_code", "geographic_level")


def _text_as_object(panel: pd.DataFrame) -> pd.DataFrame:
    """Text columns as plain objects with None for missing, the keys as Arrow strings (the same after a
    Parquet round trip)."""
    for c in ("area_name", "region_code", "flag"):
        panel[c] = panel[c].astype(object).where(panel[c].notna(), None)
    for c in PANEL_KEYS:
        panel[c] = panel[c].astype("string[pyarrow]")
    return panel


def load_panel(inputs: Inputs, p: Paths | None = None) -> pd.DataFrame:
    """:func:`build_panel`, cached beside the processed tables it comes from.

    The panel is the same for every LA, so a run over all LAs builds it once. The cache lives in
    ``data/processed/public/_cache/`` (so a re-ingest, which replaces that folder, clears it) and
    its name carries a digest of the package's code (:func:`analysis.config.package_digest`), so a
    change to any module it relies on rebuilds it too.
    """
    import os
    import tempfile

    p = p or paths()
    digest = package_digest()
    cache = p.processed_public / "_cache" / f"compare_panel-{digest}.parquet"
    if cache.is_file():
        return memo.read_once(cache, lambda f: _text_as_object(pd.read_parquet(f)))
    panel = build_panel(inputs)
    try:
        cache.parent.mkdir(exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache.parent, suffix=".tmp")
        os.close(fd)
        panel.to_parquet(tmp, index=False)
        os.replace(tmp, cache)  # atomic: parallel workers may race to write the same file
        for old in cache.parent.glob("compare_panel-*.parquet"):  # panels built by earlier code are never read again
            if old != cache:
                old.unlink(missing_ok=True)
    except OSError:  # a read-only project still works, just without the cache
        pass
    return panel


# --- comparisons -------------------------------------------------------------------------------
def cell(value: float, flag: object) -> object:
    """A value for a published table: the number, its DfE symbol if suppressed, or ``..``."""
    if pd.notna(value):
        return value
    if flag is not None and not (isinstance(flag, float) and np.isnan(flag)) and not pd.isna(flag):
        return str(flag)
    return NOT_PUBLISHED


def latest_year(panel: pd.DataFrame, measure: str, last_year: int) -> int | None:
    """The latest year up to ``last_year`` with any LA-level value for the measure."""
    s = panel[
        (panel["measure"] == measure) & (panel["geographic_level"] == "local_authority") & (panel["year"] <= last_year) & panel["value"].notna()
    ]
    return int(s["year"].max()) if not s.empty else None


def comparator_average(panel: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """Mean of the comparator LAs' values per measure and year, with how many had a value."""
    s = panel[panel["area_code"].isin(settings.comparator_codes)]
    g = s.groupby(["measure", "year"])["value"].agg(["mean", "count"]).reset_index()
    return g.rename(columns={"mean": "comparators", "count": "comparators_n"})


def trends(panel: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """Long table for trend charts: measure, year, series (LA/comparators/region/England), value."""
    years = panel["year"].between(settings.first_year, settings.last_year)
    p = panel[years]
    areas = {"LA": settings.la_code, "region": settings.la["region_code"], "England": ENGLAND}
    frames = [p[p["area_code"] == code][["measure", "year", "value"]].assign(series=series) for series, code in areas.items()]
    comp = comparator_average(p, settings)
    frames.append(comp.rename(columns={"comparators": "value"})[["measure", "year", "value"]].assign(series="comparators"))
    return pd.concat(frames, ignore_index=True)[["measure", "year", "series", "value"]]


def rank_of(panel: pd.DataFrame, measure: str, year: int, la_code: str, among: tuple[str, ...] | None = None) -> tuple[int | None, int]:
    """Rank of the LA (1 = highest value, ties share the best rank) and the number ranked."""
    s = panel[(panel["measure"] == measure) & (panel["year"] == year) & (panel["geographic_level"] == "local_authority") & panel["value"].notna()]
    if among is not None:
        s = s[s["area_code"].isin((*among, la_code))]
    if la_code not in set(s["area_code"]):
        return None, len(s)
    ranks = s.set_index("area_code")["value"].rank(ascending=False, method="min")
    return int(ranks[la_code]), len(s)


def funnel_units(panel: pd.DataFrame, measure: Measure, year: int, la_code: str) -> tuple[pd.DataFrame, float, funnel.Dispersion] | None:
    """All LAs' funnel data for one measure and year against the England figure."""
    s = panel[(panel["measure"] == measure.id) & (panel["year"] == year)]
    las = s[(s["geographic_level"] == "local_authority") & s["numerator"].notna() & (s["denominator"] > 0)]
    if len(las) < 3:
        return None
    eng = s[s["area_code"] == ENGLAND]
    if not eng.empty and pd.notna(eng["numerator"].iloc[0]) and eng["denominator"].iloc[0] > 0:
        theta = float(eng["numerator"].iloc[0] / eng["denominator"].iloc[0])
    else:
        theta = float(las["numerator"].sum() / las["denominator"].sum())
    kind = "rate" if measure.kind == "rate" else "proportion"
    units, disp = funnel.funnel_frame(las[["area_code", "area_name", "numerator", "denominator"]], theta, kind)
    units["value"] = units["observed"] * measure.scale
    units["is_la"] = units["area_code"] == la_code
    return units, theta, disp


def flag_text(flag: str, measure: Measure) -> str:
    """A flag from :data:`analysis.stats.funnel.FLAG_ORDER` in words for a table."""
    if not flag:
        return "not tested"
    if flag == "within":
        return "in line with England"
    direction = "higher" if flag.startswith("above") else "lower"
    strength = "significantly " if flag.endswith("99.8%") else "possibly "
    return f"{strength}{direction} ({flag.split()[1]} limits)"


def summary_table(panel: pd.DataFrame, settings: Settings) -> tuple[pd.DataFrame, dict[str, dict]]:
    """One row per measure for its latest year: LA, comparators, region, England, rank, flag.

    Returns the table (values with DfE symbols) and a dict of the same numbers per measure for
    findings and metrics.
    """
    comp = comparator_average(panel, settings)
    rows, details = [], {}
    region = settings.la["region_code"]
    for m in MEASURES:
        year = latest_year(panel, m.id, settings.last_year)
        if year is None:
            continue
        this = panel[(panel["measure"] == m.id) & (panel["year"] == year)]
        s = this.set_index("area_code")

        def get(code: str, s: pd.DataFrame = s) -> object:
            return cell(s.at[code, "value"], s.at[code, "flag"]) if code in s.index else NOT_PUBLISHED

        c = comp[(comp["measure"] == m.id) & (comp["year"] == year)]
        comp_value = round(float(c["comparators"].iloc[0]), 1 if m.kind == "ratio" else 0) if not c.empty else np.nan
        comp_n = int(c["comparators_n"].iloc[0]) if not c.empty else 0
        rank, n_ranked = rank_of(this, m.id, year, settings.la_code)
        crank, n_crank = rank_of(this, m.id, year, settings.la_code, settings.comparator_codes)
        flag, disp_text, f = "", "no funnel (not a count of children)", None
        if m.funnel:
            f = funnel_units(this, m, year, settings.la_code)
            if f is not None:
                units, _theta, disp = f
                me = units[units["is_la"]]
                flag = str(me["flag"].iloc[0]) if not me.empty else ""
                disp_text = disp.describe()
        count = (
            cell(s.at[settings.la_code, "numerator"], s.at[settings.la_code, "flag"])
            if m.kind in ("rate", "proportion") and m.id not in SHARES_OF_MONEY and settings.la_code in s.index
            else None
        )
        detail = {
            "measure": m.id,
            "label": m.label,
            "short": m.short,
            "topic": m.topic,
            "unit": m.unit,
            "year": year,
            "count": count,
            "la": get(settings.la_code),
            "comparators": comp_value if comp_n else NOT_PUBLISHED,
            "comparators_n": comp_n,
            "region": get(region),
            "england": get(ENGLAND),
            "rank": rank,
            "ranked": n_ranked,
            "comparator_rank": crank,
            "comparator_ranked": n_crank,
            "flag": flag,
            "dispersion": disp_text,
            "better": m.better,
            "decimals": m.decimals,
            "funnel": f,
        }
        details[m.id] = detail
        rows.append(
            {
                "Topic": m.topic,
                "Measure": m.label,
                "Year": year,
                "Number (LA)": count if count is not None else "z",
                settings.la_name: detail["la"],
                "Comparator average": detail["comparators"],
                "Region": detail["region"],
                "England": detail["england"],
                "Rank of LAs (1 = highest)": f"{rank} of {n_ranked}" if rank else NOT_PUBLISHED,
                "Compared with England": flag_text(flag, m) if m.funnel else "not tested",
            }
        )
    return pd.DataFrame(rows), details


def trend_table(panel: pd.DataFrame, settings: Settings, measure: str) -> pd.DataFrame:
    """Wide table of one measure by year for the LA, comparator average, region and England."""
    t = trends(panel, settings)
    t = t[t["measure"] == measure]
    wide = t.pivot_table(index="year", columns="series", values="value", aggfunc="first")
    la = panel[
        (panel["measure"] == measure) & (panel["area_code"] == settings.la_code) & panel["year"].between(settings.first_year, settings.last_year)
    ]
    out = pd.DataFrame({"Year": sorted(set(t["year"]))})
    la_cells = {int(r.year): cell(r.value, r.flag) for r in la.itertuples()}
    out[settings.la_name] = [la_cells.get(y, NOT_PUBLISHED) for y in out["Year"]]
    for series, name in (("comparators", "Comparator average"), ("region", "Region"), ("England", "England")):
        out[name] = [
            wide.at[y, series] if series in wide.columns and y in wide.index and pd.notna(wide.at[y, series]) else NOT_PUBLISHED for y in out["Year"]
        ]
    return out


def comparator_values(panel: pd.DataFrame, settings: Settings, measure: str, year: int) -> pd.DataFrame:
    """Values of the LA and each comparator LA for one measure and year (for ranked bars)."""
    s = panel[(panel["measure"] == measure) & (panel["year"] == year) & panel["area_code"].isin((*settings.comparator_codes, settings.la_code))]
    return pd.DataFrame({"name": s["area_name"].to_numpy(), "value": s["value"].to_numpy(), "is_la": (s["area_code"] == settings.la_code).to_numpy()})


def placement_mix(panel: pd.DataFrame, settings: Settings, year: int) -> pd.DataFrame:
    """Placement-type shares (%) for the LA, comparator average, region and England in one year."""
    ids = ["foster_pct", "homes_pct", "supported_pct", "parents_pct"]
    comp = comparator_average(panel, settings)
    rows = []
    for area, code in (
        (settings.la_name, settings.la_code),
        ("Comparator average", None),
        ("Region", settings.la["region_code"]),
        ("England", ENGLAND),
    ):
        row: dict[str, object] = {"area": area}
        for mid in ids:
            if code is None:
                c = comp[(comp["measure"] == mid) & (comp["year"] == year)]
                row[mid] = round(float(c["comparators"].iloc[0])) if not c.empty else np.nan
            else:
                s = panel[(panel["measure"] == mid) & (panel["year"] == year) & (panel["area_code"] == code)]
                row[mid] = s["value"].iloc[0] if not s.empty else np.nan
        known = [v for v in (row[mid] for mid in ids) if pd.notna(v)]
        row["other_pct"] = max(0.0, 100 - float(sum(known))) if len(known) == len(ids) else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


# --- words ---------------------------------------------------------------------------------------
def fmt(value: object, unit: str, decimals: int = 0) -> str:
    """A number in words-ready form: 12%, 125 per 10,000, £61,272."""
    if isinstance(value, str):
        return SYMBOL_WORDS.get(value, value)
    if value is None or pd.isna(value):
        return "not published"
    v = float(value)
    if unit == "%":
        return f"{v:.0f}%"
    if unit == "£":
        return f"£{v:,.0f}"
    return f"{v:,.{decimals}f} {unit}"


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _direction(la: object, other: object) -> str | None:
    if not isinstance(la, (int, float)) or not isinstance(other, (int, float)) or pd.isna(la) or pd.isna(other):
        return None
    if la > other:
        return "higher than"
    if la < other:
        return "lower than"
    return "the same as"


def _lower(text: str) -> str:
    """Lower-case the first letter unless the word is an acronym (LA's stays LA's)."""
    return text if len(text) > 1 and text[1].isupper() else text[:1].lower() + text[1:]


def _position(rank: int | None, of: int) -> str:
    if not rank:
        return ""
    return "the highest" if rank == 1 else "the lowest" if rank == of else f"{ordinal(rank)} highest"


def significance_phrase(flag: str, better: str | None = None) -> str:
    """The funnel result in words."""
    if flag in ("above 99.8%", "below 99.8%"):
        direction = "higher" if flag.startswith("above") else "lower"
        text = f"significantly {direction} than England (outside the 99.8% limits)"
        if better:
            text += ": a strength" if direction == better else ": a concern"
        return text
    if flag in ("above 95%", "below 95%"):
        direction = "higher" if flag.startswith("above") else "lower"
        return f"{direction} than England at the 95% level only: worth watching, not conclusive"
    if flag == "within":
        return "within England's funnel limits"
    return ""


def measure_sentence(d: dict, la_name: str, comparator_label: str) -> str:
    """The numbers for one measure in a short plain-English line (Markdown)."""
    unit, dp = d["unit"], d["decimals"]
    text = (
        f"**{d['short']} ({d['year']})**: {fmt(d['la'], unit, dp)} in {la_name}; England {fmt(d['england'], unit, dp)}, "
        f"region {fmt(d['region'], unit, dp)}, comparator average {fmt(d['comparators'], unit, dp)}."
    )
    if isinstance(d["la"], str):
        return text + " The LA figure is not available, so it is not ranked or tested."
    if d["rank"]:
        text += f" {_position(d['rank'], d['ranked']).capitalize()} of {d['ranked']} LAs"
        text += (
            f"; {_position(d['comparator_rank'], d['comparator_ranked'])} of {d['comparator_ranked']} in its comparator group."
            if d["comparator_rank"]
            else "."
        )
    phrase = significance_phrase(d["flag"], d["better"])
    return text + (f" {phrase[0].upper()}{phrase[1:]}." if phrase else "")


def trend_shape(years: list[int], values: list[float], show) -> str:
    """How a series moved, in words: its start, a peak or low in between (when the series turned there),
    and where it ended, with the latest year-on-year direction. ``show`` formats a value.

    >>> trend_shape([2015, 2020, 2021, 2022, 2025], [87, 133, 133, 133, 125], lambda x: f"{x:.0f}")
    'rose from 87 in 2015 to a peak of 133 in 2020-2022, then fell to 125 in 2025'
    """
    v = np.asarray(values, float)
    if len(v) < 2:
        return ""
    first, last = v[0], v[-1]
    span = max(abs(v.max() - v.min()), 1e-9)
    hi, lo = int(np.argmax(v)), int(np.argmin(v))

    def when(i: int, extreme: float) -> str:
        run = [years[j] for j in range(len(v)) if v[j] == extreme]
        return f"{run[0]}-{run[-1]}" if len(run) > 1 and run[-1] != run[0] else f"{years[i]}"

    turned = max(0.05 * abs(v.max()), 1.0)  # a turn of at least 5% of the peak (and more than one unit) is named
    if 0 < hi < len(v) - 1 and v[hi] - last > turned and v[hi] - first > turned:
        text = f"rose from {show(first)} in {years[0]} to a peak of {show(v[hi])} in {when(hi, v[hi])}, then fell to {show(last)} in {years[-1]}"
    elif 0 < lo < len(v) - 1 and last - v[lo] > turned and first - v[lo] > turned:
        text = f"fell from {show(first)} in {years[0]} to a low of {show(v[lo])} in {when(lo, v[lo])}, then rose to {show(last)} in {years[-1]}"
    else:
        change = "rose" if last > first else "fell" if last < first else "was unchanged"
        text = f"{change} from {show(first)} in {years[0]} to {show(last)} in {years[-1]}"
        if len(v) >= 3 and span > 0:
            prev = v[-2]
            latest = "rose" if last > prev else "fell" if last < prev else "held steady"
            if (latest == "fell" and change == "rose") or (latest == "rose" and change == "fell"):
                text += f" (it {latest} in the latest year, from {show(prev)} in {years[-2]})"
    return text


def trend_sentence(panel: pd.DataFrame, settings: Settings, measure: Measure) -> str | None:
    """How the LA's value moved over the years shown (peak or low and the latest direction), and England's."""
    s = panel[
        (panel["measure"] == measure.id)
        & (panel["area_code"] == settings.la_code)
        & panel["year"].between(settings.first_year, settings.last_year)
        & panel["value"].notna()
    ].sort_values("year")
    if len(s) < 2:
        return None
    u, dp = measure.unit, measure.decimals
    show = lambda x: fmt(x, u, dp)  # noqa: E731
    text = f"{measure.short}: {trend_shape([int(y) for y in s['year']], s['value'].tolist(), show)} in {settings.la_name}"
    first, last = s.iloc[0], s.iloc[-1]
    e = panel[(panel["measure"] == measure.id) & (panel["area_code"] == ENGLAND) & panel["year"].isin([first["year"], last["year"]])].set_index(
        "year"
    )["value"]
    if first["year"] in e.index and last["year"] in e.index and pd.notna(e[first["year"]]) and pd.notna(e[last["year"]]):
        text += f" (England: {fmt(e[first['year']], u, dp)} to {fmt(e[last['year']], u, dp)})"
    return text + "."


def coverage_notes(panel: pd.DataFrame, settings: Settings) -> list[str]:
    """When the LA's own published series starts, and why (a new council after a boundary change)."""
    years = _la_cla_years(panel, settings)
    if years.empty:
        return [f"No children looked after figures are published for {settings.la_name} in these files"]
    first = int(years.min())
    brk = settings.la.get("series_break_year") if hasattr(settings.la, "get") else None
    notes = []
    if brk is not None and not pd.isna(brk):
        change = str(settings.la.get("change_note") or "").rstrip(".")
        notes.append(
            f"{settings.la_name} was created by a boundary change ({change}); its own published figures start at 31 March {first}. "
            f"Earlier years belong to the council(s) it replaced and are not comparable, so its trends start in {first}"
        )
    elif first > settings.first_year:
        notes.append(f"Published figures for {settings.la_name} start in {first}")
    return notes


def first_data_year(panel: pd.DataFrame, settings: Settings) -> int:
    """The first year shown that has the LA's own published figures."""
    years = _la_cla_years(panel, settings)
    return max(settings.first_year, int(years.min())) if not years.empty else settings.first_year


def _la_cla_years(panel: pd.DataFrame, settings: Settings) -> pd.Series:
    """The years with a published looked-after rate for the LA (its own series)."""
    return panel.loc[(panel["area_code"] == settings.la_code) & panel["value"].notna() & (panel["measure"] == "cla_rate"), "year"]


def key_findings(details: dict[str, dict], la_name: str) -> list[str]:
    """The headline bullets, each written from the numbers."""
    tested = [d for d in details.values() if d["flag"]]
    strong = [d for d in tested if d["flag"].endswith("99.8%")]
    watch = [d for d in tested if d["flag"].endswith(" 95%")]
    out = []
    cla = details.get("cla_rate")
    if cla and not isinstance(cla["la"], str):
        count = cla.get("count")
        number = f"{count_text(count)} children" if count is not None and not isinstance(count, str) else "children"
        out.append(
            f"{la_name} looked after {number} at 31 March {cla['year']}: {fmt(cla['la'], cla['unit'], cla['decimals'])} "
            f"(England {fmt(cla['england'], cla['unit'], cla['decimals'])}, comparator average {fmt(cla['comparators'], cla['unit'], cla['decimals'])})."
        )
    if strong:
        items = "; ".join(
            f"{_lower(d['short'])} {fmt(d['la'], d['unit'], d['decimals'])} against {fmt(d['england'], d['unit'], d['decimals'])} "
            f"({'higher' if d['flag'].startswith('above') else 'lower'})"
            for d in strong
        )
        out.append(
            f"{la_name} is significantly different from England on {len(strong)} of the {len(tested)} measures tested with funnel plots: {items}."
        )
    elif tested:
        far = [
            d
            for d in tested
            if isinstance(d.get("la"), (int, float))
            and isinstance(d.get("england"), (int, float))
            and d["england"] > 0
            and not 1 / 1.5 < d["la"] / d["england"] < 1.5
        ]
        note = (
            " Within the limits does not mean close to England: the limits are widened for how much LAs really differ "
            "from one another, so a figure far from England's can still be inside them ("
            + "; ".join(f"{_lower(d['short'])} {d['la'] / d['england']:.1f} times England's" for d in far)
            + "). It means no more unusual than LAs commonly are."
            if far
            else ""
        )
        out.append(
            f"None of the {len(tested)} measures tested with funnel plots puts {la_name} outside England's 99.8% limits, "
            "once the normal variation between LAs is allowed for." + note
        )
    else:
        out.append(
            f"No measure could be tested with funnel plots for {la_name}: its published figures are suppressed (fewer than "
            "5 children) or not published, so it is not compared with England's limits."
        )
    if watch:
        out.append(
            "Worth watching (outside the 95% limits only): "
            + "; ".join(
                f"{_lower(d['short'])} ({fmt(d['la'], d['unit'], d['decimals'])} against {fmt(d['england'], d['unit'], d['decimals'])} for England)"
                for d in watch
            )
            + "."
        )
    ratios = []
    for d in details.values():
        la, eng = d["la"], d["england"]
        if isinstance(la, (int, float)) and isinstance(eng, (int, float)) and la > 0 and eng > 0:
            ratios.append((abs(np.log(la / eng)), d))
    ratios.sort(key=lambda t: t[0], reverse=True)
    if ratios:
        parts = []
        for _, d in ratios[:3]:
            r = d["la"] / d["england"]
            how = (
                f"{r:.1f} times England's"
                if r >= 1.5
                else f"{(r - 1) * 100:.0f}% above England's"
                if r > 1
                else f"{(1 - r) * 100:.0f}% below England's"
            )
            parts.append(f"{_lower(d['short'])} ({fmt(d['la'], d['unit'], d['decimals'])}, {how})")
        out.append("Largest differences from England: " + "; ".join(parts) + ".")
    top = [_lower(d["short"]) for d in details.values() if d["rank"] and d["ranked"] and d["rank"] <= d["ranked"] / 4]
    bottom = [_lower(d["short"]) for d in details.values() if d["rank"] and d["ranked"] and d["rank"] > d["ranked"] * 3 / 4]
    if top:
        out.append(f"Among the highest quarter of LAs: {', '.join(top)}.")
    if bottom:
        out.append(f"Among the lowest quarter of LAs: {', '.join(bottom)}.")
    edge = [details[m] for m in ("cin_rate", "cpp_rate", "referrals_rate") if m in details and not isinstance(details[m]["la"], str)]
    if edge:
        out.append(
            "Edge of care: "
            + "; ".join(
                f"{_lower(d['short']).replace(', per 10,000', '')} {fmt(d['la'], d['unit'], d['decimals'])} in {d['year']} (England {fmt(d['england'], d['unit'], d['decimals'])}, "
                f"comparator average {fmt(d['comparators'], d['unit'], d['decimals'])})"
                for d in edge
            )
            + "."
        )
    leavers = [details[m] for m in ("cl_eet_19_21_pct", "cl_suitable_19_21_pct") if m in details and not isinstance(details[m]["la"], str)]
    if leavers:
        out.append(
            "Care leavers aged 19-21: "
            + "; ".join(
                f"{fmt(d['la'], '%')} {'in education, employment or training' if 'eet' in d['measure'] else 'in suitable accommodation'} "
                f"(England {fmt(d['england'], '%')}, comparator average {fmt(d['comparators'], '%')})"
                for d in leavers
            )
            + f" in {leavers[0]['year']}."
        )
    share = details.get("residential_spend_share")
    if share and not isinstance(share["la"], str):
        out.append(
            f"Residential care took {fmt(share['la'], '%')} of net spend on children looked after in {share['year'] - 1}-{str(share['year'])[2:]} "
            f"(England {fmt(share['england'], '%')}, comparator average {fmt(share['comparators'], '%')})."
        )
    money = details.get("spend_per_child")
    if money and not isinstance(money["la"], str):
        out.append(
            f"Net spend per child looked after in {money['year']} was {fmt(money['la'], '£')} ({_position(money['rank'], money['ranked'])} of {money['ranked']} LAs), "
            f"against {fmt(money['england'], '£')} for England and {fmt(money['comparators'], '£')} for the comparator average."
        )
    return out


def headline_metrics(details: dict[str, dict]) -> dict[str, dict]:
    """Machine-readable headline figures (for metrics.json): one record per measure."""

    def num(v: object) -> object:
        return float(v) if isinstance(v, (int, float, np.floating)) and not pd.isna(v) else v

    return {
        mid: {
            "label": d["label"],
            "unit": d["unit"],
            "year": int(d["year"]),
            "la": num(d["la"]),
            "comparators": num(d["comparators"]),
            "comparators_n": d["comparators_n"],
            "region": num(d["region"]),
            "england": num(d["england"]),
            "rank": d["rank"],
            "ranked": d["ranked"],
            "flag": d["flag"] or None,
            "count": num(d.get("count")),
        }
        for mid, d in details.items()
    }


# --- what the notebook shows ---------------------------------------------------------------------
TREND_PANELS = ("cla_rate", "starts_rate", "ceased_rate", "foster_pct", "homes_pct", "outside_pct", "over20_pct", "three_plus_pct", "stability_pct")
RANKED_PANELS = ("cla_rate", "outside_pct", "three_plus_pct", "spend_per_child")
MIX_CATEGORIES = (
    ("foster_pct", "Foster care"),
    ("homes_pct", "Secure units and children's homes"),
    ("supported_pct", "Independent/semi-independent living"),
    ("parents_pct", "Placed with parents"),
    ("other_pct", "Other (adoption, residential schools, other)"),
)


def comparator_names(inputs: Inputs, settings: Settings) -> list[str]:
    names = inputs.lookup.drop_duplicates("la_code").set_index("la_code")["la_name"]
    return [str(names.get(c, c)) for c in settings.comparator_codes]


def report_context(inputs: Inputs, settings: Settings) -> dict:
    """Who and what the report is about, for metrics.json and the workbook's About sheet."""
    return {
        "la_code": settings.la_code,
        "la_name": settings.la_name,
        "old_la_code": str(settings.la["old_la_code"]),
        "region": str(settings.la["region_name"]),
        "comparator": settings.comparator_label,
        "comparator_las": ", ".join(comparator_names(inputs, settings)),
        "years": f"{settings.first_year}-{settings.last_year}",
        "data_vintage": {
            "DfE children looked after (latest year at 31 March)": int(inputs.la_indicators["year"].max()),
            "RO3 spend (latest financial year)": str(inputs.ro3["financial_year"].max()),
            "Ofsted children's homes (latest year at 31 March)": int(inputs.ofsted["year"].max()),
        },
    }


def findings_markdown(details: dict[str, dict], settings: Settings, panel: pd.DataFrame) -> str:
    """The plain-English findings, written from the numbers, as Markdown."""
    lines = [f"- {t}" for t in key_findings(details, settings.la_name)]
    lines.append("")
    lines.append("**Measure by measure** (latest year published; comparisons with England use funnel-plot limits):")
    lines.append("")
    for topic in dict.fromkeys(m.topic for m in MEASURES):
        lines.append(f"*{topic}*")
        lines.append("")
        for m in MEASURES:
            if m.topic == topic and m.id in details:
                lines.append(f"- {measure_sentence(details[m.id], settings.la_name, settings.comparator_label)}")
        lines.append("")
    return "\n".join(lines)


def trend_findings(panel: pd.DataFrame, settings: Settings, measures: tuple[str, ...] = TREND_PANELS) -> str:
    sentences = [trend_sentence(panel, settings, MEASURE_BY_ID[mid]) for mid in measures]
    return "\n".join(f"- {s}" for s in sentences if s)


def trend_title(panel: pd.DataFrame, settings: Settings) -> str:
    """A title that states the headline trend: the looked-after rate against England."""
    s = panel[
        (panel["measure"] == "cla_rate")
        & panel["area_code"].isin([settings.la_code, ENGLAND])
        & (panel["year"] <= settings.last_year)
        & panel["value"].notna()
    ]
    la = s[s["area_code"] == settings.la_code].sort_values("year")
    eng = s[s["area_code"] == ENGLAND].set_index("year")["value"]
    if la.empty or la["year"].iloc[-1] not in eng.index:
        return f"{settings.la_name}: trends against comparators, region and England"
    year, value = int(la["year"].iloc[-1]), float(la["value"].iloc[-1])
    ratio = value / float(eng[year]) if eng[year] else float("nan")
    if ratio > 1.1:
        where = f"{ratio:.1f} times the England rate" if ratio >= 1.5 else "above the England rate"
    elif ratio < 0.9:
        where = "below the England rate"
    else:
        where = "close to the England rate"
    return f"{settings.la_name} looked after {value:,.0f} children per 10,000 in {year}, {where}"


def funnel_specs(panel: pd.DataFrame, settings: Settings, details: dict[str, dict]) -> list[dict]:
    """Inputs for :func:`analysis.report.charts.funnel_panels`, one per measure with a funnel."""
    specs = []
    for m in MEASURES:
        if not m.funnel or m.id not in details:
            continue
        f = details[m.id].get("funnel") or funnel_units(panel, m, details[m.id]["year"], settings.la_code)
        if f is None:
            continue
        units, theta, disp = f
        specs.append(
            {  # published LA figures (DfE's own suppression applies), gated so the chart may draw them
                "measure": m.id,
                "units": gate(units, counts=[]),
                "theta": theta * m.scale,
                "kind": "rate" if m.kind == "rate" else "proportion",
                "scale": m.scale,
                "tau2": disp.tau2,
                "short": f"{m.short} ({details[m.id]['year']})",
                "unit": m.unit,
                "x_label": m.x_label,
                "dispersion": disp,
            }
        )
    return specs


def funnel_title(details: dict[str, dict], settings: Settings) -> str:
    high = sum(d["flag"] == "above 99.8%" for d in details.values())
    low = sum(d["flag"] == "below 99.8%" for d in details.values())
    warn = sum(d["flag"] in ("above 95%", "below 95%") for d in details.values())
    if high or low:
        return f"{settings.la_name} is outside England's 99.8% limits on {high + low} measure(s)"
    if warn:
        return f"{settings.la_name} is within England's 99.8% limits on every measure, outside the 95% limits on {warn}"
    return f"{settings.la_name} is within England's funnel limits on every measure tested"


def funnel_notes(specs: list[dict], settings: Settings) -> pd.DataFrame:
    """Per funnel: England target, LAs plotted, the over-dispersion test and the LA's position."""
    rows = []
    for s in specs:
        units = s["units"].frame
        me = units[units["is_la"].astype(bool)]
        disp = s["dispersion"]
        rows.append(
            {
                "Measure": s["short"],
                "England": round(s["theta"], 1),
                "LAs plotted": len(units),
                "Over-dispersed?": (
                    f"yes (phi = {disp.phi:.1f}): limits widened"
                    if disp.overdispersed
                    else f"no (phi = {disp.phi:.2f}): exact limits"
                    if disp.k >= 3
                    else "too few LAs to test"
                ),
                settings.la_name: flag_text(str(me["flag"].iloc[0]), MEASURE_BY_ID[s["measure"]]) if not me.empty else "not published",
            }
        )
    return pd.DataFrame(rows)


def ranked_specs(panel: pd.DataFrame, settings: Settings, details: dict[str, dict]) -> list[dict]:
    specs = []
    for mid in RANKED_PANELS:
        if mid not in details:
            continue
        d = details[mid]
        england = d["england"] if not isinstance(d["england"], str) else np.nan
        specs.append(
            {
                "data": gate(comparator_values(panel, settings, mid, d["year"]), counts=[]),
                "england": england,
                "short": f"{MEASURE_BY_ID[mid].short} ({d['year']})",
                "unit": MEASURE_BY_ID[mid].unit,
            }
        )
    return specs


def ranked_title(details: dict[str, dict], settings: Settings) -> str:
    d = details.get("cla_rate")
    if not d or not d["comparator_rank"]:
        return f"{settings.la_name} among its comparator group"
    return f"{settings.la_name} has {_position(d['comparator_rank'], d['comparator_ranked'])} looked-after rate of the {d['comparator_ranked']} LAs in its comparator group"


def mix_title(mix: pd.DataFrame, settings: Settings) -> str:
    la, eng = mix.iloc[0], mix[mix["area"] == "England"].iloc[0]
    if pd.isna(la["foster_pct"]) or pd.isna(eng["foster_pct"]):
        return f"Where {settings.la_name}'s children live, against comparators, region and England"
    diff = float(la["foster_pct"]) - float(eng["foster_pct"])
    side = "more" if diff > 0 else "fewer"
    if abs(diff) < 1:
        return f"{settings.la_name} places the same share of children in foster care as England ({la['foster_pct']:.0f}%)"
    return f"{settings.la_name} places {side} children in foster care than England ({la['foster_pct']:.0f}% against {eng['foster_pct']:.0f}%)"


# --- priming -------------------------------------------------------------------------------------
def prime() -> None:
    """Read what every LA's job reads (the published tables and the panel, kept by
    :mod:`analysis.io.memo`), so kernels forked from a primed parent (:mod:`analysis.run.kernels`)
    start with them in memory. Writes nothing; quiet when the tables are not there yet (the job then
    says what is missing)."""
    try:
        load_panel(Inputs.load())
    except InputError:
        return
