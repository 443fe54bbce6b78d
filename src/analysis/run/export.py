"""A paper's executed notebook as the reader sees it: HTML with no code (the report template and its
print CSS) and the PDF printed by headless Chromium."""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

PDF_FILE = "report.pdf"
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

#: the page templates (the index, and the reports' HTML, which extends JupyterLab's nbconvert template)
TEMPLATES = Path(__file__).with_name("templates")
#: cells left out of the HTML report
HIDDEN_CELL_TAGS = {"parameters", "injected-parameters", "papermill-error-cell-tag", "remove-cell"}
REPORT_CSS = """
<style>
  body { max-width: 1180px; margin: 0 auto !important; padding: 0 1.2em 3em; font-family: Arial, Helvetica, sans-serif; }
  .jp-Notebook { padding: 0 !important; }
  .jp-RenderedHTMLCommon table.published, table.published { border-collapse: collapse; font-size: 0.86em; margin: 0.2em 0 0.6em; }
  table.published th { background: #12436D; color: #fff; text-align: left !important; padding: 4px 8px; }
  table.published td { border-bottom: 1px solid #d8d8d8; padding: 3px 8px; text-align: left !important; }
  table.published tbody th { background: #eef2f6; color: #0b0c0c; font-weight: 600; border-bottom: 1px solid #d8d8d8; }
  table.published caption { caption-side: top; }
  table.published tr:nth-child(even) td { background: #f5f7f9; }
  .run-banner { font-size: 0.85em; color: #3D3D3D; border-bottom: 1px solid #ccc; padding: 0.6em 0; margin-bottom: 0.6em; }
  figure.chart img { border: 1px solid #eee; }
  .synthetic-banner { background: #801650; color: #fff; font-weight: bold; padding: 0.6em 0.9em; margin: 0.4em 0 0.8em; border-radius: 3px;
                      position: sticky; top: 0; z-index: 10; }
  .synthetic-watermark { display: none; }
  @page { size: A4; margin: 18mm 14mm 18mm 14mm;
          @bottom-right { content: "Page " counter(page) " of " counter(pages); font: 8pt Arial, sans-serif; color: #505a5f; } }
  @media print {
    body { max-width: none; padding: 0; }
    .synthetic-banner { position: static; }
    .synthetic-watermark { display: block; position: fixed; top: 42%; left: 0; width: 100%; text-align: center; transform: rotate(-30deg);
                           font: bold 64pt Arial, sans-serif; color: rgba(128, 22, 80, 0.13); z-index: 1000; pointer-events: none; }
    /* a cell's output may run on to the next page (JupyterLab's styles keep each output whole, which left half
       pages empty); a table breaks between rows, its header repeated; figures, rows and list items stay whole */
    .jp-Cell, .jp-Cell-inputWrapper, .jp-Cell-outputWrapper, .jp-OutputArea, .jp-OutputArea-child, .jp-OutputArea-output
      { break-inside: auto !important; page-break-inside: auto !important; }
    figure, tr, li { break-inside: avoid; }
    table.published { break-inside: auto; max-width: 100%; font-size: 0.74em; }
    table.published thead { display: table-header-group; }
    table.published th, table.published td { overflow-wrap: break-word; padding: 2px 4px; }
    table.published td { overflow-wrap: anywhere; }  /* a long code or name breaks rather than runs off the page */
    table.published td.n { overflow-wrap: normal; white-space: nowrap; }  /* a number never breaks */
    h1, h2, h3 { break-after: avoid; }
  }
</style>
"""


