"""Lateness as people meet it: one escalation per late case, listing each milestone it missed, told once.

The workflow escalates each missed deadline on its own step (a task for the business unit and one for the
Executive, settled when the deadline is met, late or not). People need one thing per case: which milestones it
missed, how late, and who it waits on. ``late_cases`` groups the open escalation tasks that way for the pages,
and ``enqueue_lateness_emails`` sends each person one e-mail per missed milestone of a case, ever (keyed by case
and milestone, not by step or task), however often the milestone is escalated again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from sqlmodel import Session, select

from engine.calendar import WorkingDayCalendar
from engine.vocabulary import Stage, TaskKind, TaskStatus
from records import wording
from records.models import CaseRecord, Task, User

# The text the workflow writes on an escalation task (engine/clock.py, DeadlineClock._escalate).
ESCALATION_TEXT = re.compile(r"^Missed: (?P<title>.+), due (?P<due>\d{4}-\d{2}-\d{2}) \((?P<rule>.*)\)\. "
                             r"Waiting on: (?P<owing>.*)\.$", re.DOTALL)


@dataclass
class MissedMilestone:
    milestone: str  # "<workflow id>:<deadline key>": unique within the service
    title: str
    due: date | None
    rule: str
    waiting_on: list[str]  # role, agency or seat codes (wording.waiting_on says them)
    working_days_left: int | None = None  # negative: overdue

    @property
    def statutory(self) -> bool:
        """A statutory clock, as against one of the partnership's own milestones."""
        return not self.rule.startswith("Partnership milestone")


@dataclass
class LateCase:
    reference: str
    pseudonym: str
    stage: str
    missed: list[MissedMilestone] = field(default_factory=list)

    @property
    def waiting_on(self) -> list[str]:
        return list(dict.fromkeys(code for m in self.missed for code in m.waiting_on))


def milestone_of(task: Task) -> str:
    """The missed deadline an escalation task is about; its key is '<workflow id>:escalation:<deadline>:<role>'."""
    workflow_id, _, rest = task.key.partition(":escalation:")
    return f"{workflow_id}:{rest.rpartition(':')[0] or rest}"


def missed_milestone(task: Task) -> MissedMilestone:
    """What an escalation task says, read back into fields (the title alone if the text has another shape)."""
    found = ESCALATION_TEXT.match(task.description or "")
    if found is None:
        title = task.title.removeprefix("Escalation: ").removesuffix(" is overdue")
        return MissedMilestone(milestone=milestone_of(task), title=title, due=None, rule="", waiting_on=[])
    owing = [code.strip() for code in found["owing"].split(",") if code.strip()]
    return MissedMilestone(milestone=milestone_of(task), title=found["title"], due=date.fromisoformat(found["due"]),
                           rule=found["rule"], waiting_on=owing)


def late_cases(session: Session, *, today: date, calendar: WorkingDayCalendar,
               references: list[str] | None = None) -> list[LateCase]:
    """One entry per case with open escalations (oldest miss first), each missed milestone once, whoever the
    escalation went to. Closed cases are left out: closing settles nothing it has not already answered."""
    query = (select(Task, CaseRecord).join(CaseRecord, CaseRecord.reference == Task.case_reference)
             .where(Task.kind == TaskKind.escalation, Task.status == TaskStatus.open, CaseRecord.stage != Stage.closed)
             .order_by(Task.id))
    if references is not None:
        query = query.where(Task.case_reference.in_(references))
    cases: dict[str, LateCase] = {}
    for task, record in session.exec(query):
        case = cases.setdefault(record.reference, LateCase(record.reference, record.pseudonym, record.stage))
        missed = missed_milestone(task)
        if any(m.milestone == missed.milestone for m in case.missed):
            continue
        if missed.due is not None:
            missed.working_days_left = calendar.working_days_between(today, missed.due)
        case.missed.append(missed)
    for case in cases.values():
        case.missed.sort(key=lambda m: (m.due or date.max, m.title))
    return sorted(cases.values(), key=lambda c: (c.missed[0].due or date.max, c.reference))


def lateness_email_key(task: Task, user: User) -> str:
    """One e-mail per person per missed milestone of a case, ever."""
    return f"lateness:{task.case_reference}:{milestone_of(task)}:user:{user.id}"


def lateness_email(task: Task, public_url: str) -> tuple[str, str]:
    """Subject and body for a missed milestone: the reference, the milestone, who it waits on, and a link.
    Nothing about the child or the incident."""
    missed = missed_milestone(task)
    due = f", due {wording.long_date(missed.due)}" if missed.due else ""
    owing = f"\nWaiting on: {wording.waiting_on(missed.waiting_on)}." if missed.waiting_on else ""
    subject = f"[OFFICIAL-SENSITIVE] {task.case_reference} is late: {missed.title}"
    body = (f"Case {task.case_reference} has missed a milestone: {missed.title}{due}.{owing}\n\n"
            "You are told once for each missed milestone. Every late case, with all it has missed, is on the "
            f"escalation log: {public_url.rstrip('/')}/escalations\n\n"
            "Details are in the service only. Do not reply to this message.")
    return subject, body


def missed_sentence(task: Task) -> str:
    """An escalation task's text for a page: "Missed: Panel held, due 30 November 2026. Waiting on: Panel chair."
    (the workflow's own text has an ISO date and codes)."""
    missed = missed_milestone(task)
    due = f", due {wording.long_date(missed.due)}" if missed.due else ""
    owing = f" Waiting on: {wording.waiting_on(missed.waiting_on)}." if missed.waiting_on else ""
    return f"Missed: {missed.title}{due}.{owing}"
