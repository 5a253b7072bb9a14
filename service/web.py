"""Web pages for people: sign-in, the case board, a case, my tasks, the audit view and the outbox.

Server-rendered Jinja2 (``templates/web/``), no JavaScript needed. Pages use the same roles, actions and
audit trail as the API: a form posts to a page route that calls the same ``perform_action``; a refused
action re-renders the page with the workflow's reason next to the form and what was typed kept.
"""

from __future__ import annotations

import json
import types
import typing
from datetime import UTC, date, datetime, timedelta
from enum import Enum
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel
from sqlalchemy import not_, or_
from sqlmodel import Session, select

from activities.tasks import DUE_SOON_WORKING_DAYS, urgency
from service import wording
from service.accounts import process_rules
from service.api.access import (
    CASE_ACTORS,
    CASE_READERS,
    AuditTrailDep,
    assigned_to,
    audit,
    task_scope,
    visible_case,
)
from service.api.auth import SIGN_IN_CSRF_REFUSED, end_this_session, set_session_cookie, sign_in
from service.api.cases import ACTIONS, perform_action, query_state, start_case
from service.auth import (
    CSRF_FIELD,
    CSRF_REFUSED,
    SESSION_COOKIE,
    SessionKind,
    current_user,
    get_session,
    keep_pre_session,
    pre_session_nonce,
    sign_in_csrf_ok,
    sign_in_csrf_token,
)
from service.history import archived_history, fetch_readable_history
from service.lateness import LateCase, late_cases
from service.models import AuditEvent, CaseRecord, Document, OutboxMessage, Task, User
from service.visibility import document_visible, state_for
from workflows.calendar import london_date, london_moment
from workflows.models import Referral
from workflows.practice_review import PracticeReviewWorkflow
from workflows.rapid_review import RapidReviewWorkflow
from workflows.vocabulary import AGENCIES, SEAT_NAMES, Role, Stage

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(__import__("templates").__path__[0] + "/web"))
LONDON = ZoneInfo("Europe/London")
BOARD_ROLES = (Role.business_unit, Role.panel_chair, Role.csc_lead, Role.executive, Role.auditor)
BOARD_COLUMNS = [s for s in Stage if s != Stage.closed]
AMBER_WORKING_DAYS = 5  # a card turns amber with this many working days or fewer left (the board's own setting)
CATEGORIES = typing.get_args(Referral.model_fields["category"].annotation)  # what is to be notified


templates.env.filters.update(
    london=wording.date_and_time, long_date=wording.long_date, words=wording.label, label=wording.label,
    due_in=wording.due_in, and_list=wording.and_list, working_days=wording.working_days)


class SignInRequired(Exception):
    """Raised by page dependencies; answered with a redirect to the sign-in page (``ended``: the browser's
    session had ended, which the sign-in page then says)."""

    def __init__(self, ended: bool = False) -> None:
        super().__init__("sign in")
        self.ended = ended


async def page_user(request: Request, session: Annotated[Session, Depends(get_session)]) -> User:
    """The signed-in user of a page (session cookie); anyone else is sent to sign in."""
    if not request.cookies.get(SESSION_COOKIE):
        raise SignInRequired
    try:
        return await current_user(request, session, None)
    except HTTPException as error:
        if error.status_code == 401:
            raise SignInRequired(ended=True) from None
        raise


page_user.any_signed_in_user = True  # read by the route table
PageUser = Annotated[User, Depends(page_user)]
PageSession = Annotated[Session, Depends(get_session)]


def page_roles(*roles: Role):
    allowed = {str(r) for r in roles}

    def check(user: PageUser) -> User:
        if user.role not in allowed:
            raise HTTPException(403, f"Your role ({wording.label(user.role)}) may not open this page")
        return user

    check.allowed_roles = frozenset(allowed)
    return check


def render(request: Request, name: str, user: User | None, status_code: int = 200, **context) -> HTMLResponse:
    return templates.TemplateResponse(
        request, name, {"user": user, "csrf_token": getattr(request.state, "csrf_token", ""),
                        "seat_names": SEAT_NAMES, "agencies": AGENCIES, **context},
        status_code=status_code)


# ---------------------------------------------------------------- error pages for people

