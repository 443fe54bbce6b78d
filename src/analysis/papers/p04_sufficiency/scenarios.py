"""Scenario levers and placement costs for paper 04's demand forecast.

**Levers** change the stock-and-flow model's monthly rates (:class:`analysis.stats.forecast.Rates`) by
age band and placement group, as parameters or a small YAML file::

    scenarios:
      - name: Edge-of-care service for teenagers
        entries:      [{band: "10 to 15", group: all, change_pct: -15}]
      - name: More children return home from fostering
        exits:        [{band: all, group: fostering, change_pct: 10}]
      - name: Fewer moves into children's homes
        moves:        [{band: all, from: all, to: "children's home", change_pct: -20, instead: fostering}]
      - name: Ten more UASC aged 16 and 17 a year
        entry_numbers: [{band: "16 and 17", group: supported, per_year: 10}]
    unit_costs:                      # optional: pounds a week, in price_base prices
      private_childrens_home: 5800

``band`` is one of :data:`analysis.stats.forecast.BANDS` or ``all``; ``group`` one of
:data:`analysis.stats.forecast.GROUPS` or ``all``. ``entries``: new entries scaled by ``change_pct``;
``entry_numbers``: ``per_year`` more (or fewer) entries a year, spread evenly over the band's ages
and months; ``shift_entries``: ``share_pct`` of new entries into group ``from`` placed in ``to`` instead; ``exits``: the monthly chance of leaving care scaled; ``moves``: the monthly chance of
moving from one group to another scaled, the difference going to ``instead`` (default: staying
where they are). Each scenario's changes apply together from the forecast's start.

**Costs**: nine placement types (:data:`TYPES`), each group's children split between them as at the
last 31 March, costed per day from the LA's own placement cost file where it has one, otherwise
from ``analysis/io/unit_costs.yaml`` (the one source papers 03 and 04 share) (published figures with their source and price year, uprated by the
stated index to the price base).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from analysis.errors import ParameterError
from analysis.io import unit_costs
from analysis.stats import forecast as fc

TYPES = (
    "inhouse_fostering",
    "ifa_fostering",
    "kinship_fostering",
    "la_childrens_home",
    "private_childrens_home",
    "secure",
    "supported",
    "with_parents",
    "other",
)
#: the forecast group each placement type belongs to
GROUP_OF_TYPE = {
    "inhouse_fostering": "fostering",
    "ifa_fostering": "fostering",
    "kinship_fostering": "fostering",
    "la_childrens_home": "children's home",
    "private_childrens_home": "children's home",
    "secure": "children's home",
    "supported": "supported",
    "with_parents": "other",
    "other": "other",
}
LEVERS = ("entries", "entry_numbers", "shift_entries", "exits", "moves")
BAND_NAMES = [b for b, _, _ in fc.BANDS]


@dataclass
class Scenario:
    name: str
    levers: dict[str, list[dict]]

    def apply(self, r: fc.Rates) -> fc.Rates:
        """The rates with this scenario's levers applied (a new :class:`Rates`)."""
        return apply_levers(r, self.levers)


def _bands(v: str) -> list[int]:
    return list(range(fc.B)) if v == "all" else [BAND_NAMES.index(v)]


def _groups(v: str) -> list[int]:
    return list(range(fc.G)) if v == "all" else [fc.GROUPS.index(v)]


def apply_levers(r: fc.Rates, levers: dict[str, list[dict]]) -> fc.Rates:
    entry, hazard, move = r.entry.copy(), r.exit_hazard.copy(), r.move.copy()
    for lv in levers.get("entries", []):
        f = 1 + lv["change_pct"] / 100
        for b in _bands(lv.get("band", "all")):
            lo, hi = fc.BANDS[b][1], fc.BANDS[b][2]
            for g in _groups(lv.get("group", "all")):
                entry[lo:hi, g] *= f
    for lv in levers.get("entry_numbers", []):
        bands, groups = _bands(lv.get("band", "all")), _groups(lv.get("group", "all"))
        ages = [a for b in bands for a in range(fc.BANDS[b][1], fc.BANDS[b][2])]
        per_cell = lv["per_year"] / 12 / (len(ages) * len(groups))
        for a in ages:
            for g in groups:
                entry[a, g] = max(0.0, entry[a, g] + per_cell)
    for lv in levers.get("shift_entries", []):
        a, b = fc.GROUPS.index(lv["from"]), fc.GROUPS.index(lv["to"])
        moved = entry[:, a] * lv["share_pct"] / 100
        entry[:, a] -= moved
        entry[:, b] += moved
    for lv in levers.get("exits", []):
        for b in _bands(lv.get("band", "all")):
            for g in _groups(lv.get("group", "all")):
                hazard[b, g] = min(1.0, hazard[b, g] * (1 + lv["change_pct"] / 100))
    for lv in levers.get("moves", []):
        to = fc.GROUPS.index(lv["to"])
        for b in _bands(lv.get("band", "all")):
            for g in _groups(lv.get("from", "all")):
                if g == to:
                    continue
                instead = fc.GROUPS.index(lv["instead"]) if lv.get("instead") else g
                new = min(1.0, move[b, g, to] * (1 + lv["change_pct"] / 100))
                diff = new - move[b, g, to]
                diff = min(diff, move[b, g, instead])  # a rise is taken from staying (or ``instead``), never below 0
                move[b, g, to] += diff
                move[b, g, instead] -= diff
    return fc.Rates(hazard, move, entry)


