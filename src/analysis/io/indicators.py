"""The indicator vocabulary: how published labels and columns map to stable indicator ids.

DfE changes labels, apostrophes and column names between publications; the papers should not
have to care. Every published label or wide-file column that the project reads is listed here
once, with the id it becomes. A label that is not listed is set aside at ingest with the reason
"unrecognised label", so a new publication that renames a category is noticed, not dropped.

Ids are grouped by prefix: ``placement_``, ``provider_``, ``locality_``, ``distance_``, ``age_``,
``sex_``, ``ethnicity_``, ``legal_``, ``need_``, ``uasc_`` (children looked after at 31 March by
characteristic), ``new_placements_`` and ``placement_change_`` (during the year), ``missing_`` and
``away_`` (missing or away from placement without authorisation).

Measures: ``number`` (children or events), ``percent`` (as published, whole numbers),
``rate_per_10000`` (children aged 0-17), ``population`` (the 0-17 population DfE used),
``average`` (incidents per child).
"""

from __future__ import annotations

import re

import pandas as pd


def label_key(label: str) -> str:
    """Normalise a published label: case, apostrophes, 'on/at 31 March', spacing, numbering."""
    key = str(label).strip().lower()
    key = key.replace("\u2019", "'").replace("'", "")
    key = re.sub(r"^\d+\.\s*", "", key)
    key = key.replace(" on 31 march", " at 31 march")
    key = re.sub(r"\s+", " ", key)
    return key


def _keys(mapping: dict[str, str]) -> dict[str, str]:
    return {label_key(k): v for k, v in mapping.items()}


# --- CLA numbers and rates (cla_number_and_rate_per_10k_children) ---------------------------
CLA_NUMBERS = _keys(
    {
        "Children looked after at 31 March each year": "cla_31_march",
        "Children starting to be looked after each year": "cla_started",
        "Children ceasing to be looked after each year": "cla_ceased",
    }
)

# --- placement stability: (cla_group, characteristic) -> (indicator, measure role) -----------
_LT_GROUP = "Children looked after continuously for at least 2.5 years at 31 March aged under 16 years"
STABILITY = {
    (label_key("Children looked after at 31 March"), label_key("With 3 or more placements during the year")): ("placements_3plus_year", "value"),
    (label_key("CLA on 31 March"), label_key("With 3 or more placements during the year")): ("placements_3plus_year", "value"),
    (label_key("Children looked after at 31 March"), label_key("Total children")): ("placements_3plus_year", "denominator"),
    (label_key("CLA on 31 March"), label_key("Total children")): ("placements_3plus_year", "denominator"),
    (label_key("CLA 2 years on 31 March"), label_key("With 3 or more placements during the previous 2 years")): ("placements_3plus_2years", "value"),
    (label_key("CLA 2 years on 31 March"), label_key("Total children")): ("placements_3plus_2years", "denominator"),
    (label_key(_LT_GROUP), label_key("Living with the same carer for at least 2 years")): ("long_term_stability", "value"),
    (
        label_key(_LT_GROUP),
        label_key(
            "Living in the same placement for at least 2 years, or are placed for adoption and "
            "their adoption and their adoptive placement together with their previous placement, "
            "last for at least 2 years"
        ),
    ): ("long_term_stability", "value"),
    (label_key(_LT_GROUP), label_key("Total children")): ("long_term_stability", "denominator"),
}

