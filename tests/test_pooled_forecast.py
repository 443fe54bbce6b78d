"""The pooled panel forecast (analysis.stats.pooled_forecast, issue 28) on constructed panels where the answer is
known: a leading indicator that drives next year's change is found and the model adopted; on random walks it is not,
and "no change" is kept. Groups add to the total; nothing after the origin is read; a pack as at a past year ignores
what was published after it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from analysis.stats import demand
from analysis.stats import pooled_forecast as pf
from analysis.stats.forecast import GROUPS

SHARES = {"fostering": 0.7, "children's home": 0.12, "supported": 0.08, "other": 0.10}


def _panel(driven: bool, las: int = 80, years=range(2014, 2026), seed: int = 1) -> pd.DataFrame:
    """``las`` LAs over ``years``: child protection plans wander at random; children looked after next year move by
    half the change in plans this year (``driven``) or at random (a random walk), with a little noise either way."""
    rng = np.random.default_rng(seed)
    rows = []
    for k in range(las):
        cla, cp = float(rng.integers(100, 900)), float(rng.integers(100, 600))
        last_cp_change = 0.0
        for y in years:
            cp_change = float(rng.normal(0, 0.15))
            step = 0.5 * last_cp_change if driven else float(rng.normal(0, 0.075))
            cla = cla * np.exp(step + rng.normal(0, 0.01)) if y != years[0] else cla
            cp = cp * np.exp(cp_change)
            last_cp_change = cp_change
            row = {"la_code": f"E0{k:07d}", "year": y, "total": round(cla), "cp_plans": round(cp)}
            row |= {g: round(cla * sh) for g, sh in SHARES.items()}
            row |= {"children_in_need": round(cp * 4 * np.exp(rng.normal(0, 0.05))), "referrals": round(cp * 8 * np.exp(rng.normal(0, 0.05)))}
            row |= {"uasc": round(cla * 0.05), "aged_10_15": round(cla * 0.38), "aged_16_plus": round(cla * 0.24), "region": f"R{k % 4}"}
            rows.append(row)
    return pd.DataFrame(rows).set_index(["la_code", "year"]).astype({"region": str})


@pytest.fixture(scope="module")
def driven():
    return _panel(True)


def test_a_leading_indicator_that_drives_the_change_is_found_and_the_model_adopted(driven):
    ev = pf.evaluate(driven, range(2019, 2025))
    rule = pf.adoption(ev).set_index("target")
    assert rule.at["total", "use_pooled"], rule
    assert rule.at["total", "upper_95"] < 0
    # the pooled model's 95% intervals hold about 95% of the outcomes
    total = ev[ev["target"] == "total"]
    assert 0.88 <= total["pooled_inside_95"].mean() <= 0.99
    effects = pf.explain(driven, 2025, reps=50).set_index("feature")
    cp = effects.loc["cp_plans_change"]
    assert cp["lower_95"] > 0 and 3.0 < cp["effect_pct"] < 6.5, effects  # planted: a 10% rise in plans -> exp(0.5 log 1.1) - 1 = 4.9%


def test_on_random_walks_no_change_is_kept():
    ev = pf.evaluate(_panel(False, seed=2), range(2019, 2025))
    rule = pf.adoption(ev).set_index("target")
    assert not rule["use_pooled"].fillna(False).any(), rule


def test_the_rule_both_ways_on_constructed_errors():
    """The rule alone: the pooled model is adopted only when it erred less for LAs with an interval below zero."""
    rng = np.random.default_rng(3)
    n = 100
    base = pd.DataFrame({"la_code": [f"L{i}" for i in range(n)], "target": "total", "actual": 100.0, "no_change": 100 + rng.normal(0, 8, n)})
    better = base.assign(pooled=100 + 0.5 * (base["no_change"] - 100))
    noisy = base.assign(pooled=100 + rng.normal(0, 8, n))
    assert pf.adoption(better).set_index("target").at["total", "use_pooled"]
    assert not pf.adoption(noisy).set_index("target").at["total", "use_pooled"]


def test_groups_add_to_the_total_and_no_part_exceeds_it(driven):
    rows = pf.forecast(driven, 2024, (1, 2))
    for use in (dict.fromkeys(pf.TARGETS, True), {"fostering": True}, {}):
        chosen = pf.choose(rows, use)
        wide = chosen.pivot_table(index=["la_code", "year"], columns="target", values="mean")
        assert np.allclose(wide[list(GROUPS)].sum(axis=1), wide["total"])
        assert (wide[list(GROUPS)].le(wide["total"] + 1e-9, axis=0)).all().all()


def test_the_bootstrap_fit_is_the_library_fit(driven):
    """explain's closed-form refits (for speed) give scikit-learn's own ridge coefficients on the same rows."""
    X = pf._features(driven, "total")
    rows = pf.training_rows(driven, "total", 1, 2024, X)
    Xt, yt = X[rows], pf.outcome(driven, "total", 1)[rows].to_numpy()
    f = pf._fit_rows(Xt, yt, driven.loc[rows, "total"], "total", 1, 2024)
    _, year = np.unique(Xt.index.get_level_values("year").to_numpy(), return_inverse=True)
    ours = pf._ridge_per_unit(Xt.fillna(f.fill).fillna(0.0).to_numpy(), yt, year, f.alpha)
    assert np.allclose(ours, (f.coef / f.scale).to_numpy(), atol=1e-10)


def test_a_forecast_reads_nothing_after_its_origin(driven):
    later = driven.copy()
    after = later.index.get_level_values("year") > 2021
    later.loc[after, ["total", "cp_plans", *GROUPS]] *= 3
    pd.testing.assert_frame_equal(pf.forecast(driven, 2021), pf.forecast(later, 2021))
    # nor with the features of the whole panel handed in (as the back-test does, for speed)
    whole = {t: pf._features(later, t) for t in pf.TARGETS}
    pd.testing.assert_frame_equal(pf.forecast(driven, 2021), pf.forecast(later, 2021, features=whole))


def test_the_pooled_back_test_applies_the_las_growth_to_the_counts_it_is_given(driven):
    """Beside a 903 model the pack scores the pooled model on the LA's own (903) counts: the growth the pooled model
    forecast for the LA from its published series, applied to the counts it is handed, against those counts."""
    ev = pf.evaluate(driven, range(2019, 2025), last_year=2025)
    pooled = demand.PooledDemand(driven, ev, pf.adoption(ev), 2025)
    code = "E00000003"
    own = driven.xs(code, level="la_code")[list(GROUPS)].astype(float) * 1.1 + 2  # the LA's 903 differs from what was published
    bt = pooled.la_backtest(code, own)
    assert set(bt["method"]) == {demand.POOLED} and set(bt["origin"]) == set(range(2019, 2025))
    for r in bt[bt["years_ahead"] == 1].itertuples():
        e = ev[(ev["la_code"] == code) & (ev["origin"] == r.origin) & (ev["years_ahead"] == 1) & (ev["target"] == "total")].iloc[0]
        grown = (own.loc[r.origin].sum() + 1) * (e["pooled"] + 1) / (e["now"] + 1) - 1
        assert r.forecast == pytest.approx(grown) and r.actual == pytest.approx(own.loc[r.year].sum())
    assert pooled.la_backtest("E09999999", own).empty, "an LA the published panel does not hold: no rows"


@pytest.mark.slow  # two packs with the pooled model's back-test of every LA
def test_a_pack_as_at_a_past_year_ignores_what_was_published_after_it(built):
    """Paper 04 for an LA without its 903, made at 31 March 2022: changing 2023 figures (the LA's children looked
    after and placements, every LA's child protection plans) changes nothing in it."""
    from analysis.papers.p04_sufficiency import paper as pack

    p, _ = built
    d = pack.Data.load(p)
    li = d.indicators.copy()
    later = li["year"] == 2023
    li.loc[later & (li["area_code"] == "E06000001") & li["indicator"].isin(["cla_31_march", "placement_foster"]), "value"] *= 2
    li.loc[later & (li["indicator"] == "cpp_31_march"), "value"] *= 3
    changed = dataclasses.replace(d, indicators=li, _panel=None, _pooled={})
    kw = dict(la_code="E06000001", first_year=0, last_year=2022, forecast_years=3, fit_years=3, holdout_years=2, bootstrap=0)
    kw |= dict(fewer_entries_pct=10.0, faster_exits_pct=10.0, shift_to_fostering_pct=20.0)
    a, b = (pack.analyse(x, pack.setup(x, p=p, **kw), "", p) for x in (d, changed))
    assert a.forecasts is not None and max(a.forecasts[pack.CURRENT].years) == 2025
    for name in ("total", "by_group"):
        pd.testing.assert_frame_equal(getattr(a.forecasts[pack.CURRENT], name), getattr(b.forecasts[pack.CURRENT], name))
    pd.testing.assert_frame_equal(a.backtest, b.backtest)
    pd.testing.assert_frame_equal(a.flows, b.flows)
    pd.testing.assert_frame_equal(a.pooled_adoption, b.pooled_adoption)
    assert (a.supply["year"] <= 2022).all()
    s = pack.setup(d, p=p, **kw)
    assert s.as_at_past_year and "as at 31 March 2022" in pack.missing_reason("01", s)
    assert all(v is None for v in a.found.values()), "papers of the same run use the latest figures: not drawn on"
    # the change is there to be seen: the LA's published history to 2023 differs
    from analysis.io.published_counts import targets_for
    from analysis.stats.published_forecast import published_history

    before, after = (published_history(targets_for(x.indicators, "E06000001")).loc[2023, "fostering"] for x in (d, changed))
    assert after == 2 * before


def test_last_year_is_checked():
    with pytest.raises(Exception, match="last_year"):
        demand.history_years([2015, 2016, 2017], 0, 2030)
    assert demand.history_years([2015, 2016, 2017, 2019], 0, 2017) == [2015, 2016, 2017]


@pytest.mark.slow  # paper 05 twice, with the pooled model's back-test of every LA
def test_paper_05_as_at_a_past_year_ignores_what_was_published_after_it(built):
    """Paper 05 for an LA without its 903 at 31 March 2022: changing 2023 figures (Ofsted's places, the DfE's counts,
    the child population) changes no figure it shows."""
    from analysis.papers import registry
    from analysis.papers.p05_supply import paper as supply

    p, _ = built
    d = supply.Data.load(p)
    li, places, pop = d.indicators.copy(), d.places.copy(), d.population.copy()
    li.loc[(li["year"] == 2023) & (li["measure"] == "number"), "value"] *= 2
    places.loc[places["year"] == 2023, "places"] *= 3
    pop.loc[pop["year"] == 2023, "population"] *= 2
    changed = dataclasses.replace(d, indicators=li, places=places, population=pop, _panel=None, _pooled={})
    values = {q.name: q.default for q in registry.spec("05", p).parameters if q.name != "output_dir"}
    values |= {"la_code": "E06000001", "last_year": 2022, "bootstrap": 0}
    a, b = (supply.analyse(x, supply.setup(x, p=p, **values)) for x in (d, changed))
    frames = [f.name for f in dataclasses.fields(a) if isinstance(getattr(a, f.name), pd.DataFrame)]
    assert len(frames) >= 8
    for name in frames:
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), obj=name)
    assert a.supply["year"].max() <= 2022