# GOV.UK's error page patterns: a heading that says what happened, then what to do.
ERROR_PAGES = {
    401: ("You have been signed out", "Your session has ended. Sign in again to carry on."),
    403: ("You cannot do this", ""),
    404: ("Page not found", "If you typed the web address, check it is correct. If you pasted the web address, "
                            "check you copied the entire address."),
    405: ("Page not found", "This address is not a page: use the links and buttons of the service."),
    409: ("That could not be done", ""),
    410: ("This case cannot be opened now", ""),
    413: ("What you sent is too large", ""),
    422: ("Check what you entered", ""),
    429: ("Wait before trying again", ""),
    500: ("Sorry, there is a problem with the service", "Try again later. Nothing you sent was lost from the case: "
                                                          "what the service had recorded before the problem is kept."),
    503: ("Sorry, the service is busy", "Try again in a minute."),
}


def wants_page(request: Request, api_prefixes: tuple[str, ...]) -> bool:
    """A person's browser (an HTML page), as against an API client (JSON): a page route, or an API address opened
    by a browser that asks for HTML (a document link after the session ended)."""
    return not request.url.path.startswith(api_prefixes) or "text/html" in request.headers.get("accept", "")


async def error_page(request: Request, status_code: int, detail) -> HTMLResponse:
    """The HTML answer to a refused or failed request. A form refused for its CSRF token comes back with what
    was typed, to send again (see ``resubmit_page``)."""
    user = getattr(request.state, "user", None)
    if status_code == 403 and detail == CSRF_REFUSED and user is not None:
        return await resubmit_page(request, user)
    heading, advice = ERROR_PAGES.get(status_code, ("Sorry, there is a problem", ""))
    generic = detail in (None, "", "Not Found", "Method Not Allowed", "Internal Server Error") or status_code >= 500
    message = "" if generic else str(detail)
    if status_code == 404 and message:
        advice = ""  # a route's own 404 ("No case RR-…") says more than the generic advice
    return render(request, "error.html", user, status_code=status_code, heading=heading, advice=advice,
                  message=wording.plain_text(message) if message else "", status=status_code)


def same_origin(request: Request) -> bool:
    """The request came from a page of this service (the browser says so): only then is a refused form offered
    back, so another site cannot have its values put in front of a signed-in person to send."""
    site = request.headers.get("sec-fetch-site")
    origin = request.headers.get("origin")
    own = f"{request.url.scheme}://{request.url.netloc}"
    return site in (None, "same-origin") and origin in (None, own)


async def resubmit_page(request: Request, user: User) -> HTMLResponse:
    """A form refused for a missing or stale CSRF token, shown again with what was typed, a fresh token and a
    message: nothing was done, nothing typed is lost."""
    fields = []
    if same_origin(request) and request.method == "POST":
        form = await request.form()  # parsed already by the CSRF check (empty for a body that is not a form)
        for name in dict.fromkeys(form.keys()):
            if name == CSRF_FIELD:
                continue
            values = [str(v) for v in form.getlist(name) if isinstance(v, str)]
            fields.append({"name": name, "label": wording.label(name), "values": values,
                           "long": any(len(v) > 80 or "\n" in v for v in values)})
    return render(request, "resubmit.html", user, status_code=403, fields=fields, action=request.url.path,
                  offered=same_origin(request))


def home_for(user: User) -> str:
    if user.role == Role.admin:
        return "/outbox"
    if user.role in (Role.business_unit, Role.panel_chair, Role.csc_lead):
        return "/board"
    if user.role == Role.auditor:
        return "/audit"
    return "/tasks"


# ---------------------------------------------------------------- sign in / out


def signin_form(request: Request, status_code: int = 200, **context) -> HTMLResponse:
    """The sign-in page, its form carrying a CSRF token bound to the browser's pre-session cookie."""
    nonce = pre_session_nonce(request)
    response = render(request, "signin.html", None, status_code=status_code,
                      sign_in_csrf=sign_in_csrf_token(request, nonce),
                      issuers=request.app.state.settings.oidc_issuers, **context)
    keep_pre_session(request, response, nonce)
    return response


@router.get("/signin")
def signin_page(request: Request, ended: bool = False) -> HTMLResponse:
    """The sign-in page; after a session ended (timed out, signed out elsewhere) it says so first."""
    return signin_form(request, ended=ended, settings=request.app.state.settings)


