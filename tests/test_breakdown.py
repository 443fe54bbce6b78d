"""Paper 02 logic: the analysis set, rates, survival estimates, models, and recovery of planted effects.

Numbers are checked against hand-worked cases or independent implementations (statsmodels'
Kaplan-Meier and score residuals, scipy's Poisson quantiles), never against the module's own output.
"""

import numpy as np
import pandas as pd
import pytest

from analysis.papers.p02_breakdown import paper as b
from analysis.papers.params import ParameterError
from analysis.stats import classify, survival
from analysis.stats.rates import poisson_interval

T = pd.Timestamp


# --- tiny hand-built data -----------------------------------------------------------------------
def _placement(child, period, n, start, end, *, place="U4", provider="PR1", ending="moved", reason="CREQB", age=8, distance=3.0, location="IN"):
    group = {"U4": "foster", "U1": "kinship foster", "K2": "children's home", "A3": "adoption", "H5": "independent or supported"}[place]
    return {
        "child": child,
        "period": period,
        "placement": n,
        "placement_in_period": n,
        "start": T(start),
        "end": T(end) if end else pd.NaT,
        "place": place,
        "place_group": group,
        "provider": provider,
        "provider_group": {"PR1": "own LA", "PR4": "private"}[provider],
        "kinship": place == "U1",
        "pl_distance": distance,
        "pl_la": "",
        "pl_location": location,
        "urn": "",
        "episodes": 1,
        "interruptions": 0,
        "status_changes": 0,
        "ending": ending,
        "rec": "X1" if ending == "moved" else ("E13" if ending == "left care" else ""),
        "reason_place_change": reason if ending == "moved" else "",
        "age_at_start": age,
    }


def tiny_data(placements, *, born="2010-06", years=(2016, 2025), period_starts=None, sdq=()):
    p = pd.DataFrame(placements)
    kids = sorted(p["child"].unique())
    periods = p.groupby(["child", "period"], as_index=False)["start"].min()
    if period_starts:
        periods["start"] = [T(period_starts.get(c, s)) for c, s in zip(periods["child"], periods["start"].astype(str))]
    periods["short_breaks_only"] = False
    births = [born.get(k, "2010-06") for k in kids] if isinstance(born, dict) else born
    children = pd.DataFrame({"child": kids, "sex": "M", "birth_month": births, "ethnic": "WBRI", "uasc": False})
    oc2 = pd.DataFrame(list(sdq), columns=["child", "collection_year", "sdq_score"])
    report = {"la_code": "E06000004", "collection_years": list(range(years[0], years[1] + 1))}
    return b.Data(p, periods, children, oc2, report, None)


def tiny_settings(definition="standard", first=2016, last=2025, **kw):
    return b.Settings(
        "E06000004", "Stockton-on-Tees", first, last, definition, kw.get("horizons", [6, 12]), kw.get("model_horizon", 12), kw.get("test_years", 2)
    )


def test_outcome_follows_the_definition_and_other_endings_censor():
    d = tiny_data(
        [
            _placement("A", 1, 1, "2020-01-01", "2020-03-01", reason="CREQB"),  # narrow
            _placement("A", 1, 2, "2020-03-01", "2020-06-01", reason="CLOSE"),  # standard, not narrow
            _placement("A", 1, 3, "2020-06-01", "2020-09-01", reason="LAREQ"),  # broad only
            _placement("A", 1, 4, "2020-09-01", "2020-12-01", reason="CARPL"),  # planned
            _placement("A", 1, 5, "2020-12-01", "2021-02-01", ending="left care"),
        ]
    )
    for definition, expected in (("narrow", [1, 0, 0, 0, 0]), ("standard", [1, 1, 0, 0, 0]), ("broad", [1, 1, 1, 0, 0])):
        c, _ = b.cohort(d, tiny_settings(definition))
        assert c["event"].astype(int).tolist() == expected, definition
    c, _ = b.cohort(d, tiny_settings("standard"))
    assert c["censor"].tolist() == ["", "", "other move", "other move", "left care"]
    assert c["time"].tolist() == [60.0, 92.0, 92.0, 91.0, 62.0]
    assert c["previous_moves"].tolist() == [0, 1, 2, 3, 4]


