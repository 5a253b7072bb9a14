"""Who is calling: password hashes, server-side sessions (a browser's cookie or an API client's bearer token,
with CSRF tokens for cookies and for the sign-in form), sign-in backoff, and the role checks every route
declares.

Sessions are rows, not self-contained signed tokens: a token is a random string whose SHA-256 names a
``user_session`` row, looked up on every request. Deleting the row revokes exactly that token (sign-out on
one device leaves the others signed in), deleting a user's rows revokes all of them (password change, reset,
disable), and the row's ``last_seen_at`` gives each session its own idle timeout. A per-user token version
would revoke too, but only all of a user's sessions at once, and could not time out one idle session.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated

from anyio.to_thread import run_sync as in_thread
from fastapi import Depends, HTTPException, Request, Response, status
from fastapi.security import OAuth2PasswordBearer
from pwdlib import PasswordHash
from sqlalchemy import delete, func, or_, update
from sqlmodel import Session, select

from engine.vocabulary import Role
from records.db import begin_read, begin_write
from records.models import SignInFailure, User, UserSession
from records.vocabulary import SignInStep
from service.accounts.roles import SECOND_FACTOR_ROLES
from service.deps import DbSession, SettingsDep, app_settings
from service.platform.settings import Settings

password_hash = PasswordHash.recommended()  # Argon2id

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/auth/token", auto_error=False)
SESSION_COOKIE = "rr_session"
SIGN_IN_COOKIE = "rr_sign_in"  # the pre-session cookie the sign-in form's CSRF token is bound to
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
CSRF_REFUSED = "This form is missing its security token (CSRF); reload the page and try again"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LAST_SEEN_EVERY = timedelta(minutes=1)  # a session's last_seen_at is written at most this often
MAX_USERNAME = 80
MAX_PASSWORD = 200


class SessionKind(StrEnum):
    cookie = "cookie"
    bearer = "bearer"


def utcnow() -> datetime:
    return datetime.now(UTC)


# ---------------------------------------------------------------- passwords


def hash_password(password: str) -> str:
    """Argon2id: deliberately slow (tens of ms of CPU). Never call it with a database transaction open."""
    return password_hash.hash(password)


def verify_password(password: str, hashed: str) -> bool:
    """Argon2id, as slow as hashing: never call it with a database transaction open."""
    return password_hash.verify(password, hashed)


DUMMY_HASH = hash_password("not-a-real-password")  # verified for unknown usernames: same work either way


def text_problem(field: str, value: str, max_length: int) -> str | None:
    """Why a typed username or password cannot be used (control characters such as NUL, or too long), naming
    the field; None when it can. PostgreSQL cannot store NUL at all, so this is checked before any query."""
    if any(unicodedata.category(char) == "Cc" for char in value):
        return f"{field}: must not contain control characters (such as NUL, tab or newline)"
    if len(value) > max_length:
        return f"{field}: must be at most {max_length} characters"
    return None


# ---------------------------------------------------------------- sessions


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def keyed_token(secret_key: str, purpose: str, value: str) -> str:
    """An HMAC of ``value`` under the service's secret: a CSRF token that only the server can compute from the
    session (or pre-session) token it belongs to, so nothing extra is stored."""
    mac = hmac.new(secret_key.encode(), f"{purpose}:{value}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def same_token(sent: str, expected: str) -> bool:
    """Constant-time comparison that also accepts any text a client sends (compare_digest refuses non-ASCII)."""
    return bool(sent) and hmac.compare_digest(sent.encode(), expected.encode())


def session_csrf_token(settings: Settings, token: str) -> str:
    """The CSRF token the forms of a cookie session must send back."""
    return keyed_token(settings.secret_key or "", "session", token)


@dataclass(frozen=True)
class SessionPolicy:
    """When a session ends by itself: ``idle`` after its last request, ``absolute`` after sign-in, and at once for
    a user whose role needs a second factor (``second_factor_roles``) when its sign-in passed none."""

    idle: timedelta
    absolute: timedelta
    second_factor_roles: frozenset[str] = frozenset()

    @classmethod
    def from_settings(cls, settings: Settings) -> SessionPolicy:
        return cls(idle=timedelta(minutes=settings.session_idle_minutes),
                   absolute=timedelta(hours=settings.session_absolute_hours),
                   second_factor_roles=frozenset(str(role) for role in SECOND_FACTOR_ROLES)
                   if settings.require_mfa else frozenset())

    def expired(self, row: UserSession, now: datetime) -> bool:
        return now - row.last_seen_at >= self.idle or now - row.created_at >= self.absolute

    def expired_condition(self, now: datetime):
        """SQL condition: the session has timed out (used to sweep a user's old rows at sign-in)."""
        return or_(UserSession.last_seen_at <= now - self.idle, UserSession.created_at <= now - self.absolute)


def start_session(session: Session, *, user_id: int, kind: SessionKind, policy: SessionPolicy,
                  second_factor: bool = False, now: datetime | None = None) -> str:
    """A new session for the user, returning its token (shown once; only its hash is kept). The user's
    timed-out sessions are swept at the same time. The caller commits."""
    now = now or utcnow()
    session.exec(delete(UserSession).where(UserSession.user_id == user_id, policy.expired_condition(now)))
    token = secrets.token_urlsafe(32)
    session.add(UserSession(token_hash=_token_hash(token), user_id=user_id, kind=kind, created_at=now,
                            last_seen_at=now, second_factor=second_factor))
    return token


def end_session(session: Session, *, token: str) -> None:
    """Revoke one token (sign-out). The caller commits."""
    session.exec(delete(UserSession).where(UserSession.token_hash == _token_hash(token)))


def end_all_sessions(session: Session, *, user_id: int) -> int:
    """Revoke every token of a user (password change or reset, disable); returns how many. The caller commits."""
    return session.exec(delete(UserSession).where(UserSession.user_id == user_id)).rowcount


def session_user(session: Session, *, token: str, policy: SessionPolicy, now: datetime | None = None) -> User | None:
    """The user a token belongs to, or None (unknown, revoked, timed out, or the user is disabled). Touches the
    session's last_seen_at when it is more than LAST_SEEN_EVERY old, so most requests only read. The caller
    commits."""
    now = now or utcnow()
    found = session.exec(select(UserSession, User).join(User, User.id == UserSession.user_id)
                         .where(UserSession.token_hash == _token_hash(token))).first()
    if found is None:
        return None
    row, user = found
    if not user.is_active or policy.expired(row, now) or (user.role in policy.second_factor_roles
                                                          and not row.second_factor):
        begin_write(session)
        session.exec(delete(UserSession).where(UserSession.token_hash == row.token_hash))
        return None
    if now - row.last_seen_at >= LAST_SEEN_EVERY:
        begin_write(session)
        session.exec(update(UserSession).where(UserSession.token_hash == row.token_hash).values(last_seen_at=now))
    return user


# ---------------------------------------------------------------- sign-in backoff


@dataclass(frozen=True)
class SignInBackoff:
    """Progressive delays instead of a lockout. Failures within the window beyond a free number make the next
    attempt wait ``first_wait`` seconds after the latest failure, then twice that, and so on, never more than
    ``max_wait``. They are counted per username *from one client address* (so an attacker elsewhere, with or
    without the password, never holds the real user back at her own address) and per address (slowing one password
    sprayed over many usernames), each step of signing in (password, one-time code) apart. An attempt is noted before
    its password is checked (concurrent attempts cannot all slip through the free allowance) and the wait is decided
    after the check, so the attacker pays the check's cost; a waiting attempt is refused whatever its password, and
    its note removed (waiting does not lengthen the wait)."""

    window: timedelta
    free_per_username: int
    free_per_address: int
    first_wait: int
    max_wait: int

    @classmethod
    def from_settings(cls, settings: Settings) -> SignInBackoff:
        return cls(window=timedelta(minutes=settings.sign_in_failure_window_minutes),
                   free_per_username=settings.sign_in_free_failures_per_username,
                   free_per_address=settings.sign_in_free_failures_per_address,
                   first_wait=settings.sign_in_first_wait_seconds, max_wait=settings.sign_in_max_wait_seconds)

    def delay(self, failures: int, free: int) -> int:
        """Seconds to wait after the latest of ``failures`` recent failures."""
        if failures < free or failures == 0:
            return 0
        return min(self.max_wait, self.first_wait * 2 ** min(failures - free, 30))

    def required_wait(self, session: Session, *, username: str, address: str, step: str = SignInStep.password,
                      now: datetime | None = None, besides: int | None = None) -> tuple[int, str]:
        """Seconds the next attempt must wait (0: it may go ahead) and whose failures impose it; ``besides`` is this
        attempt's own note, left out of the count."""
        now = now or utcnow()
        worst = (0, "")
        recent = (SignInFailure.step == step, SignInFailure.at > now - self.window, SignInFailure.id != (besides or 0))
        for where, free, whose in (((SignInFailure.username == username[:MAX_USERNAME],
                                     SignInFailure.address == address[:64]), self.free_per_username,
                                    "this username from your network address"),
                                   ((SignInFailure.address == address[:64],), self.free_per_address,
                                    "your network address")):
            failures, latest = session.exec(select(func.count(), func.max(SignInFailure.at))
                                            .where(*where, *recent)).one()
            delay = self.delay(failures, free)
            if not delay:  # (a concurrent attempt's row may be newer than ``now``: that alone is no reason to wait)
                continue
            latest = latest if latest.tzinfo else latest.replace(tzinfo=UTC)  # max() bypasses the column type
            wait = math.ceil((latest + timedelta(seconds=delay) - now).total_seconds())
            if wait > worst[0]:
                worst = (wait, whose)
        return worst

    def note_attempt(self, session: Session, *, username: str, address: str, step: str = SignInStep.password,
                     now: datetime | None = None) -> SignInFailure:
        """Count an attempt as a failure before it is checked (a success forgets it). Rows past the window are
        swept here. The caller commits; the row's id marks this attempt."""
        now = now or utcnow()
        session.exec(delete(SignInFailure).where(SignInFailure.at <= now - self.window))
        noted = SignInFailure(username=username[:MAX_USERNAME], address=address[:64], at=now, step=step)
        session.add(noted)
        return noted

    @staticmethod
    def withdraw(session: Session, noted_id: int) -> None:
        """A waiting attempt's note: removed (it was refused unchecked; waiting must not lengthen the wait)."""
        session.exec(delete(SignInFailure).where(SignInFailure.id == noted_id))

    @staticmethod
    def forget(session: Session, *, username: str, address: str, step: str = SignInStep.password) -> None:
        """A right answer clears this username's failures from this address at this step (the address's failures
        for other usernames stay: a sprayer who guesses one account right is not let off)."""
        session.exec(delete(SignInFailure).where(SignInFailure.username == username[:MAX_USERNAME],
                                                 SignInFailure.address == address[:64], SignInFailure.step == step))


def client_address(request: Request) -> str:
    """The client's address as the server sees it (behind a proxy, run uvicorn with --proxy-headers)."""
    return request.client.host[:64] if request.client else ""


# ---------------------------------------------------------------- CSRF for the sign-in form


def pre_session_nonce(request: Request) -> str:
    """The browser's pre-session cookie value, or a new one (set it with keep_pre_session)."""
    nonce = request.cookies.get(SIGN_IN_COOKIE, "")
    return nonce if 20 <= len(nonce) <= 100 else secrets.token_urlsafe(32)


def sign_in_csrf_token(request: Request, nonce: str) -> str:
    """The sign-in form's CSRF token, bound to the pre-session cookie (signed double submit): a page on another
    site can neither read the cookie nor compute the token, so it cannot sign a browser into an account of its
    choosing (login CSRF)."""
    return keyed_token(app_settings(request).secret_key or "", "sign-in", nonce)


def keep_pre_session(request: Request, response: Response, nonce: str) -> None:
    """Set the pre-session cookie on ``response`` unless the browser already sent this one."""
    if request.cookies.get(SIGN_IN_COOKIE) != nonce:
        response.set_cookie(SIGN_IN_COOKIE, nonce, max_age=3600, httponly=True, samesite="lax",
                            secure=app_settings(request).is_production, path="/")


def sign_in_csrf_ok(request: Request, sent: str) -> bool:
    nonce = request.cookies.get(SIGN_IN_COOKIE, "")
    return bool(nonce) and same_token(sent, sign_in_csrf_token(request, nonce))


# ---------------------------------------------------------------- the signed-in user


async def sent_csrf_token(request: Request) -> str:
    """The CSRF token a request carries: the header (API clients) or the form field (web forms)."""
    if header := request.headers.get(CSRF_HEADER):
        return header
    if request.headers.get("content-type", "").startswith(("application/x-www-form-urlencoded",
                                                           "multipart/form-data")):
        return str((await request.form()).get(CSRF_FIELD) or "")
    return ""


async def csrf_satisfied(request: Request) -> bool:
    """A cookie-authenticated change carries the session's CSRF token. A route may also allow one origin
    (``request.state.csrf_origin``, set by its own dependency, which runs first): the Temporal UI's codec calls
    cannot send our token, but a browser always sends ``Origin`` on them and no other page can forge it."""
    allowed = getattr(request.state, "csrf_origin", None)
    if allowed and request.headers.get("origin") == allowed:
        return True
    return same_token(await sent_csrf_token(request), request.state.csrf_token)


def signed_in_user(session: Session, token: str, policy: SessionPolicy) -> User | None:
    """``session_user`` in a read transaction (whatever the request's method: it writes only to touch or end the
    session, and then takes the write lock for that), ended before it returns: an async route must never hold one
    across an await."""
    begin_read(session)
    user = session_user(session, token=token, policy=policy)
    session.commit()
    return user


async def current_user(
    request: Request,
    session: DbSession,
    settings: SettingsDep,
    token: Annotated[str | None, Depends(oauth2_scheme)],
) -> User:
    """The signed-in user from the bearer token or the session cookie, checked against its session row on every
    request; 401 when absent, unknown, signed out, timed out or the user is disabled. A cookie-authenticated
    change (any method but GET/HEAD/OPTIONS) must carry the session's CSRF token."""
    unauthorised = HTTPException(
        status.HTTP_401_UNAUTHORIZED, "Sign in first: no valid bearer token or session (it may have ended)",
        {"WWW-Authenticate": "Bearer"}
    )
    from_cookie = not token
    token = token or request.cookies.get(SESSION_COOKIE)
    if not token:
        raise unauthorised
    user = await in_thread(signed_in_user, session, token, SessionPolicy.from_settings(settings))
    if user is None:
        raise unauthorised
    request.state.session_token = token
    if from_cookie:
        request.state.csrf_token = session_csrf_token(settings, token)
        request.state.user = user  # a refused form is on the record as this user's, and is offered back to them
        if request.method not in SAFE_METHODS and not await csrf_satisfied(request):
            raise HTTPException(status.HTTP_403_FORBIDDEN, CSRF_REFUSED)
    request.state.user = user
    return user


current_user.any_signed_in_user = True  # read by the route table


def require_roles(*roles: Role):
    """A dependency that lets only ``roles`` through (403 for a signed-in user with another role)."""
    allowed = {str(r) for r in roles}

    async def check(user: Annotated[User, Depends(current_user)]) -> User:  # on the loop: no thread for a comparison
        if user.role not in allowed:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"Your role ({user.role}) may not do this; allowed: {', '.join(sorted(allowed))}",
            )
        return user

    check.allowed_roles = frozenset(allowed)  # read by the route table and its tests
    return check


CurrentUser = Annotated[User, Depends(current_user)]
