"""Run the peer model ``cs-demand-model`` (Social Finance / data-to-insight, PyPI) on a 903 folder.

Runs **inside its own virtual environment** (it pins pandas 1.5), called by ``bench_forecast.py``;
it never imports the project. For each forecast origin (31 March of a collection year) it sees only
the returns up to that year (year folders named ``2022-23`` are offered to it as ``2023``, the name
its file store expects), estimates its daily transition rates and entrants over the ``fit_years``
before the origin (its ``ModelPredictor.from_model`` with its standard configuration), projects
day by day, and writes the stock at each later 31 March by its placement category to JSON.

    python csdm_runner.py 903_DIR OUT.json --origins 2019 2020 --fit-years 3 --horizon 3
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
from datetime import date
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("folder")
    ap.add_argument("out")
    ap.add_argument("--origins", nargs="+", type=int, required=True)
    ap.add_argument("--fit-years", type=int, default=3)
    ap.add_argument("--horizon", type=int, default=3)
    a = ap.parse_args()

    import pandas as pd
    from cs_demand_model import Config, DemandModellingDataContainer, ModelPredictor, PopulationStats, fs_datastore

    years = {}
    for d in Path(a.folder).iterdir():
        m = re.fullmatch(r"(\d{4})-(\d{2})", d.name)
        if d.is_dir() and m:
            years[int(m.group(1)) + 1] = d.resolve()
    config = Config()
    results = []
    for origin in a.origins:
        with tempfile.TemporaryDirectory() as tmp:
            for y, d in years.items():
                if y <= origin:
                    (Path(tmp) / str(y)).mkdir()
                    for name in ("header.csv", "episodes.csv"):
                        (Path(tmp) / str(y) / name).symlink_to(d / name)
            dc = DemandModellingDataContainer(fs_datastore(tmp), config)
            stats = PopulationStats(dc.enriched_view, config)
            start, end = date(origin - a.fit_years, 3, 31), date(origin, 3, 31)
            predictor = ModelPredictor.from_model(stats, pd.Timestamp(start), pd.Timestamp(end))
            days = (date(origin + a.horizon, 3, 31) - end).days
            pred = predictor.predict(steps=days, step_days=1)
            pred.index = pd.to_datetime(pred.index)
            for k in range(1, a.horizon + 1):
                day = pd.Timestamp(origin + k, 3, 31)
                row = pred.loc[pred.index[pred.index.get_indexer([day], method="nearest")[0]]]
                by_cat: dict[str, float] = {}
                for (_age_bin, cat), v in row.items():
                    if cat != "NOT_IN_CARE":  # its bin for children who have left care
                        by_cat[cat] = by_cat.get(cat, 0.0) + float(v)
                results.append({"origin": origin, "year": origin + k, "years_ahead": k, "by_category": by_cat, "total": sum(by_cat.values())})
    Path(a.out).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
