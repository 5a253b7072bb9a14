"""Creating users and the demo partnership (used by `rapid-review users add` and `rapid-review dev`)."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass

from sqlmodel import Session, select

from service.auth import hash_password
from service.models import Partnership, User
from workflows.rules import ProcessRules
from workflows.vocabulary import AGENCIES, Role, Seat


class AccountError(ValueError):
    """A user cannot be created as asked; the message says why."""


MIN_PASSWORD_LENGTH = 12


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
) -> User:
    """Check and add one user (the caller commits)."""
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
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password must be at least {MIN_PASSWORD_LENGTH} characters")
    if session.exec(select(User).where(User.username == username)).first():
        raise AccountError(f"a user named {username!r} already exists")
    user = User(
        username=username,
        full_name=full_name,
        email=email,
        role=role,
        agency=agency if role == Role.agency_member else None,
        seat=seat,
        password_hash=hash_password(password),
    )
    session.add(user)
    session.flush()
    return user


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


def process_rules(session: Session) -> ProcessRules:
    partnership = session.exec(select(Partnership)).first()
    return ProcessRules.model_validate(json.loads(partnership.rules_json)) if partnership else ProcessRules()


def create_demo_users(session: Session) -> dict[str, str]:
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
        )
        credentials[account.username] = password
    return credentials