def test_follow_up_stops_at_the_end_of_the_data_and_at_18():
    d = tiny_data(
        [
            _placement("A", 1, 1, "2024-10-01", None, ending="open"),  # still open: censored at 31 March 2025
            _placement("B", 1, 1, "2024-01-01", "2024-12-01", reason="CREQB", age=17),
            _placement("C", 1, 1, "2024-09-01", "2024-12-01", age=18),  # starts after the 18th birthday: out of scope
        ],
        born={"B": "2006-08", "C": "2006-08"},
    )  # 18 in August 2024 (mid-month: 15 August)
    c, _ = b.cohort(d, tiny_settings())
    a, bb = c.set_index("child").loc["A"], c.set_index("child").loc["B"]
    assert a["censor"] == "end of data" and a["time"] == (T("2025-03-31") - T("2024-10-01")).days and not a["event"]
    assert bb["censor"] == "18th birthday" and not bb["event"], "a move after the 18th birthday is not counted"
    assert bb["time"] == (T("2024-08-15") - T("2024-01-01")).days
    assert "C" not in set(c["child"])


def test_the_scope_table_reconciles_and_says_why_placements_are_left_out():
    d = tiny_data(
        [
            _placement("A", 1, 1, "2015-01-01", "2016-01-01"),  # starts before April 2015
            _placement("B", 1, 1, "2018-01-01", "2018-05-01", place="A3", ending="left care"),  # adoption
            _placement("C", 1, 2, "2019-01-01", "2019-05-01"),  # its period began before the data
            _placement("D", 1, 1, "2019-01-01", "2019-05-01"),
            _placement("E", 1, 1, "2019-01-01", "2019-05-01", age=None),
        ],
        period_starts={"C": "2014-06-01"},
    )
    c, flow = b.cohort(d, tiny_settings())
    assert c["child"].tolist() == ["D"]
    n_in, *aside, n_out = flow["placements"].tolist()
    assert n_in == 5 and n_out == 1 and n_in + sum(aside) == n_out, "rows in = set aside + analysed"
    steps = dict(zip(flow["step"], flow["placements"]))
    assert steps["set aside: placed for adoption (A3-A6)"] == -1
    assert steps["set aside: period of care began before the data (earlier moves not visible)"] == -1
    assert steps["set aside: no age at start (no date of birth)"] == -1
    scope = b.scope_table(flow)
    assert (scope["placements"] >= 0).all()


def test_the_latest_sdq_before_the_placement_is_used():
    d = tiny_data(
        [
            _placement("A", 1, 1, "2019-06-01", "2019-09-01"),
            _placement("A", 1, 2, "2022-06-01", "2022-09-01"),
            _placement("B", 1, 1, "2019-06-01", "2019-09-01"),
        ],
        sdq=[("A", 2019, 10), ("A", 2020, 20), ("A", 2023, 30)],
    )
    c, _ = b.cohort(d, tiny_settings())
    sdq = c.set_index(["child", "start"])["sdq"]
    # June 2019 is in collection year 2019-20 (2020): the latest earlier return is 2019's
    assert sdq[("A", T("2019-06-01"))] == 10.0
    assert sdq[("A", T("2022-06-01"))] == 20.0, "the 2023 return (the placement's own year) is not used"
    assert np.isnan(sdq[("B", T("2019-06-01"))])
    terms = c.set_index("child").loc["B"]
    assert terms["sdq_missing"] == 1.0 and terms["sdq_per_5_points"] == 0.0


