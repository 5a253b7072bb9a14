"""What each document kind is rendered from: one pydantic model per kind (its template's fields, typed).

The workflow builds the model, so a missing or mistyped field fails where it is made, in the workflow's types,
not in the Jinja render an activity attempts later. On the wire (and so in every stored history) a document's
context stays a plain dict: the model's JSON dump plus the letterhead (partnership, reference) the step builder
adds; the ``issue_document`` activity validates it against the kind's model again before it renders.
Dates travel as ISO strings and are rendered from the validated model (a date prints as its ISO string).
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict

from engine.models import SignOffRecord
from engine.vocabulary import DocumentKind, Recommendation


class DocumentContext(BaseModel):
    """A document's own fields; a field the template does not know is refused (a typo would be lost)."""

    # hide_input_in_errors: a refused context must not carry case text into the worker's log or the history.
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)


class Letterhead(BaseModel):
    """What every document carries, added by the step builder: whose partnership, which case."""

    model_config = ConfigDict(hide_input_in_errors=True)

    partnership: str
    reference: str


class ReferralAcknowledgement(DocumentContext):
    pseudonym: str
    age_band: str
    referring_agency: str
    incident_date: date
    awareness_date: date
    referrer: str
    received_on: date
    notification_due: date
    notification_days: int


class SinDecisionRecord(DocumentContext):
    """The notification decision: the three partners' (category and linked cases), or the CSC lead's alone in
    cases of the earlier process (without them)."""

    pseudonym: str
    decided_by: str
    decided_on: date
    police_view: str
    health_view: str
    decision: str
    rationale: str
    category: str | None = None
    linked_references: list[str] | None = None


class NoNotificationLetter(SinDecisionRecord):
    referrer: str
    referring_agency: str


class NotificationRecord(DocumentContext):
    pseudonym: str
    age_band: str
    incident_date: date
    awareness_date: date
    notified_on: date
    notification_reference: str
    summary: str
    notified_by: str
    rapid_review_due: date | None  # none when no rapid review follows
    sin_rationale: str
    category: str | None = None  # cases of the three-way decision only
    linked_references: list[str] | None = None


class InformationRequest(DocumentContext):
    agency: str
    agency_name: str
    due: date
    panel_date: date
    send_to: str
    research_questions: list[str]


class InformationReturnDocument(DocumentContext):
    agency: str
    agency_name: str
    submitted_by: str
    received_on: date
    involvement: str
    chronology: str
    analysis: str


class PanelInvitation(DocumentContext):
    pseudonym: str
    panel_date: date
    agencies: list[str]
    agency_codes: list[str]  # who is sent the invitation
    research_questions: list[str]
    chair: str


class DecisionSheet(DocumentContext):
    """The rapid review as the National Panel expects it: the decision sheet, its signed copy, the submission."""

    pseudonym: str
    age_band: str
    version: int
    agencies: list[str]
    circumstances: str
    immediate_actions: list[str]
    learning: str
    themes: list[str]
    recommendation: Recommendation | None
    rationale: str
    local_review_criteria_met: bool | None
    criteria_notes: str
    local_review_criteria: list[str]
    national_importance: bool
    national_review_criteria: list[str]
    notified_on: date | None
    panel_held_on: date
    attendees: list[str]
    sign_offs: list[SignOffRecord]
    sign_off_history: list[SignOffRecord]
    notification_reference: str | None
    partners_decision: Recommendation | None
    partners_decided_on: date | None
    child_sex: str | None
    child_ethnicity: str | None
    child_disability: str | None
    child_status: list[str]
    key_practice_episodes: list[str]
    parallel_processes: list[str]
    parallel_processes_notes: str
    voice_of_child_and_family: str
    family_told_of_review: str | None
    siblings_and_other_children: str
    incident_date: date | None = None
    awareness_date: date | None = None
    cdop_reference: str | None = None
    lead_partnership: str | None = None
    other_partnerships: list[str] = []
    panel_questions: list[str] = []  # the National Panel's questions answered in this version, with the answers
    panel_answers: list[str] = []
    child_outcome: str | None = None
    family_and_household: str = ""
    area: str = ""


