"""The auditors' pages: the audit log in sentences (all cases, or one) with its filters and the chain check, and
each case's engine history as a technical page and a JSON download. Every reading is itself audited."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel
from sqlalchemy import not_, or_
from sqlmodel import Session, select

from records.models import AuditEvent, CaseRecord, User
from service import wording
from service.cases import CaseService, visible_case
from service.deps import AuditTrailDep, Cases, audit
from service.roles import AUDITORS
from service.web import PageSession, page_roles, render
from workflows.calendar import london_moment

router = APIRouter(include_in_schema=False)


AUDIT_LOG_LIMIT = 500  # rows per page of the log: narrow the filters to see older ones


class AuditFilters(BaseModel):
    """The log's filters from the page's GET parameters; a date that is not a real date is named, not guessed."""

    kind: Literal["all", "changes", "reads"] = "all"
    person: int | None = None
    start: date | None = None
    end: date | None = None
    problems: dict[str, str] = {}
    typed: dict[str, str] = {}

    @classmethod
    def from_query(cls, query) -> AuditFilters:
        kind = query.get("kind") if query.get("kind") in ("changes", "reads") else "all"
        person = int(query["person"]) if str(query.get("person", "")).isdigit() else None
        found, problems = {}, {}
        typed = {key: str(query.get(key, "")).strip()[:10] for key in
                 ("from-day", "from-month", "from-year", "to-day", "to-month", "to-year")}
        for side, name in (("from", "start"), ("to", "end")):
            day, month, year = (typed[f"{side}-{part}"] for part in ("day", "month", "year"))
            if not (day or month or year):
                continue
            try:
                found[name] = date(int(year), int(month), int(day))
            except ValueError:
                problems[side] = f"The {'start' if side == 'from' else 'end'} date must be a real date, like 2 12 2026"
        if found.get("start") and found.get("end") and found["end"] < found["start"]:
            problems["to"] = "The end date must be the same as or after the start date"
        return cls(kind=kind, person=person, problems=problems, typed=typed, **found)

    def as_detail(self) -> dict:
        """The filters as the audit row of this reading records them."""
        return {"show": self.kind, "person": self.person, "from": self.start and self.start.isoformat(),
                "to": self.end and self.end.isoformat()}


def audit_log(session: Session, filters: AuditFilters, reference: str | None = None) -> list[AuditEvent]:
    """The audit rows that match the filters, newest first (at most AUDIT_LOG_LIMIT)."""
    query = select(AuditEvent)
    if reference is not None:
        query = query.where(AuditEvent.case_reference == reference)
    reads = or_(*(AuditEvent.action.startswith(prefix, autoescape=True) for prefix in wording.READ_PREFIXES),
                AuditEvent.action.in_(wording.READ_ACTIONS))
    if filters.kind == "reads":
        query = query.where(reads)
    elif filters.kind == "changes":
        query = query.where(not_(reads))
    if filters.person is not None:
        query = query.where(AuditEvent.actor_id == filters.person)
    if filters.start is not None:
        query = query.where(AuditEvent.at >= london_moment(filters.start, 0))
    if filters.end is not None:
        query = query.where(AuditEvent.at < london_moment(filters.end + timedelta(days=1), 0))
    return list(session.exec(query.order_by(AuditEvent.id.desc()).limit(AUDIT_LOG_LIMIT)))


def log_entries(rows: list[AuditEvent], names: dict[int, str]) -> list[dict]:
    """Each row as people read it: when, which case, a sentence, and a short summary of its known fields."""
    entries = []
    for row in rows:
        details, others = wording.audit_details(json.loads(row.detail))
        who = names.get(row.actor_id, "The service") if row.actor_id else "The service"
        entries.append({"row": row, "read": wording.is_read(row.action), "details": details, "others": others,
                        "sentence": wording.audit_sentence(who, row.actor_role, row.action)})
    return entries


def audit_log_page(request: Request, session: Session, trail, user: User, reference: str | None) -> HTMLResponse:
    """The plain-language log (one case, or all) with its filters; reading it is itself audited."""
    filters = AuditFilters.from_query(request.query_params)
    rows = [] if filters.problems else audit_log(session, filters, reference)
    people = session.exec(select(User).order_by(User.full_name)).all()
    names = {person.id: person.full_name for person in people}
    records = [] if reference else session.exec(
        select(CaseRecord).order_by(CaseRecord.opened_on.desc(), CaseRecord.reference.desc())).all()
    session.commit()  # the check uses its own session: on SQLite an open transaction here would lock it out
    chain = trail.verify()
    audit(session, request, user, "read_audit_log", reference, {"page": "audit", **filters.as_detail()})
    return render(request, "audit_log.html", user, status_code=422 if filters.problems else 200,
                  reference=reference, entries=log_entries(rows, names), filters=filters, people=people,
                  chain=chain, records=records, limit=AUDIT_LOG_LIMIT)


@router.get("/audit")
def audit_index(request: Request, session: PageSession, trail: AuditTrailDep,
                user: Annotated[User, Depends(page_roles(*AUDITORS))]) -> HTMLResponse:
    """The audit log across all cases, its filters and the chain check (routine: the rows since the last intact
    check). A sync route, so the check runs in FastAPI's threadpool, off the event loop."""
    return audit_log_page(request, session, trail, user, None)


@router.get("/audit/{reference}")
def audit_case(reference: str, request: Request, session: PageSession, trail: AuditTrailDep,
               user: Annotated[User, Depends(page_roles(*AUDITORS))]) -> HTMLResponse:
    """One case's log (reads included), with links to its engine history (a technical view of its own)."""
    visible_case(session, user, reference)
    return audit_log_page(request, session, trail, user, reference)


async def readable_histories(cases: CaseService, reference: str) -> list[dict]:
    """The decoded engine histories of a case and of its practice review: live, else from the archive."""
    sources = {"temporal": "the engine", "archive": "the archive"}
    return [history | {"source": sources[history["source"]]} for history in await cases.histories(reference)]


@router.get("/audit/{reference}/history")
async def audit_history(reference: str, request: Request, cases: Cases,
                        user: Annotated[User, Depends(page_roles(*AUDITORS))]) -> HTMLResponse:
    """The technical view: every engine event of the case, decoded, each folded (audited as a read)."""
    cases.visible(user, reference)
    cases.audit(user, "read_history", reference, {"page": "engine history"})
    histories = await readable_histories(cases, reference)
    return render(request, "audit_history.html", user, reference=reference, histories=histories, json=json)


@router.get("/audit/{reference}/history.json")
async def audit_history_download(reference: str, request: Request, cases: Cases,
                                 user: Annotated[User, Depends(page_roles(*AUDITORS))]) -> Response:
    """The decoded engine histories as a JSON file (audited as a read)."""
    cases.visible(user, reference)
    cases.audit(user, "read_history", reference, {"page": "engine history", "format": "JSON"})
    histories = await readable_histories(cases, reference)
    return Response(json.dumps(histories, indent=1, default=str), media_type="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{reference}-engine-history.json"'})
