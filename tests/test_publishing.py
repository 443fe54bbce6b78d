"""The one disclosure gate and the scan that reads what a reader reads.

Each leak found in issue 13 is tried twice: published through the gate (it must not appear) and
published ungated (the scan must catch it, naming the file and the cell or words)."""

import json

import numpy as np
import pandas as pd
import pytest

from analysis.report import charts, reporting
from analysis.report.disclosure import SUPPRESSED, Gated, GateError, count_text, gate
from analysis.report.labels import cell_text, column_label


def _report(tmp_path, **context):
    return reporting.Report(paper="99", title="Test paper", output_dir=tmp_path, context={"la_code": "E06000017", **context})


# --- the gate --------------------------------------------------------------------------------------------
def test_a_gated_table_cannot_be_made_by_hand():
    with pytest.raises(TypeError, match="disclosure.gate"):
        Gated(pd.DataFrame({"x": [1]}), pd.DataFrame({"x": [False]}), (), {})


def test_a_count_column_left_undeclared_is_refused():
    # the forecast-by-group table was published with counts=[]: the gate now refuses such a table
    df = pd.DataFrame({"year": [2026, 2026], "group": ["other", "fostering"], "children": [1, 30], "lower_95": [1, 25]})
    with pytest.raises(GateError, match="children"):
        gate(df, counts=[])
    g = gate(df, counts=["children", "lower_95"], groups="year")
    assert g.frame["children"].tolist() == [SUPPRESSED, SUPPRESSED], "the other cell of the year is suppressed too"


def test_every_figure_of_a_suppressed_group_goes_with_it():
    # paper 02's rates: "other" had 33 placement-years and a rate of 18.0 (6.6-39.1) beside a suppressed count
    rates = pd.DataFrame(
        {
            "grouping": ["All", "Type", "Type", "Type"],
            "group": ["All", "foster", "other", "secure"],
            "placements": [998, 900, 95, 3],
            "unplanned": [300, 290, 6, 4],
            "placement_years": [800.0, 700.0, 33.0, 67.0],
            "rate_per_100_years": [37.5, 41.4, 18.0, 6.0],
            "lower_95": [33.4, 36.8, 6.6, 1.6],
            "upper_95": [42.0, 46.5, 39.1, 15.4],
        }
    )
    g = gate(rates, counts=["placements", "unplanned"], groups="grouping")
    other = g.frame.set_index("group").loc["other"]
    secure = g.frame.set_index("group").loc["secure"]
    assert (secure == SUPPRESSED).sum() == 6 and (other[["unplanned", "placement_years", "rate_per_100_years", "lower_95"]] == SUPPRESSED).all()
    assert other["placements"] == SUPPRESSED, "secondary: 998 - 900 - 95 would give secure = 3"
    assert g.frame.set_index("group").loc["foster", "rate_per_100_years"] == 41.4
    assert np.isnan(g.numbers("rate_per_100_years")[2]), "a chart sees NaN where the table shows c"


def test_percentages_beside_a_suppressed_count_are_suppressed():
    # paper 02 prediction_by_group (Rutland): placements c (secondary) beside 5 unplanned and 62.5% observed gave 5 / 62.5% = 8
    df = pd.DataFrame(
        {
            "characteristic": ["Ethnic group"] * 3,
            "group": ["Mixed", "Other", "White"],
            "placements": [8, 3, 107],
            "unplanned": [5, 0, 40],
            "observed_pct": [62.5, 0.0, 37.4],
            "auc": [0.7, np.nan, 0.6],
        }
    )
    g = gate(df, counts=["placements", "unplanned"], groups="characteristic")
    mixed = g.frame.loc[0]
    assert mixed["placements"] == SUPPRESSED, "8 is the next smallest placements cell in the block"
    assert mixed["observed_pct"] == SUPPRESSED and mixed["auc"] == SUPPRESSED
    assert g.frame.loc[2, "observed_pct"] == 37.4


def test_linked_columns_follow_their_own_count():
    df = pd.DataFrame(
        {
            "cell": ["secure / own", "foster / own", "all"],
            "children0": [1, 30, 31],
            "spend0": [300_000.0, 900_000.0, 1_200_000.0],
            "children1": [12, 30, 42],
            "spend1": [500_000.0, 950_000.0, 1_450_000.0],
        }
    )
    g = gate(df, counts=["children0", "children1"], total_row="all", label_column="cell", linked={"children0": ["spend0"], "children1": ["spend1"]})
    assert g.frame.loc[0, "spend0"] == SUPPRESSED and g.frame.loc[0, "spend1"] == 500_000.0


