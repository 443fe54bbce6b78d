"""The house chart style (GOV.UK Analysis Function colours), figure HTML with alt text, the synthetic
mark and the notes on suppressed points: what every chart in :mod:`analysis.report.charts` shares."""

from __future__ import annotations

import base64
import html
import io
import textwrap
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

from analysis.report.disclosure import Gated  # noqa: E402

DARK_BLUE = "#12436D"
TURQUOISE = "#28A197"
DARK_PINK = "#801650"
ORANGE = "#F46A25"
DARK_GREY = "#3D3D3D"
LIGHT_PURPLE = "#A285D1"
MID_GREY = "#BFBFBF"
PALETTE = (DARK_BLUE, TURQUOISE, DARK_PINK, ORANGE, DARK_GREY, LIGHT_PURPLE)

#: the colour each kind of area always gets
AREA_COLOURS = {"LA": DARK_BLUE, "comparators": ORANGE, "region": TURQUOISE, "England": DARK_GREY}
AREA_STYLES = {"LA": "-", "comparators": "-", "region": "--", "England": ":"}

DPI = 100
#: zlib level for the PNGs: level 3 writes these charts faster than the default 6 and no larger (measured)
PNG_COMPRESSION = 3


def _panel_title(ax: plt.Axes, title: str) -> None:
    """A panel's title in a smaller type when it would not fit the panel's width (never cut off)."""
    width_in = ax.get_position().width * ax.figure.get_size_inches()[0]
    fits = int(width_in * 10)  # characters of 10.5 pt bold that fit an inch, about
    ax.set_title(title, loc="left", fontsize=None if len(title) <= fits else max(7.0, 10.5 * fits / len(title)))


def _suptitle(fig: plt.Figure, title: str) -> None:
    """The chart's title, wrapped to the figure's width so a long finding is never cut off."""
    width = int(fig.get_size_inches()[0] * 11.5)
    text = textwrap.fill(title, max(40, width))
    fig.suptitle(text, x=0.01, ha="left", va="top", y=0.995)
    if "\n" in text:  # make room: push the axes down by the extra lines
        extra = 0.18 * text.count("\n") / fig.get_size_inches()[1]
        for ax in fig.axes:
            box = ax.get_position()
            ax.set_position([box.x0, box.y0, box.width, max(0.05, box.height - extra)])


def _plotted(data: Gated, what: str) -> pd.DataFrame:
    """The numbers a chart may draw: a gated table's values, suppressed cells as NaN."""
    if not isinstance(data, Gated):
        raise TypeError(f"{what}: a chart draws only from a gated table (disclosure.gate or Report.table), not a {type(data).__name__}")
    return data.numeric_frame()


def _suppressed_labels(data: Gated, label: str, columns: Sequence[str]) -> list[str]:
    hit = np.zeros(len(data), bool)
    for c in columns:
        if c in data.suppressed.columns:
            hit |= data.suppressed[c].to_numpy()
    return [str(v) for v in data.frame.loc[hit, label]] if label in data.frame.columns else (["some points"] if hit.any() else [])


def _note_suppressed(fig: plt.Figure, labels: Sequence[str]) -> None:
    """Say on the figure (and in the alt text) which points are not drawn because they are suppressed."""
    if not labels:
        return
    text = "Not shown (suppressed: fewer than 5 children, or would reveal such a count): " + ", ".join(dict.fromkeys(labels))
    fig.text(0.01, 0.005, textwrap.fill(text, 160), fontsize=7.5, color=DARK_GREY, ha="left", va="bottom")
    _describe(fig, text + ".")


def _describe(fig: plt.Figure, text: str) -> None:
    """Add words to the figure's description (appended to its alt text by :func:`show`)."""
    fig._analysis_alt = (getattr(fig, "_analysis_alt", "") + " " + text).strip()  # type: ignore[attr-defined]


def _values_text(labels: Sequence[object], values: Sequence[float], unit: str = "", limit: int = 14) -> str:
    pairs = [(str(k), v) for k, v in zip(labels, values) if pd.notna(v)]
    shown = "; ".join(f"{k} {v:,.1f}{unit}" for k, v in pairs[:limit])
    return f"Values: {shown}" + ("; ..." if len(pairs) > limit else "") + "." if pairs else ""


def apply_style() -> None:
    """Matplotlib defaults: readable sizes, no chart junk, the palette as the colour cycle."""
    plt.rcParams.update(
        {
            "figure.dpi": DPI,
            "savefig.dpi": DPI,
            "font.size": 10,
            "axes.titlesize": 10.5,
            "axes.titleweight": "bold",
            # titles at the top of their panel, where matplotlib's automatic placement puts them on these
            # charts anyway (nothing is drawn above a panel); placing them automatically measured every
            # panel's decorations on each draw, a fifth of a chart's drawing time
            "axes.titley": 1.0,
            "axes.labelsize": 9.5,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.grid": True,
            "axes.grid.axis": "y",
            "grid.color": "#E5E5E5",
            "axes.prop_cycle": matplotlib.cycler(color=list(PALETTE)),
            "legend.frameon": False,
            "figure.titlesize": 12,
            "figure.titleweight": "bold",
        }
    )


