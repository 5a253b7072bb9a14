"""The rapid review's own models: the referral and the workflow's input, its actions (one workflow update each)
and its state (pydantic, carried by the data converter). What every review type shares is engine/models.py."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal, get_args

from pydantic import AfterValidator, BaseModel, Field, model_validator

from engine.calendar import TABLE_YEARS
from engine.models import LONG, SEAL, SHORT, Action, Actor, Capacity, Line, ProcessState, Text
from engine.vocabulary import (
    CAPACITIES,
    CHILD_SEXES,
    CHILD_STATUSES,
    FAMILY_TOLD,
    NATIONAL_REVIEW_CRITERIA,
    PARALLEL_PROCESSES,
    REG_11_CRITERIA,
    Method,
    Recommendation,
    Seat,
)
from reviews.rapid_review.citations import RULE_CHILDREN_PER_NOTIFICATION
from reviews.rapid_review.process_rules import ProcessRules

CHILDREN_PER_NOTIFICATION = 4  # one notification covers up to 4 children of one incident (gov.uk)


CaseReference = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9][A-Za-z0-9-]*$")]


def linked_cases(references: list[str]) -> list[str]:
    """Other children of one incident: each once, and no more than one notification covers."""
    if len(set(references)) != len(references):
        raise ValueError("a linked case is listed more than once")
    if len(references) > CHILDREN_PER_NOTIFICATION - 1:
        raise ValueError(f"at most {CHILDREN_PER_NOTIFICATION - 1} other children can be linked: "
                         + RULE_CHILDREN_PER_NOTIFICATION.format(n=CHILDREN_PER_NOTIFICATION))
    return references


LinkedReferences = Annotated[
    list[CaseReference], AfterValidator(linked_cases),
    Field(default_factory=list, max_length=20,
          description="The cases of the other children of the same incident (one notification covers up to "
                      f"{CHILDREN_PER_NOTIFICATION} children)"),
]



# What the incident is, for the notification (gov.uk "Report a serious child safeguarding incident"): abuse or
# neglect known or suspected and a child died or was seriously harmed; the death of a looked-after child (notified
# even without abuse or neglect); the death of a care leaver up to and including age 24 (notified to the Secretary
# of State and Ofsted). It says what is notified and to whom, never whether a rapid review follows: that is the
# separate "criteria met" question the panel answers.
Category = Literal["serious_harm_or_death", "looked_after_child_death", "care_leaver_death"]


class Referral(BaseModel):
    """What a partner submits (the body of POST /api/cases)."""

    pseudonym: Text = Field(min_length=1, max_length=60, description="Never the child's name")
    age_band: Literal["unborn", "under 1", "1-4", "5-9", "10-14", "15-17", "18-24 (care leaver)"]
    summary: Text = Field(min_length=1, max_length=LONG, description="What happened, as far as known")
    incident_date: date
    awareness_date: date = Field(description="When the local authority became aware of the incident")
    referring_agency: Text = Field(min_length=1, max_length=80)
    category: Category = Field("serious_harm_or_death", description="What is to be notified; the CSC lead can "
                               "correct it")
    linked_references: LinkedReferences

    @model_validator(mode="after")
    def _dates_in_order(self) -> Referral:
        if self.awareness_date < self.incident_date:
            raise ValueError("the date of awareness cannot be before the date of the incident")
        if self.awareness_date.year not in TABLE_YEARS:  # the statutory clock runs on the calendar's years
            raise ValueError(f"the date of awareness must fall in {TABLE_YEARS.start}-{TABLE_YEARS.stop - 1}")
        return self


class CaseInput(Referral):
    """The workflow's input: the referral plus who made it and the rules in force that day."""

    reference: str
    referrer: Actor
    partnership_name: str
    rules: ProcessRules = Field(default_factory=ProcessRules)
    seal: str | None = SEAL


class AcceptReferral(Action):
    note: Text | None = Field(None, max_length=SHORT)


class DeclineReferral(Action):
    reason: Text = Field(min_length=1, max_length=SHORT)


