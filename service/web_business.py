"""Pages for the business around the reviews: the action plan, themes, the escalation log and the timeliness
dashboard. Each form calls the same function as its API route, so roles, checks and audit are the same."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup
from pydantic import ValidationError

from records.models import User
from records.partnership import process_rules
from service.api import action_plan, dashboard, escalations, themes
from service.api.access import CASE_ACTORS, CASE_READERS, RowId
from service.calendar_days import partnership_calendar
from service.lateness import late_cases
from service.web import PageSession, dates_from_parts, page_roles, plain_error, render
from workflows.calendar import london_date
from workflows.vocabulary import Role

router = APIRouter(include_in_schema=False)
Readers = Annotated[User, Depends(page_roles(*CASE_READERS))]
Actors = Annotated[User, Depends(page_roles(*CASE_ACTORS))]
WorkingGroup = Annotated[User, Depends(page_roles(*action_plan.WORKING_GROUP))]
Updaters = Annotated[User, Depends(page_roles(*action_plan.WORKING_GROUP, Role.agency_member))]
ThemeReaders = Annotated[User, Depends(page_roles(Role.business_unit, Role.panel_chair, Role.csc_lead,
                                                  Role.executive, Role.auditor))]
DashboardReaders = Annotated[User, Depends(page_roles(Role.business_unit, Role.executive, Role.auditor))]
Executives = Annotated[User, Depends(page_roles(Role.executive))]


async def form_of(request: Request) -> dict:
    """The submitted fields, blanks left out (so optional fields keep their defaults)."""
    form = await request.form()
    return dates_from_parts({key: str(value).strip() for key, value in form.items()
                             if key != "csrf_token" and str(value).strip()})


def back(to: str) -> RedirectResponse:
    return RedirectResponse(to, status_code=303)


async def attempt(page, request: Request, session, user: User, work) -> Response:
    """Run a form's work; on a refusal show the page again with the reason (and nothing changed)."""
    try:
        work()
    except HTTPException as error:
        if error.status_code in (403, 404):
            raise
        return await page(request, session, user, error=error.detail, status_code=error.status_code)
    except ValidationError as error:
        return await page(request, session, user, error=plain_error(error), status_code=422)
    return None


# ---------------------------------------------------------------- action plan


async def plan_page(request: Request, session, user: User, error: str | None = None, status_code: int = 200):
    items = action_plan.listed(session, user, None, None, None, None)
    session.commit()
    return render(request, "action_plan.html", user, status_code=status_code, items=items, error=error,
                  may_edit=user.role in action_plan.WORKING_GROUP)


@router.get("/action-plan")
async def action_plan_view(request: Request, session: PageSession, user: Readers):
    """Every action, overdue ones highlighted; the working group edits, owners complete with evidence."""
    return await plan_page(request, session, user)


@router.post("/action-plan/new")
async def action_plan_add(request: Request, session: PageSession, user: WorkingGroup):
    fields = await form_of(request)
    refused = await attempt(plan_page, request, session, user, lambda: action_plan.add_action(
        action_plan.NewPlanAction(**fields), request, session, user))
    return refused or back("/action-plan")


@router.post("/action-plan/{action_id}")
async def action_plan_change(action_id: RowId, request: Request, session: PageSession, user: Updaters):
    fields = await form_of(request)
    if fields.pop("sign_off", None):
        work = lambda: action_plan.sign_off_action(action_id, request, session, user)  # noqa: E731
    else:
        work = lambda: action_plan.change_action(  # noqa: E731
            action_id, action_plan.PlanActionChange(**fields), request, session, user)
    refused = await attempt(plan_page, request, session, user, work)
    return refused or back("/action-plan")


# ---------------------------------------------------------------- themes


async def themes_page(request: Request, session, user: User, error: str | None = None, status_code: int = 200,
                      **context):
    found = themes.list_themes(request, session, user, None)
    return render(request, "themes.html", user, status_code=status_code, found=found, error=error,
                  may_edit=user.role in (Role.business_unit, Role.panel_chair), **context)


