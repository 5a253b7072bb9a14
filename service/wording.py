"""How the pages say things: dates, names of roles, stages and actions, and deadlines (docs/content-style.md).

One place for the words people read, so no page shows a raw code (``csc_consultation``), an ISO date or a
negative count. Templates use these as filters (registered in ``service/web.py``).
"""

from __future__ import annotations

import json
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


# ---------------------------------------------------------------- the audit trail in words

# What an audit row's action means, as a verb phrase ("Sam Lee (Business unit) opened the case page").
AUDIT_VERBS = {
    "save_return_draft": "saved a draft of the agency's information return",
    "read_return_draft": "read the agency's draft information return",
    "read_case": "opened the case page",
    "read_timeline": "read the case timeline",
    "read_case_audit": "read the case's audit trail",
    "read_history": "read the engine history",
    "read_document": "opened a document",
    "read_information_returns": "read the agencies' information returns",
    "link_cases": "linked the case to another review",
    "agree_to_share_returns": "agreed, for their seat, to share agency returns with the linked review",
    "unlink_cases": "removed the link to another review",
    "read_case_links": "read the case's links to other reviews",
    "read_sar_account": "read the board's account of its Safeguarding Adults Reviews",
    "read_themes": "read the themes",
    "read_dashboard": "read the timeliness dashboard",
    "read_audit_log": "read the audit log",
    "list_cases": "looked at the list of cases",
    "list_tasks": "looked at their tasks",
    "list_referrals": "looked at their referrals",
    "read_referral": "read where their referral stands",
    "list_documents": "looked at the list of documents",
    "list_escalations": "read the escalation log",
    "list_action_plan": "read the action plan",
    "export_dashboard": "downloaded the timeliness figures",
    "export_tracker": "downloaded the case review tracker",
    "export_action_plan": "downloaded the action plan",
    "export_audit_log": "downloaded the audit log", "export_who_saw": "downloaded who saw the case",
    "decode_payloads": "decoded engine data",
    "decode_refused": "sent engine data that could not be decoded (changed, or not the service's)",
    "verify_audit_chain": "checked the audit chain",
    "sign_in": "signed in",
    "sign_in_failed": "tried to sign in with a wrong password",
    "sign_out": "signed out",
    "password_changed": "changed their password",
    "password_change_failed": "gave a wrong current password",
    "password_reset": "reset a password",
    "user_created": "created a user",
    "account_enabled": "enabled an account",
    "account_disabled": "disabled an account",
    "role_changed": "changed a user's role",
    "denied": "was refused a page or request",
    "engine_mismatch": "found the case's workflow changed outside the service (alerted)",
    "engine_mismatch_cleared": "found the case's workflow as the service started it again",
    "workflow_id_taken": "found a case's workflow id taken outside the service (alerted)",
    "escalation": "escalated a missed deadline",
    "reminder": "sent a reminder",
    "raise_escalation": "raised a concern to the Executive",
    "respond_escalation": "responded to a concern",
    "add_theme": "added a theme",
    "tag_theme": "tagged a theme",
    "untag_theme": "removed a theme",
    "issue_themes_sheet": "issued the themes sheet",
    "add_plan_action": "added an action to the action plan",
    "change_plan_action": "changed an action plan item",
    "sign_off_plan_action": "signed off an action plan item",
}
READ_PREFIXES = ("read_", "list_", "export_")
DENIED = "denied"  # a refused request (403/404 to a signed-in person): shown to auditors only
READ_ACTIONS = frozenset({"decode_payloads", "verify_audit_chain"})

# The fields of an audit row's detail shown in the log (short, about the process, never the case's own text);
# every other field is counted, and is in the JSON export.
AUDIT_FIELDS = {
    "stage": "Stage", "deadline": "Deadline", "due": "Due", "waiting_on": "Waiting on", "number": "Reminder",
    "page": "Page", "shown": "Items shown", "year": "Year", "version": "Version", "decision": "Decision",
    "status": "Status", "reason": "Reason", "include_reads": "With reads", "full": "Whole chain",
    "intact": "Chain intact", "rows": "Rows", "title": "Title", "group": "Group", "id": "Number",
    "recommendation": "Recommendation", "notified_on": "Notified on", "panel_date": "Panel date",
    "held_on": "Held on", "method": "Method", "path": "Address", "role": "Role", "seat": "Seat",
    "agency": "Agency", "kind": "Kind", "format": "Format", "from": "From", "to": "To", "person": "Person number",
    "show": "Show", "theme": "Theme",
    "invited_agencies": "Invited agencies", "decision_date": "Decision date", "submitted_on": "Submitted on",
}
ISO_DATE = re.compile(r"\b(\d{4}-\d{2}-\d{2})(?:[T ][0-9:.]+(?:Z|[+-]\d{2}:?\d{2})?)?\b")
CODE = re.compile(r"'?\b([a-z]+(?:_[a-z]+)+)\b'?")


