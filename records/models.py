"""Database tables (one SQLModel class per table). The schema changes only through migrations."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import BigInteger, Column, DateTime, Index, Text, UniqueConstraint, text
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

from engine.vocabulary import TaskStatus
from records.vocabulary import EscalationStatus, OutboxStatus, PlanStatus, SignInStep


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """A timestamp stored as UTC and always read back timezone-aware (SQLite forgets the zone otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC)
            if dialect.name == "sqlite":
                value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


def ts_column(nullable: bool = False, index: bool = False) -> Column:
    """A timezone-aware timestamp column (stored as UTC)."""
    return Column(UTCDateTime(), nullable=nullable, index=index)


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


class EngineWatchMark(SQLModel, table=True):
    """When a service process last compared the engine's running case workflows with the cases on record and
    finished (service/platform/engine_watch.py): while that is recent, a read of a case trusts it instead of asking
    the engine about the case itself."""

    __tablename__ = "engine_watch_mark"

    name: str = Field(primary_key=True, max_length=200)  # the engine's address and namespace (engine_watch.mark_of)
    looked_at: datetime = Field(sa_column=ts_column())


class CaseRecord(SQLModel, table=True):
    """The read model of a case, kept current by the workflow's activities (lists never ask Temporal)."""

    __tablename__ = "case_record"

    reference: str = Field(primary_key=True, max_length=40)
    pseudonym: str = Field(max_length=60)
    stage: str = Field(max_length=40, index=True)
    opened_on: date = Field(index=True)
    year: int = Field(index=True)
    awareness_date: date
    notified_on: date | None = None
    rapid_review_due: date | None = None
    next_deadline_title: str | None = Field(default=None, max_length=200)
    next_deadline_due: date | None = Field(default=None, index=True)
    next_deadline_rule: str | None = Field(default=None, max_length=500)
    late: bool = Field(default=False, index=True)
    escalated: bool = False
    recommendation: str | None = Field(default=None, max_length=40)
    decision_sheet_version: int = 0
    submitted_on: date | None = None
    practice_review_stage: str | None = Field(default=None, max_length=40)
    closed_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    outcome: str | None = Field(default=None, max_length=500)
    stopped: bool = False  # the partners stopped its review (the record says "stopped", with why in the outcome)
    notification_due: date | None = None
    notification_reference: str | None = Field(default=None, max_length=60)
    panel_date: date | None = Field(default=None, index=True)
    referred_by: int | None = None
    referring_agency: str | None = Field(default=None, max_length=80)
    updated_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())
    # Set when the Temporal server answered that it has no workflow for this open case (an engine that lost
    # its state, or a different TEMPORAL_ADDRESS); cleared when the workflow answers again.
    workflow_missing_since: datetime | None = Field(default=None, sa_column=ts_column(nullable=True, index=True))
    # The run that opened the case: a second run under the same reference is refused (see case_step.py).
    workflow_run_id: str | None = Field(default=None, max_length=64)
    # Set when one of the case's steps (an activity) has failed EFFECT_ALERT_ATTEMPTS times and is still retried:
    # the step's name and the kind of error, never case text; cleared when the step succeeds.
    effect_failing: str | None = Field(default=None, max_length=300, index=True)
    effect_failing_since: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))
    # Set when the engine's description of the case's workflow is not what the service started (another run:
    # reset or started by someone else; terminated, cancelled or ended while the case is open): what was found,
    # never case text; alerted and audited (service/platform/engine_watch.py), cleared when the engine agrees again.
    engine_mismatch: str | None = Field(default=None, max_length=300, index=True)
    engine_mismatch_since: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))

    @property
    def orphaned(self) -> bool:
        return self.workflow_missing_since is not None


class CalendarDay(SQLModel, table=True):
    """A one-off bank holiday (a state funeral, a coronation) or a partnership closure day added by the business
    unit or an admin; running cases receive it, new cases find it in their calendar."""

    __tablename__ = "calendar_day"

    id: int | None = Field(default=None, primary_key=True)
    day: date = Field(index=True)
    kind: str = Field(max_length=20)  # bank_holiday | closure_day
    name: str = Field(max_length=200)
    added_by: int | None = Field(default=None, foreign_key="user.id")
    added_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())


class CaseAgency(SQLModel, table=True):
    """Which agencies are invited to a case (an agency member sees only these cases)."""

    __tablename__ = "case_agency"

    case_reference: str = Field(primary_key=True, max_length=40, foreign_key="case_record.reference")
    agency: str = Field(primary_key=True, max_length=80, index=True)


