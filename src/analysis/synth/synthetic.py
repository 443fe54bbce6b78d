"""A synthetic SSDA903 for any LA, true to its published figures, with planted effects.

``analysis synth --la CODE --seed N --out DIR`` writes, for ten collection years, the CSV files an
LA exports (``YYYY-YY/header.csv``, ``episodes.csv``, ``uasc.csv``, ``missing.csv``, ``oc2.csv``),
a placement weekly-cost file (``costs/placement_costs.csv``), an ``LA_CODE`` file and
``truth.json``. Nothing in it is real child data; the postcodes are real (ONS Postcode Directory),
so derived distances are real distances.

How it is built (a microsimulation one year at a time, deterministic for a seed; see
:class:`Simulation`):

* **Targets** (:mod:`analysis.io.published_counts`): for every year 2015-2025, the published count at
  31 March, starts, ceased, and the count in every category of every characteristic DfE publishes
  at 31 March (age, sex, ethnicity, UASC, need, legal status, placement, provider, locality with
  distance).
* **Each year**: starts drawn toward what the stock lacks; placements run on two competing hazards
  (an unplanned ending, with the planted effects in ``truth.json``, and a planned move); exactly the
  published number stay, chosen by what is fixed about them; the rest leave on a day drawn
  independently (at 18 on the birthday; adopted when the order is made); the 31 March placement,
  provider, location and legal status are matched by relabelling a placement begun days before or
  by a planned move, and legal status changes are written as episodes.
* **Costs.** Weekly cost = base cost of the type and provider x exp(planted effects of being out
  of area, age and needs) x log-normal noise.

The move rate is tuned to the published share with 3+ placements; what was achieved is in
``truth.json``. Tests check every published figure for four LAs and the planted effects against a
Cox model on the generator's own covariates.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.config import Paths
from analysis.errors import AnalysisError
from analysis.io.costs import COST_COLUMNS
from analysis.io.published_counts import CHILD_DIMENSIONS, DIMENSIONS, EPISODE_DIMENSIONS, Targets, targets_for
from analysis.io.ssda903_rules import collection_year_of, provider_problem
from analysis.io.stock import GROUP_CATEGORY, LEGAL_CATEGORY, PROVIDER_CATEGORY
from analysis.progress import Progress

FIRST_YEAR, LAST_YEAR = 2016, 2025  # collection years written (2015-16 to 2024-25)
DAY = pd.Timedelta(days=1)

#: planted effects on the hazard of an unplanned ending (log hazard ratios, per unit)
BREAKDOWN_EFFECTS = {
    "age_10_15": 0.45,  # aged 10-15 at the start of the placement (against under 10)
    "age_16_plus": 0.30,  # aged 16-17
    "childrens_home": 0.55,  # children's home (against fostering)
    "supported": 0.25,  # independent / supported accommodation
    "kinship": -0.50,  # kinship foster care
    "over_20_miles": 0.35,  # placed more than 20 miles from home
    "outside_la": 0.20,  # placed outside the LA boundary
    "previous_moves": 0.12,  # per earlier placement in the period of care (capped at 5)
    "sdq_per_5_points": 0.18,  # per 5 points of the child's SDQ total difficulties score
}
#: planted effects on weekly cost (log scale)
COST_EFFECTS = {"outside_la": 0.12, "age_per_year_over_10": 0.02, "sdq_per_5_points": 0.05, "disability_n2": 0.25}
BASE_WEEKLY_COST = {  # £ a week by (group, provider group), before effects
    ("foster", "own"): 480,
    ("foster", "external"): 950,
    ("kinship foster", "own"): 330,
    ("kinship foster", "external"): 700,
    ("children's home", "own"): 4600,
    ("children's home", "external"): 5600,
    ("independent or supported", "own"): 1200,
    ("independent or supported", "external"): 1900,
    ("secure", "own"): 7800,
    ("secure", "external"): 8200,
    ("with parents", "own"): 60,
    ("adoption", "own"): 250,
    ("adoption", "external"): 650,
    ("other residential", "external"): 3800,
    ("residential school", "external"): 4200,
    ("other", "own"): 400,
    ("other", "external"): 900,
    ("other residential", "own"): 3400,
    ("residential school", "own"): 3900,
    ("custody", "own"): 400,
}


# --- postcodes --------------------------------------------------------------------------------------
@dataclass
class Places:
    inside: pd.DataFrame  # postcode, easting, northing (in the LA)
    around: pd.DataFrame  # postcodes in other LAs within 120 miles


def places_for(la_code: str, utla_of: dict[str, str], rng: np.random.Generator, cache: Path | None = None) -> Places:
    from analysis.io.geography import full_postcode_directory

    df = full_postcode_directory(cache)
    df = df[df["ltla"].str.startswith("E") & df["easting"].notna()]
    from analysis.io.geography import canonical_code

    # (codes that changed without the area changing, such as Barnsley's and Sheffield's in 2019, compare as one)
    utla = df["ltla"].map(lambda c: canonical_code(utla_of.get(c, c)))
    la_code = canonical_code(la_code)
    inside = df[utla == la_code]
    if inside.empty:
        raise AnalysisError(f"no postcodes found for {la_code} in the postcode directory")
    cx, cy = inside["easting"].mean(), inside["northing"].mean()
    dist = np.hypot(df["easting"] - cx, df["northing"] - cy) / 1609.3
    around = df[(utla != la_code) & (dist < 120)]
    pick = lambda d, n: d.iloc[np.sort(rng.choice(len(d), size=min(n, len(d)), replace=False))]  # noqa: E731

    def tidy(d: pd.DataFrame) -> pd.DataFrame:
        d = d[["postcode", "easting", "northing"]].reset_index(drop=True)
        compact = d["postcode"].astype(str)
        d["postcode"] = compact.str[:-3] + " " + compact.str[-3:]  # as LAs record them: TS23 3SQ
        return d

    return Places(tidy(pick(inside, 3000)), tidy(pick(around, 12000)))


# --- the simulation ----------------------------------------------------------------------------------
AGE_BANDS = {"under_1": (0, 1), "1_to_4": (1, 5), "5_to_9": (5, 10), "10_to_15": (10, 16), "16_and_over": (16, 18)}
#: placements settle: after the first year the hazards of ending fall to this fraction
SETTLED_AFTER_DAYS, SETTLED_FACTOR = 365, 0.3
#: DfE's published legal status categories -> the code the generator records
LEGAL_CODE = {
    "interim_care_order": "C1",
    "full_care_order": "C2",
    "placement_order": "E1",
    "section_20": "V2",
    "detained": "L2",
    "youth_justice": "J1",
}
PROVIDER_CODE = {k: v for v, k in PROVIDER_CATEGORY.items()}  # category -> code ("not_reported": blank)
ETHNIC_CODES = {
    "white": (["WBRI", "WOTH", "WIRI", "WROM"], [0.9, 0.07, 0.02, 0.01]),
    "mixed": (["MWBC", "MWBA", "MWAS", "MOTH"], [0.4, 0.15, 0.15, 0.3]),
    "asian": (["APKN", "ABAN", "AIND", "AOTH"], [0.35, 0.15, 0.1, 0.4]),
    "black": (["BAFR", "BCRB", "BOTH"], [0.6, 0.25, 0.15]),
    "other": (["OOTH", "CHNE"], [0.95, 0.05]),
    "not_known": (["NOBT", "REFU"], [0.7, 0.3]),
}
#: how much a child characteristic counts when choosing who stays at 31 March: age cannot be put
#: right afterwards, UASC only for older entrants; sex, ethnicity and need can be (for entrants)
SELECT_WEIGHT = {"age": 10.0, "uasc": 5.0, "sex": 1.0, "ethnicity": 3.0, "need": 2.0}
#: an adoptive placement ends with the adoption order (the child leaves care) after about this many days
ADOPTION_ORDER_DAYS = (150, 420)
DETAINED_DAYS = 3
#: a placement begun this long before 31 March or less may be relabelled in place (see _needs_move)
RELABEL_DAYS = 14
#: placement types that need no Ofsted URN (DfE rule 218)
NO_URN = frozenset(
    {"P1", "P3", "R1", "R2", "R5", "Z1", "T0", "T1", "T2", "T3", "T4"}
)  # a child detained for protection (L2) at 31 March arrived in the last few days


def _settled(t: float) -> float:
    """A time drawn at a constant hazard, re-timed so the hazard falls after the first year."""
    return t if t <= SETTLED_AFTER_DAYS else SETTLED_AFTER_DAYS + (t - SETTLED_AFTER_DAYS) / SETTLED_FACTOR


def _operational(days: float) -> float:
    """The inverse of :func:`_settled`: elapsed days on the constant-hazard clock."""
    return days if days <= SETTLED_AFTER_DAYS else SETTLED_AFTER_DAYS + (days - SETTLED_AFTER_DAYS) * SETTLED_FACTOR


UPN_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"


def upn(digits: str) -> str:
    """A Unique Pupil Number: the DfE check letter, then 12 digits (LA, school, year, serial). The
    check letter is the sum of each digit times its position (2 to 13), remainder after 23."""
    return UPN_LETTERS[sum(int(d) * (i + 2) for i, d in enumerate(digits)) % 23] + digits


def _fmt(d: pd.Timestamp) -> str:
    return d.strftime("%d/%m/%Y")


def _age_band(age: float) -> str:
    for band, (lo, hi) in AGE_BANDS.items():
        if lo <= age < hi:
            return band
    return "16_and_over"


class Child:
    __slots__ = (
        "id",
        "dob",
        "sex",
        "eth",
        "ethnic",
        "uasc",
        "cin",
        "sdq",
        "home",
        "periods",
        "entered",
        "must_stay",
        "leave",
        "upn",
        "cin0",
        "cin_changes",
    )

    def age(self, on: pd.Timestamp) -> float:
        return (on - self.dob).days / 365.25

    def whole_age(self, on: pd.Timestamp) -> int:
        return on.year - self.dob.year - ((on.month, on.day) < (self.dob.month, self.dob.day))

    @property
    def period(self) -> dict:
        return self.periods[-1]

    @property
    def placement(self) -> dict:
        return self.periods[-1]["placements"][-1]

    @property
    def ls(self) -> str:
        return self.periods[-1]["ls"][-1][1]


def category_of(child: Child, dim: str, on: pd.Timestamp) -> str:
    """The child's published category at 31 March (``on``) for one characteristic."""
    if dim == "age":
        return _age_band(child.whole_age(on))
    if dim == "sex":
        return "male" if child.sex == "1" else "female"
    if dim == "ethnicity":
        return child.eth
    if dim == "uasc":
        return "uasc" if child.uasc else "not_uasc"
    if dim == "need":
        return child.cin
    pl = child.placement
    if dim == "placement":
        return GROUP_CATEGORY[pl["group"]]
    if dim == "provider":
        return PROVIDER_CATEGORY[pl["provider"]]
    if dim == "location":
        return pl["loc"]
    if dim == "legal":
        return LEGAL_CATEGORY[child.ls]
    raise KeyError(dim)


