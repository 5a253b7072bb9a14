"""Inputs, actions, state and effects of the case workflows (pydantic, carried by the data converter)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal, get_args

from pydantic import AfterValidator, BaseModel, Field, model_validator

from workflows.calendar import TABLE_YEARS
from workflows.rules import RULE_CHILDREN_PER_NOTIFICATION, ProcessRules
from workflows.vocabulary import (
    CAPACITIES,
    CHILD_SEXES,
    CHILD_STATUSES,
    FAMILY_TOLD,
    NATIONAL_REVIEW_CRITERIA,
    PARALLEL_PROCESSES,
    REG_11_CRITERIA,
    ClockKind,
    DeadlineStatus,
    Method,
    Recommendation,
    Role,
    Seat,
    TaskKind,
    TaskStatus,
)

SHORT = 500
LONG = 20_000
LINE = 2_000
# Characters no person types into a form: C0 controls other than tab, CR and LF (NUL poisons PostgreSQL
# text), DEL and the C1 controls, and the bidirectional overrides that make text read differently from what it holds.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")


def printable(value: str) -> str:
    """Refuse text carrying a control character (the message names it; pydantic names the field)."""
    for character in value:
        code = ord(character)
        if (code < 32 and character not in "\t\r\n") or 127 <= code <= 159 or character in BIDI_CONTROLS:
            raise ValueError(f"contains the control character U+{code:04X}, which is not allowed in text")
    return value


Text = Annotated[str, AfterValidator(printable)]  # free text written by people; each field sets its length
Line = Annotated[str, AfterValidator(printable), Field(min_length=1, max_length=LINE)]  # one item of a list
SEAL = Field(None, max_length=64, description="Set by the service (see workflows/authenticity.py), never by a caller")


class Actor(BaseModel):
    """Who takes an action; the service fills it from the signed-in user, never from the request body."""

    user_id: int
    name: str = Field(max_length=200)
    role: Role
    agency: str | None = None
    seat: Seat | None = None


# ---------------------------------------------------------------- the referral that starts a case

# What the incident is, for the notification (gov.uk "Report a serious child safeguarding incident"): abuse or
# neglect known or suspected and a child died or was seriously harmed; the death of a looked-after child (notified
# even without abuse or neglect); the death of a care leaver up to and including age 24 (notified to the Secretary
# of State and Ofsted). It says what is notified and to whom, never whether a rapid review follows: that is the
# separate "criteria met" question the panel answers.
Category = Literal["serious_harm_or_death", "looked_after_child_death", "care_leaver_death"]
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


class Opening(BaseModel):
    """What the service adds to a referral of any review type to start its workflow (engine/review_type.py's
    ``build_start``): the reference, who referred, the partnership and the seal."""

    reference: str
    referrer: Actor
    partnership_name: str
    seal: str | None = SEAL


class CaseInput(Referral):
    """The workflow's input: the referral plus who made it and the rules in force that day."""

    reference: str
    referrer: Actor
    partnership_name: str
    rules: ProcessRules = Field(default_factory=ProcessRules)
    seal: str | None = SEAL


# ---------------------------------------------------------------- actions (one workflow update each)


class Action(BaseModel):
    """Every action carries its actor and, when the case has missed a deadline, the reason for the delay."""

    actor: Actor
    delay_reason: Text | None = Field(None, max_length=SHORT)
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
Capacity = Literal["lead", "delegated"]
ChildSex = Literal["female", "male", "not_known"]
FamilyTold = Literal["yes", "not_yet", "no"]
# The words for each code live in workflows/vocabulary.py (the documents print them): the two must agree.
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


class SignOff(Action):
    version: int = Field(ge=1, description="The decision-sheet version being signed off")
    decision: Literal["approve", "return"]
    comments: Text | None = Field(None, max_length=LONG)
    capacity: Capacity | None = Field(
        None, description="Signing as the lead safeguarding partner or as its delegate (Working Together 2023)")


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


# CSPR actions (PracticeReviewWorkflow)


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


class StopLocalCspr(Action):
    """Stopping a local CSPR under way (a partners' decision: e.g. the National Panel took it into a national
    review, or the partners found it no longer meets the criteria)."""

    reasons: Text = Field(min_length=1, max_length=LONG)


class AnswerJointDecision(Action):
    """A seat's answer to a decision proposed to the three partners: agree, or disagree with reasons."""

    proposed_action: str = Field(min_length=1, max_length=60, pattern=r"^[a-z_]+$",
                                 description="The action proposed to the partners (e.g. close_case)")
    version: int = Field(ge=1, description="The proposal's version")
    view: Literal["agree", "disagree"]
    comments: Text = Field("", max_length=LONG, description="Your reasons (needed to disagree)")


# ---------------------------------------------------------------- state


