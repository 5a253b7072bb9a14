"""A case's state kept in the read model with each step (see engine/case_view.py): written by the step's
activity in the step's transaction, read by the service instead of a workflow query."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import insert, update
from sqlmodel import Session, select

from engine.case_view import state_as_read
from engine.models import StoredState
from records.models import CaseStateView, Document

VIEWS = CaseStateView.__table__


def store_case_state(session: Session, reference: str, stored: StoredState, at: datetime) -> None:
    """Replace the workflow's stored state (in the step's transaction). Core statements: the old state, the step's
    largest value, is overwritten without being read and loaded into an object first (after the session's pending
    rows: the case's row, which the state's refers to, may be one of them)."""
    session.flush()
    connection = session.connection()
    values = {"stored": stored.model_dump_json(), "step_at": at}
    if not connection.execute(update(VIEWS).where(VIEWS.c.workflow_id == stored.workflow_id).values(values)).rowcount:
        connection.execute(insert(VIEWS).values(workflow_id=stored.workflow_id, case_reference=reference, **values))


def stored_case_state(session: Session, workflow_id: str, today: date) -> dict | None:
    """The state the workflow's query (the case's, or its practice review's) would answer on ``today``; None when
    no step has stored one (a workflow started before states were stored)."""
    kept = session.exec(select(CaseStateView.stored).where(CaseStateView.workflow_id == workflow_id)).first()
    if kept is None:
        return None
    stored = StoredState.model_validate_json(kept)
    keys = [d.key for d in stored.pending_documents]
    issued = set(session.exec(select(Document.key).where(Document.key.in_(keys))).all()) if keys else set()
    return state_as_read(stored, today, issued)
