"""Documents of a case: the register (every version) and the files, checked against their SHA-256."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel
from sqlmodel import select

from engine.vocabulary import Role
from records.models import Document, User
from records.object_store import MissingObject, ObjectStore, read_stored
from records.vocabulary import THEMES_SHEET_REFERENCE
from service.accounts.auth import require_roles
from service.api.access import Reader, RowId, audit, visible_case
from service.cases.final_report import MAX_BYTES, upload_final_report
from service.cases.visibility import document_visible
from service.deps import DbSession, DocumentStoreDep

router = APIRouter(prefix="/api", tags=["documents"])
BusinessUnit = Annotated[User, Depends(require_roles(Role.business_unit))]
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
MEDIA_TYPES = {"pdf": "application/pdf", "html": "text/html; charset=utf-8", "docx": DOCX}


class DocumentRead(BaseModel):
    id: int
    case_reference: str
    kind: str
    title: str
    version: int
    issued_by: str
    issued_at: datetime
    pdf_sha256: str
    html_sha256: str
    pdf_url: str
    html_url: str
    docx_sha256: str | None = None
    docx_url: str | None = None


def read_document(document: Document) -> DocumentRead:
    base = f"/api/documents/{document.id}"
    return DocumentRead(**document.model_dump(), pdf_url=f"{base}?format=pdf", html_url=f"{base}?format=html",
                        docx_url=f"{base}?format=docx" if document.docx_path else None)


@router.get("/cases/{reference}/documents", response_model=list[DocumentRead])
def list_documents(reference: str, request: Request, session: DbSession, user: Reader) -> list[DocumentRead]:
    """Every issued version of every document of the case, oldest first."""
    visible_case(session, user, reference)
    rows = [row for row in session.exec(select(Document).where(Document.case_reference == reference)
                                        .order_by(Document.id)) if document_visible(user.role, row.kind, user.agency)]
    audit(session, request, user, "list_documents", reference, {"shown": len(rows)})
    return [read_document(row) for row in rows]


def verified_bytes(store: ObjectStore, stored: str, expected_sha256: str) -> bytes:
    """The file as issued, from the store every host shares; refuse to serve one that no longer matches its
    register entry."""
    try:
        data = read_stored(store, stored)
    except MissingObject:
        raise HTTPException(410, "The document's file is missing from the document store") from None
    if hashlib.sha256(data).hexdigest() != expected_sha256:
        raise HTTPException(409, "The document's file no longer matches the SHA-256 in the register; "
                                 "it has been altered and is not served")
    return data


@router.post("/cases/{reference}/final-report", response_model=DocumentRead, status_code=201)
async def upload_final_report_route(reference: str, request: Request, session: DbSession, user: BusinessUnit,
                                    store: DocumentStoreDep, file: UploadFile) -> DocumentRead:
    """The local CSPR's final report as the reviewer wrote it (PDF or Word), stored under its SHA-256 as the next
    version; name it (``report_document``: its ``id``) when submitting the final report for sign-off."""
    visible_case(session, user, reference)
    document = upload_final_report(session, store, user, reference, await file.read(MAX_BYTES + 1))
    audit(session, request, user, "upload_final_report", reference,
          {"document_id": document.id, "version": document.version})
    return read_document(document)


@router.get("/documents/{document_id}", response_class=Response,
            responses={200: {"content": {"application/pdf": {}, "text/html": {}, DOCX: {}}}})
def download_document(
    document_id: RowId,
    request: Request,
    session: DbSession,
    user: Reader,
    store: DocumentStoreDep,
    format: Annotated[str, Query(pattern="^(pdf|html|docx)$")] = "pdf",  # noqa: A002 - the query parameter's name
) -> Response:
    """One document version as PDF (default), HTML or Word (the documents issued as Word); every download is in
    the audit trail."""
    document = session.get(Document, document_id)
    unseen = HTTPException(404, f"No document {document_id} that you can see")  # the same, whatever the reason
    if document is None or not document_visible(user.role, document.kind, user.agency):
        raise unseen
    if document.case_reference == THEMES_SHEET_REFERENCE:  # across reviews: not for agency members
        if user.role == Role.agency_member:
            raise unseen
    else:
        try:
            visible_case(session, user, document.case_reference)
        except HTTPException:
            raise unseen from None
    stored = {"pdf": document.pdf_path, "html": document.html_path, "docx": document.docx_path}[format]
    if not stored:  # an uploaded report is kept as it came: PDF or Word only
        raise HTTPException(404, f"Document {document_id} ({document.kind}) is not available as {format}")
    if format == "pdf":
        data = verified_bytes(store, document.pdf_path, document.pdf_sha256)
    elif format == "docx":
        if not document.docx_path:
            raise HTTPException(404, f"Document {document_id} ({document.kind}) is not issued as Word")
        data = verified_bytes(store, document.docx_path, document.docx_sha256)
    else:
        data = verified_bytes(store, document.html_path, document.html_sha256)
    audit(session, request, user, "read_document", document.case_reference,
          {"document_id": document.id, "kind": document.kind, "version": document.version, "format": format})
    filename = f"{document.case_reference}-{document.kind}-v{document.version}.{format}"
    disposition = "inline" if format == "html" else "attachment"
    return Response(data, media_type=MEDIA_TYPES[format],
                    headers={"Content-Disposition": f'{disposition}; filename="{filename}"',
                             "X-Content-SHA256": hashlib.sha256(data).hexdigest(),
                             "Cache-Control": "no-store"})
