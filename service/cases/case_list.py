"""The case list: every case (open, closed and declined) that the roles who read all cases can search by reference
or pseudonym, filter by status, stage and year, sort and page through. The board shows the open ones at work; this
list is how a closed or declined case is found again. It reads the read model only, never Temporal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from sqlalchemy import func, or_
from sqlmodel import Session, select

from engine.vocabulary import Stage
from records.models import CaseRecord
from records.read_model import closed_on, declined_references
from records.vocabulary import case_reference

PER_PAGE = 25
SHORT_REFERENCE = re.compile(r"([A-Z]{2,6})-(\d{4})-(\d{1,6})", re.IGNORECASE)  # any kind of review's


class CaseStatus(StrEnum):
    open = "open"
    closed = "closed"  # closed after its referral was accepted
    declined = "declined"  # its referral was declined
    stopped = "stopped"  # the partners stopped its local CSPR (the record says so, with why, in the outcome)


class CaseOrder(StrEnum):
    newest = "newest"  # opened, newest first
    oldest = "oldest"
    reference = "reference"


ORDER_BY = {
    CaseOrder.newest: (CaseRecord.opened_on.desc(), CaseRecord.reference.desc()),
    CaseOrder.oldest: (CaseRecord.opened_on, CaseRecord.reference),
    CaseOrder.reference: (CaseRecord.reference,),
}


@dataclass(frozen=True)
class ListedCase:
    record: CaseRecord
    status: CaseStatus
    closed_on: date | None


@dataclass(frozen=True)
class CasePage:
    cases: list[ListedCase]
    total: int
    page: int
    pages: int
    years: list[int]  # the years that have cases, for the year filter


def as_reference(search: str) -> str:
    """A whole reference typed without its leading zeros ("rr-2026-7", "sar-2026-1") as the service writes it
    ("RR-2026-007", "SAR-2026-001"); anything else as typed."""
    search = search.strip()
    whole = SHORT_REFERENCE.fullmatch(search)
    return case_reference(int(whole.group(2)), int(whole.group(3)), whole.group(1).upper()) if whole else search


def find_cases(session: Session, *, search: str = "", status: CaseStatus | None = None, stage: Stage | None = None,
               year: int | None = None, order: CaseOrder = CaseOrder.newest, page: int = 1,
               per_page: int = PER_PAGE) -> CasePage:
    """One page of the cases that match (a page past the last, from a link kept from a longer list, is the last)."""
    declined = declined_references()
    query = select(CaseRecord)
    if search.strip():
        typed, whole = f"%{search.strip().lower()}%", f"%{as_reference(search).lower()}%"
        query = query.where(or_(func.lower(CaseRecord.reference).like(typed),
                                func.lower(CaseRecord.reference).like(whole),
                                func.lower(CaseRecord.pseudonym).like(typed)))
    if status == CaseStatus.open:
        query = query.where(CaseRecord.stage != Stage.closed)
    elif status == CaseStatus.closed:
        query = query.where(CaseRecord.stage == Stage.closed, CaseRecord.reference.not_in(declined),
                            CaseRecord.stopped.is_(False))
    elif status == CaseStatus.stopped:
        query = query.where(CaseRecord.stopped)
    elif status == CaseStatus.declined:
        query = query.where(CaseRecord.reference.in_(declined))
    if stage is not None:
        query = query.where(CaseRecord.stage == stage)
    if year is not None:
        query = query.where(CaseRecord.year == year)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    pages = max(1, -(-total // per_page))
    page = min(page, pages)
    records = session.exec(query.order_by(*ORDER_BY[order]).offset((page - 1) * per_page).limit(per_page)).all()
    references = [r.reference for r in records]
    declined_here = set(session.exec(declined_references(references)).all())
    closed = closed_on(session, references)
    listed = [ListedCase(record=r, closed_on=closed.get(r.reference),
                         status=CaseStatus.declined if r.reference in declined_here
                         else CaseStatus.stopped if r.stopped
                         else CaseStatus.closed if r.stage == Stage.closed else CaseStatus.open) for r in records]
    years = sorted(session.exec(select(CaseRecord.year).distinct()).all(), reverse=True)
    return CasePage(cases=listed, total=total, page=page, pages=pages, years=years)