class NationalPanelSubmission(DecisionSheet):
    submitted_on: date
    rapid_review_due: date
    rapid_review_rule: str


class SignOffRequest(DocumentContext):
    version: int
    due: date
    recommendation: Recommendation | None
    seats: list[str]


class TermsOfReference(DocumentContext):
    pseudonym: str
    scope: str
    research_questions: list[str]
    methods: list[str]
    reviewer: str
    lead: str
    agreed_on: date
    due: date
    months: int


class PublicationNotice(DocumentContext):
    pseudonym: str
    sent_on: date
    earliest_publication: date
    rule: str
    report_version: int
    recommendations: list[str]


class CsprDelayNotice(DocumentContext):
    pseudonym: str
    statutory_due: date
    revised_due: date
    reason: str
    agreed_by: str
    agreed_on: date
    months: int
    decided_on: date | None


class SevenMinuteBriefing(DocumentContext):
    """Shared with practitioners: the agreed learning and recommendations, never case detail."""

    pseudonym: str
    published_on: date
    report_published: bool
    link: str | None
    methods: list[str]
    key_learning: list[str]
    recommendations: list[str]


class ThemeRow(BaseModel):
    theme: str
    controlled: bool  # on the partnership's own list
    counts: dict[int, int]  # year -> cases
    total: int
    references: list[str]


class ThemesSheet(DocumentContext):
    """Across all cases (issued by the service, not a workflow): counts per theme and year."""

    years: list[int]
    rows: list[ThemeRow]
    year: int | None


class SarCriteriaView(BaseModel):
    seat: str  # the statutory member's name (Local authority, ...)
    by: str
    outcome: str  # in words
    reasons: str
    on: date


class SarCriteriaDecision(DocumentContext):
    """The Safeguarding Adults Board's decision whether the criteria for a SAR are met (Care Act 2014 s44): the
    three statutory members' views, each with its reasons, and the decision they agreed; the board's record of why
    it did, or did not, arrange a review."""

    pseudonym: str
    concern_date: date
    adult_died: bool
    decision: str  # in words
    decided_on: date
    views: list[SarCriteriaView]


CONTEXT_OF: dict[DocumentKind, type[DocumentContext]] = {
    DocumentKind.referral_acknowledgement: ReferralAcknowledgement,
    DocumentKind.sin_decision: SinDecisionRecord,
    DocumentKind.sar_criteria_decision: SarCriteriaDecision,
    DocumentKind.no_notification_letter: NoNotificationLetter,
    DocumentKind.notification_record: NotificationRecord,
    DocumentKind.information_request: InformationRequest,
    DocumentKind.information_return: InformationReturnDocument,
    DocumentKind.panel_invitation: PanelInvitation,
    DocumentKind.decision_sheet: DecisionSheet,
    DocumentKind.decision_sheet_signed: DecisionSheet,
    DocumentKind.sign_off_request: SignOffRequest,
    DocumentKind.national_panel_submission: NationalPanelSubmission,
    DocumentKind.terms_of_reference: TermsOfReference,
    DocumentKind.publication_notice: PublicationNotice,
    DocumentKind.cspr_delay_notice: CsprDelayNotice,
    DocumentKind.seven_minute_briefing: SevenMinuteBriefing,
    DocumentKind.themes_sheet: ThemesSheet,
}
assert set(CONTEXT_OF) == set(DocumentKind), "every document kind has its context model"


def wire_context(letterhead: Letterhead, context: DocumentContext) -> dict:
    """The dict a ``DocumentRequest`` carries: the letterhead and the document's fields, as JSON."""
    return {**letterhead.model_dump(), **context.model_dump(mode="json")}


def read_context(kind: DocumentKind, wire: dict) -> tuple[Letterhead, DocumentContext]:
    """The letterhead and the kind's model from a request's dict (raises pydantic's ValidationError, naming the
    field, when one is missing or wrong)."""
    letterhead = Letterhead.model_validate({name: wire.get(name) for name in Letterhead.model_fields})
    own = {name: value for name, value in wire.items() if name not in Letterhead.model_fields}
    return letterhead, CONTEXT_OF[kind].model_validate(own)