class Deadline(BaseModel):
    """A date someone must act by, the rule it comes from, and what the clock has done about it."""

    key: str
    title: str
    due: date
    rule: str
    owner: str
    owner_role: Role
    owner_agency: str | None = None
    owner_seat: Seat | None = None
    status: DeadlineStatus = DeadlineStatus.open
    reminder_dates: list[date] = Field(default_factory=list)
    reminders_sent: int = 0
    escalated: bool = False
    met_on: date | None = None  # the day the thing happened (notified on, held on, published on)
    recorded_on: date | None = None  # the day it was recorded in the service
    delay_reason: str | None = None
    working_days_left: int | None = None  # filled in by the state query
    # How a deadline counted in working days was found, so a day added to the calendar can move it (a deadline
    # set in months, or agreed as a date, has none and never moves): statutory clocks count bank holidays only.
    counted_from: date | None = None
    working_days: int | None = None
    clock: ClockKind | None = None

    @property
    def awaited(self) -> bool:
        """Still to be done: open, or missed and not yet done."""
        return self.status in (DeadlineStatus.open, DeadlineStatus.missed) and self.met_on is None


class StageChange(BaseModel):
    stage: str
    at: datetime
    by: str
    role: str
    action: str


class Outstanding(BaseModel):
    """Something waiting on someone: a role, and the agency or seat where that applies."""

    what: str
    role: Role
    agency: str | None = None
    seat: Seat | None = None
    due: date | None = None


class SignOffRecord(BaseModel):
    seat: Seat
    version: int
    decision: Literal["approve", "return"]
    by: str
    on: date
    comments: str | None = None
    capacity: str | None = None  # lead or delegated safeguarding partner
    superseded_by: int | None = None  # the version that replaced the one signed (after a return)


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


class Extension(BaseModel):
    """An agreed revised target for the review, beside (never instead of) the statutory date."""

    revised_due: date
    reason: str
    agreed_by: str
    agreed_on: date


class JointProposal(BaseModel):
    """A decision proposed to the three partners: the action (its fields as proposed) waits for the three seats."""

    decision: str  # the action's name
    version: int
    summary: str  # what is proposed, in words
    action: dict  # the proposed action's fields, applied as they are once the three seats agree
    proposed_by: str
    proposer_role: Role
    proposer_seat: Seat | None = None
    on: date
    status: Literal["open", "agreed", "not_agreed", "superseded"] = "open"
    settled_on: date | None = None


class JointAnswer(BaseModel):
    """One seat's answer to a proposal (a proposing Executive's answer is its proposal)."""

    decision: str
    version: int
    seat: Seat
    view: Literal["agree", "disagree"]
    comments: str = ""
    by: str
    on: date
    user_id: int | None = None  # who answered: one person answers once a version, whatever seat they hold by then


class ProcessState(BaseModel):
    """What both workflows share: stage, deadlines, flags, history of stage changes, sign-offs."""

    reference: str
    stage: str
    deadlines: list[Deadline] = Field(default_factory=list)
    stage_history: list[StageChange] = Field(default_factory=list)
    outstanding: list[Outstanding] = Field(default_factory=list)
    late: bool = False
    escalated: bool = False
    unexplained_delays: list[str] = Field(default_factory=list)
    sign_offs: list[SignOffRecord] = Field(default_factory=list)
    closed_reason: str | None = None
    step: int = 0
    # Cases opened since the partners' decisions became joint (patch "joint-decisions"): stopping, extending,
    # reconsidering, learning without a CSPR, not publishing and closing wait for the three seats.
    joint_decisions: bool = False
    joint_proposals: list[JointProposal] = Field(default_factory=list)
    joint_answers: list[JointAnswer] = Field(default_factory=list)
    # The kinds of the documents a step asked for that are still being prepared (issued after the action's answer,
    # in step order: patch "answer-first"); each leaves the list once it is in the register.
    documents_in_preparation: list[str] = Field(default_factory=list)
    # A closed case the partners may still reopen until this day (cases opened since patch "reopenable").
    reopen_until: date | None = None


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


class CalendarRequest(BaseModel):
    """The days a case's calendar must cover (the ``working_calendar`` activity's input)."""

    first: date
    last: date


class CaseCalendar(BaseModel):
    """A case's own working-day calendar from ``first`` to ``last``: England and Wales bank holidays on weekdays
    (the ``holidays`` package's, with one-off days the partnership added) and the partnership's added closure
    days. Recorded once in the case's history, so no replay consults the package."""

    first: date
    last: date
    bank_holidays: dict[date, str] = Field(default_factory=dict)
    closure_days: dict[date, str] = Field(default_factory=dict)


class CalendarDayAdded(BaseModel):
    """A one-off bank holiday or a partnership closure day, sent by the service to every running case."""

    day: date
    kind: Literal["bank_holiday", "closure_day"]
    name: Text = Field(min_length=1, max_length=200)
    actor: Actor
    seal: str | None = SEAL


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


# ---------------------------------------------------------------- effects (one activity call each)


class TaskSpec(BaseModel):
    key: str
    kind: TaskKind
    title: str
    description: str
    assignee_role: Role
    assignee_agency: str | None = None
    assignee_seat: Seat | None = None
    due: date | None = None
    action: str | None = None


