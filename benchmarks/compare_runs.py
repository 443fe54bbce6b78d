"""Compare two projects' default runs: processed tables, metrics.json and workbook cells.

Used for a refactoring step (issue 25): run ``make run`` (or ``analysis synth --if-missing; analysis
ingest; analysis run``) in a checkout before and after the change, then

    python benchmarks/compare_runs.py BEFORE_ROOT AFTER_ROOT

It prints every difference and exits 1 if there is one. Run ids, run times, timestamps, code
digests and paths are expected to differ and are left out of the comparison.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pandas as pd

#: keys whose values name the run rather than its results
VOLATILE = re.compile(
    r"(run_id|run_at|started|finished|seconds|elapsed|generated|built|digest|code_version|git|path|output_dir|created|timestamp|version)", re.I
)


RUN_ID = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{6}")


def _strip(obj):
    if isinstance(obj, dict):
        return {k: _strip(v) for k, v in obj.items() if not VOLATILE.search(str(k))}
    if isinstance(obj, list):
        return [_strip(v) for v in obj]
    return RUN_ID.sub("<run id>", obj) if isinstance(obj, str) else obj


def processed_tables(root: Path) -> dict[str, Path]:
    base = root / "data" / "processed"
    # _cache/ files are named by the code digest, which a refactoring changes by design
    return {
        str(p.relative_to(base)): p
        for p in sorted(base.rglob("*"))
        if p.suffix in {".csv", ".parquet"} and not any("cache" in part for part in p.parts)
    }


def outputs(root: Path, name: str) -> dict[str, Path]:
    base = root / "reports" / "latest"
    return {str(p.relative_to(base)): p for p in sorted(base.rglob(name))}


def read(p: Path) -> pd.DataFrame:
    return pd.read_parquet(p) if p.suffix == ".parquet" else pd.read_csv(p, dtype=str, keep_default_na=False)


def compare(before: Path, after: Path) -> list[str]:
    out = []
    a, b = processed_tables(before), processed_tables(after)
    for k in sorted(set(a) | set(b)):
        if k not in a or k not in b:
            out.append(f"processed {k}: only in {'after' if k in b else 'before'}")
            continue
        x, y = read(a[k]), read(b[k])
        if not x.equals(y):
            out.append(f"processed {k}: differs")
    a, b = outputs(before, "metrics.json"), outputs(after, "metrics.json")
    for k in sorted(set(a) | set(b)):
        if k not in a or k not in b:
            out.append(f"metrics {k}: only in {'after' if k in b else 'before'}")
            continue
        x, y = _strip(json.loads(a[k].read_text())), _strip(json.loads(b[k].read_text()))
        if x != y:
            for key in sorted(set(x) | set(y)):
                if x.get(key) != y.get(key):
                    out.append(f"metrics {k}: {key}: {str(x.get(key))[:200]} != {str(y.get(key))[:200]}")
    a, b = outputs(before, "tables.xlsx"), outputs(after, "tables.xlsx")
    for k in sorted(set(a) | set(b)):
        if k not in a or k not in b:
            out.append(f"workbook {k}: only in {'after' if k in b else 'before'}")
            continue
        x = pd.read_excel(a[k], sheet_name=None, header=None, dtype=str)
        y = pd.read_excel(b[k], sheet_name=None, header=None, dtype=str)
        if list(x) != list(y):
            out.append(f"workbook {k}: sheets {list(x)} != {list(y)}")
        for sheet in set(x) & set(y):
            sx = x[sheet].fillna("").replace(RUN_ID, "<run id>", regex=True)
            sy = y[sheet].fillna("").replace(RUN_ID, "<run id>", regex=True)
            sx = sx[~sx.apply(lambda r: r.str.contains(r"Run |run id|Generated", regex=True)).any(axis=1)]
            sy = sy[~sy.apply(lambda r: r.str.contains(r"Run |run id|Generated", regex=True)).any(axis=1)]
            if not sx.reset_index(drop=True).equals(sy.reset_index(drop=True)):
                out.append(f"workbook {k} sheet {sheet}: cells differ")
    return out


def main(argv: list[str]) -> int:
    before, after = Path(argv[0]), Path(argv[1])
    diffs = compare(before, after)
    n = {
        kind: len(list(processed_tables(after))) if kind == "processed" else len(outputs(after, kind))
        for kind in ("processed", "metrics.json", "tables.xlsx")
    }
    print(f"compared {n['processed']} processed tables, {n['metrics.json']} metrics.json, {n['tables.xlsx']} workbooks")
    for d in diffs:
        print(d)
    print("identical" if not diffs else f"{len(diffs)} difference(s)")
    return 1 if diffs else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
