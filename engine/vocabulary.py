"""The shared words of API, UI and workflow (from the domain brief): roles, seats, stages, choices.

Pure constants only, so the deterministic workflow code and the service can both import them.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    business_unit = "business_unit"
    panel_chair = "panel_chair"
    csc_lead = "csc_lead"
    agency_member = "agency_member"
    executive = "executive"
    auditor = "auditor"
    admin = "admin"


# Who reads case content, and who acts on cases (admins run the service and read neither).
CASE_READERS = (Role.business_unit, Role.panel_chair, Role.csc_lead, Role.agency_member, Role.executive,
                Role.auditor)
CASE_ACTORS = (Role.business_unit, Role.panel_chair, Role.csc_lead, Role.agency_member, Role.executive)


class Seat(StrEnum):
    """The three statutory safeguarding partners, one Executive seat each."""

    la = "la"
    icb = "icb"
    police = "police"


SEAT_NAMES = {
    Seat.la: "Local authority",
    Seat.icb: "Integrated Care Board",
    Seat.police: "Police",
}


class Stage(StrEnum):
    referral = "referral"
    csc_consultation = "csc_consultation"
    notification = "notification"
    panel_preparation = "panel_preparation"
    panel = "panel"
    decision_sheet = "decision_sheet"
    executive_sign_off = "executive_sign_off"
    national_panel = "national_panel"
    methodology = "methodology"
    practice_review = "practice_review"
    closed = "closed"

# Where an agency's information return may be sent (the workflow's rule), and so its draft and chronology kept.
RETURN_STAGES = frozenset({Stage.panel_preparation, Stage.panel})


class ReviewStage(StrEnum):
    """The stages of a local CSPR (the case's child workflow); it closes as a case does."""

    terms_of_reference = "terms_of_reference"
    commissioning = "commissioning"
    learning_events = "learning_events"
    draft_report = "draft_report"
    final_sign_off = "final_sign_off"
    publication_notice = "publication_notice"
    publication = "publication"
    learning_workshop = "learning_workshop"
    one_year_on = "one_year_on"
    closed = Stage.closed.value


class TaskKind(StrEnum):
    decision = "decision"
    action = "action"
    information_return = "information_return"
    sign_off = "sign_off"
    reminder = "reminder"
    escalation = "escalation"


class TaskStatus(StrEnum):
    open = "open"
    done = "done"
    cancelled = "cancelled"


class Urgency(StrEnum):
    """How pressing an open task is, counted in working days (records/tasks.py decides)."""

    overdue = "overdue"
    due_soon = "due_soon"
    on_track = "on_track"


class DeadlineStatus(StrEnum):
    open = "open"
    met = "met"
    missed = "missed"
    cancelled = "cancelled"


class ClockKind(StrEnum):
    """How a working-day deadline counts: statutory clocks skip bank holidays only, local ones closure days too."""

    statutory = "statutory"
    local = "local"


class CalendarDayKind(StrEnum):
    bank_holiday = "bank_holiday"
    closure_day = "closure_day"


class DocumentKind(StrEnum):
    """Each kind has its template and its context model (engine/documents.py). An agency's information
    request or return is issued as ``<kind>_<agency>``, one per agency."""

    referral_acknowledgement = "referral_acknowledgement"
    sin_decision = "sin_decision"
    no_notification_letter = "no_notification_letter"
    notification_record = "notification_record"
    information_request = "information_request"
    information_return = "information_return"
    panel_invitation = "panel_invitation"
    decision_sheet = "decision_sheet"
    decision_sheet_signed = "decision_sheet_signed"
    sign_off_request = "sign_off_request"
    national_panel_submission = "national_panel_submission"
    terms_of_reference = "terms_of_reference"
    publication_notice = "publication_notice"
    cspr_delay_notice = "cspr_delay_notice"
    seven_minute_briefing = "seven_minute_briefing"
    themes_sheet = "themes_sheet"
    sar_criteria_decision = "sar_criteria_decision"  # the Safeguarding Adults Review's


class Recommendation(StrEnum):
    no_further_review = "no_further_review"
    local_cspr = "local_cspr"
    national_review_referral = "national_review_referral"


class Method(StrEnum):
    """How the Executive may decide a review takes place (one or more)."""

    single_agency_audit = "single_agency_audit"
    multi_agency_audit = "multi_agency_audit"
    partner_led_workshop = "partner_led_workshop"
    independent_reviewer_workshop = "independent_reviewer_workshop"
    partner_authored_report = "partner_authored_report"
    independent_reviewer_report = "independent_reviewer_report"
    strategy_manager_report = "strategy_manager_report"
    family_engagement = "family_engagement"
    children_young_people_workshop = "children_young_people_workshop"
    children_young_people_outreach = "children_young_people_outreach"


THEMES = (
    "infant safety (incl. unsafe sleeping)",
    "neglect",
    "domestic abuse",
    "overcrowding and housing",
    "physical abuse",
    "premature step-down and threshold decisions",
    "missing from education",
    "multiple physical health concerns",
    "vulnerable mothers (incl. care leavers and survivors of exploitation)",
    "cultural competence",
    "professional curiosity",
    "interpreters and advocates",
    "record keeping",
)

# Partner agencies of the demo partnership: code -> name. A real partnership keeps its own list.
AGENCIES = {
    "csc": "Children's Social Care",
    "police": "Police",
    "icb": "Integrated Care Board",
    "acute_trust": "Acute hospital trust",
    "community_health": "Community health (health visiting, school nursing)",
    "gp": "GP care group",
    "education": "Education (schools)",
    "housing": "Housing",
    "probation": "Probation Service",
    "voluntary": "Voluntary sector",
}

# ---------------------------------------------------------------- what the rapid review reports to the National Panel
# Wording from the regulations themselves (SI 2018/789); the letters are what a decision sheet records.

REG_11_CRITERIA = {  # local review criteria the safeguarding partners take into account (reg. 11)
    "a": "highlights or may highlight improvements needed to safeguard and promote the welfare of children, "
         "including where those improvements have been previously identified",
    "b": "highlights or may highlight recurrent themes in the safeguarding and promotion of the welfare of children",
    "c": "highlights or may highlight concerns regarding two or more agencies working together effectively to "
         "safeguard and promote the welfare of children",
    "d": "is one which the Child Safeguarding Practice Review Panel have considered and concluded a local review "
         "may be more appropriate",
}
NATIONAL_REVIEW_CRITERIA = {  # criteria the National Panel takes into account for a national review (reg. 3)
    "a": "highlights or may highlight improvements needed to safeguard and promote the welfare of children, "
         "including where those improvements have been previously identified",
    "b": "raises or may raise issues requiring legislative change or changes to guidance issued under or further "
         "to any enactment",
    "c": "highlights or may highlight recurrent themes in the safeguarding and promotion of the welfare of children",
}
CHILD_STATUSES = {
    "looked_after": "Looked after by a local authority",
    "care_leaver": "Care leaver",
    "child_protection_plan": "Subject of a child protection plan",
    "child_in_need": "Child in need (Children Act 1989 s17)",
}
CHILD_SEXES = {"female": "Female", "male": "Male", "not_known": "Not known"}
PARALLEL_PROCESSES = {
    "police_investigation": "Police investigation",
    "criminal_proceedings": "Criminal proceedings",
    "inquest": "Coroner's inquest",
    "child_death_review": "Child death review",
    "other_review": "Another review (e.g. domestic homicide review, safeguarding adult review, single-agency "
                    "investigation)",
}
FAMILY_TOLD = {"yes": "Yes", "not_yet": "Not yet", "no": "No (reasons recorded)"}
# Working Together 2023, ch. 2: the lead safeguarding partner heads each partner organisation and may delegate
# its functions to a delegated safeguarding partner.
CAPACITIES = {"lead": "Lead safeguarding partner", "delegated": "Delegated safeguarding partner"}


# A case's practice review is its own workflow, with the case reference and this suffix as its id.
PRACTICE_REVIEW_SUFFIX = "-cspr"


def practice_review_id(reference: str) -> str:
    return f"{reference}{PRACTICE_REVIEW_SUFFIX}"


def case_reference_of(workflow_id: str) -> str:
    """The case a workflow belongs to (its own id, or its practice review's)."""
    return workflow_id.removesuffix(PRACTICE_REVIEW_SUFFIX)
