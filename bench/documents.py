"""Documents: the decision sheet rendered to PDF (WeasyPrint) against two baselines in the same run: a bare one-line
PDF, and the decision sheet's own template (its page rules, header and footer, stylesheet and fonts) holding one
line, which is what the layout itself costs before any of the case's content. A third row, for information, holds
one line on each of as many pages as the sheet has: what its pages cost (their headers and footers) before their
content. The renders take turns, so a burst of load on the machine falls on each of them alike."""

from __future__ import annotations

import io
import re
import statistics
from datetime import date

from pypdf import PdfReader

from activities.documents import render_html, render_pdf
from bench.common import seconds, table
from engine.models import DocumentRequest
from tests.test_documents import SHEET


def run(repeat: int = 10) -> str:
    request = DocumentRequest(key="bench:decision_sheet:v2", kind="decision_sheet", case_reference="RR-2026-001",
                              version=2, issued_by="Dr Alex Morgan",
                              context={"partnership": "Bench LSCP", "reference": "RR-2026-001", **SHEET})
    sheet_html = render_html(request, date(2026, 11, 20))
    one_line = "<!doctype html><html lang='en'><body><p>One line.</p></body></html>"
    template_one_line = re.sub(r"(?s)<body>.*</body>", "<body><p>One line.</p></body>", sheet_html)
    pages = len(PdfReader(io.BytesIO(render_pdf(sheet_html))).pages)
    template_pages = re.sub(r"(?s)<body>.*</body>", "<body>" + "<p style='break-before: page'>One line.</p>" * pages
                            + "</body>", sheet_html)
    documents = {"baseline": one_line, "same template": template_one_line, "template pages": template_pages,
                 "sheet": sheet_html}
    for html in documents.values():  # the first render of each loads its fonts: not part of any figure
        render_pdf(html)
    timings = {name: [] for name in documents}
    for _ in range(repeat):
        for name, html in documents.items():
            timings[name] += seconds(lambda html=html: render_pdf(html), 1)
    baseline, same_template, template_pages, sheet = (statistics.median(timings[name]) for name in documents)
    return table(f"Documents (median of {repeat} renders)",
                 ["document", "median s", "ratio to one-line PDF", "ratio to the same template with one line"],
                 [["one-line PDF (baseline)", baseline, 1.0, baseline / same_template],
                  ["decision sheet template, one line (baseline)", same_template, same_template / baseline, 1.0],
                  [f"decision sheet template, one line on each of {pages} pages", template_pages,
                   template_pages / baseline, template_pages / same_template],
                  [f"decision sheet v2 ({pages} pages)", sheet, sheet / baseline, sheet / same_template]])
