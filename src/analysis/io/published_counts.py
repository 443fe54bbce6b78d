"""What an LA published about its children looked after, as targets for the synthetic 903.

For every year ending 31 March from 2015 to 2025: the number looked after, the number who started
and the number who ceased, and the count in each category of every characteristic DfE publishes
at 31 March (:data:`DIMENSIONS`: age, sex, ethnicity, UASC, category of need, legal status,
placement type, provider, locality and distance together).

A category DfE suppressed (``c``: 1 to 4, or a larger figure hidden by secondary suppression) gets
an equal share of what the published categories leave of the total. A year in which a
characteristic was not published (2018 and 2019 for most; the years before a category existed)
takes shares interpolated from the years around it, and the targets say which years were published
so a check compares only with what DfE actually printed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.errors import AnalysisError

FIRST_STOCK_YEAR, LAST_YEAR = 2015, 2025
ENGLAND = "E92000001"

#: characteristic -> category -> the la_indicators indicator(s) that hold its count at 31 March
DIMENSIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "age": {
        "under_1": ("age_under_1",),
        "1_to_4": ("age_1_to_4",),
        "5_to_9": ("age_5_to_9",),
        "10_to_15": ("age_10_to_15",),
        "16_and_over": ("age_16_and_over",),
    },
    "sex": {"male": ("sex_male",), "female": ("sex_female",)},
    "ethnicity": {
        "white": ("ethnicity_white",),
        "mixed": ("ethnicity_mixed",),
        "asian": ("ethnicity_asian",),
        "black": ("ethnicity_black",),
        "other": ("ethnicity_other",),
        "not_known": ("ethnicity_not_known",),
    },
    "uasc": {"uasc": ("uasc",), "not_uasc": ("uasc_non",)},
    "need": {
        "N1": ("need_abuse_neglect",),
        "N2": ("need_disability",),
        "N3": ("need_parental_illness",),
        "N4": ("need_family_acute_stress",),
        "N5": ("need_family_dysfunction",),
        "N6": ("need_socially_unacceptable_behaviour",),
        "N7": ("need_low_income",),
        "N8": ("need_absent_parenting",),
    },
    "legal": {
        "interim_care_order": ("legal_interim_care_order",),
        "full_care_order": ("legal_full_care_order",),
        "placement_order": ("legal_placement_order", "legal_freed_for_adoption"),
        "section_20": ("legal_section_20",),
        "detained": ("legal_detained_child_protection",),
        "youth_justice": ("legal_youth_justice",),
    },
    "placement": {
        "foster": ("placement_foster",),
        "childrens_home": ("placement_secure_and_childrens_homes",),
        "independent": ("placement_independent_supported",),
        "with_parents": ("placement_with_parents",),
        "adoption": ("placement_adoption",),
        "other_residential": ("placement_other_residential",),
        "residential_school": ("placement_residential_school",),
        "other": ("placement_other",),
    },
    "provider": {
        "own": ("provider_own",),
        "other_la": ("provider_other_la",),
        "other_public": ("provider_other_public",),
        "private": ("provider_private",),
        "voluntary": ("provider_voluntary",),
        "parents": ("provider_parents",),
        "not_reported": ("provider_not_reported",),
    },
    "location": {
        "inside_20_or_less": ("locality_distance_inside_20_or_less",),
        "inside_over_20": ("locality_distance_inside_over_20",),
        "inside_unknown": ("locality_distance_inside_unknown",),
        "outside_20_or_less": ("locality_distance_outside_20_or_less",),
        "outside_over_20": ("locality_distance_outside_over_20",),
        "outside_unknown": ("locality_distance_outside_unknown",),
    },
}
#: characteristics that belong to the child (fixed for a child); the others belong to the episode held at 31 March
CHILD_DIMENSIONS = ("age", "sex", "ethnicity", "uasc", "need")
EPISODE_DIMENSIONS = ("legal", "placement", "provider", "location")


@dataclass
class Targets:
    """Published figures for one LA, by year ending 31 March."""

    la_code: str
    cla: dict[int, int]  # looked after at 31 March
    cla_published: set[int]  # the years DfE printed that count
    starts: dict[int, int]  # started to be looked after in the year
    ceased: dict[int, int | None]  # ceased in the year, as published (None: not published)
    starts_published: dict[int, int | None]  # started in the year, as published (None: not published)
    stock: dict[str, dict[int, np.ndarray]]  # characteristic -> year -> count per category (sums to cla)
    published: dict[str, dict[int, dict[str, float | None]]]  # what DfE printed (None: suppressed)
    three_plus: float  # share with 3+ placements in the latest year
    notes: list[str] = field(default_factory=list)

    def categories(self, dim: str) -> list[str]:
        return list(DIMENSIONS[dim])


def _numbers(li: pd.DataFrame, code: str) -> pd.DataFrame:
    """The LA's published numbers: indicator x year (NaN: not published; the flag column says ``c``)."""
    s = li[(li["area_code"] == code) & (li["measure"] == "number")]
    return s[["indicator", "year", "value", "flag"]]


