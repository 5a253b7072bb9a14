"""Signing in, shared by the API's sign-in routes and the sign-in, account, second-factor and OIDC pages: the
password and one-time-code checks (slowed by ``SignInBackoff``, every attempt audited), starting and ending a
session, the session cookie, and changing one's own password. HTTP-aware (it reads the request's client address
and sets cookies), so it sits beside ``deps.py``, not among the services; neither routes nor pages own it.
"""

from __future__ import annotations

from fastapi import HTTPException, Request, Response, status
from sqlmodel import Session, select

from records.models import User
from records.vocabulary import SignInStep
from service.accounts.auth import (
    DUMMY_HASH,
    MAX_PASSWORD,
    MAX_USERNAME,
    SESSION_COOKIE,
    SIGN_IN_COOKIE,
    SessionKind,
    SessionPolicy,
    SignInBackoff,
    client_address,
    end_session,
    session_csrf_token,
    start_session,
    text_problem,
    utcnow,
    verify_password,
)
from service.accounts.mfa import check_second_factor, enrolled, mfa_required, totp_keys
from service.accounts.users import AccountError, new_password_hash, set_password
from service.deps import app_settings, audit, audit_trail, database_engine, request_id

SIGN_IN_CSRF_REFUSED = "This sign-in form is missing its security token (CSRF); reload the sign-in page and try again"


def check_password(request: Request, username: str, password: str, *, failed_action: str,
                   actor: User | None = None) -> User | None:
    """The active user whose password this is, or None (audited as ``failed_action``); 429 while this username
    or this client address must wait, 422 for text no username or password can hold.

    Argon2 runs outside any database transaction: read what is needed and commit, verify, then write the outcome
    in a second short transaction (on SQLite a transaction holds the write lock, and eight concurrent sign-ins
    holding it through Argon2 once stalled every signed-in page for seconds)."""
    for field, value, limit in (("username", username, MAX_USERNAME), ("password", password, MAX_PASSWORD)):
        if problem := text_problem(field, value, limit):
            raise HTTPException(422, f"The request is not valid: {problem}")
    settings, engine = app_settings(request), database_engine(request)
    backoff, address = SignInBackoff.from_settings(settings), client_address(request)
    with Session(engine, expire_on_commit=False) as session:
        user = session.exec(select(User).where(User.username == username)).first()
        noted = backoff.note_attempt(session, username=username, address=address)
        session.commit()
    correct = verify_password(password, user.password_hash if user else DUMMY_HASH)
    with Session(engine, expire_on_commit=False) as session:
        wait, whose = backoff.required_wait(session, username=username, address=address, besides=noted.id)
        if wait:
            backoff.withdraw(session, noted.id)
            audit(session, request, None, "sign_in_throttled", None,
                  {"username": username, "address": address, "wait_seconds": wait})
            raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS,
                                f"Too many failed sign-ins for {whose}; try again in {wait} seconds",
                                {"Retry-After": str(wait)})
        if not (correct and user is not None and user.is_active):
            audit(session, request, actor, failed_action, None, {"username": username, "address": address})
            return None
        backoff.forget(session, username=username, address=address)
        session.commit()
    return user


class SecondFactorNeeded(Exception):  # noqa: N818 - a step of signing in, not a failure
    """The password was right and the account needs its one-time code (``enrolled``) or must enrol first: the
    sign-in page asks for it on a second page."""

    def __init__(self, user: User, enrolled: bool):
        super().__init__(user.username)
        self.user, self.enrolled = user, enrolled


