"""Paper 01's inputs: the parameters checked (Settings, setup), the comparator group, and the long panel of
published measures by area and year built once from data/processed/public (Data, load_panel)."""

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
class Data:
    la_indicators: pd.DataFrame
    lookup: pd.DataFrame
    neighbours: pd.DataFrame
    ro3: pd.DataFrame
    ofsted: pd.DataFrame
    population: pd.DataFrame

    @classmethod
    def load(cls, p: Paths | None = None) -> Data:
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
    inputs: Data,
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


def _spend_measures(inputs: Data, li: Groups) -> list[pd.DataFrame]:
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


def _places_measure(inputs: Data, li: Groups) -> pd.DataFrame:
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


def build_panel(inputs: Data) -> pd.DataFrame:
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


def load_panel(inputs: Data, p: Paths | None = None) -> pd.DataFrame:
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


def comparator_names(inputs: Data, settings: Settings) -> list[str]:
    names = inputs.lookup.drop_duplicates("la_code").set_index("la_code")["la_name"]
    return [str(names.get(c, c)) for c in settings.comparator_codes]
