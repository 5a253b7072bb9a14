"""The SAR's referral, its workflow's input, its local clocks and its actions' models."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

from engine.models import LONG, SHORT, Action, Line, Opening, Text
from reviews.rapid_review.models import SubmitInformationReturn

CriteriaOutcome = Literal["mandatory", "discretionary", "not_met"]

# "(local setting)" marks a local clock wherever the service shows deadlines (the case page, the board's card).
RULE_CRITERIA_DECISION = (
    "The SAB's partners decide whether the criteria for a Safeguarding Adults Review are met within {n} working days "
    "of the referral, as the SAB's own SAR procedure sets (Care Act 2014 s44 sets no time) (local setting)"
)
RULE_COMMISSION = (
    "The review is commissioned within {n} working days of the decision to hold it, as the SAB's own SAR procedure "
    "sets (local setting)"
)

RULE_AGENCY_RETURNS = (
    "Each agency asked returns its information within {n} working days of the request, as the SAB's own SAR procedure "
    "sets (Care Act 2014 s45 obliges a person the SAB asks to supply the information, but sets no time) "
    "(local setting)"
)


class SarRules(BaseModel):
    """The SAR's clocks, all local practice (the statute sets none): part of the case's input, so a later change
    never moves a running case."""

    criteria_decision_working_days: int = Field(20, ge=1, le=120)
    commission_working_days: int = Field(20, ge=1, le=120)
    agency_returns_working_days: int = Field(15, ge=1, le=120)
    # When the board's actions from the report fall due, counted from publication (the SAB's own action planning).
    action_plan_working_days: int = Field(60, ge=1, le=260)
    # What the deadline clock reads (engine/clock.py's ClockRules): a reminder this many working days before a
    # deadline, and the board's closure days (none unless set): the same as the children's defaults.
    reminder_working_days_before: int = Field(2, ge=0, le=10)
    closure_days: tuple[date, ...] = ()


class SarReferral(BaseModel):
    """A referral to the SAB's SAR subgroup: never the adult's name."""

    pseudonym: Text = Field(min_length=1, max_length=60, description="Never the adult's name")
    summary: Text = Field(min_length=1, max_length=LONG, description="What happened, as far as known")
    adult_died: bool = Field(description="Whether the adult has died (s44(2)) or is alive (s44(3))")
    needs_for_care_and_support: bool = Field(
        description="The adult has (or had) needs for care and support, met by the local authority or not (s44(1))")
    concern_date: date = Field(description="When the referring agency became aware of the concern")
    referring_agency: Text = Field(min_length=1, max_length=80)


class SarInput(SarReferral, Opening):
    rules: SarRules = Field(default_factory=SarRules)


class GiveCriteriaView(Action):
    """One partner's view on the referral: a mandatory SAR (s44(1)-(3)), a discretionary one (s44(4)), or the
    criteria not met; with the reasons, which the decision keeps."""

    outcome: CriteriaOutcome
    reasons: Text = Field(min_length=1, max_length=LONG)


class CommissionSar(Action):
    """Who carries out the review, how, and on what terms of reference."""

    reviewer: Text = Field(min_length=1, max_length=200, description="The independent reviewer (or lead reviewer)")
    methodology: Text = Field(min_length=1, max_length=SHORT)
    terms_of_reference: Text = Field(min_length=1, max_length=LONG)
    commissioned_on: date


class SubmitSarReport(Action):
    """The reviewer's report as received: its findings and recommendations, for the board's sign-off."""

    received_on: date
    findings: Text = Field(min_length=1, max_length=LONG)
    recommendations: list[Line] = Field(min_length=1, max_length=50)


class RequestSarInformation(Action):
    """Ask agencies for their information after commissioning (Care Act 2014 s45: a person the SAB asks must supply
    what it needs). Each agency returns through the same information return as a rapid review's."""

    agencies: list[Line] = Field(min_length=1, max_length=30, description="The agencies asked (their codes)")
    questions: list[Line] = Field(default_factory=list, max_length=10,
                                  description="What the terms of reference ask the agencies to answer")


class SubmitSarInformationReturn(SubmitInformationReturn):
    """An agency's information return for a SAR: the children's return's three parts (kept in the same table and
    read on the same pages)."""

    involvement: Text = Field(min_length=1, max_length=LONG, description="Your agency's contact with the adult: which "
                              "services, over what period, who was involved")


class UseSharedReturn(Action):
    """Count an agency's return on a linked case (shared where the partners agreed) as its return here: the agency
    writes once. The service checks that the return exists on a case linked with sharing
    (service/cases/case_links.py)."""

    agency: Line = Field(description="The agency whose return is shared")
    shared_from: Line = Field(description="The linked case's reference, where the return was sent")


class PublishSar(Action):
    """The board publishes the report it signed off (its findings go into the SAB's annual report, Care Act 2014
    Sch. 2 para 4(1)(d)). Each recommendation it decides not to implement is named with its reasons (para 4(1)(g));
    the others become actions in the one action plan (para 4(1)(f))."""

    published_on: date
    where: Text = Field(min_length=1, max_length=SHORT, description="Where the report is published (its address)")
    recommendations_not_implemented: list[Line] = Field(
        default_factory=list, max_length=50, description="One line per recommendation the board decided not to "
        "implement: its number, a colon and the reasons (for example: 2: already met by the new hospital discharge "
        "protocol)")

    def declined(self) -> dict[int, str]:
        """{recommendation number: reasons}, from the lines as typed (the workflow's check refuses a bad line)."""
        found = {}
        for line in self.recommendations_not_implemented:
            number, _, reasons = line.partition(":")
            if number.strip().isdigit() and reasons.strip():
                found[int(number)] = reasons.strip()
        return found