class RecordSinDecision(Action):
    """The CSC lead's decision alone, with police and health views as text: the process of cases started before
    the three-way decision (kept so that their histories replay; no longer offered)."""

    police_view: Text = Field(min_length=1, max_length=LONG)
    health_view: Text = Field(min_length=1, max_length=LONG)
    decision: Literal["notify", "do_not_notify"]
    rationale: Text = Field(min_length=1, max_length=LONG)


class ProposeSinDecision(Action):
    """The CSC lead's proposal on the notification, for police and health to agree or not (the local authority
    notifies; all three partners should agree which incidents are notified: National Panel FAQ)."""

    decision: Literal["notify", "do_not_notify"]
    rationale: Text = Field(min_length=1, max_length=LONG)


class RespondToSinProposal(Action):
    """The police's or health's answer to the CSC lead's proposal (one Executive seat each)."""

    version: int = Field(ge=1, description="The proposal version answered")
    view: Literal["agree", "disagree"]
    comments: Text = Field(min_length=1, max_length=LONG, description="The partner's view and its reasons")


class ResolveSinDisagreement(Action):
    """A disagreement on the notification resolved between the three partners and recorded by the local
    authority's seat, whose duty the notification is; the dissent stays on record beside it."""

    version: int = Field(ge=1, description="The proposal version disagreed with")
    decision: Literal["notify", "do_not_notify"]
    how_resolved: Text = Field(min_length=1, max_length=LONG)


class CorrectReferral(Action):
    """The CSC lead's correction of what the incident is (its category) and of the cases linked with it."""

    category: Category
    linked_references: LinkedReferences
    reason: Text = Field(min_length=1, max_length=SHORT)


class RecordNotification(Action):
    notified_on: date = Field(description="The day the notification was made (judged against the 5 days)")
    notification_reference: Text = Field(min_length=1, max_length=60,
                                         description="The reference the DfE notification system gave it")


class CorrectAwarenessDate(Action):
    """The local authority's own date of becoming aware, when the referral's is wrong; the clock follows it."""

    awareness_date: date
    reason: Text = Field(min_length=1, max_length=SHORT)


class ConvenePanel(Action):
    panel_date: date
    invited_agencies: list[Line] = Field(min_length=1, max_length=30)
    research_questions: list[Line] = Field(default_factory=list, max_length=10)


class SubmitInformationReturn(Action):
    involvement: Text = Field(min_length=1, max_length=LONG, description="Your agency's contact with the child and "
                              "family: which services, over what period, who was involved")
    chronology: Text = Field(min_length=1, max_length=LONG, description="One event per line, each starting with its "
                             "date (for example: 3 October 2026: bruise seen at nursery), so the panel's merged "
                             "chronology puts every agency's events in order")
    analysis: Text = Field(min_length=1, max_length=LONG, description="What went well, what could have been done "
                           "differently, and why; the panel's research questions are in your request")


class RecordPanelOutcome(Action):
    held_on: date
    attendees: list[Line] = Field(min_length=1, max_length=60)
    immediate_actions: list[Line] = Field(default_factory=list, max_length=50)
    themes: list[Line] = Field(default_factory=list, max_length=13)
    learning: Text = Field(min_length=1, max_length=LONG)
    recommendation: Recommendation
    rationale: Text = Field(min_length=1, max_length=LONG)


Reg11Criterion = Literal["a", "b", "c", "d"]
NationalReviewCriterion = Literal["a", "b", "c"]
ChildStatus = Literal["looked_after", "care_leaver", "child_protection_plan", "child_in_need"]
ParallelProcess = Literal["police_investigation", "criminal_proceedings", "inquest", "child_death_review",
                          "other_review"]
ChildSex = Literal["female", "male", "not_known"]
FamilyTold = Literal["yes", "not_yet", "no"]
# The words for each code live in engine/vocabulary.py (the documents print them): the two must agree.
for _codes, _words in ((Reg11Criterion, REG_11_CRITERIA), (NationalReviewCriterion, NATIONAL_REVIEW_CRITERIA),
                       (ChildStatus, CHILD_STATUSES), (ParallelProcess, PARALLEL_PROCESSES),
                       (Capacity, CAPACITIES), (ChildSex, CHILD_SEXES), (FamilyTold, FAMILY_TOLD)):
    assert set(get_args(_codes)) == set(_words), (_codes, _words)


