"""Pages for the business around the reviews: the action plan, themes, the escalation log and the timeliness
dashboard. Each page calls the same service function as its API route (``service/partnership/action_plan.py``,
``escalation_log.py``, ``themes.py``, ``timeliness.py``) with the same role sets (``service/accounts/roles.py``), so
roles, checks and audit are the same."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup
from pydantic import ValidationError

from engine.calendar import london_date
from engine.vocabulary import Role
from records.errors import DomainError, NotFound, NotPermitted
from records.lateness import late_cases
from records.models import User
from records.partnership import process_rules
from service.accounts.roles import (
    CASE_ACTORS,
    CASE_READERS,
    DASHBOARD_READERS,
    EXECUTIVES,
    PLAN_UPDATERS,
    THEME_EDITORS,
    THEME_READERS,
    WORKING_GROUP,
)
from service.deps import EngineDep, RowId, SettingsDep, writer
from service.partnership import action_plan, escalation_log, themes, timeliness
from service.partnership.calendar_days import partnership_calendar
from service.platform.http_errors import status_of
from service.web.forms import dates_from_parts, plain_error
from service.web.pages import PageSession, page_roles, render

router = APIRouter(include_in_schema=False)
Readers = Annotated[User, Depends(page_roles(*CASE_READERS))]
Actors = Annotated[User, Depends(page_roles(*CASE_ACTORS))]
WorkingGroup = Annotated[User, Depends(page_roles(*WORKING_GROUP))]
Updaters = Annotated[User, Depends(page_roles(*PLAN_UPDATERS))]
ThemeReaders = Annotated[User, Depends(page_roles(*THEME_READERS))]
ThemeEditors = Annotated[User, Depends(page_roles(*THEME_EDITORS))]
DashboardReaders = Annotated[User, Depends(page_roles(*DASHBOARD_READERS))]
Executives = Annotated[User, Depends(page_roles(*EXECUTIVES))]


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
    except (NotFound, NotPermitted):
        raise
    except DomainError as error:
        return await page(request, session, user, error=error.detail, status_code=status_of(error))
    except ValidationError as error:
        return await page(request, session, user, error=plain_error(error), status_code=422)
    return None


# ---------------------------------------------------------------- action plan


async def plan_page(request: Request, session, user: User, error: str | None = None, status_code: int = 200):
    items = action_plan.plan_items(session, user)
    session.commit()
    return render(request, "action_plan.html", user, status_code=status_code, items=items, error=error,
                  may_edit=user.role in WORKING_GROUP, may_change=user.role in PLAN_UPDATERS,
                  owner_words=action_plan.owner_words)


@router.get("/action-plan")
async def action_plan_view(request: Request, session: PageSession, user: Readers):
    """Every action, overdue ones highlighted; the working group edits, owners complete with evidence."""
    return await plan_page(request, session, user)


@router.post("/action-plan/new")
async def action_plan_add(request: Request, session: PageSession, user: WorkingGroup):
    fields = await form_of(request)
    refused = await attempt(plan_page, request, session, user, lambda: action_plan.add_item(
        writer(session, request), user, action_plan.NewPlanAction(**fields)))
    return refused or back("/action-plan")


async def plan_item_page(request: Request, session, user: User, error: str | None = None, status_code: int = 200,
                         *, action_id: int):
    item = action_plan.plan_item(session, user, action_id)
    session.commit()
    return render(request, "action_plan_item.html", user, status_code=status_code, item=item, error=error,
                  owner=action_plan.owner_words(item), may_edit=user.role in WORKING_GROUP)


@router.get("/action-plan/{action_id}/edit")
async def action_plan_edit(action_id: RowId, request: Request, session: PageSession, user: Updaters):
    """One action and its form: the working group names its owner and re-dates it, the owner records progress and
    completes it with evidence, the working group signs it off."""
    return await plan_item_page(request, session, user, action_id=action_id)


@router.post("/action-plan/{action_id}")
async def action_plan_change(action_id: RowId, request: Request, session: PageSession, user: Updaters):
    fields = await form_of(request)
    if fields.pop("sign_off", None):
        work = lambda: action_plan.sign_off_item(writer(session, request), user, action_id)  # noqa: E731
    else:
        work = lambda: action_plan.change_item(  # noqa: E731
            writer(session, request), user, action_id, action_plan.PlanActionChange(**fields))
    refused = await attempt(partial(plan_item_page, action_id=action_id), request, session, user, work)
    return refused or back(f"/action-plan#action-{action_id}")


# ---------------------------------------------------------------- themes


async def themes_page(request: Request, session, user: User, error: str | None = None, status_code: int = 200,
                      **context):
    found = themes.theme_counts(writer(session, request), user)
    return render(request, "themes.html", user, status_code=status_code, found=found, error=error,
                  may_edit=user.role in THEME_EDITORS, **context)


@router.get("/themes")
async def themes_view(request: Request, session: PageSession, user: ThemeReaders,
                      added: Annotated[str | None, Query(max_length=120)] = None):
    """Themes with their counts per year and the reviews that raised them; the themes sheet."""
    return await themes_page(request, session, user, notice=f"Added '{added}' to the list." if added else None)


@router.post("/themes/new")
async def themes_add(request: Request, session: PageSession, user: ThemeEditors):
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
    refused = await attempt(themes_page, request, session, user, lambda: themes.add_to_theme_list(
        writer(session, request), user, themes.NewTheme(name=typed, confirmed=choice == "new")))
    return refused or back(f"/themes?added={quote(wanted)}")


@router.post("/themes/sheet")
async def themes_sheet(request: Request, session: PageSession, user: ThemeEditors, settings: SettingsDep,
                       engine: EngineDep):
    document_id = await themes.issue_sheet(writer(session, request), user, settings=settings, engine=engine)
    return back(f"/api/documents/{document_id}?format=pdf")


# ---------------------------------------------------------------- escalations


async def escalations_page(request: Request, session, user: User, error: str | None = None, status_code: int = 200):
    """The log of raised concerns, after one entry per late case (its missed deadlines grouped): agency members
    see only the concerns they raised."""
    items = escalation_log.escalation_log(writer(session, request), user)
    late = []
    if user.role != Role.agency_member:
        calendar = partnership_calendar(session)
        late = late_cases(session, today=london_date(datetime.now(UTC)), calendar=calendar)
        session.commit()
    return render(request, "escalations.html", user, status_code=status_code, items=items, error=error, late=late,
                  may_raise=user.role in CASE_ACTORS, may_respond=user.role in EXECUTIVES)


@router.get("/escalations")
async def escalations_view(request: Request, session: PageSession, user: Readers):
    """The escalation log: open concerns age in working days until the Executive responds."""
    return await escalations_page(request, session, user)


@router.post("/escalations/new")
async def escalations_raise(request: Request, session: PageSession, user: Actors):
    fields = await form_of(request)
    refused = await attempt(escalations_page, request, session, user, lambda: escalation_log.raise_concern(
        writer(session, request), user, escalation_log.NewEscalation(**fields)))
    return refused or back("/escalations")


@router.post("/escalations/{escalation_id}")
async def escalations_respond(escalation_id: RowId, request: Request, session: PageSession, user: Executives):
    fields = await form_of(request)
    refused = await attempt(escalations_page, request, session, user, lambda: escalation_log.respond_to_concern(
        writer(session, request), user, escalation_id, escalation_log.EscalationResponse(**fields)))
    return refused or back("/escalations")


# ---------------------------------------------------------------- dashboard


@router.get("/dashboard")
def dashboard_view(request: Request, session: PageSession, user: DashboardReaders,
                   year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
                   basis: Annotated[timeliness.Basis, Query()] = "calendar"):
    """Timeliness per quarter (of a calendar or a financial year) with charts drawn on the server, and the CSV
    downloads."""
    figures = timeliness.dashboard_figures(writer(session, request), user, year, basis)
    year = figures.year
    # bar_chart_svg escapes every text it draws, so the SVG can go into the page as it is.
    rules = process_rules(session)
    charts = [Markup(timeliness.chart_svg(figures, chart, rules)) for chart in timeliness.CHARTS]  # noqa: S704
    return render(request, "dashboard.html", user, figures=figures, year=year, charts=charts, rules=rules)
