"""Paper 05's words: the findings in plain English, one sentence per question a sufficiency strategy
asks, quoting the gated tables (a count the gate hid is "a number not shown", never its value)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from analysis.papers.p05_supply.gap import TYPE_LABELS
from analysis.papers.p05_supply.inputs import Settings
from analysis.papers.p05_supply.supply import NET_GAIN
from analysis.report.disclosure import Gated, count_text
from analysis.stats import demand

if TYPE_CHECKING:
    from analysis.papers.p05_supply.paper import Results


def _n(v: object) -> str:
    """A count of children as the table prints it (a figure the DfE did not publish says so)."""
    if v is None or (isinstance(v, float) and pd.isna(v)):
        return "a number not published"
    return count_text(v)


def _places(v: object) -> str:
    if isinstance(v, str):
        return count_text(v)
    return "not known" if v is None or (isinstance(v, float) and pd.isna(v)) else f"{float(v):,.0f}"


def _threshold(v: float) -> str:
    return f"{v:,.1f}" if v < 10 else f"{v:,.0f}"


def _range(lo: object, hi: object) -> str:
    if isinstance(lo, str) or isinstance(hi, str):
        return "a range not shown (c)"
    return f"{lo:,.0f} to {hi:,.0f}"


def supply_sentence(tables: dict[str, Gated], s: Settings) -> str:
    sup = tables["supply"].frame
    last = sup[sup["year"] == sup["year"].max()].iloc[0]
    rates = tables["places_per_10k"].frame.set_index("kind")
    homes, la_run = last["children's homes: places"], last["children's homes: run by the LA"]
    text = (
        f"At 31 March {int(last['year'])} there were **{_places(homes)} places in children's homes registered in {s.la_name}**, "
        f"of which the council runs {_places(la_run)}"
    )
    if "children's homes" in rates.index:
        r = rates.loc["children's homes"]
        text += (
            f": {r['LA']:.1f} per 10,000 children, against {r['statistical neighbours (mean)']:.1f} for its statistical neighbours, "
            f"{r['region']:.1f} for its region and {r['England']:.1f} for England"
        )
    sa = last.get("supported accommodation: places")
    if pd.notna(sa):
        text += f". Supported accommodation for 16-17s (registered since 2023-24): {_places(sa)} places"
    return text + "."


def homes_sentence(tables: dict[str, Gated], s: Settings) -> str | None:
    fl = tables["homes_flow"].frame
    if len(fl) < 2:
        return None
    r = fl.iloc[-1]
    rt = tables["ratings"].frame.set_index("area")
    text = (
        f"Children's homes in {s.la_name} between 31 March {int(r['year']) - 1} and {int(r['year'])}: opened {_places(r['opened'])} "
        f"({_places(r['places_opened'])} places), closed {_places(r['closed'])} ({_places(r['places_closed'])} places), "
        f"registered at the end {_places(r['homes'])}"
    )
    if pd.notna(r["short_break_only"]) and r["short_break_only"]:
        text += f", of which short breaks only: {_places(r['short_break_only'])}"
    la, eng = rt.at["LA", "good_or_outstanding_pct"], rt.at["England", "good_or_outstanding_pct"]
    if pd.notna(la):
        text += f". Of its homes inspected, **{la:.0f}% are rated good or outstanding** (England {eng:.0f}%)"
    return text + "."


def ratings_903_sentence(tables: dict[str, Gated], s: Settings) -> str | None:
    if "ratings_903" not in tables:
        return None
    t = tables["ratings_903"].frame.set_index("where")
    r = t.loc["all"]
    if isinstance(r["children"], str) or not r["children"]:
        return None
    found = None if isinstance(r["urn_not_found"], str) else r["children"] - r["urn_not_found"]
    if found == 0:
        return (
            f"None of the URNs of the homes where {s.la_name}'s children live was found in Ofsted's register of children's homes: "
            "check the 903's URN column (the synthetic 903's URNs are made up)."
        )
    parts = [f"{_n(t.at[w, 'good_or_outstanding'])} of {_n(t.at[w, 'children'])} {w}" for w in ("inside the LA", "outside the LA")]
    return f"Children in homes rated good or outstanding by Ofsted (903): {'; '.join(parts)} ({_n(r['urn_not_found'])} with a URN not in Ofsted's register)."


def net_gain_sentence(tables: dict[str, Gated], s: Settings) -> str | None:
    ng = tables["net_gain"].frame
    if ng.empty:
        return None
    r = ng.iloc[-1]
    inside, outside, net = r[NET_GAIN["placed_in_by_other_las"]], r[NET_GAIN["placed_outside_boundary"]], r[NET_GAIN["net_gain"]]
    if r["placer"] == "not published":
        return f"The DfE did not publish {s.la_name}'s net gain for {int(r['year'])}."
    return (
        f"At 31 March {int(r['year'])} other LAs had {_n(inside)} children placed in {s.la_name}, and it had {_n(outside)} of its own placed "
        f"outside its boundary: **{_placer(r['placer'])}** (net gain {net:+,.0f})."
        if not isinstance(net, str)
        else f"At 31 March {int(r['year'])} the net gain for {s.la_name} is not shown (c)."
    )


def _placer(placer: str) -> str:
    return f"an {placer}" if placer in ("in-placer", "out-placer") else "balanced (as many placed in as out)"


def new_placements_sentence(tables: dict[str, Gated], res: Results, s: Settings) -> str | None:
    t = tables["new_placements"].frame
    known = t[t["all new placements"].map(lambda v: not isinstance(v, str) and pd.notna(v) and v > 0)]
    if known.empty:
        return None
    r = known.iloc[-1]
    near = r["inside, under 20 miles"]
    eng = res.new_placements_england.set_index("year")
    share = f"{near / r['all new placements']:.0%}" if not isinstance(near, str) and pd.notna(near) else "a share not shown"
    text = f"Of the {_n(r['all new placements'])} new placements {s.la_name} made in the year to 31 March {int(r['year'])}, {share} were inside its area and under 20 miles from home"
    if int(r["year"]) in eng.index and eng.at[int(r["year"]), "all new placements"]:
        e = eng.loc[int(r["year"])]
        text += f" (England {e['inside, under 20 miles'] / e['all new placements']:.0%})"
    return text + "."


def gap_sentences(tables: dict[str, Gated], res: Results, s: Settings) -> list[str]:
    if "gap" not in tables:
        return [f"**No gap is shown:** {res.no_forecast}"]
    g = tables["gap"].frame
    year = s.last_year + s.gap_years
    inside_pct = _inside_pct(res, tables)
    out = []
    for label in TYPE_LABELS.values():
        rows = g[(g["placement"] == label) & (g["year"] == year)]
        if rows.empty:
            continue
        r = rows.iloc[0]
        if any(isinstance(r[c], str) for c in ("forecast", "lower_95", "upper_95")):
            text = f"In March {year} {s.la_name}'s forecast of children in {label} is not shown (c: too few children to publish)"
        else:
            text = f"In March {year} {s.la_name} expects **{_range(r['lower_95'], r['upper_95'])} children in {label}** (central {_n(r['forecast'])}; {_n(r['children_now'])} now)"
        if label == TYPE_LABELS["fostering"]:
            out.append(text + "; fostering capacity is households, below.")
            continue
        if pd.isna(r["places_registered"]):
            out.append(text + f"; Ofsted registered no places of this kind in {s.la_name} at 31 March.")
            continue
        what = (
            " (children's homes, secure homes and residential special schools registered as homes)" if label == TYPE_LABELS["children's home"] else ""
        )
        text += (
            f"; {_places(r['places_registered'])} places{what} are registered in {s.la_name}, of which the council runs {_places(r['places_la_run'])}"
        )
        if label == TYPE_LABELS["children's home"]:
            if inside_pct:
                text += f"; {inside_pct}"
            extra = r.get("extra_inside")
            if extra is not None and not isinstance(extra, str) and pd.notna(extra):
                target = f"{s.levers.inside_share:.0%} (the target)" if s.levers.inside_share is not None else "today's share"
                text += (
                    f". To place {target} of them inside its area it needs about {_n(r['needed_inside'])} places there for its own children, "
                    f"{_signed(extra)} on today ({_range(r['extra_inside_lower'], r['extra_inside_upper'])})"
                )
            own = r.get("extra_own")
            if own is not None and not isinstance(own, str) and pd.notna(own):
                target = (
                    f"{s.levers.own_share:.0%} of them (the target)"
                    if s.levers.own_share is not None
                    else "today's ratio of council places to its children in homes"
                )
                text += f"; for homes the council runs at {target}: about {_places(r['needed_own'])} places, {_signed(own)} than it runs now ({_places(r['places_la_run'])})"
        out.append(text + ".")
    return out


def _signed(v: float) -> str:
    return f"{abs(v):,.0f} more" if v > 0 else (f"{abs(v):,.0f} fewer" if v < 0 else "the same as")


def _inside_pct(res: Results, tables: dict[str, Gated]) -> str | None:
    """Where the LA's children in children's homes live: from the 903 (gated), else the published share of all its children."""
    if "homes_903" in tables:
        r = tables["homes_903"].frame.iloc[0]
        if isinstance(r["inside"], str) or isinstance(r["children"], str) or not r["children"]:
            return "the share of its children in homes living inside its boundary is not shown (c)"
        near = (
            ""
            if isinstance(r["within_20_miles"], str) or not r["distance_known"]
            else f", {r['within_20_miles'] / r['distance_known']:.0%} within 20 miles of home"
        )
        return f"{r['inside'] / r['children']:.0%} of its children in children's homes live inside its boundary{near} (903)"
    known = res.inside.dropna(subset=["inside_pct"])
    if known.empty:
        return None
    r = known.iloc[-1]
    return f"{r['inside_pct']:.0f}% of all its children looked after lived inside its boundary at 31 March {int(r['year'])} (the DfE does not publish this by placement type)"


def households_sentence(tables: dict[str, Gated], s: Settings) -> str | None:
    if "foster_households" not in tables:
        return None
    h = tables["foster_households"].frame
    first, last = h.iloc[0], h.iloc[-1]
    if isinstance(first["households_needed"], str):
        return f"The in-house foster households {s.la_name} needs are not shown: its fostering forecast is too small to publish (c)."
    lv = s.levers
    n = first["households_needed"]
    return (
        f"To meet {lv.inhouse_foster_share:.0%} of fostering demand with its own carers ({lv.children_per_household:g} children a household, "
        f"{lv.households_lost:.0%} of households lost a year), {s.la_name} needs about **{n:,.0f} in-house fostering "
        f"household{'' if n == 1 else 's'} in {int(first['year'])}** and to recruit about {first['to_recruit']:,.0f} that year "
        f"({_range(first['to_recruit_lower'], first['to_recruit_upper'])}); {_places(last['to_recruit'])} in {int(last['year'])}. "
        "The fostering figures are national stand-ins unless set (see the notes)."
    )


def uasc_sentence(tables: dict[str, Gated], s: Settings) -> str | None:
    u = tables["uasc"].frame
    if u.empty:
        return None
    r = u.iloc[-1]
    year, n = int(r["year"]), r["uasc_looked_after"]
    if n is None or (isinstance(n, float) and pd.isna(n)) or isinstance(n, str):
        return (
            f"The number of unaccompanied asylum-seeking children {s.la_name} looked after at 31 March {year} is not published "
            f"(the National Transfer Scheme threshold, 0.1% of its children, is {_threshold(r['threshold'])})."
        )
    return (
        f"At 31 March {year} {s.la_name} looked after {_n(n)} unaccompanied asylum-seeking children: "
        f"**{r['position']}** of the National Transfer Scheme (0.1% of its children, {_threshold(r['threshold'])})."
    )


def care_leavers_sentence(tables: dict[str, Gated], s: Settings) -> str | None:
    cl = tables["care_leavers"].frame
    if cl.empty:
        return None
    latest = cl[cl["year"] == cl["year"].max()]
    shown, missing = [], []
    for r in latest.to_dict(orient="records"):
        if r["care_leavers"] is None or (isinstance(r["care_leavers"], float) and pd.isna(r["care_leavers"])):
            missing.append(f"aged {r['age']}")
            continue
        pct = "" if isinstance(r["suitable_pct"], str) or pd.isna(r["suitable_pct"]) else f" ({r['suitable_pct']:.0f}% in suitable accommodation)"
        shown.append(f"{_n(r['care_leavers'])} care leavers aged {r['age']}{pct}")
    year = int(latest["year"].iloc[0])
    text = (
        f"In {year} {s.la_name} was in touch with {' and '.join(shown)}"
        if shown
        else f"In {year} the DfE published no count of {s.la_name}'s care leavers"
    )
    if missing and shown:
        text += f"; the number {' and '.join(missing)} was not published"
    return text + "."


def findings(res: Results, s: Settings, tables: dict[str, Gated]) -> str:
    """The paper's findings (markdown), from its gated tables."""
    lines = [
        supply_sentence(tables, s),
        homes_sentence(tables, s),
        net_gain_sentence(tables, s),
        new_placements_sentence(tables, res, s),
        *gap_sentences(tables, res, s),
        ratings_903_sentence(tables, s),
        households_sentence(tables, s),
    ]
    lines += [uasc_sentence(tables, s), care_leavers_sentence(tables, s)]
    head = "Demand is forecast from the LA's own 903." if s.source == demand.FROM_903 else "Demand is forecast from the DfE's published figures."
    return head + "\n\n" + "\n".join(f"- {x}" for x in lines if x)
