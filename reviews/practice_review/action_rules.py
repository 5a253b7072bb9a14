"""Who may take each of the local CSPR's actions, and at which stages (``Rule``, engine/actions.py): the workflow's
``RULES``, which the registry, the API and the pages read; and the day each action that meets a deadline happened
on."""

from __future__ import annotations

from engine.actions import Rule
from engine.vocabulary import ReviewStage, Role

STAGES_BEFORE_PUBLICATION = (ReviewStage.terms_of_reference, ReviewStage.commissioning, ReviewStage.learning_events,
                             ReviewStage.draft_report, ReviewStage.final_sign_off, ReviewStage.publication_notice,
                             ReviewStage.publication)

RULES = {
    "agree_terms_of_reference": Rule.of({ReviewStage.terms_of_reference}, Role.business_unit),
    "commission_reviewer": Rule.of({ReviewStage.commissioning}, Role.business_unit),
    "record_learning_event": Rule.of({ReviewStage.learning_events, ReviewStage.draft_report}, Role.business_unit),
    "submit_draft_report": Rule.of({ReviewStage.learning_events, ReviewStage.draft_report}, Role.business_unit),
    # Also after sign-off: a report revised (after a trial or inquest) is signed again and its notice re-sent.
    "submit_final_report": Rule.of({ReviewStage.draft_report, ReviewStage.publication_notice,
                                    ReviewStage.publication}, Role.business_unit),
    # Holding publication, and lifting the hold, are the partners' decisions (joint).
    "hold_publication": Rule.of({ReviewStage.publication_notice, ReviewStage.publication}, Role.business_unit,
                                Role.executive),
    "lift_publication_hold": Rule.of({ReviewStage.publication_notice, ReviewStage.publication},
                                     Role.business_unit, Role.executive),
    "sign_off_report": Rule.of({ReviewStage.final_sign_off}, Role.executive),
    "send_publication_notice": Rule.of({ReviewStage.publication_notice}, Role.business_unit),
    "record_publication": Rule.of({ReviewStage.publication}, Role.business_unit),
    # Not publishing is the partners' decision (joint: proposed by the business unit or a seat).
    "record_non_publication": Rule.of({ReviewStage.publication}, Role.business_unit, Role.executive),
    "record_learning_workshop": Rule.of({ReviewStage.learning_workshop}, Role.business_unit),
    "record_one_year_workshop": Rule.of({ReviewStage.one_year_on}, Role.business_unit),
    # Only the partners agree an extension (Working Together 2023, ch. 5); the business unit records it for them
    # by preparing the delay notice the service issues.
    "extend_deadline": Rule.of(STAGES_BEFORE_PUBLICATION, Role.executive),
    "answer_review_decision": Rule.of(STAGES_BEFORE_PUBLICATION, Role.executive),
}

EVENT_DATES = {
    "commission_reviewer": ("commission", "commissioned_on"),
    "record_publication": ("cspr", "published_on"),
    "record_one_year_workshop": ("one_year_on", "held_on"),
}
