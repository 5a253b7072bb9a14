"""Who may take each of the rapid review's actions, and at which stages (``Rule``, engine/actions.py): the
workflow's ``RULES``, which the registry, the API and the pages read; the actions cases of an earlier process still
replay; and the day each action that meets a deadline happened on."""

from __future__ import annotations

from engine.actions import Rule
from engine.vocabulary import RETURN_STAGES, Role, Stage

OPEN_STAGES = frozenset(stage for stage in Stage if stage != Stage.closed)
# After the partners' sign-off, the rapid review goes to the National Panel and its reply is recorded beside
# whatever follows (for a local CSPR: the methodology and the review itself).
AFTER_SIGN_OFF = frozenset({Stage.national_panel, Stage.methodology, Stage.practice_review})

RULES = {
    "accept_referral": Rule.of({Stage.referral}, Role.business_unit),
    # Cases of the three-way decision: only at csc_consultation, with the partners' agreement not to notify
    # (see _check_decline_referral); cases started before it: at referral, as they ran.
    "decline_referral": Rule.of({Stage.referral, Stage.csc_consultation}, Role.business_unit),
    # The awareness date stays correctable after the notification (judged again, its record re-issued).
    "correct_awareness_date": Rule.of(OPEN_STAGES, Role.csc_lead),
    "correct_referral": Rule.of({Stage.referral, Stage.csc_consultation, Stage.notification}, Role.csc_lead),
    # The notification decision is the three partners' (RULE_SIN_THREE_WAY): the CSC lead proposes, the
    # police and ICB Executive seats answer, a disagreement is resolved and recorded by the LA's seat.
    "propose_sin_decision": Rule.of({Stage.csc_consultation}, Role.csc_lead),
    "respond_to_sin_proposal": Rule.of({Stage.csc_consultation}, Role.executive),
    "resolve_sin_disagreement": Rule.of({Stage.csc_consultation}, Role.executive),
    "record_notification": Rule.of({Stage.notification}, Role.csc_lead),
    "convene_panel": Rule.of({Stage.panel_preparation}, Role.business_unit),
    "submit_information_return": Rule.of(RETURN_STAGES, Role.agency_member),
    "record_panel_outcome": Rule.of({Stage.panel_preparation, Stage.panel}, Role.panel_chair),
    "issue_decision_sheet": Rule.of({Stage.decision_sheet}, Role.panel_chair),
    # After sign-off the seats sign a revision the National Panel's questions called for (_check_sign_off).
    "sign_off": Rule.of({Stage.executive_sign_off} | AFTER_SIGN_OFF, Role.executive),
    "revise_rapid_review": Rule.of(AFTER_SIGN_OFF, Role.panel_chair, Role.business_unit),
    # Related reviews, recorded by the business unit at any open stage: CDOP's, and a joint review.
    "record_national_review_part": Rule.of(AFTER_SIGN_OFF, Role.business_unit, Role.executive),
    "link_cdop_review": Rule.of(OPEN_STAGES - {Stage.referral}, Role.business_unit, Role.csc_lead),
    "record_joint_review": Rule.of(OPEN_STAGES - {Stage.referral}, Role.business_unit),
    "record_submission": Rule.of(AFTER_SIGN_OFF, Role.business_unit),
    # A reply that arrives after the case closed is recorded on the closed case (cases since "reopenable").
    "record_national_panel_response": Rule.of(AFTER_SIGN_OFF | {Stage.closed}, Role.business_unit),
    "reconsider_decision": Rule.of(AFTER_SIGN_OFF, Role.executive),
    # Only the partners decide how a review takes place (Working Together 2023, ch. 5).
    "choose_methodology": Rule.of({Stage.methodology}, Role.executive),
    # Learning without a local CSPR (RULE_LEARNING_WITHOUT_CSPR): the partners decide, the business unit
    # prepares it for them (its task) and the plan actions reach it through the action plan.
    "record_learning_activities": Rule.of({Stage.national_panel}, Role.executive),
    # The business unit closes a referral that never became a case (at referral) at once; any other closure
    # outside the normal end, like stopping a local CSPR, is the three partners' joint decision (JOINT below):
    # proposed by the business unit or a seat, applied when the three seats agree.
    "close_case": Rule.of(OPEN_STAGES, Role.business_unit, Role.executive),
    "stop_local_cspr": Rule.of({Stage.methodology, Stage.practice_review}, Role.business_unit, Role.executive),
    # Reopening a closed case is the partners' decision too, while the case may be reopened (reopen_until).
    "reopen_case": Rule.of({Stage.closed}, Role.business_unit, Role.executive),
    "answer_joint_decision": Rule.of(OPEN_STAGES | {Stage.closed}, Role.executive),
}
# Actions no longer offered (not in RULES, so not in the API or on pages) that cases of an earlier process
# replay: the CSC lead's decision alone.
RETIRED_RULES = {
    "record_sin_decision": Rule.of({Stage.csc_consultation}, Role.csc_lead),
}

EVENT_DATES = {
    "record_notification": ("notification", "notified_on"),
    "record_panel_outcome": ("panel", "held_on"),
    "record_submission": ("rapid_review", "submitted_on"),
    "record_national_panel_response": ("national_panel_reply", "received_on"),
    "choose_methodology": ("methodology", "decided_on"),
}
