"""The escalation log's routes (the work is ``service/partnership/escalation_log.py``'s, which the page calls too)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from records.models import User
from records.vocabulary import EscalationStatus, one_of
from service.accounts.auth import require_roles
from service.accounts.roles import EXECUTIVES
from service.api.access import CaseActor, Reader, RowId, writer
from service.deps import DbSession
from service.partnership.escalation_log import (
    EscalationRead,
    EscalationResponse,
    NewEscalation,
    escalation_log,
    raise_concern,
    respond_to_concern,
)

router = APIRouter(prefix="/api/escalations", tags=["escalations"])
Executive = Annotated[User, Depends(require_roles(*EXECUTIVES))]


@router.get("", response_model=list[EscalationRead])
def list_escalations(
    request: Request, session: DbSession, user: Reader,
    status: Annotated[str | None, Query(pattern=one_of(EscalationStatus))] = None,
) -> list[EscalationRead]:
    """Oldest open first. Agency members see the escalations they raised."""
    return escalation_log(writer(session, request), user, status=status)


@router.post("", status_code=201, response_model=EscalationRead)
def raise_escalation(new: NewEscalation, request: Request, session: DbSession, user: CaseActor) -> EscalationRead:
    """Raise a strategic concern to the Executive."""
    return raise_concern(writer(session, request), user, new)


@router.post("/{escalation_id}/response", response_model=EscalationRead)
def respond(escalation_id: RowId, answer: EscalationResponse, request: Request, session: DbSession,
            user: Executive) -> EscalationRead:
    """The Executive's response and action (responded), or closing it."""
    return respond_to_concern(writer(session, request), user, escalation_id, answer)
