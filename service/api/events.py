"""What partner systems follow without reading case content: a feed of changes, and the referrer's own referrals.

``GET /api/events?after=N`` lists what happened to the cases the caller may see, oldest first, from the audit
trail's workflow steps: each event's id (the cursor to send back as ``after``), when, the case reference, the
kind of change (the action's name) and the stage the case is at afterwards. Never case text: a system that
needs more reads the case through the routes that check its role. ``GET /api/referrals`` lets whoever made a
referral follow it (``service/cases/referrals.py``, as the referrer's pages do), without the rest of the case, which is
the partners' and the invited agencies' to read.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from sqlmodel import select

from engine.vocabulary import Role, Stage
from records.models import AuditEvent, CaseAgency
from service.api.access import Reader, audit
from service.cases.referrals import ReferralProgress, referral_of, referrals_of
from service.deps import DbSession

router = APIRouter(prefix="/api", tags=["events"])
STAGES = frozenset(str(stage) for stage in Stage)


class Event(BaseModel):
    id: int = Field(description="Send the last id you processed as `after` to get only newer events")
    at: datetime
    reference: str = Field(description="The case reference")
    kind: str = Field(description="What happened: the action's or step's name, e.g. `convene_panel`")
    stage: str | None = Field(description="The case's stage after it, where the step moved or kept one")


class EventPage(BaseModel):
    events: list[Event]
    after: int = Field(description="The cursor for the next request (the last event's id, or the one you sent)")


def _stage_of(detail: str) -> str | None:
    try:
        stage = json.loads(detail).get("stage")
    except (ValueError, AttributeError):
        return None
    return stage if stage in STAGES else None


@router.get("/events", response_model=EventPage)
def list_events(
    request: Request,
    session: DbSession,
    user: Reader,
    after: Annotated[int, Query(ge=0, le=2**62, description="Only events with a larger id")] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> EventPage:
    """Changes to the cases you may see, oldest first: references and kinds only, never case text.
    Poll with the `after` of the previous answer; an empty list means nothing new."""
    query = select(AuditEvent).where(AuditEvent.id > after, AuditEvent.event_key.is_not(None),
                                     AuditEvent.case_reference.is_not(None))
    if user.role == Role.agency_member:
        invited = select(CaseAgency.case_reference).where(CaseAgency.agency == user.agency)
        query = query.where(AuditEvent.case_reference.in_(invited))
    rows = session.exec(query.order_by(AuditEvent.id).limit(limit)).all()
    events = [Event(id=row.id, at=row.at, reference=row.case_reference, kind=row.action, stage=_stage_of(row.detail))
              for row in rows]
    audit(session, request, user, "read_events", None, {"after": after, "shown": len(events)})
    return EventPage(events=events, after=events[-1].id if events else after)


class Referral(BaseModel):
    reference: str
    referred_on: date
    status: str = Field(description="In words: waiting for a decision, accepted, declined or closed")
    stage: str
    accepted_on: date | None = None
    declined_on: date | None = None
    closed_on: date | None = None
    closed_reason: str | None = Field(None, description="Why it closed, only to a referrer who may read the case "
                                                        "(the reason can hold the partners' reasoning)")

    @classmethod
    def of(cls, referral: ReferralProgress) -> Referral:
        return cls(reference=referral.reference, referred_on=referral.submitted_on, status=referral.status_words,
                   stage=referral.stage, accepted_on=referral.accepted_on, declined_on=referral.declined_on,
                   closed_on=referral.closed_on, closed_reason=referral.closed_reason)


@router.get("/referrals", response_model=list[Referral])
def my_referrals(request: Request, session: DbSession, user: Reader) -> list[Referral]:
    """The referrals you made, newest first, with their status: what a referrer needs to know, not the case's
    content."""
    found = referrals_of(session, user=user)
    audit(session, request, user, "list_referrals", None, {"shown": len(found)})
    return [Referral.of(referral) for referral in found]


@router.get("/referrals/{reference}", response_model=Referral)
def my_referral(reference: str, request: Request, session: DbSession, user: Reader) -> Referral:
    """One referral you made, with its status."""
    found = referral_of(session, user=user, reference=reference)
    audit(session, request, user, "read_referral", reference, {})
    return Referral.of(found)
