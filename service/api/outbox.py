"""The outbox, readable in the service: what e-mails were sent or wait to be sent (admins)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlmodel import select

from records.models import OutboxMessage, User
from records.vocabulary import OutboxStatus, one_of
from service.accounts.auth import require_roles
from service.accounts.roles import ADMINS
from service.deps import DbSession

router = APIRouter(prefix="/api", tags=["outbox"])


class OutboxRead(BaseModel):
    id: int
    case_reference: str | None
    to_address: str
    subject: str
    body: str
    has_calendar_invitation: bool
    status: str
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    provider_reference: str | None = Field(None, description="GOV.UK Notify's id for the message (Notify only)")
    delivery_status: str | None = Field(None, description="Notify's latest receipt: created, sending, delivered, "
                                                          "permanent-failure, ... (Notify only)")
    last_attempt_at: datetime | None = Field(None, description="When the latest attempt began (attempts counts "
                                                               "each one, also one whose sender stopped mid-send)")
    message_id: str | None = Field(None, description="The message's id on every attempt: its SMTP Message-ID, or the "
                                                     "reference sent to Notify")


@router.get("/outbox", response_model=list[OutboxRead])
def list_outbox(
    session: DbSession,
    user: Annotated[User, Depends(require_roles(*ADMINS))],
    status: Annotated[str | None, Query(pattern=one_of(OutboxStatus))] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> list[OutboxRead]:
    """Newest first; e-mails never carry case content, so an admin may read them."""
    query = select(OutboxMessage).order_by(OutboxMessage.id.desc()).offset(offset).limit(limit)
    if status:
        query = query.where(OutboxMessage.status == status)
    return [OutboxRead(**m.model_dump(exclude={"ics", "key", "to_user_id", "next_attempt_at"}),
                       has_calendar_invitation=bool(m.ics)) for m in session.exec(query)]