class DueDateMove(BaseModel):
    """Open tasks of one workflow (keys starting ``key_prefix``) due on ``was`` are now due on ``now``: their
    deadline moved with the calendar."""

    key_prefix: str
    was: date
    now: date


class TaskSettlement(BaseModel):
    """Close (done) or cancel open tasks whose key starts with ``key_prefix``; or, with ``superseded``, add the
    outcome to tasks already done (an approval of a version that a return replaced)."""

    key_prefix: str
    status: Literal[TaskStatus.done, TaskStatus.cancelled]
    outcome: str | None = None
    superseded: bool = False


class AuditEntry(BaseModel):
    actor_id: int | None
    actor_role: str
    action: str
    detail: dict


class DocumentRequest(BaseModel):
    """Render a document (HTML and PDF) from a template with the case's context; idempotent by key."""

    key: str
    kind: str
    case_reference: str
    version: int = 1
    issued_by: str
    context: dict


class CaseSnapshot(BaseModel):
    """The read model's row for a case (lists and dashboards read this, never Temporal)."""

    reference: str
    pseudonym: str
    stage: str
    opened_on: date
    awareness_date: date
    notified_on: date | None
    rapid_review_due: date | None
    next_deadline_title: str | None
    next_deadline_due: date | None
    next_deadline_rule: str | None
    late: bool
    escalated: bool
    recommendation: str | None
    decision_sheet_version: int
    invited_agencies: list[str]
    submitted_on: date | None
    practice_review_stage: str | None
    closed_reason: str | None
    outcome: str | None
    themes: list[str] = Field(default_factory=list)
    stopped: bool = False  # the partners stopped the review (the tracker and dashboard say so)
    notification_due: date | None = None  # the notification's own due date (5 working days, the case's clock)
    notification_reference: str | None = None  # the DfE notification system's reference (the tracker exports it)
    panel_date: date | None = None  # the Rapid Review Panel's date once convened (the panel calendar reads it)


class ReviewSnapshot(BaseModel):
    """The read model's row for a case's local CSPR (dashboards and the case review tracker read this)."""

    case_reference: str
    stage: str
    decided_on: date
    due: date | None
    methods: list[str]
    late: bool
    recommendations: list[str] = Field(default_factory=list)
    published_on: date | None = None
    publication_link: str | None = None
    not_published_reasons: str | None = None
    # The day the review was completed: published, or (not published) its improvements published; the
    # timeliness figures count both (the partners' report under s16G; the review is completed either way).
    completed_on: date | None = None


class PlanActionSpec(BaseModel):
    """An action for the partnership's one action plan, raised by a panel or a CSPR report."""

    key: str
    source: Literal["panel_immediate_action", "cspr_recommendation", "learning_activity", "sar_recommendation"]
    description: str
    due: date


class InformationReturnRecord(BaseModel):
    """An agency's information return as the case keeps it (the read model's ``information_return`` row)."""

    agency: str
    submitted_by: str
    submitted_by_id: int
    involvement: str
    chronology: str
    analysis: str
    version: int = 1


class StepFacts(BaseModel):
    """What a step did, said by the workflow that knows it (the activity derives none of it from rows)."""

    opened_case: bool = False  # the referral that opened the case
    entered_stage: str | None = None  # the stage the sending workflow (the case, or its review) entered
    review_stage_changed: bool = False  # the case's record of its review's stage changed


class StoredCalendar(BaseModel):
    """The working days a stored state is counted on: a ``WorkingDayCalendar`` as data (which days are closed;
    bank holidays' names are never counted). See workflows/case_view.py."""

    closure_days: list[date] = Field(default_factory=list)
    bank_holidays: list[date] | None = None  # None: the table built at import (cases from before their own)
    covers: tuple[date, date] | None = None
    added_bank_holidays: list[date] = Field(default_factory=list)


class PendingDocument(BaseModel):
    kind: str
    key: str


class StoredState(BaseModel):
    """The state query's answer at a step, less what is counted when it is read (workflows/case_view.py): the
    read model serves a case's state from it without querying the workflow."""

    workflow_id: str  # the case's, or its practice review's
    state: dict
    calendar: StoredCalendar
    # The documents queued to be issued after the answer, oldest first: "in preparation" until in the register.
    pending_documents: list[PendingDocument] = Field(default_factory=list)


class CaseStep(BaseModel):
    """Every side effect of one transition, applied by one activity in one database transaction."""

    key: str
    case_reference: str
    at: datetime
    # None only on a step sent by a build from before steps said what they did (see activities/case_step.py).
    facts: StepFacts | None = None
    snapshot: CaseSnapshot | None = None
    review: ReviewSnapshot | None = None
    plan_actions: list[PlanActionSpec] = Field(default_factory=list)
    audit: AuditEntry | None = None
    settle: list[TaskSettlement] = Field(default_factory=list)
    tasks: list[TaskSpec] = Field(default_factory=list)
    due_date_moves: list[DueDateMove] = Field(default_factory=list)
    information_return: InformationReturnRecord | None = None
    # The workflow's state as its query answers it (workflows since patch "state-in-step"; see StoredState).
    stored_state: StoredState | None = None
