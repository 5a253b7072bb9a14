"""Documents: the decision sheet rendered to PDF (WeasyPrint) against a one-line PDF in the same run."""

from __future__ import annotations

import io
import statistics
from datetime import date

from pypdf import PdfReader

from activities.documents import render_html, render_pdf
from bench.common import seconds, table
from tests.test_documents import SHEET
from workflows.models import DocumentRequest


def run(repeat: int = 10) -> str:
    request = DocumentRequest(key="bench:decision_sheet:v2", kind="decision_sheet", case_reference="RR-2026-001",
                              version=2, issued_by="Dr Alex Morgan",
                              context={"partnership": "Bench LSCP", "reference": "RR-2026-001", **SHEET})
    sheet_html = render_html(request, date(2026, 11, 20))
    one_line = "<!doctype html><html lang='en'><body><p>One line.</p></body></html>"
    render_pdf(one_line)  # first render loads fonts: not part of either figure
    baseline = seconds(lambda: render_pdf(one_line), repeat)
    sheet = seconds(lambda: render_pdf(sheet_html), repeat)
    pages = len(PdfReader(io.BytesIO(render_pdf(sheet_html))).pages)
    median_base, median_sheet = statistics.median(baseline), statistics.median(sheet)
    return table(f"Documents (median of {repeat} renders)", ["document", "median s", "ratio to one-line PDF"],
                 [["one-line PDF (baseline)", median_base, 1.0],
                  [f"decision sheet v2 ({pages} pages)", median_sheet, median_sheet / median_base]])
