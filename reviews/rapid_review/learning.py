"""Learning without a local CSPR (RULE_LEARNING_WITHOUT_CSPR): after no further review the case awaits the
partners' learning decision, its activities go into the one action plan, and the case closes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from engine.models import PlanActionSpec
    from engine.vocabulary import Recommendation, Role, TaskKind
    from reviews.rapid_review.citations import RULE_LEARNING_WITHOUT_CSPR
    from reviews.rapid_review.models import RecordLearningActivities

from engine.patches import patched
from engine.steps import reject
from reviews.rapid_review.parts import CasePart

if TYPE_CHECKING:
    from reviews.rapid_review.workflow import RapidReviewWorkflow

LEARNING_KINDS = {"single_agency_review": "Single-agency review", "audit": "Audit", "workshop": "Workshop",
                  "thematic_review": "Thematic review"}


class Learning(CasePart):
    def __init__(self, process: RapidReviewWorkflow) -> None:
        super().__init__(process)
        self.no_review_why = ""  # why there is no further review, kept while the learning decision is awaited

    def close_after_panel(self, actor, step, why: str) -> None:
        """No local CSPR: the case closes with the partners' decision and the Panel's reply on record. After no
        further review, the case first awaits the partners' learning decision unless it was recorded already
        (cases from before that step replay closing at once: patch "learning-without-cspr")."""
        decision = self.state.partners_decision
        if self.state.reopenings and decision == Recommendation.local_cspr:
            # reopened: the partners' local CSPR goes ahead
            self.process.local_review.open_methodology(actor, step, self.clock.today())
            return
        if decision == Recommendation.national_review_referral:
            self.state.outcome = f"Referred to the National Panel for a national review ({why})"
        elif (self.state.learning_activities is None and not self.state.learning_decision_pending
              and patched("learning-without-cspr")):
            self.await_learning_decision(step, why)
            return
        else:
            self.state.outcome = f"No further review: the partners' decision ({why}){self.learning_summary()}"
        self.process.closing.close(actor, "record_national_panel_response", self.state.outcome, step)

    def await_learning_decision(self, step, why: str) -> None:
        self.state.learning_decision_pending, self.no_review_why = True, why
        due = self.clock.working_days_after(self.clock.today(), self.rules.methodology_working_days)
        step.tasks.append(self.steps.task(
            "record_learning_activities", TaskKind.decision, "Decide on learning without a local CSPR",
            f"No further review ({why}). Choose learning activities (single-agency review, audit, workshop, "
            f"thematic review) or record that none is needed ({RULE_LEARNING_WITHOUT_CSPR}).", Role.executive,
            due=due, action="record_learning_activities",
        ))
        step.tasks.append(self.steps.task(
            "prepare_learning_activities", TaskKind.action, "Prepare the learning options for the Executive",
            "Draft the learning activities (what, lead, due) from the rapid review for the Executive's decision.",
            Role.business_unit, due=due,
        ))

    def learning_summary(self) -> str:
        chosen = self.state.learning_activities
        if chosen is None:
            return ""
        if not chosen.activities:
            return f"; no further learning activity: {chosen.note}"
        kinds = ", ".join(LEARNING_KINDS[a.kind].lower() for a in chosen.activities)
        return f"; learning without a local CSPR: {kinds} (in the action plan)"

    def record_learning_activities(self, action: RecordLearningActivities, step, documents) -> None:
        """The chosen learning goes into the one action plan; a case awaiting it closes."""
        self.state.learning_activities = action
        step.plan_actions = [
            PlanActionSpec(key=f"{self.case_reference}:learning:{i}", source="learning_activity",
                           description=f"{LEARNING_KINDS[a.kind]}: {a.description} (lead: {a.lead})", due=a.due)
            for i, a in enumerate(action.activities, start=1)
        ]
        step.settle.append(self.steps.done("record_learning_activities",
                                           f"{len(action.activities)} activities"))
        step.settle.append(self.steps.done("prepare_learning_activities", "decided"))
        if self.state.learning_decision_pending:
            self.state.learning_decision_pending = False
            self.state.outcome = (f"No further review: the partners' decision ({self.no_review_why})"
                                  f"{self.learning_summary()}")
            self.process.closing.close(action.actor, "record_learning_activities", self.state.outcome, step)

    def _check_record_learning_activities(self, action: RecordLearningActivities) -> None:
        if self.state.partners_decision != Recommendation.no_further_review:
            raise reject("Learning without a local CSPR follows the partners' decision of no further review.")
        if self.state.learning_activities is not None:
            raise reject(f"The learning was already recorded on {self.state.learning_activities.decided_on}.")
        self.actions.not_future(action.decided_on, "date of the decision")
        self.actions.not_before(action.decided_on, self.state.partners_decided_on, "date of the decision",
                                "partners' decision")
        for activity in action.activities:
            self.actions.not_before(activity.due, action.decided_on, f"due date of '{activity.description}'",
                                    "date of the decision")

    def learning_proposal(self, action: RecordLearningActivities) -> str:
        if not action.activities:
            return f"No learning activity without a local CSPR: {action.note}"
        kinds = ", ".join(LEARNING_KINDS[a.kind].lower() for a in action.activities)
        return f"Learning without a local CSPR: {kinds}"
