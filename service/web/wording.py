"""How the pages say things: the audit trail, forms and their messages, what an action did, in words
(docs/content-style.md).

The words every reader meets (codes as labels, dates, deadlines, a referral's status) are records/wording.py's,
shared with the documents and the e-mails the records send; they are named here too so a page, and the
templates' filters (registered in ``service/web/pages.py``), use one module for all the words they show.
"""

from __future__ import annotations

import json

from records.wording import (  # noqa: F401 - the shared words, for the pages
    ISO_DATE,
    REFERRAL_NEXT,
    REFERRAL_STATUS,
    age_band,
    and_list,
    date_and_time,
    deadline_tag,
    due_in,
    field_label,
    in_sentence,
    label,
    long_date,
    plain,
    sentence,
    waiting_on,
    working_days,
)

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