class InformationReturn(SQLModel, table=True):
    """An agency's information return for a case's panel, kept as a case record (written by the step that
    records it). An agency member reads only their own agency's (service/cases/visibility.py)."""

    __tablename__ = "information_return"
    __table_args__ = (UniqueConstraint("case_reference", "agency", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    case_reference: str = Field(max_length=40, index=True, foreign_key="case_record.reference")
    agency: str = Field(max_length=80)
    version: int = 1
    submitted_at: datetime = Field(sa_column=ts_column())
    submitted_by: int | None = None
    involvement: str = Field(sa_column=Column(Text, nullable=False))
    chronology: str = Field(sa_column=Column(Text, nullable=False))
    analysis: str = Field(sa_column=Column(Text, nullable=False))


class ReturnDraft(SQLModel, table=True):
    """An agency's information return as typed so far, before it is sent: one per case and agency, shared by that
    agency's members (service/cases/return_drafts.py), deleted in the same transaction as the return the workflow
    accepted (activities/case_step.py). Case content: never in the audit detail or the logs."""

    __tablename__ = "return_draft"

    case_reference: str = Field(primary_key=True, max_length=40, foreign_key="case_record.reference")
    agency: str = Field(primary_key=True, max_length=80)
    involvement: str = Field(default="", sa_column=Column(Text, nullable=False))
    chronology: str = Field(default="", sa_column=Column(Text, nullable=False))
    analysis: str = Field(default="", sa_column=Column(Text, nullable=False))
    saved_at: datetime = Field(sa_column=ts_column())
    saved_by: int  # the member who saved it last (user id)


class CaseTheme(SQLModel, table=True):
    """The themes a case's review raised (the themes sheet counts these)."""

    __tablename__ = "case_theme"

    case_reference: str = Field(primary_key=True, max_length=40, foreign_key="case_record.reference")
    theme: str = Field(primary_key=True, max_length=120, index=True)
    # Where the panel put it in its list (0 first): the case review tracker's themes 1-3 are the panel's first three.
    # None for a tag added by hand afterwards, which comes after the panel's.
    position: int | None = None


class Task(SQLModel, table=True):
    """Something a person must do, issued by a workflow step; inboxes and dashboards read this table."""

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=200, unique=True)
    case_reference: str = Field(max_length=40, index=True)
    kind: str = Field(max_length=40)
    title: str = Field(max_length=200)
    description: str = Field(sa_column=Column(Text, nullable=False))
    assignee_role: str = Field(max_length=40, index=True)
    assignee_agency: str | None = Field(default=None, max_length=80)
    assignee_seat: str | None = Field(default=None, max_length=20)
    assignee_user_id: int | None = None
    due_date: date | None = Field(default=None, index=True)
    status: str = Field(default=TaskStatus.open, max_length=20, index=True)
    action: str | None = Field(default=None, max_length=60)
    created_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())
    completed_at: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))
    completed_by: int | None = None
    outcome: str | None = Field(default=None, max_length=500)
    comment: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


# An audit row that records a change: not a read, a listing or a refused request (those are for auditors). Written
# as SQL text, the same in the index below and in the queries it serves, so both databases match them up.
CHANGE_ROWS = text("substr(action, 1, 5) NOT IN ('read_', 'list_') AND action <> 'denied'")


class AuditEvent(SQLModel, table=True):
    """Append-only audit trail. Each row carries the hash of the previous one (a hash chain), so an
    edit or a deletion anywhere is found by walking the chain. Rows are keyed (HMAC with a key kept out of
    the database, ``hash_kind`` "hmac-sha256") so that whoever can rewrite rows cannot recompute their
    hashes; rows written before keying began keep their plain SHA-256 ("sha256"). On PostgreSQL a
    trigger refuses UPDATE and DELETE (migration 0009)."""

    __tablename__ = "audit_event"
    # A case's changes without its reads: a much-read case's timeline reads only these (migration 0021).
    __table_args__ = (Index("ix_audit_event_case_changes", "case_reference", "id", sqlite_where=CHANGE_ROWS,
                            postgresql_where=CHANGE_ROWS),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_column=ts_column())
    actor_id: int | None = None
    actor_role: str = Field(max_length=40)
    action: str = Field(max_length=80)
    case_reference: str | None = Field(default=None, max_length=40, index=True)
    detail: str = Field(sa_column=Column(Text, nullable=False))
    request_id: str | None = Field(default=None, max_length=80)
    event_key: str | None = Field(default=None, max_length=200, unique=True)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)
    hash_kind: str = Field(max_length=16)