def figure_html(fig: plt.Figure, alt: str, caption: str) -> str:
    """The figure as an HTML ``<figure>`` with a base64 PNG, alt text and a caption."""
    if not alt.strip():
        raise ValueError("every chart needs alt text")
    alt = f"{alt.rstrip()} {getattr(fig, '_analysis_alt', '')}".strip()  # the values plotted, and any points left out
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None}, pil_kwargs={"compress_level": PNG_COMPRESSION})
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return (
        '<figure class="chart" style="margin:1em 0;max-width:100%">'
        f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt, quote=True)}" style="max-width:100%;height:auto">'
        f'<figcaption style="font-size:0.9em;color:#3D3D3D;margin-top:0.4em">{html.escape(caption)}</figcaption>'
        "</figure>"
    )


def warm_up() -> None:
    """Draw a small throwaway chart with the house style (text in the sizes and weights the charts use,
    lines, bars, points, a legend, a log axis) so that fonts and text layouts are loaded. A process
    that kernels are forked from (:mod:`analysis.run.zygote`) calls it once; each kernel's first real
    chart is then about a quarter faster. Draws into memory only."""
    fig, axes = plt.subplots(1, 2, figsize=(4, 2))
    for ax in axes:
        ax.plot([1, 2, 3], [1, 3, 2], label="a")
        ax.bar([1, 2], [2, 1])
        ax.scatter([1, 2], [2, 3])
        ax.set_title("Title", loc="left")
        ax.set_xlabel("x")
        ax.legend()
    axes[1].set_xscale("log")
    fig.suptitle("A title")
    fig.text(0.5, 0.5, "SYNTHETIC DATA", fontsize=46, fontweight="bold")
    fig.text(0.01, 0.01, "a note", fontsize=7.5)
    fig.savefig(io.BytesIO(), format="png", pil_kwargs={"compress_level": PNG_COMPRESSION})
    plt.close(fig)


def mark_synthetic(fig: plt.Figure) -> None:
    """Stamp a chart drawn from synthetic data, so that it says so wherever it is copied to."""
    fig.text(0.5, 0.5, "SYNTHETIC DATA", fontsize=46, color=DARK_PINK, alpha=0.13, ha="center", va="center", rotation=25, fontweight="bold", zorder=0)
    fig.text(0.995, 0.005, "Synthetic data: not real children", fontsize=8, color=DARK_PINK, ha="right", va="bottom")
    _describe(fig, "The chart shows synthetic data, not real children.")


def show(fig: plt.Figure, alt: str, caption: str, *, synthetic: bool = False) -> None:
    """Display a chart with alt text and caption (in Jupyter and in the HTML report), then close it. The
    alt text gets the values the chart plots and any points left out as suppressed; a chart of synthetic
    data is stamped as such (``synthetic=True``)."""
    from IPython.display import HTML, display

    if synthetic:
        mark_synthetic(fig)
        caption = f"{caption} Synthetic data: not real children."
    display(HTML(figure_html(fig, alt, caption)))
    plt.close(fig)


def _fmt(unit: str):
    if unit == "%":
        return FuncFormatter(lambda v, _: f"{v:g}%")
    if unit == "£":
        return FuncFormatter(lambda v, _: f"£{v / 1000:,.0f}k" if abs(v) >= 10_000 else f"£{v:,.0f}")
    return FuncFormatter(lambda v, _: f"{v:,.0f}")


def fixed_layout(fig: plt.Figure, nrows: int, ncols: int, *, left: float, right: float, top: float, bottom: float, wgap: float, hgap: float) -> None:
    """Place a grid of axes with margins and gaps given in inches.

    Fixed margins instead of ``tight_layout``: tight layout draws the whole figure once more just
    to measure it, which doubled the time each chart took."""
    width, height = fig.get_size_inches()
    axis_w = (width - left - right - (ncols - 1) * wgap) / ncols
    axis_h = (height - top - bottom - (nrows - 1) * hgap) / nrows
    fig.subplots_adjust(
        left=left / width,
        right=1 - right / width,
        top=1 - top / height,
        bottom=bottom / height,
        wspace=wgap / axis_w if ncols > 1 else 0,
        hspace=hgap / axis_h if nrows > 1 else 0,
    )


def _grid(n: int, ncols: int, *, panel_w: float = 3.4, panel_h: float = 2.6) -> tuple[plt.Figure, np.ndarray]:
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(panel_w * ncols, panel_h * nrows + 0.9), squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    fixed_layout(fig, nrows, ncols, left=0.55, right=0.15, top=0.75, bottom=0.95, wgap=0.65, hgap=0.75)
    return fig, axes.flat


apply_style()
