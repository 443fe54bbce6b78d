import pytest

from analysis.errors import UnknownLAError
from analysis.papers.params import ParameterError, resolve_la_param


def test_resolve_la_param(built):
    p, _ = built
    assert resolve_la_param("Stockton-on-Tees", p)["la_code"] == "E06000004"
    with pytest.raises(UnknownLAError, match="Hartlepool"):
        resolve_la_param("Hartlepol", p)
    with pytest.raises(ParameterError):
        resolve_la_param("", p)
