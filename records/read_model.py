"""The case read model, written from workflow snapshots: one row per case with its invited agencies and themes,
its CSPR, the stages it entered and when, and the actions it raised for the action plan."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date, datetime

from sqlalchemy import delete, insert
from sqlmodel import Session, select

from engine.calendar import london_date
from engine.models import CaseSnapshot, PlanActionSpec, ReviewSnapshot
from engine.vocabulary import THEMES, Stage
from records.models import (
    AuditEvent,
    CaseAgency,
    CaseRecord,
    CaseReview,
    CaseTheme,
    PlanAction,
    StageEntry,
    Theme,
)

# The actions that decide a referral; the case's own step writes each to the audit trail under its name.
REFERRAL_DECISIONS = ("accept_referral", "decline_referral")


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
    session.flush()  # (the case's row before its invitations, which refer to it)
    invite_agencies(session, snapshot.reference, snapshot.invited_agencies)
    for position, theme in enumerate(dict.fromkeys(snapshot.themes)):  # the panel's, in its order; hand tags stay
        row = session.get(CaseTheme, (snapshot.reference, theme))
        if row is None:
            session.add(CaseTheme(case_reference=snapshot.reference, theme=theme, position=position))
        elif row.position is None:
            row.position = position  # tagged by hand before the panel chose it: the panel's place wins
            session.add(row)
    return record


INVITED = CaseAgency.__table__


def invite_agencies(session: Session, reference: str, agencies: list[str]) -> None:
    """The case's invited agencies are these: rows only for the invitations that changed (most steps change none,
    and every step of the case passes through here)."""
    connection = session.connection()
    invited = set(connection.execute(select(INVITED.c.agency).where(INVITED.c.case_reference == reference)).scalars())
    if gone := invited.difference(agencies):
        connection.execute(delete(INVITED).where(INVITED.c.case_reference == reference, INVITED.c.agency.in_(gone)))
    if new := [agency for agency in dict.fromkeys(agencies) if agency not in invited]:
        connection.execute(insert(INVITED), [{"case_reference": reference, "agency": agency} for agency in new])


def panel_ordered_themes_of(session: Session, reference: str | None = None) -> dict[str, list[str]]:
    """Every case's themes in the panel's order (or the one case named), read in one query."""
    query = select(CaseTheme)
    if reference is not None:
        query = query.where(CaseTheme.case_reference == reference)
    found: dict[str, list[str]] = {}
    for row in sorted(session.exec(query), key=lambda r: (r.position is None, r.position or 0, r.theme)):
        found.setdefault(row.case_reference, []).append(row.theme)
    return found


def upsert_review(session: Session, review: ReviewSnapshot, at: datetime) -> CaseReview:
    record = session.get(CaseReview, review.case_reference) or CaseReview(
        case_reference=review.case_reference, stage=review.stage, decided_on=review.decided_on)
    values = review.model_dump(exclude={"methods", "recommendations"})
    for name, value in values.items():
        setattr(record, name, value)
    record.methods_json, record.recommendations_json = json.dumps(review.methods), json.dumps(review.recommendations)
    record.updated_at = at
    session.add(record)
    return record


def record_stage_entries(session: Session, step, case_was: str | None, review_was: str | None) -> None:
    """A row for each stage the case or its review has just entered (medians per stage are read from these)."""
    day = london_date(step.at)
    if step.snapshot is not None and step.snapshot.stage != case_was:
        session.add(StageEntry(case_reference=step.case_reference, process="case", stage=step.snapshot.stage,
                               entered_on=day, step_key=f"{step.key}:case"))
    if step.review is not None and step.review.stage != review_was:
        session.add(StageEntry(case_reference=step.case_reference, process="review", stage=step.review.stage,
                               entered_on=day, step_key=f"{step.key}:review"))


def raise_plan_actions(session: Session, case_reference: str, specs: list[PlanActionSpec]) -> None:
    """Actions for the one action plan, once each (the key is the panel or report item)."""
    for spec in specs:
        if session.exec(select(PlanAction.id).where(PlanAction.source_key == spec.key)).first() is None:
            session.add(PlanAction(source_key=spec.key, case_reference=case_reference, source=spec.source,
                                   description=spec.description, due_date=spec.due))


def theme_rows(session: Session, year: int | None = None) -> tuple[list[int], list[dict]]:
    """Every theme (the partnership's list first, then those it added, then any other tagged) with its
    count per year and the cases that raised it."""
    query = select(CaseTheme.theme, CaseRecord.reference, CaseRecord.year).join(
        CaseRecord, CaseRecord.reference == CaseTheme.case_reference)
    if year is not None:
        query = query.where(CaseRecord.year == year)
    counts: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    references: dict[str, list[str]] = defaultdict(list)
    for theme, reference, case_year in session.exec(query):
        counts[theme][case_year] += 1
        references[theme].append(reference)
    added = list(session.exec(select(Theme.name).order_by(Theme.name)))
    ordered = list(dict.fromkeys([*THEMES, *added, *sorted(counts)]))
    years = sorted({y for per_year in counts.values() for y in per_year})
    rows = [{"theme": t, "controlled": t in THEMES, "counts": dict(counts[t]), "total": sum(counts[t].values()),
             "references": sorted(references[t])} for t in ordered]
    return years, rows


def declined_references(among: list[str] | None = None):
    """The references of the cases (``among`` these) whose referral was declined, as a query: a declined case is
    closed like any other, and only the decision its step wrote to the audit trail tells the two apart."""
    query = select(AuditEvent.case_reference).where(AuditEvent.action == "decline_referral")
    return query if among is None else query.where(AuditEvent.case_reference.in_(among))


def referral_decisions(session: Session, references: list[str]) -> dict[str, dict[str, date]]:
    """For each case, the day (in London) its referral was accepted or declined: {reference: {action: day}}."""
    found: dict[str, dict[str, date]] = defaultdict(dict)
    if references:
        rows = session.exec(select(AuditEvent.case_reference, AuditEvent.action, AuditEvent.at).where(
            AuditEvent.case_reference.in_(references), AuditEvent.action.in_(REFERRAL_DECISIONS)))
        for reference, action, at in rows:
            found[reference].setdefault(action, london_date(at))
    return found


def closed_on(session: Session, references: list[str]) -> dict[str, date]:
    """The day each of these cases closed (the read model keeps when each stage was entered)."""
    if not references:
        return {}
    rows = session.exec(select(StageEntry.case_reference, StageEntry.entered_on).where(
        StageEntry.case_reference.in_(references), StageEntry.process == "case", StageEntry.stage == Stage.closed)
        .order_by(StageEntry.entered_on, StageEntry.id))
    return dict(rows.all())  # a case reopened and closed again: its last closure