def _distinct(values: list) -> list:
    if len(set(values)) != len(values):
        raise ValueError("an item is listed more than once")
    return values


class IssueDecisionSheet(Action):
    """The rapid review as the National Panel expects it (its guidance for safeguarding partners, 2022 and 2025):
    every field beyond the circumstances is optional, so a sheet issued before these fields existed still reads."""

    circumstances: Text = Field(min_length=1, max_length=LONG)
    local_review_criteria: Annotated[list[Reg11Criterion], AfterValidator(_distinct)] = Field(
        default_factory=list, max_length=4,
        description="The reg. 11 criteria the case meets (SI 2018/789): a improvements needed, including ones "
                    "identified before; b recurrent themes; c concerns about two or more agencies working together; "
                    "d the National Panel concluded a local review may be more appropriate")
    local_review_criteria_met: bool | None = Field(
        None, description="Set from the criteria when they are listed; older sheets gave only this yes or no")
    criteria_notes: Text = Field("", max_length=LONG)
    national_review_criteria: Annotated[list[NationalReviewCriterion], AfterValidator(_distinct)] = Field(
        default_factory=list, max_length=3,
        description="Why the case may be complex or of national importance (the criteria of SI 2018/789 reg. 3): "
                    "a improvements needed; b legislative change or changes to guidance; c recurrent themes")
    national_importance: bool = False
    recommendation: Recommendation | None = Field(None, description="A revised recommendation, if any")
    rationale: Text | None = Field(None, max_length=LONG)
    # The child (no names): what the National Panel asks about every child in a rapid review.
    child_sex: ChildSex | None = None
    child_ethnicity: Text | None = Field(None, max_length=100)
    child_disability: Text | None = Field(None, max_length=SHORT, description="Any disability, or none known")
    child_status: Annotated[list[ChildStatus], AfterValidator(_distinct)] = Field(
        default_factory=list, max_length=len(CHILD_STATUSES),
        description="At the time of the incident (none listed: none of these)")
    key_practice_episodes: list[Line] = Field(default_factory=list, max_length=30)
    parallel_processes: Annotated[list[ParallelProcess], AfterValidator(_distinct)] = Field(
        default_factory=list, max_length=len(PARALLEL_PROCESSES))
    parallel_processes_notes: Text = Field("", max_length=LONG)
    voice_of_child_and_family: Text = Field("", max_length=LONG)
    family_told_of_review: FamilyTold | None = None
    siblings_and_other_children: Text = Field("", max_length=LONG,
                                              description="The safety of siblings and other children")
    # The Panel's rapid review template asks these of every report.
    child_outcome: Literal["died", "seriously_harmed"] | None = Field(
        None, description="Whether the child died or was seriously harmed")
    family_and_household: Text = Field("", max_length=LONG, description="Family and household background: who "
                                       "lived with the child, and significant adults")
    area: Text = Field("", max_length=200, description="Where the child lived (locality or district, never an "
                       "address)")

    @model_validator(mode="after")
    def _criteria_answer_the_questions(self) -> IssueDecisionSheet:
        """The criteria listed are the answer; the yes-or-no flags follow them (a form's unticked box does not
        undo a criterion chosen beside it). Without criteria, the flags stand as given (older callers)."""
        if self.local_review_criteria:
            self.local_review_criteria_met = True
        elif self.local_review_criteria_met is None:
            self.local_review_criteria_met = False
        if self.national_review_criteria:
            self.national_importance = True
        return self


class RecordSubmission(Action):
    submitted_on: date


class LinkCdopReview(Action):
    """A child's death is also reviewed by the Child Death Overview Panel (Working Together 2023, ch. 6): the two
    processes are linked by CDOP's own reference, so each can find the other's learning."""

    cdop_reference: Text = Field(min_length=1, max_length=60, description="The CDOP's reference for the death")
    note: Text = Field("", max_length=SHORT, description="Anything the partners need to know of the CDOP review")


