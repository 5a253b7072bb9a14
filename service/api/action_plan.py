"""The action plan's routes (the work is ``service/partnership/action_plan.py``'s, which the page calls too)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from records.models import User
from records.vocabulary import PlanStatus, one_of
from service.accounts.auth import require_roles
from service.accounts.roles import PLAN_UPDATERS, WORKING_GROUP
from service.api.access import Reader, RowId, audit, writer
from service.deps import DbSession
from service.partnership.action_plan import (
    PLAN_COLUMNS,
    NewPlanAction,
    PlanActionChange,
    PlanActionRead,
    add_item,
    change_item,
    plan_items,
    plan_rows_for_people,
    sign_off_item,
)
from service.platform.http_csv import csv_response

router = APIRouter(prefix="/api/action-plan", tags=["action plan"])
WorkingGroup = Annotated[User, Depends(require_roles(*WORKING_GROUP))]
Updater = Annotated[User, Depends(require_roles(*PLAN_UPDATERS))]


@router.get("", response_model=list[PlanActionRead])
def list_actions(
    request: Request, session: DbSession, user: Reader,
    status: Annotated[str | None, Query(pattern=one_of(PlanStatus))] = None,
    agency: Annotated[str | None, Query(max_length=80)] = None,
    overdue: bool | None = None,
    case: Annotated[str | None, Query(max_length=40)] = None,
) -> list[PlanActionRead]:
    """The action plan, soonest due first; agency members see their agency's actions."""
    items = plan_items(session, user, status=status, agency=agency, overdue=overdue, case=case)
    audit(session, request, user, "list_action_plan", case, {"shown": len(items)})
    return items


@router.get("/export.csv", response_class=Response, responses={200: {"content": {"text/csv": {}}}})
def export_actions(request: Request, session: DbSession, user: Reader) -> Response:
    """The whole action plan (as this user may see it) as CSV."""
    items = plan_items(session, user)
    audit(session, request, user, "export_action_plan", None, {"rows": len(items)})
    return csv_response(plan_rows_for_people(items), list(PLAN_COLUMNS), "action-plan.csv")


@router.post("", status_code=201, response_model=PlanActionRead)
def add_action(new: NewPlanAction, request: Request, session: DbSession, user: WorkingGroup) -> PlanActionRead:
    """Add an action by hand (e.g. from a multi-agency audit)."""
    return add_item(writer(session, request), user, new)


@router.patch("/{action_id}", response_model=PlanActionRead)
def change_action(action_id: RowId, change: PlanActionChange, request: Request, session: DbSession,
                  user: Updater) -> PlanActionRead:
    """The working group reassigns and re-dates; the owning agency records progress and completion."""
    return change_item(writer(session, request), user, action_id, change)


@router.post("/{action_id}/sign-off", response_model=PlanActionRead)
def sign_off_action(action_id: RowId, request: Request, session: DbSession, user: WorkingGroup) -> PlanActionRead:
    """The Rapid Review Working Group accepts the evidence: the action is done for good."""
    return sign_off_item(writer(session, request), user, action_id)
