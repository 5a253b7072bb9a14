"""Web pages for people: sign-in, the case board, a case, my tasks, the audit view and the outbox.

Server-rendered Jinja2 (``templates/web/``), no JavaScript needed. Pages use the same roles, actions and
audit trail as the API: a form posts to a page route that calls the same case service (``service/cases.py``);
a refused action re-renders the page with the workflow's reason next to the form and what was typed kept.
The forms themselves are built and read by ``service/web_forms.py``.
"""

from __future__ import annotations

import html as html_lib
import re
from datetime import UTC, date, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from sqlmodel import Session, select

from activities.documents import document_title
from records.errors import CaseGone, DomainError, NotFound, NotPermitted
from records.lateness import LateCase, late_cases
from records.models import CHANGE_ROWS, AuditEvent, CaseRecord, Document, InformationReturn, OutboxMessage, Task, User
from records.object_store import MissingObject, ObjectStore, read_stored
from records.partnership import process_rules
from records.tasks import DUE_SOON_WORKING_DAYS, assigned_to, task_scope, urgency
from records.vocabulary import FINAL_REPORT
from service import wording
from service.auth import (
    CSRF_FIELD,
    CSRF_REFUSED,
    SESSION_COOKIE,
    SessionKind,
    current_user,
    keep_pre_session,
    pre_session_nonce,
    sign_in_csrf_ok,
    sign_in_csrf_token,
)
from service.calendar_days import partnership_calendar
from service.cases import ACTIONS, CaseService, Started, actor_of, type_of
from service.deps import Cases, DbSession, SettingsDep, app_settings, audit
from service.http_errors import status_of
from service.next_steps import waiting_on
from service.return_drafts import (
    DRAFT_FIELDS,
    RETURN_ACTION,
    check_may_save,
    draft_note,
    draft_of,
    save_draft,
    text_errors,
)
from service.roles import ADMINS, BOARD_ROLES, CASE_ACTORS, CASE_READERS, EXECUTIVES
from service.sign_in import SIGN_IN_CSRF_REFUSED, end_this_session, set_session_cookie, sign_in
from service.themes import known_themes
from service.visibility import document_visible, return_visible, state_for
from service.web_decision_sheet import sheet_fields, sheet_sections, unanswered
from service.web_forms import (
    FormField,
    answer_text,
    delay_field,
    error_list,
    field_anchor,
    field_named,
    form_body,
    form_fields,
    invalid_fields,
    safe_back,
    typed_values,
)
from workflows.calendar import london_date
from workflows.models import Referral
from workflows.rapid_review import RapidReviewWorkflow
from workflows.review_types import REVIEW_TYPES
from workflows.vocabulary import (
    AGENCIES,
    SEAT_NAMES,
    Role,
    Seat,
    Stage,
    TaskKind,
    TaskStatus,
)

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(__import__("templates").__path__[0] + "/web"))
LONDON = ZoneInfo("Europe/London")
AMBER_WORKING_DAYS = 5  # a card turns amber with this many working days or fewer left (the board's own setting)


templates.env.filters.update(
    london=wording.date_and_time, long_date=wording.long_date, words=wording.label, label=wording.label,
    due_in=wording.due_in, and_list=wording.and_list, working_days=wording.working_days, plain=wording.plain,
    in_sentence=wording.in_sentence, age_band=wording.age_band)
templates.env.tests["local_setting"] = lambda deadline: "(local setting)" in (deadline.get("rule") or "")


class SignInRequired(Exception):
    """Raised by page dependencies; answered with a redirect to the sign-in page (``ended``: the browser's
    session had ended, which the sign-in page then says)."""

    def __init__(self, ended: bool = False) -> None:
        super().__init__("sign in")
        self.ended = ended


async def page_user(request: Request, session: DbSession, settings: SettingsDep) -> User:
    """The signed-in user of a page (session cookie); anyone else is sent to sign in."""
    if not request.cookies.get(SESSION_COOKIE):
        raise SignInRequired
    try:
        return await current_user(request, session, settings, None)
    except HTTPException as error:
        if error.status_code == 401:
            raise SignInRequired(ended=True) from None
        raise


page_user.any_signed_in_user = True  # read by the route table
PageUser = Annotated[User, Depends(page_user)]
PageSession = DbSession


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
                  message=wording.plain(message, as_sentence=False) if message else "", status=status_code)


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
                      issuers=app_settings(request).oidc_issuers, **context)
    keep_pre_session(request, response, nonce)
    return response


@router.get("/accessibility")
def accessibility_statement(request: Request) -> HTMLResponse:
    """The accessibility statement the Public Sector Bodies Accessibility Regulations 2018 require; open to anyone."""
    return render(request, "accessibility.html", None, settings=app_settings(request))


