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


STAGE_ORDER = list(Stage)


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