# --- descriptive statistics against hand-worked values and independent code ---------------------
def test_rates_per_100_placement_years_and_exact_intervals():
    from scipy.stats import chi2

    c = pd.DataFrame(
        {
            "place_group": ["foster"] * 3 + ["children's home"] * 2,
            "event": [True, False, False, True, True],
            "time": [365.25, 365.25, 730.5, 182.625, 182.625],
        }
    )
    t = b.rates(c, "place_group").set_index("group")
    assert t.loc["foster", "rate_per_100_years"] == pytest.approx(100 * 1 / 4, abs=0.05)
    assert t.loc["children's home", "rate_per_100_years"] == pytest.approx(100 * 2 / 1, abs=0.05)
    assert t.loc["All placements", "unplanned"] == 3 and t.loc["All placements", "placements"] == 5
    assert t.loc["foster", "lower_95"] == pytest.approx(100 * chi2.ppf(0.025, 2) / 2 / 4, abs=0.05)
    assert t.loc["foster", "upper_95"] == pytest.approx(100 * chi2.ppf(0.975, 4) / 2 / 4, abs=0.05)
    lo, hi = poisson_interval(np.array([0]), np.array([10.0]))
    assert lo[0] == 0 and hi[0] == pytest.approx(-np.log(0.025) / 10, rel=1e-6)


def test_kaplan_meier_matches_a_hand_calculation_and_statsmodels():
    from statsmodels.duration.survfunc import SurvfuncRight

    time = np.array([1, 2, 2, 3, 4, 5.0])
    event = np.array([1, 1, 0, 1, 0, 1], dtype=bool)
    k = survival.km_curve(time, event)
    # at risk 6, 5, 3, 2, 1: S = 5/6, *4/5, *2/3, *1, *0
    assert k["surv"].round(6).tolist() == pytest.approx([5 / 6, 2 / 3, 4 / 9, 4 / 9, 0.0])
    sf = SurvfuncRight(time, event.astype(int))
    assert np.allclose(k.set_index("days").loc[sf.surv_times, "surv"], sf.surv_prob)
    inner = k.iloc[:3]
    assert ((inner["lower"] <= inner["surv"]) & (inner["surv"] <= inner["upper"])).all()


def test_cumulative_incidence_with_competing_endings():
    # 4 placements: breakdown at 1, other ending at 2, breakdown at 3, censored at 4
    time, event, other = np.array([1, 2, 3, 4.0]), np.array([1, 0, 1, 0], bool), np.array([0, 1, 0, 0], bool)
    # S(0)=1: 1/4 break at t=1; S=3/4; other at 2 -> S=1/2; at 3, 1 of 2 at risk breaks: + 1/2 * 1/2
    assert survival.cumulative_incidence(time, event, other, 3.5) == pytest.approx(0.25 + 0.25)
    assert survival.cumulative_incidence(time, event, other, 0.5) == 0.0
    # with nothing competing it is 1 - Kaplan-Meier
    none = np.zeros(4, bool)
    k = survival.km_curve(time, event)
    assert survival.cumulative_incidence(time, event, none, 10) == pytest.approx(1 - k["surv"].iloc[-1])


# --- models ---------------------------------------------------------------------------------------
def test_cox_score_residuals_match_statsmodels_and_the_sandwich_is_per_child():
    from statsmodels.duration.hazard_regression import PHReg

    rng = np.random.default_rng(3)
    n = 300
    X = rng.normal(size=(n, 2))
    time = rng.exponential(np.exp(-X @ [0.4, -0.2])) + 0.01
    event = rng.random(n) < 0.8
    model = PHReg(time, X, status=event.astype(int), ties="breslow")
    fit = model.fit()
    ours = survival.cox_score_residuals(time, event, X, np.asarray(fit.params))
    ref = model.score_residuals(fit.params)
    ok = ~np.isnan(ref).any(axis=1)
    assert ok.sum() > n - 10
    assert np.allclose(ours[ok], ref[ok])
    assert np.allclose(ours.sum(axis=0), 0, atol=1e-8), "score residuals sum to zero at the estimate"
    # one group per row: the sandwich is V (U'U) V; identical groups collapse rows
    V = np.asarray(fit.cov_params())
    assert np.allclose(survival.clustered_covariance(V, ours, np.arange(n)), V @ ours.T @ ours @ V)
    pairs = np.arange(n) // 2
    summed = ours[0::2] + ours[1::2]
    assert np.allclose(survival.clustered_covariance(V, ours, pairs), V @ summed.T @ summed @ V)


