"""Who is calling: password hashes, bearer tokens and session cookies (with CSRF tokens), sign-in throttling,
and the role checks every route declares."""

from __future__ import annotations

import hmac
import secrets
from datetime import UTC, datetime, timedelta
from typing import Annotated

import jwt
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer
from pwdlib import PasswordHash
from sqlalchemy import delete, func
from sqlmodel import Session, select

from service.models import SignInFailure, User
from workflows.vocabulary import Role

password_hash = PasswordHash.recommended()  # Argon2id
TOKEN_HOURS = 8
TOKEN_ALGORITHM = "HS256"  # noqa: S105 - algorithm name, not a secret

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/auth/token", auto_error=False)
SESSION_COOKIE = "rr_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=15)


def hash_password(password: str) -> str:
    return password_hash.hash(password)


def verify_password(password: str, hashed: str) -> bool:
    return password_hash.verify(password, hashed)


def issue_token(user: User, secret_key: str, now: datetime | None = None, csrf: str | None = None) -> str:
    """A signed token; a session cookie's token also carries the CSRF token its forms must send back."""
    now = now or datetime.now(UTC)
    claims = {"sub": str(user.id), "role": user.role, "iat": now, "exp": now + timedelta(hours=TOKEN_HOURS)}
    if csrf:
        claims["csrf"] = csrf
    return jwt.encode(claims, secret_key, algorithm=TOKEN_ALGORITHM)


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def throttled_for(session: Session, username: str, now: datetime | None = None) -> int:
    """Seconds this username must wait before trying again (0: may try now)."""
    now = now or datetime.now(UTC)
    recent = select(SignInFailure.at).where(SignInFailure.username == username,
                                            SignInFailure.at > now - FAILURE_WINDOW)
    count = session.exec(select(func.count()).select_from(recent.subquery())).one()
    if count < MAX_FAILURES:
        return 0
    oldest = session.exec(recent.order_by(SignInFailure.at.desc()).offset(MAX_FAILURES - 1).limit(1)).one()
    oldest = oldest if oldest.tzinfo else oldest.replace(tzinfo=UTC)
    return max(1, int((oldest + FAILURE_WINDOW - now).total_seconds()) + 1)


def record_sign_in(session: Session, username: str, succeeded: bool) -> None:
    """A failure counts towards the throttle; a success clears the count."""
    if succeeded:
        session.exec(delete(SignInFailure).where(SignInFailure.username == username))
    else:
        session.add(SignInFailure(username=username[:80]))
    session.commit()


def authenticate(session: Session, username: str, password: str) -> User | None:
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None or not user.is_active:
        verify_password(password, _DUMMY_HASH)  # same work either way: no username probing by timing
        return None
    return user if verify_password(password, user.password_hash) else None


_DUMMY_HASH = hash_password("not-a-real-password")


def get_session(request: Request):
    """A database session per request (committed by the caller's explicit commit)."""
    with Session(request.app.state.engine, expire_on_commit=False) as session:
        yield session


async def sent_csrf_token(request: Request) -> str:
    """The CSRF token a request carries: the header (API clients) or the form field (web forms)."""
    if header := request.headers.get(CSRF_HEADER):
        return header
    if request.headers.get("content-type", "").startswith(("application/x-www-form-urlencoded",
                                                           "multipart/form-data")):
        return str((await request.form()).get(CSRF_FIELD) or "")
    return ""


async def current_user(
    request: Request,
    session: Annotated[Session, Depends(get_session)],
    token: Annotated[str | None, Depends(oauth2_scheme)],
) -> User:
    """The signed-in user from the bearer token or the session cookie; 401 when absent, expired or forged.
    A cookie-authenticated change (any method but GET/HEAD/OPTIONS) must carry the session's CSRF token."""
    unauthorised = HTTPException(
        status.HTTP_401_UNAUTHORIZED, "Sign in first: no valid bearer token or session", {"WWW-Authenticate": "Bearer"}
    )
    from_cookie = not token
    token = token or request.cookies.get(SESSION_COOKIE)
    if not token:
        raise unauthorised
    try:
        claims = jwt.decode(token, request.app.state.settings.secret_key, algorithms=[TOKEN_ALGORITHM])
        user = session.get(User, int(claims["sub"]))
    except (jwt.PyJWTError, KeyError, ValueError):
        raise unauthorised from None
    session.commit()  # end the read: an async route must never hold a database transaction across an await
    if user is None or not user.is_active:
        raise unauthorised
    if from_cookie:
        request.state.csrf_token = claims.get("csrf", "")
        expected = request.state.csrf_token
        if request.method not in SAFE_METHODS and not (
            expected and hmac.compare_digest(await sent_csrf_token(request), expected)
        ):
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                "This form is missing its security token (CSRF); reload the page and try again")
    request.state.user = user
    return user


current_user.any_signed_in_user = True  # read by the route table


def require_roles(*roles: Role):
    """A dependency that lets only ``roles`` through (403 for a signed-in user with another role)."""
    allowed = {str(r) for r in roles}

    def check(user: Annotated[User, Depends(current_user)]) -> User:
        if user.role not in allowed:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"Your role ({user.role}) may not do this; allowed: {', '.join(sorted(allowed))}",
            )
        return user

    check.allowed_roles = frozenset(allowed)  # read by the route table and its tests
    return check


CurrentUser = Annotated[User, Depends(current_user)]
DbSession = Annotated[Session, Depends(get_session)]