# --- new placements during the year (location) and reasons for placement change -------------
NEW_PLACEMENT_LOCATION = _keys(
    {
        "Total new placements": "new_placements",
        "Placed inside LA boundary less than 20 miles from home": "new_placements_inside_under_20",
        "Placed inside LA boundary more than 20 miles from home": "new_placements_inside_over_20",
        "Placed outside LA boundary less than 20 miles from home": "new_placements_outside_under_20",
        "Placed outside LA boundary more than 20 miles from home": "new_placements_outside_over_20",
        "Distance not known or not recorded": "new_placements_distance_unknown",
    }
)
PLACEMENT_CHANGE_REASON = _keys(
    {
        "Total placements changing": "placement_changes",
        "Allegation (s47)": "placement_change_allegation",
        "Approval removed": "placement_change_approval_removed",
        "Carer requests placement end other than due to child's behaviour": "placement_change_carer_request_other",
        "Carer requests placement ends due to child's behaviour": "placement_change_carer_request_behaviour",
        "Change in the status of a placement only": "placement_change_status_only",
        "Change to/implementation of care plan": "placement_change_care_plan",
        "Child requests placement to end": "placement_change_child_request",
        "Custody arrangement": "placement_change_custody",
        "Other": "placement_change_other",
        "Resignation or closure of provision": "placement_change_provider_closure",
        "Responsible/area authority requests placement ends": "placement_change_la_request",
        "Standards of care concern": "placement_change_standards_of_care",
    }
)
NEW_PLACEMENT_GROUPS = {
    label_key("Location of new placements during the year"): NEW_PLACEMENT_LOCATION,
    label_key("Reason for placement change during the year"): PLACEMENT_CHANGE_REASON,
}

# --- LA of placement at 31 March (net gain tables) -------------------------------------------
NET_GAIN = _keys(
    {
        "Children who are the responsibility of other LAs placed within this LA boundary": "placed_in_by_other_las",
        "Children who are the responsibility of this LA placed outside the LA boundary": "placed_outside_boundary",
        "Net gain of children by responsible LA": "net_gain",
    }
)

# --- missing or away from placement: label -> (indicator, measure) ---------------------------
MISSING = {
    label_key(k): v
    for k, v in {
        "Children looked after during the year": ("cla_during_year", "number"),
        "Children who had a missing incident during the year": ("missing_children", "number"),
        "Percentage of children who had a missing incident during the year": ("missing_children", "percent"),
        "Number of missing incidents during the year": ("missing_incidents", "number"),
        "Average number of missing incidents per looked after child who went missing": ("missing_incidents", "average"),
        "Children who went missing more than once during the year": ("missing_children_repeat", "number"),
        "Children missing at 31 March": ("missing_at_31_march", "number"),
        "Children who were away from placement without authorisation during the year": ("away_children", "number"),
        "Percentage of children who were away from placement without authorisation during the year": ("away_children", "percent"),
        "Children who were away from placement without authorisation more than once during the year": ("away_children_repeat", "number"),
        "Number of away from placement without authorisation incidents during the year": ("away_incidents", "number"),
        "Average number of away from placement without authorisation incidents per looked after child": ("away_incidents", "average"),
        "Children away from placement without authorisation at 31 March": ("away_at_31_march", "number"),
    }.items()
}

