"""The figures in force for a child's case (its rapid review and local CSPR): every statutory figure is a setting
with the brief's default; the source each deadline cites is citations.py, who may take an action engine/actions.py's
``Rule``.

A case is started with the rules in force that day (they are part of its workflow input), so a later
change of settings never rewrites the deadlines of a running case behind its back.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

from engine.calendar import WorkingDayCalendar


class Milestones(BaseModel):
    """Working day (of the rapid review window) by which each internal step is expected."""

    information_requests: int = Field(1, ge=1, le=30)
    agency_returns: int = Field(7, ge=1, le=30)
    panel: int = Field(10, ge=1, le=30)
    decision_sheet: int = Field(12, ge=1, le=30)
    sign_off: int = Field(15, ge=1, le=30)


class ProcessRules(BaseModel):
    notification_working_days: int = Field(5, ge=1, le=30)
    # Local practice, not statute: how long police and health have to answer the CSC lead's notification proposal
    # before the local authority's seat may decide without them (never past the notification's own due date).
    partner_answer_working_days: int = Field(2, ge=1, le=10)
    # Local practice: agencies' returns are due this many working days before the panel meets, so the chair and
    # members read them first (never later than the window's own returns milestone).
    returns_working_days_before_panel: int = Field(2, ge=0, le=10)
    rapid_review_working_days: int = Field(15, ge=1, le=60)
    rapid_review_clock_start: Literal["notification", "awareness"] = "notification"
    milestones: Milestones = Field(default_factory=Milestones)
    national_panel_reply_working_days: int = Field(10, ge=1, le=60)
    cspr_months: int = Field(6, ge=1, le=24)
    cspr_reminder_months: tuple[int, ...] = (3, 5)
    reviewer_commission_working_days: int = Field(20, ge=1, le=120)
    methodology_working_days: int = Field(10, ge=1, le=60)
    publication_notice_working_days: int = Field(7, ge=1, le=30)
    reminder_working_days_before: int = Field(2, ge=0, le=10)
    immediate_action_working_days: int = Field(20, ge=1, le=250)  # panel's immediate actions: due by default
    recommendation_months: int = Field(6, ge=1, le=36)  # CSPR recommendations: due by default
    closure_days: tuple[date, ...] = ()
    # Local practice, not statute: how long after closing a case whose National Panel reply is still awaited the
    # partners may reopen it for that reply. The case's workflow stays with the engine that long, then ends.
    reopen_window_days: int = Field(90, ge=0, le=366)

    def calendar(self) -> WorkingDayCalendar:
        return WorkingDayCalendar(frozenset(self.closure_days))