@router.post("/signin")
def signin_submit(request: Request, username: Annotated[str, Form()], password: Annotated[str, Form()],
                  csrf_token: Annotated[str, Form()] = "") -> Response:
    """Sign in from the page: without the form's CSRF token it is refused (403) and shown again with a fresh
    token, the username kept (never the password)."""
    if not sign_in_csrf_ok(request, csrf_token):
        return signin_form(request, status_code=403, error=SIGN_IN_CSRF_REFUSED, username=username[:80])
    try:
        user, token = sign_in(request, username, password, SessionKind.cookie)
    except HTTPException as error:
        response = signin_form(request, status_code=error.status_code, error=error.detail,
                               username=username if error.status_code != 422 else "")
        if error.headers:
            response.headers.update(error.headers)
        return response
    response = RedirectResponse(home_for(user), status_code=303)
    set_session_cookie(request, response, token)
    return response


@router.post("/signout")
def signout_submit(request: Request, session: PageSession, user: PageUser) -> Response:
    response = RedirectResponse("/signin", status_code=303)
    end_this_session(request, session, user, response)
    return response


@router.get("/")
def home(user: PageUser) -> Response:
    return RedirectResponse(home_for(user), status_code=303)


# ---------------------------------------------------------------- the case board


def rag(record: CaseRecord, today: date, calendar) -> tuple[int | None, str]:
    """Working days left in the statutory rapid review window and its colour (the window alone: a missed
    milestone inside it is said apart, as "Late")."""
    if record.stage == Stage.closed or record.rapid_review_due is None or record.submitted_on:
        return None, "grey"
    left = calendar.working_days_between(today, record.rapid_review_due)
    return left, wording.deadline_tag(left, AMBER_WORKING_DAYS)[1]


def waiting_on_by_case(session: Session, references: list[str]) -> dict[str, list[str]]:
    """Who each case waits on: the assignees (agency, seat or role) of its open tasks that ask for an action."""
    found: dict[str, list[str]] = {}
    if not references:
        return found
    rows = session.exec(select(Task).where(Task.case_reference.in_(references), Task.status == "open",
                                           Task.action.is_not(None)).order_by(Task.id))
    for task in rows:
        found.setdefault(task.case_reference, []).append(task.assignee_agency or task.assignee_seat
                                                          or task.assignee_role)
    return found


def board_card(record: CaseRecord, today: date, calendar, waiting: list[str], late: LateCase | None) -> dict:
    """A card's facts in words: the statutory window apart from the next internal milestone, each with its
    tag, who the case waits on, and the milestones it has missed."""
    left, colour = rag(record, today, calendar)
    next_left = (calendar.working_days_between(today, record.next_deadline_due)
                 if record.next_deadline_due and record.stage != Stage.closed else None)
    next_statutory = bool(record.next_deadline_rule) and not record.next_deadline_rule.startswith(
        "Partnership milestone")
    return {"record": record, "left": left, "colour": "red" if record.late else colour,
            "window_tag": wording.deadline_tag(left, AMBER_WORKING_DAYS),
            "next_left": next_left, "next_tag": wording.deadline_tag(next_left, DUE_SOON_WORKING_DAYS),
            "next_statutory": next_statutory, "waiting_on": wording.waiting_on(waiting),
            "missed": late.missed if late else []}


@router.get("/board")
def board(request: Request, session: PageSession, user: Annotated[User, Depends(page_roles(*BOARD_ROLES))],
          late: bool = False, year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
          error: str | None = None) -> HTMLResponse:
    """Every open case as a card in its stage column."""
    query = select(CaseRecord).where(CaseRecord.stage != Stage.closed)
    if late:
        query = query.where(CaseRecord.late == True)  # noqa: E712 - SQL expression
    if year:
        query = query.where(CaseRecord.year == year)
    records = session.exec(query.order_by(CaseRecord.rapid_review_due, CaseRecord.reference)).all()
    rules = process_rules(session)
    calendar, today = rules.calendar(), london_date(datetime.now(UTC))
    references = [record.reference for record in records]
    waiting = waiting_on_by_case(session, references)
    missed = {case.reference: case for case in late_cases(session, today=today, calendar=calendar,
                                                          references=references)}
    columns = {stage: [] for stage in BOARD_COLUMNS}
    for record in records:
        columns.setdefault(record.stage, []).append(
            board_card(record, today, calendar, waiting.get(record.reference, []), missed.get(record.reference)))
    audit(session, request, user, "list_cases", None, {"page": "board", "shown": len(records)})
    return render(request, "board.html", user, columns=columns, late=late, year=year, today=today, rules=rules,
                  amber_working_days=AMBER_WORKING_DAYS, due_soon_working_days=DUE_SOON_WORKING_DAYS,
                  may_refer=user.role in CASE_ACTORS, age_bands=typing.get_args(Referral.model_fields[
                      "age_band"].annotation), categories=CATEGORIES, error=error)


