"""Every side effect of a case: read model, audit trail, tasks, documents, notifications."""

from __future__ import annotations

from sqlalchemy import Engine

from service.settings import Settings


def build_activities(engine: Engine, settings: Settings) -> list:
    """The activity callables the worker registers, bound to this process's database and stores."""
    from activities.case_step import CaseStepActivities
    from activities.documents import DocumentActivities
    from activities.working_calendar import CalendarActivities
    from service.temporal import codec_for

    return [
        CaseStepActivities(
            engine, settings.rapid_review_public_url, codec_for(settings),
            audit_key=settings.audit_key_bytes,
        ).apply_case_step,
        DocumentActivities(engine, settings.document_store(), settings.rapid_review_public_url).issue_document,
        CalendarActivities(engine).working_calendar,
    ]