class Simulation:
    """Ten years of children looked after, one year at a time, true to the LA's published figures.

    Each year: the children who start are drawn toward what the stock at 31 March lacks; every
    child's placements run on by the two competing hazards (planted effects in the unplanned one);
    then exactly the published number stay at 31 March, chosen by what is fixed about them (age,
    sex, ethnicity, UASC, need; never by what happened to their placements, so leaving care is not
    informative about breakdown) to match the published counts; the rest leave on a day of the year
    drawn independently (young people at 18 on their birthday). Finally the episode held at 31
    March is matched to the published legal status, placement, provider and location counts by
    relabelling placements that began during the year (their remaining time is redrawn from the new
    setting's hazard), and legal status changes are recorded as episodes (RNE L).
    """

    def __init__(self, la_code: str, targets: Targets, places: Places, seed: int, scale: float = 1.0, multipliers: dict | None = None):
        self.la, self.t, self.places, self.seed, self.scale = la_code, targets, places, seed, scale
        self.rng = np.random.default_rng(seed)
        self.m = multipliers if multipliers is not None else {d: {c: 1.0 for c in DIMENSIONS[d]} for d in EPISODE_DIMENSIONS}
        self._in_pc = places.inside["postcode"].to_numpy()
        self._in_e = places.inside["easting"].to_numpy(dtype=float)
        self._in_n = places.inside["northing"].to_numpy(dtype=float)
        self._ar_pc = places.around["postcode"].to_numpy()
        self._ar_e = places.around["easting"].to_numpy(dtype=float)
        self._ar_n = places.around["northing"].to_numpy(dtype=float)
        self.children: list[Child] = []
        self._made = 0
        self._since = pd.Timestamp.min
        self.start = pd.Timestamp(FIRST_YEAR - 1, 3, 31)
        self.end = pd.Timestamp(LAST_YEAR, 3, 31)
        self.relabelled: dict[str, int] = {d: 0 for d in EPISODE_DIMENSIONS}
        self.relabelled_children: dict[str, int] = {d: 0 for d in CHILD_DIMENSIONS}
        self.notes: list[str] = []
        self.off: dict[str, dict[str, dict[int, int]]] = {}
        self.natural: dict[str, dict[str, float]] = {d: {c: 0.0 for c in DIMENSIONS[d]} for d in EPISODE_DIMENSIONS}

    # -- shares
    def _share(self, dim: str, year: int) -> dict[str, float]:
        counts = self.t.stock[dim][min(max(year, FIRST_YEAR - 1), LAST_YEAR)]
        total = counts.sum() or 1
        return {c: counts[i] / total for i, c in enumerate(DIMENSIONS[dim])}

    def _draw(self, weights: dict[str, float]) -> str:
        keys, p = list(weights), np.array(list(weights.values()), dtype=float)
        if p.sum() <= 0:
            p = np.ones(len(p))
        return keys[int(self.rng.choice(len(keys), p=p / p.sum()))]

    # -- children
    def _new_child(self, dob: pd.Timestamp, entered: pd.Timestamp, attrs: dict[str, str]) -> Child:
        rng = self.rng
        c = Child()
        self._made += 1
        c.id = f"{self.seed % 1000:03d}{self._made:06d}"
        c.dob, c.entered, c.periods, c.must_stay, c.leave = dob, entered, [], False, None
        c.sex = "1" if attrs["sex"] == "male" else "2"
        c.eth = attrs["ethnicity"]
        codes, p = ETHNIC_CODES[c.eth]
        c.ethnic = codes[int(rng.choice(len(codes), p=p))]
        c.uasc = attrs["uasc"] == "uasc"
        c.cin = c.cin0 = attrs["need"]  # category of need at the start of care, then as it is recorded later
        c.cin_changes = []
        c.sdq = float(np.clip(rng.normal(14, 6.5), 0, 40))
        c.home = int(rng.integers(len(self._in_pc)))
        c.upn = upn("".join(str(d) for d in rng.integers(0, 10, size=12)))
        self.children.append(c)
        return c

    def _entrant_attrs(self, year: int, band: str, need: dict[str, dict[str, float]]) -> dict[str, str]:
        rng = self.rng
        attrs = {"age": band}
        uasc_w = dict(need["uasc"])
        if band not in ("10_to_15", "16_and_over"):
            uasc_w["uasc"] = 0.0
        attrs["uasc"] = self._draw(uasc_w)
        if attrs["uasc"] == "uasc":  # unaccompanied children: mostly boys, absent parenting, not white British
            attrs["sex"] = "male" if rng.random() < 0.92 else "female"
            attrs["need"] = "N8" if rng.random() < 0.9 else self._draw(need["need"])
            eth = {k: v * (0.3 if k == "white" else 1.0) for k, v in need["ethnicity"].items() if k in ("other", "black", "asian", "mixed", "white")}
            attrs["ethnicity"] = self._draw(eth) if sum(eth.values()) > 0 else "other"
        else:
            for dim in ("sex", "need", "ethnicity"):
                w = dict(need[dim])
                if dim == "need":
                    w["N8"] *= 0.3
                attrs[dim] = self._draw(w)
        return attrs

    # -- one placement's setting
    def _eligible(self, child: Child, cat: str, on: pd.Timestamp) -> bool:
        age = child.age(on)
        if cat == "independent":
            return age >= 16
        if cat in ("childrens_home", "residential_school"):
            return age >= 5
        if cat == "adoption":  # (after a placement order: not in the first months of care)
            return age < 10 and not child.uasc and (on - child.period["start"]).days >= 90
        if cat == "with_parents":
            return not child.uasc and child.ls in ("C1", "C2")
        return True

    def _group_for(self, cat: str, child: Child, on: pd.Timestamp) -> str:
        rng = self.rng
        if cat == "foster":
            return "kinship foster" if (not child.uasc and rng.random() < 0.22) else "foster"
        if cat == "childrens_home":
            return "secure" if child.age(on) >= 10 and rng.random() < 0.03 else "children's home"
        return {
            "independent": "independent or supported",
            "with_parents": "with parents",
            "adoption": "adoption",
            "other_residential": "other residential",
            "residential_school": "residential school",
            "other": "other",
        }[cat]

    def _place_code(self, group: str, child: Child, on: pd.Timestamp) -> str:
        rng = self.rng
        if group == "independent or supported":
            return "K3" if on >= pd.Timestamp(2024, 4, 1) else "H5"
        if group == "other residential":
            return "R3" if child.age(on) < 1 else str(rng.choice(["R1", "R2"], p=[0.7, 0.3]))
        return {
            "foster": str(rng.choice(["U4", "U6"], p=[0.45, 0.55])),
            "kinship foster": str(rng.choice(["U1", "U3"], p=[0.4, 0.6])),
            "children's home": "K2",
            "secure": "K1",
            "with parents": "P1",
            "adoption": "A6",
            "residential school": "S1",
            "other": "Z1",
        }[group]

    def _provider(self, place: str, group: str, year: int, outside: bool = False) -> str:
        if place == "P1":
            return "PR0"
        share = self._share("provider", year)
        tilt = {
            "children's home": {"private": 3.0, "own": 0.6},
            "independent or supported": {"private": 2.5},
            "kinship foster": {"own": 6.0},
            "adoption": {"own": 2.0, "voluntary": 2.0},
            "secure": {"own": 1.0},
        }.get(group, {})
        # DfE rule 1015 queries own provision outside the LA; the published counts sometimes need some
        # (more own provision than placements inside the boundary), so it is rare, not ruled out
        w = {
            k: share[k] * self.m["provider"][k] * tilt.get(k, 1.0) * (0.15 if k == "own" and outside else 1.0)
            for k in share
            if k != "parents" and (provider_problem(place, PROVIDER_CODE[k], year) is None or k == "not_reported")
        }
        return PROVIDER_CODE[self._draw(w)]

    def _postcode(self, child: Child, loc: str) -> tuple[str, float, float, str]:
        """A placement postcode for a location category: (postcode, easting, northing, category got)."""
        rng = self.rng
        he, hn = self._in_e[child.home], self._in_n[child.home]
        inside, dist = loc.startswith("inside"), loc.split("_", 1)[1]
        far = dist == "over_20"
        e, n, pc = (self._in_e, self._in_n, self._in_pc) if inside else (self._ar_e, self._ar_n, self._ar_pc)
        d = np.hypot(e - he, n - hn) / 1609.3
        pool = np.flatnonzero((d > 20) & (d < 110)) if far else np.flatnonzero(d <= 20)
        if pool.size == 0:
            if inside and not far:
                j = child.home
                return self._in_pc[j], he, hn, loc
            return "", 0.0, 0.0, ""  # not possible for this child
        j = int(pool[int(rng.integers(pool.size))])
        return pc[j], e[j], n[j], loc

    def _location(self, child: Child, group: str, year: int) -> str:
        share = self._share("location", year)
        if group == "with parents":
            return "inside_unknown" if child.uasc else "inside_20_or_less"
        tilt = {
            "children's home": {"outside_20_or_less": 1.6, "outside_over_20": 2.2, "inside_over_20": 1.3},
            "kinship foster": {"outside_over_20": 0.8},
            "independent or supported": {"outside_over_20": 1.3},
        }.get(group, {})
        w = {k: share[k] * self.m["location"][k] * tilt.get(k, 1.0) for k in share}
        if child.uasc:  # DfE records no distance for unaccompanied children
            w = {k: (v if k.endswith("unknown") else 0.0) for k, v in w.items()}
            if sum(w.values()) <= 0:
                w = {"inside_unknown": share["inside_20_or_less"] + 1e-6, "outside_unknown": share["outside_20_or_less"] + 1e-6}
        return self._draw(w)

    def _setting(self, child: Child, on: pd.Timestamp, cat: str | None = None) -> dict:
        year = collection_year_of(on)
        if cat is None:
            share = self._share("placement", year)
            age = child.age(on)
            tilt = {
                "childrens_home": 2.0 if age >= 10 else 0.3,
                "independent": 6.0 if age >= 16 else 0.0,
                "adoption": 4.0 if age < 5 else 0.3,
                "with_parents": 1.0,
                "foster": 1.0 if age < 16 else 0.7,
            }
            w = {k: share[k] * self.m["placement"][k] * tilt.get(k, 1.0) if self._eligible(child, k, on) else 0.0 for k in share}
            if sum(w.values()) <= 0:
                w["foster"] = 1.0
            cat = self._draw(w)
        group = self._group_for(cat, child, on)
        place = self._place_code(group, child, on)
        s = {"group": group, "place": place}
        if not self._locate(child, s, self._location(child, group, year)):
            self._locate(child, s, "inside_unknown" if child.uasc else "inside_20_or_less")  # always possible: near home
        s["provider"] = self._provider(place, group, year, s["outside"])
        s["urn"] = "" if place in NO_URN else f"SC{int(self.rng.integers(100000, 999999))}"
        return s

    def _locate(self, child: Child, s: dict, loc: str) -> bool:
        """Place the setting ``s`` at a postcode of location category ``loc`` (False: none possible)."""
        if s["group"] == "with parents":
            pc, e, n = self._in_pc[child.home], self._in_e[child.home], self._in_n[child.home]
            loc = "inside_unknown" if child.uasc else "inside_20_or_less"
        he, hn = self._in_e[child.home], self._in_n[child.home]
        s["home_pc"] = None
        if s["group"] != "with parents":
            pc, e, n, got = self._postcode(child, loc if not loc.endswith("unknown") else loc.replace("unknown", "20_or_less"))
            if not got and loc.endswith("unknown"):  # (the distance is not recorded: any distance will do)
                pc, e, n, got = self._postcode(child, loc.replace("unknown", "over_20"))
            if not got and loc == "inside_over_20" and not child.uasc:
                # no part of the LA is 20 miles from the child's home: the family lives away (the
                # episode's HOME_POST is where they live now), more than 20 miles from the placement
                j = int(self.rng.integers(len(self._in_pc)))
                pc, e, n = self._in_pc[j], self._in_e[j], self._in_n[j]
                d = np.hypot(self._ar_e - e, self._ar_n - n) / 1609.3
                away = np.flatnonzero((d > 21) & (d < 60))
                if away.size == 0:
                    return False
                h = int(away[int(self.rng.integers(away.size))])
                s["home_pc"], he, hn = self._ar_pc[h], self._ar_e[h], self._ar_n[h]
            elif not got:
                return False
        s["post"], s["loc"] = pc, loc
        s["outside"] = loc.startswith("outside")
        s["miles"] = float(np.hypot(e - he, n - hn) / 1609.3)
        s["home_known"] = not loc.endswith("unknown") or child.uasc
        return True

    def _unplanned_lp(self, child: Child, s: dict, on: pd.Timestamp, previous: int) -> float:
        b = BREAKDOWN_EFFECTS
        age = child.age(on)
        lp = b["age_10_15"] * (10 <= age < 16) + b["age_16_plus"] * (age >= 16)
        lp += b["childrens_home"] * (s["group"] == "children's home") + b["supported"] * (s["group"] == "independent or supported")
        lp += b["kinship"] * (s["group"] == "kinship foster")
        lp += b["over_20_miles"] * (s["miles"] > 20) + b["outside_la"] * s["outside"]
        lp += b["previous_moves"] * min(previous, 5) + b["sdq_per_5_points"] * (child.sdq - 14) / 5
        return lp

    def _rates(self, child: Child, pl: dict) -> tuple[float, float]:
        unplanned = self.scale * 0.00055 * math.exp(self._unplanned_lp(child, pl, pl["start"], pl["previous"]))
        planned = self.scale * 0.00045 * (1.6 if pl["group"] in ("independent or supported", "with parents") else 1.0)
        return unplanned, planned

    def _schedule(self, child: Child, pl: dict, since: pd.Timestamp | None = None) -> None:
        """When the placement ends and how: competing hazards from its start (or, after a relabel,
        the rest of its time from ``since`` under the new setting's hazards)."""
        rng = self.rng
        u, p = self._rates(child, pl)
        done = _operational((since - pl["start"]).days) if since is not None else 0.0
        t_u, t_p = rng.exponential(1 / u), rng.exponential(1 / p)
        length = max(3, int(_settled(done + min(t_u, t_p))))
        pl["due"] = pl["start"] + pd.Timedelta(days=length)
        pl["due_unplanned"] = t_u < t_p
        if pl["group"] == "adoption":  # an adoptive placement lasts until the adoption order: the child leaves care
            pl["due"] = pl["start"] + pd.Timedelta(days=int(rng.integers(*ADOPTION_ORDER_DAYS)))
            if since is not None:
                pl["due"] = max(pl["due"], since + pd.Timedelta(days=int(rng.integers(30, 200))))
            pl["due_unplanned"] = False

    def _place(self, child: Child, on: pd.Timestamp, previous: int, cat: str | None = None) -> dict:
        s = self._setting(child, on, cat)
        if s["group"] == "adoption" and child.ls != "E1":
            child.period["ls"].append((on, "E1"))  # placed for adoption under a placement order
        pl = {**s, "start": on, "end": None, "unplanned": False, "reason": "", "previous": previous}
        self._schedule(child, pl)
        child.period["placements"].append(pl)
        return pl

    def _enter(self, child: Child, on: pd.Timestamp, ls: str) -> None:
        child.periods.append({"start": on, "end": None, "placements": [], "ls": [(on, ls)], "exit": ""})
        self._place(child, on, 0)

    def _advance(self, child: Child, until: pd.Timestamp) -> None:
        """Run the child's placements on to ``until`` (ends by the competing hazards, then a new placement)."""
        rng = self.rng
        while True:
            pl = child.placement
            if pl["due"] > until or child.leave is not None:
                return
            if pl["group"] == "adoption":
                child.leave = pl["due"]  # adopted
                return
            pl["end"], pl["unplanned"] = pl["due"], pl["due_unplanned"]
            pl["reason"] = (
                str(rng.choice(["CREQB", "CREQO", "CHILD", "ALLEG", "STAND", "CLOSE", "LAREQ"], p=[0.32, 0.2, 0.14, 0.06, 0.06, 0.1, 0.12]))
                if pl["unplanned"]
                else str(rng.choice(["CARPL", "OTHER"], p=[0.65, 0.35]))
            )
            self._place(child, pl["end"], len(child.period["placements"]))

    def _leave(self, child: Child, on: pd.Timestamp) -> None:
        """The child ceases to be looked after on ``on``: placements after it are dropped."""
        period = child.period
        period["placements"] = [pl for pl in period["placements"] if pl["start"] < on] or period["placements"][:1]
        last = period["placements"][-1]
        if last["end"] is None or last["end"] >= on:
            last["end"], last["unplanned"], last["reason"] = on, False, ""
        period["ls"] = [(d, ls) for d, ls in period["ls"] if d < on] or period["ls"][:1]
        period["end"] = on
        period["exit"] = self._exit_code(child, on, last)

    def _exit_code(self, child: Child, on: pd.Timestamp, last: dict) -> str:
        rng = self.rng
        if last["group"] == "adoption":
            return "E11" if rng.random() < 0.8 else "E12"
        age = child.age(on)
        if child.whole_age(on) >= 18:  # (E17, staying with carers at 18, only at 18: rule 460)
            codes, p = ["E17", "E5", "E6", "E8"], [0.25, 0.4, 0.25, 0.1]
        elif age >= 17.5:
            codes, p = ["E5", "E6", "E8", "E4A"], [0.4, 0.25, 0.15, 0.2]
        elif child.uasc:  # (moved to independent living, E5, only from 16: rule 387 says not under 14)
            codes, p = (["E3", "E15", "E8", "E5"], [0.7, 0.1, 0.1, 0.1]) if age >= 16 else (["E3", "E15", "E8"], [0.75, 0.1, 0.15])
        elif age >= 10:
            codes, p = ["E4A", "E4B", "E13", "E47", "E41", "E8"], [0.4, 0.15, 0.15, 0.1, 0.1, 0.1]
        else:  # (a special guardianship order to former foster carers, E45, only from foster care: rule 516)
            sgo = "E45" if last["group"] in ("foster", "kinship foster") else "E47"
            codes, p = ["E4A", "E4B", "E41", sgo, "E47", "E13"], [0.4, 0.1, 0.15, 0.12, 0.15, 0.08]
        if last["group"] == "with parents":
            codes, p = ["E4A", "E8"], [0.9, 0.1]
        return str(rng.choice(codes, p=np.array(p) / sum(p)))

    # -- matching 31 March
    def _select(self, pool: list[Child], n: int, year: int, y1: pd.Timestamp, stay_weight: np.ndarray) -> np.ndarray:
        """Which of ``pool`` stay at 31 March: exactly ``n``, as many of each age group as published
        (age cannot be put right afterwards), then swaps within an age group toward the published
        sex, ethnicity, UASC and need counts."""
        rng = self.rng
        m = len(pool)
        fixed = np.array([c.must_stay for c in pool], dtype=bool)
        if m <= n:
            if m < n:
                self.notes.append(f"{year}: {n - m} fewer children than published could be looked after at 31 March")
            return np.ones(m, dtype=bool)
        index = {d: {k: i for i, k in enumerate(DIMENSIONS[d])} for d in CHILD_DIMENSIONS}
        cats = {d: np.array([index[d][category_of(c, d, y1)] for c in pool]) for d in CHILD_DIMENSIONS}
        target = {d: self.t.stock[d][year].astype(float) for d in CHILD_DIMENSIONS}
        # age groups first: the published number from each (the shortfall of a group from the others)
        band = cats["age"]
        bands = range(len(target["age"]))
        chosen = fixed.copy()
        free = ~fixed
        quota = {b: max(0, int(target["age"][b]) - int((fixed & (band == b)).sum())) for b in bands}
        avail = {b: int((free & (band == b)).sum()) for b in bands}
        take = {b: min(quota[b], avail[b]) for b in bands}
        short = n - int(fixed.sum()) - sum(take.values())
        while short > 0:
            b = max(bands, key=lambda x: avail[x] - take[x])
            if avail[b] - take[b] <= 0:
                break
            take[b] += 1
            short -= 1
        for b in bands:
            members = np.flatnonzero(free & (band == b))
            if take[b] and members.size:
                w = stay_weight[members] / stay_weight[members].sum()
                chosen[rng.choice(members, size=take[b], replace=False, p=w)] = True
        # then swaps within an age group; a category DfE counts none of is nearly a rule: weigh it more
        dims = [d for d in CHILD_DIMENSIONS if d != "age"]
        weight = {d: SELECT_WEIGHT[d] * np.where(target[d] == 0, 10.0, 1.0) for d in dims}
        counts = {d: np.bincount(cats[d][chosen], minlength=len(target[d])).astype(float) for d in dims}
        noise = rng.random(m) * 1e-3
        for _ in range(2 * m):
            out_gain, in_gain = noise.copy(), noise.copy()
            for d in dims:
                dev = counts[d] - target[d]
                out_gain += (weight[d] * (np.abs(dev - 1) - np.abs(dev)))[cats[d]]
                in_gain += (weight[d] * (np.abs(dev + 1) - np.abs(dev)))[cats[d]]
            best, pair = -1e-9, None
            for b in bands:
                outs = np.flatnonzero(chosen & ~fixed & (band == b))
                ins = np.flatnonzero(~chosen & (band == b))
                if not outs.size or not ins.size:
                    continue
                outs = outs[np.argsort(out_gain[outs])[:8]]
                ins = ins[np.argsort(in_gain[ins])[:8]]
                for i in outs:
                    for j in ins:
                        delta = 0.0
                        for d in dims:
                            a, c_ = cats[d][i], cats[d][j]
                            if a != c_:
                                dev = counts[d] - target[d]
                                delta += weight[d][a] * (abs(dev[a] - 1) - abs(dev[a])) + weight[d][c_] * (abs(dev[c_] + 1) - abs(dev[c_]))
                        if delta < best:
                            best, pair = delta, (i, j)
            if pair is None:
                break
            i, j = pair
            chosen[i], chosen[j] = False, True
            for d in dims:
                counts[d][cats[d][i]] -= 1
                counts[d][cats[d][j]] += 1
        return chosen

    def _repair_children(self, stayers: list[Child], year: int, y1: pd.Timestamp, since: pd.Timestamp) -> None:
        """Relabel what is fixed about children who entered this year so each count matches."""
        self._since = since
        new = [c for c in stayers if c.entered > since]
        # the category of need is recorded on each episode: a child in an episode begun this year may have it revised
        revisable = new + [c for c in stayers if c.entered <= since and self._open_episode_start(c) > since]
        for dim in ("uasc", "sex", "ethnicity", "need"):
            cats, target, counts = self._counts(stayers, dim, year, y1)
            pool = revisable if dim == "need" else new
            for i in self.rng.permutation(len(pool)):
                c = pool[int(i)]
                have = category_of(c, dim, y1)
                if counts[have] <= target[have]:
                    continue
                short = [k for k in cats if counts[k] < target[k] and self._can_be(c, dim, k)]
                if not short:
                    continue
                k = max(short, key=lambda x: target[x] - counts[x])
                self._set_child(c, dim, k)
                counts[have] -= 1
                counts[k] += 1
                self.relabelled_children[dim] += 1

    def _open_episode_start(self, c: Child) -> pd.Timestamp:
        """When the child's current episode began: the later of the placement's start and the last
        change of legal status."""
        return max(c.placement["start"], c.period["ls"][-1][0])

    def _can_be(self, c: Child, dim: str, k: str) -> bool:
        if dim == "uasc" and k == "uasc":
            return c.age(c.entered) >= 12 and not any(pl["group"] in ("with parents", "adoption") for pl in c.period["placements"])
        if dim == "uasc" and k == "not_uasc":
            return True
        return True

    def _set_child(self, c: Child, dim: str, k: str) -> None:
        if dim == "sex":
            c.sex = "1" if k == "male" else "2"
        elif dim == "ethnicity":
            c.eth = k
            codes, p = ETHNIC_CODES[k]
            c.ethnic = codes[int(self.rng.choice(len(codes), p=p))]
        elif dim == "need":
            if c.entered > self._since:
                c.cin = c.cin0 = k
            else:  # recorded from the episode the child is in now (it began this year)
                c.cin = k
                c.cin_changes.append((self._open_episode_start(c), k))
        elif dim == "uasc":
            c.uasc = k == "uasc"
            for pl in c.period["placements"]:  # DfE records no distance for unaccompanied children
                side = "inside" if pl["loc"].startswith("inside") else "outside"
                pl["loc"] = f"{side}_unknown" if c.uasc else (f"{side}_over_20" if pl["miles"] > 20 else f"{side}_20_or_less")
                pl["home_known"] = True

    def _match_episodes(self, stayers: list[Child], year: int, y1: pd.Timestamp, since: pd.Timestamp) -> None:
        """Relabel placements that began this year (and legal status) so the 31 March counts match;
        where those are not enough, a planned move in the last week of March to the setting lacking."""
        for dim in ("placement", "provider", "location"):
            cats, target, counts = self._counts(stayers, dim, year, y1)
            for k in cats:
                self.natural[dim][k] += counts[k]
            order = [stayers[int(i)] for i in self.rng.permutation(len(stayers))]
            recent = [c for c in order if c.placement["start"] > since]  # relabelled in place; the others by a move
            # (a placement for adoption begun this year may be disrupted; one that has lasted a year is not moved)
            candidates = recent + [c for c in order if c.placement["start"] <= since and c.placement["group"] != "adoption"]
            # fill each short category from those over their count; where none of those can go there
            # (independent living takes only 16-17s), from a category at its count, which the next
            # round then fills from those over (a chain through foster care, which takes anyone)
            for _ in range(20):
                progress = False
                for strict in (True, False):
                    short = sorted((k for k in cats if counts[k] < target[k]), key=lambda x: counts[x] - target[x])
                    for k in short:
                        for c in candidates:
                            if counts[k] >= target[k]:
                                break
                            have = category_of(c, dim, y1)
                            if have == k or counts[have] < target[have] or (strict and counts[have] == target[have]):
                                continue
                            if self._change(c, dim, k, y1, move=self._needs_move(c, dim, since, y1)):
                                counts[have] -= 1
                                counts[k] += 1
                                self.relabelled[dim] += 1
                                progress = True
                if not progress:
                    break
            self._augment(candidates, dim, cats, counts, target, y1, since)
        self._match_legal(stayers, year, y1, since)

    def _needs_move(self, c: Child, dim: str, since: pd.Timestamp, y1: pd.Timestamp) -> bool:
        """Whether giving the child another setting takes a planned move (a new placement) rather than
        a relabel. A placement held at the last 31 March cannot change (that count is published).
        Type and location carry planted breakdown effects: a placement that has run under one
        setting's hazard is not relabelled as another (its time survived would be credited to the
        wrong setting) unless it began in the last fortnight; the provider carries none."""
        started = c.placement["start"]
        if started <= since:
            return True
        return dim != "provider" and (y1 - started).days > RELABEL_DAYS

    def _can_change(self, c: Child, dim: str, k: str, y1: pd.Timestamp) -> bool:
        """Whether :meth:`_change` could give ``c`` category ``k`` (checked before a two-step change)."""
        pl = c.placement
        if dim == "placement":
            return self._eligible(c, k, pl["start"])
        if dim == "provider":
            code = PROVIDER_CODE[k]
            return k != "parents" and pl["place"] != "P1" and (not code or provider_problem(pl["place"], code, collection_year_of(y1)) is None)
        return pl["group"] != "with parents" and (not c.uasc or k.endswith("unknown"))

    def _augment(self, candidates: list[Child], dim: str, cats: list[str], counts: dict, target: dict, y1: pd.Timestamp, since: pd.Timestamp) -> None:
        """Two-step changes for a category still over its count whose children can only go to
        categories at their count (unaccompanied children only to "distance not known"): move one
        child from such a category to a category short, then one from the category over into it."""
        for over in [k for k in cats if counts[k] > target[k]]:
            for c in [c for c in candidates if category_of(c, dim, y1) == over]:
                if counts[over] <= target[over]:
                    break
                for mid in [k for k in cats if k != over and counts[k] == target[k] and self._can_change(c, dim, k, y1)]:
                    shorts = [k for k in cats if counts[k] < target[k]]
                    done = False
                    for c2 in candidates:
                        if c2 is c or category_of(c2, dim, y1) != mid:
                            continue
                        for k in shorts:
                            if self._can_change(c2, dim, k, y1) and self._change(c2, dim, k, y1, move=self._needs_move(c2, dim, since, y1)):
                                counts[mid] -= 1
                                counts[k] += 1
                                done = True
                                break
                        if done:
                            break
                    if done and self._change(c, dim, mid, y1, move=self._needs_move(c, dim, since, y1)):
                        counts[over] -= 1
                        counts[mid] += 1
                        self.relabelled[dim] += 2
                        break

    def _change(self, c: Child, dim: str, k: str, y1: pd.Timestamp, move: bool) -> bool:
        """Relabel the placement held at 31 March, or (``move``) end it with a planned move a few days
        before and relabel the new one."""
        if not move:
            return self._relabel(c, dim, k, y1)
        old = c.placement
        on = y1 - pd.Timedelta(days=int(self.rng.integers(1, 7)))
        if old["start"] >= on:
            return False
        placements = c.period["placements"]
        placements.append({**old, "start": on, "end": None, "unplanned": False, "reason": "", "previous": len(placements)})
        old_end = (old["end"], old["unplanned"], old["reason"])
        old["end"], old["unplanned"], old["reason"] = on, False, "CARPL"
        if self._relabel(c, dim, k, y1):
            if c.placement["urn"] and c.placement["urn"] == old["urn"]:
                c.placement["urn"] = f"SC{int(self.rng.integers(100000, 999999))}"
            return True
        placements.pop()
        old["end"], old["unplanned"], old["reason"] = old_end
        return False

    def _relabel(self, c: Child, dim: str, k: str, y1: pd.Timestamp) -> bool:
        pl = c.placement
        year = collection_year_of(y1)
        if dim == "placement":
            if not self._eligible(c, k, pl["start"]):
                return False
            s = dict(pl)
            s["group"] = self._group_for(k, c, pl["start"])
            s["place"] = self._place_code(s["group"], c, pl["start"])
            if not self._locate(c, s, pl["loc"]):
                return False
            s["provider"] = self._provider(s["place"], s["group"], year, s["outside"])
            s["urn"] = "" if s["place"] in NO_URN else (pl["urn"] or f"SC{int(self.rng.integers(100000, 999999))}")
        elif dim == "provider":
            code = PROVIDER_CODE[k]
            if k == "parents" or pl["place"] == "P1" or (code and provider_problem(pl["place"], code, year) is not None):
                return False
            pl["provider"] = code
            return True
        else:  # location
            if pl["group"] == "with parents" or (c.uasc and not k.endswith("unknown")):
                return False
            s = dict(pl)
            if not self._locate(c, s, k):
                return False
        pl.update(s)
        self._schedule(c, pl, since=y1)
        return True

    def _match_legal(self, stayers: list[Child], year: int, y1: pd.Timestamp, since: pd.Timestamp) -> None:
        rng = self.rng
        cats = list(DIMENSIONS["legal"])
        left = dict(zip(cats, (int(v) for v in self.t.stock["legal"][year])))
        chosen: dict[int, str] = {}
        for i, c in enumerate(stayers):  # what must be: placed for adoption under a placement order; detained on arrival
            if c.placement["group"] == "adoption":
                chosen[i] = "placement_order"
            elif c.must_stay:
                chosen[i] = "detained"
        for k in chosen.values():
            left[k] -= 1
        pairs = []
        for i, c in enumerate(stayers):
            if i in chosen:
                continue
            now = LEGAL_CATEGORY[c.ls]
            age, days = c.age(y1), (y1 - c.period["start"]).days
            for k in cats:
                if k == "detained":
                    continue
                if k == "youth_justice" and (age < 12 or c.uasc):
                    continue
                if c.placement["group"] == "with parents" and k not in ("interim_care_order", "full_care_order"):
                    continue
                score = 3.0 * (k == now) + rng.random()
                score += {
                    "interim_care_order": 2.0 * (days < 300) - 2.0 * (days > 500),
                    "full_care_order": 1.5 * (days > 200),
                    "placement_order": 1.5 * (age < 6) - 3.0 * (age > 10),
                    "section_20": 3.0 * c.uasc + 1.0 * (age >= 16),
                    "youth_justice": 0.5 * (age >= 15),
                }.get(k, 0.0)
                pairs.append((score, i, k))
        # children who can hold fewer statuses choose first (placed with parents: a care order), then by fit
        options = {}
        for _, i, _k in pairs:
            options[i] = options.get(i, 0) + 1
        pairs.sort(key=lambda x: (options[x[1]] > 2, -x[0]))
        for narrow in ("youth_justice",):  # few children can hold it: fill it first, from the best fits
            for _, i, k in pairs:
                if k == narrow and i not in chosen and left[k] > 0:
                    chosen[i] = k
                    left[k] -= 1
        for _, i, k in pairs:
            if i not in chosen and left[k] > 0:
                chosen[i] = k
                left[k] -= 1
        for i, c in enumerate(stayers):  # more children than the published categories could take: the best fit
            if i not in chosen:
                chosen[i] = "full_care_order" if c.placement["group"] == "with parents" else "section_20"
        for i, c in enumerate(stayers):
            k = chosen[i]
            code = "L2" if k == "detained" else LEGAL_CODE[k]
            if LEGAL_CATEGORY[c.ls] == k:
                continue
            since_ls = c.period["ls"][-1][0]
            lo = max(since_ls + pd.Timedelta(days=1), since + pd.Timedelta(days=1))
            for pl in c.period["placements"]:  # not while placed for adoption (that is under the placement order)
                if pl["group"] == "adoption" and (pl["end"] is None or pl["end"] > lo):
                    lo = max(lo, pl["end"] if pl["end"] is not None else y1)
            if c.ls.startswith("L"):  # detained for a few days, then an order or s20 (after the last 31 March)
                on = max(since_ls + pd.Timedelta(days=int(rng.integers(1, 4))), since + pd.Timedelta(days=1))
            else:
                lo = max(lo, since_ls + pd.Timedelta(days=28))
                on = lo + pd.Timedelta(days=int(rng.integers(0, max(1, (y1 - lo).days))))
            on = min(on, y1)
            if k == "placement_order" and c.placement["group"] == "adoption":
                on = min(on, c.placement["start"])
            c.period["ls"].append((on, code))
            c.period["ls"].sort(key=lambda x: x[0])

    def _counts(self, stayers: list[Child], dim: str, year: int, y1: pd.Timestamp) -> tuple[list[str], dict, dict]:
        """A characteristic's categories, the published count of each at 31 March and the children's."""
        cats = list(DIMENSIONS[dim])
        counts = {k: 0 for k in cats}
        for c in stayers:
            counts[category_of(c, dim, y1)] += 1
        return cats, dict(zip(cats, self.t.stock[dim][year])), counts

    def _record(self, stayers: list[Child], year: int, y1: pd.Timestamp, stage: str) -> None:
        """How far each 31 March count is from its target (children), for truth.json."""
        for dim in DIMENSIONS:
            cats, target, got = self._counts(stayers, dim, year, y1)
            self.off.setdefault(stage, {}).setdefault(dim, {})[year] = int(sum(abs(got[k] - int(target[k])) for k in cats))

    def _tune(self, year: int) -> None:
        """Nudge next year's draws toward the 31 March mix (fewer relabels): each category's weight by
        how far this year's count before relabelling fell from its target."""
        for dim in ("placement", "provider", "location"):
            target = dict(zip(DIMENSIONS[dim], self.t.stock[dim][year]))
            for k in target:
                pre = self.natural[dim][k] - self._natural_before.get((dim, k), 0.0)
                self.m[dim][k] = float(np.clip(self.m[dim][k] * ((target[k] + 1) / (pre + 1)) ** 0.5, 0.1, 10))

    # -- the years
    def _stay_weight(self, pool: list[Child], y0: pd.Timestamp, y1: pd.Timestamp) -> np.ndarray:
        w = []
        for c in pool:
            age = c.age(y1)
            x = 1.0 + 0.6 * ((y1 - c.period["start"]).days > 365)
            x *= 0.5 if age >= 17 else 0.8 if age >= 16 else 1.0  # (a 17-year-old who stays must leave at 18 next year)
            x *= 0.6 if c.uasc else 1.0
            w.append(x)
        return np.array(w)

    def _entrants(self, year: int, carry: list[Child], y0: pd.Timestamp, y1: pd.Timestamp) -> list[Child]:
        rng, t = self.rng, self.t
        n_start, n_stock = t.starts[year], t.cla[year]
        keep = max(0.0, (n_stock - 0.6 * n_start) / max(len(carry), 1))
        need = {}
        for dim in CHILD_DIMENSIONS:
            target = dict(zip(DIMENSIONS[dim], t.stock[dim][year]))
            have = {k: 0.0 for k in target}
            for c in carry:
                if c.age(y1) < 18:
                    have[category_of(c, dim, y1)] += keep
            share = self._share(dim, year)
            # a category the LA counts none of in the next years is one a child who stays should not bring
            later = [dict(zip(DIMENSIONS[dim], t.stock[dim][y])) for y in (year + 1, year + 2) if y in t.stock[dim]]
            damp = {k: 0.05 if any(v[k] == 0 for v in later) else 1.0 for k in target}
            need[dim] = {k: (max(target[k] - have[k], 0.0) + 0.05 * n_start * share[k]) * damp[k] for k in target}
        detained = int(t.stock["legal"][year][list(DIMENSIONS["legal"]).index("detained")])
        bands = []
        for _ in range(n_start):
            bands.append(self._draw(need["age"]))
            need["age"][bands[-1]] = max(need["age"][bands[-1]] - 0.6, 0.0) + 1e-6
        bands = self._enough_of_each_age(bands, carry, year, y1)
        # unaccompanied children arrive older: enough entrants aged 10 and over for the UASC count
        older = [i for i, b in enumerate(bands) if b in ("10_to_15", "16_and_over")]
        uasc_need = need["uasc"]["uasc"] / max(sum(need["uasc"].values()), 1e-9) * n_start
        for i in [i for i, b in enumerate(bands) if b in ("5_to_9", "1_to_4")]:
            if len(older) >= 1.3 * uasc_need + 1:
                break
            bands[i] = "16_and_over"
            older.append(i)
        out = []
        for i, band in enumerate(bands):
            lo, hi = AGE_BANDS[band]
            late = i < detained
            hi = 17.95 if band == "16_and_over" else min(hi, 17.9)
            age_y1 = rng.uniform(max(lo, 0.03), hi)  # (born at least ten days before 31 March: in care by then)
            dob = y1 - pd.Timedelta(days=int(age_y1 * 365.25))
            late = i < detained
            on = (y1 - pd.Timedelta(days=int(rng.integers(0, DETAINED_DAYS)))) if late else y0 + pd.Timedelta(days=int(rng.integers(0, 362)))
            on = max(min(on, dob + pd.DateOffset(years=18) - pd.Timedelta(days=30)), dob + pd.Timedelta(days=1))
            c = self._new_child(dob, on, self._entrant_attrs(year, band, need))
            c.must_stay = late and age_y1 < 18
            age = c.age(on)
            ls = "L2" if c.must_stay else ("V2" if c.uasc or (age >= 16 and rng.random() < 0.7) else ("C1" if rng.random() < 0.55 else "V2"))
            self._enter(c, on, ls)
            out.append(c)
        return out

    def _enough_of_each_age(self, bands: list[str], carry: list[Child], year: int, y1: pd.Timestamp) -> list[str]:
        """Re-draw entrants' ages so that every age group has more children to choose from at 31
        March than the published count (a group the pool lacks could not be matched)."""
        target = dict(zip(DIMENSIONS["age"], self.t.stock["age"][year]))
        avail = {b: 0 for b in target}
        for c in carry:
            if c.whole_age(y1) < 18 and c.placement["group"] != "adoption":
                avail[_age_band(c.whole_age(y1))] += 1
        for b in bands:
            avail[b] += 1
        # first enough of every group (one spare), then a margin (young children also leave by adoption)
        bands = list(bands)
        for want in (
            {b: (1.12 if b in ("under_1", "1_to_4") else 1.0) * target[b] + 1 for b in target},
            {b: (1.3 if b in ("under_1", "1_to_4") else 1.05) * target[b] + 2 for b in target},
        ):
            for b in target:
                while avail[b] < want[b]:
                    spares = [x for x in target if x != b and x in bands and avail[x] - want[x] >= 1]
                    if not spares:
                        break
                    spare = max(spares, key=lambda x: avail[x] - want[x])
                    bands[bands.index(spare)] = b
                    avail[spare] -= 1
                    avail[b] += 1
        return bands

    def _initial(self, y1: pd.Timestamp) -> list[Child]:
        rng, t = self.rng, self.t
        n = t.cla[FIRST_YEAR - 1]
        pool = []
        need = {d: {k: float(v) + 0.02 * n for k, v in zip(DIMENSIONS[d], t.stock[d][FIRST_YEAR - 1])} for d in CHILD_DIMENSIONS}
        for _ in range(int(n * 1.5) + 5):
            band = self._draw(need["age"])
            lo, hi = AGE_BANDS[band]
            dob = y1 - pd.Timedelta(days=int(rng.uniform(lo, hi - 0.01) * 365.25))
            age = (y1 - dob).days / 365.25
            begun = y1 - pd.Timedelta(days=int(min(age * 365.25 - 1, rng.exponential(800))))
            c = self._new_child(dob, begun, self._entrant_attrs(FIRST_YEAR - 1, band, need))
            self._enter(c, begun, "V2" if c.uasc else "C2")
            self._advance(c, y1)
            if c.leave is None:  # (adopted before the first 31 March: not in the stock)
                pool.append(c)
        chosen = self._select(pool, n, FIRST_YEAR - 1, y1, np.ones(len(pool)))
        stock = [c for c, k in zip(pool, chosen) if k]
        kept = {id(c) for c in stock}
        self.children = [c for c in self.children if id(c) in kept]
        self._natural_before = {}
        self._repair_children(stock, FIRST_YEAR - 1, y1, pd.Timestamp.min)
        self._match_episodes(stock, FIRST_YEAR - 1, y1, pd.Timestamp.min)
        return stock

    def run(self) -> None:
        rng = self.rng
        y1 = self.start
        stock = self._initial(y1)
        for year in range(FIRST_YEAR, LAST_YEAR + 1):
            y0, prev, y1 = pd.Timestamp(year - 1, 4, 1), y1, pd.Timestamp(year, 3, 31)
            for c in stock:
                c.must_stay = False
                since_ls, ls = c.period["ls"][-1]
                if ls.startswith("L"):  # detained on arrival last March: an interim order or s20 within days
                    c.period["ls"].append((max(since_ls, prev) + pd.Timedelta(days=int(rng.integers(1, 4))), "V2" if c.uasc else "C1"))
            entrants = self._entrants(year, stock, y0, y1)
            pool = stock + entrants
            for c in pool:
                self._advance(c, y1)
            gone = [c for c in pool if c.whole_age(y1) >= 18 or c.leave is not None]  # 18 by 31 March, or adopted
            eligible = [c for c in pool if not (c.whole_age(y1) >= 18 or c.leave is not None)]
            chosen = self._select(eligible, self.t.cla[year], year, y1, self._stay_weight(eligible, y0, y1))
            stayers = [c for c, k in zip(eligible, chosen) if k]
            for c, k in zip(eligible, chosen):
                if not k:
                    lo = max(y0, c.period["start"] + pd.Timedelta(days=1))
                    self._leave(c, lo + pd.Timedelta(days=int(rng.integers(0, max(1, (y1 - lo).days)))))
            for c in gone:
                on = c.leave if c.leave is not None else pd.Timestamp(c.dob + pd.DateOffset(years=18))
                self._leave(c, max(c.period["start"] + pd.Timedelta(days=1), min(on, y1)))
            self._repair_children(stayers, year, y1, prev)
            self._record(stayers, year, y1, "after_children")
            self._natural_before = {(d, k): v for d in self.natural for k, v in self.natural[d].items()}
            self._match_episodes(stayers, year, y1, prev)
            self._tune(year)
            self._record(stayers, year, y1, "after_episodes")
            stock = stayers