# --- CLA at 31 March by characteristic: (group, characteristic) -> indicator -----------------
CHARACTERISTIC_GROUPS = _keys(
    {
        "Placement": "placement",
        "Place providers": "provider",
        "Locality of placement": "locality",
        "Distance between home and placement": "distance",
        "Distance between home and placement and locality of placement": "locality_distance",
        "LA of placement": "la_of_placement",
        "Age group": "age",
        "Sex": "sex",
        "Gender": "sex",
        "Ethnicity": "ethnicity",
        "Legal status": "legal",
        "Category of need": "need",
        "Unaccompanied asylum-seeking children": "uasc",
    }
)
CHARACTERISTICS = _keys(
    {
        # placement type
        "Foster placements": "placement_foster",
        "Placed for adoption": "placement_adoption",
        "Placed with parents or other person with parental responsibility": "placement_with_parents",
        "Secure homes and children's homes": "placement_secure_and_childrens_homes",
        "Other residential settings": "placement_other_residential",
        "Residential schools": "placement_residential_school",
        "Independent and semi-independent living arrangements/supported accommodation": "placement_independent_supported",
        "Other placements": "placement_other",
        # provider
        "Own provision (by the LA)": "provider_own",
        "Other LA provision": "provider_other_la",
        "Other public provision (e.g. by a PCT etc)": "provider_other_public",
        "Private provision": "provider_private",
        "Voluntary/third sector provision": "provider_voluntary",
        "Parents or other person with parental responsibility": "provider_parents",
        "Placement provider not reported": "provider_not_reported",
        # locality and distance
        "Placed inside the local authority boundary": "locality_inside",
        "Placed outside the local authority boundary": "locality_outside",
        "Placed 20 miles or less from home": "distance_20_or_less",
        "Placed more than 20 miles from home": "distance_over_20",
        "Distance not known or not recorded": "distance_unknown",
        "Placed inside the LA boundary, 20 miles or less from home": "locality_distance_inside_20_or_less",
        "Placed outside the LA boundary, 20 miles or less from home": "locality_distance_outside_20_or_less",
        "Placed inside the LA boundary, more than 20 miles from home": "locality_distance_inside_over_20",
        "Placed outside the LA boundary, more than 20 miles from home": "locality_distance_outside_over_20",
        "Placed inside the LA boundary, distance not known or not recorded": "locality_distance_inside_unknown",
        "Placed outside the LA boundary, distance not known or not recorded": "locality_distance_outside_unknown",
        "Own LA children placed internally within the local authority boundary": "la_of_placement_own_internal",
        "Other LA children externally placed within the local authority boundary": "placed_in_by_other_las_31_march",
        # age, sex, ethnicity
        "Under 1 year": "age_under_1",
        "1 to 4 years": "age_1_to_4",
        "5 to 9 years": "age_5_to_9",
        "10 to 15 years": "age_10_to_15",
        "16 years and over": "age_16_and_over",
        "Male": "sex_male",
        "Female": "sex_female",
        "White": "ethnicity_white",
        "Mixed or Multiple ethnic groups": "ethnicity_mixed",
        "Asian or Asian British": "ethnicity_asian",
        "Black, African, Caribbean or Black British": "ethnicity_black",
        "Other ethnic group": "ethnicity_other",
        "Refused or information not yet available": "ethnicity_not_known",
        # legal status
        "Interim care order": "legal_interim_care_order",
        "Full care order": "legal_full_care_order",
        "Placement order granted": "legal_placement_order",
        "Voluntary agreements under S20 CA 1989": "legal_section_20",
        "Detained for child protection": "legal_detained_child_protection",
        "Youth justice legal statuses": "legal_youth_justice",
        # category of need
        "N1. Abuse or neglect": "need_abuse_neglect",
        "N2. Child's disability": "need_disability",
        "N3. Parental illness or disability": "need_parental_illness",
        "N4. Family in acute stress": "need_family_acute_stress",
        "N5. Family dysfunction": "need_family_dysfunction",
        "N6. Socially unacceptable behaviour": "need_socially_unacceptable_behaviour",
        "N7. Low income": "need_low_income",
        "N8. Absent parenting": "need_absent_parenting",
        # UASC
        "UASC": "uasc",
        "Non-UASC": "uasc_non",
    }
)
# "N1. Abuse..." loses its "N1." only if it were "1."; keep both spellings reachable.
CHARACTERISTICS.update(
    {
        label_key(k.split(". ", 1)[1]): v
        for k, v in [
            ("N1. Abuse or neglect", "need_abuse_neglect"),
            ("N2. Child's disability", "need_disability"),
            ("N3. Parental illness or disability", "need_parental_illness"),
            ("N4. Family in acute stress", "need_family_acute_stress"),
            ("N5. Family dysfunction", "need_family_dysfunction"),
            ("N6. Socially unacceptable behaviour", "need_socially_unacceptable_behaviour"),
            ("N7. Low income", "need_low_income"),
            ("N8. Absent parenting", "need_absent_parenting"),
        ]
    }
)

