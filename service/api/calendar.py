"""The partnership's calendar: one-off bank holidays and closure days (business unit and admins)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field
from sqlmodel import select

from records.models import CalendarDay, User
from service.api.access import RowId, actor_of, audit, request_id
from service.auth import DbSession, require_roles
from service.calendar_days import CalendarDayRefused, add_calendar_day, running_workflows, send_to_running_cases
from workflows.models import Text
from workflows.vocabulary import Role

router = APIRouter(prefix="/api", tags=["calendar"])
CALENDAR_KEEPERS = (Role.business_unit, Role.admin)
Keeper = Annotated[User, Depends(require_roles(*CALENDAR_KEEPERS))]


class CalendarDayIn(BaseModel):
    day: date
    kind: Literal["bank_holiday", "closure_day"]
    name: Text = Field(min_length=1, max_length=200, description="e.g. 'State funeral' or 'Partnership training'")


class CalendarDayRead(BaseModel):
    id: int
    day: date
    kind: str
    name: str
    added_at: datetime


class CalendarDayResult(BaseModel):
    day: CalendarDayRead
    moved: dict[str, list[dict]] = Field(description="workflow id -> each deadline moved (from, to, why)")
    unchanged: list[str]
    not_reached: list[str]


@router.get("/calendar-days", response_model=list[CalendarDayRead])
def list_calendar_days(session: DbSession, user: Keeper) -> list[CalendarDayRead]:
    """The one-off bank holidays and closure days added to the calendar."""
    rows = session.exec(select(CalendarDay).order_by(CalendarDay.day)).all()
    return [CalendarDayRead.model_validate(row, from_attributes=True) for row in rows]


async def add_and_send(request: Request, session, user: User, body: CalendarDayIn) -> CalendarDayResult:
    """Store the day (422 with the reason if it cannot be added), then send it to every running case."""
    try:
        row = add_calendar_day(session, day=body.day, kind=body.kind, name=body.name, by=user,
                               audit_key=request.app.state.audit_trail.key, request_id=request_id(request))
    except CalendarDayRefused as error:
        session.rollback()
        raise HTTPException(422, str(error)) from None
    return await send(request, session, user, row)


async def send(request: Request, session, user: User, row: CalendarDay) -> CalendarDayResult:
    """Send a stored day to every running case (a case that has it already moves nothing)."""
    workflow_ids = running_workflows(session)
    session.commit()  # never hold a transaction while the cases' activities need the database
    delivery = await send_to_running_cases(await request.app.state.temporal.client(), workflow_ids, row,
                                           actor_of(user), request.app.state.settings.action_answer_timeout_seconds)
    return CalendarDayResult(day=CalendarDayRead.model_validate(row, from_attributes=True), moved=delivery.moved,
                             unchanged=delivery.unchanged, not_reached=delivery.not_reached)


@router.post("/calendar-days", response_model=CalendarDayResult)
async def post_calendar_day(body: CalendarDayIn, request: Request, session: DbSession,
                            user: Keeper) -> CalendarDayResult:
    """Add a one-off bank holiday (moves statutory and local deadlines) or a closure day (local milestones only)
    for every running case and every case started later."""
    return await add_and_send(request, session, user, body)


@router.post("/calendar-days/{day_id}/send", response_model=CalendarDayResult)
async def resend_calendar_day(day_id: RowId, request: Request, session: DbSession, user: Keeper) -> CalendarDayResult:
    """Send a day again to every running case: for the cases it did not reach (no worker answered in time)."""
    return await resend(request, session, user, day_id)


async def resend(request: Request, session, user: User, day_id: int) -> CalendarDayResult:
    row = session.get(CalendarDay, day_id)
    if row is None:
        raise HTTPException(404, f"No calendar day {day_id}")
    audit(session, request, user, "resend_calendar_day", None, {"day": row.day.isoformat(), "kind": row.kind})
    return await send(request, session, user, row)
