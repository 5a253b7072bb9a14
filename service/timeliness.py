"""Proof of timeliness, for the annual report and for inspection: per year and quarter, read from the read
model only (cases, CSPRs, stage entries, the action plan). Working days come from the partnership's calendar."""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import date

from pydantic import BaseModel
from sqlalchemy import or_
from sqlmodel import Session, select

from records.models import CaseRecord, CaseReview, PlanAction, StageEntry
from workflows.calendar import WorkingDayCalendar

DONE = ("completed", "signed_off")


class Quarter(BaseModel):
    year: int
    quarter: int  # 1..4: January-March is 1
    referrals: int = 0
    notifications: int = 0
    rapid_reviews_submitted: int = 0
    submitted_within_15_working_days: int = 0
    share_within_15_working_days: float | None = None
    cspr_completed: int = 0
    cspr_completed_within_6_months: int = 0
    actions_due: int = 0
    actions_completed_on_time: int = 0


class StageMedian(BaseModel):
    process: str  # case or review
    stage: str
    cases: int
    median_working_days: float


class Timeliness(BaseModel):
    year: int
    quarters: list[Quarter]
    totals: Quarter
    stage_medians: list[StageMedian]
    late_rapid_reviews: list[str]
    late_csprs: list[str]


def quarter_of(day: date) -> int:
    return (day.month - 1) // 3 + 1


def _in_year(day: date | None, year: int) -> bool:
    return day is not None and day.year == year


def timeliness(session: Session, year: int, calendar: WorkingDayCalendar, today: date) -> Timeliness:
    quarters = {q: Quarter(year=year, quarter=q) for q in range(1, 5)}
    late_rapid_reviews, late_csprs = [], []
    for case in session.exec(select(CaseRecord).where(
            (CaseRecord.year == year) | (CaseRecord.year == year - 1))):  # a case may finish the year after
        if _in_year(case.opened_on, year):
            quarters[quarter_of(case.opened_on)].referrals += 1
        if _in_year(case.notified_on, year):
            quarters[quarter_of(case.notified_on)].notifications += 1
        if _in_year(case.submitted_on, year):
            q = quarters[quarter_of(case.submitted_on)]
            q.rapid_reviews_submitted += 1
            if case.rapid_review_due and case.submitted_on <= case.rapid_review_due:
                q.submitted_within_15_working_days += 1
        due = case.rapid_review_due
        if due and due.year == year and (case.submitted_on > due if case.submitted_on
                                         else case.stage != "closed" and today > due):
            late_rapid_reviews.append(case.reference)
    first, last = date(year, 1, 1), date(year, 12, 31)
    for review in session.exec(select(CaseReview).where(or_(CaseReview.published_on.between(first, last),
                                                            CaseReview.due.between(first, last)))):
        if _in_year(review.published_on, year):
            q = quarters[quarter_of(review.published_on)]
            q.cspr_completed += 1
            if review.due and review.published_on <= review.due:
                q.cspr_completed_within_6_months += 1
        if review.due and review.due.year == year and (review.published_on or today) > review.due and not (
                review.published_on is None and review.stage == "closed"):
            late_csprs.append(review.case_reference)
    for action in session.exec(select(PlanAction).where(PlanAction.due_date.between(first, last))):
        q = quarters[quarter_of(action.due_date)]
        q.actions_due += 1
        if action.status in DONE and action.completed_on and action.completed_on <= action.due_date:
            q.actions_completed_on_time += 1
    totals = Quarter(year=year, quarter=0)
    for q in quarters.values():
        if q.rapid_reviews_submitted:
            q.share_within_15_working_days = round(q.submitted_within_15_working_days / q.rapid_reviews_submitted, 3)
        for name in Quarter.model_fields:
            if name not in ("year", "quarter", "share_within_15_working_days"):
                setattr(totals, name, getattr(totals, name) + getattr(q, name))
    if totals.rapid_reviews_submitted:
        totals.share_within_15_working_days = round(
            totals.submitted_within_15_working_days / totals.rapid_reviews_submitted, 3)
    return Timeliness(year=year, quarters=list(quarters.values()), totals=totals,
                      stage_medians=stage_medians(session, year, calendar),
                      late_rapid_reviews=sorted(set(late_rapid_reviews)), late_csprs=sorted(late_csprs))


def stage_medians(session: Session, year: int, calendar: WorkingDayCalendar) -> list[StageMedian]:
    """Median working days spent in each stage, for stages left during the year."""
    entries = defaultdict(list)
    moved_this_year = select(StageEntry.case_reference).where(
        StageEntry.entered_on.between(date(year, 1, 1), date(year, 12, 31)))
    for entry in session.exec(select(StageEntry).where(StageEntry.case_reference.in_(moved_this_year))
                              .order_by(StageEntry.case_reference, StageEntry.entered_on, StageEntry.id)):
        entries[(entry.case_reference, entry.process)].append(entry)
    durations = defaultdict(list)
    for (_, process), sequence in entries.items():
        for current, following in zip(sequence, sequence[1:], strict=False):
            if following.entered_on.year == year:
                durations[(process, current.stage)].append(
                    calendar.working_days_between(current.entered_on, following.entered_on))
    return [StageMedian(process=process, stage=stage, cases=len(days), median_working_days=statistics.median(days))
            for (process, stage), days in sorted(durations.items())]
