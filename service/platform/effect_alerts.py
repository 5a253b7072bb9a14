"""A case whose step keeps failing: flagged on the case, e-mailed to the admins, counted by /readyz and /metrics.

A step (an activity) is retried until it succeeds, because a case's effects must never be dropped; while it
fails, the case waits with its lock held. After EFFECT_ALERT_ATTEMPTS attempts that must be visible to people,
not only in a log: the case record carries the step and the kind of error (never case text), every active
admin gets one e-mail per episode, and the flag clears when the step succeeds.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, func
from sqlmodel import Session, select

from engine.vocabulary import Role, case_reference_of
from records.db import session_scope
from records.models import CaseRecord, User
from records.outbox import enqueue

EFFECT_ALERT_ATTEMPTS = 5


def case_of(workflow_id: str) -> str:
    return case_reference_of(workflow_id)


def raise_effect_alert(engine: Engine, *, workflow_id: str, what: str, attempt: int, public_url: str) -> bool:
    """Flag the case and e-mail the admins, once per episode; True when this call raised it."""
    reference = case_of(workflow_id)
    with session_scope(engine) as session:
        record = session.get(CaseRecord, reference)
        if record is None or record.effect_failing is not None:
            return False
        record.effect_failing, record.effect_failing_since = what[:300], datetime.now(UTC)
        session.add(record)
        body = (f"A step of case {reference} has failed {attempt} times and is still being retried: {what}.\n"
                "The case waits until it succeeds (no action can be taken on it meanwhile). See the worker's log "
                f"(ALERT lines) and {public_url}/readyz; the case page shows the alert until the step succeeds.\n")
        alert_admins(session, key=f"effect-alert:{workflow_id}:{record.effect_failing_since.isoformat()}",
                     subject=f"ALERT: case {reference}: a step keeps failing", body=body, case_reference=reference)
    return True


def alert_admins(session: Session, *, key: str, subject: str, body: str, case_reference: str | None) -> None:
    """One e-mail to every active admin (``key`` + the admin's id keeps it to one per alert), in the caller's
    transaction."""
    for admin in session.exec(select(User).where(User.role == Role.admin, User.is_active == True)):  # noqa: E712
        enqueue(session, key=f"{key}:{admin.id}", to=admin, subject=subject, body=body, case_reference=case_reference)


def clear_effect_alert(engine: Engine, workflow_id: str) -> None:
    with session_scope(engine) as session:
        record = session.get(CaseRecord, case_of(workflow_id))
        if record is not None and record.effect_failing is not None:
            record.effect_failing = record.effect_failing_since = None
            session.add(record)


def count_failing(session: Session) -> int:
    return session.exec(select(func.count()).select_from(CaseRecord)
                        .where(CaseRecord.effect_failing.is_not(None))).one()