def from_parameters(fewer_entries_pct: float, faster_exits_pct: float, shift_to_fostering_pct: float) -> list[Scenario]:
    """The pack's three built-in scenarios, as levers."""
    return [
        Scenario(f"{fewer_entries_pct:g}% fewer entries", {"entries": [{"band": "all", "group": "all", "change_pct": -fewer_entries_pct}]}),
        Scenario(f"{faster_exits_pct:g}% faster exits", {"exits": [{"band": "all", "group": "all", "change_pct": faster_exits_pct}]}),
        Scenario(
            f"{shift_to_fostering_pct:g}% of new children's home placements to fostering",
            {
                "moves": [{"band": "all", "from": "all", "to": "children's home", "change_pct": -shift_to_fostering_pct, "instead": "fostering"}],
                "shift_entries": [{"from": "children's home", "to": "fostering", "share_pct": shift_to_fostering_pct}],
            },
        ),
    ]


def rates_function(s: Scenario):
    """A function from base rates to this scenario's rates (for :func:`analysis.stats.forecast.fit_and_project`)."""
    return lambda r: apply_levers(r, s.levers)


def _check_lever(kind: str, lv: object, where: str) -> dict:
    if not isinstance(lv, dict):
        raise ParameterError(f"{where}: each {kind} lever should be a mapping, got {lv!r}")
    band = lv.get("band", "all")
    if band != "all" and band not in BAND_NAMES:
        raise ParameterError(f"{where}: band {band!r} should be 'all' or one of {', '.join(BAND_NAMES)}")
    for key in ("group", "from", "to", "instead"):
        if key in lv and lv[key] != "all" and lv[key] not in fc.GROUPS:
            raise ParameterError(f"{where}: {key} {lv[key]!r} should be 'all' or one of {', '.join(fc.GROUPS)}")
    need = {"entries": "change_pct", "exits": "change_pct", "moves": "change_pct", "entry_numbers": "per_year", "shift_entries": "share_pct"}[kind]
    if not isinstance(lv.get(need), (int, float)) or isinstance(lv.get(need), bool):
        raise ParameterError(f"{where}: a {kind} lever needs a number '{need}', got {lv.get(need)!r}")
    if need == "change_pct" and not -100 <= lv[need] <= 500:
        raise ParameterError(f"{where}: change_pct should be -100 to 500, got {lv[need]}")
    if kind == "shift_entries" and not (lv.get("from", "all") != "all" and lv.get("to", "all") != "all" and 0 <= lv[need] <= 100):
        raise ParameterError(f"{where}: a shift_entries lever needs 'from' and 'to' groups and a share_pct from 0 to 100")
    if kind == "moves" and lv.get("to", "all") == "all":
        raise ParameterError(f"{where}: a moves lever needs 'to': the group the moves go into")
    return lv


def load(path: str | Path) -> tuple[list[Scenario], dict[str, float]]:
    """Scenarios and unit-cost overrides from a YAML file, checked: an unknown lever, band, group or
    cost type is one error naming the file and the scenario."""
    path = Path(path)
    if not path.exists():
        raise ParameterError(f"scenario file {path} not found")
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ParameterError(f"{path}: not valid YAML ({e})") from None
    if not isinstance(doc, dict) or not set(doc) <= {"scenarios", "unit_costs"}:
        raise ParameterError(f"{path}: expected the keys 'scenarios' and/or 'unit_costs'")
    out = []
    for i, sc in enumerate(doc.get("scenarios") or [], start=1):
        where = f"{path}, scenario {i}"
        if not isinstance(sc, dict) or not isinstance(sc.get("name"), str):
            raise ParameterError(f"{where}: each scenario needs a 'name'")
        where = f"{path}, scenario {sc['name']!r}"
        unknown = set(sc) - {"name", *LEVERS}
        if unknown:
            raise ParameterError(f"{where}: unknown lever(s) {', '.join(sorted(unknown))}; levers are {', '.join(LEVERS)}")
        out.append(Scenario(sc["name"], {k: [_check_lever(k, lv, where) for lv in (sc.get(k) or [])] for k in LEVERS}))
    costs = doc.get("unit_costs") or {}
    bad = set(costs) - set(TYPES)
    if bad:
        raise ParameterError(f"{path}: unknown placement type(s) in unit_costs: {', '.join(sorted(bad))}; types are {', '.join(TYPES)}")
    for k, v in costs.items():
        if not isinstance(v, (int, float)) or v < 0:
            raise ParameterError(f"{path}: unit_costs {k} should be pounds a week (a number, 0 or more), got {v!r}")
    return out, {k: float(v) for k, v in costs.items()}


