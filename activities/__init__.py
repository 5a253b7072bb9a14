"""Every side effect of a case: read model, audit trail, tasks, documents, notifications."""

from __future__ import annotations

from sqlalchemy import Engine

from activities.rendering import Renderer
from records.codec import EncryptionCodec
from records.object_store import ObjectStore


def build_activities(engine: Engine, *, public_url: str, codec: EncryptionCodec, audit_key: bytes,
                     document_store: ObjectStore, renderer: Renderer) -> list:
    """The activity callables the worker registers, bound to this process's database and stores (the worker
    passes them from its settings: the activities read no settings of their own)."""
    from activities.case_step import CaseStepActivities
    from activities.documents import DocumentActivities
    from activities.working_calendar import CalendarActivities

    return [
        CaseStepActivities(engine, public_url, codec, audit_key=audit_key).apply_case_step,
        DocumentActivities(engine, document_store, public_url, renderer).issue_document,
        CalendarActivities(engine).working_calendar,
    ]
