"""The auditors' pages: the audit log in sentences (all cases, or one) with its filters and the chain check, and
each case's engine history as a technical page and a JSON download. Every reading is itself audited."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel
from sqlalchemy import func, not_, or_
from sqlmodel import Session, select

from engine.calendar import london_moment
from records.audit import READ_ACTIONS, READ_PREFIXES, is_read
from records.errors import InvalidInput
from records.models import AuditEvent, CaseRecord, User
from service.accounts.roles import AUDITORS
from service.cases.case_service import CaseService
from service.cases.visibility import visible_case
from service.deps import AuditTrailDep, Cases, audit
from service.platform.http_csv import csv_response
from service.web import wording
from service.web.pages import PageSession, page_roles, render

router = APIRouter(include_in_schema=False)


PAGE_SIZE = 50  # rows per page of the log: a page an auditor can read, not one 23,000 px scroll
DOWNLOAD_LIMIT = 50_000  # rows in one CSV download of the log: narrow the filters for more


class AuditFilters(BaseModel):
    """The log's filters from the page's GET parameters; a date that is not a real date is named, not guessed."""

    kind: Literal["all", "changes", "reads"] = "all"
    person: int | None = None
    page: int = 1
    start: date | None = None
    end: date | None = None
    problems: dict[str, str] = {}
    typed: dict[str, str] = {}

    @classmethod
    def from_query(cls, query) -> AuditFilters:
        kind = query.get("kind") if query.get("kind") in ("changes", "reads") else "all"
        person = int(query["person"]) if str(query.get("person", "")).isdigit() else None
        page = max(1, min(int(query["page"]), 1_000_000)) if str(query.get("page", ""))[:7].isdigit() else 1
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
        return cls(kind=kind, person=person, page=page, problems=problems, typed=typed, **found)

    def as_detail(self) -> dict:
        """The filters as the audit row of this reading records them."""
        return {"show": self.kind, "person": self.person, "from": self.start and self.start.isoformat(),
                "to": self.end and self.end.isoformat()}

    def query_for(self, page: int) -> str:
        """The filters as a query string, on another page (the pagination's links keep them)."""
        parts = {"kind": self.kind if self.kind != "all" else "", "person": self.person or "",
                 **{key: value for key, value in self.typed.items() if value}, "page": page}
        return urlencode({key: value for key, value in parts.items() if value not in ("", None)})


def is_read_row():
    """The SQL test for a read (opening, listing, downloading), as records/audit.py's is_read says it."""
    return or_(*(AuditEvent.action.startswith(prefix, autoescape=True) for prefix in READ_PREFIXES),
               AuditEvent.action.in_(READ_ACTIONS))


def matching(filters: AuditFilters, reference: str | None = None):
    """The conditions of the audit rows that match the filters (one case's, or all)."""
    conditions = []
    if reference is not None:
        conditions.append(AuditEvent.case_reference == reference)
    if filters.kind == "reads":
        conditions.append(is_read_row())
    elif filters.kind == "changes":
        conditions.append(not_(is_read_row()))
    if filters.person is not None:
        conditions.append(AuditEvent.actor_id == filters.person)
    if filters.start is not None:
        conditions.append(AuditEvent.at >= london_moment(filters.start, 0))
    if filters.end is not None:
        conditions.append(AuditEvent.at < london_moment(filters.end + timedelta(days=1), 0))
    return conditions


def audit_log(session: Session, filters: AuditFilters, reference: str | None = None,
              limit: int = PAGE_SIZE) -> tuple[list[AuditEvent], int]:
    """One page of the audit rows that match the filters, newest first, and how many match in all."""
    conditions = matching(filters, reference)
    total = session.exec(select(func.count()).select_from(AuditEvent).where(*conditions)).one()
    rows = session.exec(select(AuditEvent).where(*conditions).order_by(AuditEvent.id.desc())
                        .offset((filters.page - 1) * limit).limit(limit))
    return list(rows), total


@dataclass
class Look:
    """One person's reads of a case: who, in which role, first and last look, how many, and what."""

    name: str
    role: str
    first: datetime
    last: datetime
    count: int = 0
    what: list[str] = field(default_factory=list)


def who_saw(session: Session, reference: str) -> list[Look]:
    """Who read a case, one line per person and role (not one per page view), most recent look first."""
    grouped = session.exec(
        select(AuditEvent.actor_id, AuditEvent.actor_role, AuditEvent.action, func.min(AuditEvent.at),
               func.max(AuditEvent.at), func.count())
        .where(AuditEvent.case_reference == reference, is_read_row())
        .group_by(AuditEvent.actor_id, AuditEvent.actor_role, AuditEvent.action)).all()
    names = {user.id: user.full_name for user in session.exec(select(User))}
    looks: dict[tuple, Look] = {}
    for actor_id, role, action, first, last, count in grouped:
        look = looks.setdefault((actor_id, role), Look(names.get(actor_id, "The service"), wording.label(role),
                                                       first, last))
        look.first, look.last, look.count = min(look.first, first), max(look.last, last), look.count + count
        look.what.append(wording.AUDIT_VERBS.get(action, wording.label(action)))
    return sorted(looks.values(), key=lambda look: look.last, reverse=True)


def log_entries(rows: list[AuditEvent], names: dict[int, str]) -> list[dict]:
    """Each row as people read it: when, which case, a sentence, and a short summary of its known fields."""
    entries = []
    for row in rows:
        detail = json.loads(row.detail)
        details, others = wording.audit_details(detail)
        who = names.get(row.actor_id, "The service") if row.actor_id else "The service"
        entries.append({"row": row, "read": is_read(row.action), "details": details, "others": others,
                        "sentence": wording.audit_sentence(who, row.actor_role, row.action, detail)})
    return entries


def audit_log_page(request: Request, session: Session, trail, user: User, reference: str | None) -> HTMLResponse:
    """The plain-language log (one case, or all) with its filters, a page at a time, and for one case who saw it;
    reading it is itself audited."""
    filters = AuditFilters.from_query(request.query_params)
    rows, total = ([], 0) if filters.problems else audit_log(session, filters, reference)
    people = session.exec(select(User).order_by(User.full_name)).all()
    names = {person.id: person.full_name for person in people}
    records = [] if reference else session.exec(
        select(CaseRecord).order_by(CaseRecord.opened_on.desc(), CaseRecord.reference.desc())).all()
    looks = who_saw(session, reference) if reference else []
    session.commit()  # the check uses its own session: on SQLite an open transaction here would lock it out
    chain = trail.verify()
    audit(session, request, user, "read_audit_log", reference, {"page": "audit", **filters.as_detail(),
                                                                        "log_page": filters.page})
    pages = max(1, -(-total // PAGE_SIZE))
    return render(request, "audit_log.html", user, status_code=422 if filters.problems else 200,
                  reference=reference, entries=log_entries(rows, names), filters=filters, people=people,
                  chain=chain, records=records, total=total, pages=pages, looks=looks,
                  first_shown=(filters.page - 1) * PAGE_SIZE + 1, here=f"/audit/{reference}" if reference else "/audit")


def log_rows(entries: list[dict], people: dict[int, User]) -> list[dict]:
    """The log as a spreadsheet people read: the moment in words, the person, the sentence and its details."""
    rows = []
    for entry in entries:
        row, actor = entry["row"], people.get(entry["row"].actor_id)
        rows.append({"When": wording.date_and_time(row.at), "Case": row.case_reference or "No case",
                     "Person": actor.full_name if actor else "The service", "Role": wording.label(row.actor_role),
                     "What happened": entry["sentence"], "Read or change": "Read" if entry["read"] else "Change",
                     "Details": "; ".join(f"{name}: {value}" for name, value in entry["details"])})
    return rows


def log_download(request: Request, session: Session, user: User, reference: str | None) -> Response:
    """The log with the page's filters, every page, as CSV for a spreadsheet (audited as a download)."""
    filters = AuditFilters.from_query(request.query_params).model_copy(update={"page": 1})
    if filters.problems:
        raise InvalidInput("; ".join(filters.problems.values()))
    rows, _ = audit_log(session, filters, reference, limit=DOWNLOAD_LIMIT)
    people = {person.id: person for person in session.exec(select(User))}
    table = log_rows(log_entries(rows, {i: p.full_name for i, p in people.items()}), people)
    audit(session, request, user, "export_audit_log", reference, {"rows": len(table), **filters.as_detail()})
    return csv_response(table, list(LOG_COLUMNS), f"{reference or 'all-cases'}-audit-log.csv")


@router.get("/audit.csv")
def audit_index_csv(request: Request, session: PageSession,
                    user: Annotated[User, Depends(page_roles(*AUDITORS))]) -> Response:
    """The log across all cases, filtered as the page is, as CSV."""
    return log_download(request, session, user, None)


@router.get("/audit/{reference}/log.csv")
def audit_case_csv(reference: str, request: Request, session: PageSession,
                   user: Annotated[User, Depends(page_roles(*AUDITORS))]) -> Response:
    """One case's log, filtered as the page is, as CSV."""
    visible_case(session, user, reference)
    return log_download(request, session, user, reference)


@router.get("/audit/{reference}/who-saw.csv")
def who_saw_csv(reference: str, request: Request, session: PageSession,
                user: Annotated[User, Depends(page_roles(*AUDITORS))]) -> Response:
    """Who saw the case, one row per person, as CSV (audited as a download)."""
    visible_case(session, user, reference)
    looks = who_saw(session, reference)
    table = [{"Person": look.name, "Role": look.role, "First look": wording.date_and_time(look.first),
              "Last look": wording.date_and_time(look.last), "Times": look.count,
              "What they looked at": "; ".join(look.what)} for look in looks]
    audit(session, request, user, "export_who_saw", reference, {"rows": len(table)})
    return csv_response(table, list(WHO_SAW_COLUMNS), f"{reference}-who-saw.csv")


LOG_COLUMNS = ("When", "Case", "Person", "Role", "What happened", "Read or change", "Details")
WHO_SAW_COLUMNS = ("Person", "Role", "First look", "Last look", "Times", "What they looked at")


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