def _simulated_cohort(n=4000, seed=5, beta=(0.5, -0.4, 0.15)):
    rng = np.random.default_rng(seed)
    home = rng.random(n) < 0.3
    kin = rng.random(n) < 0.2
    prev = rng.integers(0, 4, n)
    lp = beta[0] * home + beta[1] * kin + beta[2] * prev
    t_event = rng.exponential(365 / (0.5 * np.exp(lp)))
    t_other = rng.exponential(365 / 0.4, n)
    cens = rng.uniform(30, 1500, n)
    time = np.minimum.reduce([t_event, t_other, cens])
    event = t_event <= np.minimum(t_other, cens)
    c = pd.DataFrame(
        {
            "child": [f"C{i // 2}" for i in range(n)],
            "time": np.maximum(1, np.round(time)),
            "event": event,
            "start": T("2018-01-01") + pd.to_timedelta(rng.integers(0, 1800, n), unit="D"),
        }
    )
    for t in b.TERMS:
        c[t] = 0.0
    c["childrens_home"], c["kinship"], c["previous_moves"] = home.astype(float), kin.astype(float), prev.astype(float)
    c["male"] = (rng.random(n) < 0.5).astype(float)
    return c


def test_cox_and_discrete_time_models_recover_known_effects():
    c = _simulated_cohort()
    cox = b.fit_cox(c)
    assert set(cox.table["term"]) == {"childrens_home", "kinship", "previous_moves", "male"}
    assert any("same for every placement" in n for n in cox.notes)
    est = cox.table.set_index("term")
    for term, true in (("childrens_home", 0.5), ("kinship", -0.4), ("previous_moves", 0.15), ("male", 0.0)):
        lo, hi = np.log(est.at[term, "lower"]), np.log(est.at[term, "upper"])
        assert lo <= true <= hi, term
    disc = b.fit_discrete_time(c).table.set_index("term")
    assert disc.at["childrens_home", "ratio"] == pytest.approx(np.exp(0.5), rel=0.2)
    assert disc.at["kinship", "ratio"] == pytest.approx(np.exp(-0.4), rel=0.2)
    assert set(cox.diagnostics["term"]) == set(cox.table["term"]) and cox.diagnostics["p"].between(0, 1).all()


def test_a_term_determined_by_others_is_dropped_not_fitted():
    c = _simulated_cohort(n=500)
    c["uasc"] = (c.index % 7 == 0).astype(float)
    c["distance_unknown"] = c["uasc"]  # unaccompanied children have no distance
    terms, notes = b.usable_terms(c)
    assert "uasc" in terms and "distance_unknown" not in terms
    assert any("determined by the other terms" in n for n in notes)


def test_person_periods_expand_each_placement_by_interval():
    c = pd.DataFrame({"child": ["a", "b"], "time": [200.0, 50.0], "event": [True, False]})
    pp = b.person_periods(c, interval_months=3)
    assert pp.groupby("child").size().to_dict() == {"a": 3, "b": 1}  # 200 days = 3 quarters (91.3 days each)
    assert pp["y"].tolist() == [0, 0, 1, 0]
    assert pp["interval"].tolist() == [0, 1, 2, 0]


def test_horizon_labels_use_only_what_was_known():
    c = pd.DataFrame(
        {
            "start": [T("2020-01-01")] * 5,
            "time": [100.0, 400.0, 100.0, 200.0, 100.0],
            "event": [True, False, False, False, True],
            "censor": ["", "other move", "left care", "end of data", ""],
        }
    )
    lab = b.label_horizon(c, 12, known_by=T("2022-01-01"))
    assert lab.index.tolist() == [0, 1, 2, 4], "censored by the end of the data before 12 months: outcome unknown"
    assert lab["y"].tolist() == [1, 0, 0, 1]
    early = b.label_horizon(c, 12, known_by=T("2020-03-01"))
    assert early.empty, "nothing was decided 60 days in"