# --- SFR 2015-2017 wide files: column -> indicator (measure is always "number") ---------------
# Columns named with the year (CLA_Mar2015, CLA_2015, CLA_stp2015) are matched after the year is
# replaced by "YYYY". Ids are shared with the later long files where the definition is the same;
# where it is not, the id says so (``_sfr``) and the catalogue explains.
SFR_COLUMNS = {
    "CLA_MarYYYY": "cla_31_march",
    "CLA_YYYY": "cla_during_year",
    "CLA_stpYYYY": "cla_during_year_short_breaks_only",
    "CLA_male": "sex_male",
    "CLA_female": "sex_female",
    "CLA_U1": "age_under_1",
    "CLA_1to4": "age_1_to_4",
    "CLA_5to9": "age_5_to_9",
    "CLA_10to15": "age_10_to_15",
    "CLA_16over": "age_16_and_over",
    "CLA_White": "ethnicity_white",
    "CLA_Mixed": "ethnicity_mixed",
    "CLA_Asian": "ethnicity_asian",
    "CLA_Black": "ethnicity_black",
    "CLA_EOTH": "ethnicity_other",
    "CLA_Oth": "ethnicity_not_known",
    "CLA_Fost": "placement_foster",
    "CLA_Adopt": "placement_adoption",
    "CLA_Parent": "placement_with_parents",
    "CLA_Ocom": "placement_other_community_sfr",
    "CLA_Secure": "placement_secure_childrens_homes_hostels_sfr",
    "CLA_Ores": "placement_other_residential",
    "CLA_RSch": "placement_residential_school",
    "CLA_OthPl": "placement_other",
    "CLA_ICO": "legal_interim_care_order",
    "CLA_FCO": "legal_full_care_order",
    "CLA_FrAd": "legal_freed_for_adoption",
    "CLA_PlaceO": "legal_placement_order",
    "CLA_S20": "legal_section_20",
    "CLA_CPG": "legal_detained_child_protection",
    "CLA_YJLS": "legal_youth_justice",
    "CLA_UASC": "uasc",
    "CLA_OwnP": "provider_own",
    "CLA_OthLA": "provider_other_la",
    "CLA_OthPP": "provider_other_public",
    "CLA_Priv": "provider_private",
    "CLA_Vol": "provider_voluntary",
    "CLA_Par": "provider_parents",
    "CLA_Nrep": "provider_not_reported",
    "CLA_InBound": "locality_inside",
    "CLA_Outbound": "locality_outside",
    "CLA_InLA_LTE20": "locality_distance_inside_20_or_less",
    "CLA_OutLA_LTE20": "locality_distance_outside_20_or_less",
    "CLA_InLA_GT20": "locality_distance_inside_over_20",
    "CLA_OutLA_GT20": "locality_distance_outside_over_20",
    "CLA_InLA_NoInfo": "locality_distance_inside_unknown",
    "CLA_OutLA_NoInfo": "locality_distance_outside_unknown",
    "CLA_LAPl": "la_of_placement_all_placed_in_la",
    "CLA_IntPl": "la_of_placement_own_internal",
    "CLA_ExtPl": "placed_in_by_other_las",
    "CLA_NetGain": "net_gain",
    "CLA_RPC_All_Place": "placement_changes",
    "CLA_RPC_CARPL": "placement_change_care_plan",
    "CLA_RPC_CLOSE": "placement_change_provider_closure",
    "CLA_RPC_ALLEG": "placement_change_allegation",
    "CLA_RPC_STAND": "placement_change_standards_of_care",
    "CLA_RPC_APPRR": "placement_change_approval_removed",
    "CLA_RPC_CREQB": "placement_change_carer_request_behaviour",
    "CLA_RPC_CREQO": "placement_change_carer_request_other",
    "CLA_RPC_CHILD": "placement_change_child_request",
    "CLA_RPC_LAREQ": "placement_change_la_request",
    "CLA_RPC_PLACE": "placement_change_status_only",
    "CLA_RPC_OTHER": "placement_change_other",
}
#: Columns renamed between the SFR files (handled here, in one place).
SFR_COLUMN_RENAMES = {
    # SFR41 (2016) CSV calls the "other placements" column CLA_Miss; its metadata calls it CLA_OthPl.
    "CLA_Miss": "CLA_OthPl",
    # SFR50 (2017) spells it CLA_OutBound in the metadata; the CSVs use CLA_Outbound.
    "CLA_OutBound": "CLA_Outbound",
}
SFR_ID_COLUMNS = {"LA_order", "New_geog_code", "geog_l", "geog_c", "geog_n"}


# --- denominators: which indicator is the "total" that a proportion is out of ----------------
# --- children's social care context (dfe_csc/): children in need, referrals, child protection ---------
#: wide files: column -> (indicator, measure)
CSC_WIDE = {
    "cin": {
        "At31_episodes": ("cin_31_march", "number"),
        "Started_episodes": ("cin_started", "number"),
        "Anypoint_child": ("cin_during_year", "number"),
    },
    "referrals": {
        "referral_count": ("referrals", "number"),
        "rereferral_count": ("rereferrals", "number"),
        "rereferral_percent": ("rereferrals", "percent"),
    },
    "cpp": {
        "CPP_At31": ("cpp_31_march", "number"),
        "2_years_or_more": ("cpp_2_years_plus", "number"),
        "2_years_or_more_percent": ("cpp_2_years_plus", "percent"),
    },
}