@router.get("/cases/new")
def referral_page(request: Request, user: Annotated[User, Depends(page_roles(*CASE_ACTORS))]) -> HTMLResponse:
    """The new-referral form on its own (agency members have no board)."""
    return render(request, "referral.html", user, values=None,
                  age_bands=typing.get_args(Referral.model_fields["age_band"].annotation), categories=CATEGORIES)


@router.post("/cases/new")
async def new_referral(request: Request, session: PageSession,
                       user: Annotated[User, Depends(page_roles(*CASE_ACTORS))]) -> Response:
    """The new-referral form on the board (the same rules as POST /api/cases)."""
    form = await request.form()
    values = {name: str(form.get(name, "")).strip() for name in Referral.model_fields}
    try:
        referral = Referral.model_validate(referral_body(values))
        if referral.awareness_date > london_date(datetime.now(UTC)):
            raise ValueError("the date of awareness is in the future")
    except ValueError as error:
        return render(request, "referral.html", user, status_code=422, error=plain_error(error), values=values,
                      age_bands=typing.get_args(Referral.model_fields["age_band"].annotation), categories=CATEGORIES)
    reference = await start_case(request, session, user, referral)
    return RedirectResponse(f"/cases/{reference}", status_code=303)


def referral_body(values: dict[str, str]) -> dict:
    """The referral from its form: empty fields left out (defaults apply), linked cases one per line or comma."""
    body = {name: value for name, value in values.items() if value}
    if "linked_references" in body:
        body["linked_references"] = [r.strip() for r in body["linked_references"].replace(",", "\n").splitlines()
                                     if r.strip()]
    return body


def plain_error(error: Exception) -> str:
    if hasattr(error, "errors"):
        return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'form'}: {e['msg']}" for e in error.errors())
    return str(error)


# ---------------------------------------------------------------- a case


class FormField(BaseModel):
    name: str
    label: str
    kind: str  # text, textarea, date, checkbox, number, select, multiselect, lines
    required: bool
    help: str | None
    options: list[tuple[str, str]] = []


def _options(kind) -> list[tuple[str, str]]:
    if isinstance(kind, type) and issubclass(kind, Enum):
        return [(str(m.value), wording.label(m.value)) for m in kind]
    if typing.get_origin(kind) is Literal:
        return [(str(v), wording.label(v)) for v in typing.get_args(kind)]
    return []


def form_fields(model: type[BaseModel]) -> list[FormField]:
    """Labelled form fields for an action's input model (the actor is the signed-in user, not a field)."""
    fields = []
    for name, info in model.model_fields.items():
        if name == "actor":
            continue
        kind = info.annotation
        if typing.get_origin(kind) in (typing.Union, types.UnionType):
            kind = next(a for a in typing.get_args(kind) if a is not type(None))
        required = info.is_required()
        label, help_text = name.replace("_", " ").capitalize(), info.description
        if typing.get_origin(kind) is list:
            item = typing.get_args(kind)[0]
            options = _options(item) or ([(k, v) for k, v in AGENCIES.items()] if "agenc" in name else [])
            fields.append(FormField(name=name, label=label, kind="multiselect" if options else "lines",
                                    required=required, help=help_text or ("" if options else "One per line"),
                                    options=options))
        elif options := _options(kind):
            fields.append(FormField(name=name, label=label, kind="select", required=required, help=help_text,
                                    options=options))
        elif kind is bool:
            fields.append(FormField(name=name, label=label, kind="checkbox", required=False, help=help_text))
        elif kind is date:
            fields.append(FormField(name=name, label=label, kind="date", required=required, help=help_text))
        elif kind is int:
            fields.append(FormField(name=name, label=label, kind="number", required=required, help=help_text))
        else:
            limit = next((m.max_length for m in info.metadata if hasattr(m, "max_length")), None)
            fields.append(FormField(name=name, label=label, kind="textarea" if (limit or 0) > 200 else "text",
                                    required=required, help=help_text))
    return fields