class RecordJointReview(Action):
    """A review run jointly with another partnership (the child lived, or was harmed, across a boundary): who leads,
    and the other partnerships with their contacts, with whom the documents are shared."""

    lead_partnership: Text = Field(min_length=1, max_length=200, description="The partnership that leads the review")
    other_partnerships: list[Line] = Field(min_length=1, max_length=10,
                                           description="Each other partnership and its contact, one per line")
    shared_documents: Text = Field("", max_length=SHORT, description="What is shared with them, and how")


class RecordNationalReviewPart(Action):
    """What the partnership gave the National Panel's national review of the case (information, interviews,
    comments on its draft), and when: the partners' part in it, on the case's record."""

    given_on: date
    what: Text = Field(min_length=1, max_length=LONG)


class ReviseRapidReview(Action):
    """The rapid review revised after the National Panel's questions: the answers (and what changed) go into a new
    version of the report, which the three partners sign off before it is resubmitted."""

    answers: Text = Field(min_length=1, max_length=LONG, description="The answers to the National Panel's questions")
    changes: Text = Field("", max_length=LONG, description="What else changed in the report, if anything")


class RecordNationalPanelResponse(Action):
    received_on: date
    content: Text = Field(min_length=1, max_length=LONG)
    panel_view: Literal["agrees", "disagrees", "asks_questions", "national_review"] = Field(
        description="agrees with the partners' decision; disagrees (its view in the content); asks questions or "
                    "for a resubmission; will undertake a national review")


class ReconsiderDecision(Action):
    """The partners' answer where the National Panel sees the case differently: theirs to give, with reasons."""

    answer: Literal["continue", "undertake_local_cspr", "stop_local_cspr"]
    reasons: Text = Field(min_length=1, max_length=LONG)


class ChooseMethodology(Action):
    decided_on: date
    methods: list[Method] = Field(min_length=1, max_length=len(Method))
    reviewer: Text = Field(min_length=1, max_length=200)
    reviewer_kind: Literal["internal", "independent"]
    lead: Text = Field(min_length=1, max_length=200)


class LearningActivity(BaseModel):
    """One piece of learning without a local CSPR; it goes into the one action plan."""

    kind: Literal["single_agency_review", "audit", "workshop", "thematic_review"]
    description: Line
    lead: Text = Field(min_length=1, max_length=200, description="Who leads it (agency or person)")
    due: date


class RecordLearningActivities(Action):
    """After 'no further review': the partners' choice of learning of its own (none is a choice too)."""

    decided_on: date
    activities: list[LearningActivity] = Field(default_factory=list, max_length=20)
    note: Text = Field(min_length=1, max_length=LONG, description="Why these (or why none)")


class CloseCase(Action):
    reason: Text = Field(min_length=1, max_length=SHORT)


class ReopenCase(Action):
    """Reopening a closed case (a partners' decision): e.g. the National Panel's reply came after the case closed.
    The case goes back to the National Panel stage, where the partners reconsider their decision."""

    reason: Text = Field(min_length=1, max_length=LONG)


class Reopening(BaseModel):
    """A reopening on record: why, who agreed, and how the case had closed before it."""

    on: date
    reason: str
    agreed_by: str
    closed_reason: str | None = None
    outcome: str | None = None
    stopped: str | None = None


class StopLocalCspr(Action):
    """Stopping a local CSPR under way (a partners' decision: e.g. the National Panel took it into a national
    review, or the partners found it no longer meets the criteria)."""

    reasons: Text = Field(min_length=1, max_length=LONG)


class SinProposal(BaseModel):
    version: int
    decision: Literal["notify", "do_not_notify"]
    rationale: str
    by: str
    on: date


class SinResponse(BaseModel):
    version: int
    seat: Seat
    view: Literal["agree", "disagree"]
    comments: str
    by: str
    on: date