# --- care leavers (activity and accommodation): (age, breakdown) -> (indicator, measure role) ----------
_CL_AGES = {"17 to 18 years": "17_18", "19 to 21 years": "19_21"}
_CL_BREAKDOWNS = {
    "Total": ("care_leavers_activity", "denominator"),
    "Total in education, employment or training": ("care_leavers_eet", "value"),
    "Total not in education, employment or training": ("care_leavers_neet", "value"),
    "Total information not known": ("care_leavers_activity_not_known", "value"),
    "Education other than higher education": ("care_leavers_education", "value"),
    "Higher education i.e. studies beyond A level": ("care_leavers_higher_education", "value"),
    "In an apprenticeship": ("care_leavers_apprenticeship", "value"),
    "In training or employment": ("care_leavers_training_employment", "value"),
    "In training or employment (excl. apprenticeship)": ("care_leavers_training_employment_excl_apprenticeship", "value"),
    "Not in education, training or employment, owing to illness or disability": ("care_leavers_neet_illness_disability", "value"),
    "Not in education, training or employment, owing to other reasons": ("care_leavers_neet_other", "value"),
    "Not in education, training or employment, owing to pregnancy or parenting": ("care_leavers_neet_pregnancy_parenting", "value"),
    "Suitability total": ("care_leavers_accommodation", "denominator"),
    "Accommodation considered suitable": ("care_leavers_suitable", "value"),
    "Accommodation considered unsuitable": ("care_leavers_unsuitable", "value"),
    "No information": ("care_leavers_accommodation_not_known", "value"),
}
CARE_LEAVERS = {
    (label_key(age), label_key(b)): (f"{ind}_{suffix}", role) for age, suffix in _CL_AGES.items() for b, (ind, role) in _CL_BREAKDOWNS.items()
}


def denominator_for(indicator: str) -> str | None:
    """The indicator that holds the denominator for a proportion, or None."""
    for prefix in (
        "placement_",
        "provider_",
        "locality_distance_",
        "locality_",
        "distance_",
        "age_",
        "sex_",
        "ethnicity_",
        "legal_",
        "need_",
    ):
        if indicator.startswith(prefix) and not indicator.startswith("placement_change"):
            return "cla_31_march"
    if indicator.startswith("uasc"):
        return "cla_31_march"
    if indicator.startswith("new_placements_"):
        return "new_placements"
    if indicator.startswith("placement_change_"):
        return "placement_changes"
    if indicator in ("placed_outside_boundary", "missing_at_31_march", "away_at_31_march"):
        return "cla_31_march"
    if indicator in ("missing_children", "away_children", "missing_children_repeat", "away_children_repeat"):
        return "cla_during_year"
    if indicator.startswith(("care_leavers_activity_", "care_leavers_accommodation_1")):
        return None  # the totals: denominators themselves
    if indicator.startswith("care_leavers_"):
        age = indicator[-5:]
        accommodation = ("suitable", "unsuitable", "accommodation_not_known")
        return f"care_leavers_accommodation_{age}" if any(f"_{a}_" in indicator for a in accommodation) else f"care_leavers_activity_{age}"
    if indicator == "rereferrals":
        return "referrals"
    if indicator == "cpp_2_years_plus":
        return "cpp_31_march"
    return None


