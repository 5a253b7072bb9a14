"""The business unit's planning views, from the read model only: the panel calendar (every convened panel, with its
returns) and the workload (open tasks by who they wait on, role and person, overdue and due soon)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import func
from sqlmodel import Session, select

from engine.calendar import WorkingDayCalendar
from engine.vocabulary import AGENCIES, SEAT_NAMES, Stage, TaskKind, TaskStatus
from records.models import CaseAgency, CaseRecord, InformationReturn, Task, User
from records.tasks import is_for


@dataclass(frozen=True)
class Panel:
    record: CaseRecord
    invited: int
    returned: int


def panel_calendar(session: Session, today: date, *, past_days: int = 30) -> tuple[list[Panel], list[Panel]]:
    """Panels to come (soonest first) and those held in the last ``past_days`` days (latest first)."""
    rows = session.exec(select(CaseRecord).where(CaseRecord.panel_date.is_not(None),
                                                 CaseRecord.panel_date >= date.fromordinal(today.toordinal() -
                                                                                           past_days))).all()
    references = [r.reference for r in rows]
    invited = Counter(dict(session.exec(select(CaseAgency.case_reference, func.count()).where(
        CaseAgency.case_reference.in_(references)).group_by(CaseAgency.case_reference)).all()))
    returned = Counter(dict(session.exec(select(InformationReturn.case_reference,
                                                func.count(func.distinct(InformationReturn.agency))).where(
        InformationReturn.case_reference.in_(references)).group_by(InformationReturn.case_reference)).all()))
    panels = [Panel(r, invited[r.reference], returned[r.reference]) for r in rows]
    coming = sorted((p for p in panels if p.record.panel_date >= today and p.record.stage != Stage.closed),
                    key=lambda p: p.record.panel_date)
    held = sorted((p for p in panels if p.record.panel_date < today), key=lambda p: p.record.panel_date,
                  reverse=True)
    return coming, held


@dataclass
class Load:
    who: str
    open: int = 0
    overdue: int = 0
    due_soon: int = 0  # within DUE_SOON working days
    cases: set[str] = field(default_factory=set)


def who_it_waits_on(task: Task) -> str:
    if task.assignee_seat:
        return f"Executive: {SEAT_NAMES.get(task.assignee_seat, task.assignee_seat)}"
    if task.assignee_agency:
        return f"Agency: {AGENCIES.get(task.assignee_agency, task.assignee_agency)}"
    return task.assignee_role.replace("_", " ").capitalize()


def person(user: User) -> str:
    """A person as the workload names them: "Sam Patel (Agency member, Police)"."""
    where = AGENCIES.get(user.agency, user.agency) if user.agency else (
        f"{SEAT_NAMES.get(user.seat, user.seat)} seat" if user.seat else None)
    role = user.role.replace("_", " ").capitalize()
    return f"{user.full_name} ({role}{f', {where}' if where else ''})"


def workload(session: Session, today: date, calendar: WorkingDayCalendar,
             due_soon_days: int) -> tuple[list[Load], list[Load]]:
    """Open tasks (escalations and reminders left out: they repeat a task) by who they wait on, busiest first: by
    role (agency, seat) and by named person. A task for a role counts for each active person who holds it, since
    any of them may do it; a task named to one person counts for that person only."""
    soon = calendar.add_working_days(today, due_soon_days)
    tasks = session.exec(select(Task).where(Task.status == TaskStatus.open,
                                            Task.kind.not_in([TaskKind.escalation, TaskKind.reminder]))).all()
    people = session.exec(select(User).where(User.is_active == True).order_by(User.full_name)).all()  # noqa: E712
    by_role: dict[str, Load] = {}
    by_person: dict[int, Load] = {}
    for task in tasks:
        counted = [by_role.setdefault(who_it_waits_on(task), Load(who_it_waits_on(task)))]
        counted += [by_person.setdefault(user.id, Load(person(user))) for user in people if is_for(task, user)]
        for load in counted:
            load.open += 1
            load.cases.add(task.case_reference)
            if task.due_date and task.due_date < today:
                load.overdue += 1
            elif task.due_date and task.due_date <= soon:
                load.due_soon += 1

    def busiest(loads):
        return sorted(loads, key=lambda load: (-load.overdue, -load.open, load.who))

    return busiest(by_role.values()), busiest(by_person.values())
