"""A case's panel invitation as a calendar file, for the invitees whose e-mail could not carry it (GOV.UK Notify
sends no attachments): a signed-in panel chair, or a member of an agency invited to the case."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response
from sqlmodel import select

from engine.vocabulary import DocumentKind, Role
from records.models import Document, User
from records.object_store import MissingObject, invitation_ics_key, read_stored
from service.cases.visibility import visible_case
from service.deps import DocumentStoreDep, audit
from service.web.pages import PageSession, page_roles

router = APIRouter(include_in_schema=False)
INVITEES = (Role.panel_chair, Role.agency_member)


@router.get("/cases/{reference}/invitation.ics")
def panel_invitation_ics(reference: str, request: Request, session: PageSession, store: DocumentStoreDep,
                         user: Annotated[User, Depends(page_roles(*INVITEES))]) -> Response:
    """The latest panel invitation of the case (.ics), audited; 404 for a case the person cannot see."""
    visible_case(session, user, reference)
    invitation = session.exec(select(Document).where(Document.case_reference == reference,
                                                     Document.kind == DocumentKind.panel_invitation)
                              .order_by(Document.version.desc())).first()
    try:
        ics = read_stored(store, invitation_ics_key(invitation.pdf_path)) if invitation else None
    except MissingObject:
        ics = None
    if ics is None:
        raise HTTPException(404, f"Case {reference} has no panel invitation yet")
    audit(session, request, user, "read_invitation", reference, {"document_id": invitation.id,
                                                                "version": invitation.version})
    return Response(ics, media_type="text/calendar; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{reference}-panel.ics"',
                             "Cache-Control": "no-store"})
