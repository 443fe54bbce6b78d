"""Episodes -> placements and periods, unplanned endings and DfE measures, on hand-worked cases."""

import pandas as pd

from analysis.io import placements as pl

COLS = [
    "CHILD",
    "DECOM",
    "RNE",
    "LS",
    "CIN",
    "PLACE",
    "PLACE_PROVIDER",
    "DEC",
    "REC",
    "REASON_PLACE_CHANGE",
    "PL_POST",
    "URN",
    "PL_DISTANCE",
    "PL_LOCATION",
]


def eps(rows):
    return pd.DataFrame([dict(zip(COLS, r)) for r in rows], columns=COLS).fillna("")


def test_carer_changes_make_placements_and_status_changes_do_not():
    e = eps(
        [
            ("A", "01/04/2020", "S", "V2", "N1", "U6", "PR1", "01/06/2020", "X1", "", "TS1 1AA", "", "2", "IN"),
            ("A", "01/06/2020", "L", "C1", "N1", "U6", "PR1", "01/09/2020", "X1", "CREQB", "TS1 1AA", "", "2", "IN"),  # legal status only
            ("A", "01/09/2020", "P", "C1", "N1", "K2", "PR4", "01/01/2021", "X1", "", "DL1 1AA", "", "25", "OUT"),
            ("A", "01/01/2021", "U", "C2", "N1", "K2", "PR4", "01/03/2021", "E4A", "", "DL1 1AA", "", "25", "OUT"),
        ]
    )
    p, periods = pl.derive(e)
    assert p["placement"].tolist() == [1, 2]
    assert p["episodes"].tolist() == [2, 2]
    assert p["status_changes"].tolist() == [0, 1]
    first, second = p.iloc[0], p.iloc[1]
    assert (first["ending"], first["reason_place_change"], first["unplanned_narrow"]) == ("moved", "CREQB", True)
    assert (second["ending"], second["rec"]) == ("left care", "E4A")
    assert first["end"] == pd.Timestamp(2020, 9, 1) and first["days"] == 153
    assert len(periods) == 1 and periods["placements"].iloc[0] == 2 and periods["exit_group"].iloc[0] == "returned home (planned)"


def test_a_temporary_placement_is_an_interruption_not_a_move():
    e = eps(
        [
            ("B", "01/04/2020", "S", "C2", "N1", "U4", "PR1", "01/07/2020", "X1", "", "TS1 1AA", "", "1", "IN"),
            ("B", "01/07/2020", "P", "C2", "N1", "T2", "", "08/07/2020", "X1", "", "", "", "", ""),  # holiday
            ("B", "08/07/2020", "P", "C2", "N1", "U4", "PR1", "", "", "", "TS1 1AA", "", "1", "IN"),  # back to the same carer
        ]
    )
    p, _ = pl.derive(e)
    assert len(p) == 1
    assert p.iloc[0]["interruptions"] == 1 and p.iloc[0]["ending"] == "open" and p.iloc[0]["episodes"] == 2


def test_periods_of_care_and_unplanned_definitions():
    e = eps(
        [
            ("C", "01/04/2019", "S", "C2", "N1", "U6", "PR4", "01/05/2019", "X1", "ALLEG", "", "", "", ""),
            ("C", "01/05/2019", "P", "C2", "N1", "U6", "PR1", "01/06/2019", "X1", "LAREQ", "", "", "", ""),
            ("C", "01/06/2019", "P", "C2", "N1", "U6", "PR1", "01/07/2019", "X1", "CARPL", "", "", "", ""),
            ("C", "01/07/2019", "P", "C2", "N1", "U6", "PR1", "01/08/2019", "E8", "", "", "", "", ""),
            ("C", "01/02/2020", "S", "V2", "N1", "K2", "PR4", "", "", "", "", "", "", ""),  # comes back
        ]
    )
    p, periods = pl.derive(e)
    assert p["period"].tolist() == [1, 1, 1, 1, 2]
    assert p["unplanned_narrow"].tolist() == [False] * 5
    assert p["unplanned_standard"].tolist() == [True, False, False, False, False]
    assert p["unplanned_broad"].tolist() == [True, True, False, False, False]
    assert p["previous_unplanned"].tolist() == [0, 1, 1, 1, 1]
    assert p["ending"].tolist() == ["moved", "moved", "moved", "left care", "open"]
    assert periods["placements"].tolist() == [4, 1]