# --- writing the returns ---------------------------------------------------------------------------------
def _segments(child: Child, period: dict, rng: np.random.Generator) -> list[dict]:
    """A period's episodes: a new one at each placement change (RNE P) and legal status change
    (RNE L; B when both), plus an occasional holiday (T2) inside a long foster placement."""
    cuts = sorted({pl["start"] for pl in period["placements"]} | {d for d, _ in period["ls"] if d >= period["start"]})
    end = period["end"]
    out = []
    for i, a in enumerate(cuts):
        if end is not None and a >= end:
            break
        b = cuts[i + 1] if i + 1 < len(cuts) else end
        if end is not None and b is not None and b > end:
            b = end
        pl = [p for p in period["placements"] if p["start"] <= a][-1]
        ls = [x for d, x in period["ls"] if d <= a][-1]
        new_place = a == pl["start"]
        new_ls = any(d == a for d, _ in period["ls"]) and a != period["start"]
        rne = "S" if a == period["start"] else ("B" if new_place and new_ls else "P" if new_place else "L")
        out.append({"DECOM": a, "DEC": b, "RNE": rne, "LS": ls, "_pl": pl})
    for j, ep in enumerate(out):
        last = j == len(out) - 1
        if ep["DEC"] is None:
            ep["REC"], ep["REASON_PLACE_CHANGE"] = "", ""
        elif last:
            ep["REC"], ep["REASON_PLACE_CHANGE"] = period["exit"], ""
        else:
            ep["REC"] = "X1"
            nxt = out[j + 1]
            ep["REASON_PLACE_CHANGE"] = (ep["_pl"]["reason"] or "CARPL") if nxt["_pl"] is not ep["_pl"] else ""
    # holidays: a week in T2 inside long foster placements that do not span a 31 March
    result = []
    for ep in out:
        pl, a, b = ep["_pl"], ep["DECOM"], ep["DEC"]
        if pl["group"] in ("foster", "kinship foster") and b is not None and (b - a).days > 200 and rng.random() < 0.08:
            mid = pd.Timestamp((a + (b - a) / 2).date())
            back = mid + pd.Timedelta(days=7)
            if collection_year_of(mid) == collection_year_of(back) and back < b:
                result.append({**ep, "DEC": mid, "REC": "X1", "REASON_PLACE_CHANGE": ""})
                result.append({**ep, "DECOM": mid, "RNE": "P", "DEC": back, "REC": "X1", "REASON_PLACE_CHANGE": "", "_temp": True})
                ep = {**ep, "DECOM": back, "RNE": "P"}
        result.append(ep)
    return result