def page_css(running_title: str, footer: str, synthetic: bool) -> str:
    """The printed page's running title and footer (CSS page margin boxes), with SYNTHETIC in both when it is."""

    def css_string(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'

    title = ("SYNTHETIC DATA · " if synthetic else "") + running_title
    margin = '@top-right { content: "SYNTHETIC DATA: not real children"; font: bold 8pt Arial, sans-serif; color: #801650; }' if synthetic else ""
    return (
        f"<style>@page {{ @top-left {{ content: {css_string(title)}; font: 8pt Arial, sans-serif; color: #505a5f; }} "
        f"@bottom-left {{ content: {css_string(footer)}; font: 7.5pt Arial, sans-serif; color: #505a5f; }} {margin} }}</style>"
    )


@functools.lru_cache(maxsize=1)
def _html_exporter():
    """The report exporter, made once per process: its templates are compiled once, not for every job."""
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor

    exporter = HTMLExporter(
        template_name="lab",
        template_file="report.html.j2",
        extra_template_paths=[str(TEMPLATES)],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    # cells for the machinery, not readers: parameters, papermill's, and report.finish()
    exporter.register_preprocessor(TagRemovePreprocessor(remove_cell_tags=HIDDEN_CELL_TAGS), enabled=True)
    return exporter


def export_html(nb_path: Path, out_path: Path, title: str, banner: str, *, synthetic: bool = False, footer: str = "") -> None:
    """HTML for readers: no code, no parameters cell, no prompts, no stderr; a run banner on top; on
    synthetic data a banner that says so (and a watermark on every printed page); A4 pages with a
    running title, the date and data vintage and page numbers when printed."""
    import nbformat

    from analysis.report.reporting import SYNTHETIC_NOTE

    nb = nbformat.read(nb_path, as_version=4)
    for cell in nb.cells:  # warnings and logs are for analysts (in the executed notebook), not readers
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.get("outputs", []) if not (o.get("output_type") == "stream" and o.get("name") == "stderr")]
    report = {
        "css": REPORT_CSS + page_css(title, footer, synthetic),
        "banner": banner,
        "synthetic": synthetic,
        "synthetic_note": SYNTHETIC_NOTE,
    }
    body, _ = _html_exporter().from_notebook_node(nb, resources={"metadata": {"name": title}, "report": report})
    tmp = out_path.with_suffix(".tmp")
    tmp.write_text(body, encoding="utf-8")
    tmp.replace(out_path)


def _report_meta(out: Path) -> dict[str, Any]:
    path = out / "metrics.json"
    try:
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (OSError, ValueError):
        return {}


def _footer(banner: str, meta: Mapping[str, Any]) -> str:
    """The printed footer: when it was made, and which data it reads (its vintage)."""
    made = banner.split(" · ")[0]
    vintage = meta.get("data_vintage")
    if isinstance(vintage, Mapping):
        vintage = "; ".join(f"{k} {v}" for k, v in vintage.items())
    data = meta.get("data", "")
    parts = [made, f"Data: {data}" if data else "", f"Vintage: {vintage}" if vintage else ""]
    return " · ".join(p for p in parts if p)


def chromium() -> str | None:
    """A headless-capable Chromium or Chrome on PATH (``ANALYSIS_CHROMIUM`` overrides)."""
    if os.environ.get("ANALYSIS_CHROMIUM"):
        return os.environ["ANALYSIS_CHROMIUM"]
    return next((path for name in CHROMIUM_NAMES if (path := shutil.which(name))), None)


def print_pdf(html_path: Path, pdf_path: Path, timeout: int = 120) -> str | None:
    """Print an HTML report to PDF with headless Chromium (A4, backgrounds, no header or footer).
    Returns a note when no PDF could be made (the HTML report is unaffected)."""
    browser = chromium()
    if browser is None:
        return "no PDF: Chromium is not installed (apt install chromium, or set ANALYSIS_CHROMIUM)"
    tmp = pdf_path.with_suffix(".tmp.pdf")
    with tempfile.TemporaryDirectory(prefix="cla-chromium-") as profile:
        cmd = [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            f"--user-data-dir={profile}",
            "--no-pdf-header-footer",
            "--print-to-pdf-no-header",
            f"--print-to-pdf={tmp}",
            html_path.resolve().as_uri(),
        ]
        try:
            subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"no PDF: Chromium failed ({exc.__class__.__name__})"
    if not tmp.is_file() or tmp.read_bytes()[:5] != b"%PDF-":
        return "no PDF: Chromium did not write one"
    tmp.replace(pdf_path)
    return None
