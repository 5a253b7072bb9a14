"""Cases the engine does not have: shown as such, never as live, never as a bare error.

A case is in the read model from its first step; its workflow lives in Temporal. If the engine loses its
state (an in-memory server stopped, a restored database without the engine's files) or the service points at
another cluster (`TEMPORAL_ADDRESS`, `TEMPORAL_NAMESPACE`), an open case has no workflow: nobody can act on
it, and pretending otherwise (tasks in digests, a 404 "no workflow") hides the loss. Such a case is marked
``workflow_missing_since`` when the engine says NOT_FOUND, and cleared when the workflow answers again (the
checks are service/platform/engine_watch.py's, which also finds a workflow changed outside the service).

A closed case whose workflow passed the engine's retention is not orphaned: its state comes from the history
archive (the last state a workflow update returned).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import Engine, update
from sqlmodel import Session, func, select

from records.db import session_scope
from records.history import archived_history
from records.models import CaseRecord

log = logging.getLogger(__name__)


def orphan_detail(reference: str, address: str | None, namespace: str) -> str:
    """What a person (or a partner system) is told about a case whose workflow is missing."""
    return (f"Case {reference} is orphaned: the Temporal server at {address or 'the configured address'} "
            f"(namespace {namespace!r}) has no workflow for it, so no action can be taken and its deadlines are "
            "not being watched. Its record, tasks, documents and audit trail are kept. An administrator must "
            "restore the engine's data (the embedded default keeps it in var/temporal.db) or point the service "
            "back at the Temporal server that holds it.")


def mark_workflow_missing(engine: Engine, reference: str, missing: bool) -> None:
    """Record (or clear) that the engine has no workflow for this case; only an actual change is written."""
    with session_scope(engine) as session:
        column = CaseRecord.workflow_missing_since
        condition = column.is_(None) if missing else column.is_not(None)
        session.exec(update(CaseRecord).where(CaseRecord.reference == reference, condition)
                     .values(workflow_missing_since=datetime.now(UTC) if missing else None))


def count_orphaned(session: Session) -> int:
    return session.exec(select(func.count()).select_from(CaseRecord)
                        .where(CaseRecord.workflow_missing_since.is_not(None))).one()


def state_from_archive(session: Session, reference: str) -> dict | None:
    """A closed case's last state, from its archived history: the result of the last accepted update."""
    events = archived_history(session, reference)
    for event in reversed(events or []):
        if event["type"] == "workflow_execution_update_completed":
            payloads = event["attributes"].get("outcome", {}).get("success", {}).get("payloads") or []
            if payloads and isinstance(payloads[0], dict) and "stage" in payloads[0]:
                return {**payloads[0], "source": "archive"}
    return None
