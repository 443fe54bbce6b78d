"""Rolling-origin back-test of the demand forecast across LAs (not part of CI).

For each LA: generate its synthetic 903 (seed 1; it follows the LA's published counts of children
looked after, starts and characteristics 2015-2025), ingest it, and forecast the children looked
after at 31 March from every origin 2019 to 2024, one to three years ahead, within the data, with:

* **Model (combined)**: the pack's forecast (the stock-and-flow model combined with the last value,
  the weight chosen on earlier origins only), with 80% and 95% intervals;
* **Stock-and-flow**: the monthly model alone; **Last value**; **Linear trend** (the four years
  to the origin);
* **cs-demand-model** (Social Finance / data-to-insight, PyPI 0.5.1), run in its own virtual
  environment by ``csdm_runner.py`` on the same 903 files, seeing only the returns up to the origin
  and estimating over the same three years. Its categories map to ours: FOSTERING (U1-U6) ->
  fostering; RESIDENTIAL (K2, R1) -> children's home; SUPPORTED (H5, P2) -> supported; OTHER
  (everything else, including secure units K1, other residential settings and placed with parents)
  -> other. The totals are comparable; by group the two models draw the lines slightly differently.
* **Published-data model (combined)**: the published-data model of :mod:`analysis.stats.published_forecast`,
  for the same LA, with the pack's intervals (its own swings as published, pooled with similar LAs');
* **Pooled panel model (all LAs)** (issue 28): fitted on every LA's published series up to each origin, its growth
  for the LA applied to the synthetic 903's own counts at the origin, groups scaled to the total.

Beside the scores: per LA (its mean absolute % error over its forecasts), the pooled model minus each other method,
with a bootstrap 95% interval over LAs.

Writes ``benchmarks/results/forecast_backtest.csv`` (every forecast) and prints the scores.

``--published-all`` instead back-tests the published-data model on every current LA's real
published counts (origins 2019-2024; it needs no 903), beside the last value and a linear trend, and
builds paper 04's numbers (``sufficiency.analyse``, published figures only) for every LA, counting
any that fail. Writes ``benchmarks/results/forecast_published_all.csv``.

    .venv/bin/python benchmarks/bench_forecast.py [--workers 2] [--las CODE ...] [--n 24] [--no-csdm]
    .venv/bin/python benchmarks/bench_forecast.py --published-all
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
CSDM_VENV = HERE / ".venv-csdm"
CSDM_TO_OURS = {"FOSTERING": "fostering", "RESIDENTIAL": "children's home", "SUPPORTED": "supported", "OTHER": "other"}
FIRST_ORIGIN, LAST_YEAR, FIT_YEARS, HORIZON = 2019, 2025, 3, 3
PUBLISHED = "Published-data model (combined)"


def csdm_python() -> Path:
    """The peer model's own virtual environment (made with pip on first use: it pins pandas 1.5)."""
    py = CSDM_VENV / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(CSDM_VENV)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", "cs-demand-model==0.5.1"], check=True)
    return py


def run_csdm(folder: Path, hist: pd.DataFrame) -> list[dict]:
    out = folder.parent / "csdm.json"
    origins = [str(o) for o in range(FIRST_ORIGIN, LAST_YEAR)]
    subprocess.run(
        [
            str(csdm_python()),
            str(HERE / "csdm_runner.py"),
            str(folder),
            str(out),
            "--origins",
            *origins,
            "--fit-years",
            str(FIT_YEARS),
            "--horizon",
            str(HORIZON),
        ],
        check=True,
        capture_output=True,
    )
    from analysis.stats import forecast as fc

    rows = []
    for r in json.loads(out.read_text()):
        if r["year"] > LAST_YEAR:
            continue
        by = pd.Series(0.0, index=list(CSDM_TO_OURS.values()))
        for cat, v in r["by_category"].items():
            by[CSDM_TO_OURS.get(cat, "other")] += v
        rows.append(fc.backtest_row(r["origin"], r["year"], r["years_ahead"], "cs-demand-model", by, hist.loc[r["year"]]))
    return rows


