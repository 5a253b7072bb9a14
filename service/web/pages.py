"""What every page shares: who is signed in (``page_user``, ``page_roles``), rendering a template with the
words' filters, the error pages, the same-origin check and the resubmit page.

Server-rendered Jinja2 (``templates/web/``), no JavaScript needed. Pages use the same roles, actions and
audit trail as the API: a form posts to a page route that calls the same service as its API route; a refused
action re-renders the page with the reason next to the form and what was typed kept. The forms themselves are
built and read by ``service/web/forms.py``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from engine.vocabulary import (
    AGENCIES,
    SEAT_NAMES,
    Role,
)
from records.models import User
from service.accounts.auth import (
    CSRF_FIELD,
    CSRF_REFUSED,
    SESSION_COOKIE,
    current_user,
    keep_pre_session,
    pre_session_nonce,
    sign_in_csrf_token,
)
from service.deps import DbSession, SettingsDep, app_settings
from service.web import wording

templates = Jinja2Templates(directory=str(__import__("templates").__path__[0] + "/web"))


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

    async def check(user: PageUser) -> User:  # on the loop: no thread for a comparison
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