def is_read(action: str) -> bool:
    """Reads (opening, listing, downloading), as against changes and refusals."""
    return action.startswith(READ_PREFIXES) or action in READ_ACTIONS


def audit_sentence(who: str, role: str, action: str, detail: dict | None = None) -> str:
    """One audit row as a sentence: "Sam Lee (Business unit) accepted the referral.", "Alex Lee (Executive)
    returned the decision sheet, version 1, to the chair."."""
    actor = who if role in ("system", "anonymous", "") else f"{who} ({label(role)})"
    if action.startswith("rejected:"):
        return sentence(f"{actor} was refused “{label(action.partition(':')[2])}”.")
    return sentence(f"{actor} {did(action, detail)}.")




def audit_value(name: str, value) -> str:
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, list):
        return and_list(value)
    if name == "waiting_on" and isinstance(value, str):
        return waiting_on(code.strip() for code in value.split(","))
    if name == "show" and value in ("all", "changes", "reads"):
        return {"all": "Everything", "changes": "Changes only", "reads": "Reads only"}[value]
    if name in ("stage", "deadline", "decision", "status", "recommendation", "role", "seat", "agency", "kind"):
        return label(value)
    return plain(value, as_sentence=False) if name != "path" else str(value)


def audit_details(detail: dict) -> tuple[list[tuple[str, str]], int]:
    """An audit row's detail as a short summary list of its known fields, and how many other fields it holds."""
    shown = [(AUDIT_FIELDS[name], audit_value(name, value)) for name, value in detail.items()
             if name in AUDIT_FIELDS and value not in (None, "", [], {})]
    return shown, sum(1 for name in detail if name not in AUDIT_FIELDS)


# ---------------------------------------------------------------- forms, messages and confirmations

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
# What a missing answer is called where "Enter the …" would read badly.
MISSING = {
    "invited_agencies": "Select at least one agency to invite", "attendees": "Enter who attended, one per line",
    "decision": "Select a decision", "recommendation": "Select the panel's recommendation",
    "age_band": "Select the child's age band", "referring_agency": "Select the referring agency",
    "involvement": "Enter your agency's involvement with the child and family",
    "chronology": "Enter your agency's chronology", "analysis": "Enter your agency's analysis",
    "delay_reason": "Enter the reason for the delay", "methods": "Select at least one method",
}
# The first word of the message when a field is missing: choices are selected, text is entered.
CHOICE_KINDS = frozenset({"radios", "checkboxes", "checkbox"})

# What the banner says after an action, and the word for it in the timeline.
DONE = {
    "link_cases": "Cases linked", "agree_to_share_returns": "Your seat's agreement to share is recorded",
    "unlink_cases": "Link removed",
    "submit_referral": "Referral submitted", "accept_referral": "Referral accepted",
    "decline_referral": "Referral declined", "propose_sin_decision": "Notification decision proposed",
    "respond_to_sin_proposal": "Your view on the notification decision is recorded",
    "resolve_sin_disagreement": "How the partners resolved the disagreement is recorded",
    "record_sin_decision": "Notification decision recorded", "record_notification": "Notification recorded",
    "convene_panel": "Panel convened", "submit_information_return": "Information return sent",
    "record_panel_outcome": "Panel outcome recorded", "issue_decision_sheet": "Decision sheet issued",
    "sign_off:approve": "Decision sheet approved", "sign_off:return": "Decision sheet returned to the chair",
    "record_submission": "Submission to the National Panel recorded", "close_case": "Case closed",
    "sign_off_report:approve": "Final report approved", "sign_off_report:return": "Final report returned",
    "choose_methodology": "Methodology chosen",
    "record_national_panel_response": "The National Panel's response is recorded",
    "proposed_to_partners": "Proposed to the three partners: it takes effect when all three agree",
    "upload_final_report": "Final report uploaded: name its number when you submit it for sign-off",
    "answer_joint_decision:agree": "Your agreement is recorded", "answer_review_decision:agree":
    "Your agreement is recorded", "answer_joint_decision:disagree": "Your disagreement is recorded: the proposal "
    "is not agreed", "answer_review_decision:disagree": "Your disagreement is recorded: the proposal is not agreed",
    "stop_local_cspr": "Local CSPR stopped", "reopen_case": "Case reopened",
    "upload_chronology": "Chronology attached: the panel reads it with your return",
    "return_draft_saved": "Draft saved: your return is not sent yet",
}

