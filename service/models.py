"""Database tables (one SQLModel class per table). The schema changes only through migrations."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Column, DateTime, Text
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


def ts_column(nullable: bool = False, index: bool = False) -> Column:
    """A timezone-aware timestamp column (stored as UTC)."""
    return Column(DateTime(timezone=True), nullable=nullable, index=index)


class Partnership(SQLModel, table=True):
    """The partnership this service runs for, and its process rules (deadline figures, closure days)."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    rules_json: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())


class User(SQLModel, table=True):
    """A person who signs in. Role decides what they may do; agency and seat narrow it."""

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=80, unique=True, index=True)
    full_name: str = Field(max_length=200)
    email: str = Field(max_length=254)
    role: str = Field(max_length=40)
    agency: str | None = Field(default=None, max_length=80)
    seat: str | None = Field(default=None, max_length=20)
    password_hash: str = Field(max_length=300)
    is_active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())


class WorkerHeartbeat(SQLModel, table=True):
    """Each worker reports that it polls its task queue; /readyz reads this (the embedded
    Temporal server cannot describe task queues)."""

    worker_id: str = Field(primary_key=True, max_length=120)
    task_queue: str = Field(max_length=200, index=True)
    last_seen: datetime = Field(sa_column=ts_column())
