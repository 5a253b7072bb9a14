"""A referrer's pages: the confirmation and status of one referral she made, and "My referrals".

Whoever may refer may follow her own referrals here, whether or not she may read the case (an agency member reads
it only once her agency is invited): the pages show where a referral stands (``service/referrals.py``), never the
case's content. Every reading is on the audit trail.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from records.models import User
from service.deps import Cases
from service.referrals import referral_of, referrals_of
from service.roles import CASE_ACTORS
from service.web import page_roles, render

# Said after sending: the receipt (service/outbox.py, enqueue_referral_received) is on its way to her.
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

