"""How the pages say things: dates, names of roles, stages and actions, and deadlines (docs/content-style.md).

One place for the words people read, so no page shows a raw code (``csc_consultation``), an ISO date or a
negative count. Templates use these as filters (registered in ``service/web.py``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from workflows.vocabulary import AGENCIES, SEAT_NAMES

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
    "unborn": "Unborn",
}


def label(value: object) -> str:
    """A code as people say it: ``csc_consultation`` -> "CSC consultation", ``la`` -> "Local authority"."""
    if value is None:
        return ""
    code = str(value)
    if code in LABELS:
        return LABELS[code]
    if code in AGENCIES:
        return AGENCIES[code]
    words = [ACRONYMS.get(word, word) for word in code.replace("-", "_").split("_") if word]
    if not words:
        return ""
    first = words[0]
    return " ".join([first if first.isupper() else first[:1].upper() + first[1:], *words[1:]])


def and_list(values) -> str:
    """"Local authority, ICB and Police" from codes."""
    names = [label(v) for v in values]
    if len(names) <= 1:
        return "".join(names)
    return f"{', '.join(names[:-1])} and {names[-1]}"


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
