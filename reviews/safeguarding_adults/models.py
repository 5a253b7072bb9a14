"""The SAR's referral, its workflow's input, its local clocks and its actions' models."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

from engine.models import LONG, SHORT, Action, Line, Opening, Text

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


class SarRules(BaseModel):
    """The SAR's clocks, all local practice (the statute sets none): part of the case's input, so a later change
    never moves a running case."""

    criteria_decision_working_days: int = Field(20, ge=1, le=120)
    commission_working_days: int = Field(20, ge=1, le=120)


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


class PublishSar(Action):
    """The board publishes the report it signed off (its findings go into the SAB's annual report, Care Act 2014
    Sch. 2)."""

    published_on: date
    where: Text = Field(min_length=1, max_length=SHORT, description="Where the report is published (its address)")
