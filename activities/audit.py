"""The audit trail: append-only rows in a hash chain, and the walk that verifies it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import update
from sqlmodel import Session, select

from service.models import AuditEvent, AuditHead


def _canonical_time(moment: datetime) -> str:
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def row_hash(prev_hash: str, row: AuditEvent) -> str:
    """SHA-256 over the previous hash and every field of the row except its own hash."""
    body = json.dumps(
        [prev_hash, row.id, _canonical_time(row.at), row.actor_id, row.actor_role, row.action,
         row.case_reference, row.detail, row.request_id, row.event_key],
        separators=(",", ":"), ensure_ascii=False,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def append_audit(
    session: Session,
    *,
    actor_id: int | None,
    actor_role: str,
    action: str,
    detail: dict,
    case_reference: str | None = None,
    request_id: str | None = None,
    event_key: str | None = None,
    at: datetime | None = None,
) -> AuditEvent:
    """Add one row at the end of the chain (the caller's transaction commits it)."""
    # Take the chain's head first: the UPDATE locks it (PostgreSQL row lock, SQLite write lock),
    # so concurrent appends queue up instead of forking the chain.
    session.exec(update(AuditHead).where(AuditHead.id == 1).values(last_id=AuditHead.last_id))
    head = session.exec(select(AuditHead).where(AuditHead.id == 1).with_for_update()).one()
    session.refresh(head)
    row = AuditEvent(
        id=head.last_id + 1,
        at=at or datetime.now(UTC),
        actor_id=actor_id,
        actor_role=str(actor_role),
        action=action,
        case_reference=case_reference,
        detail=json.dumps(detail, sort_keys=True, ensure_ascii=False, default=str),
        request_id=request_id,
        event_key=event_key,
        prev_hash=head.last_hash,
        hash="",
    )
    row.hash = row_hash(head.last_hash, row)
    session.add(row)
    head.last_id, head.last_hash = row.id, row.hash
    session.add(head)
    session.flush()
    return row


@dataclass
class ChainCheck:
    intact: bool
    rows: int
    problems: list[str]

    def as_dict(self) -> dict:
        return {"intact": self.intact, "rows": self.rows, "problems": self.problems}


def verify_chain(session: Session) -> ChainCheck:
    """Walk the chain from the first row: a changed row breaks its hash, a deleted row leaves a gap
    in the ids and a broken link, and a removed tail no longer matches the head."""
    problems: list[str] = []
    prev_hash, expected_id, count = "0" * 64, 1, 0
    for row in session.exec(select(AuditEvent).order_by(AuditEvent.id)):
        count += 1
        if row.id != expected_id:
            problems.append(f"rows {expected_id}..{row.id - 1} are missing (deleted)")
        if row.prev_hash != prev_hash:
            problems.append(f"row {row.id} does not follow the row before it")
        if row_hash(row.prev_hash, row) != row.hash:
            problems.append(f"row {row.id} was changed after it was written")
        prev_hash, expected_id = row.hash, row.id + 1
    head = session.get(AuditHead, 1)
    if head is not None and (head.last_id != expected_id - 1 or head.last_hash != prev_hash):
        problems.append(f"the chain ends at row {expected_id - 1} but its head says row {head.last_id}")
    return ChainCheck(intact=not problems, rows=count, problems=problems)
