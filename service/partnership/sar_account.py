"""The Safeguarding Adults Board's yearly account of its Safeguarding Adults Reviews, for its annual report.

Care Act 2014 Sch. 2 para 4(1): as soon as is feasible after the end of each financial year the SAB publishes a
report on, among other things, (d) the findings of the SARs it arranged that concluded in the year (whenever they
began), (e) the SARs ongoing at the end of the year, (f) what it did in the year to implement SARs' findings and
(g) where it decided in the year not to implement a finding, its reasons; para 4(2) names who receives a copy
(the text of para 4 as published on legislation.gov.uk, and SCIE's summary of it for SABs).

So the account is per financial year (April to March, named by the year it starts in). The findings, the decisions
not to implement and their reasons are the SAR workflows' own record (their state, live or archived): a board
arranges a handful of SARs a year, so each is read from there rather than copied into another table; what the board
did is its action plan's items raised from each SAR (source ``sar_recommendation``). The words of the report are the
board's to write: these are its facts.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel
from sqlmodel import select
from temporalio.service import RPCError

from engine.calendar import london_date
from engine.registry import REVIEW_TYPES
from records.errors import DomainError
from records.models import CaseRecord, PlanAction, User
from records.read_model import closed_on
from records.vocabulary import PLAN_DONE
from service.partnership.timeliness import Period

if TYPE_CHECKING:
    from service.cases.case_service import CaseService

SAR_TYPE = "safeguarding_adults_review"


class Declined(BaseModel):
    recommendation: str
    reasons: str


class SarEntry(BaseModel):
    reference: str
    pseudonym: str
    decision: str | None  # mandatory or discretionary (s44(1)-(3) or s44(4))
    decided_on: date | None
    commissioned_on: date | None
    reviewer: str | None
    published_on: date | None
    published_where: str | None
    findings: str | None
    recommendations: list[str]
    not_implemented: list[Declined]  # para 4(1)(g), with the board's reasons
    actions_raised: int  # para 4(1)(f): the action plan's items from this review
    actions_completed: int


class SarAccount(BaseModel):
    financial_year: int
    period: str
    referrals: int  # SAR referrals received in the year
    decided_mandatory: int
    decided_discretionary: int
    decided_not_met: int
    concluded: list[SarEntry]  # para 4(1)(d)
    ongoing: list[SarEntry]  # para 4(1)(e)
    actions_completed_in_year: int  # para 4(1)(f)
    actions_open_at_year_end: int


def last_financial_year() -> int:
    """The financial year the annual report is written about: the one that ended most recently."""
    today = london_date(datetime.now(UTC))
    return today.year - (2 if today.month < 4 else 1)


def _entry(record: CaseRecord, state: dict, actions: list[PlanAction]) -> SarEntry:
    commission, report, published = state.get("commission") or {}, state.get("report") or {}, state.get("published")
    recommendations = report.get("recommendations") or []
    declined = []
    for line in (published or {}).get("recommendations_not_implemented") or []:
        number, _, reasons = line.partition(":")
        if number.strip().isdigit() and 1 <= int(number) <= len(recommendations):
            declined.append(Declined(recommendation=recommendations[int(number) - 1], reasons=reasons.strip()))
    return SarEntry(
        reference=record.reference, pseudonym=record.pseudonym, decision=state.get("decision"),
        decided_on=state.get("decided_on"), commissioned_on=commission.get("commissioned_on"),
        reviewer=commission.get("reviewer"), published_on=(published or {}).get("published_on"),
        published_where=(published or {}).get("where"), findings=report.get("findings"),
        recommendations=recommendations, not_implemented=declined, actions_raised=len(actions),
        actions_completed=sum(a.status in PLAN_DONE for a in actions))


async def sar_account(cases: CaseService, user: User, financial_year: int) -> SarAccount:
    """The year's account, read from each SAR's own record; reading it is on the audit trail."""
    period = Period(financial_year, "financial")
    found = REVIEW_TYPES.get(SAR_TYPE)
    prefix = found.reference_prefix if found else "SAR"
    session = cases.session
    records = list(session.exec(select(CaseRecord).where(CaseRecord.reference.like(f"{prefix}-%"))
                                .order_by(CaseRecord.reference)))
    plan = list(session.exec(select(PlanAction).where(PlanAction.source == "sar_recommendation")))
    cases.audit(user, "read_sar_account", None, {"financial_year": financial_year})
    for record in records:  # each SAR's findings are read: on its own trail too
        cases.audit(user, "read_sar_account", record.reference, {"financial_year": financial_year})
    account = SarAccount(financial_year=financial_year, period=period.name, referrals=0, decided_mandatory=0,
                         decided_discretionary=0, decided_not_met=0, concluded=[], ongoing=[],
                         actions_completed_in_year=sum(period.holds(a.completed_on) for a in plan),
                         actions_open_at_year_end=sum(london_date(a.created_at) <= period.last
                                                      and (a.completed_on is None or a.completed_on > period.last)
                                                      for a in plan))
    closed = closed_on(session, [record.reference for record in records])
    for record in records:
        account.referrals += period.holds(record.opened_on)
        if record.opened_on > period.last:
            continue
        try:
            state = await cases.state(record)
        except (DomainError, RPCError):  # a case the engine cannot answer for is left out, not guessed
            continue
        decided_on = date.fromisoformat(state["decided_on"]) if state.get("decided_on") else None
        decision = state.get("decision")
        if period.holds(decided_on):
            setattr(account, f"decided_{decision}", getattr(account, f"decided_{decision}") + 1)
        if decision not in ("mandatory", "discretionary") or decided_on is None or decided_on > period.last:
            continue
        entry = _entry(record, state, [a for a in plan if a.case_reference == record.reference])
        if period.holds(entry.published_on):
            account.concluded.append(entry)
        elif entry.published_on is None or entry.published_on > period.last:
            # Ongoing at the year's end (para 4(1)(e)): not yet closed then, whatever happened to it since.
            if record.reference not in closed or closed[record.reference] > period.last:
                account.ongoing.append(entry)
    session.commit()
    return account