def test_calibration_and_top_decile_on_known_cases():
    rng = np.random.default_rng(0)
    p = rng.uniform(0.02, 0.6, 40000)
    y = (rng.random(p.size) < p).astype(int)
    cal = classify.calibration(y, p)
    assert cal["calibration_slope"] == pytest.approx(1, abs=0.08)
    assert cal["calibration_intercept"] == pytest.approx(0, abs=0.05)
    squashed = classify.calibration(y, 0.3 + 0.2 * (p - 0.3))
    assert squashed["calibration_slope"] > 2, "predictions too close together give a slope above 1"
    y10 = np.array([1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])
    score = np.linspace(1, 0, 20)
    top = classify.top_decile(y10, score)
    assert top["top_decile_precision"] == 1.0 and top["top_decile_recall"] == pytest.approx(2 / 3)


# --- parameters and small data ------------------------------------------------------------------
def test_setup_explains_bad_parameters(project_903):
    d = b.Data.load(project_903)
    ok = dict(la_code="E06000004", first_year=0, last_year=0, definition="standard", horizons=[6, 12], model_horizon=12, test_years=2)
    s = b.setup(d, **ok, p=project_903)
    assert (s.first_year, s.last_year) == (2016, 2025)
    with pytest.raises(ParameterError, match="did you mean narrow"):
        b.setup(d, **(ok | {"definition": "narow"}), p=project_903)
    with pytest.raises(ParameterError, match="903 data in this project is for E06000004, not Hartlepool"):
        b.setup(d, **(ok | {"la_code": "Hartlepool"}), p=project_903)
    with pytest.raises(ParameterError, match="covers collection years 2016 to 2025"):
        b.setup(d, **(ok | {"first_year": 2010}), p=project_903)
    with pytest.raises(ParameterError, match="horizons"):
        b.setup(d, **(ok | {"horizons": [0]}), p=project_903)
    assert s.resamples == 200 and b.setup(d, **(ok | {"resamples": 2000}), p=project_903).resamples == 2000
    with pytest.raises(ParameterError, match="'resamples' should be from 50 to 5000"):
        b.setup(d, **(ok | {"resamples": 10}), p=project_903)


def test_the_subgroup_note_says_how_many_resamples_were_drawn():
    rng = np.random.default_rng(1)
    test = pd.DataFrame({"y": rng.integers(0, 2, 400), "p": rng.random(400), "sex": rng.choice(["F", "M"], 400)})
    few = b.subgroup_checks(test, "p", [("sex", "Sex")], resamples=60)
    many = b.subgroup_checks(test, "p", [("sex", "Sex")], resamples=240)
    assert "(60 resamples)" in b.fairness_note(few) and "(240 resamples)" in b.fairness_note(many)
    assert few["auc"].equals(many["auc"]), "the groups' AUCs do not depend on the resampling"


def test_too_few_breakdowns_skip_the_models_with_a_reason(project_903):
    d = b.Data.load(project_903)
    s = b.setup(
        d, la_code="E06000004", first_year=2025, last_year=2025, definition="narrow", horizons=[6], model_horizon=6, test_years=1, p=project_903
    )
    res = b.analyse(d, s)
    assert not res.modelled and "too few" in res.cox
    assert res.truth is None and isinstance(res.classifier, str)
    assert len(res.rates) > 1 and res.rates.iloc[0]["placements"] > 0
    text = b.findings_markdown(res.cohort, s, res.rates, res.cox, res.classifier, res.truth)
    assert "not fitted" in text


# --- the planted truth ------------------------------------------------------------------------------
@pytest.mark.slow
def test_planted_hazard_ratios_fall_inside_the_estimated_intervals(project_903):
    """Stockton's synthetic 903 (about 3,200 placements in scope, 1,000 unplanned endings) is large
    enough for the Cox model's 95% intervals to be a fair test of each of the 9 planted effects."""
    d = b.Data.load(project_903)
    assert d.synthetic
    s = b.setup(d, la_code="E06000004", first_year=0, last_year=0, definition="broad", horizons=[12], model_horizon=12, test_years=2, p=project_903)
    c, _ = b.cohort(d, s)
    assert c["event"].sum() > 900
    truth = b.planted_truth(b.fit_cox(c), d.truth)
    assert set(truth["effect"]) == set(d.truth["breakdown_model"]["effects"])
    assert truth["inside_95"].all(), truth[~truth["inside_95"]].to_string()
    # recovered = inside and enough power; the rest are said to be not detectable, not claimed as recovered
    assert (truth["recovered"] == (truth["inside_95"] & (truth["power"] >= 0.8))).all()
    assert (truth.loc[~truth["recovered"], "assessment"].str.startswith("not detectable with this much data")).all()
    section = b.truth_metrics(truth)
    assert all(
        {"planted", "estimate", "lower_95", "upper_95", "interval_width", "power", "recovered", "assessment"} <= set(v) for v in section.values()
    )