def _cin_at(child: Child, day: pd.Timestamp) -> str:
    """The category of need recorded on an episode starting on ``day``."""
    code = child.cin0
    for on, k in child.cin_changes:
        if on <= day:
            code = k
    return code


def episodes_of(sim: Simulation, child: Child) -> list[dict]:
    """The child's episodes with DfE codes (see :func:`_segments`)."""
    out = []
    for period in child.periods:
        for ep in _segments(child, period, sim.rng):
            pl = ep["_pl"]
            temp = ep.get("_temp", False)
            # DfE records no distance for unaccompanied children (rule 406): no home postcode for them
            home = "" if child.uasc or not pl["home_known"] else (pl["home_pc"] or sim._in_pc[child.home])
            out.append(
                {
                    "DECOM": ep["DECOM"],
                    "RNE": ep["RNE"],
                    "LS": ep["LS"],
                    "PLACE": "T2" if temp else pl["place"],
                    "PLACE_PROVIDER": "" if temp else pl["provider"],
                    "DEC": ep["DEC"],
                    "REC": ep["REC"],
                    "REASON_PLACE_CHANGE": ep["REASON_PLACE_CHANGE"],
                    "HOME_POST": home,
                    "PL_POST": sim._ar_pc[(child.home * 7919) % len(sim._ar_pc)] if temp else pl["post"],  # on holiday away
                    "URN": "" if temp else pl["urn"],
                    "_pl": pl,
                }
            )
    return out


