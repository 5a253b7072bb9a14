"""The partnership's calendar: one-off bank holidays and closure days (business unit and admins). The work is
``service/partnership/calendar_days.py``'s, which the calendar page calls too."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from sqlmodel import select

from records.models import CalendarDay, User
from service.accounts.auth import require_roles
from service.accounts.roles import CALENDAR_KEEPERS
from service.api.access import RowId, writer
from service.deps import DbSession, SettingsDep, TemporalDep
from service.partnership.calendar_days import CalendarDayIn, CalendarDayRead, CalendarDayResult, add_and_send, resend

router = APIRouter(prefix="/api", tags=["calendar"])
Keeper = Annotated[User, Depends(require_roles(*CALENDAR_KEEPERS))]


@router.get("/calendar-days", response_model=list[CalendarDayRead])
def list_calendar_days(session: DbSession, user: Keeper) -> list[CalendarDayRead]:
    """The one-off bank holidays and closure days added to the calendar."""
    rows = session.exec(select(CalendarDay).order_by(CalendarDay.day)).all()
    return [CalendarDayRead.model_validate(row, from_attributes=True) for row in rows]


@router.post("/calendar-days", response_model=CalendarDayResult)
async def post_calendar_day(body: CalendarDayIn, request: Request, session: DbSession, user: Keeper,
                            temporal: TemporalDep, settings: SettingsDep) -> CalendarDayResult:
    """Add a one-off bank holiday (moves statutory and local deadlines) or a closure day (local milestones only)
    for every running case and every case started later."""
    return await add_and_send(writer(session, request), user, body, temporal=temporal,
                              answer_within=settings.action_answer_timeout_seconds)


@router.post("/calendar-days/{day_id}/send", response_model=CalendarDayResult)
async def resend_calendar_day(day_id: RowId, request: Request, session: DbSession, user: Keeper,
                              temporal: TemporalDep, settings: SettingsDep) -> CalendarDayResult:
    """Send a day again to every running case: for the cases it did not reach (no worker answered in time)."""
    return await resend(writer(session, request), user, day_id, temporal=temporal,
                        answer_within=settings.action_answer_timeout_seconds)
