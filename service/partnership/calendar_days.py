"""One-off bank holidays and partnership closure days: stored, audited, and sent to every running case.

A case counts on its own calendar (see engine/calendar.py). A day added here is found in the calendar of
every case that starts later (the ``working_calendar`` activity reads this table) and is sent to every case
running now as the ``add_calendar_day`` update: each recounts its deadlines (statutory clocks for bank holidays
only) and records why each one moved. The service's own lists count with the same days.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Literal

from pydantic import BaseModel, Field
from sqlmodel import Session, select
from temporalio.client import Client, WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.service import RPCError

from engine.authenticity import sealed
from engine.calendar import TABLE_YEARS, WorkingDayCalendar, london_date
from engine.models import Actor, CalendarDayAdded, Text
from engine.vocabulary import CalendarDayKind, Stage, practice_review_id
from records.audit import AuditWriter
from records.errors import InvalidInput, NotFound
from records.models import CalendarDay, CaseRecord, User
from records.partnership import process_rules
from service.cases.case_service import actor_of
from service.platform.temporal import TemporalConnection

KINDS = {CalendarDayKind.bank_holiday: "bank holiday", CalendarDayKind.closure_day: "partnership closure day"}


class CalendarDayRefused(ValueError):
    """A day that cannot be added; the message says why."""


@dataclass
class Delivery:
    """What the running cases did with a new day: the deadlines each moved, and the cases it did not reach."""

    moved: dict[str, list[dict]] = field(default_factory=dict)  # workflow id -> moved deadlines
    unchanged: list[str] = field(default_factory=list)
    not_reached: list[str] = field(default_factory=list)


def partnership_calendar(session: Session) -> WorkingDayCalendar:
    """The working days the service's own lists count with: the partnership's closure days and every day added."""
    rules = process_rules(session)
    added = session.exec(select(CalendarDay)).all()
    return WorkingDayCalendar(
        frozenset(rules.closure_days) | {d.day for d in added if d.kind == CalendarDayKind.closure_day},
        added_bank_holidays={d.day: d.name for d in added if d.kind == CalendarDayKind.bank_holiday},
    )


def add_calendar_day(session: Session, *, day: date, kind: str, name: str, by: User, audit_key: bytes,
                     request_id: str | None = None) -> CalendarDay:
    """Store and audit the day (the caller commits), or refuse it with the reason."""
    if kind not in KINDS:
        raise CalendarDayRefused(f"kind must be one of: {', '.join(KINDS)}")
    today = london_date(datetime.now(UTC))
    if day <= today:
        raise CalendarDayRefused(f"day {day.isoformat()} is not after today ({today.isoformat()}): only days still "
                                 "to come can be added")
    if day.year not in TABLE_YEARS:
        raise CalendarDayRefused(f"day {day.isoformat()} is outside the calendar's years "
                                 f"({TABLE_YEARS.start}-{TABLE_YEARS.stop - 1})")
    if day.weekday() >= 5:
        raise CalendarDayRefused(f"day {day.isoformat()} is a {day.strftime('%A')}: it is not a working day anyway")
    already = partnership_calendar(session).closed_because(day)
    if already:
        raise CalendarDayRefused(f"day {day.isoformat()} is already not a working day ({already})")
    row = CalendarDay(day=day, kind=kind, name=name.strip(), added_by=by.id)
    session.add(row)
    session.flush()
    AuditWriter(session, audit_key, request_id).add(
        "add_calendar_day", None, {"day": day.isoformat(), "kind": kind, "name": row.name},
        actor_id=by.id, actor_role=by.role)
    return row


def running_workflows(session: Session) -> list[str]:
    """The workflow ids of every open case and of its practice review while that runs."""
    ids = []
    for record in session.exec(select(CaseRecord).where(CaseRecord.stage != Stage.closed)
                               .order_by(CaseRecord.reference)):
        ids.append(record.reference)
        if record.practice_review_stage not in (None, Stage.closed):
            ids.append(practice_review_id(record.reference))
    return ids


async def send_to_running_cases(client: Client, workflow_ids: list[str], row: CalendarDay, actor: Actor,
                                answer_within: float = 30.0) -> Delivery:
    """Send the day to each running workflow (sealed, as every message of the service is); one that does not answer
    in time is listed as not reached."""
    delivery = Delivery()
    for workflow_id in workflow_ids:
        notice = CalendarDayAdded(day=row.day, kind=row.kind, name=row.name, actor=actor)
        update_id = f"calendar:{row.id}:{uuid.uuid4().hex}"
        sealed(workflow_id, "add_calendar_day", update_id, notice)
        try:
            async with asyncio.timeout(answer_within):
                moved = await client.get_workflow_handle(workflow_id).execute_update(
                    "add_calendar_day", notice, id=update_id, result_type=list[dict])
        except (WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError, RPCError, TimeoutError):
            # closed meanwhile, not running on this engine, or no worker answered
            delivery.not_reached.append(workflow_id)
            continue
        if moved:
            delivery.moved[workflow_id] = moved
        else:
            delivery.unchanged.append(workflow_id)
    return delivery


class CalendarDayIn(BaseModel):
    day: date
    kind: Literal["bank_holiday", "closure_day"]
    name: Text = Field(min_length=1, max_length=200, description="e.g. 'State funeral' or 'Partnership training'")


class CalendarDayRead(BaseModel):
    id: int
    day: date
    kind: str
    name: str
    added_at: datetime


class CalendarDayResult(BaseModel):
    day: CalendarDayRead
    moved: dict[str, list[dict]] = Field(description="workflow id -> each deadline moved (from, to, why)")
    unchanged: list[str]
    not_reached: list[str]


async def add_and_send(audit: AuditWriter, user: User, body: CalendarDayIn, *, temporal: TemporalConnection,
                       answer_within: float) -> CalendarDayResult:
    """Store the day (InvalidInput with the reason if it cannot be added), then send it to every running case."""
    try:
        row = add_calendar_day(audit.session, day=body.day, kind=body.kind, name=body.name, by=user,
                               audit_key=audit.key, request_id=audit.request_id)
    except CalendarDayRefused as error:
        audit.session.rollback()
        raise InvalidInput(str(error)) from None
    return await send_day(audit.session, user, row, temporal=temporal, answer_within=answer_within)


async def send_day(session: Session, user: User, row: CalendarDay, *, temporal: TemporalConnection,
                   answer_within: float) -> CalendarDayResult:
    """Send a stored day to every running case (a case that has it already moves nothing)."""
    workflow_ids = running_workflows(session)
    session.commit()  # never hold a transaction while the cases' activities need the database
    delivery = await send_to_running_cases(await temporal.client(), workflow_ids, row, actor_of(user), answer_within)
    return CalendarDayResult(day=CalendarDayRead.model_validate(row, from_attributes=True), moved=delivery.moved,
                             unchanged=delivery.unchanged, not_reached=delivery.not_reached)


async def resend(audit: AuditWriter, user: User, day_id: int, *, temporal: TemporalConnection,
                 answer_within: float) -> CalendarDayResult:
    """Send a day again to every running case: for the cases it did not reach (no worker answered in time)."""
    row = audit.session.get(CalendarDay, day_id)
    if row is None:
        raise NotFound(f"No calendar day {day_id}")
    audit.write(user, "resend_calendar_day", None, {"day": row.day.isoformat(), "kind": row.kind})
    return await send_day(audit.session, user, row, temporal=temporal, answer_within=answer_within)
