"""What every review type's workflow exchanges (pydantic, carried by the data converter): free text, the actor, the
opening of a case, the action base, the state every process keeps, and the effects of a step (tasks, documents,
the read model's snapshot, the audit row). A type's own referral, actions and state are in its package
(reviews/<type>/models.py)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal, get_args

from pydantic import AfterValidator, BaseModel, Field

from engine.vocabulary import (
    CAPACITIES,
    ClockKind,
    DeadlineStatus,
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
SEAL = Field(None, max_length=64, description="Set by the service (see engine/authenticity.py), never by a caller")


Capacity = Literal["lead", "delegated"]  # how a partner signs: CAPACITIES has the words
assert set(get_args(Capacity)) == set(CAPACITIES)


class Actor(BaseModel):
    """Who takes an action; the service fills it from the signed-in user, never from the request body."""

    user_id: int
    name: str = Field(max_length=200)
    role: Role
    agency: str | None = None
    seat: Seat | None = None


# ---------------------------------------------------------------- the opening of a case


class Opening(BaseModel):
    """What the service adds to a referral of any review type to start its workflow (engine/review_type.py's
    ``build_start``): the reference, who referred, the partnership and the seal."""

    reference: str
    referrer: Actor
    partnership_name: str
    seal: str | None = SEAL


# ---------------------------------------------------------------- actions (one workflow update each)


class Action(BaseModel):
    """Every action carries its actor and, when the case has missed a deadline, the reason for the delay."""

    actor: Actor
    delay_reason: Text | None = Field(None, max_length=SHORT)
    seal: str | None = SEAL


class SignOff(Action):
    version: int = Field(ge=1, description="The decision-sheet version being signed off")
    decision: Literal["approve", "return"]
    comments: Text | None = Field(None, max_length=LONG)
    capacity: Capacity | None = Field(
        None, description="Signing as the lead safeguarding partner or as its delegate (Working Together 2023)")


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
    bank holidays' names are never counted). See engine/case_view.py."""

    closure_days: list[date] = Field(default_factory=list)
    bank_holidays: list[date] | None = None  # None: the table built at import (cases from before their own)
    covers: tuple[date, date] | None = None
    added_bank_holidays: list[date] = Field(default_factory=list)


class PendingDocument(BaseModel):
    kind: str
    key: str


class StoredState(BaseModel):
    """The state query's answer at a step, less what is counted when it is read (engine/case_view.py): the
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
