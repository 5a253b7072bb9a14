"""Word copies of documents people edit or forward, made from the very HTML their PDF is printed from, so the
two never say different things: headings, paragraphs (bold and italic kept), lists and tables are walked into a
python-docx document, with the protective marking in every page's header and footer beside the reference and
version (the PDF's page margins carry the same)."""

from __future__ import annotations

import io
import re

from docx import Document as WordDocument
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Pt
from lxml import html as lxml_html

BLOCKS = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "table", "div", "section", "header", "main",
          "footer", "article", "dl", "blockquote", "pre", "figure", "aside", "nav"}
SKIPPED = {"style", "script", "head", "title", "meta"}
SPACES = re.compile(r"\s+")


def _tag(element) -> str:
    return element.tag if isinstance(element.tag, str) else ""


def _add_runs(paragraph, element, *, bold: bool = False, italic: bool = False, keep_lines: bool = False) -> None:
    """The inline content of ``element`` as runs (text, its inline children, their tails)."""

    def add(text: str | None, bold: bool, italic: bool) -> None:
        if not text:
            return
        text = text if keep_lines else SPACES.sub(" ", text)
        if not paragraph.runs:
            text = text.lstrip()
        run = paragraph.add_run(text)
        run.bold, run.italic = bold or None, italic or None

    add(element.text, bold, italic)
    for child in element:
        tag = _tag(child)
        if tag == "br":
            paragraph.add_run().add_break()
        elif tag and tag not in SKIPPED:
            _add_runs(paragraph, child, bold=bold or tag in ("strong", "b", "th"), italic=italic or tag in ("em", "i"),
                      keep_lines=keep_lines)
        add(child.tail, bold, italic)


def _has_blocks(element) -> bool:
    return any(_tag(child) in BLOCKS for child in element)


def _paragraph(document, element, style: str | None = None, **runs) -> None:
    keep_lines = "pre" in (element.get("class") or "").split() or _tag(element) == "pre"
    paragraph = document.add_paragraph(style=style)
    _add_runs(paragraph, element, keep_lines=keep_lines, **runs)
    if "marking" in (element.get("class") or "").split():
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
        for run in paragraph.runs:
            run.bold = True


def _table(document, element) -> None:
    rows = [row for row in element.iter("tr")]
    width = max((len([c for c in row if _tag(c) in ("th", "td")]) for row in rows), default=0)
    if not width:
        return
    table = document.add_table(rows=0, cols=width)
    table.style = "Table Grid"
    for row in rows:
        cells = table.add_row().cells
        for cell, source in zip(cells, [c for c in row if _tag(c) in ("th", "td")], strict=False):
            paragraph = cell.paragraphs[0]
            _add_runs(paragraph, source, bold=_tag(source) == "th")


def _walk(document, element) -> None:
    for child in element:
        tag = _tag(child)
        if not tag or tag in SKIPPED:
            continue
        if tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            heading = document.add_heading(level=int(tag[1]))
            _add_runs(heading, child)
        elif tag in ("ul", "ol"):
            for item in child.iter("li"):
                _paragraph(document, item, style="List Bullet" if tag == "ul" else "List Number")
        elif tag == "table":
            _table(document, child)
        elif tag == "dl":
            for term in child:
                _paragraph(document, term, bold=_tag(term) == "dt")
        elif tag in BLOCKS and _has_blocks(child):
            if (child.text or "").strip():
                document.add_paragraph(SPACES.sub(" ", child.text).strip())
            _walk(document, child)
        elif tag in BLOCKS or (child.text or "").strip() or len(child):
            _paragraph(document, child)
        if (child.tail or "").strip():
            document.add_paragraph(SPACES.sub(" ", child.tail).strip())


def _marked(paragraph, marking: str, beside: str | None = None) -> None:
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = paragraph.add_run(marking)
    run.bold, run.font.size = True, Pt(9)
    if beside:
        small = paragraph.add_run(f"   {beside}")
        small.font.size = Pt(8)


def html_to_docx(html: str, *, marking: str, title: str, reference: str, version: int) -> bytes:
    """The document as .docx: the HTML's body, and the marking with the reference and version on every page."""
    document = WordDocument()
    document.styles["Normal"].font.size = Pt(10)
    section = document.sections[0]
    _marked(section.header.paragraphs[0], marking, f"{reference} · v{version}")
    _marked(section.footer.paragraphs[0], marking)
    properties = document.core_properties
    properties.title, properties.subject, properties.revision = title, marking, version
    properties.identifier, properties.keywords = f"{reference} v{version}", marking
    body = lxml_html.document_fromstring(html).find("body")
    _walk(document, body)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()
