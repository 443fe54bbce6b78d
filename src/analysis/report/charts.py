""""""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullLocator  # noqa: E402

from analysis.report.chart_style import (
    AREA_COLOURS,
    AREA_STYLES,
    DARK_BLUE,
    DARK_GREY,
    DARK_PINK,
    LIGHT_PURPLE,
    MID_GREY,
    ORANGE,
    PALETTE,
    TURQUOISE,
    _describe,
    _fmt,
    _grid,
    _note_suppressed,
    _panel_title,
    _plotted,
    _suppressed_labels,
    _suptitle,
    _values_text,
    figure_html,
    fixed_layout,
    mark_synthetic,
    show,
    warm_up,
)
from analysis.report.disclosure import Gated  # noqa: E402
from analysis.stats.funnel import curve  # noqa: E402

#: the charts, and the style helpers callers reach through this module
__all__ = [
    "figure_html",
    "mark_synthetic",
    "show",
    "warm_up",
    "trend_panels",
    "funnel_panels",
    "ranked_bars",
    "stacked_shares",
    "survival_panels",
    "interval_plot",
    "calibration_plot",
    "bars",
    "line_panels",
    "forecast_lines",
    "coverage_heatmap",
    "COVERAGE_STATES",
]


def trend_panels(data: Gated, panels: Sequence[tuple[str, str, str]], title: str, *, ncols: int = 3) -> plt.Figure:
    """Small multiples of trends. ``data``: measure, year, series (LA/comparators/region/England),
    value. ``panels``: (measure id, short title, unit)."""
    trends = _plotted(data, "trend_panels")
    fig, axes = _grid(len(panels), ncols)
    latest = []
    handles = {}
    for ax, (measure, short, unit) in zip(axes, panels):
        sub = trends[trends["measure"] == measure]
        for series in ("England", "region", "comparators", "LA"):
            s = sub[sub["series"] == series].sort_values("year")
            if s["value"].notna().any():
                (line,) = ax.plot(
                    s["year"],
                    s["value"],
                    AREA_STYLES[series],
                    color=AREA_COLOURS[series],
                    lw=2.4 if series == "LA" else 1.6,
                    marker="o" if series == "LA" else None,
                    ms=3.5,
                )
                handles[series] = line
        la = sub[(sub["series"] == "LA") & sub["value"].notna()].sort_values("year")
        if len(la):
            latest.append(f"{short} {la['value'].iloc[-1]:,.1f}{'%' if unit == '%' else ''} in {la['year'].iloc[-1]:.0f}")
        _panel_title(ax, short)
        ax.yaxis.set_major_formatter(_fmt(unit))
        ax.set_ylim(bottom=0)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=5))
        ax.set_xlabel("Year (at 31 March)", fontsize=8.5)
    labels = {"LA": "This LA", "comparators": "Comparator average", "region": "Region", "England": "England"}
    order = [k for k in ("LA", "comparators", "region", "England") if k in handles]
    fig.legend([handles[k] for k in order], [labels[k] for k in order], loc="lower center", ncol=4, bbox_to_anchor=(0.5, 0.0))
    _suptitle(fig, title)
    if latest:
        _describe(fig, "Latest values for this LA: " + "; ".join(latest) + ".")
    return fig


