"""Files people upload to a case, kept whole (never rendered) in the document store under their SHA-256, one register
entry per version: the local CSPR's final report as the reviewer wrote it, so the three Executives approve the very
file they read, and an agency's chronology beside its information return, so the panel reads the agency's own table.

The report is the reviewer's, not the service's: it is stored, never rendered. Its version in the register follows
the uploads; the workflow's report version (the sign-off round) names the upload it signs by its register id.
"""

from __future__ import annotations

import hashlib
import io
import zipfile

from sqlmodel import Session, func, select

from engine.vocabulary import AGENCIES
from records.errors import InvalidInput
from records.models import Document, User
from records.object_store import ObjectStore, store_content
from records.vocabulary import CHRONOLOGY, FINAL_REPORT

MAX_BYTES = 25 * 1024 * 1024
TITLE = "Final report of the local child safeguarding practice review"


async def uploaded(request, field: str) -> bytes:
    """The file a page's form sent in ``field`` (read one byte past the limit, so an oversized file is refused)."""
    sent = (await request.form()).get(field)
    return await sent.read(MAX_BYTES + 1) if hasattr(sent, "read") else b""


def kind_of(data: bytes, what: str = "The final report") -> str:
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
    raise InvalidInput(f"{what} must be a PDF or a Word (.docx) file")


def upload_final_report(session: Session, store: ObjectStore, user: User, reference: str, data: bytes) -> Document:
    """Store the report and register its next version (the caller has checked the case is the user's to act on)."""
    return register_upload(session, store, user, reference, data, FINAL_REPORT, TITLE, "The final report")


def upload_chronology(session: Session, store: ObjectStore, user: User, reference: str, data: bytes) -> Document:
    """An agency's chronology, filed as its own (only its members, and the partners, read it)."""
    agency = AGENCIES.get(user.agency, user.agency)
    return register_upload(session, store, user, reference, data, chronology_kind(user.agency),
                           f"Chronology from {agency}", "The chronology")


def chronology_kind(agency: str) -> str:
    return f"{CHRONOLOGY}_{agency}"


def register_upload(session: Session, store: ObjectStore, user: User, reference: str, data: bytes, kind: str,
                    title: str, what: str) -> Document:
    if not data:
        raise InvalidInput("The file is empty")
    if len(data) > MAX_BYTES:
        raise InvalidInput(f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB")
    file_kind = kind_of(data, what)
    key, digest = store_content(store, data), hashlib.sha256(data).hexdigest()
    version = 1 + (session.exec(select(func.max(Document.version)).where(
        Document.case_reference == reference, Document.kind == kind)).one() or 0)
    document = Document(key=f"{reference}:{kind}:v{version}", case_reference=reference, kind=kind,
                        title=title, version=version, html_path="", html_sha256="",
                        pdf_path=key if file_kind == "pdf" else "", pdf_sha256=digest if file_kind == "pdf" else "",
                        docx_path=key if file_kind == "docx" else None,
                        docx_sha256=digest if file_kind == "docx" else None,
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
