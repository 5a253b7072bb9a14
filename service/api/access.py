"""Who may see which case, who a task is for, and the audit row every route writes: one place for all routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request, status
from sqlmodel import Session

from records.audit import append_audit
from records.models import CaseAgency, CaseRecord, User
from service.audit_trail import AuditTrail
from service.auth import require_roles
from workflows.models import Actor
from workflows.vocabulary import CASE_ACTORS, CASE_READERS, Role

RowId = Annotated[int, Path(ge=1, le=2_147_483_647, description="A row id")]
Reader = Annotated[User, Depends(require_roles(*CASE_READERS))]
CaseActor = Annotated[User, Depends(require_roles(*CASE_ACTORS))]
Auditor = Annotated[User, Depends(require_roles(Role.auditor))]


def actor_of(user: User) -> Actor:
    """The workflow's view of the signed-in user (never taken from a request body)."""
    return Actor(user_id=user.id, name=user.full_name, role=user.role, agency=user.agency, seat=user.seat)


def request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


def audit_trail(request: Request) -> AuditTrail:
    """The app's audit chain (its database, key and anchors)."""
    return request.app.state.audit_trail


AuditTrailDep = Annotated[AuditTrail, Depends(audit_trail)]


def audit(session: Session, request: Request, user: User | None, action: str, reference: str | None,
          detail: dict) -> None:
    """Append one audit row (actor, role, action, case, what, request id) and commit it."""
    append_audit(session, key=audit_trail(request).key, actor_id=user.id if user else None,
                 actor_role=user.role if user else "anonymous", action=action, case_reference=reference,
                 detail=detail, request_id=request_id(request))
    session.commit()


def visible_case(session: Session, user: User, reference: str) -> CaseRecord:
    """The case, if this user may see it; 404 otherwise, so an agency cannot learn that other cases exist."""
    record = session.get(CaseRecord, reference)
    if record is not None and user.role == Role.agency_member:
        if session.get(CaseAgency, (reference, user.agency)) is None:
            record = None
    if record is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"No case {reference} that you can see")
    return record
