"""The second step of a local sign-in for an account with a second factor: the one-time code page, and the
enrolment page (secret as text, the otpauth address, a code to confirm, recovery codes shown once) for an
account whose role needs one. Between the password and the code the browser holds only a short-lived pending
cookie, bound to its pre-session cookie and naming the user; no session exists until the code is right."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from records.models import User
from service.accounts.auth import (
    SIGN_IN_COOKIE,
    SessionKind,
    keep_pre_session,
    keyed_token,
    pre_session_nonce,
    same_token,
    sign_in_csrf_ok,
    sign_in_csrf_token,
)
from service.accounts.mfa import confirm_enrolment, enrolled, enrolment_secret, provisioning_uri, totp_keys
from service.accounts.sign_in import (
    SIGN_IN_CSRF_REFUSED,
    SecondFactorNeeded,
    check_one_time_code,
    set_session_cookie,
    start_signed_in_session,
)
from service.deps import app_settings, audit, database_engine, request_id
from service.web.pages import home_for, render

router = APIRouter(include_in_schema=False)
PENDING_COOKIE = "rr_mfa"
PENDING_SECONDS = 300


def _pending_mac(request: Request, user_id: int, until: int) -> str:
    nonce = request.cookies.get(SIGN_IN_COOKIE, "")
    return keyed_token(app_settings(request).secret_key or "", "mfa-pending", f"{user_id}.{until}.{nonce}")


async def second_factor_step(request: Request, step: SecondFactorNeeded) -> Response:
    """The password was right: on to the code (or enrolment) page, holding the pending cookie."""
    until = int(time.time()) + PENDING_SECONDS
    response = RedirectResponse("/signin/code" if step.enrolled else "/signin/enrol", status_code=303)
    response.set_cookie(PENDING_COOKIE, f"{step.user.id}.{until}.{_pending_mac(request, step.user.id, until)}",
                        max_age=PENDING_SECONDS, httponly=True, samesite="strict",
                        secure=app_settings(request).is_production, path="/signin")
    return response


def pending_user(request: Request) -> User | None:
    """The user whose password this browser gave in the last few minutes, or None."""
    user_id, _, rest = request.cookies.get(PENDING_COOKIE, "").partition(".")
    until, _, mac = rest.partition(".")
    if not (user_id.isdigit() and until.isdigit()) or int(until) < time.time():
        return None
    if not same_token(mac, _pending_mac(request, int(user_id), int(until))):
        return None
    with Session(database_engine(request), expire_on_commit=False) as session:
        user = session.get(User, int(user_id))
    return user if user is not None and user.is_active else None


def code_page(request: Request, name: str, status_code: int = 200, **context) -> HTMLResponse:
    nonce = pre_session_nonce(request)
    response = render(request, name, None, status_code=status_code, sign_in_csrf=sign_in_csrf_token(request, nonce),
                      **context)
    keep_pre_session(request, response, nonce)
    return response


def signed_in(request: Request, response: Response, user: User) -> Response:
    token = start_signed_in_session(request, user, SessionKind.cookie, second_factor=True, mfa=True)
    set_session_cookie(request, response, token)
    response.delete_cookie(PENDING_COOKIE, path="/signin")
    return response


@router.get("/signin/code")
def code_form(request: Request) -> Response:
    if pending_user(request) is None:
        return RedirectResponse("/signin", status_code=303)
    return code_page(request, "signin_code.html")


@router.post("/signin/code")
def code_submit(request: Request, code: Annotated[str, Form(max_length=40)] = "",
                csrf_token: Annotated[str, Form(max_length=200)] = "") -> Response:
    """The code (or a recovery code): a session, or the page again with what is wrong (audited)."""
    if not sign_in_csrf_ok(request, csrf_token):
        raise HTTPException(403, SIGN_IN_CSRF_REFUSED)
    user = pending_user(request)
    if user is None:
        return RedirectResponse("/signin", status_code=303)
    if not code.strip():
        return code_page(request, "signin_code.html", 422, error="Enter the code from your authenticator app")
    try:
        check_one_time_code(request, user, code)
    except HTTPException as error:
        return code_page(request, "signin_code.html", error.status_code, error=error.detail)
    return signed_in(request, RedirectResponse(home_for(user), status_code=303), user)


@router.get("/signin/enrol")
def enrol_form(request: Request) -> Response:
    user = pending_user(request)
    if user is None:
        return RedirectResponse("/signin", status_code=303)
    return enrol_page(request, user)


def enrol_page(request: Request, user: User, status_code: int = 200, error: str | None = None) -> Response:
    settings = app_settings(request)
    with Session(database_engine(request)) as session:
        if enrolled(session, user.id):
            return RedirectResponse("/signin/code", status_code=303)
        secret = enrolment_secret(session, user=user, secret_key=totp_keys(settings),
                                  bound_to=request.cookies.get(PENDING_COOKIE, ""))
        session.commit()
    return code_page(request, "signin_enrol.html", status_code, secret=secret, error=error,
                     uri=provisioning_uri(secret, user, settings.rapid_review_partnership_name))


@router.post("/signin/enrol")
def enrol_submit(request: Request, code: Annotated[str, Form(max_length=40)] = "",
                 csrf_token: Annotated[str, Form(max_length=200)] = "") -> Response:
    """Confirm the authenticator with its first code; the recovery codes are shown once, signed in."""
    if not sign_in_csrf_ok(request, csrf_token):
        raise HTTPException(403, SIGN_IN_CSRF_REFUSED)
    user = pending_user(request)
    if user is None:
        return RedirectResponse("/signin", status_code=303)
    settings = app_settings(request)
    with Session(database_engine(request)) as session:
        codes = confirm_enrolment(session, user=user, code=code, secret_key=totp_keys(settings),
                                  bound_to=request.cookies.get(PENDING_COOKIE, ""),
                                  audit_key=settings.audit_key_bytes, request_id=request_id(request))
        session.commit()
    if codes is None:
        with Session(database_engine(request)) as session:
            audit(session, request, user, "mfa_enrol_failed", None, {"username": user.username})
        return enrol_page(request, user, 422, error="The code is not right: type the 6 digits your authenticator "
                                                    "app shows now for this service")
    return signed_in(request, render(request, "signin_recovery_codes.html", None, codes=codes,
                                     next=home_for(user)), user)
