"""The words people read, wherever they read them: codes as labels, dates, deadlines and machine-made messages
in words, and where a referral stands (docs/content-style.md). The documents the worker issues, the e-mails the
records send and the pages (service/web/wording.py adds their own words) all say things the same way, so no reader meets
a raw code (``csc_consultation``), an ISO date or a negative count.
"""

from __future__ import annotations

import re
import typing
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from engine.registry import REVIEW_TYPES
from engine.vocabulary import AGENCIES, SEAT_NAMES
from reviews.rapid_review.models import Referral

LONDON = ZoneInfo("Europe/London")

# Words kept as people write them when a code is turned into a phrase.
ACRONYMS = {"csc": "CSC", "cspr": "CSPR", "sin": "SIN", "icb": "ICB", "bu": "BU", "gp": "GP", "lscp": "LSCP",
            "csr": "CSR", "id": "ID", "pdf": "PDF", "ics": "ICS", "nhs": "NHS", "la": "LA", "rr": "RR"}

# Codes whose sentence-case reading is not what people say.
LABELS = {
    # roles
    "business_unit": "Business unit",
    "panel_chair": "Panel chair",
    "csc_lead": "CSC lead",
    "agency_member": "Agency member",
    "executive": "Executive",
    "auditor": "Auditor",
    "admin": "Administrator",
    # stages
    "csc_consultation": "CSC consultation",
    "executive_sign_off": "Executive sign-off",
    "national_panel": "National Panel",
    "practice_review": "Practice review",
    "panel_preparation": "Panel preparation",
    "decision_sheet": "Decision sheet",
    # seats (the three statutory partners)
    **{str(seat): name for seat, name in SEAT_NAMES.items()},
    # actions that read badly word by word
    "record_sin_decision": "Record the serious incident notification decision",
    "sign_off": "Sign off",
    "serious_harm_or_death": "Serious harm or death",
    "no_further_review": "No further review",
    "local_cspr": "Local child safeguarding practice review",
    "national_review_referral": "Refer for a national review",
    # how a review takes place (the partnership's own list, domain.md)
    "single_agency_audit": "Single agency audit and assurance", "multi_agency_audit": "Multi-agency audit",
    "partner_led_workshop": "Partner-led workshop",
    "independent_reviewer_workshop": "Commissioned independent-reviewer-led workshop",
    "partner_authored_report": "Partner-authored report",
    "independent_reviewer_report": "Commissioned independent reviewer report",
    "strategy_manager_report": "Strategy Manager report", "family_engagement": "Family and/or child engagement",
    "children_young_people_workshop": "Children and young people workshop",
    "children_young_people_outreach": "Children and young people outreach activities",
}


def label(value: object) -> str:
    """A code as people say it: ``csc_consultation`` -> "CSC consultation", ``la`` -> "Local authority"."""
    if value is None:
        return ""
    code = str(value)
    if code in LABELS:
        return LABELS[code]
    if (own := REVIEW_TYPES.word(code)) is not None:  # a review type's own words for its stages and actions
        return own
    if code in AGENCIES:
        return AGENCIES[code]
    words = [ACRONYMS.get(word, word) for word in code.replace("-", "_").split("_") if word]
    if not words:
        return ""
    first = words[0]
    return " ".join([first if first.isupper() else first[:1].upper() + first[1:], *words[1:]])


def band_in_words(band: str) -> str:
    """An age band as people say it: "1-4" -> "1 to 4 years", "under 1" -> "Under 1 year"."""
    if band in ("unborn", "under 1"):
        return {"unborn": "Unborn", "under 1": "Under 1 year"}[band]
    years, _, note = band.partition(" ")
    low, _, high = years.partition("-")
    return f"{low} to {high} years{' ' + note if note else ''}"


# A child's age is shown as the band recorded, never an age (the form's choices, the case page, the documents).
LABELS.update({band: band_in_words(band) for band in typing.get_args(Referral.model_fields["age_band"].annotation)})


def age_band(band: str | None) -> str:
    return label(band)


def and_list(values) -> str:
    """"Local authority, ICB and Police" from codes."""
    names = [label(v) for v in values]
    if len(names) <= 1:
        return "".join(names)
    return f"{', '.join(names[:-1])} and {names[-1]}"


ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")  # a date as the machine keeps it: 2026-12-05
# A three-way sign-off's two answers, as a document and the timeline say them.
SIGN_OFF_DECISIONS = {"approve": "Approved", "return": "Returned with comments"}