# After an action, each document its step issues: rendered after the answer, so it may not be listed yet.
BEING_PREPARED = "{title}: being prepared; it is listed under Documents when it is ready"


def done_title(done: str) -> str:
    """The banner's heading after an action: "Referral accepted"; an action without its own words: its name."""
    if done in DONE:
        return DONE[done]
    action, _, decision = done.partition(":")
    return f"{label(action)}: {'approved' if decision == 'approve' else 'returned' if decision else 'done'}"


def field_label(name: str) -> str:
    return FIELD_LABELS.get(name) or label(name)


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


def field_message(error: dict, name: str, kind: str) -> str:
    """One pydantic error as the GOV.UK pattern words it ("Enter the date of the panel")."""
    what = field_label(name)
    lower = what[:1].lower() + what[1:] if not what[:3].isupper() else what
    kind_of, context = error.get("type", ""), error.get("ctx") or {}
    if kind_of in ("missing", "string_too_short", "too_short") or kind_of.startswith("literal") or kind_of == "enum":
        if name in MISSING:
            return MISSING[name]
        the = "" if lower.startswith(("your ", "the ")) else "the "
        if kind in CHOICE_KINDS:
            return f"Select at least one option for {the}{lower}" if kind == "checkboxes" else f"Select {the}{lower}"
        return f"Enter {the}{lower}" if kind_of != "too_short" else f"Enter at least one line for {the}{lower}"
    if kind_of in ("string_too_long", "too_long"):
        limit = context.get("max_length")
        return f"{what} must be {limit} characters or fewer" if kind_of == "string_too_long" else \
            f"{what} can have no more than {limit} entries"
    if kind_of.startswith("date"):
        return f"{what} must be a real date"
    if kind_of.startswith("int"):
        return f"{what} must be a whole number"
    if kind_of == "value_error":
        reason = str(context.get("error") or error.get("msg", "")).removeprefix("Value error, ")
        return plain(reason[:1].upper() + reason[1:])
    return f"Check {lower}"


# What each case action did, in the past tense, after the person who took it ("… accepted the referral"). The
# timeline and the audit log say the outcome (approved or returned), never the command's name ("Sign off report").
DID = {
    "submit_referral": "submitted the referral", "accept_referral": "accepted the referral",
    "decline_referral": "declined the referral",
    "correct_awareness_date": "corrected the date the local authority became aware",
    "correct_referral": "corrected the referral's category and linked cases",
    "propose_sin_decision": "proposed the notification decision",
    "resolve_sin_disagreement": "recorded how the partners resolved their disagreement on the notification",
    "record_sin_decision": "recorded the notification decision",
    "record_notification": "recorded the notification to the National Panel",
    "convene_panel": "convened the panel", "submit_information_return": "sent an information return",
    "record_panel_outcome": "recorded the panel's outcome", "issue_decision_sheet": "issued the decision sheet",
    "record_submission": "recorded the submission to the National Panel",
    "record_national_panel_response": "recorded the National Panel's response",
    "reconsider_decision": "recorded the partners' answer to the National Panel",
    "choose_methodology": "recorded how the review will take place",
    "record_learning_activities": "recorded the learning to follow", "close_case": "closed the case",
    "agree_terms_of_reference": "agreed the terms of reference", "commission_reviewer": "commissioned the reviewer",
    "record_learning_event": "recorded a learning event", "submit_draft_report": "recorded the draft report",
    "submit_final_report": "recorded the final report",
    "send_publication_notice": "sent the notice of publication to the National Panel and DfE",
    "record_publication": "recorded the publication", "record_non_publication": "recorded the reasons not to publish",
    "record_learning_workshop": "recorded the learning workshop",
    "record_one_year_workshop": "recorded the workshop one year after publication",
    "extend_deadline": "agreed a revised target date for the review",
    "practice_review_started": "started the local CSPR", "practice_review_stopped": "stopped the local CSPR",
    "calendar_day_added": "recorded a day the partnership does not work",
    "stop_local_cspr": "stopped the local CSPR", "hold_publication": "held publication",
    "lift_publication_hold": "lifted the hold on publication", "revise_rapid_review": "revised the rapid review",
    "link_cdop_review": "linked the Child Death Overview Panel's review",
    "upload_final_report": "uploaded the reviewer's final report",
    "record_national_review_part": "recorded the partnership's part in the national review",
    "record_joint_review": "recorded the joint review with another partnership",
    "answer_joint_decision": "answered a proposal to the partners",
    "answer_review_decision": "answered a proposal to the partners",
    "upload_chronology": "attached the agency's chronology",
    "reopen_case": "reopened the case", "reopen_window_ended": "ended the time in which the case could be reopened",
}
# Actions the three partners decide together (engine/joint_decision.py): what a proposal of each proposes.
PROPOSED = {
    "close_case": "closing the case", "stop_local_cspr": "stopping the local CSPR",
    "reconsider_decision": "their answer to the National Panel", "record_learning_activities": "the learning to follow",
    "extend_deadline": "a revised target date for the review", "record_non_publication": "not publishing the report",
    "choose_methodology": "how the local CSPR takes place",
    "hold_publication": "holding publication", "lift_publication_hold": "lifting the hold on publication",
    "reopen_case": "reopening the case",
}
# The three-way sign-offs: what was signed, and where a return goes.
SIGNED = {"sign_off": ("the decision sheet", ", to the chair"), "sign_off_report": ("the final report", "")}