# --- costs ---------------------------------------------------------------------------------------------
def unit_cost_table(overrides: dict[str, float] | None = None, own: dict[str, float] | None = None) -> pd.DataFrame:
    """The cost a week and a day of each placement type in price-base prices: the LA's own average
    (``own``) where given, else an analyst's override, else the published figure uprated by the
    index (:mod:`analysis.io.unit_costs`, the one source papers 03 and 04 share). Columns: label, weekly,
    daily, basis, published_weekly, price_year, uprating_factor, source, type (the key)."""
    base = unit_costs.price_base()
    rows = []
    for t in TYPES:
        u = unit_costs.cost(t)
        weekly, basis = u.weekly, f"published ({u.price_year} prices) uprated by CPI to {base}"
        if u.stand_in:
            basis = "stand-in: " + basis
        if overrides and t in overrides:
            weekly, basis = overrides[t], "set in the scenario file"
        if own and t in own:
            weekly, basis = own[t], "the LA's own placement costs (at the last 31 March)"
        rows.append(
            {
                "label": u.label,
                "weekly": round(weekly, 0),
                "daily": round(weekly / 7, 2),
                "basis": basis,
                "published_weekly": u.published_weekly,
                "price_year": u.price_year,
                "uprating_factor": round(u.factor, 3),
                "source": u.source,
                "type": t,
            }
        )
    return pd.DataFrame(rows)


def index_note(table: pd.DataFrame | None = None) -> str:
    """The uprating index, and (given the unit-cost table used) any figure that runs against the published evidence."""
    checks = unit_costs.sense_checks(dict(zip(table["type"], table["weekly"]))) if table is not None else []
    return " ".join([unit_costs.index_note(), *checks])


def type_of_placement(place: pd.Series, provider_group: pd.Series, place_group: pd.Series) -> pd.Series:
    """Each 903 placement's costing type, from its placement code, provider and group."""
    g = place_group.astype(str)
    prov = provider_group.astype(str)
    out = np.select(
        [
            g == "kinship foster",
            (g == "foster") & (prov == "own LA"),
            g == "foster",
            place.astype(str).isin(["K1"]) | (g == "secure"),
            (g == "children's home") & (prov == "own LA"),
            g == "children's home",
            g == "independent or supported",
            g == "with parents",
        ],
        [
            "kinship_fostering",
            "inhouse_fostering",
            "ifa_fostering",
            "secure",
            "la_childrens_home",
            "private_childrens_home",
            "supported",
            "with_parents",
        ],
        default="other",
    )
    return pd.Series(out, index=place.index)


def type_shares(types: pd.Series) -> pd.DataFrame:
    """Within each forecast group, the share of children in each type (group x type)."""
    t = pd.Series(types).value_counts()
    shares = pd.DataFrame(0.0, index=list(fc.GROUPS), columns=list(TYPES))
    for typ, n in t.items():
        shares.at[GROUP_OF_TYPE[typ], typ] += n
    totals = shares.sum(axis=1)
    for g in fc.GROUPS:  # a group with nobody in it now: its default type
        if totals[g] == 0:
            shares.at[
                g, {"fostering": "inhouse_fostering", "children's home": "private_childrens_home", "supported": "supported", "other": "other"}[g]
            ] = 1.0
    return shares.div(shares.sum(axis=1), axis=0)


def annual_costs(forecast: fc.Forecast, shares: pd.DataFrame, costs: pd.DataFrame) -> pd.DataFrame:
    """Children and annual cost by year and placement type: the forecast's children at 31 March by
    group x the type shares x cost a day x 365.25 (a year at that level)."""
    daily = costs.set_index("type")["daily"]
    rows = []
    for y in forecast.years:
        g = forecast.by_group[forecast.by_group["year"] == y].set_index("group")["mean"]
        for t in TYPES:
            n = float(g.get(GROUP_OF_TYPE[t], 0.0) * shares.at[GROUP_OF_TYPE[t], t])
            rows.append({"year": int(y), "type": t, "children": n, "annual_cost_gbp": n * float(daily[t]) * 365.25})
    return pd.DataFrame(rows)
