"""The places a synthetic child can live: postcodes inside and outside the LA, drawn once per LA (cached)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.errors import AnalysisError


# --- postcodes --------------------------------------------------------------------------------------
@dataclass
class Places:
    inside: pd.DataFrame  # postcode, easting, northing (in the LA)
    around: pd.DataFrame  # postcodes in other LAs within 120 miles


def places_for(la_code: str, utla_of: dict[str, str], rng: np.random.Generator, cache: Path | None = None) -> Places:
    from analysis.io.geography import full_postcode_directory

    df = full_postcode_directory(cache)
    df = df[df["ltla"].str.startswith("E") & df["easting"].notna()]
    from analysis.io.geography import canonical_code

    # (codes that changed without the area changing, such as Barnsley's and Sheffield's in 2019, compare as one)
    utla = df["ltla"].map(lambda c: canonical_code(utla_of.get(c, c)))
    la_code = canonical_code(la_code)
    inside = df[utla == la_code]
    if inside.empty:
        raise AnalysisError(f"no postcodes found for {la_code} in the postcode directory")
    cx, cy = inside["easting"].mean(), inside["northing"].mean()
    dist = np.hypot(df["easting"] - cx, df["northing"] - cy) / 1609.3
    around = df[(utla != la_code) & (dist < 120)]
    pick = lambda d, n: d.iloc[np.sort(rng.choice(len(d), size=min(n, len(d)), replace=False))]  # noqa: E731

    def tidy(d: pd.DataFrame) -> pd.DataFrame:
        d = d[["postcode", "easting", "northing"]].reset_index(drop=True)
        compact = d["postcode"].astype(str)
        d["postcode"] = compact.str[:-3] + " " + compact.str[-3:]  # as LAs record them: TS23 3SQ
        return d

    return Places(tidy(pick(inside, 3000)), tidy(pick(around, 12000)))


def home_urns(p, la_code: str) -> dict[bool, np.ndarray]:
    """Real Ofsted URNs of children's homes (that take children to live, latest 31 March) inside the LA
    (``False``: not outside) and outside it, so the synthetic 903's children's-home placements name homes
    that exist (a child placed outside the LA gets a home outside it). Empty without the processed table."""
    from analysis.io.ingest import read_table

    try:
        pv = read_table(p, "ofsted_providers")
    except Exception:  # an older project without the table: URNs stay made up
        return {}
    pv = pv[(pv["year"] == pv["year"].max()) & (pv["provision_type"] == "Children's home") & (pv["registration_status"] == "Active")]
    pv = pv[~pv["short_break_only"].fillna(False).astype(bool)].sort_values("urn")
    inside = pv["new_la_code"] == la_code
    return {False: pv.loc[inside, "urn"].to_numpy(dtype=str), True: pv.loc[~inside, "urn"].to_numpy(dtype=str)}
