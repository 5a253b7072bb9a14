"""A case's state kept in the read model with each step (see engine/case_view.py): written by the step's
activity in the step's transaction, read by the service instead of a workflow query."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Session, select

from engine.case_view import state_as_read
from engine.models import StoredState
from records.models import CaseStateView, Document


def store_case_state(session: Session, reference: str, stored: StoredState, at: datetime) -> None:
    row = session.get(CaseStateView, stored.workflow_id) or CaseStateView(
        workflow_id=stored.workflow_id, case_reference=reference, stored="", step_at=at)
    row.stored, row.step_at = stored.model_dump_json(), at
    session.add(row)


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
