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
from pathlib import Path

import numpy as np

from analysis.config import Paths
from analysis.io.published_counts import DIMENSIONS, targets_for
from analysis.progress import Progress
from analysis.synth.children import BASE_WEEKLY_COST, BREAKDOWN_EFFECTS, COST_EFFECTS, FIRST_YEAR, LAST_YEAR, UPN_LETTERS, upn
from analysis.synth.places import home_urns, places_for
from analysis.synth.simulation import Simulation
from analysis.synth.truth import placement_frame, planted_demand, snapshot
from analysis.synth.writing import write_returns

__all__ = ["BREAKDOWN_EFFECTS", "Simulation", "UPN_LETTERS", "generate", "placement_frame", "places_for", "upn"]


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
    urns = home_urns(p, la["la_code"])
    scale, multipliers, history, best = 1.0, None, [], None
    for _ in range(6 if calibrate else 1):
        sim = Simulation(la["la_code"], t, places, seed, scale, multipliers, urns)
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