def test_partial_dependence_is_the_average_prediction_with_the_feature_set_to_each_grid_value():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(4)
    X = pd.DataFrame({"age": rng.uniform(0, 17, 300), "moves": rng.integers(0, 6, 300).astype(float)})
    y = (rng.random(300) < 1 / (1 + np.exp(-(X["age"] - 10) / 3))).astype(int)
    model = LogisticRegression().fit(X, y)
    dep = b.partial_dependence(model, X, "age", points=5)
    assert dep["value"].is_monotonic_increasing and dep["value"].iloc[0] >= X["age"].quantile(0.02) - 0.05
    for v, risk in zip(dep["value"], dep["risk_pct"]):  # by hand: every row with age set to v, then the mean
        assert risk == pytest.approx(100 * model.predict_proba(X.assign(age=v))[:, 1].mean(), rel=1e-12)
    assert dep["risk_pct"].is_monotonic_increasing  # risk rises with age in this model


def test_the_clustered_sandwich_equals_statsmodels_where_statsmodels_gives_one():
    """PHReg.fit(groups=...) is the library's clustered sandwich; ours must equal it on data where it is defined."""
    from statsmodels.duration.hazard_regression import PHReg

    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 2))
    time = rng.exponential(np.exp(-X @ [0.4, -0.2])) + 0.01
    event = rng.random(300) < 0.8
    keep = event | (time > time[event].min())  # no censored time before the first event (see the next test)
    X, time, event = X[keep], time[keep], event[keep]
    groups = np.arange(len(time)) // 3
    model = PHReg(time, X, status=event.astype(int), ties="breslow")
    naive = model.fit()
    ours = survival.clustered_covariance(
        np.asarray(naive.cov_params()), survival.cox_score_residuals(time, event, X, np.asarray(naive.params)), groups
    )
    assert np.sqrt(np.diag(ours)) == pytest.approx(model.fit(groups=groups).bse, rel=1e-10)


def test_statsmodels_clustered_errors_are_nan_when_a_censored_time_precedes_the_first_event():
    """Why paper 02 keeps its own sandwich: a minimal reproduction of statsmodels (0.15) returning NaN
    robust standard errors (the censored row's score residual is 0/0). Placements censored in their
    first days are common in 903 data. If this test fails, statsmodels has fixed it: use
    ``PHReg.fit(groups=...)`` in ``fit_cox`` and drop ``clustered_covariance``."""
    from statsmodels.duration.hazard_regression import PHReg

    time = np.array([1.0, 2, 3, 4, 5, 6, 7, 8])
    status = np.array([0, 1, 0, 1, 1, 0, 1, 1])
    X = np.array([[0.5], [1.0], [-0.3], [0.2], [-1.0], [0.7], [0.1], [-0.4]])
    groups = np.arange(8)
    model = PHReg(time, X, status=status)
    assert np.isnan(model.fit(groups=groups).bse).all()
    assert np.isnan(model.score_residuals(model.fit().params)[0]).all() and not np.isnan(model.score_residuals(model.fit().params)[1:]).any()
    assert np.isfinite(PHReg(time[1:], X[1:], status=status[1:]).fit(groups=groups[1:]).bse).all()
    # ours: the censored row before any event contributes nothing to the score, so the sandwich is finite
    naive = model.fit()
    ours = survival.clustered_covariance(
        np.asarray(naive.cov_params()), survival.cox_score_residuals(time, status.astype(bool), X, np.asarray(naive.params)), groups
    )
    assert np.isfinite(ours).all() and ours[0, 0] > 0