def funnel_panels(panels: Sequence[dict], title: str, *, ncols: int = 3) -> plt.Figure:
    """Small multiples of funnel plots. Each panel: ``units`` (denominator, value, flag, is_la),
    ``theta`` (target on the display scale), ``kind``, ``scale`` (display multiplier), ``tau2``,
    ``short`` and ``unit``."""
    fig, axes = _grid(len(panels), ncols)
    described = []
    for ax, panel in zip(axes, panels):
        u = _plotted(panel["units"], "funnel_panels")
        scale = panel["scale"]
        lim = curve(
            panel["theta"] / scale,
            float(u["denominator"].max()) * 1.05,
            panel["kind"],
            panel["tau2"],
            n_min=max(1.0, float(u["denominator"].min()) * 0.8),
        )
        ax.plot(lim["n"], lim["lower_0.95"] * scale, color=DARK_GREY, lw=1, ls="--")
        ax.plot(lim["n"], lim["upper_0.95"] * scale, color=DARK_GREY, lw=1, ls="--", label="95% limits")
        ax.plot(lim["n"], lim["lower_0.998"] * scale, color=DARK_GREY, lw=1.2)
        ax.plot(lim["n"], lim["upper_0.998"] * scale, color=DARK_GREY, lw=1.2, label="99.8% limits")
        ax.axhline(panel["theta"], color=DARK_GREY, lw=0.8, alpha=0.6)
        others = u[~u["is_la"].astype(bool)]
        ax.scatter(others["denominator"], others["value"], s=10, color=MID_GREY, edgecolor="none", label="Other LAs")
        me = u[u["is_la"].astype(bool)]
        ax.scatter(me["denominator"], me["value"], s=55, color=DARK_BLUE, edgecolor="white", zorder=5, label="This LA")
        if len(me) and pd.notna(me["value"].iloc[0]):
            described.append(f"{panel['short']}: this LA {me['value'].iloc[0]:,.1f} against England {panel['theta']:,.1f}")
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(base=10, numticks=5))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
        _panel_title(ax, panel["short"])
        ax.set_xlabel(panel["x_label"], fontsize=8.5)
        ax.yaxis.set_major_formatter(_fmt(panel["unit"]))
        top = max(float(np.nanmax(u["value"])) if u["value"].notna().any() else 0, panel["theta"] * 1.5)
        ax.set_ylim(0, top * 1.08)
        ax.grid(axis="x", visible=False)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, bbox_to_anchor=(0.5, 0.0))
    _suptitle(fig, title)
    if described:
        _describe(fig, "; ".join(described) + ".")
    return fig


def ranked_bars(panels: Sequence[dict], title: str, *, ncols: int = 2) -> plt.Figure:
    """Horizontal bars, one panel per measure: comparator LAs ranked, this LA highlighted, the
    England value as a line. Each panel: ``data`` (name, value, is_la), ``england``, ``short``, ``unit``."""
    frames = [_plotted(p["data"], "ranked_bars") for p in panels]
    n_rows = max(len(f) for f in frames)
    nrows = int(np.ceil(len(panels) / ncols))
    panel_h = max(1.8, 0.24 * n_rows + 0.3)
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.3 * ncols, panel_h * nrows + 0.55 * nrows + 0.5), squeeze=False)
    for ax in axes.flat[len(panels) :]:
        ax.set_visible(False)
    fixed_layout(fig, nrows, ncols, left=1.45, right=0.2, top=0.65, bottom=0.4, wgap=1.65, hgap=0.75)
    for ax, panel, frame in zip(axes.flat, panels, frames):
        d = frame.dropna(subset=["value"]).sort_values("value")
        d["is_la"] = d["is_la"].astype(bool)
        me = d[d["is_la"]]
        if len(me):
            _describe(
                fig,
                f"{panel['short']}: this LA {me['value'].iloc[0]:,.1f}, ranked {len(d) - int(np.flatnonzero(d['is_la'].to_numpy())[0])} of {len(d)}.",
            )
        colours = [DARK_BLUE if me else MID_GREY for me in d["is_la"]]
        ax.barh(d["name"], d["value"], color=colours)
        if pd.notna(panel.get("england")):
            ax.axvline(panel["england"], color=DARK_GREY, ls=":", lw=1.5, label=panel.get("line_label", "England"))
            ax.legend(loc="lower right", fontsize=8)
        _panel_title(ax, panel["short"])
        ax.xaxis.set_major_formatter(_fmt(panel["unit"]))
        ax.tick_params(axis="y", labelsize=8)
        ax.grid(axis="y", visible=False)
        ax.grid(axis="x", visible=True, color="#E5E5E5")
        for label, me in zip(ax.get_yticklabels(), d["is_la"]):
            if me:
                label.set_fontweight("bold")
    _suptitle(fig, title)
    return fig


def stacked_shares(data: Gated, categories: Sequence[tuple[str, str]], title: str) -> plt.Figure:
    """100% stacked horizontal bars: one bar per area (rows of ``data``, column ``area``), one
    segment per category (column id, label), values in percent."""
    table = _plotted(data, "stacked_shares")
    fig, ax = plt.subplots(figsize=(10.2, 0.55 * len(table) + 2.3))
    fixed_layout(fig, 1, 1, left=1.75, right=0.3, top=0.6, bottom=1.3, wgap=0, hgap=0)
    left = np.zeros(len(table))
    colours = list(PALETTE) + [MID_GREY]
    for (column, label), colour in zip(categories, colours):
        values = pd.to_numeric(table[column], errors="coerce").fillna(0).to_numpy()
        ax.barh(table["area"], values, left=left, color=colour, label=label, edgecolor="white")
        for y, (x0, v) in enumerate(zip(left, values)):
            if v >= 6:
                ax.text(
                    x0 + v / 2,
                    y,
                    f"{v:.0f}%",
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if colour in (DARK_BLUE, DARK_PINK, DARK_GREY) else "black",
                )
        left += values
    first = table.iloc[0]
    _describe(
        fig, f"{first['area']}: " + "; ".join(f"{label} {float(first[column]):.0f}%" for column, label in categories if pd.notna(first[column])) + "."
    )
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.xaxis.set_major_formatter(_fmt("%"))
    ax.set_xlabel("Share of children looked after at 31 March (%)")
    ax.grid(axis="y", visible=False)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.24), ncol=3, fontsize=8.5)
    _suptitle(fig, title)
    return fig