def test_counts_in_sentences_never_show_one_to_four():
    # a suppressed cell is "not shown", never "fewer than 5": secondary suppression hides larger numbers too
    assert [count_text(v) for v in (0, 1, 4, 5, 564.0, SUPPRESSED)] == ["0", "fewer than 5", "fewer than 5", "5", "564", "a number not shown (c)"]
    g = gate(pd.DataFrame({"group": ["children's home", "fostering"], "children_now": [3, 40]}), counts=["children_now"])
    assert g.say("children's home", "children_now", by="group") == "a number not shown (c)"


# --- charts draw only gated tables, and say what they leave out ------------------------------------------------
def test_a_chart_refuses_a_raw_frame():
    df = pd.DataFrame({"label": ["a"], "est": [1.0], "lo": [0.5], "hi": [2.0]})
    with pytest.raises(TypeError, match="gated table"):
        charts.interval_plot(df, "t", label="label", estimate="est", lower="lo", upper="hi", xlabel="x")


def test_a_suppressed_point_is_left_out_of_the_chart_and_its_alt_text(monkeypatch):
    import matplotlib.pyplot as plt

    rates = pd.DataFrame(
        {
            "label": ["foster", "other"],
            "placements": [900, 95],
            "unplanned": [290, 3],
            "rate_per_100_years": [41.4, 18.0],
            "lower_95": [36.8, 6.6],
            "upper_95": [46.5, 39.1],
        }
    )
    fig = charts.interval_plot(
        gate(rates, counts=["placements", "unplanned"]),
        "t",
        label="label",
        estimate="rate_per_100_years",
        lower="lower_95",
        upper="upper_95",
        xlabel="x",
    )
    html = charts.figure_html(fig, "Dot-and-interval chart.", "caption")
    plt.close(fig)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["foster"]
    assert "41.40 (36.80 to 46.50)" in html and "18.0" not in html and "6.6" not in html  # two places unless told
    assert "Not shown (suppressed" in html and "other" in html


def test_a_forecast_chart_leaves_out_a_forecast_of_fewer_than_five():
    import matplotlib.pyplot as plt

    data = pd.DataFrame(
        {
            "series": ["Recorded (synthetic)"] * 2 + ["Forecast (synthetic)"] * 2,
            "year": [2024, 2025, 2026, 2027],
            "mean": [6, 5, 4, 3],
            "lower": [np.nan, np.nan, 2, 1],
            "upper": [np.nan, np.nan, 7, 6],
        }
    )
    fig = charts.forecast_lines(gate(data, counts=["mean", "lower", "upper"]), "t")
    line = fig.axes[0].get_lines()[1]
    plt.close(fig)
    assert np.isnan(np.asarray(line.get_ydata(), float)[1:]).all(), "the forecast points of 3 and 4 are not drawn"
    assert "Not shown" in fig._analysis_alt


# --- what a reader sees is plain -------------------------------------------------------------------------
def test_cells_are_written_for_readers():
    assert cell_text(3231.0, "placements", count=True) == "3,231"
    assert cell_text(-471963.0, "annual_change_gbp") == "-£471,963"
    assert cell_text(float("nan"), "value") == "x" and cell_text(None, "value") == "x"
    assert cell_text(True, "recovered") == "yes" and cell_text("False", "inside_interval") == "no"
    assert cell_text(0.00001, "p_value") == "<0.0001"
    assert cell_text(18.04, "rate_per_100_years", decimals=1) == "18.0"
    assert cell_text(2025, "year") == "2025"


def test_every_published_column_has_a_reader_label():
    for raw, label in (
        ("km_6m_pct", "Ended unplanned by 6 months, others censored (%)"),
        ("comparator_average", "Comparator average"),
        ("against_England", "Compared with England"),
        ("weeks0", "Placement-weeks, first year"),
        ("spend0", "Spend, first year (£)"),
        ("forecast_2030", "Forecast for 2030"),
    ):
        assert column_label(raw) == label
    assert "_" not in column_label("some_new_column_pct")


