"""Proof of timeliness, for the annual report and for inspection: per year and quarter, read from the read
model only (cases, CSPRs, stage entries, the action plan). Working days come from the partnership's calendar."""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import UTC, date, datetime
from typing import Literal, NamedTuple

from pydantic import BaseModel
from sqlalchemy import or_
from sqlmodel import Session, select

from engine.calendar import WorkingDayCalendar, london_date
from engine.vocabulary import ReviewStage, Stage
from records.audit import AuditWriter
from records.models import CaseRecord, CaseReview, PlanAction, StageEntry, User
from records.vocabulary import PLAN_DONE
from reviews.rapid_review.process_rules import ProcessRules
from service.partnership.calendar_days import partnership_calendar
from service.partnership.charts import bar_chart_svg

Basis = Literal["calendar", "financial"]


class Quarter(BaseModel):
    year: int  # the calendar year, or the financial year by the year it starts in (2026: April 2026-March 2027)
    quarter: int  # 1..4: January-March is 1 (financial year: April-June is 1)
    referrals: int = 0
    notifications: int = 0
    notified_within_5_working_days: int = 0
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
    basis: Basis = "calendar"
    period: str = ""  # "2026" or "April 2026 to March 2027"
    quarters: list[Quarter]
    totals: Quarter
    stage_medians: list[StageMedian]
    late_rapid_reviews: list[str]
    late_csprs: list[str]


class Period(NamedTuple):
    """A year of figures: a calendar year, or a financial year (April to March) as partnerships report under
    s16G (their yearly report), named by the year it starts in."""

    year: int
    basis: Basis

    @property
    def first(self) -> date:
        return date(self.year, 1, 1) if self.basis == "calendar" else date(self.year, 4, 1)

    @property
    def last(self) -> date:
        return date(self.year, 12, 31) if self.basis == "calendar" else date(self.year + 1, 3, 31)

    @property
    def name(self) -> str:
        return str(self.year) if self.basis == "calendar" else f"April {self.year} to March {self.year + 1}"

    def holds(self, day: date | None) -> bool:
        return day is not None and self.first <= day <= self.last

    def quarter_of(self, day: date) -> int:
        return (day.month - self.first.month) % 12 // 3 + 1


def quarter_of(day: date) -> int:
    return Period(day.year, "calendar").quarter_of(day)


def timeliness(session: Session, year: int, calendar: WorkingDayCalendar, today: date,
               basis: Basis = "calendar") -> Timeliness:
    """The figures of one period. A review completed is one published, or not published with its improvements
    published (the partners' reasons on record); a stopped review is never completed. A notification is in time
    when made by its own due date (5 working days from awareness, on the case's clock)."""
    period = Period(year, basis)
    quarters = {q: Quarter(year=year, quarter=q) for q in range(1, 5)}
    late_rapid_reviews, late_csprs = [], []
    for case in session.exec(select(CaseRecord).where(  # a case may finish the year after it opened
            CaseRecord.year >= period.first.year - 1, CaseRecord.year <= period.last.year)):
        if period.holds(case.opened_on):
            quarters[period.quarter_of(case.opened_on)].referrals += 1
        if period.holds(case.notified_on):
            q = quarters[period.quarter_of(case.notified_on)]
            q.notifications += 1
            if case.notification_due and case.notified_on <= case.notification_due:
                q.notified_within_5_working_days += 1
        if period.holds(case.submitted_on):
            q = quarters[period.quarter_of(case.submitted_on)]
            q.rapid_reviews_submitted += 1
            if case.rapid_review_due and case.submitted_on <= case.rapid_review_due:
                q.submitted_within_15_working_days += 1
        due = case.rapid_review_due
        if period.holds(due) and (case.submitted_on > due if case.submitted_on
                                  else case.stage != Stage.closed and today > due):
            late_rapid_reviews.append(case.reference)
    first, last = period.first, period.last
    # Whether each review was stopped comes with the review (a join): not a scan of every case ever stopped.
    for review, stopped in session.exec(
            select(CaseReview, CaseRecord.stopped).join(CaseRecord, CaseRecord.reference == CaseReview.case_reference)
            .where(or_(CaseReview.completed_on.between(first, last), CaseReview.due.between(first, last)))):
        completed = None if stopped else review.completed_on
        if period.holds(completed):
            q = quarters[period.quarter_of(completed)]
            q.cspr_completed += 1
            if review.due and completed <= review.due:
                q.cspr_completed_within_6_months += 1
        if period.holds(review.due) and (completed or today) > review.due and not (
                completed is None and review.stage == ReviewStage.closed):
            late_csprs.append(review.case_reference)
    for action in session.exec(select(PlanAction).where(PlanAction.due_date.between(first, last))):
        q = quarters[period.quarter_of(action.due_date)]
        q.actions_due += 1
        if action.status in PLAN_DONE and action.completed_on and action.completed_on <= action.due_date:
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
    return Timeliness(year=year, basis=basis, period=period.name, quarters=list(quarters.values()), totals=totals,
                      stage_medians=stage_medians(session, period, calendar),
                      late_rapid_reviews=sorted(set(late_rapid_reviews)), late_csprs=sorted(late_csprs))


