"""The ``working_calendar`` activity: the working days a case counts on, recorded once in its history.

Bank holidays come from the ``holidays`` package (pinned) plus the one-off bank holidays the partnership added
(``calendar_day``); closure days only from ``calendar_day`` (the partnership's standing closure days are in the
case's rules). Because the result is recorded, replaying the case never asks the package again.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import Engine
from sqlmodel import Session, select
from temporalio import activity

from engine.calendar import weekday_bank_holidays_between
from engine.effects import WorkingCalendars
from engine.models import CalendarRequest, CaseCalendar
from engine.vocabulary import CalendarDayKind
from records.models import CalendarDay


def calendar_for(engine: Engine, first, last) -> CaseCalendar:
    bank_holidays = weekday_bank_holidays_between(first, last)
    closure_days = {}
    with Session(engine) as session:
        for added in session.exec(select(CalendarDay).where(CalendarDay.day >= first, CalendarDay.day <= last)):
            if added.day.weekday() >= 5:
                continue
            (bank_holidays if added.kind == CalendarDayKind.bank_holiday else closure_days)[added.day] = added.name
    return CaseCalendar(first=first, last=last, bank_holidays=bank_holidays, closure_days=closure_days)


class CalendarActivities(WorkingCalendars):
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @activity.defn(name="working_calendar")
    async def working_calendar(self, request: CalendarRequest) -> CaseCalendar:
        return await asyncio.to_thread(calendar_for, self.engine, request.first, request.last)
