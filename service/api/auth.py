"""Sign-in: a bearer token for API clients (OAuth2 password form), a session cookie for the web pages, sign-out,
who-am-I and changing one's own password. Failures slow further attempts (per username and per client
address, service.accounts.auth.SignInBackoff); every attempt is audited."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Header, HTTPException, Request, Response, status
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, Field

from service.accounts.auth import (
    MAX_PASSWORD,
    CurrentUser,
    DbSession,
    SessionKind,
    keep_pre_session,
    pre_session_nonce,
    sign_in_csrf_ok,
    sign_in_csrf_token,
)
from service.accounts.sign_in import (
    SIGN_IN_CSRF_REFUSED,
    change_own_password,
    end_this_session,
    session_seconds,
    set_session_cookie,
    sign_in,
)

router = APIRouter(prefix="/api", tags=["auth"])
SignInForm = Annotated[OAuth2PasswordRequestForm, Depends()]
OneTimeCode = Annotated[str, Form(max_length=40, description="The authenticator's current code or a recovery "
                                                               "code, for an account with a second factor")]



class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - OAuth2 token type, not a secret
    expires_in: int = Field(description="Seconds until the session ends whatever happens; it ends sooner when "
                                        "unused for the idle timeout")


class SessionStarted(BaseModel):
    csrf_token: str
    expires_in: int


class SignInCsrf(BaseModel):
    csrf_token: str


class Me(BaseModel):
    id: int
    username: str
    full_name: str
    role: str
    agency: str | None
    seat: str | None


class PasswordChange(BaseModel):
    current_password: str = Field(max_length=MAX_PASSWORD)
    new_password: str = Field(max_length=MAX_PASSWORD)


@router.post("/auth/token", response_model=Token)
def token(request: Request, form: SignInForm, otp: OneTimeCode = "") -> Token:
    """Exchange a username and password for a bearer token (API clients; no cookie, so no CSRF token).

    An account with a second factor also sends its current code (or a recovery code) as ``otp``."""
    _, access_token = sign_in(request, form.username, form.password, SessionKind.bearer, otp)
    return Token(access_token=access_token, expires_in=session_seconds(request))


@router.get("/auth/session", response_model=SignInCsrf)
def session_csrf(request: Request, response: Response) -> SignInCsrf:
    """The CSRF token a browser's sign-in (POST /api/auth/session) must send, bound to a pre-session cookie."""
    nonce = pre_session_nonce(request)
    keep_pre_session(request, response, nonce)
    return SignInCsrf(csrf_token=sign_in_csrf_token(request, nonce))


@router.post("/auth/session", response_model=SessionStarted)
def start_browser_session(request: Request, response: Response, form: SignInForm,
                          x_csrf_token: Annotated[str, Header(max_length=200)] = "",
                          csrf_token: Annotated[str, Form(max_length=200)] = "",
                          otp: OneTimeCode = "") -> SessionStarted:
    """Sign in for a browser, with the token from GET /api/auth/session; sets the session cookie.

    The sign-in token goes in X-CSRF-Token or the csrf_token field; changes must then send the returned CSRF
    token back."""
    if not sign_in_csrf_ok(request, x_csrf_token or csrf_token):
        raise HTTPException(status.HTTP_403_FORBIDDEN, SIGN_IN_CSRF_REFUSED)
    _, session_token = sign_in(request, form.username, form.password, SessionKind.cookie, otp)
    return SessionStarted(csrf_token=set_session_cookie(request, response, session_token),
                          expires_in=session_seconds(request))


@router.post("/auth/signout", status_code=status.HTTP_204_NO_CONTENT)
def sign_out(request: Request, response: Response, session: DbSession, user: CurrentUser) -> None:
    """End this session: the bearer token or cookie it was called with stops working."""
    end_this_session(request, session, user, response)


@router.get("/me", response_model=Me)
def me(user: CurrentUser) -> Me:
    """The signed-in user and their role."""
    return Me.model_validate(user, from_attributes=True)


@router.post("/me/password", status_code=status.HTTP_204_NO_CONTENT)
def change_password(request: Request, session: DbSession, user: CurrentUser, body: PasswordChange) -> None:
    """Change my password (current and new): every session of mine ends, this token included; sign in again."""
    change_own_password(request, session, user, body.current_password, body.new_password)