def person(name: str | None, role: str | None, *, seat: str | None = None, agency: str | None = None) -> str:
    """Who acted, once: "Alex Lee (Executive, Police seat)", "Sam Patel (Agency member, Education (schools))";
    the service itself as "The service"."""
    if not name or role in (None, "", "system", "anonymous"):
        return name or "The service"
    where = f", {label(seat)} seat" if seat else f", {label(agency)}" if agency else ""
    return f"{name} ({label(role)}{where})"


def did(action: str, detail: dict | str | None, *, version: int | None = None) -> str:
    """A case action's outcome in the past tense: "approved the decision sheet, version 2", "returned the final
    report, version 1", "was refused: convene panel". ``version``: the decision sheet's, where the row lacks it."""
    if isinstance(detail, str):
        try:
            detail = json.loads(detail)
        except ValueError:
            detail = {}
    detail = detail if isinstance(detail, dict) else {}
    if detail.get("proposed_to_partners") and action in PROPOSED:
        return f"proposed to the three partners {PROPOSED[action]} (proposal {detail['proposed_to_partners']})"
    if action in ("answer_joint_decision", "answer_review_decision") and detail.get("proposed_action"):
        view = "agreed to" if detail.get("view") == "agree" else "disagreed with"
        return f"{view} {PROPOSED.get(detail['proposed_action'], in_sentence(detail['proposed_action']))}"
    if action in SIGNED:
        thing, returned_to = SIGNED[action]
        numbered = f"{thing}, version {detail['version']}" if detail.get("version") else thing
        returned_to = returned_to if detail.get("version") else returned_to.lstrip(",")
        return f"approved {numbered}" if detail.get("decision") == "approve" else f"returned {numbered}{returned_to}"
    if action.startswith("rejected:"):
        return f"was refused: {in_sentence(action.split(':', 1)[1])}"
    if action == "respond_to_sin_proposal":
        agreed = "agreed with" if detail.get("view") == "agree" else "disagreed with"
        return f"{agreed} the notification decision proposed" + (
            f" (version {detail['version']})" if detail.get("version") else "")
    if action in ("propose_sin_decision", "record_sin_decision", "resolve_sin_disagreement") and detail.get(
            "decision"):
        outcome = "to notify" if detail["decision"] == "notify" else "not to notify"
        return f"{DID[action]}: {outcome} the National Panel"
    if action == "issue_decision_sheet" and version:
        return f"issued the decision sheet, version {version}"
    if action == "submit_information_return" and detail.get("agency"):
        return f"sent the information return of {label(detail['agency'])}"
    if action == "convene_panel" and detail.get("panel_date"):
        return f"convened the panel for {long_date(detail['panel_date'])}"
    if action == "record_panel_outcome" and detail.get("recommendation"):
        return f"recorded the panel's outcome: {in_sentence(detail['recommendation'])}"
    if action in ("reminder", "escalation") and detail.get("deadline"):
        return f"{AUDIT_VERBS[action]}: {in_sentence(detail['deadline'])}"
    if action in DID:
        return DID[action]
    return AUDIT_VERBS.get(action) or f"took the action “{label(action)}”"


def timeline_entry(action: str, detail: dict | str | None, *, actor: str = "The service",
                   version: int | None = None) -> str:
    """A timeline row as a sentence saying who did what and how it ended: "Alex Lee (Executive, Police seat)
    approved the decision sheet, version 2."."""
    return sentence(f"{actor} {did(action, detail, version=version)}.")


# A referral as its referrer follows it (service/referrals.py): where it stands, and what she can expect next.
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
