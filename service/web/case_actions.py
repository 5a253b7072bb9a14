"""What a person is offered on a case page: the actions open to her now, in her seat, and each one's form, title,
warning and prefilled answers (built from the action's model by ``service/web/forms.py``)."""

from __future__ import annotations

from datetime import UTC, datetime

from activities.documents import document_title
from engine.calendar import london_date
from engine.vocabulary import (
    AGENCIES,
    SEAT_NAMES,
    Role,
    Seat,
    Stage,
)
from records.models import CaseRecord, User
from reviews.rapid_review.workflow import RapidReviewWorkflow
from reviews.review_types import REVIEW_TYPES
from service.cases.case_service import ACTIONS, CaseService
from service.cases.next_steps import waiting_on
from service.cases.references import type_of
from service.web import wording
from service.web.decision_sheet import sheet_fields, sheet_sections
from service.web.forms import (
    FormField,
    delay_field,
    form_fields,
)

# Corrections and decisions outside the main path: behind "Corrections and other decisions", after the main task.
SECONDARY = frozenset({"correct_referral", "correct_awareness_date", "link_cdop_review", "record_joint_review",
                       "close_case", "stop_local_cspr", "extend_deadline", "hold_publication",
                       "record_national_review_part"})
APPROVER_PAGES = ("/sign-off", "/report-sign-off")  # the pages an Executive approves from (with a declaration)
# The review's stages where the business unit uploads the reviewer's report (a draft settled, or a revision).
REPORT_STAGES = frozenset({"learning_events", "draft_report", "final_sign_off", "publication_notice", "publication"})
CONFIRM_FIRST = {"decline_referral": "Decline the referral", "close_case": "Close the case",
                 "stop_local_cspr": "Stop the local CSPR",
                 "record_one_year_workshop": "Record the one-year-on workshop: the review and the case close"}
JOINT_ACTIONS = frozenset({"close_case", "stop_local_cspr"})  # on the confirm page: done at once, or proposed?
# Checked before sending: the page's heading and its button.
CHECK_ANSWERS = {"issue_decision_sheet": ("Check your answers before issuing the decision sheet",
                                          "Issue to the three Executives"),
                 "submit_information_return": ("Check your agency's return before you send it", "Send the return")}
# The approver's own page asks for a sign-off; the service itself counts a shared return (service/cases/case_links.py).
NOT_ON_CASE_PAGE = frozenset({"sign_off", "use_shared_return"})
SIGN_OFFS = frozenset({"sign_off", "sign_off_report"})  # returning needs comments


# A seat's answer to a decision proposed to the partners: the case's, or its review's (engine/joint_decision.py).
JOINT_ANSWERS = {"answer_joint_decision": False, "answer_review_decision": True}


def proposal_to_answer(name: str, state: dict, user: User) -> dict | None:
    """The open proposal this user's seat has yet to answer, in the case (or its review) ``name`` answers."""
    source = (state.get("practice_review") or {}) if JOINT_ANSWERS[name] else state
    answered = {(a["decision"], a["version"]) for a in source.get("joint_answers") or [] if a["seat"] == user.seat}
    return next((p for p in source.get("joint_proposals") or []
                 if p["status"] == "open" and (p["decision"], p["version"]) not in answered), None)


async def goes_to_partners(cases: CaseService, record: CaseRecord, user: User) -> bool:
    """True if closing (or stopping) now is a proposal to the three partners, not done at once: every closure but
    the business unit's of a referral that never became a case, on cases under the joint decisions."""
    if record.stage == Stage.referral and user.role == Role.business_unit:
        return False
    return bool((await cases.state(record)).get("joint_decisions"))


def proposed_to_partners(action: str, state: dict) -> bool:
    """True if ``action`` just became a proposal to the partners rather than taking effect (``state``: the view
    of the workflow it was sent to, which an update answers with)."""
    return any(p["decision"] == action and p["status"] == "open" for p in state.get("joint_proposals") or [])


def joint_decisions(state: dict) -> list[dict]:
    """The partners' decisions proposed on the case and its review: what, by whom, each seat's answer, the result."""
    shown = []
    for source in (state, state.get("practice_review") or {}):
        answers = source.get("joint_answers") or []
        for p in source.get("joint_proposals") or []:
            given = [a for a in answers if a["decision"] == p["decision"] and a["version"] == p["version"]]
            waiting = [SEAT_NAMES[s] for s in SEAT_NAMES if s not in {a["seat"] for a in given}]
            shown.append({**p, "answers": given, "waiting": waiting if p["status"] == "open" else []})
    return sorted(shown, key=lambda p: p["on"], reverse=True)


def for_this_person_now(name: str, state: dict, user: User) -> bool:
    """The workflow's own conditions, said before the form is offered: a form a seat would only be refused on is
    not shown (the workflow still decides; this only keeps the page to what this person can do now)."""
    review = state.get("practice_review") or {}
    if state.get("stage") == Stage.closed and ACTIONS[name].workflow is RapidReviewWorkflow:
        return bool(state.get("reopen_until"))  # a closed case takes only its reopening, while it may be reopened
    if name == "respond_to_sin_proposal":
        version = len(state.get("sin_proposals") or [])
        return user.seat in (Seat.police, Seat.icb) and version > 0 and not any(
            r["seat"] == user.seat and r["version"] == version for r in state.get("sin_responses") or [])
    if name == "resolve_sin_disagreement":
        return user.seat == Seat.la and bool(state.get("sin_proposals"))
    if name == "sign_off_report":
        version = review.get("report_version")
        return user.seat is not None and not any(s["seat"] == user.seat and s["version"] == version
                                                 for s in review.get("sign_offs") or [])
    if name == "reconsider_decision":
        return bool(state.get("reconsideration_pending"))
    if name == "revise_rapid_review":
        return bool(state.get("panel_questions_pending")) and not state.get("revision")
    if name == "lift_publication_hold":
        return review.get("publication_hold") is not None
    return True


