"""The partnership's one action plan: actions raised by panels and CSPR reports, or added by hand; owned by an
agency, completed with evidence, signed off by the Rapid Review Working Group. Overdue is in working days."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response
from pydantic import AfterValidator, BaseModel, Field
from sqlmodel import Session, select

from records.models import PlanAction, User
from service.api.access import Reader, RowId, audit
from service.auth import DbSession, require_roles
from service.calendar_days import partnership_calendar
from service.csv_export import csv_response
from workflows.calendar import TABLE_YEARS, london_date
from workflows.models import Text
from workflows.vocabulary import AGENCIES, Role

router = APIRouter(prefix="/api/action-plan", tags=["action plan"])
# The Rapid Review Working Group is run by the business unit and the panel chair.
WORKING_GROUP = (Role.business_unit, Role.panel_chair)
WorkingGroup = Annotated[User, Depends(require_roles(*WORKING_GROUP))]
Updater = Annotated[User, Depends(require_roles(*WORKING_GROUP, Role.agency_member))]
DONE = ("completed", "signed_off")


class PlanActionRead(BaseModel):
    id: int
    case_reference: str | None
    source: str
    description: str
    owner_agency: str | None
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
    due_date: CalendarDate
    case_reference: Text | None = Field(None, max_length=40)


class PlanActionChange(BaseModel):
    """Reassign, re-date, record progress or complete (evidence is required to complete)."""

    owner_agency: Text | None = Field(None, max_length=80)
    due_date: CalendarDate | None = None
    status: Literal["open", "in_progress", "completed"] | None = None
    evidence: Text | None = Field(None, max_length=20_000)


def read(action: PlanAction, today: date, calendar) -> PlanActionRead:
    late = action.status not in DONE and action.due_date < today
    return PlanActionRead(**action.model_dump(), overdue=late,
                          working_days_overdue=calendar.working_days_between(action.due_date, today) if late else 0)


def check_agency(agency: str | None) -> None:
    if agency is not None and agency not in AGENCIES:
        raise HTTPException(422, f"Unknown agency {agency!r}; agencies are: {', '.join(sorted(AGENCIES))}")


def listed(session: Session, user: User, status: str | None, agency: str | None, overdue: bool | None,
           case: str | None) -> list[PlanActionRead]:
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
        late = (PlanAction.status.not_in(DONE)) & (PlanAction.due_date < today)
        query = query.where(late if overdue else ~late)
    calendar = partnership_calendar(session)
    rows = session.exec(query.order_by(PlanAction.due_date, PlanAction.id)).all()
    return [read(row, today, calendar) for row in rows]


@router.get("", response_model=list[PlanActionRead])
def list_actions(
    request: Request, session: DbSession, user: Reader,
    status: Annotated[str | None, Query(pattern="^(open|in_progress|completed|signed_off)$")] = None,
    agency: Annotated[str | None, Query(max_length=80)] = None,
    overdue: bool | None = None,
    case: Annotated[str | None, Query(max_length=40)] = None,
) -> list[PlanActionRead]:
    """The action plan, soonest due first; agency members see their agency's actions."""
    items = listed(session, user, status, agency, overdue, case)
    audit(session, request, user, "list_action_plan", case, {"shown": len(items)})
    return items


@router.get("/export.csv", response_class=Response, responses={200: {"content": {"text/csv": {}}}})
def export_actions(request: Request, session: DbSession, user: Reader) -> Response:
    """The whole action plan (as this user may see it) as CSV."""
    items = listed(session, user, None, None, None, None)
    audit(session, request, user, "export_action_plan", None, {"rows": len(items)})
    return csv_response([item.model_dump(mode="json") for item in items], list(PlanActionRead.model_fields),
                        "action-plan.csv")


@router.post("", status_code=201, response_model=PlanActionRead)
def add_action(new: NewPlanAction, request: Request, session: DbSession, user: WorkingGroup) -> PlanActionRead:
    """Add an action by hand (e.g. from a multi-agency audit)."""
    check_agency(new.owner_agency)
    action = PlanAction(**new.model_dump(), source="manual", created_by=user.id)
    session.add(action)
    session.flush()
    audit(session, request, user, "add_plan_action", new.case_reference, {"id": action.id, **new.model_dump()})
    session.refresh(action)
    return read(action, london_date(datetime.now(UTC)), partnership_calendar(session))


def own_action(session: Session, user: User, action_id: int) -> PlanAction:
    action = session.get(PlanAction, action_id)
    if action is None or (user.role == Role.agency_member and action.owner_agency != user.agency):
        raise HTTPException(404, f"No action {action_id} that you can see")
    return action


@router.patch("/{action_id}", response_model=PlanActionRead)
def change_action(action_id: RowId, change: PlanActionChange, request: Request, session: DbSession,
                  user: Updater) -> PlanActionRead:
    """The working group reassigns and re-dates; the owning agency records progress and completion."""
    action = own_action(session, user, action_id)
    if action.status == "signed_off":
        raise HTTPException(409, f"Action {action_id} is signed off and can no longer change")
    if user.role == Role.agency_member and (change.owner_agency is not None or change.due_date is not None):
        raise HTTPException(403, "Only the Rapid Review Working Group reassigns or re-dates an action")
    check_agency(change.owner_agency)
    if change.status == "completed" and not (change.evidence or action.evidence):
        raise HTTPException(422, "Completing an action needs evidence of completion")
    before = {"status": action.status, "owner_agency": action.owner_agency, "due_date": str(action.due_date)}
    for name, value in change.model_dump(exclude_none=True).items():
        setattr(action, name, value)
    action.completed_on = london_date(datetime.now(UTC)) if action.status == "completed" else None
    session.add(action)
    audit(session, request, user, "change_plan_action", action.case_reference,
          {"id": action_id, "before": before, "change": change.model_dump(mode="json", exclude_none=True)})
    return read(action, london_date(datetime.now(UTC)), partnership_calendar(session))


@router.post("/{action_id}/sign-off", response_model=PlanActionRead)
def sign_off_action(action_id: RowId, request: Request, session: DbSession, user: WorkingGroup) -> PlanActionRead:
    """The Rapid Review Working Group accepts the evidence: the action is done for good."""
    action = own_action(session, user, action_id)
    if action.status != "completed":
        raise HTTPException(409, f"Action {action_id} is {action.status}; only a completed action can be signed off")
    action.status, action.signed_off_by = "signed_off", user.id
    action.signed_off_on = london_date(datetime.now(UTC))
    session.add(action)
    audit(session, request, user, "sign_off_plan_action", action.case_reference, {"id": action_id})
    return read(action, london_date(datetime.now(UTC)), partnership_calendar(session))