def _count(values: pd.DataFrame, indicator: str, year: int) -> tuple[float | None, bool]:
    """(value, published): value None with published True means suppressed."""
    row = values[(values["indicator"] == indicator) & (values["year"] == year)]
    if row.empty:
        return None, False
    v, flag = row["value"].iloc[0], str(row["flag"].iloc[0])
    if pd.notna(v):
        return float(v), True
    return None, flag == "c"


def largest_remainder(shares: np.ndarray, total: int) -> np.ndarray:
    """Whole numbers in proportion to ``shares`` that add up to ``total``."""
    shares = np.clip(np.asarray(shares, dtype=float), 0, None)
    if total <= 0:
        return np.zeros(len(shares), dtype=int)
    if shares.sum() <= 0:
        shares = np.ones(len(shares))
    exact = shares / shares.sum() * total
    out = np.floor(exact).astype(int)
    left = total - out.sum()
    out[np.argsort(-(exact - out), kind="stable")[:left]] += 1
    return out


def _interpolate(shares: dict[int, np.ndarray], years: range) -> dict[int, np.ndarray]:
    known = sorted(shares)
    return {y: np.array([np.interp(y, known, [shares[k][i] for k in known]) for i in range(len(shares[known[0]]))]) for y in years}


def _series(values: pd.DataFrame, indicator: str) -> dict[int, float]:
    s = values[(values["indicator"] == indicator) & values["value"].notna()]
    return {int(y): float(v) for y, v in zip(s["year"], s["value"])}