def survival_panels(panels: Sequence[tuple[str, Gated]], title: str, *, ncols: int = 2, ylabel: str = "Ended unplanned (%)") -> plt.Figure:
    """Cumulative share ended (1 - Kaplan-Meier) by months since the start, one line and 95% band per
    group. Each panel: (title, frame with group, days, surv, lower, upper)."""
    fig, axes = _grid(len(panels), ncols, panel_w=4.9, panel_h=3.0)
    fixed_layout(fig, int(np.ceil(len(panels) / ncols)), ncols, left=0.85, right=0.15, top=0.75, bottom=0.95, wgap=0.95, hgap=0.75)
    for ax, (name, gated) in zip(axes, panels):
        d = _plotted(gated, "survival_panels")
        for colour, (group, g) in zip(PALETTE, d.groupby("group", sort=False)):
            months = np.concatenate([[0.0], g["days"].to_numpy() / (365.25 / 12)])
            ended = 100 * (1 - np.concatenate([[1.0], g["surv"].to_numpy()]))
            lo = 100 * (1 - np.concatenate([[1.0], g["upper"].to_numpy()]))
            hi = 100 * (1 - np.concatenate([[1.0], g["lower"].to_numpy()]))
            ax.step(months, ended, where="post", color=colour, lw=1.8, label=str(group))
            ax.fill_between(months, lo, hi, step="post", color=colour, alpha=0.15, lw=0)
        ax.set_title(name, loc="left")
        ax.set_xlabel("Months since the placement started")
        ax.set_ylabel(ylabel)
        ax.set_xlim(left=0)
        ax.set_ylim(bottom=0)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.yaxis.set_major_formatter(_fmt("%"))
        ax.legend(fontsize=7.5, loc="upper left")
    _suptitle(fig, title)
    return fig


def interval_plot(
    data: Gated,
    title: str,
    *,
    label: str,
    estimate: str,
    lower: str,
    upper: str,
    xlabel: str,
    reference: float | None = None,
    log: bool = False,
    marks: str | None = None,
    mark_label: str = "",
    unit: str = "",
    decimals: int = 2,
) -> plt.Figure:
    """Estimates with 95% intervals, one row each (a forest plot), from columns of a gated table; rows
    whose estimate or interval is suppressed are left out, and the figure says so. Optional reference
    line and marks (a column, e.g. the value planted in synthetic data)."""
    d = _plotted(data, "interval_plot")
    gone = _suppressed_labels(data, label, [estimate, lower, upper])
    d = d[d[[estimate, lower, upper]].notna().all(axis=1)]
    labels = d[label].astype(str).tolist()
    n = len(labels)
    left = min(5.2, 0.3 + 0.075 * max((len(str(x)) for x in labels), default=10))
    fig, ax = plt.subplots(figsize=(max(9.5, left + 5.5), 0.34 * n + 1.9 + (0.25 if gone else 0)))
    fixed_layout(fig, 1, 1, left=left, right=0.3, top=0.6, bottom=0.85 + (0.25 if gone else 0), wgap=0, hgap=0)
    y = np.arange(n)[::-1]
    est, lo, hi = (d[c].to_numpy(float) for c in (estimate, lower, upper))
    ax.errorbar(est, y, xerr=[est - lo, hi - est], fmt="o", color=DARK_BLUE, ecolor=DARK_BLUE, capsize=2.5, ms=5, label="Estimate and 95% interval")
    if marks is not None:
        ax.scatter(d[marks].to_numpy(float), y, marker="D", color=ORANGE, s=26, zorder=3, label=mark_label)
    if reference is not None:
        ax.axvline(reference, color=DARK_GREY, ls=":", lw=1.2)
    if log:
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}" if round(v, 1) in (0.3, 0.5, 2, 3) else ""))
    ax.set_yticks(y, labels, fontsize=8.5)
    ax.set_xlabel(xlabel)
    ax.grid(axis="y", visible=False)
    ax.grid(axis="x", visible=True, color="#E5E5E5")
    if marks is not None:
        ax.legend(fontsize=8, loc="lower right")
    _suptitle(fig, title)
    dp = decimals
    _describe(
        fig,
        "Estimates (95% interval): "
        + "; ".join(f"{k} {e:,.{dp}f}{unit} ({a:,.{dp}f} to {b:,.{dp}f})" for k, e, a, b in zip(labels, est, lo, hi))
        + ".",
    )
    _note_suppressed(fig, gone)
    return fig


