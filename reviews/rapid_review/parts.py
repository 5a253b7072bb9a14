"""What every part of the rapid review's process holds (the helpers ``RapidReviewWorkflow`` builds in its
``@workflow.init``: the intake, the notification decision, the panel, the National Panel's reply, learning, the
local CSPR, closing, reopening, who is owed): the case's state and the engine's helpers, read through the workflow,
and the other parts, reached through it (``self.review.panel``), so each part stays one concern of the process."""

from __future__ import annotations

from typing import TYPE_CHECKING

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from engine.models import Actor, AuditEntry

if TYPE_CHECKING:
    from engine.actions import Actions
    from engine.clock import DeadlineClock
    from engine.joint_decision import JointDecisions
    from engine.sign_off import ThreeWaySignOff
    from engine.steps import Steps
    from reviews.rapid_review.models import CaseInput, CaseState
    from reviews.rapid_review.process_rules import ProcessRules
    from reviews.rapid_review.workflow import RapidReviewWorkflow


class CasePart:
    def __init__(self, review: RapidReviewWorkflow) -> None:
        self.review = review

    @property
    def state(self) -> CaseState:
        return self.review.state

    @property
    def case(self) -> CaseInput:
        return self.review.case

    @property
    def rules(self) -> ProcessRules:
        return self.review.rules

    @property
    def case_reference(self) -> str:
        return self.review.case_reference

    @property
    def partnership_name(self) -> str:
        return self.review.partnership_name

    @property
    def steps(self) -> Steps:
        return self.review.steps

    @property
    def clock(self) -> DeadlineClock:
        return self.review.clock

    @property
    def actions(self) -> Actions:
        return self.review.actions

    @property
    def joint(self) -> JointDecisions:
        return self.review.joint

    @property
    def three_way(self) -> ThreeWaySignOff:
        return self.review.three_way

    @staticmethod
    def audit(actor: Actor | None, action: str, detail: dict) -> AuditEntry:
        """An audit row of a step no person's action started (the actor, if any, is who set it going)."""
        return AuditEntry(actor_id=actor.user_id if actor else None, actor_role=actor.role if actor else "system",
                          action=action, detail=detail)