def available_actions(user: User, state: dict, reference: str) -> list[str]:
    """The actions of the case's review type (and of the reviews it starts) this user's role may take in the case's
    (or its review's) current stage."""
    found = []
    review = state.get("practice_review") or {}
    family = {review_type.key for review_type in REVIEW_TYPES.family(type_of(reference))}
    for name, spec in ACTIONS.items():
        if user.role not in spec.roles or spec.review_type not in family:
            continue
        if name in JOINT_ANSWERS and (user.seat is None or proposal_to_answer(name, state, user) is None):
            continue  # nothing proposed for this seat to answer
        if not for_this_person_now(name, state, user):
            continue
        stage = review.get("stage") if spec.suffix else state.get("stage")  # a review's action: at its own stage
        if stage in spec.stages and not (name == "decline_referral" and state.get("three_way_sin")
                                      and state.get("sin_agreed") != "do_not_notify"):
            found.append(name)  # a decline is offered once the partners agreed not to notify (the workflow's rule)
    return found


def action_title(name: str) -> str:
    method = getattr(ACTIONS[name].workflow, name)
    return wording.label(name) if not method.__doc__ else method.__doc__.strip().splitlines()[0]


def current_version(name: str, state: dict) -> int:
    """The version an action answers: the latest notification proposal, or the decision sheet."""
    if name == "sign_off":
        return state.get("decision_sheet_version") or 1
    if name == "sign_off_report":
        return (state.get("practice_review") or {}).get("report_version") or 1
    if name in (state.get("action_versions") or {}):  # another review type's own: its state says which version
        return state["action_versions"][name] or 1
    proposals = state.get("sin_proposals") or [{}]
    return proposals[-1].get("version", 1)


def action_fields(name: str, themes: list[str]) -> list[FormField]:
    """An action's questions: built from its model, the decision sheet's worded and grouped for the chair."""
    fields = form_fields(ACTIONS[name].model, themes)
    return sheet_fields(fields) if name == "issue_decision_sheet" else fields


def action_form(name: str, state: dict, themes: list[str], user: User | None = None) -> dict:
    fields = action_fields(name, themes)
    title = action_title(name)
    proposal = proposal_to_answer(name, state, user) if name in JOINT_ANSWERS and user is not None else None
    for f in fields:
        if f.kind == "hidden" and f.name == "version":
            f.value = str(proposal["version"] if proposal else current_version(name, state))
        if f.kind == "hidden" and f.name == "proposed_action" and proposal:
            f.value = proposal["decision"]
    if proposal:
        title = f"Partners' decision proposed by {proposal['proposed_by']}: {proposal['summary']}"
    if (delay := delay_field(state)) is not None:
        fields.append(delay)
    return {"name": name, "title": title, "fields": fields, "button": wording.label(name),
            "sections": sheet_sections(fields) if name == "issue_decision_sheet" else None,
            "confirm": name in CONFIRM_FIRST, "warning": action_warning(name, state), "secondary": name in SECONDARY}


def action_warning(name: str, state: dict) -> str | None:
    """What a person should know before this action: an outcome recorded before every return came in closes the
    missing returns for good."""
    if name != "record_panel_outcome" or not state.get("panel"):
        return None
    missing = [AGENCIES.get(a, a) for a in state["panel"]["invited_agencies"] if a not in (state.get("returns") or {})]
    if not missing:
        return None
    return (f"Not every return has arrived: {wording.and_list(missing)}. Recording the outcome now closes the "
            "missing returns; the panel's outcome will say it was reached without them.")


def prefilled(name: str, state: dict) -> dict:
    """The decision sheet's form starts from the panel's recommendation and rationale, and a returned sheet from its
    last version: its fields, as the form holds them."""
    if name == "submit_final_report":  # the latest report uploaded
        uploads = state.get("final_report_uploads") or []
        return {"report_document": str(uploads[-1]["id"])} if uploads else {}
    if name != "issue_decision_sheet":
        return {}
    if not state.get("decision_sheet"):  # the first version starts from the panel's outcome
        outcome = state.get("panel_outcome") or {}
        return {"recommendation": state.get("recommendation"), "rationale": outcome.get("rationale")}
    typed = {}
    for key, value in state["decision_sheet"].items():
        if isinstance(value, list):
            typed[key] = value
        elif isinstance(value, bool):
            typed[key] = "true" if value else None
        elif value is not None and key not in ("actor", "seal", "delay_reason"):
            typed[key] = str(value)
    return typed


def who_waits(item: dict) -> str:
    """Who an outstanding step waits on, as people say it."""
    if item.get("agency"):
        return AGENCIES.get(item["agency"], wording.label(item["agency"]))
    if item.get("seat"):
        return f"Executive ({SEAT_NAMES.get(item['seat'], wording.label(item['seat']))})"
    return wording.label(item.get("role"))


def done_banner(done: str | None, state: dict | None) -> dict | None:
    """The success banner after an action: what was done, and what happens next (who it waits on)."""
    if not done or (done not in wording.DONE and done.split(":")[0] not in ACTIONS):
        return None
    state = state or {}
    today = london_date(datetime.now(UTC))
    waiting = [f"{wording.plain(item['what'])}: {who_waits(item)}" for item in waiting_on(state, today)]
    preparing = [wording.BEING_PREPARED.format(title=document_title(kind))
                 for found in (state, state.get("practice_review") or {})
                 for kind in found.get("documents_in_preparation") or []]
    return {"title": wording.done_title(done), "next": preparing + waiting, "reference": state.get("reference")}
