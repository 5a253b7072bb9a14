"""The record: a case's timeline (its audit rows), its decoded Temporal history, and the chain check."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel
from sqlmodel import select

from engine.vocabulary import Role
from records.audit import DENIED
from records.models import CHANGE_ROWS, AuditEvent, User
from service.accounts.auth import require_roles
from service.accounts.roles import CHAIN_CHECKERS
from service.api.access import Auditor, AuditTrailDep, Reader, audit, visible_case
from service.cases.visibility import LINKED_CASE, timeline_detail_for
from service.deps import Cases, DbSession

router = APIRouter(prefix="/api", tags=["audit"])


class TimelineEntry(BaseModel):
    id: int
    at: datetime
    actor: str
    actor_role: str
    action: str
    detail: dict
    request_id: str | None


@router.get("/cases/{reference}/timeline", response_model=list[TimelineEntry])
def case_timeline(
    reference: str,
    request: Request,
    session: DbSession,
    user: Reader,
    include_reads: Annotated[bool, Query(description="Also show who read the case (auditors only)")] = False,
) -> list[TimelineEntry]:
    """Everything that happened to the case, oldest first, with who did it."""
    visible_case(session, user, reference)
    show_reads = include_reads and user.role == Role.auditor
    query = select(AuditEvent, User).join(User, User.id == AuditEvent.actor_id, isouter=True).where(
        AuditEvent.case_reference == reference)
    if not show_reads:  # the changes alone, from their own index: a case read 100,000 times costs nothing more
        query = query.where(CHANGE_ROWS)
    entries = [timeline_entry(user, event, actor) for event, actor in session.exec(query.order_by(AuditEvent.id))
               if not (user.role == Role.agency_member and event.action in LINKED_CASE)]
    audit(session, request, user, "read_timeline", reference, {"include_reads": show_reads})
    return entries


def timeline_entry(user: User, event: AuditEvent, actor: User | None) -> TimelineEntry:
    return TimelineEntry(id=event.id, at=event.at, actor=actor.full_name if actor else "the service",
                         actor_role=event.actor_role, action=event.action, request_id=event.request_id,
                         detail=timeline_detail_for(user.role, user.agency, event.action, json.loads(event.detail),
                                                    actor.agency if actor else None))


@router.get("/cases/{reference}/audit", response_model=list[TimelineEntry])
def case_audit(
    reference: str,
    request: Request,
    session: DbSession,
    user: Auditor,
    outcome: Annotated[Literal["all", "denied"], Query(
        description="`denied`: only the refused requests that named this case (who was refused it, when, where)"
    )] = "all",
) -> list[TimelineEntry]:
    """The case's whole audit trail for its auditor, reads and refusals included, oldest first."""
    visible_case(session, user, reference)
    query = select(AuditEvent, User).join(User, User.id == AuditEvent.actor_id, isouter=True).where(
        AuditEvent.case_reference == reference)
    if outcome == "denied":
        query = query.where(AuditEvent.action == DENIED)
    entries = [timeline_entry(user, event, actor) for event, actor in session.exec(query.order_by(AuditEvent.id))]
    audit(session, request, user, "read_case_audit", reference, {"outcome": outcome})
    return entries


class WorkflowHistory(BaseModel):
    workflow_id: str
    source: str  # "temporal" (live, and now archived) or "archive" (Temporal no longer has it)
    event_count: int
    events: list[dict]


@router.get("/cases/{reference}/history", response_model=list[WorkflowHistory])
async def case_history(reference: str, cases: Cases, user: Auditor) -> list[WorkflowHistory]:
    """The decoded Temporal event history of the case's workflow and of its practice review, if any."""
    cases.visible(user, reference)
    cases.audit(user, "read_history", reference, {})
    return [WorkflowHistory(workflow_id=found["workflow_id"], source=found["source"], event_count=len(found["events"]),
                            events=found["events"]) for found in await cases.histories(reference, archive=True)]


@router.get("/audit/verify")
def verify_audit_chain(
    request: Request,
    session: DbSession,
    trail: AuditTrailDep,
    user: Annotated[User, Depends(require_roles(*CHAIN_CHECKERS))],
    full: Annotated[bool, Query(description="Walk from row 1 instead of from the last verified row")] = False,
) -> dict:
    """Verify the audit chain against its key and its anchors: intact, or where it was changed or cut.
    Routine checks walk the rows since the last intact check; ``full=true`` walks them all. A sync route:
    FastAPI runs it in a thread, so a long walk never stalls the event loop."""
    session.commit()  # the check uses its own session: on SQLite an open transaction here would lock it out
    result = trail.verify(full=full).as_dict()
    audit(session, request, user, "verify_audit_chain", None,
          {"intact": result["intact"], "rows": result["rows"], "full": result["full"]})
    return result