def base_weekly_cost(place: str, external: bool) -> float:
    """The planted base weekly cost of a placement: by its type group as the 903 ingest groups PLACE
    codes (``ssda903_rules.PLACE_GROUP``) and whether the provider is external (PR4, PR5)."""
    from analysis.io.ssda903_rules import PLACE_GROUP

    group = PLACE_GROUP.get(place, "other")
    return BASE_WEEKLY_COST.get((group, "external" if external else "own"), BASE_WEEKLY_COST.get((group, "own"), 900))


def write_returns(sim: Simulation, out: Path, costs_dir: Path | None = None) -> dict:
    """Ten years of CSV returns as an LA exports them, plus costs; returns what was written."""
    rng = np.random.default_rng(sim.seed + 1)
    rows = {y: {"header": [], "episodes": [], "uasc": [], "missing": [], "oc2": []} for y in range(FIRST_YEAR, LAST_YEAR + 1)}
    costs = []
    for child in sim.children:
        eps = episodes_of(sim, child)
        for e in eps:
            if e["PLACE"] not in ("T0", "T1", "T2", "T3", "T4") and e["RNE"] in ("S", "P", "B") and e["DECOM"] <= sim.end:
                pl = e["_pl"]
                age = child.age(e["DECOM"])
                ext = pl["provider"] in ("PR4", "PR5")
                base = base_weekly_cost(e["PLACE"], ext)
                ce = COST_EFFECTS
                lp = (
                    ce["outside_la"] * pl["outside"]
                    + ce["age_per_year_over_10"] * max(0.0, age - 10)
                    + ce["sdq_per_5_points"] * (child.sdq - 14) / 5
                    + ce["disability_n2"] * (child.cin0 == "N2")
                )
                cost = base * math.exp(lp + rng.normal(0, 0.18))
                costs.append(
                    {
                        "CHILD": child.id,
                        "PLACEMENT_START": _fmt(e["DECOM"]),
                        "WEEKLY_COST": f"{cost:.2f}",
                        "PROVIDER": pl["provider"],
                        "FUNDING": "joint" if child.cin0 == "N2" and rng.random() < 0.4 else "LA",
                    }
                )
        for year in range(FIRST_YEAR, LAST_YEAR + 1):
            y0, y1 = pd.Timestamp(year - 1, 4, 1), pd.Timestamp(year, 3, 31)
            these = [e for e in eps if e["DECOM"] <= y1 and (e["DEC"] is None or e["DEC"] >= y0)]
            if not these:
                continue
            sex = child.sex if year <= 2024 else {"1": "M", "2": "F"}[child.sex]
            # UPN fixed for the child (rules 208, 442); MOTHER recorded for every girl (rules 393, 607)
            rows[year]["header"].append(
                {
                    "CHILD": child.id,
                    "SEX": sex,
                    "DOB": _fmt(child.dob),
                    "ETHNIC": child.ethnic,
                    "UPN": child.upn,
                    "MOTHER": "0" if child.sex == "2" else "",
                    "MC_DOB": "",
                }
            )
            for e in these:
                open_at_end = e["DEC"] is None or e["DEC"] > y1
                rows[year]["episodes"].append(
                    {
                        "CHILD": child.id,
                        "DECOM": _fmt(e["DECOM"]),
                        "RNE": e["RNE"],
                        "LS": e["LS"],
                        "CIN": _cin_at(child, e["DECOM"]),
                        "PLACE": e["PLACE"],
                        "PLACE_PROVIDER": e["PLACE_PROVIDER"],
                        "DEC": "" if open_at_end else _fmt(e["DEC"]),
                        "REC": "" if open_at_end else e["REC"],
                        "REASON_PLACE_CHANGE": "" if open_at_end else e["REASON_PLACE_CHANGE"],
                        "HOME_POST": e["HOME_POST"],
                        "PL_POST": e["PL_POST"],
                        "URN": e["URN"],
                    }
                )
            if child.uasc:  # the date UASC status ceases is the 18th birthday, recorded ahead (rule 205B)
                rows[year]["uasc"].append({"CHILD": child.id, "SEX": sex, "DOB": _fmt(child.dob), "DUC": _fmt(child.dob + pd.DateOffset(years=18))})
            whole = child.whole_age(y1)
            continuous = any(pr["start"] <= y1 - pd.Timedelta(days=365) and (pr["end"] is None or pr["end"] > y1) for pr in child.periods)
            if continuous:  # OC2: every child looked after for 12 months at 31 March, items by age (rules 186-191, 542, 546)
                sdq = whole >= 4 and child.whole_age(y0) < 17
                score = int(round(np.clip(child.sdq + rng.normal(0, 2), 0, 40)))
                rows[year]["oc2"].append(
                    {
                        "CHILD": child.id,
                        "DOB": _fmt(child.dob),
                        "SDQ_SCORE": str(score) if sdq else "",
                        "SDQ_REASON": "",
                        "CONVICTED": "0" if whole >= 10 else "",
                        "HEALTH_CHECK": "1" if whole < 5 else "",
                        "IMMUNISATIONS": "1",
                        "TEETH_CHECK": "1",
                        "HEALTH_ASSESSMENT": "1",
                        "SUBSTANCE_MISUSE": "0",
                        "INTERVENTION_RECEIVED": "",
                        "INTERVENTION_OFFERED": "",
                    }
                )
            if whole >= 11 and rng.random() < 0.08 + child.sdq / 200:  # missing: while looked after, within the year
                lo = max(y0, min(e["DECOM"] for e in these))
                ends = [e["DEC"] for e in these if e["DEC"] is not None and e["DEC"] <= y1 and e["REC"] not in ("", "X1")]
                hi = min([y1, *ends]) - pd.Timedelta(days=3)
                if hi > lo:
                    day = lo + pd.Timedelta(days=int(rng.integers(0, (hi - lo).days + 1)))
                    rows[year]["missing"].append(
                        {
                            "CHILD": child.id,
                            "DOB": _fmt(child.dob),
                            "MISSING": "M" if rng.random() < 0.7 else "A",
                            "MIS_START": _fmt(day),
                            "MIS_END": _fmt(day + pd.Timedelta(days=int(rng.integers(0, 3)))),
                        }
                    )
    from analysis.io.ssda903 import TABLES

    out.mkdir(parents=True, exist_ok=True)
    written = {}
    for year, tables in rows.items():
        folder = out / f"{year - 1}-{str(year)[2:]}"
        folder.mkdir(exist_ok=True)
        for name, data in tables.items():
            df = pd.DataFrame(data, columns=list(TABLES[name][1]))
            df.to_csv(folder / f"{name}.csv", index=False, lineterminator="\n")
            written[f"{folder.name}/{name}.csv"] = len(df)
    costs_dir = costs_dir or out / "costs"
    costs_dir.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(costs, columns=COST_COLUMNS).to_csv(costs_dir / "placement_costs.csv", index=False, lineterminator="\n")
    (out / "LA_CODE").write_text(sim.la + "\n")
    return written


