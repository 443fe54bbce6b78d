"""What was planted, for the checks: the 31 March snapshot, the placements as a frame and the planted
demand (truth.json)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.synth.children import FIRST_YEAR
from analysis.synth.simulation import Simulation


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
