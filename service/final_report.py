"""The local CSPR's final report as the reviewer wrote it: uploaded (PDF or Word), kept whole in the document
store under its SHA-256, one register entry per version, so the three Executives approve the very file they read.

The report is the reviewer's, not the service's: it is stored, never rendered. Its version in the register follows
the uploads; the workflow's report version (the sign-off round) names the upload it signs by its register id.
"""

from __future__ import annotations

import hashlib
import io
import zipfile

from sqlmodel import Session, func, select

from records.errors import InvalidInput
from records.models import Document, User
from records.object_store import ObjectStore, store_content
from records.vocabulary import FINAL_REPORT

MAX_BYTES = 25 * 1024 * 1024
TITLE = "Final report of the local child safeguarding practice review"


def kind_of(data: bytes) -> str:
    """"pdf" or "docx" by what the file is, never by its name; anything else is refused."""
    if data.startswith(b"%PDF-"):
        return "pdf"
    if data.startswith(b"PK"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                if "word/document.xml" in archive.namelist():
                    return "docx"
        except zipfile.BadZipFile:
            pass
    raise InvalidInput("The final report must be a PDF or a Word (.docx) file")


def upload_final_report(session: Session, store: ObjectStore, user: User, reference: str, data: bytes) -> Document:
    """Store the report and register its next version (the caller has checked the case is the user's to act on)."""
    if not data:
        raise InvalidInput("The file is empty")
    if len(data) > MAX_BYTES:
        raise InvalidInput(f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB")
    kind = kind_of(data)
    key, digest = store_content(store, data), hashlib.sha256(data).hexdigest()
    version = 1 + (session.exec(select(func.max(Document.version)).where(
        Document.case_reference == reference, Document.kind == FINAL_REPORT)).one() or 0)
    document = Document(key=f"{reference}:{FINAL_REPORT}:v{version}", case_reference=reference, kind=FINAL_REPORT,
                        title=TITLE, version=version, html_path="", html_sha256="",
                        pdf_path=key if kind == "pdf" else "", pdf_sha256=digest if kind == "pdf" else "",
                        docx_path=key if kind == "docx" else None, docx_sha256=digest if kind == "docx" else None,
                        issued_by=user.full_name)
    session.add(document)
    session.flush()
    return document


def final_report(session: Session, reference: str, document_id: int) -> Document:
    """The uploaded report a submission names: of this case, and a final report."""
    document = session.get(Document, document_id)
    if document is None or document.case_reference != reference or document.kind != FINAL_REPORT:
        raise InvalidInput(f"report_document: no final report {document_id} was uploaded for case {reference}")
    return document