#: the placement weekly-cost file (the 903 has no costs): one row per placement


def generate(
    p: Paths, la_code: str, seed: int, out: Path, *, calibrate: bool = True, costs_dir: Path | None = None, progress: Progress | None = None
) -> dict:
    """Simulate (tuning the move rate to the published 3+ placements figure), write everything.
    ``progress`` hears of each calibration round and the writing (up to seven steps)."""
    say = progress.advance if progress is not None else (lambda message="": None)
    from analysis.io.geography import ltla_to_utla, postcode_cache, resolve_la
    from analysis.io.ingest import read_table

    li = read_table(p, "la_indicators")
    la = resolve_la(la_code, read_table(p, "la_lookup"))
    t = targets_for(li, la["la_code"])
    places = places_for(la["la_code"], ltla_to_utla(p.raw_public), np.random.default_rng(seed), postcode_cache(p))
    scale, multipliers, history, best = 1.0, None, [], None
    for _ in range(6 if calibrate else 1):
        sim = Simulation(la["la_code"], t, places, seed, scale, multipliers)
        sim.run()
        got = snapshot(sim, LAST_YEAR)
        history.append(
            {
                "scale": round(scale, 4),
                **{k: round(v, 4) for k, v in got.items()},
                "relabelled_at_31_march": dict(sim.relabelled),
                "children_relabelled": dict(sim.relabelled_children),
            }
        )
        multipliers = sim.m
        off = abs(got["three_plus"] - t.three_plus)
        say(
            f"synth: round {len(history)}: {len(sim.children):,} children; 3+ placements {100 * got['three_plus']:.1f}% (published {100 * t.three_plus:.1f}%)"
        )
        if best is None or off < best[0]:
            best = (off, sim, scale, len(history) - 1)
        if not calibrate or off < 0.01:
            break
        if got["three_plus"] > 0:  # (bounded: in the smallest LAs one child moves the share a lot)
            scale = float(np.clip(scale * (t.three_plus / got["three_plus"]) ** 0.8, 0.4, 3.0))
    _, sim, scale, chosen = best  # the run closest to the published share with 3+ placements
    history[chosen]["chosen"] = True
    written = write_returns(sim, out, costs_dir)
    say(f"synth: wrote {len(written)} files")
    latest = {d: dict(zip(DIMENSIONS[d], (int(v) for v in t.stock[d][LAST_YEAR]))) for d in DIMENSIONS}
    n_last = t.cla[LAST_YEAR] or 1
    truth = {
        "la_code": la["la_code"],
        "la_name": la["la_name"],
        "seed": seed,
        "collection_years": [FIRST_YEAR, LAST_YEAR],
        "children": len(sim.children),
        "files": written,
        "breakdown_model": {
            "outcome": "unplanned ending of a placement (reasons CREQB, CREQO, CHILD, ALLEG, STAND, CLOSE, LAREQ)",
            "form": "cause-specific hazard, log hazard ratios",
            "effects": BREAKDOWN_EFFECTS,
            "baseline_per_day": 0.00055 * scale,
            "planned_move_rate_per_day": 0.00045 * scale,
        },
        "cost_model": {
            "form": "log weekly cost = log(base by type and provider) + effects + N(0, 0.18)",
            "effects": COST_EFFECTS,
            "base_weekly_cost": {f"{g} / {p_}": v for (g, p_), v in BASE_WEEKLY_COST.items()},
        },
        "targets": {
            "cla_31_march": {str(k): v for k, v in t.cla.items()},
            "starts": {str(k): v for k, v in t.starts.items()},
            "at_31_march_latest_year": latest,
            "outside": sum(v for k, v in latest["location"].items() if k.startswith("outside")) / n_last,
            "over20": sum(v for k, v in latest["location"].items() if k.endswith("over_20")) / n_last,
            "three_plus": t.three_plus,
            "notes": t.notes,
        },
        "calibration": history,
        "demand": planted_demand(sim),
        "notes": sim.notes,
    }
    (out / "truth.json").write_text(json.dumps(truth, indent=2, default=str) + "\n")
    return truth