@router.get("/themes")
async def themes_view(request: Request, session: PageSession, user: ThemeReaders,
                      added: Annotated[str | None, Query(max_length=120)] = None):
    """Themes with their counts per year and the reviews that raised them; the themes sheet."""
    return await themes_page(request, session, user, notice=f"Added '{added}' to the list." if added else None)


@router.post("/themes/new")
async def themes_add(request: Request, session: PageSession,
                     user: Annotated[User, Depends(page_roles(Role.business_unit, Role.panel_chair))]):
    """Add a theme: one that repeats the list is refused, naming it; one close to the list asks first whether
    an existing theme was meant (pick it: nothing is added) or this one is new (confirmed: added)."""
    fields = await form_of(request)
    typed, choice = fields.get("name", ""), fields.get("choice")
    if choice and choice != "new":
        return await themes_page(request, session, user, notice=f"Nothing was added: '{choice}' is on the list.")
    try:
        wanted = themes.ThemeName(name=typed).name
    except ValidationError:
        return await themes_page(request, session, user, status_code=422, typed=typed,
                                 field_error="Enter a theme of at least 2 characters")
    same, close = themes.similar_themes(session, wanted)
    if same is not None:
        return await themes_page(request, session, user, status_code=409, typed=typed,
                                 field_error=f"'{same}' is already on the list")
    if close and choice != "new":
        return await themes_page(request, session, user, status_code=409, typed=typed, close=close)
    refused = await attempt(themes_page, request, session, user, lambda: themes.add_theme(
        themes.NewTheme(name=typed, confirmed=choice == "new"), request, session, user))
    return refused or back(f"/themes?added={quote(wanted)}")


@router.post("/themes/sheet")
async def themes_sheet(request: Request, session: PageSession,
                       user: Annotated[User, Depends(page_roles(Role.business_unit, Role.panel_chair))]):
    document = await themes.issue_themes_sheet(request, session, user, None)
    return back(document.pdf_url)


# ---------------------------------------------------------------- escalations


async def escalations_page(request: Request, session, user: User, error: str | None = None, status_code: int = 200):
    """The log of raised concerns, after one entry per late case (its missed deadlines grouped): agency members
    see only the concerns they raised."""
    items = escalations.list_escalations(request, session, user)
    late = []
    if user.role != Role.agency_member:
        calendar = partnership_calendar(session)
        late = late_cases(session, today=london_date(datetime.now(UTC)), calendar=calendar)
        session.commit()
    return render(request, "escalations.html", user, status_code=status_code, items=items, error=error, late=late,
                  may_raise=user.role in CASE_ACTORS, may_respond=user.role == Role.executive)


@router.get("/escalations")
async def escalations_view(request: Request, session: PageSession, user: Readers):
    """The escalation log: open concerns age in working days until the Executive responds."""
    return await escalations_page(request, session, user)


@router.post("/escalations/new")
async def escalations_raise(request: Request, session: PageSession, user: Actors):
    fields = await form_of(request)
    refused = await attempt(escalations_page, request, session, user, lambda: escalations.raise_escalation(
        escalations.NewEscalation(**fields), request, session, user))
    return refused or back("/escalations")


@router.post("/escalations/{escalation_id}")
async def escalations_respond(escalation_id: RowId, request: Request, session: PageSession, user: Executives):
    fields = await form_of(request)
    refused = await attempt(escalations_page, request, session, user, lambda: escalations.respond(
        escalation_id, escalations.EscalationResponse(**fields), request, session, user))
    return refused or back("/escalations")


# ---------------------------------------------------------------- dashboard


@router.get("/dashboard")
def dashboard_view(request: Request, session: PageSession, user: DashboardReaders,
                   year: Annotated[int | None, Query(ge=2000, le=2100)] = None):
    """Timeliness per quarter with charts drawn on the server, and the CSV downloads."""
    year = year or london_date(datetime.now(UTC)).year
    figures = dashboard.dashboard(request, session, user, year)
    # bar_chart_svg escapes every text it draws, so the SVG can go into the page as it is.
    rules = process_rules(session)
    charts = [Markup(dashboard.chart_svg(figures, chart, rules)) for chart in dashboard.CHARTS]  # noqa: S704
    return render(request, "dashboard.html", user, figures=figures, year=year, charts=charts, rules=rules)
