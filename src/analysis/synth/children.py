"""The synthetic child: the 903 codes the generator writes, the planted effects on breakdown and cost,
and the helpers every part of the simulation uses."""

from __future__ import annotations

import pandas as pd

from analysis.io.stock import GROUP_CATEGORY, LEGAL_CATEGORY, PROVIDER_CATEGORY

FIRST_YEAR, LAST_YEAR = 2016, 2025  # collection years written (2015-16 to 2024-25)
DAY = pd.Timedelta(days=1)

#: planted effects on the hazard of an unplanned ending (log hazard ratios, per unit)
BREAKDOWN_EFFECTS = {
    "age_10_15": 0.45,  # aged 10-15 at the start of the placement (against under 10)
    "age_16_plus": 0.30,  # aged 16-17
    "childrens_home": 0.55,  # children's home (against fostering)
    "supported": 0.25,  # independent / supported accommodation
    "kinship": -0.50,  # kinship foster care
    "over_20_miles": 0.35,  # placed more than 20 miles from home
    "outside_la": 0.20,  # placed outside the LA boundary
    "previous_moves": 0.12,  # per earlier placement in the period of care (capped at 5)
    "sdq_per_5_points": 0.18,  # per 5 points of the child's SDQ total difficulties score
}
#: planted effects on weekly cost (log scale)
COST_EFFECTS = {"outside_la": 0.12, "age_per_year_over_10": 0.02, "sdq_per_5_points": 0.05, "disability_n2": 0.25}
BASE_WEEKLY_COST = {  # £ a week by (group, provider group), before effects
    ("foster", "own"): 480,
    ("foster", "external"): 950,
    ("kinship foster", "own"): 330,
    ("kinship foster", "external"): 700,
    ("children's home", "own"): 4600,
    ("children's home", "external"): 5600,
    ("independent or supported", "own"): 1200,
    ("independent or supported", "external"): 1900,
    ("secure", "own"): 7800,
    ("secure", "external"): 8200,
    ("with parents", "own"): 60,
    ("adoption", "own"): 250,
    ("adoption", "external"): 650,
    ("other residential", "external"): 3800,
    ("residential school", "external"): 4200,
    ("other", "own"): 400,
    ("other", "external"): 900,
    ("other residential", "own"): 3400,
    ("residential school", "own"): 3900,
    ("custody", "own"): 400,
}


# --- the simulation ----------------------------------------------------------------------------------
AGE_BANDS = {"under_1": (0, 1), "1_to_4": (1, 5), "5_to_9": (5, 10), "10_to_15": (10, 16), "16_and_over": (16, 18)}
#: placements settle: after the first year the hazards of ending fall to this fraction
SETTLED_AFTER_DAYS, SETTLED_FACTOR = 365, 0.3
#: DfE's published legal status categories -> the code the generator records
LEGAL_CODE = {
    "interim_care_order": "C1",
    "full_care_order": "C2",
    "placement_order": "E1",
    "section_20": "V2",
    "detained": "L2",
    "youth_justice": "J1",
}
PROVIDER_CODE = {k: v for v, k in PROVIDER_CATEGORY.items()}  # category -> code ("not_reported": blank)
ETHNIC_CODES = {
    "white": (["WBRI", "WOTH", "WIRI", "WROM"], [0.9, 0.07, 0.02, 0.01]),
    "mixed": (["MWBC", "MWBA", "MWAS", "MOTH"], [0.4, 0.15, 0.15, 0.3]),
    "asian": (["APKN", "ABAN", "AIND", "AOTH"], [0.35, 0.15, 0.1, 0.4]),
    "black": (["BAFR", "BCRB", "BOTH"], [0.6, 0.25, 0.15]),
    "other": (["OOTH", "CHNE"], [0.95, 0.05]),
    "not_known": (["NOBT", "REFU"], [0.7, 0.3]),
}
#: how much a child characteristic counts when choosing who stays at 31 March: age cannot be put
#: right afterwards, UASC only for older entrants; sex, ethnicity and need can be (for entrants)
SELECT_WEIGHT = {"age": 10.0, "uasc": 5.0, "sex": 1.0, "ethnicity": 3.0, "need": 2.0}
#: an adoptive placement ends with the adoption order (the child leaves care) after about this many days
ADOPTION_ORDER_DAYS = (150, 420)
DETAINED_DAYS = 3
#: a placement begun this long before 31 March or less may be relabelled in place (see _needs_move)
RELABEL_DAYS = 14
#: placement types that need no Ofsted URN (DfE rule 218)
NO_URN = frozenset(
    {"P1", "P3", "R1", "R2", "R5", "Z1", "T0", "T1", "T2", "T3", "T4"}
)  # a child detained for protection (L2) at 31 March arrived in the last few days


def _settled(t: float) -> float:
    """A time drawn at a constant hazard, re-timed so the hazard falls after the first year."""
    return t if t <= SETTLED_AFTER_DAYS else SETTLED_AFTER_DAYS + (t - SETTLED_AFTER_DAYS) / SETTLED_FACTOR


def _operational(days: float) -> float:
    """The inverse of :func:`_settled`: elapsed days on the constant-hazard clock."""
    return days if days <= SETTLED_AFTER_DAYS else SETTLED_AFTER_DAYS + (days - SETTLED_AFTER_DAYS) * SETTLED_FACTOR


UPN_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"


def upn(digits: str) -> str:
    """A Unique Pupil Number: the DfE check letter, then 12 digits (LA, school, year, serial). The
    check letter is the sum of each digit times its position (2 to 13), remainder after 23."""
    return UPN_LETTERS[sum(int(d) * (i + 2) for i, d in enumerate(digits)) % 23] + digits


def _fmt(d: pd.Timestamp) -> str:
    return d.strftime("%d/%m/%Y")


def _age_band(age: float) -> str:
    for band, (lo, hi) in AGE_BANDS.items():
        if lo <= age < hi:
            return band
    return "16_and_over"


class Child:
    __slots__ = (
        "id",
        "dob",
        "sex",
        "eth",
        "ethnic",
        "uasc",
        "cin",
        "sdq",
        "home",
        "periods",
        "entered",
        "must_stay",
        "leave",
        "upn",
        "cin0",
        "cin_changes",
    )

    def age(self, on: pd.Timestamp) -> float:
        return (on - self.dob).days / 365.25

    def whole_age(self, on: pd.Timestamp) -> int:
        return on.year - self.dob.year - ((on.month, on.day) < (self.dob.month, self.dob.day))

    @property
    def period(self) -> dict:
        return self.periods[-1]

    @property
    def placement(self) -> dict:
        return self.periods[-1]["placements"][-1]

    @property
    def ls(self) -> str:
        return self.periods[-1]["ls"][-1][1]


def category_of(child: Child, dim: str, on: pd.Timestamp) -> str:
    """The child's published category at 31 March (``on``) for one characteristic."""
    if dim == "age":
        return _age_band(child.whole_age(on))
    if dim == "sex":
        return "male" if child.sex == "1" else "female"
    if dim == "ethnicity":
        return child.eth
    if dim == "uasc":
        return "uasc" if child.uasc else "not_uasc"
    if dim == "need":
        return child.cin
    pl = child.placement
    if dim == "placement":
        return GROUP_CATEGORY[pl["group"]]
    if dim == "provider":
        return PROVIDER_CATEGORY[pl["provider"]]
    if dim == "location":
        return pl["loc"]
    if dim == "legal":
        return LEGAL_CATEGORY[child.ls]
    raise KeyError(dim)
