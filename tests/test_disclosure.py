import pandas as pd
import pytest

from analysis.report.disclosure import SUPPRESSED, apply_disclosure_control, suppression_mask


def test_counts_of_one_to_four_are_suppressed_zero_and_five_shown():
    df = pd.DataFrame({"n": [0, 1, 2, 3, 4, 5, 17]})
    out = apply_disclosure_control(df, ["n"])
    assert out["n"].tolist() == [0, "c", "c", "c", "c", 5, 17]


def test_secondary_suppression_across_a_row_with_a_total():
    df = pd.DataFrame({"fostering": [3, 40], "residential": [12, 6], "other": [30, 0], "total": [45, 46]})
    out = apply_disclosure_control(df, ["fostering", "residential", "other"], row_total="total")
    # row 0: 3 suppressed; the next smallest (12) too, so 45 - 30 cannot reveal it
    assert out.loc[0, ["fostering", "residential", "other", "total"]].tolist() == [SUPPRESSED, SUPPRESSED, 30, 45]
    # row 1: nothing below 5 except... 6 is fine, 0 is a true zero
    assert out.loc[1].tolist() == [40, 6, 0, 46]


def test_secondary_suppression_down_a_column_with_a_total_row():
    df = pd.DataFrame({"la": ["A", "B", "C", "Total"], "n": [2, 50, 9, 61]})
    out = apply_disclosure_control(df, ["n"], total_row="Total", label_column="la")
    assert out["n"].tolist() == [SUPPRESSED, 50, SUPPRESSED, 61]


def test_row_and_column_passes_repeat_until_safe():
    # suppressing a cell for its row leaves its column with a single suppression, which must be protected too
    df = pd.DataFrame(
        {
            "label": ["a", "b", "Total"],
            "x": [2, 20, 22],
            "y": [10, 30, 40],
            "t": [12, 50, 62],
        }
    )
    mask = suppression_mask(df, ["x", "y"], row_total="t", total_row="Total", label_column="label")
    body = mask.iloc[:2]
    for c in ["x", "y"]:
        assert body[c].sum() != 1, f"column {c} has a single suppressed cell"
    for i in range(2):
        assert body.loc[i, ["x", "y"]].sum() != 1, f"row {i} has a single suppressed cell"


def test_linked_percentages_are_suppressed_with_their_count():
    df = pd.DataFrame({"n": [3, 30], "pct": [9.1, 90.9]})
    out = apply_disclosure_control(df, ["n"], linked={"n": ["pct"]})
    assert out["pct"].tolist() == [SUPPRESSED, 90.9]


def test_a_small_total_is_suppressed():
    df = pd.DataFrame({"a": [1], "b": [2], "total": [3]})
    out = apply_disclosure_control(df, ["a", "b"], row_total="total")
    assert out.loc[0].tolist() == [SUPPRESSED] * 3


def test_bad_arguments_are_clear():
    df = pd.DataFrame({"n": [1]})
    with pytest.raises(KeyError, match="missing"):
        apply_disclosure_control(df, ["missing"])
    with pytest.raises(ValueError, match="label_column"):
        apply_disclosure_control(df, ["n"], total_row="Total")


def test_secondary_suppression_within_each_block_of_a_stacked_table():
    df = pd.DataFrame(
        {
            "grouping": ["type", "type", "type", "age", "age"],
            "group": ["a", "b", "c", "young", "old"],
            "n": [3, 40, 57, 50, 50],
            "rate": [1.0, 2.0, 3.0, 4.0, 5.0],
        }
    )
    out = apply_disclosure_control(df, ["n"], groups="grouping", linked={"n": ["rate"]})
    # in "type", 3 alone would be found from the total of 100: the next smallest (40) goes too
    assert out["n"].tolist() == ["c", "c", 57, 50, 50]
    assert out["rate"].tolist() == ["c", "c", 3.0, 4.0, 5.0]
