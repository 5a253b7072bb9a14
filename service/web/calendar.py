"""The calendar page (business unit, admins): the one-off bank holidays and closure days, and a form to add one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from pydantic import ValidationError
from sqlmodel import select

from records.errors import InvalidInput
from records.models import CalendarDay, User
from service.accounts.roles import CALENDAR_KEEPERS
from service.deps import RowId, SettingsDep, TemporalDep, writer
from service.partnership.calendar_days import CalendarDayIn, add_and_send, resend
from service.web.forms import dates_from_parts, plain_error
from service.web.pages import PageSession, page_roles, render

router = APIRouter(include_in_schema=False)
Keeper = Annotated[User, Depends(page_roles(*CALENDAR_KEEPERS))]


def calendar_page(request: Request, session, user: User, status_code: int = 200, **context) -> HTMLResponse:
    days = session.exec(select(CalendarDay).order_by(CalendarDay.day)).all()
    session.commit()
    return render(request, "calendar_days.html", user, status_code=status_code, days=days, **context)


@router.get("/admin/calendar")
def calendar_days_page(request: Request, session: PageSession, user: Keeper) -> HTMLResponse:
    return calendar_page(request, session, user)


@router.post("/admin/calendar")
async def calendar_days_add(request: Request, session: PageSession, user: Keeper, temporal: TemporalDep,
                            settings: SettingsDep) -> HTMLResponse:
    """Add the day (three boxes: day, month, year), send it to the running cases, and show what moved."""
    form = await request.form()
    fields = dates_from_parts({key: str(value)[:200] for key, value in form.items() if key != "csrf_token"})
    try:
        body = CalendarDayIn(day=fields.get("day") or None, kind=fields.get("kind", ""), name=fields.get("name", ""))
        result = await add_and_send(writer(session, request), user, body, temporal=temporal,
                                    answer_within=settings.action_answer_timeout_seconds)
    except ValidationError as error:
        return calendar_page(request, session, user, status_code=422, error=plain_error(error))
    except InvalidInput as error:
        return calendar_page(request, session, user, status_code=422, error=error.detail)
    return calendar_page(request, session, user, result=result)


@router.post("/admin/calendar/{day_id}/send")
async def calendar_day_resend(day_id: RowId, request: Request, session: PageSession, user: Keeper,
                              temporal: TemporalDep, settings: SettingsDep) -> HTMLResponse:
    """Send a day again to the running cases it did not reach."""
    result = await resend(writer(session, request), user, day_id, temporal=temporal,
                          answer_within=settings.action_answer_timeout_seconds)
    return calendar_page(request, session, user, result=result)