def targets_for(li: pd.DataFrame, la_code: str, first_year: int = FIRST_STOCK_YEAR, last_year: int = LAST_YEAR) -> Targets:
    """The LA's targets (England's shares for a characteristic the LA never published)."""
    values = _numbers(li, la_code)
    years = range(first_year, last_year + 1)
    notes: list[str] = []
    cla_known = _series(values, "cla_31_march")
    if not cla_known:
        raise AnalysisError(f"no published count of children looked after for {la_code}")
    # the smallest LAs publish only suppressed counts in some years: take 2 children where a count is "c"
    for y in years:
        v, published = _count(values, "cla_31_march", y)
        if v is None and published:
            cla_known[y] = 2.0
    cla = {y: int(round(np.interp(y, sorted(cla_known), [cla_known[k] for k in sorted(cla_known)]))) for y in years}
    missing_cla = [y for y in years if y not in cla_known]
    if missing_cla:
        notes.append(f"children looked after at 31 March not published for {', '.join(map(str, missing_cla))}: interpolated")
    starts_known = _series(values, "cla_started")
    if not starts_known:
        raise AnalysisError(f"no published starts for {la_code}")
    ratio = float(np.mean([starts_known[y] / cla[y] for y in starts_known if y in cla and cla[y] > 0] or [0.5]))
    starts = {y: int(round(starts_known.get(y, ratio * cla[y]))) for y in years}
    estimated = [y for y in years if y not in starts_known and y > first_year]
    if estimated:
        notes.append(f"starts not published for {', '.join(map(str, estimated))}: {ratio:.2f} x children looked after (the published ratio)")
    ceased_known = _series(values, "cla_ceased")
    ceased = {y: (int(ceased_known[y]) if y in ceased_known else None) for y in years}

    stock: dict[str, dict[int, np.ndarray]] = {}
    published: dict[str, dict[int, dict[str, float | None]]] = {}
    for dim, cats in DIMENSIONS.items():
        shares, printed = {}, {}
        for y in years:
            got: dict[str, float | None] = {}
            complete = True
            for cat, indicators in cats.items():
                found = [_count(values, ind, y) for ind in indicators]
                if dim == "uasc" and cat == "not_uasc" and not found[0][1]:
                    u, u_pub = _count(values, "uasc", y)  # before 2020 DfE printed UASC only: the rest are not UASC
                    found = [(cla[y] - u if u is not None else None, u_pub)] if u_pub and y in cla_known else found
                if not any(pub for _, pub in found):
                    complete = False
                    break
                known = [v for v, pub in found if pub and v is not None]
                got[cat] = sum(known) if known else None
            if not complete or all(v is None for v in got.values()):  # the whole breakdown suppressed: not published
                continue
            printed[y] = got
            left = max(0.0, cla[y] - sum(v for v in got.values() if v is not None))
            hidden = [c for c, v in got.items() if v is None]
            shares[y] = np.array([got[c] if got[c] is not None else left / len(hidden) for c in cats], dtype=float)
        if not shares:
            england = _numbers(li, ENGLAND)
            latest = [np.array([sum(_count(england, ind, y)[0] or 0 for ind in inds) for inds in cats.values()]) for y in years]
            latest = [s for s in latest if s.sum() > 0]
            if not latest:
                raise AnalysisError(f"no published {dim} figures for {la_code} or England")
            shares = {first_year: latest[-1]}
            notes.append(f"{dim}: not published for {la_code}; England's shares used")
        missing = [y for y in years if y not in shares]
        if missing and len(shares) < len(years):
            notes.append(f"{dim}: not published for {', '.join(map(str, missing))}; shares interpolated")
        filled = _interpolate({y: s / s.sum() if s.sum() > 0 else s for y, s in shares.items()}, years)
        stock[dim] = {y: largest_remainder(filled[y], cla[y]) for y in years}
        published[dim] = printed
    # a child placed with parents is the child whose provider is "parents": where DfE printed one of
    # the two for a year and not the other, the other follows it (foster care and own provision give way)
    wp, par = list(DIMENSIONS["placement"]).index("with_parents"), list(DIMENSIONS["provider"]).index("parents")
    for y in years:
        a, b = stock["placement"][y], stock["provider"][y]
        if a[wp] != b[par]:
            if y in published["provider"] and y not in published["placement"]:
                a[0] += a[wp] - b[par]
                a[wp] = b[par]
            else:
                b[0] += b[par] - a[wp]
                b[par] = a[wp]
            a[0], b[0] = max(a[0], 0), max(b[0], 0)
    # DfE records no distance for unaccompanied children: their number is at most the "distance not
    # known" count. Where one of the two was printed and the other interpolated, the printed one rules
    unk = [list(DIMENSIONS["location"]).index(k) for k in ("inside_unknown", "outside_unknown")]
    near = list(DIMENSIONS["location"]).index("inside_20_or_less")
    for y in years:
        u, loc = stock["uasc"][y], stock["location"][y]
        unknown = loc[unk].sum()
        if u[0] > unknown and y in published["location"] and y not in published["uasc"]:
            u[1] += u[0] - unknown
            u[0] = unknown
        elif u[0] > unknown:  # from the categories DfE suppressed first (their split was a guess), then the commonest
            printed = published["location"].get(y, {})
            hidden = [
                list(DIMENSIONS["location"]).index(k) for k, v in printed.items() if v is None and k not in ("inside_unknown", "outside_unknown")
            ]
            extra = u[0] - unknown
            for i in [*hidden, near]:
                moved = min(extra, loc[i])
                loc[i] -= moved
                loc[unk[0]] += moved
                extra -= moved
    stab = _series(values, "placements_3plus_year")
    three_plus = (stab[max(stab)] / cla[max(stab)]) if stab and cla.get(max(stab)) else 0.1
    return Targets(
        la_code=la_code,
        cla=cla,
        cla_published={y for y in years if y in cla_known},
        starts=starts,
        starts_published={y: (int(starts_known[y]) if y in starts_known else None) for y in years},
        ceased=ceased,
        stock=stock,
        published=published,
        three_plus=float(three_plus),
        notes=notes,
    )


