"""Cases: referral, lists from the read model, a case's live state, and every action of the brief.

The work is the case service's (``service/cases/case_service.py``): these routes take the request apart and hand it
over. An action is validated by pydantic (422), checked against the roles the workflow allows (403), then sent as the
workflow update; the workflow's validator has the last word (409 with its reason). Every read of a case's content and
every attempted action is written to the audit trail. A request with an ``Idempotency-Key`` header takes effect once,
however often it is retried.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from anyio.to_thread import run_sync as in_thread
from fastapi import APIRouter, Header, Query, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import func
from sqlmodel import select

from engine.vocabulary import Role
from records.errors import InvalidInput
from records.models import CaseAgency, CaseRecord, User
from reviews.rapid_review.models import Referral
from service.api.access import CaseActor, Reader
from service.cases.case_service import CaseService, Outcome
from service.deps import Cases

IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", description=(
    "Any unique string (e.g. a UUID): a retry with the same key returns the first answer and acts once"))]

router = APIRouter(prefix="/api/cases", tags=["cases"])
# Included after the per-action routes (service/app.py): they take precedence over it for every known action.
named_action_router = APIRouter(prefix="/api/cases", tags=["cases"])


class CaseSummary(BaseModel):
    reference: str
    pseudonym: str
    stage: str
    opened_on: str
    next_deadline_title: str | None
    next_deadline_due: str | None
    next_deadline_rule: str | None
    rapid_review_due: str | None
    late: bool
    escalated: bool
    recommendation: str | None
    practice_review_stage: str | None
    closed_reason: str | None


class CasePage(BaseModel):
    total: int
    offset: int
    limit: int
    items: list[CaseSummary]


def answer(outcome: Outcome) -> dict | JSONResponse:
    """The body, or for a retry of a request already answered (same Idempotency-Key) the first answer again, or
    202 Accepted with the Location to read once it is recorded."""
    if outcome.accepted_at is not None:
        return JSONResponse(outcome.body, status_code=202, headers={"Location": outcome.accepted_at})
    if outcome.replayed_status is None:
        return outcome.body
    return JSONResponse(outcome.body, status_code=outcome.replayed_status, headers={"Idempotent-Replayed": "true"})


@router.post("", status_code=status.HTTP_201_CREATED, responses={
    202: {"description": "The case is started but not yet readable (its first step is not recorded within "
                         "REFERRAL_READABLE_WITHIN_SECONDS): read it at Location shortly; `state` is null"},
    503: {"description": "The engine could not start the case; send it again with the same Idempotency-Key"}})
async def submit_referral(referral: Referral, request: Request, cases: Cases, user: CaseActor,
                          idempotency_key: IdempotencyKey = None):
    """A referral from any signed-in partner starts a case (its durable workflow). 201 means the case is
    readable now (lists, its page, `GET /api/cases/{reference}`); 202 that it is started and soon will be."""
    return answer(await cases.refer(user, referral, idempotency_key, request.url.path))


@router.get("", response_model=CasePage)
async def list_cases(
    cases: Cases,
    user: Reader,
    stage: Annotated[str | None, Query(max_length=40)] = None,
    late: bool | None = None,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> JSONResponse:
    """Cases from the read model (never from Temporal), newest first. Agencies see the cases they are in."""
    page = await in_thread(case_page, cases, user, stage, late, year, offset, limit)
    return JSONResponse(page)


SUMMARY_COLUMNS = tuple(getattr(CaseRecord, name) for name in CaseSummary.model_fields)


def case_page(cases: CaseService, user: User, stage: str | None, late: bool | None, year: int | None, offset: int,
              limit: int) -> dict:
    """One page of the list (a ``CasePage``) and its reading on the record: one thread's database work. The page is
    made from the rows' columns as JSON would hold them (no model per case, no validation of what the read model
    already holds)."""
    session = cases.session
    query = select(*SUMMARY_COLUMNS)
    if user.role == Role.agency_member:
        query = query.join(CaseAgency, CaseAgency.case_reference == CaseRecord.reference).where(
            CaseAgency.agency == user.agency)
    if stage:
        query = query.where(CaseRecord.stage == stage)
    if late is not None:
        query = query.where(CaseRecord.late == late)
    if year:
        query = query.where(CaseRecord.year == year)
    rows = session.exec(query.order_by(CaseRecord.opened_on.desc(), CaseRecord.reference.desc())
                        .offset(offset).limit(limit)).all()
    if len(rows) < limit and (rows or not offset):  # the last page: its rows say how many there are
        total = offset + len(rows)
    else:
        total = session.exec(select(func.count()).select_from(query.subquery())).one()
    items = [{name: value.isoformat() if isinstance(value, date) else value for name, value in row._mapping.items()}
             for row in rows]
    cases.audit(user, "list_cases", None,
                {"filters": {"stage": stage, "late": late, "year": year}, "offset": offset, "shown": len(items)})
    return {"total": total, "offset": offset, "limit": limit, "items": items}


@router.get("/{reference}", responses={410: {"description": "The engine has no workflow for this open case "
                                                             "(orphaned), or a closed case has no archive"}})
async def case_state(reference: str, cases: Cases, user: Reader) -> dict:
    """The workflow's live state: stage, deadlines with working days left and their rules, flags."""
    return await cases.read(user, reference)


@named_action_router.post("/{reference}/actions/{action}", deprecated=True)
async def take_action(reference: str, action: str, request: Request, cases: Cases, user: CaseActor,
                      idempotency_key: IdempotencyKey = None):
    """Take an action named in the path: the per-action routes (one for each action, with its body's schema)
    take precedence; this one answers for names that are not actions with the list of those that are."""
    try:
        body = await request.json()
    except ValueError:
        raise InvalidInput("The body must be a JSON object") from None
    return answer(await cases.act(user, reference, action, body, idempotency_key))