def form_body(model: type[BaseModel], form) -> dict:
    """The action's JSON body from a submitted form (empty fields left out, so defaults apply)."""
    body = {}
    for field in form_fields(model):
        if field.kind == "multiselect":
            body[field.name] = [str(v) for v in form.getlist(field.name)]
        elif field.kind == "lines":
            body[field.name] = [line.strip() for line in str(form.get(field.name, "")).splitlines() if line.strip()]
        elif field.kind == "checkbox":
            body[field.name] = form.get(field.name) is not None
        elif (value := str(form.get(field.name, "")).strip()) != "":
            body[field.name] = value
    return body


def available_actions(user: User, state: dict) -> list[str]:
    """The actions this user's role may take in the case's (or its review's) current stage."""
    found = []
    review = state.get("practice_review") or {}
    for name, spec in ACTIONS.items():
        if user.role not in spec.roles:
            continue
        rules = spec.workflow.RULES[name]
        stage = review.get("stage") if spec.workflow is PracticeReviewWorkflow else state.get("stage")
        if stage in rules[0]:
            found.append(name)
    return found


def action_title(name: str) -> str:
    method = getattr(RapidReviewWorkflow, name, None) or getattr(PracticeReviewWorkflow, name)
    return wording.label(name) if not method.__doc__ else method.__doc__.strip().splitlines()[0]


async def case_page(request: Request, session: Session, user: User, reference: str, status_code: int = 200,
                    errors: dict | None = None, typed: dict | None = None) -> HTMLResponse:
    record = visible_case(session, user, reference)
    audit(session, request, user, "read_case", reference, {"page": "case"})
    orphaned = None
    try:
        state = state_for(user.role, await query_state(request, session, record))
    except HTTPException as error:
        if error.status_code != 410:
            raise
        orphaned = error.detail  # shown instead of the live state; no action can be taken
        state = {"pseudonym": record.pseudonym, "stage": record.stage, "deadlines": [], "late": record.late,
                 "escalated": record.escalated, "closed_reason": record.closed_reason}
    actions = [] if orphaned else [
        {"name": name, "title": action_title(name), "fields": form_fields(ACTIONS[name].model)}
        for name in available_actions(user, state)]
    timeline = session.exec(select(AuditEvent).where(AuditEvent.case_reference == reference,
                                                     AuditEvent.action.not_like("read_%"),
                                                     AuditEvent.action.not_like("list_%")).order_by(AuditEvent.id)
                            ).all()
    names = {u.id: u.full_name for u in session.exec(select(User))}
    tasks = session.exec(select(Task).where(Task.case_reference == reference, Task.status == "open",
                                            task_scope(user)).order_by(Task.due_date)).all()
    documents = [d for d in session.exec(select(Document).where(Document.case_reference == reference)
                                         .order_by(Document.kind, Document.version))
                 if document_visible(user.role, d.kind)]
    session.commit()
    return render(request, "case.html", user, status_code=status_code, reference=reference, state=state,
                  actions=actions, timeline=timeline, names=names, tasks=tasks, documents=documents,
                  errors=errors or {}, typed=typed or {}, json=json, orphaned=orphaned)


@router.get("/cases/{reference}")
async def case_view(reference: str, request: Request, session: PageSession,
                    user: Annotated[User, Depends(page_roles(*CASE_READERS))]) -> HTMLResponse:
    """Header, deadlines, timeline, outstanding tasks, documents, and the actions this user may take now."""
    return await case_page(request, session, user, reference)


@router.post("/cases/{reference}/actions/{action}")
async def case_action(reference: str, action: str, request: Request, session: PageSession,
                      user: Annotated[User, Depends(page_roles(*CASE_ACTORS))]) -> Response:
    """A form's action: on success back to where the user came from; refused, the page shows why."""
    spec = ACTIONS.get(action)
    if spec is None:
        raise HTTPException(404, f"Unknown action {action!r}")
    form = await request.form()
    body = form_body(spec.model, form)
    try:
        await perform_action(request, session, user, reference, action, body, None)
    except HTTPException as error:
        if error.status_code in (404, 403):
            raise
        typed = {key: form.getlist(key) if len(form.getlist(key)) > 1 else form.get(key) for key in form}
        return await case_page(request, session, user, reference, status_code=error.status_code,
                               errors={action: error.detail}, typed={action: typed})
    back = str(form.get("back") or f"/cases/{reference}")
    return RedirectResponse(back if back.startswith("/") and not back.startswith("//") else "/", status_code=303)


