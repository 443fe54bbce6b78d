"""One ledger per report: a count hidden in one table is never printed in another, and no hidden count can be
worked out by setting the report's tables against each other (the scan finds it when it can)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from analysis.report import reporting
from analysis.report.disclosure import SUPPRESSED
from analysis.report.ledger import Keys, determined

WHAT = "children at 31 March 2025"
PARTS = {"LA's own": "LA's own", "external": "external", "other": "other", "total": "all providers"}
PROV_KEYS = Keys(WHAT, "group", PARTS)
GAP_KEYS = Keys(WHAT, "group", {"children_now": "all providers", "in_own_provision_now": "LA's own"})


def stockton_tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stockton's pack as issue 24 found it: children's homes 17 own, 55 external, 1 other (73); supported 15, 19, 1 (35)."""
    rows = [("fostering", 266, 117, 9), ("children's home", 17, 55, 1), ("supported", 15, 19, 1), ("other", 12, 5, 47)]
    prov = pd.DataFrame(rows, columns=["group", "LA's own", "external", "other"])
    prov["total"] = prov[["LA's own", "external", "other"]].sum(axis=1)
    prov.loc[len(prov)] = ["all groups", *prov[["LA's own", "external", "other", "total"]].sum()]
    gap = pd.DataFrame({"group": prov["group"], "children_now": prov["total"], "in_own_provision_now": prov["LA's own"]})
    return prov, gap


PROV_GATE = dict(counts=["LA's own", "external", "other"], row_total="total", total_row="all groups", label_column="group")
GAP_GATE = dict(counts=["children_now", "in_own_provision_now"], total_row="all groups", label_column="group")


def publish(folder, *, ledger: bool) -> reporting.Report:
    """The two tables in one report: with the ledger (keys given as they are gated), or as the pack did
    before (each gated on its own), the keys declared afterwards so that the scan knows what they count."""
    prov, gap = stockton_tables()
    report = reporting.Report(paper="t", title="t", output_dir=folder, context={"la_code": "E06000004"})
    report.table("provision", prov, title="p", show=False, keys=PROV_KEYS if ledger else None, **PROV_GATE)
    report.table("gap", gap, title="g", show=False, keys=GAP_KEYS if ledger else None, **GAP_GATE)
    if not ledger:
        report.tables[0].keys, report.tables[1].keys = PROV_KEYS, GAP_KEYS
    report.metric("own_childrens_home", 17, kind="count", key=(WHAT, "children's home", "LA's own"))
    report.finish()
    return report


def test_each_table_alone_is_safe_but_together_they_reveal_a_one(tmp_path):
    report = publish(tmp_path, ledger=False)
    prov, gap = (t.frame.set_index("group") for t in report.tables)
    assert prov.at["children's home", "LA's own"] == SUPPRESSED and prov.at["children's home", "other"] == SUPPRESSED
    assert gap.at["children's home", "in_own_provision_now"] == 17, "gated alone, the gap table prints what provision hides"
    assert 73 - 55 - gap.at["children's home", "in_own_provision_now"] == 1
    problems = reporting.scan_outputs(tmp_path)
    assert any("children's home, LA's own" in p and "shown in sheet" in p for p in problems), problems


def test_with_the_ledger_the_same_quantity_is_hidden_everywhere_and_the_scan_is_clean(tmp_path):
    report = publish(tmp_path, ledger=True)
    prov, gap = (t.frame.set_index("group") for t in report.tables)
    for g in ("children's home", "supported"):
        assert prov.at[g, "LA's own"] == SUPPRESSED and gap.at[g, "in_own_provision_now"] == SUPPRESSED
    # a quantity no table hides is printed the same in both
    assert gap.at["fostering", "in_own_provision_now"] == prov.at["fostering", "LA's own"] == 266
    meta = json.loads((tmp_path / "metrics.json").read_text())
    assert meta["metrics"]["own_childrens_home"]["value"] == SUPPRESSED, "a metric of a hidden quantity is hidden too"
    assert report.say((WHAT, "children's home", "LA's own"), 17) == "a number not shown (c)"
    assert reporting.scan_outputs(tmp_path) == []


def test_the_scan_finds_a_metric_that_prints_what_a_sheet_hides(tmp_path):
    report = publish(tmp_path, ledger=True)
    meta = json.loads((tmp_path / "metrics.json").read_text())
    meta["metrics"]["own_childrens_home"]["value"] = 17
    (tmp_path / "metrics.json").write_text(json.dumps(meta))
    assert any("own_childrens_home" in p for p in reporting.scan_outputs(tmp_path)), report.tables[0].frame


def test_differencing_through_identities_of_two_tables():
    """Only the two tables' identities together pin the hidden count (no quantity is both shown and hidden):
    table A: a + b = 20 (a, b hidden); table B: b + c = 30 and c = 12 shown -> b = 18, a = 2."""
    a, b, c = ("x", "r", "a"), ("x", "r", "b"), ("x", "r", "c")
    assert determined([{a: 1, b: 1}], {a, b}) == []
    assert sorted(determined([{a: 1, b: 1}, {b: 1, c: 1}], {a, b})) == sorted([a, b])
    assert determined([{a: 1, b: 1}, {b: 1, c: 1}], {a, b, c}) == []


def test_the_scan_finds_differencing_that_needs_both_sheets(tmp_path):
    """Sheet 1 hides own and other of one group beside its total; sheet 2 hides the same own but shows the other
    groups' own and the column total, so own (and then other) follow from the two together."""
    one = pd.DataFrame({"group": ["g1"], "own": ["c"], "other": ["c"], "total": [20]})
    two = pd.DataFrame({"group": ["g1", "g2", "all"], "own": ["c", 30, 32]})
    meta1 = {"keys": {"what": "w", "row": "group", "columns": {"own": "own", "other": "other", "total": "all"}}, "structure": {"row_total": "total"}}
    meta2 = {"keys": {"what": "w", "row": "group", "columns": {"own": "own"}}, "structure": {"total_row": "all", "label_column": "group"}}
    from analysis.report.ledger import workbook_problems

    assert workbook_problems({"one": (one, meta1)}) == [] and workbook_problems({"two": (two.iloc[[0, 1]], meta2)}) == []
    problems = workbook_problems({"one": (one, meta1), "two": (two, meta2)})
    assert any("g1, own" in p for p in problems) and any("g1, other" in p for p in problems), problems


@pytest.mark.parametrize("seed", range(12))
def test_random_tables_through_the_ledger_leave_nothing_to_work_out(tmp_path, seed):
    """Provision-like tables with small cells, then a second table repeating some of their cells: whatever the
    numbers, the published workbook holds no hidden count that its figures pin down."""
    rng = np.random.default_rng(seed)
    groups = ["a", "b", "c", "d"]
    prov = pd.DataFrame({"group": groups})
    for col in ("LA's own", "external", "other"):
        prov[col] = rng.choice([0, 1, 2, 3, 6, 9, 14, 30], size=len(groups))
    prov["total"] = prov[["LA's own", "external", "other"]].sum(axis=1)
    prov.loc[len(prov)] = ["all groups", *prov[["LA's own", "external", "other", "total"]].sum()]
    gap = pd.DataFrame({"group": prov["group"], "children_now": prov["total"], "in_own_provision_now": prov["LA's own"]})
    report = reporting.Report(paper="t", title="t", output_dir=tmp_path, context={})
    report.table("provision", prov, title="p", show=False, keys=PROV_KEYS, **PROV_GATE)
    report.table("gap", gap, title="g", show=False, keys=GAP_KEYS, **GAP_GATE)
    report.finish()
    assert reporting.scan_outputs(tmp_path) == []
