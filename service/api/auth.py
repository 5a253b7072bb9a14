"""Sign-in: a bearer token for API clients (OAuth2 password form), a session cookie for the web pages,
sign-out, and who-am-I. Repeated failures for one username are throttled; every attempt is audited."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel
from sqlmodel import Session

from service.api.access import audit
from service.auth import (
    SESSION_COOKIE,
    TOKEN_HOURS,
    CurrentUser,
    DbSession,
    authenticate,
    issue_token,
    new_csrf_token,
    record_sign_in,
    throttled_for,
)
from service.models import User

router = APIRouter(prefix="/api", tags=["auth"])
SignInForm = Annotated[OAuth2PasswordRequestForm, Depends()]


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - OAuth2 token type, not a secret
    expires_in: int = TOKEN_HOURS * 3600


class SessionStarted(BaseModel):
    csrf_token: str
    expires_in: int = TOKEN_HOURS * 3600


class Me(BaseModel):
    id: int
    username: str
    full_name: str
    role: str
    agency: str | None
    seat: str | None


def sign_in(request: Request, session: Session, username: str, password: str) -> User:
    """The user, or 429 (too many recent failures) / 401 (wrong username or password)."""
    wait = throttled_for(session, username)
    if wait:
        audit(session, request, None, "sign_in_throttled", None, {"username": username})
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS,
                            f"Too many failed sign-ins for this username; try again in {wait} seconds",
                            {"Retry-After": str(wait)})
    user = authenticate(session, username, password)
    record_sign_in(session, username, succeeded=user is not None)
    if user is None:
        audit(session, request, None, "sign_in_failed", None, {"username": username})
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Wrong username or password")
    audit(session, request, user, "sign_in", None, {})
    return user


@router.post("/auth/token", response_model=Token)
def token(request: Request, session: DbSession, form: SignInForm) -> Token:
    """Exchange a username and password for a bearer token (API clients)."""
    user = sign_in(request, session, form.username, form.password)
    return Token(access_token=issue_token(user, request.app.state.settings.secret_key))


def set_session_cookie(request: Request, response: Response, user: User) -> str:
    """Start a browser session: an HttpOnly, SameSite cookie (Secure outside dev); returns its CSRF token."""
    settings = request.app.state.settings
    csrf = new_csrf_token()
    response.set_cookie(SESSION_COOKIE, issue_token(user, settings.secret_key, csrf=csrf), max_age=TOKEN_HOURS * 3600,
                        httponly=True, samesite="lax", secure=settings.is_production, path="/")
    return csrf


@router.post("/auth/session", response_model=SessionStarted)
def start_session(request: Request, response: Response, session: DbSession, form: SignInForm) -> SessionStarted:
    """Sign in for a browser: sets the session cookie; changes must send the CSRF token back."""
    user = sign_in(request, session, form.username, form.password)
    return SessionStarted(csrf_token=set_session_cookie(request, response, user))


@router.post("/auth/signout", status_code=status.HTTP_204_NO_CONTENT)
def sign_out(request: Request, response: Response, session: DbSession, user: CurrentUser) -> None:
    """End the browser session (the cookie is removed)."""
    audit(session, request, user, "sign_out", None, {})
    response.delete_cookie(SESSION_COOKIE, path="/")


@router.get("/me", response_model=Me)
def me(user: CurrentUser) -> Me:
    """The signed-in user and their role."""
    return Me.model_validate(user, from_attributes=True)
