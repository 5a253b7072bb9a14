"""The case board: every open case as a card in its stage's column, its window's colour and who it waits on."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from sqlmodel import Session, select

from engine.calendar import london_date
from engine.vocabulary import (
    Stage,
    TaskStatus,
)
from records.lateness import LateCase, late_cases
from records.models import CaseRecord, Task, User
from records.partnership import process_rules
from records.tasks import DUE_SOON_WORKING_DAYS
from reviews.review_types import REVIEW_TYPES
from service.accounts.roles import BOARD_ROLES, CASE_ACTORS
from service.deps import audit
from service.partnership.calendar_days import partnership_calendar
from service.web import wording
from service.web.pages import PageSession, page_roles, render
from service.web.referrals import referral_fields

router = APIRouter(include_in_schema=False)


AMBER_WORKING_DAYS = 5  # a card turns amber with this many working days or fewer left (the board's own setting)


def rag(record: CaseRecord, today: date, calendar) -> tuple[int | None, str]:
    """Working days left in the statutory rapid review window and its colour (the window alone: a missed
    milestone inside it is said apart, as "Late")."""
    if record.stage == Stage.closed or record.rapid_review_due is None or record.submitted_on:
        return None, "grey"
    left = calendar.working_days_between(today, record.rapid_review_due)
    return left, wording.deadline_tag(left, AMBER_WORKING_DAYS)[1]


def waiting_on_by_case(session: Session, references: list[str]) -> dict[str, list[str]]:
    """Who each case waits on: the assignees (agency, seat or role) of its open tasks that ask for an action."""
    found: dict[str, list[str]] = {}
    if not references:
        return found
    rows = session.exec(select(Task).where(Task.case_reference.in_(references), Task.status == TaskStatus.open,
                                           Task.action.is_not(None)).order_by(Task.id))
    for task in rows:
        found.setdefault(task.case_reference, []).append(task.assignee_agency or task.assignee_seat
                                                          or task.assignee_role)
    return found


def board_card(record: CaseRecord, today: date, calendar, waiting: list[str], late: LateCase | None) -> dict:
    """A card's facts in words: the statutory window apart from the next internal milestone, each with its
    tag, who the case waits on, and the milestones it has missed."""
    left, colour = rag(record, today, calendar)
    next_left = (calendar.working_days_between(today, record.next_deadline_due)
                 if record.next_deadline_due and record.stage != Stage.closed else None)
    next_statutory = bool(record.next_deadline_rule) and not record.next_deadline_rule.startswith(
        "Partnership milestone") and "(local setting)" not in record.next_deadline_rule
    return {"record": record, "left": left, "colour": "red" if record.late else colour,
            "window_tag": wording.deadline_tag(left, AMBER_WORKING_DAYS),
            "next_left": next_left, "next_tag": wording.deadline_tag(next_left, DUE_SOON_WORKING_DAYS),
            "next_statutory": next_statutory, "waiting_on": wording.waiting_on(waiting),
            "missed": late.missed if late else []}


@router.get("/board")
def board(request: Request, session: PageSession, user: Annotated[User, Depends(page_roles(*BOARD_ROLES))],
          late: bool = False, year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
          error: str | None = None) -> HTMLResponse:
    """Every open case as a card in its stage column."""
    query = select(CaseRecord).where(CaseRecord.stage != Stage.closed)
    if late:
        query = query.where(CaseRecord.late == True)  # noqa: E712 - SQL expression
    if year:
        query = query.where(CaseRecord.year == year)
    records = session.exec(query.order_by(CaseRecord.rapid_review_due, CaseRecord.reference)).all()
    rules = process_rules(session)
    calendar, today = partnership_calendar(session), london_date(datetime.now(UTC))
    references = [record.reference for record in records]
    waiting = waiting_on_by_case(session, references)
    missed = {case.reference: case for case in late_cases(session, today=today, calendar=calendar,
                                                          references=references)}
    shown = {found.key for record in records if (found := REVIEW_TYPES.of_reference(record.reference))}
    columns = {stage: [] for stage in REVIEW_TYPES.board_columns(shown)}  # the review types' on the board, in order
    for record in records:
        columns.setdefault(record.stage, []).append(
            board_card(record, today, calendar, waiting.get(record.reference, []), missed.get(record.reference)))
    audit(session, request, user, "list_cases", None, {"page": "board", "shown": len(records)})
    return render(request, "board.html", user, columns=columns, late=late, year=year, today=today, rules=rules,
                  amber_working_days=AMBER_WORKING_DAYS, due_soon_working_days=DUE_SOON_WORKING_DAYS,
                  may_refer=user.role in CASE_ACTORS, fields=referral_fields(), errors={}, typed={}, error=error,
                  other_reviews=REVIEW_TYPES.referred()[1:])  # their referral pages: service/web/review_types.py
