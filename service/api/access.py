"""Who may call which route (role aliases built from the vocabulary's role sets) and the audit row every route
writes: one place for all routes. Who may see which case is the case service's (``service/cases.py``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request
from sqlmodel import Session

from records.models import User
from service.audit_rows import AuditWriter
from service.auth import require_roles
from service.cases import actor_of, visible_case  # noqa: F401 - the routes' names for the case service's checks
from service.deps import AuditTrailDep, audit_trail, request_id  # noqa: F401 - routes read them from here too
from workflows.vocabulary import CASE_ACTORS, CASE_READERS, Role

RowId = Annotated[int, Path(ge=1, le=2_147_483_647, description="A row id")]
Reader = Annotated[User, Depends(require_roles(*CASE_READERS))]
CaseActor = Annotated[User, Depends(require_roles(*CASE_ACTORS))]
Auditor = Annotated[User, Depends(require_roles(Role.auditor))]


def writer(session: Session, request: Request) -> AuditWriter:
    """This request's audit writer (its session, the chain's key, the request id)."""
    return AuditWriter(session, audit_trail(request).key, request_id(request))


def audit(session: Session, request: Request, user: User | None, action: str, reference: str | None,
          detail: dict) -> None:
    """Append one audit row (actor, role, action, case, what, request id) and commit it."""
    writer(session, request).write(user, action, reference, detail)
