"""A synthetic SSDA903 for any LA, calibrated to its published figures, with planted effects.

``analysis synth --la CODE --seed N --out DIR`` writes, for ten collection years, the CSV files an
LA exports (``YYYY-YY/header.csv``, ``episodes.csv``, ``uasc.csv``, ``missing.csv``, ``oc2.csv``),
a placement weekly-cost file (``costs/placement_costs.csv``), an ``LA_CODE`` file and
``truth.json``. Nothing in it is real child data; the postcodes are real (ONS Postcode Directory),
so derived distances are real distances.

How it is built (a microsimulation, one child at a time, deterministic for a seed):

* **Stock and flows.** The children looked after at 31 March of the first year come from the
  published count; each later year has the published number of starts, and enough children leave
  (young people at 18 first) for the count at 31 March to match the published one.
* **Who.** Ages at entry follow the published age mix at 31 March (older children stay shorter);
  sex, ethnicity, category of need and legal status from national shares.
* **Placements.** Each placement's type, provider and location are drawn from the LA's published
  mix (placement type, provider, inside/outside the boundary, over 20 miles), adjusted by age.
  Each placement ends by whichever comes first of two competing hazards: an **unplanned ending**
  (carer or child asked, allegation, standards, closure) whose hazard has the planted effects in
  ``truth.json``, and a **planned move**. A common scale on both is tuned so the share of children
  with 3+ placements in a year matches the published figure.
* **Costs.** Weekly cost = base cost of the type and provider x exp(planted effects of being out
  of area, age and needs) x log-normal noise.

The calibration achieved is recorded in ``truth.json`` beside the targets, and a test checks it
against stated tolerances for three LAs.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .config import Paths
from .costs import COST_COLUMNS
from .errors import AnalysisError

FIRST_YEAR, LAST_YEAR = 2016, 2025  # collection years written (2015-16 to 2024-25)
DAY = pd.Timedelta(days=1)

#: planted effects on the hazard of an unplanned ending (log hazard ratios, per unit)
BREAKDOWN_EFFECTS = {
    "age_10_15": 0.45,            # aged 10-15 at the start of the placement (against under 10)
    "age_16_plus": 0.30,          # aged 16-17
    "childrens_home": 0.55,       # children's home (against fostering)
    "supported": 0.25,            # independent / supported accommodation
    "kinship": -0.50,             # kinship foster care
    "over_20_miles": 0.35,        # placed more than 20 miles from home
    "outside_la": 0.20,           # placed outside the LA boundary
    "previous_moves": 0.12,       # per earlier placement in the period of care (capped at 5)
    "sdq_per_5_points": 0.18,     # per 5 points of the child's SDQ total difficulties score
}
#: planted effects on weekly cost (log scale)
COST_EFFECTS = {"outside_la": 0.12, "age_per_year_over_10": 0.02, "sdq_per_5_points": 0.05, "disability_n2": 0.25}
BASE_WEEKLY_COST = {  # £ a week by (group, provider group), before effects
    ("foster", "own"): 480, ("foster", "external"): 950, ("kinship foster", "own"): 330, ("kinship foster", "external"): 700,
    ("children's home", "own"): 4600, ("children's home", "external"): 5600, ("independent or supported", "own"): 1200,
    ("independent or supported", "external"): 1900, ("secure", "own"): 7800, ("secure", "external"): 8200,
    ("with parents", "own"): 60, ("adoption", "own"): 250, ("adoption", "external"): 650, ("other residential", "external"): 3800,
    ("residential school", "external"): 4200, ("other", "own"): 400, ("other", "external"): 900,
    ("other residential", "own"): 3400, ("residential school", "own"): 3900, ("custody", "own"): 400,
}
ETHNIC_SHARES = {"WBRI": 0.68, "WOTH": 0.05, "MWBC": 0.04, "MOTH": 0.05, "APKN": 0.02, "AOTH": 0.02, "BAFR": 0.04, "BCRB": 0.02,
                 "BOTH": 0.02, "OOTH": 0.04, "NOBT": 0.02}
CIN_SHARES = {"N1": 0.65, "N2": 0.03, "N3": 0.03, "N4": 0.07, "N5": 0.13, "N6": 0.01, "N7": 0.01, "N8": 0.07}


@dataclass
class Targets:
    """What the LA published, by year ending 31 March (missing years filled by interpolation)."""

    cla: dict[int, float]
    starts: dict[int, float]
    age_share: dict[str, float]
    place_share: dict[str, float]
    provider_external: float
    outside: float
    over20: float
    three_plus: float
    notes: list[str] = field(default_factory=list)


#: a published count suppressed by DfE ("c": 1 to 4) is taken as this many children when calibrating
SUPPRESSED_COUNT_AS = 2.0


def _series(li: pd.DataFrame, code: str, indicator: str, measure: str) -> dict[int, float]:
    s = li[(li["area_code"] == code) & (li["indicator"] == indicator) & (li["measure"] == measure)]
    if measure == "number":  # a suppressed count is 1 to 4 children, not missing: the smallest LAs have only such counts
        s = s.assign(value=s["value"].where(s["value"].notna() | (s["flag"].astype(str) != "c"), SUPPRESSED_COUNT_AS))
    s = s.dropna(subset=["value"])
    return {int(y): float(v) for y, v in zip(s["year"], s["value"])}


def _fill(values: dict[int, float], years: range) -> dict[int, float]:
    known = sorted(values)
    if not known:
        raise AnalysisError("no published figures to calibrate to")
    return {y: float(np.interp(y, known, [values[k] for k in known])) for y in years}


def _latest(li: pd.DataFrame, code: str, indicator: str, measure: str = "percent") -> float | None:
    s = _series(li, code, indicator, measure)
    return s[max(s)] / 100 if s else None


def targets_for(li: pd.DataFrame, la_code: str) -> Targets:
    """Published figures for the LA (England's shares where the LA's are suppressed)."""
    years = range(FIRST_YEAR - 1, LAST_YEAR + 1)
    notes = []
    cla = _fill(_series(li, la_code, "cla_31_march", "number"), years)
    starts_known = _series(li, la_code, "cla_started", "number")
    if starts_known:
        usable = [starts_known[y] / cla[y] for y in starts_known if cla.get(y, 0) > 0]
        ratio = float(np.mean(usable)) if usable else 0.5
        starts = {y: starts_known.get(y, ratio * cla[y]) for y in years}
        if min(starts_known) > FIRST_YEAR:
            notes.append(f"starts before {min(starts_known)} estimated as {ratio:.2f} x children looked after (the published ratio)")
    else:
        raise AnalysisError(f"no published starts for {la_code}")

    def share(ind: str) -> float:
        v = _latest(li, la_code, ind)
        if v is None:
            v = _latest(li, "E92000001", ind) or 0.0
            notes.append(f"{ind}: LA value suppressed, England share used")
        return v

    ages = {k: share(f"age_{k}") for k in ("under_1", "1_to_4", "5_to_9", "10_to_15", "16_and_over")}
    total = sum(ages.values()) or 1
    places = {"foster": share("placement_foster"), "children's home": share("placement_secure_and_childrens_homes"),
              "independent or supported": share("placement_independent_supported"), "with parents": share("placement_with_parents"),
              "adoption": share("placement_adoption")}
    places["other"] = max(0.02, 1 - sum(places.values()))
    ext = share("provider_private") + share("provider_voluntary")
    return Targets(cla=cla, starts=starts, age_share={k: v / total for k, v in ages.items()}, place_share=places,
                   provider_external=ext, outside=share("locality_outside"), over20=share("distance_over_20"),
                   three_plus=share("placements_3plus_year"), notes=notes)


# --- postcodes --------------------------------------------------------------------------------------
@dataclass
class Places:
    inside: pd.DataFrame   # postcode, easting, northing (in the LA)
    around: pd.DataFrame   # postcodes in other LAs within 120 miles


def places_for(la_code: str, utla_of: dict[str, str], rng: np.random.Generator, cache: Path | None = None) -> Places:
    from .geography import full_postcode_directory

    df = full_postcode_directory(cache)
    df = df[df["ltla"].str.startswith("E") & df["easting"].notna()]
    utla = df["ltla"].map(lambda c: utla_of.get(c, c))
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
# how much more often each band enters than it is present at 31 March (older children stay shorter)
ENTRY_WEIGHT = {"under_1": 2.6, "1_to_4": 1.1, "5_to_9": 0.8, "10_to_15": 0.85, "16_and_over": 1.6}


#: placements settle: after the first year the hazards of ending fall to this fraction
SETTLED_AFTER_DAYS, SETTLED_FACTOR = 365, 0.3


def _settled(t: float) -> float:
    """A time drawn at a constant hazard, re-timed so the hazard falls after the first year."""
    return t if t <= SETTLED_AFTER_DAYS else SETTLED_AFTER_DAYS + (t - SETTLED_AFTER_DAYS) / SETTLED_FACTOR


def _fmt(d: pd.Timestamp) -> str:
    return d.strftime("%d/%m/%Y")


class Simulation:
    def __init__(self, la_code: str, targets: Targets, places: Places, seed: int, scale: float = 1.0,
                 out_factor: float = 1.0, far_factor: float = 1.0):
        self.la, self.t, self.places, self.seed, self.scale = la_code, targets, places, seed, scale
        self.out_factor, self.far_factor = out_factor, far_factor
        self.rng = np.random.default_rng(seed)
        # plain arrays: drawing a postcode is the inner loop of the simulation
        self._in = [dict(postcode=pc, easting=e, northing=n) for pc, e, n in places.inside[["postcode", "easting", "northing"]].itertuples(index=False)]
        self._ar_pc = places.around["postcode"].to_numpy()
        self._ar_e = places.around["easting"].to_numpy(dtype=float)
        self._ar_n = places.around["northing"].to_numpy(dtype=float)
        self.children: list[dict] = []
        self.start = pd.Timestamp(FIRST_YEAR - 1, 3, 31)
        self.end = pd.Timestamp(LAST_YEAR, 3, 31)

    # -- children
    def _new_child(self, age_band: str, on: pd.Timestamp) -> dict:
        rng = self.rng
        lo, hi = AGE_BANDS[age_band]
        age_days = int(rng.uniform(lo * 365.25, hi * 365.25 - 20))
        dob = on - pd.Timedelta(days=age_days)
        n = len(self.children)
        child = {
            "id": f"{self.seed % 1000:03d}{n + 1:06d}", "dob": dob, "sex": "1" if rng.random() < 0.56 else "2",
            "ethnic": rng.choice(list(ETHNIC_SHARES), p=np.array(list(ETHNIC_SHARES.values())) / sum(ETHNIC_SHARES.values())),
            "sdq": float(np.clip(rng.normal(14, 6.5), 0, 40)), "home": self._in[int(rng.integers(len(self._in)))],
            "cin": rng.choice(list(CIN_SHARES), p=np.array(list(CIN_SHARES.values())) / sum(CIN_SHARES.values())),
            "uasc": bool(age_band in ("10_to_15", "16_and_over") and rng.random() < 0.04), "periods": [],
        }
        self.children.append(child)
        return child

    def _age(self, child: dict, on: pd.Timestamp) -> float:
        return (on - child["dob"]).days / 365.25

    # -- one placement's setting
    def _setting(self, child: dict, on: pd.Timestamp) -> dict:
        rng, t = self.rng, self.t
        age = self._age(child, on)
        w = dict(t.place_share)
        if age < 1:
            w.update({"children's home": 0.0, "independent or supported": 0.0})
        if age < 16:
            w["independent or supported"] = 0.0
        if age >= 16:
            w["independent or supported"] *= 6
            w["adoption"] = 0.0
        if age >= 5:
            w["adoption"] *= 0.1
        if age >= 10:
            w["children's home"] *= 2.0
        else:
            w["children's home"] *= 0.2
        groups, p = list(w), np.array(list(w.values()))
        group = groups[int(rng.choice(len(groups), p=p / p.sum()))]
        if group == "foster" and rng.random() < 0.22:
            group = "kinship foster"
        place = {"foster": rng.choice(["U4", "U6"], p=[0.45, 0.55]), "kinship foster": rng.choice(["U1", "U3"], p=[0.4, 0.6]),
                 "children's home": "K2", "independent or supported": "H5", "with parents": "P1", "adoption": rng.choice(["A4", "A6"]),
                 "other": rng.choice(["R1", "R3", "S1", "Z1"])}[group]
        if group == "independent or supported" and on >= pd.Timestamp(2024, 4, 1):
            place = "K3"
        if group == "children's home" and rng.random() < 0.03:
            place = "K1"
        external = {"foster": t.provider_external * 1.1, "kinship foster": 0.05, "children's home": 0.8,
                    "independent or supported": 0.85, "adoption": 0.3, "other": 0.6}.get(group, 0.0)
        provider = "PR0" if place == "P1" else ("PR4" if rng.random() < 0.8 else "PR5") if rng.random() < min(external, 0.95) else "PR1"
        if place in ("R1", "S1", "Z1") and provider == "PR1":
            provider = "PR4"
        home = child["home"]
        if place == "P1":
            post = home
            outside = False
        else:
            out_p = self.out_factor * t.outside * {"children's home": 1.5, "independent or supported": 1.1, "kinship foster": 0.8}.get(group, 0.9)
            outside = rng.random() < min(out_p, 0.97)
            if outside:
                far = rng.random() < min(0.97, self.far_factor * t.over20 / max(t.outside, 0.05) * {"children's home": 1.4}.get(group, 0.9))
                d = np.hypot(self._ar_e - home["easting"], self._ar_n - home["northing"]) / 1609.3
                pool = np.flatnonzero((d > 20) & (d < 110)) if far else np.flatnonzero(d <= 20)
                if pool.size == 0:
                    pool = np.arange(len(d))
                j = int(pool[int(rng.integers(pool.size))])
                post = {"postcode": self._ar_pc[j], "easting": self._ar_e[j], "northing": self._ar_n[j]}
            else:
                post = self._in[int(rng.integers(len(self._in)))]
        miles = float(np.hypot(post["easting"] - home["easting"], post["northing"] - home["northing"]) / 1609.3)
        return {"group": group, "place": place, "provider": provider, "post": post["postcode"], "outside": outside, "miles": miles,
                "urn": "" if place in ("P1", "R1", "Z1") else f"SC{int(rng.integers(100000, 999999))}"}

    def _unplanned_lp(self, child: dict, setting: dict, on: pd.Timestamp, previous: int) -> float:
        b = BREAKDOWN_EFFECTS
        age = self._age(child, on)
        lp = 0.0
        lp += b["age_10_15"] * (10 <= age < 16) + b["age_16_plus"] * (age >= 16)
        lp += b["childrens_home"] * (setting["group"] == "children's home") + b["supported"] * (setting["group"] == "independent or supported")
        lp += b["kinship"] * (setting["group"] == "kinship foster")
        lp += b["over_20_miles"] * (setting["miles"] > 20) + b["outside_la"] * setting["outside"]
        lp += b["previous_moves"] * min(previous, 5) + b["sdq_per_5_points"] * (child["sdq"] - 14) / 5
        return lp

    # -- one period of care
    def _period(self, child: dict, start: pd.Timestamp, end: pd.Timestamp | None) -> None:
        rng = self.rng
        horizon = end if end is not None else self.end + pd.Timedelta(days=400)
        placements = []
        on, previous = start, 0
        while on < horizon:
            s = self._setting(child, on)
            lp = self._unplanned_lp(child, s, on, previous)
            unplanned_rate = self.scale * 0.00055 * math.exp(lp)    # per day
            planned_rate = self.scale * 0.00045 * (1.6 if s["group"] in ("independent or supported", "with parents") else 1.0)
            t_u, t_p = _settled(rng.exponential(1 / unplanned_rate)), _settled(rng.exponential(1 / planned_rate))
            length = max(3, int(min(t_u, t_p)))
            stop = on + pd.Timedelta(days=length)
            if s["group"] == "adoption":
                stop = max(stop, horizon)  # an adoptive placement lasts until the adoption order
            if stop >= horizon:
                placements.append({**s, "start": on, "end": None, "unplanned": False})
                break
            reason = (rng.choice(["CREQB", "CREQO", "CHILD", "ALLEG", "STAND", "CLOSE", "LAREQ"], p=[.32, .2, .14, .06, .06, .1, .12])
                      if t_u < t_p else rng.choice(["CARPL", "OTHER"], p=[.65, .35]))
            placements.append({**s, "start": on, "end": stop, "unplanned": t_u < t_p, "reason": reason})
            on, previous = stop, previous + 1
        ls = rng.choice(["C1", "V2", "L2", "J1"], p=[0.55, 0.38, 0.05, 0.02])
        child["periods"].append({"start": start, "end": end, "ls": ls, "placements": placements})

    def run(self) -> None:
        rng, t = self.rng, self.t
        # stock at the start
        n0 = int(round(t.cla[FIRST_YEAR - 1]))
        bands, p = list(t.age_share), np.array(list(t.age_share.values()))
        active = []
        for _ in range(n0):
            child = self._new_child(bands[int(rng.choice(len(bands), p=p / p.sum()))], self.start)
            age = self._age(child, self.start)
            begun = self.start - pd.Timedelta(days=int(min(age * 365.25 - 1, rng.exponential(800))))
            active.append((child, begun))
        entry_p = np.array([t.age_share[b] * ENTRY_WEIGHT[b] for b in bands])
        pending: list[tuple[dict, pd.Timestamp, pd.Timestamp | None]] = []
        for year in range(FIRST_YEAR, LAST_YEAR + 1):
            y0, y1 = pd.Timestamp(year - 1, 4, 1), pd.Timestamp(year, 3, 31)
            starts = int(round(t.starts[year]))
            leavers_needed = len(active) + starts - int(round(t.cla[year]))
            # young people reaching 18 leave; then others, older ones more often
            eighteen = [(c, b) for c, b in active if self._age(c, y1) >= 18]
            rest = [(c, b) for c, b in active if self._age(c, y1) < 18]
            extra = max(0, leavers_needed - len(eighteen))
            w = np.array([0.5 + self._age(c, y1) / 6 for c, _ in rest])
            idx = set(rng.choice(len(rest), size=min(extra, len(rest)), replace=False, p=w / w.sum()).tolist()) if rest and extra else set()
            still = []
            for i, (c, b) in enumerate(rest):
                if i in idx:
                    pending.append((c, b, y0 + pd.Timedelta(days=int(rng.integers(0, 365)))))
                else:
                    still.append((c, b))
            for c, b in eighteen:
                birthday = c["dob"] + pd.DateOffset(years=18)
                pending.append((c, b, max(b + pd.Timedelta(days=30), min(birthday, y1))))
            active = still
            for _ in range(starts):
                on = y0 + pd.Timedelta(days=int(rng.integers(0, 365)))
                active.append((self._new_child(bands[int(rng.choice(len(bands), p=entry_p / entry_p.sum()))], on), on))
        for c, b, e in pending:
            self._period(c, b, max(e, b + pd.Timedelta(days=1)))
        for c, b in active:
            self._period(c, b, None)


# --- writing the returns ---------------------------------------------------------------------------------
EXIT_CODES = {"young": (["E4A", "E4B", "E11", "E45", "E47", "E41", "E13"], [0.35, 0.08, 0.2, 0.12, 0.12, 0.08, 0.05]),
              "older": (["E4A", "E4B", "E8", "E13", "E47", "E5", "E6"], [0.35, 0.15, 0.1, 0.1, 0.1, 0.12, 0.08]),
              "adult": (["E17", "E5", "E6", "E8"], [0.25, 0.4, 0.25, 0.1])}


def episodes_of(sim: Simulation, child: dict) -> list[dict]:
    """The child's episodes: one per placement, plus a legal-status change (C1 -> C2) and an
    occasional holiday (T2) inside long foster placements, with DfE codes."""
    rng = sim.rng
    out = []
    for period in child["periods"]:
        ls = period["ls"]
        c2_on = period["start"] + pd.Timedelta(days=int(rng.integers(120, 300))) if ls == "C1" else None
        for k, pl in enumerate(period["placements"]):
            rne = "S" if k == 0 else "P"
            start, end = pl["start"], pl["end"] if pl["end"] is not None else period["end"]
            if end is not None and period["end"] is not None:
                end = min(end, period["end"])
            pieces = [(start, end, rne, ls)]
            if c2_on is not None and start < c2_on and (end is None or c2_on < end):
                pieces = [(start, c2_on, rne, "C1"), (c2_on, end, "L", "C2")]
                ls = "C2"
            elif c2_on is not None and start >= c2_on:
                ls = "C2"
                pieces = [(start, end, rne, "C2")]
            holiday = pl["group"] in ("foster", "kinship foster") and end is not None and (end - start).days > 200 and rng.random() < 0.08
            for j, (a, b, r_, l_) in enumerate(pieces):
                last_piece = j == len(pieces) - 1
                rec = "X1" if not last_piece or (b is not None and (period["end"] is None or b < period["end"])) else ""
                reason = pl.get("reason", "") if last_piece and rec == "X1" and b is not None and (period["end"] is None or b < period["end"]) else ""
                if last_piece and b is not None and period["end"] is not None and b >= period["end"]:
                    age = sim._age(child, b)
                    codes, p = EXIT_CODES["adult" if age >= 17.9 else "older" if age >= 10 else "young"]
                    rec = str(rng.choice(codes, p=p))
                    if pl["place"] in ("A4", "A6"):
                        rec = "E11"
                ep = {"DECOM": a, "RNE": r_, "LS": l_, "PLACE": pl["place"], "PLACE_PROVIDER": pl["provider"], "DEC": b, "REC": rec if b is not None else "",
                      "REASON_PLACE_CHANGE": reason if rec == "X1" and last_piece else "", "HOME_POST": child["home"]["postcode"],
                      "PL_POST": pl["post"], "URN": pl["urn"], "_pl": pl}
                if holiday and j == 0 and b is not None:
                    mid = a + (b - a) / 2
                    mid = pd.Timestamp(mid.date())
                    back = mid + pd.Timedelta(days=7)
                    if back < b:
                        out.append({**ep, "DEC": mid, "REC": "X1", "REASON_PLACE_CHANGE": ""})
                        out.append({**ep, "DECOM": mid, "RNE": "P", "PLACE": "T2", "PLACE_PROVIDER": "", "DEC": back, "REC": "X1",
                                    "REASON_PLACE_CHANGE": "", "PL_POST": "", "URN": ""})
                        ep = {**ep, "DECOM": back, "RNE": "P"}
                out.append(ep)
    return out


def base_weekly_cost(place: str, external: bool) -> float:
    """The planted base weekly cost of a placement: by its type group as the 903 ingest groups PLACE
    codes (``ssda903_rules.PLACE_GROUP``) and whether the provider is external (PR4, PR5)."""
    from .ssda903_rules import PLACE_GROUP

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
                age = sim._age(child, e["DECOM"])
                ext = pl["provider"] in ("PR4", "PR5")
                base = base_weekly_cost(e["PLACE"], ext)
                ce = COST_EFFECTS
                lp = ce["outside_la"] * pl["outside"] + ce["age_per_year_over_10"] * max(0.0, age - 10) + ce["sdq_per_5_points"] * (child["sdq"] - 14) / 5 + ce["disability_n2"] * (child["cin"] == "N2")
                cost = base * math.exp(lp + rng.normal(0, 0.18))
                costs.append({"CHILD": child["id"], "PLACEMENT_START": _fmt(e["DECOM"]), "WEEKLY_COST": f"{cost:.2f}",
                              "PROVIDER": pl["provider"], "FUNDING": "joint" if child["cin"] == "N2" and rng.random() < 0.4 else "LA"})
        for year in range(FIRST_YEAR, LAST_YEAR + 1):
            y0, y1 = pd.Timestamp(year - 1, 4, 1), pd.Timestamp(year, 3, 31)
            these = [e for e in eps if e["DECOM"] <= y1 and (e["DEC"] is None or e["DEC"] >= y0)]
            if not these:
                continue
            sex = child["sex"] if year <= 2024 else {"1": "M", "2": "F"}[child["sex"]]
            rows[year]["header"].append({"CHILD": child["id"], "SEX": sex, "DOB": _fmt(child["dob"]), "ETHNIC": child["ethnic"],
                                         "UPN": "UN1" if sim._age(child, y1) < 4 else "", "MOTHER": "", "MC_DOB": ""})
            for e in these:
                open_at_end = e["DEC"] is None or e["DEC"] > y1
                rows[year]["episodes"].append({
                    "CHILD": child["id"], "DECOM": _fmt(e["DECOM"]), "RNE": e["RNE"], "LS": e["LS"], "CIN": child["cin"],
                    "PLACE": e["PLACE"], "PLACE_PROVIDER": e["PLACE_PROVIDER"], "DEC": "" if open_at_end else _fmt(e["DEC"]),
                    "REC": "" if open_at_end else e["REC"], "REASON_PLACE_CHANGE": "" if open_at_end else e["REASON_PLACE_CHANGE"],
                    "HOME_POST": e["HOME_POST"], "PL_POST": e["PL_POST"], "URN": e["URN"]})
            if child["uasc"]:
                ceased = child["dob"] + pd.DateOffset(years=18)
                rows[year]["uasc"].append({"CHILD": child["id"], "SEX": sex, "DOB": _fmt(child["dob"]), "DUC": _fmt(ceased) if ceased <= y1 else ""})
            first = min(e["DECOM"] for e in eps)
            age_end = sim._age(child, y1)
            if first <= y1 - pd.Timedelta(days=365) and any(e["DEC"] is None or e["DEC"] > y1 for e in these) and 4 <= age_end < 17:
                score = int(round(np.clip(child["sdq"] + rng.normal(0, 2), 0, 40)))
                rows[year]["oc2"].append({"CHILD": child["id"], "DOB": _fmt(child["dob"]), "SDQ_SCORE": str(score), "SDQ_REASON": "",
                                          "CONVICTED": "0", "HEALTH_CHECK": "1", "IMMUNISATIONS": "1", "TEETH_CHECK": "1",
                                          "HEALTH_ASSESSMENT": "1", "SUBSTANCE_MISUSE": "0", "INTERVENTION_RECEIVED": "", "INTERVENTION_OFFERED": ""})
            if sim._age(child, y1) >= 11 and rng.random() < 0.08 + child["sdq"] / 200:
                day = y0 + pd.Timedelta(days=int(rng.integers(0, 360)))
                if any(e["DECOM"] <= day and (e["DEC"] is None or e["DEC"] > day + pd.Timedelta(days=2)) for e in these):
                    rows[year]["missing"].append({"CHILD": child["id"], "DOB": _fmt(child["dob"]), "MISSING": "M" if rng.random() < 0.7 else "A",
                                                  "MIS_START": _fmt(day), "MIS_END": _fmt(day + pd.Timedelta(days=int(rng.integers(0, 3))))})
    from .ssda903 import TABLES

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


def generate(p: Paths, la_code: str, seed: int, out: Path, *, calibrate: bool = True, costs_dir: Path | None = None) -> dict:
    """Simulate, calibrate the move rate to the published 3+ placements figure, write everything."""
    from .geography import ltla_to_utla, postcode_cache, resolve_la
    from .ingest import read_table

    li = read_table(p, "la_indicators")
    la = resolve_la(la_code, read_table(p, "la_lookup"))
    t = targets_for(li, la["la_code"])
    places = places_for(la["la_code"], ltla_to_utla(p.raw_public), np.random.default_rng(seed), postcode_cache(p))
    scale, out_f, far_f, history = 1.0, 1.0, 1.0, []
    for _ in range(5 if calibrate else 1):
        sim = Simulation(la["la_code"], t, places, seed, scale, out_f, far_f)
        sim.run()
        got = snapshot(sim, LAST_YEAR)
        history.append({"scale": round(scale, 4), "outside_factor": round(out_f, 4), "far_factor": round(far_f, 4),
                        **{k: round(v, 4) for k, v in got.items()}})
        close = (abs(got["three_plus"] - t.three_plus) < 0.01 and abs(got["outside"] - t.outside) < 0.02
                 and abs(got["over20"] - t.over20) < 0.015)
        if not calibrate or close:
            break
        if got["three_plus"] > 0:
            scale *= (t.three_plus / got["three_plus"]) ** 0.8
        if got["outside"] > 0:
            out_f *= t.outside / got["outside"]
        if got["over20"] > 0:
            far_f *= (t.over20 / got["over20"]) / (t.outside / got["outside"] if got["outside"] else 1)
    written = write_returns(sim, out, costs_dir)
    truth = {
        "la_code": la["la_code"], "la_name": la["la_name"], "seed": seed, "collection_years": [FIRST_YEAR, LAST_YEAR],
        "children": len(sim.children), "files": written,
        "breakdown_model": {"outcome": "unplanned ending of a placement (reasons CREQB, CREQO, CHILD, ALLEG, STAND, CLOSE, LAREQ)",
                            "form": "cause-specific hazard, log hazard ratios", "effects": BREAKDOWN_EFFECTS,
                            "baseline_per_day": 0.00055 * scale, "planned_move_rate_per_day": 0.00045 * scale},
        "cost_model": {"form": "log weekly cost = log(base by type and provider) + effects + N(0, 0.18)", "effects": COST_EFFECTS,
                       "base_weekly_cost": {f"{g} / {p_}": v for (g, p_), v in BASE_WEEKLY_COST.items()}},
        "targets": {"cla_31_march": {str(k): round(v) for k, v in t.cla.items()}, "starts": {str(k): round(v) for k, v in t.starts.items()},
                    "age_share": t.age_share, "place_share": t.place_share, "outside": t.outside, "over20": t.over20,
                    "three_plus": t.three_plus, "notes": t.notes},
        "calibration": history,
    }
    (out / "truth.json").write_text(json.dumps(truth, indent=2, default=str) + "\n")
    return truth


def snapshot(sim: Simulation, year: int) -> dict[str, float]:
    """Shares among children looked after at 31 March (from the simulation, before writing): 3+
    placements in the year, placed outside the LA, more than 20 miles from home."""
    y0, y1 = pd.Timestamp(year - 1, 4, 1), pd.Timestamp(year, 3, 31)
    n = three = out = far = 0
    for c in sim.children:
        for period in c["periods"]:
            if period["start"] <= y1 and (period["end"] is None or period["end"] > y1):
                n += 1
                in_year = [pl for pl in period["placements"] if pl["start"] <= y1 and (pl["end"] is None or pl["end"] >= y0)]
                three += len(in_year) >= 3
                now = [pl for pl in in_year if pl["end"] is None or pl["end"] > y1]
                if now:
                    out += now[0]["outside"]
                    far += now[0]["miles"] > 20
    return {"three_plus": three / n if n else 0.0, "outside": out / n if n else 0.0, "over20": far / n if n else 0.0}
