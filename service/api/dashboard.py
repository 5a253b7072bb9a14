"""The timeliness dashboard (figures, SVG chart, CSV) and the case review tracker export for health partners."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy import or_
from sqlmodel import select

from engine.vocabulary import DocumentKind, ReviewStage, Stage
from records.models import CaseRecord, CaseReview, Document, StageEntry, User
from records.partnership import process_rules
from records.read_model import panel_ordered_themes_of
from service.accounts.auth import require_roles
from service.accounts.roles import DASHBOARD_READERS, TRACKER_READERS
from service.api.access import audit, writer
from service.deps import DbSession, SettingsDep
from service.partnership.timeliness import (
    CHARTS,
    FIGURE_COLUMNS,
    Basis,
    Timeliness,
    chart_svg,
    dashboard_figures,
    figure_rows_for_people,
    figures,
)
from service.platform.http_csv import csv_response

router = APIRouter(prefix="/api", tags=["dashboard"])
DashboardReader = Annotated[User, Depends(require_roles(*DASHBOARD_READERS))]
TrackerReader = Annotated[User, Depends(require_roles(*TRACKER_READERS))]
Year = Annotated[int | None, Query(ge=2000, le=2100, description="Calendar year, or the year a financial year "
                                                                  "starts in (default: this year)")]
Period = Annotated[Basis, Query(description="calendar (January to December) or financial (April to March)")]
@router.get("/dashboard", response_model=Timeliness)
def dashboard(request: Request, session: DbSession, user: DashboardReader, year: Year = None,
              basis: Period = "calendar") -> Timeliness:
    """Timeliness per quarter of a year, median working days per stage, and the late cases.

    Referrals, notifications, rapid reviews and the share within 15 working days, CSPRs completed within
    6 months, actions completed on time."""
    return dashboard_figures(writer(session, request), user, year, basis)


@router.get("/dashboard.csv", response_class=Response, responses={200: {"content": {"text/csv": {}}}})
def dashboard_csv(request: Request, session: DbSession, user: DashboardReader, year: Year = None,
                  basis: Period = "calendar") -> Response:
    """The quarterly figures and the totals as CSV."""
    result = figures(session, year, basis)
    audit(session, request, user, "export_dashboard", None, {"year": result.year, "basis": basis})
    return csv_response(figure_rows_for_people(result), list(FIGURE_COLUMNS.values()),
                        f"timeliness-{result.year}{'-financial' if basis == 'financial' else ''}.csv")


@router.get("/dashboard/chart.svg", response_class=Response, responses={200: {"content": {"image/svg+xml": {}}}})
def dashboard_chart(request: Request, session: DbSession, user: DashboardReader, year: Year = None,
                    basis: Period = "calendar",
                    chart: Annotated[str, Query(pattern="^(" + "|".join(CHARTS) + ")$")] = "rapid_reviews",
                    ) -> Response:
    """One chart of the quarterly figures, drawn on the server."""
    return Response(chart_svg(figures(session, year, basis), chart, process_rules(session)),
                    media_type="image/svg+xml")


# The tracker's own field names and values (NHS Digital's step-by-step guide), ISO dates included: the columns are
# copied into the national tracker, not read as a report, so they stay as its fields are named.
TRACKER_COLUMNS = ("case_reference", "local_reference", "dfe_notification_reference", "date_added", "status",
                   "theme_1", "theme_2", "theme_3",
                   "review_type", "stage_reached", "publication_date", "publication_link", "recommendations",
                   "seven_minute_briefing")
# The local CSPR's stages from the partners' sign-off of the final report on: the review is completed and signed off.
REVIEW_SIGNED_OFF = frozenset({ReviewStage.publication_notice, ReviewStage.publication, ReviewStage.learning_workshop,
                               ReviewStage.one_year_on, ReviewStage.closed})
# The case's stages after the partners signed off a rapid review that did not become a local CSPR.
RAPID_REVIEW_SIGNED_OFF = frozenset({Stage.national_panel, Stage.closed})


def tracker_status(case: SimpleNamespace, review: SimpleNamespace | None) -> str:
    """The tracker's field guide (NHS Digital, Safeguarding Case Review Tracker, step-by-step guide): "open" while
    the review is yet to be published; "closed" once published (or embargoed), or when the review is completed and
    signed off. A rapid review that did not become a local CSPR is completed at the partners' sign-off. A review the
    partners stopped is "stopped" (the issue's reading of the tracker: never counted as completed)."""
    if case.stopped:
        return "stopped"
    if review is not None:
        done = (review.published_on is not None or review.not_published_reasons is not None
                or review.stage in REVIEW_SIGNED_OFF or case.stage == Stage.closed)
    else:
        done = case.stage in RAPID_REVIEW_SIGNED_OFF
    return "closed" if done else "open"


def review_type(case: SimpleNamespace, review: SimpleNamespace | None) -> str:
    """A rapid review is "converted" once a local CSPR has started from it."""
    return "converted (rapid review to CSPR)" if review is not None else "rapid review"


def tracker_rows(session, public_url: str, reference: str | None = None) -> list[dict]:
    """The NHS Safeguarding Case Review Tracker's fields for each review, with the DfE notification reference.
    "Converted" only where a rapid review
    became a local CSPR (the review actually started), never from a recommendation; themes 1-3 as the panel chose
    them, in its order; "date added" is the day the referral was made (the case opened)."""
    # Only reviews: a referral declined (never notified) is no review, nor a notification that closed without a rapid
    # review (cases of the earlier notification-only path): those never entered panel preparation.
    reviewed = select(StageEntry.case_reference).where(StageEntry.process == "case",
                                                       StageEntry.stage == Stage.panel_preparation)
    # The columns the tracker needs, not the rows as objects: at 100,000 cases, objects made each export slower per
    # case than at 1,000 (memory and the collector's passes over it).
    query = (select(CaseRecord.reference, CaseRecord.notification_reference, CaseRecord.opened_on, CaseRecord.stage,
                    CaseRecord.stopped, CaseReview.case_reference.label("review_of"),
                    CaseReview.stage.label("review_stage"), CaseReview.published_on, CaseReview.not_published_reasons,
                    CaseReview.publication_link, CaseReview.recommendations_json)
             .join(CaseReview, CaseReview.case_reference == CaseRecord.reference, isouter=True)
             .where(CaseRecord.notified_on.is_not(None),
                    or_(CaseRecord.stage != Stage.closed, CaseRecord.reference.in_(reviewed)))
             .order_by(CaseRecord.reference))
    briefings = select(Document.case_reference, Document.id).where(
        Document.kind == DocumentKind.seven_minute_briefing).order_by(Document.version)
    if reference:
        query = query.where(CaseRecord.reference == reference)
        briefings = briefings.where(Document.case_reference == reference)
    # Three queries whatever the number of cases (never one per case): themes and the latest briefing by case.
    themes_of = panel_ordered_themes_of(session, reference or None)
    latest_briefing = dict(session.exec(briefings).all())  # in version order: the last one per case stays
    rows = []
    for row in session.exec(query):
        case = SimpleNamespace(reference=row.reference, notification_reference=row.notification_reference,
                               opened_on=row.opened_on, stage=row.stage, stopped=row.stopped)
        review = None if row.review_of is None else SimpleNamespace(
            stage=row.review_stage, published_on=row.published_on, not_published_reasons=row.not_published_reasons,
            publication_link=row.publication_link, recommendations_json=row.recommendations_json)
        themes = themes_of.get(case.reference, [])[:3]
        briefing = latest_briefing.get(case.reference)
        rows.append({
            "case_reference": case.reference,
            "local_reference": case.reference,
            "dfe_notification_reference": case.notification_reference or "",
            "date_added": case.opened_on.isoformat(),
            "status": tracker_status(case, review),
            **{f"theme_{i + 1}": themes[i] if i < len(themes) else "" for i in range(3)},
            "review_type": review_type(case, review),
            "stage_reached": review.stage if review and case.stage == Stage.practice_review else case.stage,
            "publication_date": review.published_on.isoformat() if review and review.published_on else "",
            "publication_link": review.publication_link or "" if review else "",
            "recommendations": "; ".join(json.loads(review.recommendations_json)) if review else "",
            "seven_minute_briefing": f"{public_url}/api/documents/{briefing}?format=pdf" if briefing else "",
        })
    return rows


@router.get("/tracker.csv", response_class=Response, responses={200: {"content": {"text/csv": {}}}})
def tracker_export(request: Request, session: DbSession, user: TrackerReader, settings: SettingsDep,
                   reference: Annotated[str | None, Query(max_length=40, pattern=r"^[A-Za-z0-9-]+$")] = None,
                   ) -> Response:
    """The case review tracker return, one row per review (or the one named)."""
    rows = tracker_rows(session, settings.rapid_review_public_url, reference)
    audit(session, request, user, "export_tracker", reference, {"rows": len(rows)})
    return csv_response(rows, TRACKER_COLUMNS, f"tracker-{reference}.csv" if reference else "tracker.csv")
