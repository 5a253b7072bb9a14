"""The toy review's workflow: opened by its referral, one decision, then closed; built from the helpers every review
uses (the step builder, the deadline clock, the action path), so its steps reach the read model, the tasks and the
audit trail as a rapid review's do."""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from engine.actions import Actions
from engine.clock import DeadlineClock
from engine.steps import Steps

with workflow.unsafe.imports_passed_through():
    from engine import authenticity
    from engine.actions import Rule
    from engine.calendar import london_date
    from engine.models import AuditEntry, CaseSnapshot, CaseStep, DocumentRequest, ProcessState
    from engine.vocabulary import Role, TaskKind
    from reviews.rapid_review.process_rules import ProcessRules
    from tests.toy_review.models import ToyDecision, ToyInput

OPEN, DECIDED, CLOSED = "toy_open", "toy_decided", "closed"


@workflow.defn(name="ToyReviewWorkflow")
class ToyReviewWorkflow:
    RULES = {
        "toy_decide": Rule.of({OPEN}, Role.business_unit),
        "toy_close": Rule.of({DECIDED}, Role.business_unit, Role.executive),
    }

    @workflow.init
    def __init__(self, case: ToyInput) -> None:
        self.case = case
        self.state = ProcessState(reference=case.reference, stage=OPEN)
        self.steps = Steps(self.state, case_reference=case.reference, partnership_name=case.partnership_name,
                           record=self._record)
        self.clock = DeadlineClock(self.state, ProcessRules(), self.steps)
        self.actions = Actions(self.RULES, state=self.state, steps=self.steps, clock=self.clock, checks=self)
        self.opened_on = london_date(workflow.now())

    @workflow.run
    async def run(self, case: ToyInput) -> str:
        if not authenticity.is_sealed(case.reference, "start", case.reference, case.model_dump(mode="json")):
            raise ApplicationError("Not started by the service", type="NotSealed", non_retryable=True)
        async with self.steps.lock:
            self.steps.opened = True
            step = self.steps.new_step("submit_referral")
            step.facts.opened_case = True
            self.steps.move_to(step, OPEN, case.referrer, "submit_referral")
            step.audit = AuditEntry(actor_id=case.referrer.user_id, actor_role=case.referrer.role,
                                    action="submit_referral", detail={})
            step.tasks.append(self.steps.task("toy_decide", TaskKind.decision, "Decide the toy review",
                                              "Learn from it or end it.", Role.business_unit, action="toy_decide"))
            await self.steps.commit(step)
        await workflow.wait_condition(lambda: self.state.stage == CLOSED)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.state.closed_reason or "closed"

    @workflow.query
    def state(self, today: str | None = None) -> dict:
        return {**self.clock.view(), "pseudonym": self.case.pseudonym}

    @workflow.update
    async def toy_decide(self, action: ToyDecision) -> dict:
        """Decide whether the toy review goes on"""
        return await self.actions.act("toy_decide", action, self._decide)

    @toy_decide.validator
    def _validate_toy_decide(self, action: ToyDecision) -> None:
        self.actions.validate("toy_decide", action)

    @workflow.update
    async def toy_close(self, action: ToyDecision) -> dict:
        """Close the toy review"""
        return await self.actions.act("toy_close", action, self._close)

    @toy_close.validator
    def _validate_toy_close(self, action: ToyDecision) -> None:
        self.actions.validate("toy_close", action)

    def _decide(self, action: ToyDecision, step: CaseStep, documents: list[DocumentRequest]) -> None:
        step.settle.append(self.steps.done("toy_decide", action.decision))
        self.steps.move_to(step, DECIDED, action.actor, "toy_decide")

    def _close(self, action: ToyDecision, step: CaseStep, documents: list[DocumentRequest]) -> None:
        self.state.closed_reason = action.reasons
        self.steps.move_to(step, CLOSED, action.actor, "toy_close")

    def _record(self, step: CaseStep) -> None:
        """The read model's row of the case, on every step."""
        step.snapshot = CaseSnapshot(
            reference=self.case.reference, pseudonym=self.case.pseudonym, stage=self.state.stage,
            opened_on=self.opened_on, awareness_date=self.opened_on, notified_on=None, rapid_review_due=None,
            next_deadline_title=None, next_deadline_due=None, next_deadline_rule=None, late=self.state.late,
            escalated=self.state.escalated, recommendation=None, decision_sheet_version=0, invited_agencies=[],
            submitted_on=None, practice_review_stage=None, closed_reason=self.state.closed_reason, outcome=None)