def calibration_plot(data: Gated, title: str) -> plt.Figure:
    """Observed against predicted risk by tenth of predicted risk, one line per model, with the diagonal."""
    bins = _plotted(data, "calibration_plot")
    fig, ax = plt.subplots(figsize=(6.2, 5.0))
    fixed_layout(fig, 1, 1, left=0.8, right=0.3, top=0.6, bottom=0.7, wgap=0, hgap=0)
    top = 100 * float(max(bins["predicted"].max(), bins["observed"].max(), 0.05)) * 1.08
    ax.plot([0, top], [0, top], color=MID_GREY, lw=1, label="Perfect calibration")
    for colour, (model, g) in zip(PALETTE, bins.groupby("model", sort=False)):
        ax.plot(100 * g["predicted"], 100 * g["observed"], "o-", color=colour, ms=4, lw=1.4, label=model)
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.set_xlabel("Predicted risk (%), mean in each tenth")
    ax.set_ylabel("Observed share ended unplanned (%)")
    ax.xaxis.set_major_formatter(_fmt("%"))
    ax.yaxis.set_major_formatter(_fmt("%"))
    ax.legend(fontsize=8, loc="upper left")
    _suptitle(fig, title)
    return fig


def bars(data: Gated, title: str, *, label: str, value: str, xlabel: str, errors: str | None = None, unit: str = "") -> plt.Figure:
    """Simple horizontal bars from columns of a gated table, first row at the top; suppressed rows left out."""
    d = _plotted(data, "bars")
    gone = _suppressed_labels(data, label, [value])
    d = d[d[value].notna()]
    labels = d[label].astype(str).tolist()
    n = len(labels)
    left = min(5.2, 0.3 + 0.075 * max((len(str(x)) for x in labels), default=10))
    fig, ax = plt.subplots(figsize=(max(8.0, left + 5.0), 0.32 * n + 1.7 + (0.25 if gone else 0)))
    fixed_layout(fig, 1, 1, left=left, right=0.3, top=0.6, bottom=0.75 + (0.25 if gone else 0), wgap=0, hgap=0)
    y = np.arange(n)[::-1]
    ax.barh(
        y,
        d[value].to_numpy(float),
        xerr=None if errors is None else d[errors].to_numpy(float),
        color=DARK_BLUE,
        error_kw={"ecolor": DARK_GREY, "capsize": 2},
    )
    ax.set_yticks(y, labels, fontsize=8.5)
    ax.set_xlabel(xlabel)
    ax.grid(axis="y", visible=False)
    ax.grid(axis="x", visible=True, color="#E5E5E5")
    _suptitle(fig, title)
    _describe(fig, _values_text(labels, d[value].to_numpy(float), unit))
    _note_suppressed(fig, gone)
    return fig


def line_panels(gated: Gated, title: str, *, ylabel: str, ncols: int = 2) -> plt.Figure:
    """Small multiples of one line each: columns label, value, y."""
    data = _plotted(gated, "line_panels")
    labels = list(dict.fromkeys(data["label"]))
    fig, axes = _grid(len(labels), ncols, panel_w=4.2, panel_h=2.6)
    fixed_layout(fig, int(np.ceil(len(labels) / ncols)), ncols, left=0.85, right=0.15, top=0.75, bottom=0.95, wgap=0.95, hgap=0.75)
    for ax, label in zip(axes, labels):
        d = data[data["label"] == label]
        ax.plot(d["value"], d["y"], color=DARK_BLUE, lw=1.8)
        ax.set_title(label, loc="left")
        ax.set_ylabel(ylabel)
        ax.yaxis.set_major_formatter(_fmt("%"))
    _suptitle(fig, title)
    return fig