def long_date(value: date | datetime | str | None) -> str:
    """Dates as GOV.UK writes them: "2 December 2026" (a datetime is taken in Europe/London)."""
    if value in (None, ""):
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00")) if "T" in value else date.fromisoformat(value)
    if isinstance(value, datetime):
        value = (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(LONDON).date()
    return f"{value.day} {value:%B %Y}"


def date_and_time(moment: datetime | str | None) -> str:
    """A moment in Europe/London: "2 December 2026 at 11:36am"."""
    if moment in (None, ""):
        return ""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    local = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(LONDON)
    hour = local.hour % 12 or 12
    return f"{local.day} {local:%B %Y} at {hour}:{local:%M}{'am' if local.hour < 12 else 'pm'}"


def working_days(count: int) -> str:
    return f"{count} working day{'' if count == 1 else 's'}"


def due_in(working_days_left: int | None) -> str:
    """A deadline in words, never a negative count: "Overdue by 9 working days", "Due today"."""
    if working_days_left is None:
        return ""
    if working_days_left < 0:
        return f"Overdue by {working_days(-working_days_left)}"
    if working_days_left == 0:
        return "Due today"
    return f"Due in {working_days(working_days_left)}"


def deadline_tag(working_days_left: int | None, due_soon_within: int = 5) -> tuple[str, str]:
    """A deadline's tag, in words first and colour second: ("Overdue", "red"), ("Due soon", "amber"),
    ("On track", "green"); ("", "grey") when there is no open deadline."""
    if working_days_left is None:
        return "", "grey"
    if working_days_left < 0:
        return "Overdue", "red"
    if working_days_left <= due_soon_within:
        return "Due soon", "amber"
    return "On track", "green"


def waiting_on(codes) -> str:
    """Who a case waits on, as people say it: "Business unit", "Local authority, Integrated Care Board and Police".
    Repeats are dropped, the order kept."""
    return and_list(dict.fromkeys(code for code in codes if code))


def sentence(text: str | None) -> str:
    """A phrase with a capital first letter and nothing else changed ("sign off" -> "Sign off")."""
    text = (text or "").strip()
    return text[:1].upper() + text[1:]



# A machine-made message's ISO dates and codes (plain).
ISO_DATE = re.compile(r"\b(\d{4}-\d{2}-\d{2})(?:[T ][0-9:.]+(?:Z|[+-]\d{2}:?\d{2})?)?\b")
CODE = re.compile(r"'?\b([a-z]+(?:_[a-z]+)+)\b'?")


def plain(text, *, as_sentence: bool = True) -> str:
    """A machine-made message (the workflow's, the service's) said for people: ISO dates as "2 December 2026" and
    codes in words: inside a sentence ("convene panel", "CSC consultation"), which it then is, or, with
    ``as_sentence=False``, as their labels (a value in a summary list)."""
    if text is None or text == "":
        return ""
    text = ISO_DATE.sub(lambda found: long_date(found.group(1)), str(text))
    if not as_sentence:
        return CODE.sub(lambda found: label(found.group(1)), text)
    return sentence(CODE.sub(lambda found: in_sentence(found.group(1)), text))


def in_sentence(code: str) -> str:
    """A code's label inside a sentence: "convene panel", "CSC consultation" (acronyms and names kept)."""
    words = label(code)
    first = words.split(" ", 1)[0]
    if first.isupper() or code in AGENCIES or code in SEAT_NAMES:
        return words
    return words[:1].lower() + words[1:]


# A referral as its referrer follows it (service/cases/referrals.py): where it stands, and what she can expect next.
REFERRAL_STATUS = {"waiting": "Waiting for a decision", "accepted": "Accepted", "declined": "Declined",
                   "closed": "Closed"}
REFERRAL_NEXT = {
    "waiting": "The business unit reads your referral and decides whether to accept it for a rapid review. Its "
               "decision will show here.",
    "accepted": "The business unit accepted your referral. Children's Social Care consult the police and health, then "
                "the safeguarding partners decide whether to notify the National Panel. If your agency's information "
                "is needed, your agency is asked for it and the request shows in My tasks.",
    "declined": "The business unit declined your referral. If you want to know why, contact the business unit.",
    "closed": "The case is closed. Nothing more is needed from you.",
}


# Field names whose generated label ("Panel date") is not what the question asks.
FIELD_LABELS = {
    "panel_date": "Date of the panel", "invited_agencies": "Agencies to invite", "held_on": "Date the panel met",
    "notified_on": "Date notified", "received_on": "Date received", "submitted_on": "Date submitted",
    "decided_on": "Date decided", "awareness_date": "Date the local authority became aware",
    "incident_date": "Date of the incident", "involvement": "Involvement with the child and family",
    "delay_reason": "Reason for the delay", "view": "Your view", "panel_view": "The National Panel's view",
    "report_document": "The uploaded final report (its number)",
    "how_resolved": "How the disagreement was resolved", "comments": "Comments", "capacity": "Signing as",
}


def field_label(name: str) -> str:
    return FIELD_LABELS.get(name) or label(name)