class AuditHead(SQLModel, table=True):
    """The end of the audit chain; updating it first serialises appends on SQLite and PostgreSQL alike."""

    __tablename__ = "audit_head"

    id: int = Field(default=1, primary_key=True)
    last_id: int = 0
    last_hash: str = Field(default="0" * 64, max_length=64)
    # HMAC of (last_id, last_hash) under the audit key: cutting rows off the end and moving the head back
    # needs the key. None only until the first keyed row or anchor.
    mac: str | None = Field(default=None, max_length=64)


class AuditCheckpoint(SQLModel, table=True):
    """The last row a verification walked to and found intact (signed with the audit key, so it cannot be
    moved past rows someone changed): routine verification starts here instead of at row 1."""

    __tablename__ = "audit_checkpoint"

    id: int = Field(default=1, primary_key=True)
    last_id: int
    last_hash: str = Field(max_length=64)
    verified_at: datetime = Field(sa_column=ts_column())
    mac: str = Field(max_length=64)


class AppliedStep(SQLModel, table=True):
    """Workflow steps whose effects are in the database: a retried activity finds its key and stops."""

    __tablename__ = "applied_step"

    key: str = Field(primary_key=True, max_length=200)
    applied_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())


class Document(SQLModel, table=True):
    """One issued version of a document: immutable, with the SHA-256 of each file."""

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=200, unique=True)
    case_reference: str = Field(max_length=40, index=True)
    kind: str = Field(max_length=60)
    title: str = Field(max_length=200)
    version: int
    html_path: str = Field(max_length=500)
    pdf_path: str = Field(max_length=500)
    html_sha256: str = Field(max_length=64)
    pdf_sha256: str = Field(max_length=64)
    # The Word copy of the documents people edit or forward (activities.documents.WORD_KINDS); None for others.
    docx_path: str | None = Field(default=None, max_length=500)
    docx_sha256: str | None = Field(default=None, max_length=64)
    issued_by: str = Field(max_length=200)
    issued_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())


class OutboxMessage(SQLModel, table=True):
    """An e-mail written in the same transaction as the step that caused it; a sender delivers it.
    Bodies carry the case reference, the task and a link, never the child's pseudonym or case content."""

    __tablename__ = "outbox_message"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=250, unique=True)
    case_reference: str | None = Field(default=None, max_length=40, index=True)
    to_address: str = Field(max_length=254)
    to_user_id: int | None = None
    subject: str = Field(max_length=250)
    body: str = Field(sa_column=Column(Text, nullable=False))
    ics: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    status: str = Field(default=OutboxStatus.pending, max_length=20, index=True)  # OutboxStatus
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())
    sent_at: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))
    # GOV.UK Notify: the notification id it gave, and the delivery status its receipts report
    # (created, sending, delivered, permanent-failure, ...). None for SMTP.
    provider_reference: str | None = Field(default=None, max_length=100, index=True)
    delivery_status: str | None = Field(default=None, max_length=40)
    # A sender holds a message it is sending by a lease (service/platform/outbox.py): its owner token and when it ends
    # unless renewed. Another sender takes the message only once the lease has ended.
    lease_owner: str | None = Field(default=None, max_length=40)
    lease_until: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))
    last_attempt_at: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))
    # The id the service gives the message, the same on every attempt: its SMTP Message-ID header, or the
    # reference sent with it to Notify. A message sent twice is recognisable as one by it.
    message_id: str | None = Field(default=None, max_length=250)


class ReferenceCounter(SQLModel, table=True):
    """The last case number given out in a year for one kind of review (RR-2026-007, SAR-2026-001): each prefix
    counts on its own, so a board's reviews are numbered 1, 2, 3 whatever the other kinds do."""

    __tablename__ = "reference_counter"

    prefix: str = Field(primary_key=True, max_length=6)
    year: int = Field(primary_key=True)
    last: int = 0


class HistoryArchive(SQLModel, table=True):
    """The decoded Temporal event history of a workflow, kept so auditors still have it after Temporal's
    retention has deleted it. One row per workflow, replaced only by a longer history."""

    __tablename__ = "history_archive"

    workflow_id: str = Field(primary_key=True, max_length=60)
    case_reference: str = Field(max_length=40, index=True)
    event_count: int
    events_json: str = Field(sa_column=Column(Text, nullable=False))
    sha256: str = Field(max_length=64)
    archived_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())
    complete: bool = False  # the history ends with the workflow's close: nothing more will be added


