"""The indicator vocabulary: how published labels and columns map to stable indicator ids.

DfE changes labels, apostrophes and column names between publications; the papers should not
have to care. Every published label or wide-file column that the project reads is listed here
once, with the id it becomes. A label that is not listed is set aside at ingest with the reason
"unrecognised label", so a new publication that renames a category is noticed, not dropped.

Ids are grouped by prefix: ``placement_``, ``provider_``, ``locality_``, ``distance_``, ``age_``,
``sex_``, ``ethnicity_``, ``legal_``, ``need_``, ``uasc_`` (children looked after at 31 March by
characteristic), ``new_placements_`` and ``placement_change_`` (during the year), ``missing_`` and
``away_`` (missing or away from placement without authorisation).

Measures: ``number`` (children or events), ``percent`` (as published, whole numbers),
``rate_per_10000`` (children aged 0-17), ``population`` (the 0-17 population DfE used),
``average`` (incidents per child).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml

from analysis.errors import InputError


def label_key(label: str) -> str:
    """Normalise a published label: case, apostrophes, 'on/at 31 March', spacing, numbering."""
    key = str(label).strip().lower()
    key = key.replace("\u2019", "'").replace("'", "")
    key = re.sub(r"^\d+\.\s*", "", key)
    key = key.replace(" on 31 march", " at 31 march")
    key = re.sub(r"\s+", " ", key)
    return key


INDICATORS_FILE = Path(__file__).with_name("indicators.yaml")

#: what a measure's kind means: unit, decimals shown, scale of numerator / denominator
KINDS = {"rate": ("per 10,000", 0, 10_000.0), "ratio": ("per 10,000", 1, 10_000.0), "proportion": ("%", 0, 100.0), "money": ("£", 0, 1.0)}
#: measures calculated in paper 01 from other published sources than the indicators
SOURCES = ("ro3", "ofsted")
_MEASURE_KEYS = {"label", "short", "kind", "topic", "x_label", "better", "funnel", "numerator", "denominator", "published", "source", "pack"}
_TABLES = ("cla_numbers", "stability", "new_placements", "net_gain", "missing", "characteristics", "sfr", "csc", "care_leavers")


@dataclass(frozen=True)
class Measure:
    """A measure the papers compare across LAs (declared in ``indicators.yaml``, ``measures``)."""

    id: str
    label: str
    short: str
    kind: str  # "rate" (per 10,000), "proportion" (%), "money" (£), "ratio" (per 10,000, one decimal)
    topic: str
    x_label: str = ""
    better: str | None = None  # "higher", "lower" or None where neither is better in itself
    funnel: bool = True
    numerator: tuple[str, str] | None = None  # (indicator, measure) in la_indicators
    denominator: tuple[str, str] | None = None
    published: tuple[str, str] | None = None
    source: str | None = None  # "ro3" or "ofsted": calculated in paper 01, not from la_indicators
    pack: str | None = None  # its label in the sufficiency pack's headline table

    @property
    def unit(self) -> str:
        return KINDS[self.kind][0]

    @property
    def decimals(self) -> int:
        return KINDS[self.kind][1]

    @property
    def scale(self) -> float:
        return KINDS[self.kind][2]


def _read(path: Path = INDICATORS_FILE) -> dict:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise InputError(f"cannot read the indicator declarations: {exc}", path) from exc
    for key in ("measures", "indicators", "characteristic_groups", "sfr_column_renames", "sfr_id_columns"):
        if not isinstance(doc, dict) or key not in doc:
            raise InputError(f"expected a top-level '{key}:' section", path)
    return doc


def _pair(path: Path, mid: str, key: str, value: object, known: set[str]) -> tuple[str, str]:
    parts = str(value).split("/")
    if len(parts) != 2 or parts[1] not in ("number", "percent", "rate_per_10000", "population", "denominator", "average"):
        raise InputError(f"measure {mid}: {key} should be indicator/measure (e.g. cla_31_march/number), got {value!r}", path)
    if parts[0] not in known:
        raise InputError(f"measure {mid}: {key} names indicator '{parts[0]}', which is not declared under 'indicators'", path)
    return parts[0], parts[1]


def read_measures(doc: dict, path: Path = INDICATORS_FILE) -> tuple[Measure, ...]:
    """The declared measures, checked: a bad entry names the file, the measure and the key."""
    known = set(doc["indicators"]) | {f"{g['prefix']}_total" for g in doc["characteristic_groups"]}
    out = []
    for mid, e in (doc["measures"] or {}).items():
        if not isinstance(e, dict):
            raise InputError(f"measure {mid}: expected a mapping", path)
        unknown = set(e) - _MEASURE_KEYS
        if unknown:
            raise InputError(f"measure {mid}: unknown keys {sorted(unknown)} (keys: {', '.join(sorted(_MEASURE_KEYS))})", path)
        for key in ("label", "short", "kind", "topic"):
            if not str(e.get(key) or "").strip():
                raise InputError(f"measure {mid}: '{key}' is missing", path)
        if e["kind"] not in KINDS:
            raise InputError(f"measure {mid}: kind '{e['kind']}' is not one of {', '.join(KINDS)}", path)
        if e.get("better") not in (None, "higher", "lower"):
            raise InputError(f"measure {mid}: better should be higher or lower, got {e['better']!r}", path)
        triple = [e.get(k) for k in ("numerator", "denominator", "published")]
        if e.get("source") is not None:
            if e["source"] not in SOURCES or any(triple):
                raise InputError(f"measure {mid}: source should be one of {', '.join(SOURCES)}, without numerator/denominator/published", path)
        elif not (triple[0] and triple[1]):
            raise InputError(f"measure {mid}: give numerator and denominator (and published, where DfE publishes the value), or a source", path)
        pairs = [_pair(path, mid, k, v, known) if v else None for k, v in zip(("numerator", "denominator", "published"), triple)]
        out.append(
            Measure(
                str(mid),
                str(e["label"]),
                str(e["short"]),
                e["kind"],
                str(e["topic"]),
                str(e.get("x_label") or ""),
                e.get("better"),
                bool(e.get("funnel", True)),
                *pairs,
                e.get("source"),
                e.get("pack"),
            )
        )
    return tuple(out)


def _vocabulary(doc: dict) -> dict:
    """The label -> indicator maps ingest uses, built from the per-indicator declarations."""
    v: dict = {t: {} for t in ("cla_numbers", "stability", "new_placements", "net_gain", "missing", "characteristics", "sfr", "care_leavers")}
    v["csc"] = {}
    for ind, e in doc["indicators"].items():
        for t in set(e) - {"description", "denominator"} - set(_TABLES):
            raise InputError(f"indicator {ind}: unknown key '{t}' (tables: {', '.join(_TABLES)})", INDICATORS_FILE)
        for label in e.get("cla_numbers", ()):
            v["cla_numbers"][label_key(label)] = ind
        for x in e.get("stability", ()):
            v["stability"][(label_key(x["group"]), label_key(x["characteristic"]))] = (ind, x["role"])
        for x in e.get("new_placements", ()):
            v["new_placements"].setdefault(label_key(x["group"]), {})[label_key(x["characteristic"])] = ind
        for label in e.get("net_gain", ()):
            v["net_gain"][label_key(label)] = ind
        for x in e.get("missing", ()):
            v["missing"][label_key(x["label"])] = (ind, x["measure"])
        for label in e.get("characteristics", ()):
            v["characteristics"][label_key(label)] = ind
        for column in e.get("sfr", ()):
            v["sfr"][column] = ind
        for x in e.get("csc", ()):
            v["csc"].setdefault(x["file"], {})[x["column"]] = (ind, x["measure"])
        for x in e.get("care_leavers", ()):
            v["care_leavers"][(label_key(x["age"]), label_key(x["breakdown"]))] = (ind, x["role"])
    return v


_DOC = _read()
_V = _vocabulary(_DOC)

#: every measure paper 01 compares, in order (the sufficiency pack shows those with a ``pack`` label)
MEASURES: tuple[Measure, ...] = read_measures(_DOC)

# --- the maps ingest reads, by table (keys normalised with label_key) ----------------------------
CLA_NUMBERS: dict[str, str] = _V["cla_numbers"]
#: placement stability: (cla_group, characteristic) -> (indicator, measure role)
STABILITY: dict[tuple[str, str], tuple[str, str]] = _V["stability"]
#: new placements (location) and reasons for placement change: group -> characteristic -> indicator
NEW_PLACEMENT_GROUPS: dict[str, dict[str, str]] = _V["new_placements"]
NET_GAIN: dict[str, str] = _V["net_gain"]
#: missing or away from placement: label -> (indicator, measure)
MISSING: dict[str, tuple[str, str]] = _V["missing"]
#: CLA at 31 March by characteristic: group label -> indicator prefix, and characteristic -> indicator
CHARACTERISTIC_GROUPS: dict[str, str] = {label_key(g["label"]): g["prefix"] for g in _DOC["characteristic_groups"]}
CHARACTERISTICS: dict[str, str] = _V["characteristics"]
#: SFR 2015-2017 wide files: column (the year written YYYY) -> indicator (measure is always "number")
SFR_COLUMNS: dict[str, str] = _V["sfr"]
#: columns renamed between the SFR files (handled here, in one place)
SFR_COLUMN_RENAMES: dict[str, str] = dict(_DOC["sfr_column_renames"])
SFR_ID_COLUMNS: set[str] = set(_DOC["sfr_id_columns"])
#: children's social care context wide files (children in need, referrals, child protection): file -> column -> (indicator, measure)
CSC_WIDE: dict[str, dict[str, tuple[str, str]]] = _V["csc"]
#: care leavers (activity and accommodation): (age, breakdown) -> (indicator, measure role)
CARE_LEAVERS: dict[tuple[str, str], tuple[str, str]] = _V["care_leavers"]
DESCRIPTIONS: dict[str, str] = {ind: e["description"] for ind, e in _DOC["indicators"].items() if e.get("description")}
_DENOMINATORS: dict[str, str | None] = {ind: e.get("denominator") for ind, e in _DOC["indicators"].items()}
_DENOMINATORS.update({f"{g['prefix']}_total": g.get("total_denominator") for g in _DOC["characteristic_groups"]})


def denominator_for(indicator: str) -> str | None:
    """The indicator that holds the denominator for a proportion, or None."""
    return _DENOMINATORS.get(indicator)


def catalogue() -> pd.DataFrame:
    """One row per indicator id: topic, description, denominator."""
    rows = {}

    def add(ind: str, topic: str, label: str) -> None:
        rows.setdefault(ind, {"indicator": ind, "topic": topic, "label": label})

    for k, v in CLA_NUMBERS.items():
        add(v, "cla_numbers", k)
    for (_, cat), (ind, _) in STABILITY.items():
        add(ind, "placement_stability", cat)
    for group in NEW_PLACEMENT_GROUPS.values():
        for k, v in group.items():
            add(v, "new_placements", k)
    for k, v in NET_GAIN.items():
        add(v, "la_of_placement", k)
    for k, (ind, _) in MISSING.items():
        add(ind, "missing", k)
    for k, v in CHARACTERISTICS.items():
        add(v, "cla_31_march_characteristics", k)
    for col, ind in SFR_COLUMNS.items():
        add(ind, "sfr_2015_2017", col)
    for kind, cols in CSC_WIDE.items():
        for col, (ind, _) in cols.items():
            add(ind, f"csc_{kind}", col)
    for (age, b), (ind, _) in CARE_LEAVERS.items():
        add(ind, "care_leavers", f"{age}: {b}")
    for g in set(CHARACTERISTIC_GROUPS.values()):
        add(f"{g}_total", "cla_31_march_characteristics", f"total of the '{g}' breakdown")
    out = pd.DataFrame(sorted(rows.values(), key=lambda r: r["indicator"]))
    out["description"] = out["indicator"].map(DESCRIPTIONS).fillna(out["label"])
    out["denominator"] = out["indicator"].map(denominator_for)
    return out.astype("string")