DESCRIPTIONS = {
    "cla_31_march": "Children looked after at 31 March",
    "cla_started": "Children who started to be looked after during the year",
    "cla_ceased": "Children who ceased to be looked after during the year",
    "cla_during_year": "Children looked after at any time during the year",
    "cla_during_year_short_breaks_only": "Children looked after during the year only under a series of short-term placements (SFR 2015-2017)",
    "placements_3plus_year": "Children looked after at 31 March with 3 or more placements during the year (denominator: all children looked after at 31 March)",
    "placements_3plus_2years": "Children looked after for 2 years at 31 March with 3 or more placements in the previous 2 years",
    "long_term_stability": "Children under 16 looked after for at least 2.5 years, living in the same placement (with the same carer from 2021 publication wording) for at least 2 years",
    "placed_outside_boundary": "Own children looked after at 31 March placed outside the LA boundary (net gain table)",
    "placed_in_by_other_las": "Other LAs' children looked after at 31 March placed within this LA boundary (net gain table)",
    "net_gain": "Net gain of children by responsible LA (other LAs' children placed in, minus own placed out)",
    "placement_secure_childrens_homes_hostels_sfr": "SFR 2015-2017: secure units, children's homes and hostels (includes semi-independent hostels; not comparable with placement_secure_and_childrens_homes)",
    "placement_other_community_sfr": "SFR 2015-2017: other placements in the community (living independently, residential employment; not comparable with placement_independent_supported)",
    "legal_freed_for_adoption": "SFR 2015-2017: freed for adoption",
    "new_placements": "New placements starting during the year",
    "placement_changes": "Placements that ended during the year with a recorded reason for change",
    "missing_children": "Children looked after who had a missing incident during the year",
    "away_children": "Children looked after who were away from placement without authorisation during the year",
    "missing_incidents": "Missing incidents during the year (number) and per child who went missing (average)",
    "away_incidents": "Away-without-authorisation incidents during the year (number) and per child who was away (average)",
    "cin_31_march": "Children in need at 31 March (episodes; DfE children in need table B1)",
    "cin_started": "Children in need episodes starting during the year (table B1)",
    "cin_during_year": "Children in need at any point during the year (children; table B1)",
    "referrals": "Referrals to children's social care during the year (table C1)",
    "rereferrals": "Referrals within 12 months of a previous referral (table C1; percent of referrals)",
    "cpp_31_march": "Children on a child protection plan at 31 March (table D5)",
    "cpp_2_years_plus": "Child protection plans at 31 March that had lasted 2 years or more (table D5)",
    "care_leavers_eet_17_18": "Care leavers aged 17-18 in education, employment or training (denominator: care leavers of that age)",
    "care_leavers_eet_19_21": "Care leavers aged 19-21 in education, employment or training (denominator: care leavers of that age)",
    "care_leavers_suitable_17_18": "Care leavers aged 17-18 in accommodation considered suitable",
    "care_leavers_suitable_19_21": "Care leavers aged 19-21 in accommodation considered suitable",
}


def catalogue() -> pd.DataFrame:
    """One row per indicator id: topic, description, denominator."""
    rows = {}

    def add(ind: str, topic: str, label: str) -> None:
        rows.setdefault(ind, {"indicator": ind, "topic": topic, "label": label})

    for k, v in CLA_NUMBERS.items():
        add(v, "cla_numbers", k)
    for (_, cat), (ind, _) in STABILITY.items():
        add(ind, "placement_stability", cat)
    for k, v in NEW_PLACEMENT_LOCATION.items():
        add(v, "new_placements", k)
    for k, v in PLACEMENT_CHANGE_REASON.items():
        add(v, "new_placements", k)
    for k, v in NET_GAIN.items():
        add(v, "la_of_placement", k)
    for k, (ind, _) in MISSING.items():
        add(ind, "missing", k)
    for k, v in CHARACTERISTICS.items():
        add(v, "cla_31_march_characteristics", k)
    for col, ind in SFR_COLUMNS.items():
        add(ind, "sfr_2015_2017", col)
    for kind, cols in CSC_WIDE.items():
        for col, (ind, _) in cols.items():
            add(ind, f"csc_{kind}", col)
    for (age, b), (ind, _) in CARE_LEAVERS.items():
        add(ind, "care_leavers", f"{age}: {b}")
    for g in set(CHARACTERISTIC_GROUPS.values()):
        add(f"{g}_total", "cla_31_march_characteristics", f"total of the '{g}' breakdown")
    out = pd.DataFrame(sorted(rows.values(), key=lambda r: r["indicator"]))
    out["description"] = out["indicator"].map(DESCRIPTIONS).fillna(out["label"])
    out["denominator"] = out["indicator"].map(denominator_for)
    return out.astype("string")
