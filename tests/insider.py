"""What an insider with the database owner's password can do to the audit trail, for the tamper tests."""

from __future__ import annotations

from sqlmodel import Session, text


def as_table_owner(session: Session) -> None:
    """On PostgreSQL, switch off the trigger that refuses UPDATE and DELETE on audit_event, as the table's
    owner can (it stays off until switched on again): the reason the chain is keyed and anchored as well."""
    if session.get_bind().dialect.name == "postgresql":
        session.exec(text("ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only"))
