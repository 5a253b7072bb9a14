"""The partnership's process rules: every statutory figure is a setting with the brief's default.

A case is started with the rules in force that day (they are part of its workflow input), so a later
change of settings never rewrites the deadlines of a running case behind its back.
"""

from __future__ import annotations

from datetime import date
from typing import Literal, NamedTuple

from pydantic import BaseModel, Field

from workflows.calendar import WorkingDayCalendar
from workflows.vocabulary import Role


class Rule(NamedTuple):
    """Who may take an action, and at which stages (a workflow's ``RULES``: action name -> Rule)."""

    stages: frozenset[str]
    roles: frozenset[Role]

    @classmethod
    def of(cls, stages, *roles: Role) -> Rule:
        """An action allowed at ``stages`` to ``roles``."""
        return cls(stages=frozenset(stages), roles=frozenset(roles))


# The source of each figure, shown beside every deadline ("every deadline names the rule it came from").
RULE_NOTIFICATION = (
    "Notify the National Panel within {n} working days of becoming aware of a serious incident "
    "(Children Act 2004 s16C; Working Together to Safeguard Children 2023, ch. 5)"
)
RULE_RAPID_REVIEW = (
    "Rapid review to the National Panel within {n} working days of the {start} "
    "(Working Together 2023, ch. 5; National Panel guidance 2022/2025)"
)
RULE_CARE_LEAVER_REVIEW = (
    "The partners chose to review a care leaver's death: {n} working days from the {start} as local practice (a care "
    "leaver of 18 to 24 is not a child, so no statutory rapid review applies: Working Together 2023, ch. 5)"
)
RULE_MILESTONE = (
    "Partnership milestone: {what} by working day {n} of the {total}-day rapid review window (local setting)"
)
RULE_PANEL_REPLY = "National Panel reply expected within about {n} working days of submission (local setting)"
RULE_CSPR = (
    "Local CSPR completed and published within {n} months of the decision to undertake it "
    "(Working Together 2023, ch. 5)"
)
RULE_CSPR_REVISED = (
    "Revised target agreed by the safeguarding partners ({reason}); the statutory date stays {statutory} and the "
    "National Panel and the Secretary of State are told of the delay (Working Together 2023, ch. 5)"
)
RULE_PUBLICATION_NOTICE = (
    "Final report to the National Panel and the Secretary of State at least {n} working days before "
    "publication (SI 2018/789 regs 15-16: the final report to the Panel and the Secretary of State, and its "
    "publication; reg. 14 is about monitoring a review, not this)"
)
RULE_COMMISSION = (
    "Reviewer commissioned within {n} working days of the decision to undertake the review "
    "(partnership practice: the most common cause of late reviews)"
)
RULE_METHODOLOGY = "Executive decides how the review will take place within {n} working days (local setting)"
RULE_SIN_THREE_WAY = (
    "The local authority notifies the National Panel; all three safeguarding partners should agree which incidents "
    "are notified (Children Act 2004 s16C; National Panel, FAQ for safeguarding partners)"
)
RULE_LOOKED_AFTER_DEATH = (
    "The death of a looked-after child is notified even where abuse or neglect is not known or suspected; the "
    "category never removes the rapid review, whose criteria are a separate question (gov.uk 'Report a serious "
    "child safeguarding incident', now 'Report the death or serious harm of a child or care leaver')"
)
RULE_CARE_LEAVER_DEATH = (
    "The death of a care leaver up to and including age 24 is notified to the Secretary of State and Ofsted; the "
    "partners may still choose a rapid review and a local CSPR (gov.uk 'Report a serious child safeguarding "
    "incident'; Working Together 2023, ch. 5)"
)
RULE_CHILDREN_PER_NOTIFICATION = (
    "One notification covers up to {n} children of one incident (gov.uk 'Report a serious child safeguarding "
    "incident')"
)
RULE_LEARNING_WITHOUT_CSPR = (
    "No local CSPR: the partners may still take the learning forward another way (single-agency review, audit, "
    "workshop, thematic review), its actions in the one action plan (Working Together 2023, ch. 5: rapid reviews "
    "and local learning; partnership practice)"
)
RULE_ONE_YEAR_ON = "Learning workshop one year after publication (partnership practice)"


class Milestones(BaseModel):
    """Working day (of the rapid review window) by which each internal step is expected."""

    information_requests: int = Field(1, ge=1, le=30)
    agency_returns: int = Field(7, ge=1, le=30)
    panel: int = Field(10, ge=1, le=30)
    decision_sheet: int = Field(12, ge=1, le=30)
    sign_off: int = Field(15, ge=1, le=30)


RULE_SIN_LA_DECIDES = (
    "The duty to notify rests with the local authority (Children Act 2004 s16C(1)): police and health answer its "
    "proposal within {n} working days (local practice, a partnership setting), never after the notification is "
    "due; a partner that has not answered by then, or disagrees, is recorded, and the local authority's seat decides"
)


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
