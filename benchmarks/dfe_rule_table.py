"""Write ``docs/dfe-903-rules.md``: every DfE 903 validation rule for 2024-25 and what the project
does with it (implemented, with where; not needed for analysis, with why; or not yet).

The rule list (codes and the DfE's messages) comes from the DfE's public validator,
``csc-validator-be-903`` (run in its own environment, as ``bench_validator903.py`` sets up).

    .venv/bin/python benchmarks/dfe_rule_table.py
"""

from __future__ import annotations

import json
import re
import subprocess

from bench_validator903 import HERE, ensure_venv

from analysis.io.ssda903_rules import DFE_CODES as OWN_TO_DFE

DUMP = (
    "import importlib, json; m = importlib.import_module('lac_validator.rules.lac2024_25'); "
    "print(json.dumps([{'code': str(r.code), 'message': r.message, 'tables': sorted(r.tables or [])} for r in m.registry.values()]))"
)
#: tables no paper reads: their rules do not change a figure (the ingest still reads and counts them)
NOT_READ = {
    "AD1": "adoption decisions (AD1) are not read by any paper",
    "OC3": "care leavers (OC3) are not read: paper 01 uses DfE's published care leaver figures",
    "PlacedAdoption": "placed-for-adoption decisions are not read by any paper",
    "PrevPerm": "previous permanence is not read by any paper",
    "Reviews": "reviews are not read by any paper",
    "SWEpisodes": "social worker episodes are not read by any paper",
    "DoLo": "deprivation of liberty orders (from 2026-27) are not read",
    "Missing": "missing episodes are read but no paper's figure uses them yet",
    "Provider Info": "needs Ofsted's provider lists (URN lookups), which the project does not ship",
}
#: rules about fields the papers do not use
FIELD_NOT_USED = {
    "UPN": "UPN is not used (and not kept: personal)",
    "MOTHER": "motherhood fields are not used",
    "MC_DOB": "motherhood fields are not used",
    "IN_TOUCH": "OC3 not read",
    "SDQ_REASON": "only the SDQ score is used",
}
DERIVED = {
    "164": "distance is derived by the project from postcodes, the way DfE does (blank for UASC)",
    "169": "placement LA is derived by the project from the placement postcode (the report counts postcodes not found)",
    "179": "placement location is derived by the project from the placement postcode",
    "392a": "distance is derived by the project; 392b (postcodes missing) is the check",
    "1015": "needs the placement LA, derived only after checking (the ingest report counts placements outside the LA)",
}


def main() -> None:
    py = ensure_venv(HERE / ".venv-dfe903")
    rules = json.loads(subprocess.run([str(py), "-c", DUMP], check=True, capture_output=True, text=True).stdout)
    from analysis.io.ssda903_dfe_check import RULES

    own = {code for _, code in OWN_TO_DFE}
    lines = [
        "# DfE 903 validation rules (2024-25) and the project",
        "",
        "Every rule in the DfE's 903 validator for 2024-25 (the public `csc-validator-be-903`, ruleset `lac2024_25`; "
        "the messages are the DfE's), and what the project does with it:",
        "",
        "- **implemented**: `analysis.io.ssda903` (rows the papers cannot use are set aside; the rest are kept with a flag) or "
        "`analysis.io.ssda903_dfe` (kept with a flag `DfE rule CODE: message`); the ingest report counts each rule's rows "
        "and names the papers they could move;",
        "- **not needed for analysis**: the rule is about a table or field no paper reads, or about a value the project "
        "derives itself (why is given);",
        "- **not yet**: a rule that could matter and is not implemented.",
        "",
        "Where the project and the validator differ on purpose (see `benchmarks/README.md`, *903 rules beside the DfE "
        "validator*): the validator's list of placement codes has `k3` in lower case, so every K3 placement trips its "
        "rule 146 (the project accepts K3 from 2024-25); its rule 202 compares 2024-25's M/F with 2023-24's 1/2 (the "
        "project compares like with like); its LA lookup predates the 2023 North Yorkshire, Cumbria and Somerset "
        "changes, so rule 169 fires for placements there.",
        "",
        "| rule | DfE message | tables | project |",
        "|---|---|---|---|",
    ]
    counts = {"implemented": 0, "not needed for analysis": 0, "not yet": 0}
    for r in sorted(rules, key=lambda r: (len(re.sub(r"\D", "", r["code"])) or 9, r["code"])):
        code, tables = r["code"], [t for t in r["tables"] if not t.endswith("_last")]
        if code in RULES:
            status = "implemented (ssda903_dfe, kept with a flag)"
        elif code in own:
            status = "implemented (ssda903)"
        elif code in DERIVED:
            status = "not needed for analysis: " + DERIVED[code]
        elif tables and all(t in NOT_READ for t in tables if t not in ("Episodes", "Header")) and any(t in NOT_READ for t in tables):
            status = "not needed for analysis: " + "; ".join(NOT_READ[t] for t in tables if t in NOT_READ)
        elif any(f in r["message"].upper().replace(" ", "_") for f in ("UPN", "UNIQUE_PUPIL")):
            status = "not needed for analysis: " + FIELD_NOT_USED["UPN"] if code not in RULES else status
        elif "mother" in r["message"].lower():
            status = "not needed for analysis: " + FIELD_NOT_USED["MOTHER"]
        elif "URN" in r["message"] or "Ofsted" in r["message"]:
            status = "not needed for analysis: the Ofsted URN is kept but no figure depends on it"
        else:
            status = "not yet"
        counts[
            "implemented" if status.startswith("implemented") else "not needed for analysis" if status.startswith("not needed") else "not yet"
        ] += 1
        lines.append(f"| {code} | {r['message'].replace('|', '/').strip()} | {', '.join(tables)} | {status} |")
    lines[3:3] = [
        f"Of {len(rules)} rules: {counts['implemented']} implemented, {counts['not needed for analysis']} not needed for analysis, "
        f"{counts['not yet']} not yet.",
        "",
    ]
    out = HERE.parent / "docs" / "dfe-903-rules.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}: {counts}")


if __name__ == "__main__":
    main()