def check_one_time_code(request: Request, user: User, code: str) -> None:
    """Accept the account's TOTP or an unused recovery code, or 401 (audited as "mfa_failed"). Wrong codes slow
    further tries like wrong passwords, counted apart (a right password must not wipe them)."""
    settings, engine = app_settings(request), database_engine(request)
    backoff, address = SignInBackoff.from_settings(settings), client_address(request)
    step = SignInStep.second_factor
    with Session(engine, expire_on_commit=False) as session:
        wait, whose = backoff.required_wait(session, username=user.username, address=address, step=step)
        if wait:
            audit(session, request, user, "sign_in_throttled", None, {"username": user.username, "wait_seconds": wait})
            raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS,
                                f"Too many wrong codes for {whose}; try again in {wait} seconds",
                                {"Retry-After": str(wait)})
        how = check_second_factor(session, user=user, code=code, secret_key=totp_keys(settings))
        if how is None:
            backoff.note_attempt(session, username=user.username, address=address, step=step)
            audit(session, request, user, "mfa_failed", None, {"username": user.username, "address": address})
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "The code is not right (or was used already): type the "
                                "6-digit code your authenticator app shows now, or one of your recovery codes"
                                if code.strip() else "This account has a second factor: send its current one-time "
                                "code (or a recovery code) as otp")
        backoff.forget(session, username=user.username, address=address, step=step)
        if how == "recovery_code":
            audit(session, request, user, "mfa_recovery_code_used", None, {})
        session.commit()


def start_signed_in_session(request: Request, user: User, kind: SessionKind, *, second_factor: bool,
                            **detail) -> str:
    """A new session for a user who has passed every check, audited as "sign_in"; ``second_factor``: the sign-in
    passed one (a code here, or the partner organisation's own sign-in)."""
    policy = SessionPolicy.from_settings(app_settings(request))
    with Session(database_engine(request), expire_on_commit=False) as session:
        token = start_session(session, user_id=user.id, kind=kind, policy=policy, second_factor=second_factor,
                              now=utcnow())
        audit(session, request, user, "sign_in", None, {"kind": str(kind), **detail})
    return token


def sign_in(request: Request, username: str, password: str, kind: SessionKind,
            one_time_code: str | None = None) -> tuple[User, str]:
    """The user and a new session's token, or 429 / 422 (see check_password) / 401 (wrong username or password,
    or a wrong one-time code). An account with a second factor needs ``one_time_code`` (None: the caller asks for
    it on its own page, SecondFactorNeeded); one that must enrol first gets 403 here."""
    user = check_password(request, username, password, failed_action="sign_in_failed")
    if user is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Wrong username or password")
    with Session(database_engine(request)) as session:
        has_mfa = enrolled(session, user.id)
    if has_mfa or mfa_required(app_settings(request), user):
        if one_time_code is None:
            raise SecondFactorNeeded(user, enrolled=has_mfa)
        if not has_mfa:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "Your role needs a second factor: sign in once on the "
                                "sign-in page (/signin) to set up your authenticator app")
        check_one_time_code(request, user, one_time_code)
    return user, start_signed_in_session(request, user, kind, second_factor=has_mfa, mfa=has_mfa)


def session_seconds(request: Request) -> int:
    return int(app_settings(request).session_absolute_hours * 3600)


def set_session_cookie(request: Request, response: Response, token: str) -> str:
    """Give a browser its session: an HttpOnly, SameSite cookie (Secure outside dev) in place of the
    pre-session one; returns the CSRF token its forms must send back."""
    settings = app_settings(request)
    response.set_cookie(SESSION_COOKIE, token, max_age=session_seconds(request), httponly=True, samesite="lax",
                        secure=settings.is_production, path="/")
    response.delete_cookie(SIGN_IN_COOKIE, path="/")
    return session_csrf_token(settings, token)


def end_this_session(request: Request, session: Session, user: User, response: Response) -> None:
    """Sign-out: revoke the token this request came with (bearer or cookie) and remove the cookie."""
    end_session(session, token=request.state.session_token)
    audit(session, request, user, "sign_out", None, {})
    response.delete_cookie(SESSION_COOKIE, path="/")


def change_own_password(request: Request, session: Session, user: User, current: str, new: str) -> None:
    """Check the current password (a wrong one counts like a failed sign-in: 403, and the same backoff) and store
    the new one; every session of the user ends, this one included."""
    if check_password(request, user.username, current, failed_action="password_change_failed",
                      actor=user) is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "The current password is not right")
    if new == current:
        raise HTTPException(422, "The new password must differ from the current one")
    try:
        hashed = new_password_hash(new)  # Argon2 before the write transaction
    except AccountError as error:
        raise HTTPException(422, f"The request is not valid: {error}") from None
    session.add(user)
    set_password(session, user=user, hashed=hashed, by=user, audit_key=audit_trail(request).key,
                 request_id=request_id(request))
    session.commit()
