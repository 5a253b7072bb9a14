"""What every part of the local CSPR's process holds (the helpers ``PracticeReviewWorkflow`` builds in its
``@workflow.init``: the report, publication, the link to its case): the review's state, its input and the engine's
helpers, read through the workflow, and the other parts, reached through it (``self.process.report``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.actions import Actions
    from engine.clock import DeadlineClock
    from engine.joint_decision import JointDecisions
    from engine.sign_off import ThreeWaySignOff
    from engine.steps import Steps
    from reviews.practice_review.models import ReviewInput, ReviewState
    from reviews.practice_review.workflow import PracticeReviewWorkflow
    from reviews.rapid_review.process_rules import ProcessRules


class ReviewPart:
    def __init__(self, process: PracticeReviewWorkflow) -> None:
        self.process = process

    @property
    def state(self) -> ReviewState:
        return self.process.state

    @property
    def review(self) -> ReviewInput:
        return self.process.review

    @property
    def rules(self) -> ProcessRules:
        return self.process.rules

    @property
    def case_reference(self) -> str:
        return self.process.case_reference

    @property
    def steps(self) -> Steps:
        return self.process.steps

    @property
    def clock(self) -> DeadlineClock:
        return self.process.clock

    @property
    def actions(self) -> Actions:
        return self.process.actions

    @property
    def joint(self) -> JointDecisions:
        return self.process.joint

    @property
    def three_way(self) -> ThreeWaySignOff:
        return self.process.three_way
