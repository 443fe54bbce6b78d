import numpy as np
import pandas as pd

from analysis.io.indicators import catalogue, denominator_for, label_key
from analysis.io.profile import format_value, headline_table


def test_format_value_shows_symbols_never_zero():
    assert format_value(np.nan, "c") == "c"
    assert format_value(np.nan, pd.NA) == ".."
    assert format_value(0.0, pd.NA) == "0"
    assert format_value(1234.0, None) == "1,234"
    assert format_value(6.5, None) == "6.5"


def test_headline_table_uses_the_las_latest_year_for_all_three_areas():
    li = pd.DataFrame(
        {
            "indicator": ["cla_31_march"] * 5,
            "measure": ["rate_per_10000"] * 5,
            "area_code": ["E06000004", "E06000004", "E12000001", "E92000001", "E92000001"],
            "year": [2024, 2025, 2025, 2025, 2024],
            "value": [131.0, np.nan, 111.0, 67.0, 70.0],
            "flag": [pd.NA, "c", pd.NA, pd.NA, pd.NA],
        }
    )
    la = pd.Series({"la_code": "E06000004", "region_code": "E12000001"})
    t = headline_table(li, la)
    assert t.to_dict("records") == [{"indicator": "  per 10,000 children aged 0-17", "year": 2025, "LA": "c", "region": "111", "England": "67"}]


def test_label_key_normalises_publication_differences():
    assert label_key("Carer requests placement ends due to child's behaviour") == label_key("Carer requests placement ends due to childs behaviour")
    assert label_key("Children looked after on 31 March each year") == label_key("Children looked after at 31 March each year")
    assert label_key("1. Placed inside the LA boundary") == "placed inside the la boundary"


def test_catalogue_has_unique_ids_and_known_denominators():
    cat = catalogue()
    assert cat["indicator"].is_unique
    ids = set(cat["indicator"])
    for den in cat["denominator"].dropna().unique():
        assert den in ids, den
    assert denominator_for("placement_foster") == "cla_31_march"
    assert denominator_for("new_placements_outside_over_20") == "new_placements"
    assert denominator_for("placement_change_allegation") == "placement_changes"
