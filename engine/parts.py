"""A part of a review's process: one of the small helpers a review type's workflow builds in its ``@workflow.init``
(the rapid review's panel, the local CSPR's publication, ...), each one concern of the process in a module of its
own. A part reads the case's state and the engine's helpers the workflow holds (its steps, clock, action path,
three-way sign-off and joint decisions) through the workflow, and reaches the other parts through it
(``self.process.panel``), so the workflow class keeps only ``run``, its queries and its update/signal contract."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.actions import Actions
    from engine.clock import DeadlineClock
    from engine.joint_decision import JointDecisions
    from engine.sign_off import ThreeWaySignOff
    from engine.steps import Steps


class ProcessPart:
    def __init__(self, process: Any) -> None:
        self.process = process  # the workflow instance whose part this is

    @property
    def state(self) -> Any:
        return self.process.state

    @property
    def rules(self) -> Any:
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
