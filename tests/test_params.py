import pytest

from analysis.errors import UnknownLAError
from analysis.papers.params import ParameterError, check_types, resolve_la_param


def test_check_types_accepts_matching_and_int_for_float():
    check_types({"la_code": "E06000004", "years": 5, "share": 1}, {"la_code": "", "years": 3, "share": 0.5})


@pytest.mark.parametrize("values", [{"years": "5"}, {"years": True}, {"la_code": 808}])
def test_check_types_rejects_wrong_types_with_the_name(values):
    with pytest.raises(ParameterError, match=list(values)[0]):
        check_types(values, {"la_code": "", "years": 3})


def test_resolve_la_param(built):
    p, _ = built
    assert resolve_la_param("Stockton-on-Tees", p)["la_code"] == "E06000004"
    with pytest.raises(UnknownLAError, match="Hartlepool"):
        resolve_la_param("Hartlepol", p)
    with pytest.raises(ParameterError):
        resolve_la_param("", p)
