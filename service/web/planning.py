"""The planning pages of the business unit and the chair: the panel calendar and the workload
(``service/partnership/planning.py``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from engine.calendar import london_date
from records.models import User
from records.tasks import DUE_SOON_WORKING_DAYS
from service.accounts.roles import BOARD_ROLES
from service.deps import Cases
from service.partnership.calendar_days import partnership_calendar
from service.partnership.planning import panel_calendar, workload
from service.web.pages import page_roles, render

router = APIRouter(include_in_schema=False)
Planner = Annotated[User, Depends(page_roles(*BOARD_ROLES))]


@router.get("/panels")
def panels(request: Request, cases: Cases, user: Planner) -> HTMLResponse:
    """Every panel convened: those to come with their returns so far, and those held in the last month."""
    today = london_date(datetime.now(UTC))
    coming, held = panel_calendar(cases.session, today)
    cases.audit(user, "list_cases", None, {"page": "panel calendar", "shown": len(coming) + len(held)})
    return render(request, "panels.html", user, coming=coming, held=held, today=today)


@router.get("/workload")
def workload_page(request: Request, cases: Cases, user: Planner) -> HTMLResponse:
    """Open tasks by who they wait on, named person and role: how many, how many overdue, how many due soon, on how
    many cases."""
    today = london_date(datetime.now(UTC))
    loads, people = workload(cases.session, today, partnership_calendar(cases.session), DUE_SOON_WORKING_DAYS)
    cases.audit(user, "list_tasks", None, {"page": "workload", "shown": len(loads)})
    return render(request, "workload.html", user, loads=loads, people=people, soon=DUE_SOON_WORKING_DAYS)