def test_a_published_table_has_a_caption_and_header_scope():
    html = reporting.table_html(pd.DataFrame({"group": ["a"], "children": [12.0]}), title="Children by group", counts=["children"])
    assert "<caption" in html and 'scope="col"' in html and ">12<" in html and "12.0" not in html


# --- the scan reads what a reader reads --------------------------------------------------------------------
def _folder(tmp_path, **context):
    r = _report(tmp_path, **context)
    r.table("t", pd.DataFrame({"group": ["a", "b"], "children": [10, 20]}), title="t", counts=["children"], show=False)
    r.finish()
    return tmp_path


@pytest.mark.parametrize(
    "words",
    [
        "3 children in children's homes now, 1 in the LA's own.",  # paper 04 key messages, Rutland
        "5 children moved (2 are in such homes on 31 March 2025)",  # papers 03 and 04 scenario text
        "Of them, 4 placements ended unplanned.",
    ],
)
def test_the_scan_finds_a_small_count_in_words(tmp_path, words):
    folder = _folder(tmp_path)
    (folder / "report.html").write_text(f"<html><body><p>{words}</p></body></html>")
    problems = reporting.scan_outputs(folder)
    assert any("report.html: a count of 1 to 4 in words" in p for p in problems), problems


@pytest.mark.parametrize(
    "words",
    [
        "Counts of 1 to 4 are suppressed.",
        "1 in 5 children",
        "aged 1 to 4",
        "3 or more placements in the year",
        "Page 1 of 3",
        "125 per 10,000 children",
        "fewer than 5 children",
        "rates 2.4 children",
    ],
)
def test_the_scan_leaves_ordinary_words_alone(tmp_path, words):
    folder = _folder(tmp_path)
    (folder / "report.html").write_text(f"<html><body><p>{words}</p></body></html>")
    assert reporting.scan_outputs(folder) == []


def test_the_scan_reads_chart_alt_text(tmp_path):
    folder = _folder(tmp_path)
    (folder / "report.html").write_text('<html><body><img src="data:image/png;base64,AAAA" alt="Bars: 2 children in secure units"></body></html>')
    assert any("a count of 1 to 4 in words" in p for p in reporting.scan_outputs(folder))