@router.get("/signin")
def signin_page(request: Request, ended: bool = False) -> HTMLResponse:
    """The sign-in page; after a session ended (timed out, signed out elsewhere) it says so first."""
    return signin_form(request, ended=ended, settings=app_settings(request))


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
    rows = session.exec(select(Task).where(Task.case_reference.in_(references), Task.status == TaskStatus.open,
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
        "Partnership milestone") and "(local setting)" not in record.next_deadline_rule
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
    calendar, today = partnership_calendar(session), london_date(datetime.now(UTC))
    references = [record.reference for record in records]
    waiting = waiting_on_by_case(session, references)
    missed = {case.reference: case for case in late_cases(session, today=today, calendar=calendar,
                                                          references=references)}
    shown = {found.key for record in records if (found := REVIEW_TYPES.of_reference(record.reference))}
    columns = {stage: [] for stage in REVIEW_TYPES.board_columns(shown)}  # the review types' on the board, in order
    for record in records:
        columns.setdefault(record.stage, []).append(
            board_card(record, today, calendar, waiting.get(record.reference, []), missed.get(record.reference)))
    audit(session, request, user, "list_cases", None, {"page": "board", "shown": len(records)})
    return render(request, "board.html", user, columns=columns, late=late, year=year, today=today, rules=rules,
                  amber_working_days=AMBER_WORKING_DAYS, due_soon_working_days=DUE_SOON_WORKING_DAYS,
                  may_refer=user.role in CASE_ACTORS, fields=referral_fields(), errors={}, typed={}, error=error,
                  other_reviews=REVIEW_TYPES.referred()[1:])  # their referral pages: service/web_review_types.py


def referral_fields() -> list[FormField]:
    """The referral's questions: the model's fields, the referring agency chosen from the partnership's list."""
    fields = form_fields(Referral)
    for f in fields:
        if f.name == "referring_agency":
            f.kind, f.options = "select", list(AGENCIES.items())
        if f.name == "linked_references":
            f.help = ("The references of the other children of the same incident, one per line (one notification "
                      "covers up to 4 children)")
        if f.name == "category":
            f.help = ("Deaths of looked-after children and of care leavers are notified even without abuse or "
                      "neglect; the rapid review still follows. The CSC lead can correct it. If you choose none, it is "
                      "serious harm or death.")
    return fields


def referral_form(request: Request, user: User, status_code: int = 200, errors: dict | None = None,
                  typed: dict | None = None) -> HTMLResponse:
    fields, errors = referral_fields(), errors or {}
    return render(request, "referral.html", user, status_code=status_code, fields=fields, errors=errors,
                  typed=typed or {}, error_summary=error_list("referral", fields, errors))


@router.get("/cases/new")
def referral_page(request: Request, user: Annotated[User, Depends(page_roles(*CASE_ACTORS))]) -> HTMLResponse:
    """The new-referral form (a question page of its own)."""
    return referral_form(request, user)


@router.post("/cases/new")
async def new_referral(request: Request, cases: Cases,
                       user: Annotated[User, Depends(page_roles(*CASE_ACTORS))]) -> Response:
    """A referral from the form (the same rules as POST /api/cases); refused, the form again with what was typed."""
    form = await request.form()
    fields = referral_fields()
    body, errors = form_body(fields, form)
    if not body.get("linked_references"):
        body.pop("linked_references", None)
    errors = errors or invalid_fields(Referral, body, fields)
    if not errors and date.fromisoformat(body["awareness_date"]) > london_date(datetime.now(UTC)):
        errors["awareness_date"] = "The date the local authority became aware must be today or in the past"
    if errors:
        return referral_form(request, user, 422, errors, typed_values(form))
    started = await cases.start(user, Referral.model_validate(body))
    return RedirectResponse(after_referral(cases, user, started), status_code=303)


def after_referral(cases: CaseService, user: User, started: Started) -> str:
    """Where a referrer lands: the case page, whose banner says what happens next, if she may read the case;
    otherwise her referral's own page (``service/web_referrals.py``). A referral not yet in the read model: My
    referrals, which says it is on its way."""
    if not started.readable:
        return "/referrals?sent=true"
    if cases.may_read(user, started.reference):
        return f"/cases/{started.reference}?done=submit_referral"
    return f"/referrals/{started.reference}?done=submit_referral"


# ---------------------------------------------------------------- a case


SIGN_OFF_PAGE = "/cases/{reference}/sign-off"
# Corrections and decisions outside the main path: behind "Corrections and other decisions", after the main task.
SECONDARY = frozenset({"correct_referral", "correct_awareness_date", "link_cdop_review", "record_joint_review",
                       "close_case", "stop_local_cspr", "extend_deadline", "hold_publication",
                       "record_national_review_part"})
APPROVER_PAGES = ("/sign-off", "/report-sign-off")  # the pages an Executive approves from (with a declaration)
# The review's stages where the business unit uploads the reviewer's report (a draft settled, or a revision).
REPORT_STAGES = frozenset({"learning_events", "draft_report", "final_sign_off", "publication_notice", "publication"})
CONFIRM_FIRST = {"decline_referral": "Decline the referral", "close_case": "Close the case",
                 "stop_local_cspr": "Stop the local CSPR",
                 "record_one_year_workshop": "Record the one-year-on workshop: the review and the case close"}
JOINT_ACTIONS = frozenset({"close_case", "stop_local_cspr"})  # on the confirm page: done at once, or proposed?
# Checked before sending: the page's heading and its button.
CHECK_ANSWERS = {"issue_decision_sheet": ("Check your answers before issuing the decision sheet",
                                          "Issue to the three Executives"),
                 "submit_information_return": ("Check your agency's return before you send it", "Send the return")}
NOT_ON_CASE_PAGE = frozenset({"sign_off"})  # the approver's own page asks this
SIGN_OFFS = frozenset({"sign_off", "sign_off_report"})  # returning needs comments


# A seat's answer to a decision proposed to the partners: the case's, or its review's (workflows/joint_decision.py).
JOINT_ANSWERS = {"answer_joint_decision": False, "answer_review_decision": True}


def proposal_to_answer(name: str, state: dict, user: User) -> dict | None:
    """The open proposal this user's seat has yet to answer, in the case (or its review) ``name`` answers."""
    source = (state.get("practice_review") or {}) if JOINT_ANSWERS[name] else state
    answered = {(a["decision"], a["version"]) for a in source.get("joint_answers") or [] if a["seat"] == user.seat}
    return next((p for p in source.get("joint_proposals") or []
                 if p["status"] == "open" and (p["decision"], p["version"]) not in answered), None)


async def goes_to_partners(cases: CaseService, record: CaseRecord, user: User) -> bool:
    """True if closing (or stopping) now is a proposal to the three partners, not done at once: every closure but
    the business unit's of a referral that never became a case, on cases under the joint decisions."""
    if record.stage == Stage.referral and user.role == Role.business_unit:
        return False
    return bool((await cases.state(record)).get("joint_decisions"))


def proposed_to_partners(action: str, state: dict) -> bool:
    """True if ``action`` just became a proposal to the partners rather than taking effect (``state``: the view
    of the workflow it was sent to, which an update answers with)."""
    return any(p["decision"] == action and p["status"] == "open" for p in state.get("joint_proposals") or [])


def joint_decisions(state: dict) -> list[dict]:
    """The partners' decisions proposed on the case and its review: what, by whom, each seat's answer, the result."""
    shown = []
    for source in (state, state.get("practice_review") or {}):
        answers = source.get("joint_answers") or []
        for p in source.get("joint_proposals") or []:
            given = [a for a in answers if a["decision"] == p["decision"] and a["version"] == p["version"]]
            waiting = [SEAT_NAMES[s] for s in SEAT_NAMES if s not in {a["seat"] for a in given}]
            shown.append({**p, "answers": given, "waiting": waiting if p["status"] == "open" else []})
    return sorted(shown, key=lambda p: p["on"], reverse=True)


def for_this_person_now(name: str, state: dict, user: User) -> bool:
    """The workflow's own conditions, said before the form is offered: a form a seat would only be refused on is
    not shown (the workflow still decides; this only keeps the page to what this person can do now)."""
    review = state.get("practice_review") or {}
    if state.get("stage") == Stage.closed and ACTIONS[name].workflow is RapidReviewWorkflow:
        return bool(state.get("reopen_until"))  # a closed case takes only its reopening, while it may be reopened
    if name == "respond_to_sin_proposal":
        version = len(state.get("sin_proposals") or [])
        return user.seat in (Seat.police, Seat.icb) and version > 0 and not any(
            r["seat"] == user.seat and r["version"] == version for r in state.get("sin_responses") or [])
    if name == "resolve_sin_disagreement":
        return user.seat == Seat.la and bool(state.get("sin_proposals"))
    if name == "sign_off_report":
        version = review.get("report_version")
        return user.seat is not None and not any(s["seat"] == user.seat and s["version"] == version
                                                 for s in review.get("sign_offs") or [])
    if name == "reconsider_decision":
        return bool(state.get("reconsideration_pending"))
    if name == "revise_rapid_review":
        return bool(state.get("panel_questions_pending")) and not state.get("revision")
    if name == "lift_publication_hold":
        return review.get("publication_hold") is not None
    return True


def available_actions(user: User, state: dict, reference: str) -> list[str]:
    """The actions of the case's review type (and of the reviews it starts) this user's role may take in the case's
    (or its review's) current stage."""
    found = []
    review = state.get("practice_review") or {}
    family = {review_type.key for review_type in REVIEW_TYPES.family(type_of(reference))}
    for name, spec in ACTIONS.items():
        if user.role not in spec.roles or spec.review_type not in family:
            continue
        if name in JOINT_ANSWERS and (user.seat is None or proposal_to_answer(name, state, user) is None):
            continue  # nothing proposed for this seat to answer
        if not for_this_person_now(name, state, user):
            continue
        stage = review.get("stage") if spec.suffix else state.get("stage")  # a review's action: at its own stage
        if stage in spec.stages and not (name == "decline_referral" and state.get("three_way_sin")
                                      and state.get("sin_agreed") != "do_not_notify"):
            found.append(name)  # a decline is offered once the partners agreed not to notify (the workflow's rule)
    return found


def action_title(name: str) -> str:
    method = getattr(ACTIONS[name].workflow, name)
    return wording.label(name) if not method.__doc__ else method.__doc__.strip().splitlines()[0]


def current_version(name: str, state: dict) -> int:
    """The version an action answers: the latest notification proposal, or the decision sheet."""
    if name == "sign_off":
        return state.get("decision_sheet_version") or 1
    if name == "sign_off_report":
        return (state.get("practice_review") or {}).get("report_version") or 1
    if name in (state.get("action_versions") or {}):  # another review type's own: its state says which version
        return state["action_versions"][name] or 1
    proposals = state.get("sin_proposals") or [{}]
    return proposals[-1].get("version", 1)


def action_fields(name: str, themes: list[str]) -> list[FormField]:
    """An action's questions: built from its model, the decision sheet's worded and grouped for the chair."""
    fields = form_fields(ACTIONS[name].model, themes)
    return sheet_fields(fields) if name == "issue_decision_sheet" else fields


def action_form(name: str, state: dict, themes: list[str], user: User | None = None) -> dict:
    fields = action_fields(name, themes)
    title = action_title(name)
    proposal = proposal_to_answer(name, state, user) if name in JOINT_ANSWERS and user is not None else None
    for f in fields:
        if f.kind == "hidden" and f.name == "version":
            f.value = str(proposal["version"] if proposal else current_version(name, state))
        if f.kind == "hidden" and f.name == "proposed_action" and proposal:
            f.value = proposal["decision"]
    if proposal:
        title = f"Partners' decision proposed by {proposal['proposed_by']}: {proposal['summary']}"
    if (delay := delay_field(state)) is not None:
        fields.append(delay)
    return {"name": name, "title": title, "fields": fields, "button": wording.label(name),
            "sections": sheet_sections(fields) if name == "issue_decision_sheet" else None,
            "confirm": name in CONFIRM_FIRST, "warning": action_warning(name, state), "secondary": name in SECONDARY}


def action_warning(name: str, state: dict) -> str | None:
    """What a person should know before this action: an outcome recorded before every return came in closes the
    missing returns for good."""
    if name != "record_panel_outcome" or not state.get("panel"):
        return None
    missing = [AGENCIES.get(a, a) for a in state["panel"]["invited_agencies"] if a not in (state.get("returns") or {})]
    if not missing:
        return None
    return (f"Not every return has arrived: {wording.and_list(missing)}. Recording the outcome now closes the "
            "missing returns; the panel's outcome will say it was reached without them.")


def prefilled(name: str, state: dict) -> dict:
    """The decision sheet's form starts from the panel's recommendation and rationale, and a returned sheet from its
    last version: its fields, as the form holds them."""
    if name == "submit_final_report":  # the latest report uploaded
        uploads = state.get("final_report_uploads") or []
        return {"report_document": str(uploads[-1]["id"])} if uploads else {}
    if name != "issue_decision_sheet":
        return {}
    if not state.get("decision_sheet"):  # the first version starts from the panel's outcome
        outcome = state.get("panel_outcome") or {}
        return {"recommendation": state.get("recommendation"), "rationale": outcome.get("rationale")}
    typed = {}
    for key, value in state["decision_sheet"].items():
        if isinstance(value, list):
            typed[key] = value
        elif isinstance(value, bool):
            typed[key] = "true" if value else None
        elif value is not None and key not in ("actor", "seal", "delay_reason"):
            typed[key] = str(value)
    return typed


def who_waits(item: dict) -> str:
    """Who an outstanding step waits on, as people say it."""
    if item.get("agency"):
        return AGENCIES.get(item["agency"], wording.label(item["agency"]))
    if item.get("seat"):
        return f"Executive ({SEAT_NAMES.get(item['seat'], wording.label(item['seat']))})"
    return wording.label(item.get("role"))


def information_returns(cases: CaseService, user: User, reference: str, state: dict,
                        calendar, today: date) -> list[dict]:
    """Each invited agency's return: received (with its text), outstanding or overdue. Agency members see their
    own agency's only; reading the texts is audited."""
    invited = (state.get("panel") or {}).get("invited_agencies") or []
    kept = {r.agency: r for r in cases.session.exec(select(InformationReturn).where(
        InformationReturn.case_reference == reference).order_by(InformationReturn.version))}
    due = next((d["due"] for d in state.get("deadlines") or [] if d["key"] == "agency_returns"), None)
    shown = []
    for agency in invited:
        if not return_visible(user.role, user.agency, agency):
            continue
        received = (state.get("returns") or {}).get(agency)
        left = calendar.working_days_between(today, date.fromisoformat(due)) if due and not received else None
        status = "received" if received else ("overdue" if left is not None and left < 0 else "outstanding")
        shown.append({"agency": agency, "name": AGENCIES.get(agency, agency), "status": status,
                      "received_on": received, "due": due, "left": left, "text": kept.get(agency)})
    read = [r["agency"] for r in shown if r["text"]]
    if read:
        cases.audit(user, "read_information_returns", reference, {"agencies": read})
    return shown


async def case_page(request: Request, cases: CaseService, user: User, reference: str, status_code: int = 200,
                    errors: dict | None = None, typed: dict | None = None, done: str | None = None) -> HTMLResponse:
    """``errors`` and ``typed`` are per action: {action: {field: message}} and {action: {field: value}}."""
    session = cases.session
    record = cases.visible(user, reference)
    cases.audit(user, "read_case", reference, {"page": "case"})
    orphaned = None
    try:
        state = state_for(user.role, await cases.state(record))
    except CaseGone as error:
        orphaned = error.detail  # shown instead of the live state; no action can be taken
        state = {"pseudonym": record.pseudonym, "stage": record.stage, "deadlines": [], "late": record.late,
                 "escalated": record.escalated, "closed_reason": record.closed_reason}
    themes = sorted(known_themes(session))
    actions = [] if orphaned else [
        action_form(name, state, themes, user) for name in available_actions(user, state, reference)
        if name not in NOT_ON_CASE_PAGE]
    errors, typed = errors or {}, dict(typed or {})
    state["final_report_uploads"] = [{"id": d.id, "version": d.version} for d in session.exec(
        select(Document).where(Document.case_reference == reference, Document.kind == FINAL_REPORT)
        .order_by(Document.version))] if document_visible(user.role, FINAL_REPORT) else []
    for a in actions:
        typed.setdefault(a["name"], prefilled(a["name"], state))
        if a["name"] == RETURN_ACTION:  # her agency's draft: the form starts from it, and says whose it is
            a["drafts"] = True
            if (draft := draft_of(cases, user, reference)) is not None:
                a["draft_note"] = draft_note(cases, draft)
                typed[a["name"]] = typed[a["name"]] or {n: getattr(draft, n) for n in DRAFT_FIELDS}
    summary_errors = [pair for a in actions for pair in error_list(a["name"], a["fields"], errors.get(a["name"], {}))]
    timeline = session.exec(select(AuditEvent).where(AuditEvent.case_reference == reference, CHANGE_ROWS)
                            .order_by(AuditEvent.id)).all()
    timeline = timeline_sentences(timeline, {u.id: u for u in session.exec(select(User))})
    tasks = session.exec(select(Task).where(Task.case_reference == reference, Task.status == TaskStatus.open,
                                            task_scope(user)).order_by(Task.due_date)).all()
    documents = [d for d in session.exec(select(Document).where(Document.case_reference == reference)
                                         .order_by(Document.kind, Document.version))
                 if document_visible(user.role, d.kind, user.agency)]
    calendar, today = partnership_calendar(session), london_date(datetime.now(UTC))
    state["outstanding"] = waiting_on(state, today)  # the review's stages and the partners' open proposals too
    returns = information_returns(cases, user, reference, state, calendar, today) if not orphaned else []
    # The case's missed deadlines once each (escalation tasks go to several people for the same miss).
    late = late_cases(session, today=today, calendar=calendar, references=[reference])
    tasks = [t for t in tasks if t.kind != TaskKind.escalation]
    review = state.get("practice_review") or {}
    may_sign_report = (user.role == Role.executive and review.get("stage") == "final_sign_off" and not any(
        s["seat"] == user.seat and s["version"] == review.get("report_version") for s in review.get("sign_offs") or []))
    may_upload = user.role == Role.business_unit and review.get("stage") in REPORT_STAGES
    may_sign = (user.role == Role.executive and awaits_sign_off(state)
                and not any(s["seat"] == user.seat and s["version"] == state.get("decision_sheet_version")
                            for s in state.get("sign_offs") or []))
    session.commit()
    return render(request, "case.html", user, status_code=status_code, reference=reference, state=state,
                  actions=actions, timeline=timeline, tasks=tasks, documents=documents,
                  errors=errors, typed=typed, orphaned=orphaned, returns=returns, error_summary=summary_errors,
                  confirmation=done_banner(done, state), may_sign=may_sign, who_waits=who_waits,
                  sin_decision=sin_summary(state, user), late=late, joint=joint_decisions(state),
                  may_sign_report=may_sign_report, may_upload=may_upload)


def timeline_sentences(events: list[AuditEvent], users: dict[int, User]) -> list[dict]:
    """The case's changes as sentences in the past tense, each naming its person once and the outcome ("… approved
    the decision sheet, version 2."); issued decision sheets are numbered in the order they were issued."""
    entries, sheets = [], 0
    for event in events:
        actor = users.get(event.actor_id) if event.actor_id else None
        who = wording.person(actor.full_name if actor else None, event.actor_role,
                             seat=actor.seat if actor else None, agency=actor.agency if actor else None)
        sheets += event.action == "issue_decision_sheet"
        entries.append({"at": event.at, "sentence": wording.timeline_entry(
            event.action, event.detail, actor=who, version=sheets if event.action == "issue_decision_sheet" else None)})
    return entries


def sin_summary(state: dict, user: User) -> dict | None:
    """The notification decision for the summary: what was agreed and the CSC lead's rationale (not shown to agency
    members, like the rest of the partners' reasoning)."""
    agreed = state.get("sin_agreed") or (state.get("sin_decision") or {}).get("decision")
    proposals = state.get("sin_proposals") or []
    if not agreed and not proposals:
        return None
    rationale = proposals[-1].get("rationale") if proposals else (state.get("sin_decision") or {}).get("rationale")
    return {"decision": agreed, "proposed": proposals[-1]["decision"] if proposals else None,
            "rationale": None if user.role == Role.agency_member else rationale}


def done_banner(done: str | None, state: dict | None) -> dict | None:
    """The success banner after an action: what was done, and what happens next (who it waits on)."""
    if not done or (done not in wording.DONE and done.split(":")[0] not in ACTIONS):
        return None
    state = state or {}
    today = london_date(datetime.now(UTC))
    waiting = [f"{wording.plain(item['what'])}: {who_waits(item)}" for item in waiting_on(state, today)]
    preparing = [wording.BEING_PREPARED.format(title=document_title(kind))
                 for found in (state, state.get("practice_review") or {})
                 for kind in found.get("documents_in_preparation") or []]
    return {"title": wording.done_title(done), "next": preparing + waiting, "reference": state.get("reference")}


@router.get("/cases/{reference}")
async def case_view(reference: str, request: Request, cases: Cases,
                    user: Annotated[User, Depends(page_roles(*CASE_READERS))],
                    done: Annotated[str | None, Query(max_length=40)] = None) -> HTMLResponse:
    """The case summary, what happens next, the returns, the actions this user may take now, deadlines, tasks,
    documents and timeline."""
    return await case_page(request, cases, user, reference, done=done)


@router.post("/cases/{reference}/actions/{action}")
async def case_action(reference: str, action: str, request: Request, cases: Cases,
                      user: Annotated[User, Depends(page_roles(*CASE_ACTORS))]) -> Response:
    """A form's action. Refused (by the form's rules or the workflow), the page it came from shows the error
    summary and what was typed; done, that page shows a confirmation. Decline and close ask first; the decision
    sheet shows its answers to check before it is issued."""
    spec = ACTIONS.get(action)
    if spec is None:
        raise HTTPException(404, f"Unknown action {action!r}")
    form = await request.form()
    back = safe_back(form.get("back"), f"/cases/{reference}")
    fields = action_fields(action, sorted(known_themes(cases.session)))
    if "delay_reason" in form:
        fields.append(FormField(name="delay_reason", label="Reason for the delay", kind="textarea", required=True,
                                help=None))
    body, errors = form_body(fields, form)
    typed = typed_values(form)
    if "delay_reason" in form and not body.get("delay_reason"):
        errors["delay_reason"] = wording.MISSING["delay_reason"]
    if action in SIGN_OFFS and body.get("decision") == "return" and not body.get("comments"):
        errors["comments"] = "Enter your comments for the chair: what must change"
    if action in SIGN_OFFS and body.get("decision") == "approve":  # an approval says in what capacity, and why
        if not body.get("capacity"):
            errors["capacity"] = "Select whether you sign as the lead or a delegated safeguarding partner"
        if back.endswith(APPROVER_PAGES) and form.get("declaration") != "yes":
            thing = "final report" if action == "sign_off_report" else "decision sheet"
            errors["declaration"] = (f"Confirm that you have read this version of the {thing} and approve it for "
                                     "your organisation")
    if action == "issue_decision_sheet":  # the questions every rapid review answers, named in the error summary
        errors = {**unanswered(body), **errors}
    if not errors:
        errors = invalid_fields(spec.model, body, fields, actor=actor_of(user).model_dump())
    if errors or form.get("change"):
        return await page_again(request, cases, user, reference, back, action, errors, typed)
    if form.get("confirmed") != "yes" and (action in CONFIRM_FIRST or action in CHECK_ANSWERS):
        record = cases.visible(user, reference)
        answers = check_answers(action, fields, body, reference, to_field=not back.startswith("/tasks"))
        proposal = action in JOINT_ACTIONS and await goes_to_partners(cases, record, user)
        heading = CONFIRM_FIRST.get(action) or CHECK_ANSWERS[action][0]
        return render(request, "confirm.html", user, reference=reference, action=action, back=back,
                      heading=f"Propose to the partners: {heading[0].lower()}{heading[1:]}" if proposal else heading,
                      warning=action in CONFIRM_FIRST, proposal=proposal, answers=answers, typed=typed,
                      button=("Propose to the three partners" if proposal else wording.label(action))
                      if action in CONFIRM_FIRST else CHECK_ANSWERS[action][1])
    try:
        outcome = await cases.act(user, reference, action, body)
    except (NotFound, NotPermitted):
        raise
    except DomainError as error:
        message = wording.plain(error.detail)
        return await page_again(request, cases, user, reference, back, action,
                                {field_named(message, fields): message}, typed, status_of(error))
    done = f"{action}:{body['decision']}" if action in SIGN_OFFS else action
    if action in JOINT_ANSWERS:
        done = f"{action}:{body['view']}"
    elif proposed_to_partners(action, outcome.body):
        done = "proposed_to_partners"
    if back.startswith("/tasks") or back.endswith(APPROVER_PAGES):
        return RedirectResponse(f"/tasks?done={done}&case={reference}", status_code=303)
    return RedirectResponse(f"{back}?done={done}", status_code=303)


@router.post("/cases/{reference}/return-draft")
async def return_draft(reference: str, request: Request, cases: Cases,
                       user: Annotated[User, Depends(page_roles(Role.agency_member))]) -> Response:
    """The return form's "Save as draft": what she typed so far is kept for her agency, even if incomplete; too long
    (or a case that takes no return from her agency now) is refused and nothing is kept."""
    await check_may_save(cases, user, reference)
    form = await request.form()
    typed = {name: str(form.get(name) or "") for name in DRAFT_FIELDS}
    if errors := text_errors(typed):
        return await page_again(request, cases, user, reference, f"/cases/{reference}", RETURN_ACTION, errors, typed)
    save_draft(cases, user, reference, typed)
    return RedirectResponse(f"/cases/{reference}?done=return_draft_saved#{RETURN_ACTION}-form", status_code=303)


def check_answers(action: str, fields: list[FormField], body: dict, reference: str, *, to_field: bool) -> list[dict]:
    """The answers to check, in their sections, each (on a form checked before sending) with a Change button that
    takes the person back to the form with everything they typed (``to_field``: to that question, on the case page
    whose fields the anchors name)."""
    shown = [f for f in fields if f.kind != "hidden"]
    groups = sheet_sections(shown) if action == "issue_decision_sheet" else [{"legend": None, "fields": shown}]
    changeable = action in CHECK_ANSWERS
    return [{"legend": group["legend"], "rows": [
        {"label": f.label, "answer": answer_text(f, body.get(f.name)),
         "change": f"/cases/{reference}/actions/{action}" + (f"#{field_anchor(action, f)}" if to_field else "")
         if changeable else None}
        for f in group["fields"]]} for group in groups if group["fields"]]


async def page_again(request: Request, cases: CaseService, user: User, reference: str, back: str, action: str,
                     errors: dict, typed: dict, status_code: int | None = None) -> HTMLResponse:
    """Back to the page the person came from, with the errors and what they typed."""
    status_code = status_code or (422 if errors else 200)
    if back.startswith("/tasks"):
        return await my_tasks_page(request, cases, user, status_code,
                             failed={"case": reference, "action": action, "errors": errors, "typed": typed})
    if back.endswith("/report-sign-off"):
        from service.web_final_report import report_sign_off_page  # its module builds on this one

        return await report_sign_off_page(request, cases, user, reference, status_code, errors, typed)
    if back.endswith("/sign-off"):
        return await sign_off_page(request, cases, user, reference, status_code, errors, typed)
    return await case_page(request, cases, user, reference, status_code=status_code,
                           errors={action: errors}, typed={action: typed})


# ---------------------------------------------------------------- the approver's page


def sheet_body(store: ObjectStore, document: Document | None) -> Markup | None:
    """The issued decision sheet's content (the document the Executives sign), to show in the page."""
    if document is None:
        return None
    try:
        html = read_stored(store, document.html_path).decode("utf-8")
    except MissingObject:
        return None
    start, end = html.find("<main>"), html.rfind("</main>")
    # The document was rendered by the service with autoescaping; only its own markup is kept.
    body = html[start + len("<main>"):end] if start >= 0 <= end else ""
    return Markup(wording.ISO_DATE.sub(lambda m: wording.long_date(m.group(1)), body))  # noqa: S704


def sheet_lines(store: ObjectStore, document: Document | None) -> list[str]:
    if document is None:
        return []
    text = re.sub(r"<[^>]+>", "\n", str(sheet_body(store, document)))
    return [" ".join(line.split()) for line in html_lib.unescape(text).splitlines() if line.strip()]


def field_changes(versions: list[dict], version: int) -> list[dict] | None:
    """What changed between the last two versions of the decision sheet, question by question ("label: old → new"),
    in the form's words; None for a case whose earlier versions were not kept (the text comparison stands)."""
    if len(versions) < 2 or len(versions) != version:
        return None
    fields = [f for f in action_fields("issue_decision_sheet", []) if f.kind != "hidden"]
    old, new = versions[-2], versions[-1]
    return [{"label": f.label, "old": answer_text(f, old.get(f.name)) or "Not answered",
             "new": answer_text(f, new.get(f.name)) or "Not answered"}
            for f in fields if old.get(f.name) != new.get(f.name)]


def awaits_sign_off(state: dict) -> bool:
    """The decision sheet waits for the seats: at the sign-off stage, or a revision after the Panel's questions."""
    return state.get("stage") == Stage.executive_sign_off or bool(state.get("revision"))


async def sign_off_page(request: Request, cases: CaseService, user: User, reference: str, status_code: int = 200,
                        errors: dict | None = None, typed: dict | None = None) -> HTMLResponse:
    """The decision sheet in full, what changed since the version returned and why, then "Your decision"."""
    session = cases.session
    record = cases.visible(user, reference)
    state = state_for(user.role, await cases.state(record))
    version = state.get("decision_sheet_version") or 0
    sheets = {d.version: d for d in session.exec(select(Document).where(
        Document.case_reference == reference, Document.kind == "decision_sheet"))}
    sheet = sheets.get(version)
    cases.audit(user, "read_document", reference, {"page": "sign_off", "version": version})
    before, now = sheet_lines(cases.documents, sheets.get(version - 1)), sheet_lines(cases.documents, sheet)
    changed = {"added": [line for line in now if line not in before],
               "removed": [line for line in before if line not in now],
               "fields": field_changes(state.get("decision_sheet_versions") or [], version)} if version > 1 else None
    returned = [s for s in state.get("sign_offs") or [] if s["decision"] == "return" and s["version"] == version - 1]
    fields = form_fields(ACTIONS["sign_off"].model)
    session.commit()
    errors = errors or {}
    return render(request, "sign_off.html", user, status_code=status_code, reference=reference, state=state,
                  version=version, sheet=sheet, body=sheet_body(cases.documents, sheet), changed=changed,
                  returned=returned,
                  errors=errors, typed=typed or {}, capacity=next(f for f in fields if f.name == "capacity"),
                  delay=delay_field(state), error_summary=error_list("sign_off", fields + [
                      FormField(name="delay_reason", label="", kind="textarea", required=True, help=None),
                      FormField(name="declaration", label="", kind="checkbox", required=False, help=None)], errors),
                  already=any(s["seat"] == user.seat and s["version"] == version for s in state.get("sign_offs") or []),
                  waiting=awaits_sign_off(state))


@router.get("/cases/{reference}/sign-off")
async def sign_off_view(reference: str, request: Request, cases: Cases,
                        user: Annotated[User, Depends(page_roles(*EXECUTIVES))]) -> HTMLResponse:
    """The approver's page: the sheet, what changed and the return comments, then approve or return."""
    return await sign_off_page(request, cases, user, reference)


# ---------------------------------------------------------------- my tasks


@router.get("/tasks")
async def my_tasks(request: Request, cases: Cases,
                   user: Annotated[User, Depends(page_roles(*CASE_READERS))],
                   done: Annotated[str | None, Query(max_length=40)] = None,
                   case: Annotated[str | None, Query(max_length=40)] = None) -> HTMLResponse:
    """Open tasks for me, soonest first; after an action, what was done and what happens next."""
    banner = None
    if done and case:
        record = cases.visible(user, case)
        cases.audit(user, "read_case", case, {"page": "tasks", "shown": "what happens next"})
        try:
            state = state_for(user.role, await cases.state(record))
        except DomainError:
            state = None
        banner = done_banner(done, state)
        banner = banner and banner | {"reference": case}
    return await my_tasks_page(request, cases, user, banner=banner)


async def late_cases_delays(cases: CaseService, references: set[str]) -> dict[str, FormField]:
    """For the late cases among these: the delay-reason question their actions must answer (if still unexplained)."""
    asked = {}
    for record in cases.session.exec(select(CaseRecord).where(CaseRecord.reference.in_(references),
                                                         CaseRecord.late == True)):  # noqa: E712 - SQL
        try:
            delay = delay_field(await cases.state(record))
        except DomainError:
            continue
        if delay is not None:
            asked[record.reference] = delay
    return asked


async def my_tasks_page(request: Request, cases: CaseService, user: User, status_code: int = 200,
                        failed: dict | None = None, banner: dict | None = None) -> HTMLResponse:
    session = cases.session
    tasks = session.exec(select(Task).where(task_scope(user), assigned_to(user), Task.status == TaskStatus.open)
                         .order_by(Task.due_date.is_(None), Task.due_date, Task.id)).all()
    calendar, today = partnership_calendar(session), london_date(datetime.now(UTC))
    # Escalations are shown once per late case, every missed deadline listed, not one card per escalation task.
    late_references = sorted({t.case_reference for t in tasks if t.kind == TaskKind.escalation})
    late = late_cases(session, today=today, calendar=calendar, references=late_references) if late_references else []
    tasks = [t for t in tasks if t.kind != TaskKind.escalation]
    themes = sorted(known_themes(session))
    delays = await late_cases_delays(cases, {t.case_reference for t in tasks if t.action in ACTIONS})
    items, summary = [], []
    for task in tasks:
        fields = form_fields(ACTIONS[task.action].model, themes) if task.action in ACTIONS else []
        if any(f.kind == "hidden" for f in fields):  # it answers a version: done on the case page, beside it
            fields = []
        if fields and task.case_reference in delays:
            fields.append(delays[task.case_reference])
        mine = failed if failed and failed["case"] == task.case_reference and failed["action"] == task.action else {}
        if mine:
            summary += error_list(f"t{task.id}", fields, mine["errors"])
        items.append({"task": task, "urgency": urgency(task, today, calendar), "fields": fields,
                      "errors": mine.get("errors", {}), "typed": mine.get("typed", {}),
                      "left": calendar.working_days_between(today, task.due_date) if task.due_date else None})
    cases.audit(user, "list_tasks", None, {"page": "tasks", "shown": len(items)})
    return render(request, "tasks.html", user, status_code=status_code, items=items, error_summary=summary,
                  confirmation=banner, late=late)


# ---------------------------------------------------------------- outbox


@router.get("/outbox")
def outbox_page(request: Request, session: PageSession,
                user: Annotated[User, Depends(page_roles(*ADMINS))]) -> HTMLResponse:
    messages = session.exec(select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(200)).all()
    return render(request, "outbox.html", user, messages=messages)