def one(code: str, csdm: bool = True) -> list[dict]:
    os.environ.setdefault("ANALYSIS_PSEUDONYMISATION_KEY", "benchmark-key-" + "x" * 20)
    from analysis.config import find_project_root, paths
    from analysis.io import ingest903
    from analysis.io.ingest import read_table
    from analysis.io.published_counts import targets_for
    from analysis.stats import demand
    from analysis.stats import forecast as fc
    from analysis.stats import published_forecast as fp
    from analysis.synth import synthetic

    p = paths(find_project_root())
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "903"
        try:
            synthetic.generate(p, code, 1, folder)
            tables, _ = ingest903.build(p, folder)
            days = fc.month_ends(pd.Timestamp(2015, 4, 1), pd.Timestamp(LAST_YEAR, 3, 31))
            snap = fc.snapshots(tables["placements"], tables["periods"], tables["children"], days)
            bt = fc.rolling_backtest(snap, FIRST_ORIGIN, LAST_YEAR, FIT_YEARS, HORIZON)
            rows = bt.to_dict("records")
            hist = fc.history(snap, list(range(2016, LAST_YEAR + 1)))
            li = read_table(p, "la_indicators")
            panel = fp.published_panel(li)
            pub = fp.rolling_backtest(
                fp.published_history(targets_for(li, code)),
                FIRST_ORIGIN,
                LAST_YEAR,
                FIT_YEARS,
                HORIZON,
                truth=hist,
                prior_at=demand.prior_function(panel, code),  # the pack's intervals: own swings as published, pooled with similar LAs'
                published=fp.own_published(panel, code),
            )
            pub = pub[pub["method"] == "Model (combined)"].assign(method=PUBLISHED)
            rows += pub.to_dict("records")
            # the pooled panel model (issue 28), fitted on every LA's published series up to each origin, its growth
            # applied to the synthetic 903's own counts at the origin
            rows += _pooled(li).la_backtest(code, hist).to_dict("records")
            if csdm:
                rows += run_csdm(folder, hist)
        except Exception as e:  # noqa: BLE001 (a benchmark reports every LA's outcome)
            return [{"la_code": code, "error": f"{type(e).__name__}: {e}"[:300]}]
    took = round(time.perf_counter() - t0, 1)
    return [r | {"la_code": code, "seconds": took, "error": ""} for r in rows]


_POOLED: dict = {}


def _pooled(li: pd.DataFrame):
    """The pooled model's back-test of every LA (:func:`analysis.stats.demand.pooled_demand`), once per process."""
    from analysis.stats import demand

    if "model" not in _POOLED:
        _POOLED["model"] = demand.pooled_demand(li, LAST_YEAR)
    return _POOLED["model"]


