"""Closing the case: the business unit's closure of a referral that never became a case, the partners' closure and
their stopping of a local CSPR (joint decisions), and what every closure does."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from engine.vocabulary import Role, Stage
    from reviews.rapid_review.models import CloseCase, StopLocalCspr

from engine.steps import reject
from reviews.rapid_review.parts import CasePart


class Closing(CasePart):
    def close(self, actor, action_name: str, reason: str, step) -> None:
        """Close the case. One closed while the National Panel's reply is still awaited stays reopenable for a while
        (cases since patch "reopenable"): the reply may still come, and the partners may reopen the case for it."""
        self.state.closed_reason = reason
        self.clock.cancel_all()
        step.settle.append(self.steps.cancel("", f"case closed: {reason}"))
        self.steps.move_to(step, Stage.closed, actor, action_name)
        if self.state.joint_decisions:  # nothing stays proposed on a closed case
            for proposal in [p for p in self.state.joint_proposals if p.status == "open"]:
                self.joint.settle(proposal, "superseded", step, f"case closed: {reason}")
        reopenable = self.state.reopenable and self.process.national_panel.panel_reply_awaited()
        if reopenable and self.rules.reopen_window_days:
            self.state.reopen_until = self.clock.today() + timedelta(days=self.rules.reopen_window_days)

    def close_case(self, action: CloseCase, step, documents) -> None:
        if self.joint.needed("close_case", action):  # applied after the three seats agreed
            self.state.outcome = f"Closed by the partners' decision: {action.reason}"
            if self.process.local_review.child is not None:  # closing the case stops its local CSPR: the record says so
                self.state.stopped = (f"Stopped by the partners on {self.clock.today().isoformat()}, closing the "
                                      f"case: {action.reason}")
        self.close(action.actor, "close_case", action.reason, step)

    def _check_close_case(self, action: CloseCase) -> None:
        if not self.state.joint_decisions and action.actor.role != Role.business_unit:
            raise reject("On this case (opened before the partners' joint decisions) the business unit closes it.")

    def closure_needs_partners(self, action: CloseCase) -> bool:
        """Only a referral that never became a case closes without the partners: the business unit's
        administrative closure (withdrawn, duplicate, sent in error)."""
        return not (self.state.stage == Stage.referral and action.actor.role == Role.business_unit)

    def stop_local_cspr(self, action: StopLocalCspr, step, documents) -> None:
        """The partners stop the review: the case closes, and its record says "stopped", by whom and why."""
        self.state.stopped = f"Stopped by the partners on {self.clock.today().isoformat()}: {action.reasons}"
        self.state.outcome = f"Local CSPR stopped by the partners: {action.reasons}"
        self.close(action.actor, "stop_local_cspr", self.state.outcome, step)

    def _check_stop_local_cspr(self, action: StopLocalCspr) -> None:
        if not self.state.joint_decisions:
            raise reject("This case was opened before the partners' joint decisions: stop its local CSPR through "
                         "the reconsideration after the National Panel's reply, or close the case.")
