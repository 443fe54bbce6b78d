"""The simulation's 31 March matching: which children stay, and the relabelling that meets every
published count."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.io.published_counts import CHILD_DIMENSIONS, DIMENSIONS
from analysis.io.ssda903_rules import collection_year_of, provider_problem
from analysis.io.stock import LEGAL_CATEGORY
from analysis.synth.children import ETHNIC_CODES, LEGAL_CODE, NO_URN, PROVIDER_CODE, RELABEL_DAYS, SELECT_WEIGHT, Child, category_of


class Matching:
    """Matching 31 March: which children stay, and relabelling the episode held at 31 March so that
    each published count is met (a part of :class:`Simulation`)."""

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