def within(got: float, target: float, share: float = 0.02, children: float = 2.0) -> bool:
    """The tolerance the synthetic 903 is held to: within 2% or 2 children, whichever is larger."""
    return abs(got - target) <= max(children, share * abs(target))


def compare(targets: Targets, achieved: pd.DataFrame) -> pd.DataFrame:
    """Each published figure beside the synthetic one: ``achieved`` has year, dimension, category,
    number (from :func:`analysis.io.stock.characteristics`). Suppressed figures are checked as a group:
    together they must be what the published ones leave of the total (within tolerance)."""
    got = achieved.set_index(["year", "dimension", "category"])["number"]
    rows = []
    for y, n in targets.cla.items():
        if y in targets.cla_published:
            rows.append(
                {
                    "year": y,
                    "dimension": "count",
                    "category": "looked_after_31_march",
                    "published": float(n),
                    "synthetic": float(got.get((y, "count", "looked_after_31_march"), 0)),
                }
            )
    for name, figures in (("started", targets.starts_published), ("ceased", targets.ceased)):
        for y, n in figures.items():
            if n is not None and (y, "count", name) in got.index:
                row = {"year": y, "dimension": "count", "category": name, "published": float(n), "synthetic": float(got[(y, "count", name)])}
                if name == "ceased" and y - 1 in targets.cla:
                    # DfE's figures need not add up (children who leave and return in a year; an
                    # interpolated count the year before): the synthetic ceased is what keeps the
                    # stock right, so the check allows the gap between DfE's own figures
                    row["allowance"] = abs(n - (targets.cla[y - 1] + targets.starts[y] - targets.cla[y]))
                rows.append(row)
    for dim, by_year in targets.published.items():
        for y, cats in by_year.items():
            hidden = [c for c, v in cats.items() if v is None]
            for c, v in cats.items():
                if v is not None:
                    rows.append({"year": y, "dimension": dim, "category": c, "published": v, "synthetic": float(got.get((y, dim, c), 0))})
            if hidden:
                left = max(0.0, targets.cla[y] - sum(v for v in cats.values() if v is not None))
                rows.append(
                    {
                        "year": y,
                        "dimension": dim,
                        "category": "suppressed: " + ", ".join(hidden),
                        "published": left,
                        "synthetic": float(sum(got.get((y, dim, c), 0) for c in hidden)),
                    }
                )
    out = pd.DataFrame(rows)
    if "allowance" not in out.columns:
        out["allowance"] = 0.0
    out["allowance"] = out["allowance"].fillna(0.0)
    out["within_tolerance"] = [
        within(s, p) or abs(s - p) <= a + max(2.0, 0.02 * p) for s, p, a in zip(out["synthetic"], out["published"], out["allowance"])
    ]
    return out
