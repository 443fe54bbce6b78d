"""The yearly simulation: ten years of children looked after, entrants drawn toward the published mix,
placements run on, then matched to 31 March (see :class:`Simulation`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.io.published_counts import CHILD_DIMENSIONS, DIMENSIONS, EPISODE_DIMENSIONS, Targets
from analysis.synth.children import AGE_BANDS, DETAINED_DAYS, ETHNIC_CODES, FIRST_YEAR, LAST_YEAR, Child, _age_band, category_of, upn
from analysis.synth.matching import Matching
from analysis.synth.places import Places
from analysis.synth.placing import Placing


class Simulation(Placing, Matching):
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

    def __init__(
        self,
        la_code: str,
        targets: Targets,
        places: Places,
        seed: int,
        scale: float = 1.0,
        multipliers: dict | None = None,
        home_urns: dict | None = None,
    ):
        self.la, self.t, self.places, self.seed, self.scale = la_code, targets, places, seed, scale
        self.home_urns = home_urns or {}  # real children's homes' URNs, inside (False) and outside (True) the LA
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
