"""Accounts: creating and changing users (the `rapid-review users` commands, the admin page, a user's own
password change) with every change audited, and the demo partnership for `rapid-review dev`."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlmodel import Session, select

from engine.vocabulary import AGENCIES, Role, Seat
from records.audit import AuditWriter
from records.models import Partnership, User
from reviews.rapid_review.process_rules import ProcessRules
from service.accounts.auth import MAX_PASSWORD, MAX_USERNAME, end_all_sessions, hash_password, text_problem


class AccountError(ValueError):
    """An account cannot be created or changed as asked; the message says why."""


MIN_PASSWORD_LENGTH = 12
SYSTEM_ROLE = "system"  # the audit trail's actor role for changes made with the `rapid-review users` command


def check_role(role: str, agency: str | None, seat: str | None) -> None:
    """A role with the agency or seat it needs, and nothing it must not have."""
    if role not in Role.__members__:
        raise AccountError(f"unknown role {role!r}; roles are: {', '.join(Role)}")
    if role == Role.agency_member and not agency:
        raise AccountError("an agency_member needs an agency")
    if agency and agency not in AGENCIES:
        raise AccountError(f"unknown agency {agency!r}; agencies are: {', '.join(AGENCIES)}")
    if role == Role.executive and seat not in Seat.__members__:
        raise AccountError(f"an executive needs a seat: one of {', '.join(Seat)}")
    if role != Role.executive and seat:
        raise AccountError("only an executive holds a seat")


def new_password_hash(password: str) -> str:
    """The Argon2 hash of an acceptable new password. Slow on purpose: call it before the transaction that
    stores it, never inside one."""
    if problem := text_problem("password", password, MAX_PASSWORD):
        raise AccountError(problem)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password must be at least {MIN_PASSWORD_LENGTH} characters")
    return hash_password(password)


def record_account_change(session: Session, *, audit_key: bytes, by: User | None, action: str, user: User,
                          detail: dict | None = None, request_id: str | None = None) -> None:
    """One audit row per account change, naming who made it (``by`` None: the command line, as the service)."""
    AuditWriter(session, audit_key, request_id).add(
        action, None, {"user_id": user.id, "username": user.username, **(detail or {})},
        actor_id=by.id if by else None, actor_role=by.role if by else SYSTEM_ROLE)


def find_user(session: Session, username: str) -> User:
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None:
        raise AccountError(f"no user named {username!r}")
    return user


def create_user(
    session: Session,
    *,
    username: str,
    full_name: str,
    email: str,
    role: str,
    password: str,
    agency: str | None = None,
    seat: str | None = None,
    by: User | None = None,
    audit_key: bytes,
) -> User:
    """Check and add one user, audited (the caller commits)."""
    check_role(role, agency, seat)
    if problem := text_problem("username", username, MAX_USERNAME):
        raise AccountError(problem)
    hashed = new_password_hash(password)
    if session.exec(select(User).where(User.username == username)).first():
        raise AccountError(f"a user named {username!r} already exists")
    user = User(username=username, full_name=full_name, email=email, role=role, password_hash=hashed,
                agency=agency if role == Role.agency_member else None, seat=seat)
    session.add(user)
    session.flush()
    record_account_change(session, audit_key=audit_key, by=by, action="user_created", user=user,
                          detail={"role": role, "agency": user.agency,
                                                                                     "seat": seat})
    return user


def set_password(session: Session, *, user: User, hashed: str, by: User | None, audit_key: bytes,
                 request_id: str | None = None) -> int:
    """Store a new password hash (from new_password_hash) and end every session of the user: their own change
    ("password_changed") or someone else's reset ("password_reset"). Returns how many sessions ended."""
    user.password_hash = hashed
    session.add(user)
    ended = end_all_sessions(session, user_id=user.id)
    own = by is not None and by.id == user.id
    record_account_change(session, audit_key=audit_key, by=by, user=user,
                          action="password_changed" if own else "password_reset",
                          detail={"sessions_ended": ended}, request_id=request_id)
    return ended