# ---------------------------------------------------------------- my tasks


@router.get("/tasks")
def my_tasks(request: Request, session: PageSession,
             user: Annotated[User, Depends(page_roles(*CASE_READERS))]) -> HTMLResponse:
    """Open tasks for me, soonest first; a sign-off task shows the decision sheet beside its buttons."""
    tasks = session.exec(select(Task).where(task_scope(user), assigned_to(user), Task.status == "open")
                         .order_by(Task.due_date.is_(None), Task.due_date, Task.id)).all()
    rules = process_rules(session)
    calendar, today = rules.calendar(), london_date(datetime.now(UTC))
    items = []
    for task in tasks:
        sheet = None
        if task.action == "sign_off":
            sheet = session.exec(select(Document).where(Document.case_reference == task.case_reference,
                                                        Document.kind == "decision_sheet")
                                 .order_by(Document.version.desc())).first()
        fields = form_fields(ACTIONS[task.action].model) if task.action in ACTIONS else []
        items.append({"task": task, "urgency": urgency(task, today, calendar), "sheet": sheet, "fields": fields,
                      "left": calendar.working_days_between(today, task.due_date) if task.due_date else None})
    audit(session, request, user, "list_tasks", None, {"page": "tasks", "shown": len(items)})
    return render(request, "tasks.html", user, items=items)


# ---------------------------------------------------------------- audit and outbox


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
                user: Annotated[User, Depends(page_roles(Role.auditor))]) -> HTMLResponse:
    """The audit log across all cases, its filters and the chain check (routine: the rows since the last intact
    check). A sync route, so the check runs in FastAPI's threadpool, off the event loop."""
    return audit_log_page(request, session, trail, user, None)


@router.get("/audit/{reference}")
def audit_case(reference: str, request: Request, session: PageSession, trail: AuditTrailDep,
               user: Annotated[User, Depends(page_roles(Role.auditor))]) -> HTMLResponse:
    """One case's log (reads included), with links to its engine history (a technical view of its own)."""
    visible_case(session, user, reference)
    return audit_log_page(request, session, trail, user, reference)


async def readable_histories(request: Request, session: Session, reference: str) -> list[dict]:
    """The decoded engine histories of a case and of its practice review: live, else from the archive."""
    client = await request.app.state.temporal.client()
    histories = []
    for workflow_id in (reference, f"{reference}-cspr"):
        events = await fetch_readable_history(client, workflow_id, request.app.state.codec)
        source = "the engine"
        if events is None:
            events, source = archived_history(session, workflow_id), "the archive"
            session.commit()
        if events is not None:
            histories.append({"workflow_id": workflow_id, "source": source, "events": events})
    return histories


@router.get("/audit/{reference}/history")
async def audit_history(reference: str, request: Request, session: PageSession,
                        user: Annotated[User, Depends(page_roles(Role.auditor))]) -> HTMLResponse:
    """The technical view: every engine event of the case, decoded, each folded (audited as a read)."""
    visible_case(session, user, reference)
    audit(session, request, user, "read_history", reference, {"page": "engine history"})
    histories = await readable_histories(request, session, reference)
    return render(request, "audit_history.html", user, reference=reference, histories=histories, json=json)


@router.get("/audit/{reference}/history.json")
async def audit_history_download(reference: str, request: Request, session: PageSession,
                                 user: Annotated[User, Depends(page_roles(Role.auditor))]) -> Response:
    """The decoded engine histories as a JSON file (audited as a read)."""
    visible_case(session, user, reference)
    audit(session, request, user, "read_history", reference, {"page": "engine history", "format": "JSON"})
    histories = await readable_histories(request, session, reference)
    return Response(json.dumps(histories, indent=1, default=str), media_type="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{reference}-engine-history.json"'})


@router.get("/outbox")
def outbox_page(request: Request, session: PageSession,
                user: Annotated[User, Depends(page_roles(Role.admin))]) -> HTMLResponse:
    messages = session.exec(select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(200)).all()
    return render(request, "outbox.html", user, messages=messages)