class SinResolution(BaseModel):
    version: int
    decision: Literal["notify", "do_not_notify"]
    how_resolved: str
    by: str
    on: date
    # Why the local authority's seat decided: a partner disagreed, or a partner had not answered in time (named).
    basis: Literal["disagreement", "no_answer"] = "disagreement"
    unanswered: list[Seat] = Field(default_factory=list)


class CaseState(ProcessState):
    pseudonym: str
    opened_on: date
    awareness_date: date
    referring_agency: str
    category: Category = "serious_harm_or_death"
    linked_references: list[str] = Field(default_factory=list)
    referral_corrections: list[CorrectReferral] = Field(default_factory=list)
    sin_decision: RecordSinDecision | None = None  # cases of the single-decision process
    # The three-way notification decision: the CSC lead's proposals, police's and health's answers, a resolution
    # where they disagreed, and what was agreed (then the notification, or the decline closing the case).
    three_way_sin: bool = False
    sin_proposals: list[SinProposal] = Field(default_factory=list)
    sin_responses: list[SinResponse] = Field(default_factory=list)
    sin_resolutions: list[SinResolution] = Field(default_factory=list)
    sin_agreed: Literal["notify", "do_not_notify"] | None = None
    sin_agreed_on: date | None = None
    notified_on: date | None = None
    notification_reference: str | None = None
    notified_by: str | None = None
    notification_records: int = 0  # versions of the notification record issued (a corrected date re-issues it)
    awareness_corrections: list[CorrectAwarenessDate] = Field(default_factory=list)
    window_start: date | None = None
    panel: ConvenePanel | None = None
    convened_on: date | None = None
    returns: dict[str, date] = Field(default_factory=dict)
    panel_outcome: RecordPanelOutcome | None = None
    decision_sheet: IssueDecisionSheet | None = None
    decision_sheet_version: int = 0
    decision_sheet_versions: list[IssueDecisionSheet] = Field(default_factory=list)  # each version as issued
    recommendation: Recommendation | None = None
    # The safeguarding partners' decision (the signed-off rapid review), as distinct from the panel's
    # recommendation; a local CSPR and its six months start from it.
    partners_decision: Recommendation | None = None
    partners_decided_on: date | None = None
    submitted_on: date | None = None
    national_panel_response: RecordNationalPanelResponse | None = None
    national_panel_responses: list[RecordNationalPanelResponse] = Field(default_factory=list)
    # The National Panel asked questions: the rapid review is revised (a new version), signed off by the three
    # seats and resubmitted, beside whatever the case is doing meanwhile.
    panel_questions_pending: bool = False
    national_review_from: date | None = None  # the National Panel said it will hold a national review (its reply)
    national_review_parts: list[RecordNationalReviewPart] = Field(default_factory=list)
    cdop: LinkCdopReview | None = None  # the CDOP review of the same death, by its reference
    joint_review: RecordJointReview | None = None  # a review led with (or by) another partnership
    revision: ReviseRapidReview | None = None  # the revision being signed off, until it is approved
    revisions: list[ReviseRapidReview] = Field(default_factory=list)
    resubmission_due: bool = False  # an approved revision waits to be resubmitted
    resubmitted_on: list[date] = Field(default_factory=list)
    reconsiderations: list[ReconsiderDecision] = Field(default_factory=list)
    reconsideration_pending: bool = False
    methodology: ChooseMethodology | None = None
    # After no further review: the learning chosen instead of a local CSPR; awaited before the case closes.
    learning_activities: RecordLearningActivities | None = None
    learning_decision_pending: bool = False
    practice_review_stage: str | None = None
    outcome: str | None = None
    stopped: str | None = None  # a review the partners stopped: when and why (the record says "stopped" everywhere)
    # Cases opened since patch "reopenable": a case closed while the National Panel's reply is awaited stays
    # reopenable for a while (ProcessRules.reopen_window_days); the reply, when it comes, is recorded on it.
    reopenable: bool = False
    late_panel_reply: bool = False  # the Panel's reply arrived after the case closed, not yet acted on
    reopenings: list[Reopening] = Field(default_factory=list)
    reviews_started: int = 0  # local CSPRs started (one stopped and started again after a reopening: two)