def snapshot(sim: Simulation, year: int) -> dict[str, float]:
    """Shares among children looked after at 31 March (from the simulation, before writing): 3+
    placements in the year, placed outside the LA, more than 20 miles from home."""
    y0, y1 = pd.Timestamp(year - 1, 4, 1), pd.Timestamp(year, 3, 31)
    n = three = out = far = 0
    for c in sim.children:
        for period in c.periods:
            if period["start"] <= y1 and (period["end"] is None or period["end"] > y1):
                n += 1
                in_year = [pl for pl in period["placements"] if pl["start"] <= y1 and (pl["end"] is None or pl["end"] >= y0)]
                three += len(in_year) >= 3
                now = [pl for pl in in_year if pl["end"] is None or pl["end"] > y1]
                if now:
                    out += now[0]["outside"]
                    far += now[0]["miles"] > 20
    return {"three_plus": three / n if n else 0.0, "outside": out / n if n else 0.0, "over20": far / n if n else 0.0}


def placement_frame(sim: Simulation, since: pd.Timestamp | None = None) -> pd.DataFrame:
    """Every placement the simulation made (from ``since``), with the generator's own covariates at
    its start, its length in days to its end or the end of the data, and whether it ended unplanned:
    the data to check that the planted breakdown effects are the effects the data carry."""
    since = since if since is not None else pd.Timestamp(FIRST_YEAR - 1, 4, 1)
    rows = []
    for c in sim.children:
        for period in c.periods:
            for pl in period["placements"]:
                if pl["start"] < since or pl["start"] > sim.end:
                    continue
                end = pl["end"] if pl["end"] is not None else period["end"]
                event = bool(pl["unplanned"]) and end is not None and end <= sim.end
                stop = min(end, sim.end) if end is not None else sim.end
                age = c.age(pl["start"])
                rows.append(
                    {
                        "days": max((stop - pl["start"]).days, 0.5),
                        "unplanned": event,
                        "age_10_15": float(10 <= age < 16),
                        "age_16_plus": float(age >= 16),
                        "childrens_home": float(pl["group"] == "children's home"),
                        "supported": float(pl["group"] == "independent or supported"),
                        "kinship": float(pl["group"] == "kinship foster"),
                        "over_20_miles": float(pl["miles"] > 20),
                        "outside_la": float(pl["outside"]),
                        "previous_moves": float(min(pl["previous"], 5)),
                        "sdq_per_5_points": (c.sdq - 14) / 5,
                        "group": pl["group"],
                    }
                )
    return pd.DataFrame(rows)


