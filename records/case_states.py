"""A case's state kept in the read model with each step (see workflows/case_view.py): written by the step's
activity in the step's transaction, read by the service instead of a workflow query."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Session, select

from records.models import CaseStateView, Document
from workflows.case_view import state_as_read
from workflows.models import StoredState


def store_case_state(session: Session, reference: str, stored: StoredState, at: datetime) -> None:
    row = session.get(CaseStateView, stored.workflow_id) or CaseStateView(
        workflow_id=stored.workflow_id, case_reference=reference, stored="", step_at=at)
    row.stored, row.step_at = stored.model_dump_json(), at
    session.add(row)


def stored_case_state(session: Session, workflow_id: str, today: date) -> dict | None:
    """The state the workflow's query (the case's, or its practice review's) would answer on ``today``; None when
    no step has stored one (a workflow started before states were stored)."""
    row = session.get(CaseStateView, workflow_id)
    if row is None:
        return None
    stored = StoredState.model_validate_json(row.stored)
    keys = [d.key for d in stored.pending_documents]
    issued = set(session.exec(select(Document.key).where(Document.key.in_(keys))).all()) if keys else set()
    return state_as_read(stored, today, issued)
