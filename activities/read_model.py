"""The case read model: one row per case and its invited agencies, written from workflow snapshots."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlmodel import Session

from service.models import CaseAgency, CaseRecord, CaseTheme
from workflows.models import CaseSnapshot

SNAPSHOT_FIELDS = tuple(CaseSnapshot.model_fields)


def upsert_case(session: Session, snapshot: CaseSnapshot, at: datetime, referrer: dict | None = None) -> CaseRecord:
    record = session.get(CaseRecord, snapshot.reference)
    values = snapshot.model_dump(exclude={"invited_agencies", "themes"})
    if record is None:
        record = CaseRecord(**values, year=snapshot.opened_on.year, updated_at=at, **(referrer or {}))
    else:
        for name, value in values.items():
            setattr(record, name, value)
        record.updated_at = at
    session.add(record)
    session.flush()
    session.exec(delete(CaseAgency).where(CaseAgency.case_reference == snapshot.reference))
    for agency in snapshot.invited_agencies:
        session.add(CaseAgency(case_reference=snapshot.reference, agency=agency))
    session.exec(delete(CaseTheme).where(CaseTheme.case_reference == snapshot.reference))
    for theme in dict.fromkeys(snapshot.themes):
        session.add(CaseTheme(case_reference=snapshot.reference, theme=theme))
    return record
