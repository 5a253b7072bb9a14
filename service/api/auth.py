"""Sign-in for API clients (OAuth2 password form -> bearer token) and who-am-I."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel

from service.auth import TOKEN_HOURS, CurrentUser, DbSession, authenticate, issue_token

router = APIRouter(prefix="/api", tags=["auth"])


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - OAuth2 token type, not a secret
    expires_in: int = TOKEN_HOURS * 3600


class Me(BaseModel):
    id: int
    username: str
    full_name: str
    role: str
    agency: str | None
    seat: str | None


@router.post("/auth/token", response_model=Token)
def token(request: Request, session: DbSession, form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> Token:
    """Exchange a username and password for a bearer token."""
    user = authenticate(session, form.username, form.password)
    if user is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Wrong username or password")
    return Token(access_token=issue_token(user, request.app.state.settings.secret_key))


@router.get("/me", response_model=Me)
def me(user: CurrentUser) -> Me:
    """The signed-in user and their role."""
    return Me.model_validate(user, from_attributes=True)