class IdempotentRequest(SQLModel, table=True):
    """A request sent with an Idempotency-Key: a retry finds it and gets the first answer, not a second effect."""

    __tablename__ = "idempotent_request"

    user_id: int = Field(primary_key=True)
    key: str = Field(primary_key=True, max_length=120)
    fingerprint: str = Field(max_length=64)  # SHA-256 of method, path and body
    # The case a referral's key starts: given to one key only, so no two keys ever share a case
    case_reference: str | None = Field(default=None, max_length=40, unique=True, index=True)
    status_code: int | None = None  # None while the first attempt is still in flight
    response_json: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=ts_column(index=True))


class SignInFailure(SQLModel, table=True):
    """A failed sign-in (or one being checked): the failures of one username, and of one client address, in a
    window decide how long the next attempt must wait (service.accounts.auth.SignInBackoff)."""

    __tablename__ = "sign_in_failure"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=80, index=True)
    address: str = Field(default="", max_length=64, index=True)
    at: datetime = Field(default_factory=utcnow, sa_column=ts_column(index=True))
    step: str = Field(default=SignInStep.password, max_length=20)  # records.vocabulary.SignInStep


class UserSession(SQLModel, table=True):
    """A signed-in session (a browser's cookie or an API client's bearer token). The token itself is never
    stored, only its SHA-256: a copy of the database cannot be used to act as anyone. Deleting the row
    revokes the token (sign-out; password change, reset or disable delete every row of the user)."""

    __tablename__ = "user_session"

    token_hash: str = Field(primary_key=True, max_length=64)
    user_id: int = Field(foreign_key="user.id", index=True)
    kind: str = Field(max_length=10)  # SessionKind: cookie or bearer
    created_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())
    # Written at most once a minute per session (service.accounts.auth.LAST_SEEN_EVERY): the idle timeout reads it.
    last_seen_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())
    # The sign-in passed a second factor: a code here, or the partner organisation's own sign-in. A role that needs
    # one never rides on a session that did not (service.accounts.auth.session_user).
    second_factor: bool = Field(default=False)


class CaseReview(SQLModel, table=True):
    """The read model of a case's local CSPR, from the practice review's steps."""

    __tablename__ = "case_review"

    case_reference: str = Field(primary_key=True, max_length=40, foreign_key="case_record.reference")
    stage: str = Field(max_length=40)
    decided_on: date = Field(index=True)
    due: date | None = Field(default=None, index=True)
    methods_json: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    late: bool = False
    recommendations_json: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    published_on: date | None = Field(default=None, index=True)
    publication_link: str | None = Field(default=None, max_length=500)
    not_published_reasons: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    completed_on: date | None = Field(default=None, index=True)  # published, or its improvements published
    updated_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())


class StageEntry(SQLModel, table=True):
    """When a case (or its review) entered each stage: the timeliness dashboard's medians come from here."""

    __tablename__ = "stage_entry"

    id: int | None = Field(default=None, primary_key=True)
    case_reference: str = Field(max_length=40, index=True)
    process: str = Field(max_length=20)  # "case" or "review"
    stage: str = Field(max_length=40)
    entered_on: date = Field(index=True)  # London date
    step_key: str = Field(max_length=200, unique=True)


class PlanAction(SQLModel, table=True):
    """One action of the partnership's single action plan (from panels, CSPR reports, or added by hand)."""

    __tablename__ = "plan_action"

    id: int | None = Field(default=None, primary_key=True)
    source_key: str | None = Field(default=None, max_length=200, unique=True)  # idempotency for raised actions
    case_reference: str | None = Field(default=None, max_length=40, index=True)
    source: str = Field(max_length=40)  # panel_immediate_action, cspr_recommendation, manual
    description: str = Field(sa_column=Column(Text, nullable=False))
    owner_agency: str | None = Field(default=None, max_length=80, index=True)
    owner_name: str | None = Field(default=None, max_length=120)  # the person in the agency who answers for it
    due_date: date = Field(index=True)
    status: str = Field(default=PlanStatus.open, max_length=20, index=True)  # PlanStatus
    evidence: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    completed_on: date | None = None
    signed_off_by: int | None = None
    signed_off_on: date | None = None
    created_by: int | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())


