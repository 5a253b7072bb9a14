"""My tasks: the open tasks for this person, her role, agency or seat, with the late cases' delays."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from sqlmodel import select

from engine.calendar import london_date
from engine.vocabulary import (
    TaskKind,
    TaskStatus,
)
from records.errors import DomainError
from records.lateness import late_cases
from records.models import CaseRecord, Task, User
from records.tasks import assigned_to, task_scope, urgency
from service.accounts.roles import CASE_READERS
from service.cases.case_service import ACTIONS, CaseService
from service.cases.visibility import state_for
from service.deps import Cases
from service.partnership.calendar_days import partnership_calendar
from service.partnership.themes import known_themes
from service.web.case_actions import done_banner
from service.web.forms import (
    FormField,
    delay_field,
    error_list,
    form_fields,
)
from service.web.pages import page_roles, render

router = APIRouter(include_in_schema=False)


@router.get("/tasks")
async def my_tasks(request: Request, cases: Cases,
                   user: Annotated[User, Depends(page_roles(*CASE_READERS))],
                   done: Annotated[str | None, Query(max_length=40)] = None,
                   case: Annotated[str | None, Query(max_length=40)] = None) -> HTMLResponse:
    """Open tasks for me, soonest first; after an action, what was done and what happens next."""
    banner = None
    if done and case:
        record = cases.visible(user, case)
        cases.audit(user, "read_case", case, {"page": "tasks", "shown": "what happens next"})
        try:
            state = state_for(user.role, await cases.state(record))
        except DomainError:
            state = None
        banner = done_banner(done, state)
        banner = banner and banner | {"reference": case}
    return await my_tasks_page(request, cases, user, banner=banner)


async def late_cases_delays(cases: CaseService, references: set[str]) -> dict[str, FormField]:
    """For the late cases among these: the delay-reason question their actions must answer (if still unexplained)."""
    asked = {}
    for record in cases.session.exec(select(CaseRecord).where(CaseRecord.reference.in_(references),
                                                         CaseRecord.late == True)):  # noqa: E712 - SQL
        try:
            delay = delay_field(await cases.state(record))
        except DomainError:
            continue
        if delay is not None:
            asked[record.reference] = delay
    return asked


async def my_tasks_page(request: Request, cases: CaseService, user: User, status_code: int = 200,
                        failed: dict | None = None, banner: dict | None = None) -> HTMLResponse:
    session = cases.session
    tasks = session.exec(select(Task).where(task_scope(user), assigned_to(user), Task.status == TaskStatus.open)
                         .order_by(Task.due_date.is_(None), Task.due_date, Task.id)).all()
    calendar, today = partnership_calendar(session), london_date(datetime.now(UTC))
    # Escalations are shown once per late case, every missed deadline listed, not one card per escalation task.
    late_references = sorted({t.case_reference for t in tasks if t.kind == TaskKind.escalation})
    late = late_cases(session, today=today, calendar=calendar, references=late_references) if late_references else []
    tasks = [t for t in tasks if t.kind != TaskKind.escalation]
    themes = sorted(known_themes(session))
    delays = await late_cases_delays(cases, {t.case_reference for t in tasks if t.action in ACTIONS})
    items, summary = [], []
    for task in tasks:
        fields = form_fields(ACTIONS[task.action].model, themes) if task.action in ACTIONS else []
        if any(f.kind == "hidden" for f in fields):  # it answers a version: done on the case page, beside it
            fields = []
        if fields and task.case_reference in delays:
            fields.append(delays[task.case_reference])
        mine = failed if failed and failed["case"] == task.case_reference and failed["action"] == task.action else {}
        if mine:
            summary += error_list(f"t{task.id}", fields, mine["errors"])
        items.append({"task": task, "urgency": urgency(task, today, calendar), "fields": fields,
                      "errors": mine.get("errors", {}), "typed": mine.get("typed", {}),
                      "left": calendar.working_days_between(today, task.due_date) if task.due_date else None})
    cases.audit(user, "list_tasks", None, {"page": "tasks", "shown": len(items)})
    return render(request, "tasks.html", user, status_code=status_code, items=items, error_summary=summary,
                  confirmation=banner, late=late)
