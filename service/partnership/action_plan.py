"""The partnership's one action plan: actions raised by panels and CSPR reports, or added by hand; owned by an
agency, completed with evidence, signed off by the Rapid Review Working Group. Overdue is in working days.
The API's routes and the action plan page both call these functions."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field
from sqlmodel import Session, select

from engine.calendar import TABLE_YEARS, london_date
from engine.models import Text
from engine.vocabulary import AGENCIES, Role
from records import wording
from records.audit import AuditWriter
from records.errors import Conflict, InvalidInput, NotFound, NotPermitted
from records.models import PlanAction, User
from records.vocabulary import PLAN_DONE, PlanStatus
from service.accounts.roles import WORKING_GROUP
from service.partnership.calendar_days import partnership_calendar


class PlanActionRead(BaseModel):
    id: int
    case_reference: str | None
    source: str
    description: str
    owner_agency: str | None
    owner_name: str | None = None
    due_date: date
    status: str
    evidence: str | None
    completed_on: date | None
    signed_off_on: date | None
    overdue: bool
    working_days_overdue: int


def in_calendar(day: date | None) -> date | None:
    """Due dates are counted in working days, so they must fall inside the calendar's years."""
    if day is not None and day.year not in TABLE_YEARS:
        raise ValueError(f"the due date must fall in {TABLE_YEARS.start}-{TABLE_YEARS.stop - 1}")
    return day


CalendarDate = Annotated[date, AfterValidator(in_calendar)]


class NewPlanAction(BaseModel):
    description: Text = Field(min_length=1, max_length=5000)
    owner_agency: Text | None = Field(None, max_length=80)
    owner_name: Text | None = Field(None, max_length=120, description="The person who answers for the action")
    due_date: CalendarDate
    case_reference: Text | None = Field(None, max_length=40)


class PlanActionChange(BaseModel):
    """Reassign, re-date, record progress or complete (evidence is required to complete)."""

    owner_agency: Text | None = Field(None, max_length=80)
    owner_name: Text | None = Field(None, max_length=120, description="The person who answers for the action")
    due_date: CalendarDate | None = None
    status: Literal["open", "in_progress", "completed"] | None = None
    evidence: Text | None = Field(None, max_length=20_000)


def read(action: PlanAction, today: date, calendar) -> PlanActionRead:
    late = action.status not in PLAN_DONE and action.due_date < today
    return PlanActionRead(**action.model_dump(), overdue=late,
                          working_days_overdue=calendar.working_days_between(action.due_date, today) if late else 0)


def check_agency(agency: str | None) -> None:
    if agency is not None and agency not in AGENCIES:
        raise InvalidInput(f"Unknown agency {agency!r}; agencies are: {', '.join(sorted(AGENCIES))}")


def plan_items(session: Session, user: User, *, status: str | None = None, agency: str | None = None,
               overdue: bool | None = None, case: str | None = None) -> list[PlanActionRead]:
    """The plan as this user may see it (agency members: their agency's actions), soonest due first."""
    query = select(PlanAction)
    if user.role == Role.agency_member:
        query = query.where(PlanAction.owner_agency == user.agency)
    if status:
        query = query.where(PlanAction.status == status)
    if agency:
        query = query.where(PlanAction.owner_agency == agency)
    if case:
        query = query.where(PlanAction.case_reference == case)
    today = london_date(datetime.now(UTC))
    if overdue is not None:
        late = (PlanAction.status.not_in(PLAN_DONE)) & (PlanAction.due_date < today)
        query = query.where(late if overdue else ~late)
    calendar = partnership_calendar(session)
    rows = session.exec(query.order_by(PlanAction.due_date, PlanAction.id)).all()
    return [read(row, today, calendar) for row in rows]




def add_item(audit: AuditWriter, user: User, new: NewPlanAction) -> PlanActionRead:
    """Add an action by hand (e.g. from a multi-agency audit)."""
    session = audit.session
    check_agency(new.owner_agency)
    action = PlanAction(**new.model_dump(), source="manual", created_by=user.id)
    session.add(action)
    session.flush()
    audit.write(user, "add_plan_action", new.case_reference, {"id": action.id, **new.model_dump()})
    session.refresh(action)
    return read(action, london_date(datetime.now(UTC)), partnership_calendar(session))


