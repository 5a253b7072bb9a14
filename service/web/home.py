"""The way in: sign in and out, the home page each role lands on, and the accessibility statement."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from service.accounts.auth import (
    SessionKind,
    sign_in_csrf_ok,
)
from service.accounts.sign_in import SIGN_IN_CSRF_REFUSED, end_this_session, set_session_cookie, sign_in
from service.deps import app_settings
from service.web.pages import PageSession, PageUser, home_for, render, signin_form

router = APIRouter(include_in_schema=False)


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
