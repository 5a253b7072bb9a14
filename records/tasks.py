"""Tasks in the database: opened once per key, settled (done or cancelled) when the workflow moves on."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import and_, func, or_, update
from sqlmodel import Session

from engine.calendar import WorkingDayCalendar
from engine.models import DueDateMove, TaskSettlement, TaskSpec
from engine.vocabulary import Role, TaskStatus, Urgency
from records.db import add_unless_present
from records.models import Task, User


def open_task(session: Session, spec: TaskSpec, case_reference: str) -> Task | None:
    """Create the task unless one with its key exists (a retried step creates nothing twice): the new task (not in
    the session), or None if it existed."""
    task = Task(
        key=spec.key, case_reference=case_reference, kind=spec.kind, title=spec.title,
        description=spec.description, assignee_role=str(spec.assignee_role), assignee_agency=spec.assignee_agency,
        assignee_seat=str(spec.assignee_seat) if spec.assignee_seat else None, due_date=spec.due,
        action=spec.action,
    )
    return task if add_unless_present(session, task, "key") else None


def _escaped(prefix: str) -> str:
    """A key prefix for LIKE with escape character backslash (keys hold underscores)."""
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def settle_tasks(session: Session, settlement: TaskSettlement, case_reference: str, by_user: int | None,
                 at: datetime | None = None) -> int:
    """Mark every open task of the case whose key starts with the prefix as done or cancelled; returns how many.
    (The case's reference finds its few tasks by index: a key prefix with LIKE cannot use one.) A Core statement,
    after the session's pending rows: a task already loaded in the session is not refreshed by it."""
    session.flush()
    prefix = _escaped(settlement.key_prefix)
    connection = session.connection()
    if settlement.superseded:
        note = f" ({settlement.outcome})"
        result = connection.execute(
            update(Task).where(Task.case_reference == case_reference, Task.key.like(prefix + "%", escape="\\"),
                               Task.status == TaskStatus.done,
                               func.coalesce(Task.outcome, "").not_like(f"%{note}"))
            .values(outcome=func.coalesce(Task.outcome, "") + note))
        return result.rowcount or 0
    result = connection.execute(
        update(Task)
        .where(Task.case_reference == case_reference, Task.key.like(prefix + "%", escape="\\"),
               Task.status == TaskStatus.open)
        .values(status=settlement.status, outcome=settlement.outcome, completed_by=by_user,
                completed_at=at or datetime.now(UTC))
    )
    return result.rowcount or 0


def move_due_dates(session: Session, move: DueDateMove, case_reference: str) -> int:
    """Open tasks of the workflow due on the old date of a deadline the calendar moved are due on its new one (a Core
    statement, after the session's pending rows, as ``settle_tasks``)."""
    session.flush()
    prefix = _escaped(move.key_prefix)
    result = session.connection().execute(
        update(Task).where(Task.case_reference == case_reference, Task.key.like(prefix + "%", escape="\\"),
                           Task.status == TaskStatus.open, Task.due_date == move.was)
        .values(due_date=move.now))
    return result.rowcount or 0


DUE_SOON_WORKING_DAYS = 2


def urgency(task: Task, today: date, calendar: WorkingDayCalendar) -> Urgency:
    """Overdue, due soon (within two working days) or on track, counted in working days."""
    if task.status != TaskStatus.open or task.due_date is None:
        return Urgency.on_track
    left = calendar.working_days_between(today, task.due_date)
    if left < 0:
        return Urgency.overdue
    return Urgency.due_soon if left <= DUE_SOON_WORKING_DAYS else Urgency.on_track


def assigned_to(user: User):
    """SQL condition: the task is this user's (named, or for their role and their agency or seat)."""
    by_role = and_(Task.assignee_user_id.is_(None), Task.assignee_role == user.role,
                   or_(Task.assignee_agency.is_(None), Task.assignee_agency == user.agency),
                   or_(Task.assignee_seat.is_(None), Task.assignee_seat == user.seat))
    return or_(Task.assignee_user_id == user.id, by_role)


def is_for(task: Task, user: User) -> bool:
    """The task is this user's: ``assigned_to`` said in Python, for counting tasks person by person."""
    if task.assignee_user_id is not None:
        return task.assignee_user_id == user.id
    return (task.assignee_role == user.role and task.assignee_agency in (None, user.agency)
            and task.assignee_seat in (None, user.seat))


def task_scope(user: User):
    """SQL condition: the tasks this user may list at all (agencies and seats see only their own)."""
    if user.role == Role.agency_member:
        return and_(Task.assignee_role == Role.agency_member, Task.assignee_agency == user.agency)
    if user.role == Role.executive:
        return assigned_to(user)
    return Task.id.is_not(None)
