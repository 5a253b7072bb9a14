"""Inputs, outputs and state of the case workflows (pydantic, so the data converter can carry them)."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from workflows.rules import ProcessRules
from workflows.vocabulary import Role, Seat, Stage


class Actor(BaseModel):
    """Who takes an action; the service fills it from the signed-in user, never from the request body."""

    user_id: int
    name: str = Field(max_length=200)
    role: Role
    agency: str | None = None
    seat: Seat | None = None


class CaseInput(BaseModel):
    """What starts a case: the referral."""

    reference: str
    pseudonym: str = Field(min_length=1, max_length=60)
    age_band: str = Field(max_length=40)
    summary: str = Field(min_length=1, max_length=20_000)
    incident_date: date
    awareness_date: date
    referring_agency: str
    referrer: Actor
    partnership_name: str
    rules: ProcessRules = Field(default_factory=ProcessRules)


class StageChange(BaseModel):
    stage: Stage
    at: datetime
    by: str
    action: str