def test_the_scan_reads_the_pdf(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder = _folder(tmp_path)
    with matplotlib.rc_context({"pdf.fonttype": 42}):
        fig = plt.figure()
        fig.text(0.1, 0.5, "There are 2 children in the LA's own homes.")
        fig.savefig(folder / "report.pdf")
        plt.close(fig)
    assert any(p.startswith("report.pdf: a count of 1 to 4 in words") for p in reporting.scan_outputs(folder))


def test_the_scan_finds_a_forecast_of_one_child_in_metrics(tmp_path):
    folder = _folder(tmp_path)
    m = json.loads((folder / reporting.METRICS_FILE).read_text())
    m["metrics"]["forecast_children"] = {"value": {"Current trends": {"2030": {"mean": 1, "lower_95": 1, "upper_95": 1}}}, "kind": "value"}
    m["metrics"]["hazard_ratios"] = {"value": {"childrens_home": {"hazard_ratio": 1.49, "lower_95": 1.02, "upper_95": 2.16}}, "kind": "value"}
    (folder / reporting.METRICS_FILE).write_text(json.dumps(m))
    problems = reporting.scan_outputs(folder)
    assert any("forecast_children.value.Current trends.2030.mean' is a count of 1" in p for p in problems)
    assert not any("hazard_ratios" in p for p in problems), "a hazard ratio is not a count"


def _ungated(folder, name, frame, counts, **structure):
    """A table written to the workbook as if it had skipped the gate (the scan is the second line of defence)."""
    r = _report(folder)
    r.tables.append(
        reporting.PublishedTable(
            name,
            name,
            frame,
            tuple(counts),
            "",
            {"derived": [c for c in frame.columns if c not in counts and frame[c].dtype.kind in "fi"], **structure},
        )
    )
    r.finish()
    return reporting.scan_outputs(folder)


def test_the_scan_finds_a_percentage_beside_a_suppressed_count(tmp_path):
    frame = pd.DataFrame({"group": ["UASC", "not UASC"], "placements": [SUPPRESSED, 110], "observed_pct": [62.5, 36.4]})
    problems = _ungated(tmp_path, "prediction_by_group", frame, ["placements"])
    assert any("'Observed (%)' shown beside the suppressed 'Placements'" in p for p in problems), problems


def test_the_scan_finds_a_cell_that_a_total_reveals(tmp_path):
    frame = pd.DataFrame({"group": ["fostering", "children's home", "other", "all groups"], "children_now": [40, SUPPRESSED, 6, 49]})
    problems = _ungated(tmp_path, "gap", frame, ["children_now"], total_row="all groups", label_column="group")
    assert any("one suppressed cell in a block with a published total" in p for p in problems), problems


def test_the_scan_finds_a_small_count_in_a_table_declared_without_counts(tmp_path):
    frame = pd.DataFrame({"year": [2026, 2026], "group": ["other", "fostering"], "children": [1, 30]})
    problems = _ungated(tmp_path, "forecast_by_group", frame, ["children"])
    assert any("a count of 1 is shown" in p for p in problems), problems


def test_tables_published_through_the_gate_pass_the_scan(tmp_path):
    r = _report(tmp_path, data="synthetic 903 (generated; not real children)")
    r.table(
        "gap",
        pd.DataFrame(
            {"group": ["fostering", "children's home", "other", "all groups"], "children_now": [40, 3, 6, 49], "in_own_provision_now": [30, 1, 0, 31]}
        ),
        title="gap",
        counts=["children_now", "in_own_provision_now"],
        total_row="all groups",
        label_column="group",
        show=False,
    )
    r.table(
        "rates",
        pd.DataFrame({"group": ["UASC", "not UASC"], "placements": [4, 110], "observed_pct": [62.5, 36.4]}),
        title="rates",
        counts=["placements"],
        show=False,
    )
    r.finish()
    assert reporting.scan_outputs(tmp_path) == []


# --- synthetic is unmistakable ---------------------------------------------------------------------------
def test_every_sheet_of_a_synthetic_workbook_says_so(tmp_path):
    _folder(tmp_path, data="synthetic 903 (generated; not real children)")
    sheets = pd.read_excel(tmp_path / reporting.WORKBOOK_FILE, sheet_name=None, header=None)
    assert str(sheets["About"].iloc[2, 0]) == "SYNTHETIC DATA"
    for name, sheet in sheets.items():
        if name != "About":
            assert str(sheet.iloc[0, 0]).startswith("SYNTHETIC DATA") and "not real children" in str(sheet.iloc[1, 0])
    assert json.loads((tmp_path / reporting.METRICS_FILE).read_text())["synthetic"] is True


def test_a_real_data_workbook_carries_no_synthetic_note(tmp_path):
    _folder(tmp_path, data="the LA's own 903 returns")
    sheets = pd.read_excel(tmp_path / reporting.WORKBOOK_FILE, sheet_name=None, header=None)
    assert not any("SYNTHETIC" in str(v) for s in sheets.values() for v in s.to_numpy().ravel())


# --- claims that hold: recovered only with the power to tell ------------------------------------------
def test_power_matches_the_normal_formula_and_drives_the_verdict():
    from scipy.stats import norm

    from analysis.stats import planted

    effect, se = 0.18, 0.09
    z = effect / se
    by_hand = norm.cdf(z - norm.ppf(0.975)) + norm.cdf(-z - norm.ppf(0.975))
    assert planted.power_to_detect(effect, se) == pytest.approx(by_hand, abs=1e-9)
    weak = planted.assess(0.18, 0.105, 0.09)  # paper 02's SDQ effect: inside its interval, too little power
    assert weak["inside_95"] and not weak["recovered"] and weak["assessment"].startswith("not detectable with this much data")
    strong = planted.assess(0.45, 0.50, 0.05)
    assert strong["recovered"] and strong["assessment"] == "recovered" and strong["interval_width"] == pytest.approx(2 * 1.96 * 0.05, rel=1e-3)
    assert planted.assess(0.45, 0.90, 0.05)["assessment"] == "not recovered"
    gone = planted.assess(0.25, float("nan"), float("nan"), dropped_because="no variation")
    assert not gone["recovered"] and gone["assessment"] == "not estimated: no variation"
    assert planted.summary(["recovered", weak["assessment"], "not recovered", gone["assessment"]]).startswith("1 of 4 planted effects recovered")


def test_a_planted_cost_effect_the_model_dropped_is_reported_not_skipped():
    from analysis.papers.p03_costs import paper as cd

    fit = cd.WithinFit(
        pd.DataFrame({"term": ["outside_la"], "label": ["Placed outside the LA boundary"], "estimate": [0.12], "se": [0.01]}),
        100,
        50,
        pd.Series(dtype=float),
        [],
        ["disability_n2 does not vary and is left out"],
        1.0,
    )
    truth = {"cost_model": {"effects": {"outside_la": 0.12, "disability_n2": 0.25}}}
    t = cd.planted_cost_truth(fit, truth).set_index("effect")
    assert t.loc["outside_la", "recovered"] and not t.loc["disability_n2", "recovered"]
    assert t.loc["disability_n2", "assessment"] == "not estimated: disability_n2 does not vary and is left out"


def test_calibrated_only_when_slope_and_intercept_are_near_ideal():
    from analysis.papers.p02_breakdown.paper import is_calibrated

    assert is_calibrated(1.0, 0.0) and is_calibrated(0.85, -0.15)
    assert not is_calibrated(2.76, 0.0), "paper 02's boosted model (slope 2.76) was called calibrated"
    assert not is_calibrated(1.0, 0.5) and not is_calibrated(float("nan"), 0.0)


def _fairness_data(seed, broken_group=None):
    rng = np.random.default_rng(seed)
    n = 4000
    groups = rng.choice(["under 5", "5 to 9", "10 to 15", "16 and over"], n)
    risk = rng.uniform(0.1, 0.5, n)
    y = (rng.random(n) < risk).astype(int)
    prob = risk.copy()
    if broken_group:  # the model knows nothing about this group's risk
        hit = groups == broken_group
        prob[hit] = rng.uniform(0.1, 0.5, hit.sum())
    return pd.DataFrame({"age_band": groups, "y": y, "prob": prob})


def test_fairness_checks_flag_nothing_when_no_group_differs():
    from analysis.papers.p02_breakdown.paper import subgroup_checks

    flagged = 0
    for seed in range(3):
        t = subgroup_checks(_fairness_data(seed), "prob", [("age_band", "Age at start")], resamples=100)
        flagged += int((t["assessment"] != "no significant difference").sum())
        assert t.attrs["tests"] == 8
    assert flagged == 0, "with no planted group effect, Holm's correction keeps false flags away"


def test_fairness_checks_flag_a_group_the_model_cannot_rank():
    from analysis.papers.p02_breakdown.paper import subgroup_checks

    t = subgroup_checks(_fairness_data(7, broken_group="10 to 15"), "prob", [("age_band", "Age at start")], resamples=100).set_index("group")
    assert t.loc["10 to 15", "assessment"].startswith("ranks risk less well")
    assert t.loc["10 to 15", "difference_upper"] < 0
    # the others can only look better than a whole that includes the broken group, never worse
    assert not t.drop(index="10 to 15")["assessment"].str.contains("less well").any()


def test_rank_auc_is_scikit_learns_auc():
    from sklearn.metrics import roc_auc_score

    from analysis.stats.classify import rank_auc

    rng = np.random.default_rng(3)
    y = (rng.random(500) < 0.3).astype(int)
    p = np.round(rng.random(500), 2)  # ties on purpose
    assert rank_auc(y, p) == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert np.isnan(rank_auc(np.zeros(5, int), p[:5]))


@pytest.mark.parametrize("words", ["1 unplanned endings is too few for 4 model terms", "3 entries in the year", "2 is the number in care"])
def test_the_scan_finds_small_counts_of_events_in_words(tmp_path, words):
    folder = _folder(tmp_path)
    (folder / "report.html").write_text(f"<html><body><p>{words}</p></body></html>")
    assert any("a count of 1 to 4 in words" in p for p in reporting.scan_outputs(folder))


def test_the_packs_key_message_on_childrens_homes_never_writes_a_small_count():
    # Rutland: "3 children in children's homes now, 1 in the LA's own" beside a table showing c
    from analysis.papers.p04_sufficiency import paper as sufficiency

    gap = pd.DataFrame(
        {
            "group": ["fostering", "children's home", "supported", "other", "all groups"],
            "children_now": [20, 3, 6, 5, 34],
            "in_own_provision_now": [15, 1, 0, 0, 16],
            "forecast_2030": [22.0, 4.0, 6.0, 5.0, 37.0],
            "lower_95": [15.0, 1.0, 3.0, 2.0, 25.0],
            "upper_95": [30.0, 8.0, 10.0, 9.0, 49.0],
            "extra_places_needed_if_own_share_kept": [1.0, 0.0, 0.0, 0.0, 1.0],
        }
    )
    settings = type("S", (), {"la_name": "Rutland", "source": "903"})()
    text = sufficiency.key_messages(settings, {}, None, None, None, gate(gap, **sufficiency.gap_disclosure(gap)), synthetic=True)
    assert "children in children's homes now: a number not shown (c), of whom in the LA's own homes: a number not shown (c)" in text
    assert "SYNTHETIC 903" in text
    assert not reporting.SMALL_COUNT_IN_WORDS.search(text)


def test_a_chart_of_synthetic_data_is_stamped(tmp_path):
    import matplotlib.pyplot as plt

    data = gate(pd.DataFrame({"label": ["a", "b"], "v": [10.0, 20.0]}), counts=[])
    fig = charts.bars(data, "t", label="label", value="v", xlabel="x")
    charts.mark_synthetic(fig)
    html = charts.figure_html(fig, "Bars.", "caption")
    plt.close(fig)
    assert "SYNTHETIC DATA" in [t.get_text() for t in fig.texts]
    assert "synthetic data, not real children" in html


def test_numbers_held_as_objects_go_with_a_suppressed_count_too():
    # a column of numbers that arrived as objects (mixed with None) must not slip past the row rule
    df = pd.DataFrame({"group": ["a", "b", "c"], "children": [3, 40, 50], "spend": pd.Series([120_000.0, None, 9_000.0], dtype=object)})
    g = gate(df, counts=["children"])
    assert g.frame.loc[0, "spend"] == SUPPRESSED and g.frame.loc[2, "spend"] == 9_000.0
    with pytest.raises(GateError):
        gate(pd.DataFrame({"children": pd.Series([3, None], dtype=object)}), counts=[])


def test_a_stock_and_its_flows_leave_no_single_suppressed_cell_to_work_out():
    # stock[t] = stock[t-1] + entries[t] - exits[t]: entries of 4 with the stock and the exits shown gives it away
    flows = pd.DataFrame({"year": [2023, 2024, 2025], "entries": [12, 4, 15], "cla_31_march": [30, 26, 31], "exits": [np.nan, 8.0, 10.0]})
    g = gate(flows, counts=["entries", "cla_31_march", "exits"], stock_flow=("cla_31_march", "entries", "exits"))
    f, hidden = g.frame, g.suppressed
    assert f.loc[1, "entries"] == SUPPRESSED
    for t in (1, 2):  # every identity has none or at least two suppressed cells
        cells = [hidden.at[t, "cla_31_march"], hidden.at[t - 1, "cla_31_march"], hidden.at[t, "entries"], hidden.at[t, "exits"]]
        assert sum(cells) != 1, (t, cells)
    assert f.loc[2, "entries"] == 15, "an identity with nothing hidden is left alone"


def test_the_scan_finds_a_flow_that_the_stock_gives_away(tmp_path):
    frame = pd.DataFrame({"year": [2024, 2025], "entries": [12, SUPPRESSED], "cla_31_march": [30, 26], "exits": [None, 8]})
    problems = _ungated(tmp_path, "flows", frame, ["entries", "cla_31_march", "exits"], stock_flow=["cla_31_march", "entries", "exits"])
    assert any("stock = last stock + in - out" in p for p in problems), problems


def test_the_coverage_chart_counts_each_state_and_shows_no_numbers():
    import matplotlib.pyplot as plt

    from analysis.report import charts

    coverage = pd.DataFrame({2024: ["✓", "c", ""], 2025: ["✓", "✓", ".."]}, index=["cla_31_march", "placement_foster", "need_total"])
    fig = charts.coverage_heatmap(coverage, "Which years")
    assert fig._analysis_alt == "3 indicators over 2 years; cells: 2 not published, 1 suppressed or not available, 3 published."
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == list(coverage.index)
    assert not any(t.get_text().strip() for t in ax.texts), "no numbers on the cells"
    plt.close(fig)


def test_the_synthetic_mark_follows_the_data_not_the_report(tmp_path):
    """In a report on a synthetic 903, a sheet of published figures is not marked synthetic and says it is published."""
    report = reporting.Report(paper="t", title="t", output_dir=tmp_path, context={"data": "synthetic 903"})
    report.table("from_903", pd.DataFrame({"group": ["a"], "children": [10]}), title="From the 903", counts=["children"], show=False)
    report.table("dfe", pd.DataFrame({"measure": ["rate"], "value": [70.0]}), title="Published", counts=[], published=True, show=False)
    report.finish()
    sheets = pd.read_excel(tmp_path / "tables.xlsx", sheet_name=None, header=None)
    assert str(sheets["from_903"].iloc[0, 0]).startswith("SYNTHETIC DATA")
    assert str(sheets["dfe"].iloc[0, 0]) == "Published" and str(sheets["dfe"].iloc[1, 0]).startswith("Source: published figures")


def test_paper_03_is_not_synthetic_for_an_la_whose_903_is_not_held():
    from analysis.papers.p03_costs import paper as costs

    s = type(
        "S",
        (),
        {"la_code": "E06000017", "la_name": "Rutland", "la": {"region_name": "East Midlands"}, "neighbours": [], "names": {}, "unit_costs": {}},
    )()
    data = type("D", (), {"report": {"la_code": "E06000004"}, "truth": {"planted": 1}, "costs": pd.DataFrame({"x": [1]})})()
    assert costs.report_context(data, s)["data"] == "published data only"
    assert not reporting.is_synthetic(costs.report_context(data, s))
    s.la_code = "E06000004"
    assert reporting.is_synthetic(costs.report_context(data, s))


def test_a_significant_but_tiny_calibration_difference_is_not_flagged():
    """Paper 02 said "the model works differently for: Boy" on data with no planted sex effect: with thousands of
    placements a 2-point gap between predicted and observed is significant, and too small to matter."""
    from analysis.papers.p02_breakdown.paper import subgroup_checks

    rng = np.random.default_rng(7)
    n = 40_000
    sex = rng.choice(["boy", "girl"], n)
    prob = rng.uniform(0.2, 0.4, n)
    y = (rng.random(n) < prob + np.where(sex == "boy", 0.02, -0.02)).astype(int)  # 2 points off each way
    t = subgroup_checks(pd.DataFrame({"sex": sex, "y": y, "prob": prob}), "prob", [("sex", "Sex")], resamples=60).set_index("group")
    assert t.at["boy", "p_calibration_holm"] < 0.05, "the difference is significant"
    assert t.at["boy", "assessment"] == "a significant but small difference, not flagged"
    # ten points off is flagged
    y = (rng.random(n) < prob + np.where(sex == "boy", 0.10, 0.0)).astype(int)
    t = subgroup_checks(pd.DataFrame({"sex": sex, "y": y, "prob": prob}), "prob", [("sex", "Sex")], resamples=60).set_index("group")
    assert t.at["boy", "assessment"].startswith("under-predicts")


def test_the_location_message_uses_the_share_the_pack_shows_when_the_dfe_suppresses_it():
    """Rutland: the DfE's share outside the LA is suppressed, while the pack's own location table shows 27 of 32."""
    from analysis.papers.p04_sufficiency import paper as sufficiency

    loc = pd.DataFrame({"group": ["inside the LA", "outside, over 20 miles", "outside, up to 20 miles", "all children"], "2025": [5, 15, 12, 32]})
    assert sufficiency.outside_now({"location": loc}, 2025) == (27, 32)
    hidden = loc.assign(**{"2025": [3, 17, 12, 32]})  # inside is 3: suppressed, and one outside row with it
    assert sufficiency.outside_now({"location": hidden}, 2025) is None, "never a figure the table hides"
    settings = type("S", (), {"la_name": "Rutland", "source": "903", "last_year": 2025})()
    m1 = {"metrics": {"outside_pct": {"value": "c", "england": 44.0}}}
    text = sufficiency.key_messages(settings, {"01": m1}, None, None, None, None, synthetic=True, needs={"location": loc})
    assert "27 of 32 children looked after at 31 March 2025 lived outside the LA boundary" in text and "SYNTHETIC 903" in text
    text = sufficiency.key_messages(settings, {"01": m1}, None, None, None, None, synthetic=True, needs={"location": hidden})
    assert "not published (suppressed by DfE) placed outside" in text