def own_action(session: Session, user: User, action_id: int) -> PlanAction:
    action = session.get(PlanAction, action_id)
    if action is None or (user.role == Role.agency_member and action.owner_agency != user.agency):
        raise NotFound(f"No action {action_id} that you can see")
    return action


def plan_item(session: Session, user: User, action_id: int) -> PlanActionRead:
    """One action, as this user may see it (its page, where it is changed)."""
    return read(own_action(session, user, action_id), london_date(datetime.now(UTC)), partnership_calendar(session))


def change_item(audit: AuditWriter, user: User, action_id: int, change: PlanActionChange) -> PlanActionRead:
    """The working group reassigns and re-dates; the owning agency records progress and completion."""
    session = audit.session
    action = own_action(session, user, action_id)
    if action.status == PlanStatus.signed_off:
        raise Conflict(f"Action {action_id} is signed off and can no longer change")
    if user.role == Role.agency_member and (change.owner_agency is not None or change.owner_name is not None
                                            or change.due_date is not None):
        raise NotPermitted("Only the Rapid Review Working Group reassigns or re-dates an action")
    check_agency(change.owner_agency)
    if change.status == PlanStatus.completed and not (change.evidence or action.evidence):
        raise InvalidInput("Completing an action needs evidence of completion")
    before = {"status": action.status, "owner_agency": action.owner_agency, "owner_name": action.owner_name,
              "due_date": str(action.due_date)}
    for name, value in change.model_dump(exclude_none=True).items():
        setattr(action, name, value)
    action.completed_on = london_date(datetime.now(UTC)) if action.status == PlanStatus.completed else None
    session.add(action)
    audit.write(user, "change_plan_action", action.case_reference,
                {"id": action_id, "before": before, "change": change.model_dump(mode="json", exclude_none=True)})
    return read(action, london_date(datetime.now(UTC)), partnership_calendar(session))


def sign_off_item(audit: AuditWriter, user: User, action_id: int) -> PlanActionRead:
    """The Rapid Review Working Group accepts the evidence: the action is done for good."""
    session = audit.session
    if user.role not in WORKING_GROUP:
        raise NotPermitted("Only the Rapid Review Working Group signs off an action")
    action = own_action(session, user, action_id)
    if action.status != PlanStatus.completed:
        raise Conflict(f"Action {action_id} is {action.status}; only a completed action can be signed off")
    action.status, action.signed_off_by = PlanStatus.signed_off, user.id
    action.signed_off_on = london_date(datetime.now(UTC))
    session.add(action)
    audit.write(user, "sign_off_plan_action", action.case_reference, {"id": action_id})
    return read(action, london_date(datetime.now(UTC)), partnership_calendar(session))


def owner_words(item: PlanActionRead) -> str:
    """Who answers for an action, as people say it: "Sam Patel, Police", an agency alone, or that none is named."""
    agency = AGENCIES.get(item.owner_agency, item.owner_agency) if item.owner_agency else None
    named = ", ".join(part for part in (item.owner_name, agency) if part)
    return named or "No owner named yet"


# The action plan as a spreadsheet for the working group: headed and worded for people, dates in words.
PLAN_COLUMNS = ("Number", "Case", "Source", "Action", "Owner", "Due", "Status", "Evidence", "Completed on",
                "Signed off on", "Overdue")


def plan_rows_for_people(items: list[PlanActionRead]) -> list[dict]:
    return [{"Number": item.id, "Case": item.case_reference or "No case", "Source": wording.label(item.source),
             "Action": item.description,
             "Owner": owner_words(item),
             "Due": wording.long_date(item.due_date), "Status": wording.label(item.status),
             "Evidence": item.evidence or "", "Completed on": wording.long_date(item.completed_on),
             "Signed off on": wording.long_date(item.signed_off_on),
             "Overdue": wording.due_in(-item.working_days_overdue) if item.overdue else "No"} for item in items]