def forecast_lines(gated: Gated, title: str) -> plt.Figure:
    """The recorded series and each scenario's forecast (columns series, year, mean, lower, upper); the
    first forecast series gets its 95% band. Suppressed points are left out of their line."""
    data = _plotted(gated, "forecast_lines")
    fig, ax = plt.subplots(figsize=(9.5, 4.6))
    fixed_layout(fig, 1, 1, left=0.8, right=2.9, top=0.6, bottom=0.7, wgap=0, hgap=0)
    series = list(dict.fromkeys(data["series"]))
    recorded = data[data["series"] == series[0]]
    ax.plot(recorded["year"], recorded["mean"], color=DARK_GREY, lw=2.2, marker="o", ms=3.5, label=series[0])
    last = recorded.iloc[-1]
    for i, (name, colour) in enumerate(zip(series[1:], (DARK_BLUE, TURQUOISE, DARK_PINK, ORANGE, LIGHT_PURPLE))):
        d = data[data["series"] == name]
        years = np.concatenate([[last["year"]], d["year"].to_numpy()])
        mean = np.concatenate([[last["mean"]], d["mean"].to_numpy()])
        ax.plot(years, mean, color=colour, lw=2.0 if i == 0 else 1.5, ls="-" if i == 0 else "--", label=textwrap.fill(name, 30))
        if i == 0:
            ax.fill_between(
                years,
                np.concatenate([[last["mean"]], d["lower"].to_numpy()]),
                np.concatenate([[last["mean"]], d["upper"].to_numpy()]),
                color=colour,
                alpha=0.15,
                lw=0,
                label="95% interval",
            )
    ax.set_xlabel("Year (at 31 March)")
    ax.set_ylabel("Children looked after")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    _suptitle(fig, title)
    ends = [
        f"{name}: {d['mean'].iloc[-1]:,.0f} in {d['year'].iloc[-1]:.0f}" for name, d in data.groupby("series", sort=False) if d["mean"].notna().any()
    ]
    _describe(fig, "Last point of each line: " + "; ".join(ends) + ".")
    _note_suppressed(fig, _suppressed_labels(gated, "series", ["mean", "lower", "upper"]))
    return fig


#: the three states of a published figure, in the coverage chart
COVERAGE_STATES = {0: ("not published", "#F3F2F1"), 1: ("suppressed or not available", ORANGE), 2: ("published", DARK_BLUE)}


def coverage_heatmap(coverage: pd.DataFrame, title: str) -> plt.Figure:
    """Which years each indicator is published for an area (rows: indicators; columns: years), from
    :func:`analysis.io.profile.coverage` (``✓`` a value, a symbol where suppressed, blank where not
    published). Drawn with seaborn's heatmap: with a hundred indicators the pattern of gaps is what
    matters, and a grid of colours shows it where a table of ticks does not. It shows no numbers."""
    import seaborn as sns
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    state = coverage.apply(lambda col: col.map(lambda v: 2 if v == "✓" else (0 if v in ("", "..") or pd.isna(v) else 1))).astype(int)
    height = min(0.16 * len(state) + 1.6, 24)
    fig, ax = plt.subplots(figsize=(min(0.55 * state.shape[1] + 4.5, 11), height))
    sns.heatmap(
        state,
        ax=ax,
        cmap=ListedColormap([COVERAGE_STATES[k][1] for k in sorted(COVERAGE_STATES)]),
        vmin=-0.5,
        vmax=2.5,
        cbar=False,
        linewidths=0.5,
        linecolor="white",
        yticklabels=True,
    )
    ax.set_xlabel("Year (at 31 March)")
    ax.set_ylabel("")
    ax.tick_params(axis="y", labelsize=6.5, length=0)
    ax.tick_params(axis="x", length=0)
    ax.grid(False)
    handles = [Patch(facecolor=c, edgecolor=MID_GREY, label=name) for name, c in COVERAGE_STATES.values()]
    fig.legend(handles=handles, loc="lower center", ncol=3, fontsize=8)
    _panel_title(ax, title)
    counts = {COVERAGE_STATES[k][0]: int((state.to_numpy() == k).sum()) for k in COVERAGE_STATES}
    _describe(fig, f"{len(state)} indicators over {state.shape[1]} years; cells: " + ", ".join(f"{n} {k}" for k, n in counts.items()) + ".")
    fig.tight_layout(rect=(0, 0.4 / height, 1, 1))  # room for the legend below
    return fig