def stage_medians(session: Session, period: Period, calendar: WorkingDayCalendar) -> list[StageMedian]:
    """Median working days spent in each stage, for stages left during the period."""
    entries = defaultdict(list)
    moved_this_year = select(StageEntry.case_reference).where(
        StageEntry.entered_on.between(period.first, period.last))
    for entry in session.exec(select(StageEntry).where(StageEntry.case_reference.in_(moved_this_year))
                              .order_by(StageEntry.case_reference, StageEntry.entered_on, StageEntry.id)):
        entries[(entry.case_reference, entry.process)].append(entry)
    durations = defaultdict(list)
    for (_, process), sequence in entries.items():
        for current, following in zip(sequence, sequence[1:], strict=False):
            if period.holds(following.entered_on):
                durations[(process, current.stage)].append(
                    calendar.working_days_between(current.entered_on, following.entered_on))
    return [StageMedian(process=process, stage=stage, cases=len(days), median_working_days=statistics.median(days))
            for (process, stage), days in sorted(durations.items())]


# Each chart: its title and its series (figure -> legend), with the statutory figures filled in from the rules in
# force ({days}, {months}); a field name keeps its historic "15"/"6": each case is judged by its own rules.
CHARTS = {
    "rapid_reviews": ("Rapid reviews submitted, and within {days} working days",
                      {"rapid_reviews_submitted": "Submitted",
                       "submitted_within_15_working_days": "Within {days} working days"}),
    "referrals": ("Referrals and notifications", {"referrals": "Referrals", "notifications": "Notifications"}),
    "notifications": ("Notifications, and within {notify} working days of awareness",
                      {"notifications": "Notifications",
                       "notified_within_5_working_days": "Within {notify} working days"}),
    "csprs": ("CSPRs completed, and within {months} months",
              {"cspr_completed": "Completed", "cspr_completed_within_6_months": "Within {months} months"}),
    "actions": ("Actions due, and completed on time",
                {"actions_due": "Due", "actions_completed_on_time": "Completed on time"}),
}


def figures(session, year: int | None, basis: Basis = "calendar") -> Timeliness:
    today = london_date(datetime.now(UTC))
    this_year = today.year if basis == "calendar" or today.month >= 4 else today.year - 1
    return timeliness(session, year or this_year, partnership_calendar(session), today, basis)


def dashboard_figures(audit: AuditWriter, user: User, year: int | None, basis: Basis = "calendar") -> Timeliness:
    """The dashboard's figures for a year (this year by default); reading them is on the record."""
    result = figures(audit.session, year, basis)
    audit.write(user, "read_dashboard", None, {"year": result.year, "basis": basis})
    return result


def chart_svg(result: Timeliness, chart: str, rules: ProcessRules) -> str:
    """One of CHARTS for a year's quarters (every text in it is escaped; its ids are the chart's own, so several
    charts on one page each keep their title for a screen reader)."""
    title, measures = CHARTS[chart]
    figures = {"days": rules.rapid_review_working_days, "months": rules.cspr_months,
               "notify": rules.notification_working_days}
    series = {legend.format(**figures): [getattr(q, name) for q in result.quarters]
              for name, legend in measures.items()}
    return bar_chart_svg(f"{title.format(**figures)}, {result.period or result.year}",
                         [f"Q{q.quarter}" for q in result.quarters], series, ident=f"chart-{chart}")


# The quarterly figures as a spreadsheet for people: each column headed in words, the quarters named.
FIGURE_COLUMNS = {
    "year": "Year", "quarter": "Quarter", "referrals": "Referrals", "notifications": "Notifications",
    "notified_within_5_working_days": "Notifications within 5 working days",
    "rapid_reviews_submitted": "Rapid reviews submitted",
    "submitted_within_15_working_days": "Rapid reviews submitted within 15 working days",
    "share_within_15_working_days": "Share submitted within 15 working days",
    "cspr_completed": "Local CSPRs completed",
    "cspr_completed_within_6_months": "Local CSPRs completed within 6 months",
    "actions_due": "Actions due", "actions_completed_on_time": "Actions completed on time",
}
QUARTER_NAMES = {0: "Whole year", 1: "January to March", 2: "April to June", 3: "July to September",
                 4: "October to December"}
FINANCIAL_QUARTER_NAMES = {0: "Whole year", 1: "April to June", 2: "July to September", 3: "October to December",
                           4: "January to March"}


def figure_rows_for_people(result: Timeliness) -> list[dict]:
    rows = []
    for quarter in [*result.quarters, result.totals]:
        row = {FIGURE_COLUMNS[name]: value for name, value in quarter.model_dump().items()}
        row["Quarter"] = (FINANCIAL_QUARTER_NAMES if result.basis == "financial" else QUARTER_NAMES)[quarter.quarter]
        row["Year"] = result.period or quarter.year
        share = quarter.share_within_15_working_days
        row[FIGURE_COLUMNS["share_within_15_working_days"]] = "" if share is None else f"{round(share * 100)}%"
        rows.append(row)
    return rows
