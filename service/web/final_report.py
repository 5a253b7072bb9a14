"""The final report's pages: the business unit uploads the reviewer's report (PDF or Word), and each Executive reads
the version they are asked to approve, what changed since the one returned, and decides
(``service/cases/final_report.py``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import select

from engine.vocabulary import Role
from records.errors import InvalidInput
from records.models import Document, User
from records.vocabulary import FINAL_REPORT
from service.cases.case_service import ACTIONS
from service.cases.final_report import upload_final_report, uploaded
from service.cases.visibility import state_for
from service.deps import Cases
from service.web.forms import FormField, delay_field, error_list, form_fields
from service.web.pages import page_roles, render

router = APIRouter(include_in_schema=False)
REPORT_SIGN_OFF = "/cases/{reference}/report-sign-off"


@router.post("/cases/{reference}/final-report")
async def upload(reference: str, request: Request, cases: Cases,
                 user: Annotated[User, Depends(page_roles(Role.business_unit))]) -> Response:
    """Upload the reviewer's final report; the case page then offers it when the report goes for sign-off."""
    cases.visible(user, reference)
    try:
        document = upload_final_report(cases.session, cases.documents, user, reference,
                                       await uploaded(request, "report"))
    except InvalidInput as error:
        cases.session.rollback()
        return RedirectResponse(f"/cases/{reference}?upload_error={error.detail[:120]}", status_code=303)
    cases.audit(user, "upload_final_report", reference, {"document_id": document.id, "version": document.version})
    cases.session.commit()
    return RedirectResponse(f"/cases/{reference}?done=upload_final_report", status_code=303)


def uploaded_reports(cases, reference: str) -> list[Document]:
    return list(cases.session.exec(select(Document).where(Document.case_reference == reference,
                                                          Document.kind == FINAL_REPORT).order_by(Document.version)))


async def report_sign_off_page(request: Request, cases, user: User, reference: str, status_code: int = 200,
                               errors: dict | None = None, typed: dict | None = None) -> HTMLResponse:
    """The report as uploaded (its file, version and SHA-256), its recommendations, what changed since the version
    returned and why, then "Your decision" with the capacity and the declaration."""
    record = cases.visible(user, reference)
    state = state_for(user.role, await cases.state(record))
    review = state.get("practice_review") or {}
    version = review.get("report_version") or 0
    report = review.get("final_report") or {}
    uploads = {d.id: d for d in uploaded_reports(cases, reference)}
    document = uploads.get(report.get("report_document"))
    cases.audit(user, "read_document", reference, {"page": "report sign-off", "version": version})
    cases.session.commit()
    returned = [s for s in review.get("sign_offs") or [] if s["decision"] == "return" and s["version"] == version - 1]
    fields = form_fields(ACTIONS["sign_off_report"].model)
    errors = errors or {}
    return render(request, "report_sign_off.html", user, status_code=status_code, reference=reference, state=state,
                  review=review, version=version, report=report, document=document, returned=returned,
                  errors=errors, typed=typed or {}, capacity=next(f for f in fields if f.name == "capacity"),
                  delay=delay_field(state),
                  error_summary=error_list("sign_off_report", fields + [
                      FormField(name="declaration", label="", kind="checkbox", required=False, help=None)], errors),
                  already=any(s["seat"] == user.seat and s["version"] == version
                              for s in review.get("sign_offs") or []),
                  waiting=review.get("stage") == "final_sign_off")


@router.get(REPORT_SIGN_OFF)
async def report_sign_off(reference: str, request: Request, cases: Cases,
                          user: Annotated[User, Depends(page_roles(Role.executive))]) -> HTMLResponse:
    """The final report the Executives approve, and their decision."""
    return await report_sign_off_page(request, cases, user, reference)