def set_active(session: Session, *, user: User, active: bool, by: User | None, audit_key: bytes,
               request_id: str | None = None) -> None:
    """Disable (every session ends at once) or enable a user. Nobody disables themselves on the pages: an
    admin locked out of their own service needs the command line."""
    if by is not None and by.id == user.id and not active:
        raise AccountError("you cannot disable your own account; another admin can")
    user.is_active = active
    session.add(user)
    ended = 0 if active else end_all_sessions(session, user_id=user.id)
    record_account_change(session, audit_key=audit_key, by=by, user=user,
                          action="account_enabled" if active else "account_disabled",
                          detail={"sessions_ended": ended} if not active else {}, request_id=request_id)


def set_role(session: Session, *, user: User, role: str, agency: str | None, seat: str | None, by: User | None,
             audit_key: bytes, request_id: str | None = None) -> None:
    """Change what a user may do, and end every session of the user: a session was opened under the old role's
    sign-in rules (an admin's token, opened without a second factor, must not go on as an auditor's that needs
    one), so the person signs in again under the new role's."""
    check_role(role, agency or None, seat or None)
    agency, seat = (agency or None) if role == Role.agency_member else None, seat or None
    if by is not None and by.id == user.id and role != user.role:
        raise AccountError("you cannot change your own role; another admin can")
    before = {"role": user.role, "agency": user.agency, "seat": user.seat}
    user.role, user.agency, user.seat = role, agency, seat
    session.add(user)
    ended = end_all_sessions(session, user_id=user.id)
    record_account_change(session, audit_key=audit_key, by=by, action="role_changed", user=user, request_id=request_id,
                          detail={"before": before, "after": {"role": role, "agency": agency, "seat": seat},
                                  "sessions_ended": ended})


@dataclass(frozen=True)
class DemoAccount:
    username: str
    full_name: str
    role: Role
    agency: str | None = None
    seat: Seat | None = None


DEMO_ACCOUNTS = (
    DemoAccount("strategy.manager", "Sam Patel (Strategy Manager)", Role.business_unit),
    DemoAccount("panel.chair", "Dr Alex Morgan (Designated Nurse, panel chair)", Role.panel_chair),
    DemoAccount("csc.lead", "Jordan Reid (CSC lead)", Role.csc_lead),
    DemoAccount("agency.education", "Chris Lee (Education)", Role.agency_member, agency="education"),
    DemoAccount("agency.health", "Priya Shah (Community health)", Role.agency_member, agency="community_health"),
    DemoAccount("agency.police", "DS Kim Walsh (Police)", Role.agency_member, agency="police"),
    DemoAccount("exec.la", "Director of Children's Services", Role.executive, seat=Seat.la),
    DemoAccount("exec.icb", "ICB Chief Nursing Officer", Role.executive, seat=Seat.icb),
    DemoAccount("exec.police", "Police Chief Superintendent", Role.executive, seat=Seat.police),
    DemoAccount("auditor", "Independent Scrutineer", Role.auditor),
    DemoAccount("admin", "System administrator", Role.admin),
)


def ensure_partnership(session: Session, name: str) -> Partnership:
    """The partnership row with default process rules, created on first start."""
    partnership = session.exec(select(Partnership)).first()
    if partnership is None:
        partnership = Partnership(name=name, rules_json=ProcessRules().model_dump_json())
        session.add(partnership)
        session.flush()
    return partnership


def create_demo_users(session: Session, audit_key: bytes) -> dict[str, str]:
    """One user per role with a fresh random password each; returns username -> password."""
    credentials = {}
    for account in DEMO_ACCOUNTS:
        password = secrets.token_urlsafe(12)
        create_user(
            session,
            username=account.username,
            full_name=account.full_name,
            email=f"{account.username}@example.org",
            role=account.role,
            password=password,
            agency=account.agency,
            seat=account.seat,
            audit_key=audit_key,
        )
        credentials[account.username] = password
    return credentials
