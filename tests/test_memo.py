"""Tables read once per process (analysis.io.memo): copies for every caller, a changed file read again."""

import os

import pandas as pd
import pytest

from analysis.io import memo


@pytest.fixture(autouse=True)
def _empty():
    memo.forget()
    yield
    memo.forget()


def _counting_reader(calls):
    def read(path):
        calls.append(path)
        return pd.read_parquet(path)

    return read


def test_an_unchanged_file_is_read_once_and_each_caller_gets_its_own_copy(tmp_path):
    path = tmp_path / "t.parquet"
    pd.DataFrame({"a": [1, 2, 3]}).to_parquet(path)
    calls = []
    first = memo.read_once(path, _counting_reader(calls))
    first.loc[0, "a"] = 99  # a notebook changing its table
    second = memo.read_once(path, _counting_reader(calls))
    assert len(calls) == 1
    assert second["a"].tolist() == [1, 2, 3], "the change did not reach the next reader"


def test_a_rewritten_file_or_a_changed_companion_is_read_again(tmp_path):
    path, stamp = tmp_path / "t.parquet", tmp_path / "_inputs.json"
    pd.DataFrame({"a": [1]}).to_parquet(path)
    stamp.write_text("{}")
    calls = []
    memo.read_once(path, _counting_reader(calls), also=(stamp,))
    pd.DataFrame({"a": [2, 3]}).to_parquet(path.with_suffix(".tmp"))
    os.replace(path.with_suffix(".tmp"), path)  # as ingest replaces a table
    assert memo.read_once(path, _counting_reader(calls), also=(stamp,))["a"].tolist() == [2, 3]
    stamp.write_text('{"outputs": {}}')
    memo.read_once(path, _counting_reader(calls), also=(stamp,))
    assert len(calls) == 3


def test_a_failed_read_is_not_kept(tmp_path):
    path = tmp_path / "t.parquet"
    path.write_text("not parquet")
    import pyarrow

    with pytest.raises(pyarrow.ArrowInvalid):
        memo.read_once(path, pd.read_parquet)
    pd.DataFrame({"a": [1]}).to_parquet(path)
    assert memo.read_once(path, pd.read_parquet)["a"].tolist() == [1]


def test_a_damaged_processed_table_is_still_refused_after_it_was_read(built, tmp_path):
    """read_table checks checksums: a table damaged after a good read is refused, not served from memory."""
    import shutil

    from analysis.config import paths
    from analysis.errors import InputError
    from analysis.io.ingest import read_table

    root = tmp_path / "project"
    shutil.copytree(built[0].root, root, symlinks=True)
    p = paths(root)
    good = read_table(p, "la_lookup")
    path = p.processed_public / "la_lookup.parquet"
    saved = path.read_bytes()
    path.write_bytes(saved[:-10] + b"x" * 10)
    with pytest.raises(InputError, match="checksum"):
        read_table(p, "la_lookup")
    path.write_bytes(saved)
    assert read_table(p, "la_lookup").equals(good)