def planted_demand(sim: Simulation) -> dict:
    """What the simulation did, month by month, counted from its own records (exact dates of birth,
    its own placements; not the 903 files): for each collection year, children in care at one month
    end by age band and forecast group (``exposure``, excluding those who reached 18 and left), those
    who left care by the next (``exits``), their group a month later if still in care (``moves``), and
    children who entered care during the month and were in care at its end (``entries``, by band and
    group). Paper 04's truth check sets the model's estimated rates beside these."""
    from analysis.stats.forecast import BANDS, GROUP_OF, GROUPS

    gi = {g: i for i, g in enumerate(GROUPS)}
    rows = []
    for k, c in enumerate(sim.children):
        for period in c.periods:
            for pl in period["placements"]:
                rows.append(
                    (
                        k,
                        c.dob,
                        period["start"],
                        pl["start"],
                        pl["end"] if pl["end"] is not None else period["end"],
                        gi[GROUP_OF.get(pl["group"], "other")],
                    )
                )
    p = pd.DataFrame(rows, columns=["child", "dob", "pstart", "start", "end", "g"])
    p["end"] = pd.to_datetime(p["end"])
    edges = [lo for _, lo, _ in BANDS] + [99]
    days = pd.date_range(pd.Timestamp(FIRST_YEAR - 1, 3, 31), sim.end, freq="ME")

    def on(day: pd.Timestamp) -> pd.DataFrame:
        s = p[(p["start"] <= day) & (p["end"].isna() | (p["end"] > day))].sort_values("start").drop_duplicates("child", keep="last")
        age = np.floor((day - s["dob"]).dt.days / 365.25).clip(0, 17)
        return s.assign(band=np.searchsorted(edges, age, side="right") - 1).set_index("child")

    nb, ng = len(BANDS), len(GROUPS)
    out: dict[str, dict] = {}
    s0 = on(days[0])
    for d0, d1 in zip(days[:-1], days[1:]):
        s1 = on(d1)
        year = d1.year + (d1.month > 3)
        y = out.setdefault(
            str(year),
            {
                "months": 0,
                "exposure": np.zeros((nb, ng)),
                "exits": np.zeros((nb, ng)),
                "moves": np.zeros((nb, ng, ng)),
                "entries": np.zeros((nb, ng)),
            },
        )
        y["months"] += 1
        stayed = s0.index.isin(s1.index)
        aged_out = ~stayed & (s0["dob"] + pd.DateOffset(years=18) <= d1).to_numpy()
        risk = ~aged_out
        np.add.at(y["exposure"], (s0["band"].to_numpy()[risk], s0["g"].to_numpy()[risk]), 1)
        ex = ~stayed & risk
        np.add.at(y["exits"], (s0["band"].to_numpy()[ex], s0["g"].to_numpy()[ex]), 1)
        st = s0[stayed]
        np.add.at(y["moves"], (st["band"].to_numpy(), st["g"].to_numpy(), s1.loc[st.index, "g"].to_numpy()), 1)
        new = s1[~s1.index.isin(s0.index) & (s1["pstart"] > d0) & (s1["pstart"] <= d1)]
        np.add.at(y["entries"], (new["band"].to_numpy(), new["g"].to_numpy()), 1)
        s0 = s1
    return {
        "bands": [b for b, _, _ in BANDS],
        "groups": list(GROUPS),
        "by_year": {k: {n: (v.astype(int).tolist() if isinstance(v, np.ndarray) else v) for n, v in d.items()} for k, d in out.items()},
    }
