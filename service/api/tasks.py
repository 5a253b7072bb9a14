"""Tasks: what each person has to do (read from the task table), and completing one through its action."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel
from sqlalchemy import func
from sqlmodel import select

from engine.calendar import london_date
from engine.vocabulary import TaskStatus
from records.errors import InvalidInput
from records.models import Task
from records.tasks import assigned_to, task_scope, urgency
from records.vocabulary import one_of
from service.api.access import CaseActor, Reader, RowId, audit, visible_case
from service.api.actions import ANY_ACTION_BODY
from service.api.cases import IdempotencyKey, answer
from service.deps import Cases, DbSession
from service.partnership.calendar_days import partnership_calendar

router = APIRouter(prefix="/api/tasks", tags=["tasks"])


class TaskRead(BaseModel):
    id: int
    case_reference: str
    kind: str
    title: str
    description: str
    assignee_role: str
    assignee_agency: str | None
    assignee_seat: str | None
    due_date: date | None
    working_days_left: int | None
    urgency: str
    status: str
    action: str | None
    completed_at: datetime | None
    outcome: str | None


class TaskPage(BaseModel):
    total: int
    offset: int
    limit: int
    items: list[TaskRead]


@router.get("", response_model=TaskPage)
def list_tasks(
    request: Request,
    session: DbSession,
    user: Reader,
    mine: bool = True,
    status: Annotated[str | None, Query(pattern=one_of(TaskStatus))] = TaskStatus.open,
    case: Annotated[str | None, Query(max_length=40)] = None,
    kind: Annotated[str | None, Query(max_length=40)] = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> TaskPage:
    """My open tasks by default, soonest due first; ``mine=false`` lists every task I may see."""
    query = select(Task).where(task_scope(user))
    if mine:
        query = query.where(assigned_to(user))
    if status:
        query = query.where(Task.status == status)
    if case:
        visible_case(session, user, case)
        query = query.where(Task.case_reference == case)
    if kind:
        query = query.where(Task.kind == kind)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(query.order_by(Task.due_date.is_(None), Task.due_date, Task.id).offset(offset).limit(limit))
    calendar = partnership_calendar(session)
    today = london_date(datetime.now(UTC))
    items = [
        TaskRead(**task.model_dump(), urgency=urgency(task, today, calendar),
                 working_days_left=calendar.working_days_between(today, task.due_date) if task.due_date else None)
        for task in rows
    ]
    audit(session, request, user, "list_tasks", case, {"mine": mine, "status": status, "shown": len(items)})
    return TaskPage(total=total, offset=offset, limit=limit, items=items)


@router.post("/{task_id}/complete", openapi_extra=ANY_ACTION_BODY, responses={
    409: {"description": "The task is already done, is completed by the workflow itself, or the workflow refused"},
    503: {"description": "The engine did not answer in time; send it again with the same Idempotency-Key"}})
async def complete_task(task_id: RowId, request: Request, cases: Cases, user: CaseActor,
                        idempotency_key: IdempotencyKey = None):
    """Complete a task by taking the action it asks for.

    The body is that action's fields; the workflow closes the task when it accepts the action."""
    try:
        body = await request.json()  # read before the database: no transaction is held across an await
    except ValueError:
        raise InvalidInput("The body must be a JSON object") from None
    return answer(await cases.complete_task(user, task_id, body, idempotency_key))