HAND_WORKED = [
    # A: 3 placements in 2023-24 (one held on 1 April), still looked after at 31 March 2024, 30 miles away, outside
    ("A", "01/01/2023", "S", "C2", "N1", "U6", "PR1", "01/06/2023", "X1", "CREQB", "", "", "3", "IN"),
    ("A", "01/06/2023", "P", "C2", "N1", "U6", "PR4", "01/12/2023", "X1", "CHILD", "", "", "12", "OUT"),
    ("A", "01/12/2023", "P", "C2", "N1", "K2", "PR4", "", "", "", "", "", "30", "OUT"),
    # B: looked after since 2020 (over 2.5 years), same placement since 2021: long-term stable
    ("B", "01/03/2020", "S", "C2", "N1", "U4", "PR1", "01/03/2021", "X1", "CARPL", "", "", "1", "IN"),
    ("B", "01/03/2021", "P", "C2", "N1", "U4", "PR1", "", "", "", "", "", "1", "IN"),
    # C: aged 19 at 31 March 2024: looked after but not in the under-16 cohort; left in 2023 anyway
    ("C", "01/03/2020", "S", "C2", "N1", "U4", "PR1", "01/02/2024", "E17", "", "", "", "", ""),
    # D: short breaks only: excluded
    ("D", "01/03/2024", "S", "V3", "N2", "R1", "PR1", "", "", "", "", "", "", ""),
]
HAND_WORKED_BIRTH = {"A": pd.Timestamp(2010, 1, 1), "B": pd.Timestamp(2008, 6, 1), "C": pd.Timestamp(2005, 1, 1), "D": pd.Timestamp(2015, 1, 1)}


def test_measures_on_a_hand_worked_case():
    birth = pd.Series(HAND_WORKED_BIRTH)
    e = eps(HAND_WORKED)
    p, _ = pl.derive(e, birth)
    m = pl.measures(e, p, birth, 2024)
    assert m["cla_31_march"] == 2
    assert (m["placements_3plus"], m["placements_3plus_pct"]) == (1, 50.0)
    assert (m["long_term_cohort"], m["long_term_stable"]) == (1, 1)
    assert (m["over_20_miles"], m["outside_boundary"], m["distance_unknown"]) == (1, 1, 0)


def test_ages_are_whole_years_on_the_day():
    ages = pl._age(pd.Series(pd.to_datetime(["2020-05-31", "2020-06-01"])), pd.Series(pd.to_datetime(["2010-06-01", "2010-06-01"])))
    assert ages.tolist() == [9, 10]


def _several_children():
    """The hand-worked children, plus E (a temporary placement, then back to the same carer) and F
    (leaves care, comes back, then a change of placement type with the same carer), three copies under other IDs."""
    extra = [
        ("E", "01/01/2022", "S", "C2", "N1", "U6", "PR1", "01/06/2022", "X1", "", "TS1 1AA", "", "2", "IN"),
        ("E", "01/06/2022", "P", "C2", "N1", "T2", "", "08/06/2022", "X1", "", "", "", "", ""),
        ("E", "08/06/2022", "P", "C2", "N1", "U6", "PR1", "", "", "", "TS1 1AA", "", "2", "IN"),
        ("F", "01/03/2020", "S", "C2", "N1", "U4", "PR1", "01/02/2022", "E8", "", "", "", "", ""),
        ("F", "01/02/2023", "S", "C2", "N1", "U4", "PR1", "01/06/2023", "X1", "", "", "", "", ""),
        ("F", "01/06/2023", "U", "C2", "N1", "U5", "PR1", "", "", "", "", "", "", ""),
    ]
    born = {**HAND_WORKED_BIRTH, "E": pd.Timestamp(2012, 1, 1), "F": pd.Timestamp(2009, 1, 1)}
    rows = [(f"{child}{k}", *rest) for k in range(3) for child, *rest in HAND_WORKED + extra]
    return eps(rows), pd.Series({f"{c}{k}": day for k in range(3) for c, day in born.items()})


def test_integer_children_in_order_give_the_same_placements_as_text_ids_in_any_order():
    e, birth = _several_children()
    shuffled = e.sample(frac=1, random_state=3).reset_index(drop=True)
    p_text, periods_text = pl.derive(shuffled, birth)
    # the ingest numbers children in ID order and hands over episodes already sorted by child and start
    number = {child: i for i, child in enumerate(sorted(birth.index))}
    ordered = e.assign(CHILD=e["CHILD"].map(number), _start=pd.to_datetime(e["DECOM"], format="%d/%m/%Y"))
    ordered = ordered.sort_values(["CHILD", "_start"]).drop(columns="_start").reset_index(drop=True)
    p_int, periods_int = pl.derive(ordered, birth.rename(index=number))
    name = {i: child for child, i in number.items()}
    pd.testing.assert_frame_equal(p_text, p_int.assign(child=p_int["child"].map(name)), check_dtype=False)
    pd.testing.assert_frame_equal(periods_text, periods_int.assign(child=periods_int["child"].map(name)), check_dtype=False)
    assert p_text["interruptions"].sum() == 3 and p_text["status_changes"].sum() == 3  # E's holiday, F's change of type
    assert p_text.groupby("child").size().to_dict() == {f"{c}{k}": n for k in range(3) for c, n in zip("ABCDEF", (3, 2, 1, 1, 1, 2))}


def test_measures_for_several_years_match_one_year_at_a_time():
    e, birth = _several_children()
    p, _ = pl.derive(e, birth)
    several = pl.measures_by_year(e, p, birth, [2021, 2023, 2024])
    pd.testing.assert_frame_equal(pd.DataFrame(several), pd.DataFrame([pl.measures(e, p, birth, y) for y in (2021, 2023, 2024)]))
    assert several[2]["cla_31_march"] == 12 and several[2]["placements_3plus"] == 3  # A, B, E, F at 31 March 2024; A has 3
