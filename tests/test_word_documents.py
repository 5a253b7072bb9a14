"""The documents people edit or forward also come as Word: read back with python-docx, each has the marking in
its header and footer, its version, and the same content fields as its PDF; it is in the register with its own
SHA-256 and downloads (audited) like the PDF."""

import hashlib
import io
from datetime import date

import pytest
from docx import Document as WordDocument
from lxml import html as lxml_html
from pypdf import PdfReader
from sqlmodel import Session, select

from activities.documents import TITLES, WORD_KINDS, DocumentActivities, template_kind
from records.models import AuditEvent, CaseRecord, Document
from tests.test_documents import CASES, REF, SHARED, request


def words(text: str) -> str:
    return " ".join(text.split())


def docx_text(document) -> str:
    parts = [paragraph.text for paragraph in document.paragraphs]
    for table in document.tables:
        parts += [cell.text for row in table.rows for cell in row.cells]
    return words("\n".join(parts))


@pytest.fixture
def documents(engine, settings):
    return DocumentActivities(engine, settings.document_store())


@pytest.mark.parametrize("kind", sorted(WORD_KINDS & set(CASES)))
def test_word_copy_is_marked_versioned_and_says_what_the_pdf_says(kind, documents, engine):
    version = CASES[kind][0].get("version", 1)
    with Session(engine) as session:
        row = session.get(Document, documents.issue_document(request(kind, version)))
    data = documents.store.read(row.docx_path)
    assert hashlib.sha256(data).hexdigest() == row.docx_sha256
    word = WordDocument(io.BytesIO(data))
    marking = "OFFICIAL – for sharing with partner agencies" if kind in SHARED else "OFFICIAL-SENSITIVE"
    for section in word.sections:
        header = section.header.paragraphs[0].text
        assert marking in header and f"{REF} · v{version}" in header
        assert marking in section.footer.paragraphs[0].text
    assert word.core_properties.revision == version and word.core_properties.title == row.title
    text = docx_text(word)
    pdf = PdfReader(io.BytesIO(documents.store.read(row.pdf_path)))
    pdf_text = words("\n".join(page.extract_text() for page in pdf.pages))
    html = lxml_html.document_fromstring(documents.store.read(row.html_path).decode())
    # The fields the document exists to carry, its title, version, and every heading and row label of its HTML:
    # in the PDF and in the Word copy alike.
    fields = [*CASES[kind][1], TITLES[template_kind(kind)], f"Version {version}",
              *(words(element.text_content()) for element in html.iter("h2", "h3", "th"))]
    for field in fields:
        if field:
            assert field in pdf_text, f"{field!r} missing from the {kind} PDF"
            assert field in text, f"{field!r} missing from the {kind} Word copy"
    assert [h.text for h in word.paragraphs if h.style.name == "Heading 1"] == [TITLES[template_kind(kind)]]


def test_documents_not_edited_as_word_have_none(documents, engine):
    with Session(engine) as session:
        row = session.get(Document, documents.issue_document(request("sin_decision")))
    assert row.docx_path is None and row.docx_sha256 is None


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_word_download_is_checked_and_audited(documents, engine, api_client, sign_in):
    with Session(engine) as session:
        session.add(CaseRecord(reference=REF, pseudonym="Julie", stage="rapid_review", year=2026,
                               opened_on=date(2026, 11, 2), awareness_date=date(2026, 11, 1)))
        session.commit()
    sheet = documents.issue_document(request("decision_sheet", 2))
    letter = documents.issue_document(request("sin_decision"))
    chair = sign_in("panel.chair")
    listed = {d["id"]: d for d in api_client.get(f"/api/cases/{REF}/documents", headers=chair).json()}
    assert listed[sheet]["docx_url"] == f"/api/documents/{sheet}?format=docx" and listed[letter]["docx_url"] is None
    response = api_client.get(f"/api/documents/{sheet}?format=docx", headers=chair)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert "attachment" in response.headers["content-disposition"]
    assert "Rapid review decision sheet" in docx_text(WordDocument(io.BytesIO(response.content)))
    assert api_client.get(f"/api/documents/{letter}?format=docx", headers=chair).status_code == 404
    with Session(engine) as session:
        row = session.get(Document, sheet)
        reads = session.exec(select(AuditEvent).where(AuditEvent.action == "read_document")).all()
    assert any('"format": "docx"' in event.detail for event in reads)
    (documents.store.root / row.docx_path).write_bytes(b"altered")  # an insider edits the stored file
    assert api_client.get(f"/api/documents/{sheet}?format=docx", headers=chair).status_code == 409
