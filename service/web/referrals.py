"""A referrer's pages: the rapid review's referral form, the confirmation and status of one referral she made,
and "My referrals".

Whoever may refer may follow her own referrals here, whether or not she may read the case (an agency member reads
it only once her agency is invited): the pages show where a referral stands (``service/cases/referrals.py``), never the
case's content. Every reading is on the audit trail.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from engine.calendar import london_date
from engine.vocabulary import (
    AGENCIES,
)
from records.models import User
from reviews.rapid_review.models import Referral
from service.accounts.roles import CASE_ACTORS
from service.cases.case_service import CaseService, Started
from service.cases.referrals import referral_of, referrals_of
from service.deps import Cases
from service.web.forms import (
    FormField,
    error_list,
    form_body,
    form_fields,
    invalid_fields,
    typed_values,
)
from service.web.pages import page_roles, render

# Said after sending: the receipt (records/outbox.py, enqueue_referral_received) is on its way to her.
RECEIPT_SENT = "We have e-mailed you a receipt with the reference. It does not name the child."
router = APIRouter(include_in_schema=False)
Referrer = Annotated[User, Depends(page_roles(*CASE_ACTORS))]


@router.get("/referrals")
def my_referrals(request: Request, cases: Cases, user: Referrer,
                 sent: Annotated[bool, Query()] = False) -> HTMLResponse:
    """The referrals I made, newest first, each with where it stands."""
    referrals = referrals_of(cases.session, user=user)
    cases.audit(user, "list_referrals", None, {"page": "my referrals", "shown": len(referrals)})
    return render(request, "referrals.html", user, referrals=referrals, sent=sent)


@router.get("/referrals/{reference}")
def referral_page(reference: str, request: Request, cases: Cases, user: Referrer,
                  done: Annotated[str | None, Query(max_length=40)] = None) -> HTMLResponse:
    """One referral I made: the confirmation after sending it, then where it stands whenever I come back."""
    referral = referral_of(cases.session, user=user, reference=reference)
    cases.audit(user, "read_referral", reference, {"page": "referral", "shown": "status"})
    confirmation = {"title": "Referral submitted", "reference": reference,
                    "next": [referral.next, RECEIPT_SENT]} if done == "submit_referral" else None
    return render(request, "referral_status.html", user, referral=referral, confirmation=confirmation,
                  case_link=cases.may_read(user, reference))


def referral_fields() -> list[FormField]:
    """The referral's questions: the model's fields, the referring agency chosen from the partnership's list."""
    fields = form_fields(Referral)
    for f in fields:
        if f.name == "referring_agency":
            f.kind, f.options = "select", list(AGENCIES.items())
        if f.name == "linked_references":
            f.help = ("The references of the other children of the same incident, one per line (one notification "
                      "covers up to 4 children)")
        if f.name == "category":
            f.help = ("Deaths of looked-after children and of care leavers are notified even without abuse or "
                      "neglect; the rapid review still follows. The CSC lead can correct it. If you choose none, it is "
                      "serious harm or death.")
    return fields


def referral_form(request: Request, user: User, status_code: int = 200, errors: dict | None = None,
                  typed: dict | None = None) -> HTMLResponse:
    fields, errors = referral_fields(), errors or {}
    return render(request, "referral.html", user, status_code=status_code, fields=fields, errors=errors,
                  typed=typed or {}, error_summary=error_list("referral", fields, errors))


@router.get("/cases/new")
def new_referral_page(request: Request, user: Annotated[User, Depends(page_roles(*CASE_ACTORS))]) -> HTMLResponse:
    """The new-referral form (a question page of its own)."""
    return referral_form(request, user)


@router.post("/cases/new")
async def new_referral(request: Request, cases: Cases,
                       user: Annotated[User, Depends(page_roles(*CASE_ACTORS))]) -> Response:
    """A referral from the form (the same rules as POST /api/cases); refused, the form again with what was typed."""
    form = await request.form()
    fields = referral_fields()
    body, errors = form_body(fields, form)
    if not body.get("linked_references"):
        body.pop("linked_references", None)
    errors = errors or invalid_fields(Referral, body, fields)
    if not errors and date.fromisoformat(body["awareness_date"]) > london_date(datetime.now(UTC)):
        errors["awareness_date"] = "The date the local authority became aware must be today or in the past"
    if errors:
        return referral_form(request, user, 422, errors, typed_values(form))
    started = await cases.start(user, Referral.model_validate(body))
    return RedirectResponse(after_referral(cases, user, started), status_code=303)


def after_referral(cases: CaseService, user: User, started: Started) -> str:
    """Where a referrer lands: the case page, whose banner says what happens next, if she may read the case;
    otherwise her referral's own page (``service/web/referrals.py``). A referral not yet in the read model: My
    referrals, which says it is on its way."""
    if not started.readable:
        return "/referrals?sent=true"
    if cases.may_read(user, started.reference):
        return f"/cases/{started.reference}?done=submit_referral"
    return f"/referrals/{started.reference}?done=submit_referral"
