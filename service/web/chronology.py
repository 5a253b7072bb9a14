"""An agency's chronology as a file beside its information return: agencies keep their chronologies as tables, and
the panel reads them as the agency wrote them (``service/cases/final_report.py`` keeps the file)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from engine.vocabulary import RETURN_STAGES, Role
from records.errors import Conflict, InvalidInput
from records.models import User
from service.cases.final_report import upload_chronology, uploaded
from service.deps import Cases
from service.web.pages import page_roles

router = APIRouter(include_in_schema=False)


@router.post("/cases/{reference}/chronology")
async def upload(reference: str, request: Request, cases: Cases,
                 user: Annotated[User, Depends(page_roles(Role.agency_member))]) -> Response:
    """Attach the agency's chronology (PDF or Word) while returns are open; each upload is a new version."""
    record = cases.visible(user, reference)  # an agency not invited to the case learns nothing of it
    if record.stage not in RETURN_STAGES:
        raise Conflict(f"Case {reference} is not taking information returns now, so no chronology can be attached")
    try:
        document = upload_chronology(cases.session, cases.documents, user, reference,
                                     await uploaded(request, "chronology"))
    except InvalidInput as error:
        cases.session.rollback()
        return RedirectResponse(f"/cases/{reference}?chronology_error={quote(error.detail[:120])}#returns-section",
                                status_code=303)
    cases.audit(user, "upload_chronology", reference, {"document_id": document.id, "version": document.version,
                                                      "agency": user.agency})
    cases.session.commit()
    return RedirectResponse(f"/cases/{reference}?done=upload_chronology#returns-section", status_code=303)
