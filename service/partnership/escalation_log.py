"""The escalation log: any group raises a strategic concern to the Executive; the Executive's response and
action are recorded; open escalations age visibly (in working days). The API's routes and the escalation log page
both call these functions."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Literal

from pydantic import BaseModel, Field
from sqlmodel import select

from engine.calendar import london_date
from engine.models import Text
from engine.vocabulary import Role
from records.audit import AuditWriter
from records.errors import Conflict, NotFound, NotPermitted
from records.models import Escalation, User
from records.vocabulary import EscalationStatus
from service.accounts.roles import EXECUTIVES
from service.cases.visibility import visible_case
from service.partnership.calendar_days import partnership_calendar


class EscalationRead(BaseModel):
    id: int
    group_name: str
    title: str
    concern: str
    case_reference: str | None
    raised_on: date
    raised_by: int
    status: str
    response: str | None
    response_action: str | None
    responded_on: date | None
    age_working_days: int


class NewEscalation(BaseModel):
    group_name: Text = Field(min_length=2, max_length=120, description="e.g. Rapid Review Working Group")
    title: Text = Field(min_length=2, max_length=200)
    concern: Text = Field(min_length=1, max_length=20_000)
    case_reference: Text | None = Field(None, max_length=40)


class EscalationResponse(BaseModel):
    response: Text = Field(min_length=1, max_length=20_000)
    action: Text | None = Field(None, max_length=20_000, description="What the Executive will do")
    status: Literal["responded", "closed"] = "responded"


def read(row: Escalation, session) -> EscalationRead:
    calendar = partnership_calendar(session)
    end = row.responded_on or london_date(datetime.now(UTC))
    return EscalationRead(**row.model_dump(), age_working_days=max(0, calendar.working_days_between(row.raised_on,
                                                                                                    end)))


def escalation_log(audit: AuditWriter, user: User, *, status: str | None = None) -> list[EscalationRead]:
    """Oldest open first. Agency members see the escalations they raised. Reading the log is on the record."""
    session = audit.session
    query = select(Escalation)
    if user.role == Role.agency_member:
        query = query.where(Escalation.raised_by == user.id)
    if status:
        query = query.where(Escalation.status == status)
    rows = session.exec(query.order_by(Escalation.status != EscalationStatus.open, Escalation.raised_on,
                                       Escalation.id)).all()
    items = [read(row, session) for row in rows]
    audit.write(user, "list_escalations", None, {"shown": len(items)})
    return items


def raise_concern(audit: AuditWriter, user: User, new: NewEscalation) -> EscalationRead:
    """Raise a strategic concern to the Executive."""
    session = audit.session
    if new.case_reference:
        visible_case(session, user, new.case_reference)
    row = Escalation(**new.model_dump(), raised_by=user.id, raised_on=london_date(datetime.now(UTC)))
    session.add(row)
    session.flush()
    audit.write(user, "raise_escalation", new.case_reference, {"id": row.id, "title": new.title,
                                                              "group": new.group_name})
    session.refresh(row)
    return read(row, session)


def respond_to_concern(audit: AuditWriter, user: User, escalation_id: int,
                       answer: EscalationResponse) -> EscalationRead:
    """The Executive's response and action (responded), or closing it."""
    session = audit.session
    if user.role not in EXECUTIVES:
        raise NotPermitted("Only the Executive responds to an escalation")
    row = session.get(Escalation, escalation_id)
    if row is None:
        raise NotFound(f"No escalation {escalation_id}")
    if row.status == EscalationStatus.closed:
        raise Conflict(f"Escalation {escalation_id} is closed")
    row.response, row.response_action, row.status = answer.response, answer.action, answer.status
    row.responded_by, row.responded_on = user.id, london_date(datetime.now(UTC))
    session.add(row)
    audit.write(user, "respond_escalation", row.case_reference, {"id": row.id, "status": row.status})
    return read(row, session)
