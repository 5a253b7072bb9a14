"""Proof of timeliness, for the annual report and for inspection: per year and quarter, read from the read
model only (cases, CSPRs, stage entries, the action plan). Working days come from the partnership's calendar."""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import UTC, date, datetime

from pydantic import BaseModel
from sqlalchemy import or_
from sqlmodel import Session, select

from records.models import CaseRecord, CaseReview, PlanAction, StageEntry, User
from records.vocabulary import PLAN_DONE
from service.audit_rows import AuditWriter
from service.calendar_days import partnership_calendar
from service.charts import bar_chart_svg
from workflows.calendar import WorkingDayCalendar, london_date
from workflows.rules import ProcessRules
from workflows.vocabulary import ReviewStage, Stage


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
                                         else case.stage != Stage.closed and today > due):
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
                review.published_on is None and review.stage == ReviewStage.closed):
            late_csprs.append(review.case_reference)
    for action in session.exec(select(PlanAction).where(PlanAction.due_date.between(first, last))):
        q = quarters[quarter_of(action.due_date)]
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


# Each chart: its title and its series (figure -> legend), with the statutory figures filled in from the rules in
# force ({days}, {months}); a field name keeps its historic "15"/"6": each case is judged by its own rules.
CHARTS = {
    "rapid_reviews": ("Rapid reviews submitted, and within {days} working days",
                      {"rapid_reviews_submitted": "Submitted",
                       "submitted_within_15_working_days": "Within {days} working days"}),
    "referrals": ("Referrals and notifications", {"referrals": "Referrals", "notifications": "Notifications"}),
    "csprs": ("CSPRs completed, and within {months} months",
              {"cspr_completed": "Completed", "cspr_completed_within_6_months": "Within {months} months"}),
    "actions": ("Actions due, and completed on time",
                {"actions_due": "Due", "actions_completed_on_time": "Completed on time"}),
}


def figures(session, year: int | None) -> Timeliness:
    today = london_date(datetime.now(UTC))
    return timeliness(session, year or today.year, partnership_calendar(session), today)


def dashboard_figures(audit: AuditWriter, user: User, year: int | None) -> Timeliness:
    """The dashboard's figures for a year (this year by default); reading them is on the record."""
    result = figures(audit.session, year)
    audit.write(user, "read_dashboard", None, {"year": result.year})
    return result


def chart_svg(result: Timeliness, chart: str, rules: ProcessRules) -> str:
    """One of CHARTS for a year's quarters (every text in it is escaped; its ids are the chart's own, so several
    charts on one page each keep their title for a screen reader)."""
    title, measures = CHARTS[chart]
    figures = {"days": rules.rapid_review_working_days, "months": rules.cspr_months}
    series = {legend.format(**figures): [getattr(q, name) for q in result.quarters]
              for name, legend in measures.items()}
    return bar_chart_svg(f"{title.format(**figures)}, {result.year}", [f"Q{q.quarter}" for q in result.quarters],
                         series, ident=f"chart-{chart}")


# The quarterly figures as a spreadsheet for people: each column headed in words, the quarters named.
FIGURE_COLUMNS = {
    "year": "Year", "quarter": "Quarter", "referrals": "Referrals", "notifications": "Notifications",
    "rapid_reviews_submitted": "Rapid reviews submitted",
    "submitted_within_15_working_days": "Rapid reviews submitted within 15 working days",
    "share_within_15_working_days": "Share submitted within 15 working days",
    "cspr_completed": "Local CSPRs completed",
    "cspr_completed_within_6_months": "Local CSPRs completed within 6 months",
    "actions_due": "Actions due", "actions_completed_on_time": "Actions completed on time",
}
QUARTER_NAMES = {0: "Whole year", 1: "January to March", 2: "April to June", 3: "July to September",
                 4: "October to December"}


def figure_rows_for_people(result: Timeliness) -> list[dict]:
    rows = []
    for quarter in [*result.quarters, result.totals]:
        row = {FIGURE_COLUMNS[name]: value for name, value in quarter.model_dump().items()}
        row["Quarter"] = QUARTER_NAMES[quarter.quarter]
        share = quarter.share_within_15_working_days
        row[FIGURE_COLUMNS["share_within_15_working_days"]] = "" if share is None else f"{round(share * 100)}%"
        rows.append(row)
    return rows
