"""The simulation's placements: the setting, location and provider of each placement and how and when
it ends (the planted hazards)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from analysis.io.ssda903_rules import collection_year_of, provider_problem
from analysis.synth.children import ADOPTION_ORDER_DAYS, BREAKDOWN_EFFECTS, NO_URN, PROVIDER_CODE, Child, _operational, _settled


class Placing:
    """One placement's setting, its location and provider, and how and when it ends (a part of
    :class:`Simulation`, which holds the state these methods read)."""

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
        if place in NO_URN:
            s["urn"] = ""
        else:  # one draw whatever the URN becomes, so the rest of the simulation is as it was
            draw = int(self.rng.integers(100000, 999999))
            homes = self.home_urns.get(s["outside"]) if s["group"] == "children's home" else None
            s["urn"] = str(homes[draw % len(homes)]) if homes is not None and len(homes) else f"SC{draw}"
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
