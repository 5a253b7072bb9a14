"""Pages for accounts: a signed-in user changes their own password; an admin lists users, disables and enables
them, resets passwords and changes roles. Each form calls the same function as the command line
(service.accounts.users), so the checks and the audit rows are the same."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, not_
from sqlmodel import select

from engine.vocabulary import Role, Seat
from records.models import User, UserSession
from service.accounts.auth import MAX_PASSWORD, SessionKind, SessionPolicy, start_session
from service.accounts.mfa import enrolled
from service.accounts.roles import ADMINS
from service.accounts.sign_in import change_own_password, set_session_cookie
from service.accounts.users import AccountError, new_password_hash, set_active, set_password, set_role
from service.deps import RowId, app_settings, audit_trail, request_id
from service.web.pages import PageSession, PageUser, page_roles, render

router = APIRouter(include_in_schema=False)
Admin = Annotated[User, Depends(page_roles(*ADMINS))]
Password = Annotated[str, Form(max_length=MAX_PASSWORD)]


# ---------------------------------------------------------------- my account


@router.get("/account")
def account_page(request: Request, user: PageUser, changed: bool = False) -> HTMLResponse:
    """Change my password."""
    return render(request, "account.html", user, changed=changed)


@router.post("/account/password")
def account_password(request: Request, session: PageSession, user: PageUser, current_password: Password,
                     new_password: Password) -> Response:
    """Every session of mine ends (other browsers, API tokens); this browser gets a fresh one."""
    try:
        change_own_password(request, session, user, current_password, new_password)
    except HTTPException as error:
        if error.status_code not in (403, 422, 429):
            raise
        response = render(request, "account.html", user, status_code=error.status_code, error=error.detail)
        response.headers.update(error.headers or {})
        return response
    token = start_session(session, user_id=user.id, kind=SessionKind.cookie,  # an enrolled account signed in
                          policy=SessionPolicy.from_settings(app_settings(request)),  # with its code
                          second_factor=enrolled(session, user.id))
    session.commit()
    response = RedirectResponse("/account?changed=1", status_code=303)
    set_session_cookie(request, response, token)
    return response


# ---------------------------------------------------------------- users (admins)


def audit_key(request: Request) -> bytes:
    return audit_trail(request).key


def users_page(request: Request, session, admin: User, error: str | None = None, status_code: int = 200,
               done: str | None = None) -> HTMLResponse:
    users = session.exec(select(User).order_by(User.username)).all()
    policy = SessionPolicy.from_settings(app_settings(request))
    live = session.exec(select(UserSession.user_id, func.count(), func.max(UserSession.last_seen_at))
                        .where(not_(policy.expired_condition(datetime.now(UTC))))
                        .group_by(UserSession.user_id)).all()
    session.commit()
    sessions = {user_id: (count, last_seen) for user_id, count, last_seen in live}
    return render(request, "admin_users.html", admin, status_code=status_code, users=users, sessions=sessions,
                  roles=list(Role), seats=list(Seat), error=error, done=done)


@router.get("/admin/users")
def admin_users(request: Request, session: PageSession, admin: Admin) -> HTMLResponse:
    """Every user with their sessions; disable or enable, reset a password, change a role."""
    return users_page(request, session, admin)


def change_user(request: Request, session, admin: User, user_id: int, change, done: str) -> Response:
    """Apply one change to a user (404 if there is none); a refusal shows the page again with the reason."""
    try:
        user = session.get(User, user_id)
        if user is None:
            raise HTTPException(404, f"No user {user_id}")
        change(user)
        session.commit()
    except AccountError as error:
        session.rollback()
        return users_page(request, session, admin, error=str(error), status_code=422)
    return users_page(request, session, admin, done=f"{done}: {user.username}")


@router.post("/admin/users/{user_id}/active")
def admin_user_active(user_id: RowId, request: Request, session: PageSession, admin: Admin,
                      active: Annotated[bool, Form()]) -> Response:
    """Disable (every session of theirs ends at once) or enable a user."""
    return change_user(request, session, admin, user_id, lambda user: set_active(
        session, user=user, active=active, by=admin, audit_key=audit_key(request), request_id=request_id(request)),
        "Enabled" if active else "Disabled")


@router.post("/admin/users/{user_id}/password")
def admin_user_password(user_id: RowId, request: Request, session: PageSession, admin: Admin,
                        new_password: Password) -> Response:
    """Set a new password for a user (every session of theirs ends); tell them it by another channel."""
    try:
        hashed = new_password_hash(new_password)  # Argon2 before the transaction that stores it
    except AccountError as error:
        return users_page(request, session, admin, error=str(error), status_code=422)
    return change_user(request, session, admin, user_id, lambda user: set_password(
        session, user=user, hashed=hashed, by=admin, audit_key=audit_key(request), request_id=request_id(request)),
        "Password reset")


@router.post("/admin/users/{user_id}/role")
def admin_user_role(user_id: RowId, request: Request, session: PageSession, admin: Admin,
                    role: Annotated[str, Form(max_length=40)], agency: Annotated[str, Form(max_length=80)] = "",
                    seat: Annotated[str, Form(max_length=20)] = "") -> Response:
    """Change what a user may do (from their next request)."""
    return change_user(request, session, admin, user_id, lambda user: set_role(
        session, user=user, role=role, agency=agency, seat=seat, by=admin, audit_key=audit_key(request),
        request_id=request_id(request)),
        "Role changed")
