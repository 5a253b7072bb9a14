"""The local child safeguarding practice review's own models: its input from the case, its actions (one workflow
update each), its state and the progress it signals to its case. What every review type shares is engine/models.py."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

from engine.models import LONG, SEAL, SHORT, Action, CalendarDayAdded, CaseCalendar, Line, ProcessState, Text
from engine.vocabulary import Method
from reviews.rapid_review.models import ChooseMethodology
from reviews.rapid_review.process_rules import ProcessRules


class AgreeTermsOfReference(Action):
    agreed_on: date
    scope: Text = Field(min_length=1, max_length=LONG)
    research_questions: list[Line] = Field(default_factory=list, max_length=10)


class CommissionReviewer(Action):
    commissioned_on: date
    reviewer: Text = Field(min_length=1, max_length=200)


class RecordLearningEvent(Action):
    kind: Literal["learning_event", "practitioner_workshop", "family_engagement", "children_young_people"]
    held_on: date
    note: Text = Field(min_length=1, max_length=LONG)


class SubmitDraftReport(Action):
    received_on: date
    note: Text = Field("", max_length=LONG)


class SubmitFinalReport(Action):
    received_on: date
    recommendations: list[Line] = Field(min_length=1, max_length=50)
    key_learning: list[Line] = Field(default_factory=list, max_length=20,
                                     description="The report's agreed learning, for the 7-minute briefing")
    revision_reason: Text = Field("", max_length=SHORT, description="Why a report already signed off is revised "
                                  "(a criminal trial or inquest concluded, say)")
    report_document: int | None = Field(None, ge=1, description="The uploaded report (its number in the case's "
                                        "documents) the Executives sign")


class HoldPublication(Action):
    """The partners hold publication (a criminal trial or an inquest to conclude first): why, and when they will
    review the hold; never a fixed publication date set by one person."""

    reasons: Text = Field(min_length=1, max_length=LONG)
    review_on: date = Field(description="When the partners review the hold")


class LiftPublicationHold(Action):
    reasons: Text = Field(min_length=1, max_length=SHORT)


class SendPublicationNotice(Action):
    sent_on: date


class RecordPublication(Action):
    published_on: date
    link: Text = Field(min_length=1, max_length=500)


class RecordNonPublication(Action):
    reasons: Text = Field(min_length=1, max_length=LONG)
    improvements_published_on: date


class RecordLearningWorkshop(Action):
    held_on: date
    note: Text = Field("", max_length=LONG)


class ExtendDeadline(Action):
    """A revised target for the review agreed by the partners; the statutory date stays what it was."""

    new_due: date
    reason: Text = Field(min_length=1, max_length=SHORT)


class Extension(BaseModel):
    """An agreed revised target for the review, beside (never instead of) the statutory date."""

    revised_due: date
    reason: str
    agreed_by: str
    agreed_on: date


class ReviewInput(BaseModel):
    """What starts the child PracticeReviewWorkflow."""

    reference: str
    case_reference: str
    pseudonym: str
    partnership_name: str
    methodology: ChooseMethodology
    rules: ProcessRules
    partners_decided_on: date  # the decision to undertake the review: its six months run from here
    calendar: CaseCalendar | None = None  # the case's own calendar (None: a case from before it had one)
    added_days: list[CalendarDayAdded] = Field(default_factory=list)  # one-off days the case received
    # A review started again after its case was reopened: its steps, tasks and documents are keyed apart.
    round: int = 1


class ReviewState(ProcessState):
    case_reference: str
    decided_on: date
    partners_decided_on: date | None = None
    extensions: list[Extension] = Field(default_factory=list)
    methods: list[Method]
    reviewer: str
    lead: str
    terms_of_reference: AgreeTermsOfReference | None = None
    commissioned: CommissionReviewer | None = None
    learning_events: list[RecordLearningEvent] = Field(default_factory=list)
    drafts: list[SubmitDraftReport] = Field(default_factory=list)
    final_report: SubmitFinalReport | None = None
    report_version: int = 0
    notice_sent_on: date | None = None
    earliest_publication: date | None = None
    published_on: date | None = None
    publication_link: str | None = None
    not_published_reasons: str | None = None
    improvements_published_on: date | None = None
    publication_hold: HoldPublication | None = None  # held by the partners, until lifted or a revision is approved
    holds: list[HoldPublication] = Field(default_factory=list)
    notices_sent: int = 0
    learning_workshop_on: date | None = None
    one_year_workshop_due: date | None = None
    one_year_workshop_on: date | None = None


class ReviewProgress(BaseModel):
    """The child's signal to its parent case when its stage changes."""

    stage: str
    late: bool
    escalated: bool
    sequence: int = 0  # the child's step number: a captured signal cannot be sent again under another number
    seal: str | None = SEAL

    def sealed_fields(self) -> dict:
        """What the seal covers, named here so a field added later never changes an old signal's seal (the
        parent verifies it on every replay)."""
        return {"stage": self.stage, "late": self.late, "escalated": self.escalated, "sequence": self.sequence}