class Theme(SQLModel, table=True):
    """A theme the partnership added to the controlled list."""

    name: str = Field(primary_key=True, max_length=120)
    added_by: int | None = None
    added_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())


class Escalation(SQLModel, table=True):
    """A strategic concern raised by a group to the Executive, and the Executive's response."""

    id: int | None = Field(default=None, primary_key=True)
    raised_by: int
    group_name: str = Field(max_length=120)
    title: str = Field(max_length=200)
    concern: str = Field(sa_column=Column(Text, nullable=False))
    case_reference: str | None = Field(default=None, max_length=40)
    raised_on: date = Field(index=True)
    status: str = Field(default=EscalationStatus.open, max_length=20, index=True)  # EscalationStatus
    response: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    response_action: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    responded_by: int | None = None
    responded_on: date | None = None


class JobRun(SQLModel, table=True):
    """One run of a scheduled job for one period: the unique key makes it run once across processes."""

    __tablename__ = "job_run"

    job: str = Field(primary_key=True, max_length=60)
    period: str = Field(primary_key=True, max_length=40)  # e.g. the London date of a daily job
    holder: str = Field(max_length=120)
    started_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())
    finished_at: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))
    result: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class UserIdentity(SQLModel, table=True):
    """An identity at a partner's own OpenID Connect issuer, linked to one user by an admin (or on first sign-in by
    an e-mail address the issuer verified, where that issuer's settings allow it). The link is by the issuer's
    stable subject, never by a name: who the person is here (role, agency, seat) stays the service's decision."""

    __tablename__ = "user_identity"
    __table_args__ = (UniqueConstraint("issuer", "subject", name="uq_user_identity_issuer_subject"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    issuer: str = Field(max_length=80)  # the configured issuer's name (OidcIssuer.name)
    subject: str = Field(max_length=255)
    linked_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())
    last_used_at: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))


class UserMfa(SQLModel, table=True):
    """A local account's TOTP secret (encrypted under the service's secret key), confirmed once the person has
    typed a code from it. ``last_step`` is the last 30-second step accepted: a code is good once."""

    __tablename__ = "user_mfa"

    user_id: int = Field(foreign_key="user.id", primary_key=True)
    secret_encrypted: str = Field(max_length=300)
    confirmed_at: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))
    last_step: int = Field(default=0, sa_type=BigInteger)


class RecoveryCode(SQLModel, table=True):
    """A single-use code for a person who has lost their authenticator; only its hash is kept."""

    __tablename__ = "recovery_code"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    code_hash: str = Field(max_length=64)
    used_at: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))


class CaseLink(SQLModel, table=True):
    """Two cases of different review types raised by one incident (a care leaver's death that is a rapid review and a
    Safeguarding Adults Review), linked by the business unit with its reason (service/cases/case_links.py). Where the
    three statutory partners agreed to share (sharing proposed: ``sharing_seats`` not null, the seats whose executive
    agreed so far; in force when all three have; ``sharing_decision`` where it was discussed), an agency's information
    return on the rapid review is read on the SAR: one return, not two copies."""

    __tablename__ = "case_link"
    __table_args__ = (UniqueConstraint("case_reference", "linked_reference"),)

    id: int | None = Field(default=None, primary_key=True)
    case_reference: str = Field(max_length=40, index=True, foreign_key="case_record.reference")
    linked_reference: str = Field(max_length=40, index=True, foreign_key="case_record.reference")
    reason: str = Field(sa_column=Column(Text, nullable=False))
    linked_by: int = Field(foreign_key="user.id")
    linked_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())
    sharing_seats: str | None = Field(default=None, max_length=40)  # "icb,la" so far; "icb,la,police": in force
    sharing_decision: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class CaseStateView(SQLModel, table=True):
    """A case's (or its practice review's) state as its workflow's state query answers it, stored by the step that
    changed it (workflows since patch "state-in-step"): the state is read from here, not queried
    (records/case_states.py, engine/case_view.py). Case content: never in the audit detail or the logs."""

    __tablename__ = "case_state_view"

    workflow_id: str = Field(primary_key=True, max_length=60)  # the case's, or its practice review's
    case_reference: str = Field(max_length=40, foreign_key="case_record.reference", index=True)
    stored: str = Field(sa_column=Column(Text, nullable=False))  # a StoredState as JSON
    step_at: datetime = Field(sa_column=ts_column())