def choose_las(n: int) -> list[str]:
    """Stockton-on-Tees, Hartlepool and Leeds (the LAs of the issue), then every k-th current LA by code."""
    from analysis.config import find_project_root, paths
    from analysis.io.ingest import read_table

    lookup = read_table(paths(find_project_root()), "la_lookup")
    codes = sorted(lookup.loc[lookup["status"] == "current", "la_code"].unique())
    first = ["E06000004", "E06000001", "E08000035"]
    rest = [c for c in codes if c not in first]
    step = max(1, len(rest) // max(1, n - len(first)))
    return first + rest[::step][: n - len(first)]


def published_all() -> None:
    """The published-data model's rolling back-test on every LA's real counts, and paper 04 (published
    figures only) built for every LA."""
    import warnings

    from analysis.config import find_project_root, paths
    from analysis.io.ingest import read_table
    from analysis.papers.p04_sufficiency import paper as sufficiency
    from analysis.stats import forecast as fc

    warnings.filterwarnings("ignore")
    p = paths(find_project_root())
    li = read_table(p, "la_indicators")
    lookup = read_table(p, "la_lookup")
    codes = sorted(lookup.loc[lookup["status"] == "current", "la_code"].unique())
    data = sufficiency.Data(None, None, None, None, None, None, None, None, li)  # published figures only, for every LA
    pooled = sufficiency.prior_for
    variants = {}
    for name, prior in (("own swings only", lambda d, s: None), ("pooled with similar LAs", pooled)):
        sufficiency.prior_for = prior  # the pack's intervals: the LA's own yearly swings, or pooled with similar LAs'
        try:
            variants[name] = _published_backtests(data, codes, p)
        finally:
            sufficiency.prior_for = pooled
    (HERE / "results").mkdir(exist_ok=True)
    frames = []
    for name, (df, failed, short, took) in variants.items():
        print(
            f"[{name}] paper 04 from published figures: {len(codes) - len(failed)} of {len(codes)} LAs built in {took:.0f} s "
            f"({len(short)} with too short a history for a forecast: {short}); failed: {failed}"
        )
        frames.append(df.assign(intervals=name))
    df = pd.concat(frames, ignore_index=True)
    df.to_csv(HERE / "results" / "forecast_published_all.csv", index=False)
    print("The pooled panel model (issue 28) on every LA's published series, beside no change, the combined model and a linear trend:")
    pooled = pooled_comparison(li, df)
    pooled.to_csv(HERE / "results" / "forecast_pooled_all.csv", index=False)
    print(pooled.to_string(index=False))
    print("The pack's own intervals around its point (no change), coverage %:")
    print(pack_interval_coverage(li).to_string(index=False))
    print(f"timing: {pooled_timing(li)}")
    ok = df[df["actual"] >= 20]
    s = fc.score(ok[ok["intervals"] == "pooled with similar LAs"])
    s["forecasts"] = s["forecasts"].astype(int)
    print(s.round(3).to_string(index=False))
    print(interval_table(ok).to_string(index=False))


def pooled_comparison(li: pd.DataFrame, combined: pd.DataFrame | None = None) -> pd.DataFrame:
    """The pooled panel model (issue 28) beside "no change", the linear trend and (when given the packs' back-test rows)
    the current combined model, on every LA's real published series: rolling origins 2019-2024, one to three years
    ahead, by target. Per row: forecasts, MAPE of each method, the mean per-LA difference pooled - no change with a
    bootstrap 95% interval over LAs, and each method's 80%/95% coverage; LAs under 100 children apart."""
    from analysis.stats import pooled_forecast as pf

    pan = pf.panel(li)
    ev = pf.evaluate(pan, range(FIRST_ORIGIN, LAST_YEAR))
    if combined is not None and len(combined):
        m = combined[(combined["method"] == "Model (combined)") & (combined["intervals"] == "pooled with similar LAs")]
        long = [m[["la_code", "origin", "years_ahead", "forecast"]].assign(target="total")]
        long += [
            m[["la_code", "origin", "years_ahead", f"forecast_{g}"]].rename(columns={f"forecast_{g}": "forecast"}).assign(target=g) for g in pf.GROUPS
        ]
        ev = ev.merge(pd.concat(long).rename(columns={"forecast": "combined"}), on=["la_code", "origin", "years_ahead", "target"], how="left")
    ev["size"] = np.where(ev.groupby(["la_code", "origin"])["now"].transform("max") < 100, "under 100", "100 or more")  # the total is the max
    rows = []
    for (target, h), g in ev.groupby(["target", "years_ahead"]):
        for size, part in [("all", g), *g.groupby("size")]:
            d = pf.la_differences(part).set_index("target")["diff"]
            mean, lo, hi = pf.bootstrap_mean(d.to_numpy())
            row = {"target": target, "years_ahead": h, "LAs": size, "forecasts": len(part)}
            for m in ("pooled", "no_change", "combined", "trend"):
                if m in part:
                    row[f"mape_{m}"] = round(pf.ape(part[m], part["actual"]).mean(), 2)
            row |= {"pooled_minus_no_change": round(mean, 2), "lower_95": round(lo, 2), "upper_95": round(hi, 2)}
            for m in ("pooled", "no_change"):
                row |= {
                    f"{m}_cover_80": round(100 * part[f"{m}_inside_80"].mean(), 1),
                    f"{m}_cover_95": round(100 * part[f"{m}_inside_95"].mean(), 1),
                }
            rows.append(row)
    return pd.DataFrame(rows)


def pack_interval_coverage(li: pd.DataFrame) -> pd.DataFrame:
    """The coverage of the intervals the pack prints around its point (no change, as of 2025: every figure), for the
    total and each group: for every current LA and origin 2019-2024, the pack's published-data forecast
    (:func:`analysis.stats.published_forecast.project` with the point held at the last value and the intervals of the
    LA's own swings, measured on its series as published in today's categories, pooled with similar LAs', as the pack
    makes them) one to three years ahead, against the count. ``no_interval``: forecasts the pack prints without one
    (a group at an origin before any yearly change in today's categories: 2019 and 2020); coverage is of the rest,
    overall and by LA size (children at the origin: under 100, 100 or more)."""
    from analysis.io.published_counts import targets_for
    from analysis.stats import demand
    from analysis.stats import forecast as fc
    from analysis.stats import published_forecast as fp

    panel = fp.published_panel(li)
    codes = sorted(panel.index.get_level_values("la_code").unique())
    rows = []
    for code in codes:
        try:
            h = fp.published_history(targets_for(li, code))
        except Exception:  # noqa: BLE001 (an LA without the published figures a forecast needs)
            continue
        prior_at = demand.prior_function(panel, code)
        published = fp.own_published(panel, code)
        for origin in range(FIRST_ORIGIN, LAST_YEAR):
            if origin not in h.index or origin - FIT_YEARS - 1 < h.index.min():
                continue
            ahead = [y for y in range(origin + 1, origin + HORIZON + 1) if y in h.index]
            if not ahead:
                continue
            hist = h.loc[:origin]
            years = list(range(origin + 1, origin + len(ahead) + 1))
            point = pd.DataFrame({y: hist.loc[origin, list(fc.GROUPS)].astype(float) for y in years}).T
            prior = prior_at(origin, fc.sizes_at(hist, origin))
            f = fp.project(hist, origin, FIT_YEARS, len(years), weight=1.0, prior=prior, point=point, published=published)
            for target, frame, key in [("total", f.total, None), *[(g, f.by_group[f.by_group["group"] == g], g) for g in fc.GROUPS]]:
                for r in frame.itertuples():
                    if r.year not in h.index:
                        continue
                    actual = float(h.loc[r.year, list(fc.GROUPS)].sum()) if key is None else float(h.at[r.year, key])
                    rows.append(
                        {
                            "la_code": code,
                            "origin": origin,
                            "years_ahead": r.year - origin,
                            "target": target,
                            "year": int(r.year),
                            "size": "under 100" if float(hist.loc[origin, list(fc.GROUPS)].sum()) < 100 else "100 or more",
                            "has_interval": bool(np.isfinite(r.lower) and np.isfinite(r.upper)),
                            "inside_80": r.lower_80 <= actual <= r.upper_80,
                            "inside_95": r.lower <= actual <= r.upper,
                        }
                    )
    cov = pd.DataFrame(rows)
    return coverage_table(cov)


def coverage_table(cov: pd.DataFrame) -> pd.DataFrame:
    """Coverage % of the 80% and 95% intervals by target and years ahead (and all horizons), of the forecasts with an
    interval; all LAs, by size, and without the forecasts of 31 March 2024 (the year children in supported accommodation
    awaiting Ofsted registration were recorded as "other": see benchmarks/README.md)."""
    out = []
    for label, part in [("all", cov), *cov.groupby("size"), ("all, 2024 left out", cov[cov["year"] != 2024])]:
        cells = [*part.groupby(["target", "years_ahead"]), *(((t, "all"), g) for t, g in part.groupby("target"))]
        for (target, ahead), g in cells:
            has = g[g["has_interval"]]
            out.append(
                {
                    "target": target,
                    "years_ahead": ahead,
                    "LAs": label,
                    "forecasts": len(g),
                    "no_interval": int((~g["has_interval"]).sum()),
                    "cover_80": round(100 * has["inside_80"].mean(), 1) if len(has) else float("nan"),
                    "cover_95": round(100 * has["inside_95"].mean(), 1) if len(has) else float("nan"),
                }
            )
    return pd.DataFrame(out)


def pooled_timing(li: pd.DataFrame, repeats: int = 3) -> dict[str, float]:
    """Seconds to fit the pooled model and forecast every LA from 2025 (five targets, three horizons), beside a bare
    baseline in the same run: one least-squares fit (numpy) per target and horizon on the same rows."""
    from analysis.stats import pooled_forecast as pf

    pan = pf.panel(li)
    t0 = time.perf_counter()
    for _ in range(repeats):
        pf.forecast(pan, LAST_YEAR)
    pooled = (time.perf_counter() - t0) / repeats
    t0 = time.perf_counter()
    for _ in range(repeats):
        for target in pf.TARGETS:
            X = pf.design(pan, target).fillna(0.0).to_numpy()
            for h in pf.HORIZONS:
                y = pf.outcome(pan, target, h).to_numpy()
                ok = ~np.isnan(y)
                np.linalg.lstsq(np.c_[np.ones(ok.sum()), X[ok]], y[ok], rcond=None)
    bare = (time.perf_counter() - t0) / repeats
    return {
        "pooled_fit_and_forecast_all_las_s": round(pooled, 2),
        "bare_least_squares_s": round(bare, 3),
        "las": int(pan.index.get_level_values(0).nunique()),
    }


def _published_backtests(data, codes, p):
    from analysis.papers.p04_sufficiency import paper as sufficiency

    rows, failed, short = [], [], []
    t0 = time.perf_counter()
    for code in codes:
        try:
            s = sufficiency.setup(
                data,
                la_code=code,
                first_year=0,
                forecast_years=3,
                fit_years=FIT_YEARS,
                holdout_years=2,
                bootstrap=0,
                fewer_entries_pct=10,
                faster_exits_pct=10,
                shift_to_fostering_pct=20,
                p=p,
            )
            res = sufficiency.analyse(data, s, "", p)
        except Exception as e:  # noqa: BLE001 (every LA's outcome is reported)
            failed.append((code, f"{type(e).__name__}: {e}"[:200]))
            continue
        if res.too_short:  # the pack is built, with the descriptive parts and the reason there is no forecast
            short.append(code)
            continue
        bt = res.backtest
        size = res.history.sum(axis=1)  # children at each origin: the LA's size when the forecast was made
        rows += [
            r | {"la_code": code, "size_at_origin": float(size.get(r["origin"], float("nan")))}
            for r in bt[bt["origin"] >= FIRST_ORIGIN].to_dict("records")
        ]
    return pd.DataFrame(rows), failed, short, time.perf_counter() - t0


def interval_table(bt: pd.DataFrame) -> pd.DataFrame:
    """The combined model's 80% and 95% coverage and median 95% width relative to the recorded count, by
    interval method, years ahead and LA size at the origin (under 100 children, 100 to 299, 300 or more, all)."""
    m = bt[bt["method"] == "Model (combined)"].copy()
    m["width_pct"] = 100 * (m["upper_95"] - m["lower_95"]) / m["actual"].clip(lower=1)
    m["size"] = pd.cut(m["size_at_origin"], [0, 100, 300, float("inf")], right=False, labels=["under 100", "100 to 299", "300 or more"]).astype(str)
    rows = []
    for (how, ahead), g in m.groupby(["intervals", "years_ahead"]):
        for size, part in [*g.groupby("size"), ("all", g)]:
            rows.append(
                {
                    "intervals": how,
                    "years_ahead": ahead,
                    "LAs": size,
                    "forecasts": len(part),
                    "coverage_80": round(100 * part["inside_80"].mean(), 1),
                    "coverage_95": round(100 * part["inside_95"].mean(), 1),
                    "median_width_95_pct": round(part["width_pct"].median(), 1),
                }
            )
    return pd.DataFrame(rows)


def pooled_differences(ok: pd.DataFrame) -> pd.DataFrame:
    """Per LA and years ahead, the pooled model's mean absolute % error (the total; and the mean over the four groups)
    minus each other method's, averaged over LAs with a bootstrap 95% interval over LAs."""
    from analysis.stats import demand
    from analysis.stats import forecast as fc
    from analysis.stats import pooled_forecast as pf

    b = ok.assign(ape=100 * (ok["forecast"] - ok["actual"]).abs() / ok["actual"].clip(lower=1))
    b["ape_groups"] = np.mean([100 * (b[f"forecast_{g}"] - b[f"actual_{g}"]).abs() / b[f"actual_{g}"].clip(lower=1) for g in fc.GROUPS], axis=0)
    rows = []
    for h, part in b.groupby("years_ahead"):
        per_la = part.groupby(["la_code", "method"])[["ape", "ape_groups"]].mean().unstack("method")
        for other in [m for m in per_la["ape"].columns if m != demand.POOLED]:
            row = {"years_ahead": h, "against": other, "LAs": int(per_la["ape"][[demand.POOLED, other]].dropna().shape[0])}
            for what in ("ape", "ape_groups"):
                d = (per_la[what][demand.POOLED] - per_la[what][other]).dropna().to_numpy()
                mean, lo, hi = pf.bootstrap_mean(d)
                row |= {f"pooled_minus_{what}": round(mean, 2), f"{what}_lower_95": round(lo, 2), f"{what}_upper_95": round(hi, 2)}
            rows.append(row)
    return pd.DataFrame(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--las", nargs="*")
    ap.add_argument("--n", type=int, default=24)
    ap.add_argument("--no-csdm", action="store_true")
    ap.add_argument("--published-all", action="store_true")
    ap.add_argument("--pooled-only", action="store_true", help="only the pooled model's comparison and timing (no packs)")
    a = ap.parse_args()
    if a.pooled_only:
        from analysis.config import find_project_root, paths
        from analysis.io.ingest import read_table

        li = read_table(paths(find_project_root()), "la_indicators")
        print(pooled_comparison(li).to_string(index=False))
        print("The pack's own intervals around its point (no change), coverage %:")
        print(pack_interval_coverage(li).to_string(index=False))
        print(f"timing: {pooled_timing(li)}")
        return
    if a.published_all:
        published_all()
        return
    from analysis.stats import forecast as fc

    codes = a.las or choose_las(a.n)
    if not a.no_csdm:
        csdm_python()
    t0 = time.perf_counter()
    with ProcessPoolExecutor(a.workers) as pool:
        rows = [r for rs in pool.map(one, codes, [not a.no_csdm] * len(codes)) for r in rs]
    df = pd.DataFrame(rows)
    (HERE / "results").mkdir(exist_ok=True)
    df.to_csv(HERE / "results" / "forecast_backtest.csv", index=False)
    bad = df[df["error"] != ""]
    ok = df[df["error"] == ""]
    print(f"{len(codes)} LAs in {time.perf_counter() - t0:.0f} s with {a.workers} workers; {bad['la_code'].nunique()} failed")
    if len(bad):
        print(bad[["la_code", "error"]].drop_duplicates().to_string(index=False))
    s = fc.score(ok)
    s["forecasts"] = s["forecasts"].astype(int)
    print(s.round(3).to_string(index=False))
    # the same, LA by LA: how often each method was the most accurate at one and two years
    per_la = ok.assign(ape=100 * (ok["forecast"] - ok["actual"]).abs() / ok["actual"].clip(lower=1))
    per_la = per_la[per_la["years_ahead"] <= 2].groupby(["la_code", "method"])["ape"].mean().unstack()
    print(pooled_differences(ok).to_string(index=False))
    print("LAs where each method had the lowest MAPE (1-2 years ahead):")
    print(per_la.idxmin(axis=1).value_counts().to_string())
    print(f"median LA: {per_la.median().round(2).to_dict()}")


if __name__ == "__main__":
    main()
