"""Who is calling: password hashes, bearer tokens, and the role checks every route declares."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import jwt
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer
from pwdlib import PasswordHash
from sqlmodel import Session, select

from service.models import User
from workflows.vocabulary import Role

password_hash = PasswordHash.recommended()  # Argon2id
TOKEN_HOURS = 8
TOKEN_ALGORITHM = "HS256"  # noqa: S105 - algorithm name, not a secret

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/auth/token", auto_error=False)


def hash_password(password: str) -> str:
    return password_hash.hash(password)


def verify_password(password: str, hashed: str) -> bool:
    return password_hash.verify(password, hashed)


def issue_token(user: User, secret_key: str, now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    claims = {"sub": str(user.id), "role": user.role, "iat": now, "exp": now + timedelta(hours=TOKEN_HOURS)}
    return jwt.encode(claims, secret_key, algorithm=TOKEN_ALGORITHM)


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


def current_user(
    request: Request,
    session: Annotated[Session, Depends(get_session)],
    token: Annotated[str | None, Depends(oauth2_scheme)],
) -> User:
    """The signed-in user from the bearer token; 401 when absent, expired or forged."""
    unauthorised = HTTPException(
        status.HTTP_401_UNAUTHORIZED, "Sign in first: no valid bearer token", {"WWW-Authenticate": "Bearer"}
    )
    if not token:
        raise unauthorised
    try:
        claims = jwt.decode(token, request.app.state.settings.secret_key, algorithms=[TOKEN_ALGORITHM])
        user = session.get(User, int(claims["sub"]))
    except (jwt.PyJWTError, KeyError, ValueError):
        raise unauthorised from None
    if user is None or not user.is_active:
        raise unauthorised
    request.state.user = user
    return user


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
