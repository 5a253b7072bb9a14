"""Writing one audit row for a request: who (actor and role), what, which case, and the request id the log line
shares. Routes, pages and the services below them all write through this, so the rows are the same whichever
way a person came in."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from records.audit import append_audit
from records.models import User


@dataclass(frozen=True)
class AuditWriter:
    session: Session
    key: bytes
    request_id: str | None = None

    def write(self, user: User | None, action: str, reference: str | None, detail: dict) -> None:
        """Append one audit row and commit it."""
        append_audit(self.session, key=self.key, actor_id=user.id if user else None,
                     actor_role=user.role if user else "anonymous", action=action, case_reference=reference,
                     detail=detail, request_id=self.request_id)
        self.session.commit()
