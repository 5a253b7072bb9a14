"""PracticeReviewWorkflow: the local CSPR, a child of the case, on its six-month clock.

Started when the Executive chooses the methodology. Terms of reference, reviewer commissioned,
learning events, draft and final report, three-way sign-off, notice to the National Panel and DfE at
least 7 working days before publication, publication (or reasons not to publish), the learning
workshop, and a durable one-year timer for the workshop one year on. It tells its parent case of each
stage change; the API acts on it through its own workflow id (``<reference>-cspr``). The class holds only ``run``,
the query and the update contract; what each action does is one of its parts (built in ``__init__``): the review
to its signed report (``report``), publication and after (``publication``) and what its case hears
(``case_link``).
"""

from __future__ import annotations

import asyncio
from datetime import date

from temporalio import workflow
from temporalio.exceptions import ApplicationError, is_cancelled_exception

with workflow.unsafe.imports_passed_through():
    from engine.calendar import add_months
    from engine.models import AnswerJointDecision, AuditEntry, CalendarDayAdded, SignOff
    from engine.vocabulary import ReviewStage, Role, TaskKind
    from reviews.practice_review.models import (
        AgreeTermsOfReference,
        CommissionReviewer,
        ExtendDeadline,
        HoldPublication,
        LiftPublicationHold,
        RecordLearningEvent,
        RecordLearningWorkshop,
        RecordNonPublication,
        RecordPublication,
        ReviewInput,
        ReviewState,
        SendPublicationNotice,
        SubmitDraftReport,
        SubmitFinalReport,
    )
    from reviews.rapid_review.citations import RULE_COMMISSION, RULE_CSPR

from engine.actions import Actions
from engine.clock import DeadlineClock
from engine.joint_decision import JointDecision, JointDecisions
from engine.patches import decide_versions, patched
from engine.sign_off import ThreeWaySignOff
from engine.steps import Steps
from engine.vocabulary import practice_review_id
from reviews.practice_review.action_rules import EVENT_DATES, RULES
from reviews.practice_review.case_link import CaseLink
from reviews.practice_review.publication import Publication
from reviews.practice_review.report import Report


@workflow.defn
class PracticeReviewWorkflow:
    RULES, EVENT_DATES = RULES, EVENT_DATES  # action_rules.py

    @workflow.init
    def __init__(self, review: ReviewInput) -> None:
        """The state exists before any handler runs (an update in the first task waits for the start step)."""
        # The parts of the review, each a helper of its own (parts.py over engine/parts.py), reaching the state
        # and the engine's helpers below through the workflow.
        self.report, self.publication, self.case_link = Report(self), Publication(self), CaseLink(self)
        self.review = review
        self.rules = review.rules
        self.case_reference = review.case_reference
        method = review.methodology
        self.state = ReviewState(
            reference=review.reference, stage=ReviewStage.terms_of_reference, case_reference=review.case_reference,
            decided_on=method.decided_on, methods=method.methods, reviewer=method.reviewer, lead=method.lead,
            partners_decided_on=review.partners_decided_on,
        )
        self.steps = Steps(self.state, case_reference=review.case_reference,
                           partnership_name=review.partnership_name, record=self.case_link.record,
                           after_commit=self.case_link.tell_case)
        if review.round > 1:  # started again after a reopening: its keys never meet the first review's
            self.steps.workflow_id = f"{self.steps.workflow_id}#{review.round}"
        # The case's own calendar and the days it received: the review counts on the same days.
        self.clock = DeadlineClock(self.state, self.rules, self.steps, calendar=review.calendar,
                                   added_days=review.added_days, also_recount=self.publication.recount_publication,
                                   who_owes=self.case_link.who_owes)
        self.actions = Actions(self.RULES, state=self.state, steps=self.steps, clock=self.clock,
                               checks=(self, self.report, self.publication),
                               event_dates=self.EVENT_DATES)
        self.three_way = ThreeWaySignOff(self.state, self.steps, self.clock, action="sign_off_report",
                                         thing="final report", title="final CSPR report")
        self.joint = JointDecisions(self.state, self.steps, self.clock, {
            "extend_deadline": JointDecision(ExtendDeadline, self.report.extend_deadline,
                                             lambda a: f"Extend the review to {a.new_due.isoformat()}: {a.reason}"),
            "record_non_publication": JointDecision(RecordNonPublication, self.publication.record_non_publication,
                                                    lambda a: f"Do not publish the report: {a.reasons}"),
            "hold_publication": JointDecision(HoldPublication, self.publication.hold_publication,
                                              lambda a: f"Hold publication, to review on {a.review_on.isoformat()}: "
                                                        f"{a.reasons}"),
            "lift_publication_hold": JointDecision(LiftPublicationHold, self.publication.lift_publication_hold,
                                                   lambda a: f"Lift the hold on publication: {a.reasons}"),
        }, self.actions.recheck, answer_action="answer_review_decision")
        self.actions.joint = self.joint

    @workflow.run
    async def run(self, review: ReviewInput) -> str:
        decide_versions(self.steps)  # first of all (engine/patches.py)
        # Only a case's own workflow starts its review (the server sets the parent; no client can). Every review
        # ever started had its parent, so no running case can take another path here.
        parent = workflow.info().parent
        if parent is None or practice_review_id(parent.workflow_id) != workflow.info().workflow_id:
            raise ApplicationError("A practice review is started only by its case's workflow: refused.",
                                   type="NotSealed", non_retryable=True)
        method = review.methodology
        # Reviews started before the partners' joint decisions keep one Executive's extension and the business
        # unit's record of non-publication, as they ran (engine/joint_decision.py).
        self.state.joint_decisions = patched("joint-decisions")
        # As its case: documents after the answer (engine/steps.py); and the case is told only what it does not
        # know: not the stage the review starts at (it recorded it when the partners
        # chose the methodology), nor the closure (the child's completion says it), unless the closing step changed
        # a flag. Reviews started before the patch signal both and run as they ran.
        if patched("answer-first"):
            self.steps.documents_after_reply = True
            self.case_link.reported = (ReviewStage.terms_of_reference, False, False)
            self.case_link.tell_closure = False
        async with self.steps.lock:
            self.steps.opened = True  # an update that came with the start now waits for this lock
            step = self.steps.new_step("start")
            self.state.stage_history.append(self.steps.stage_change(ReviewStage.terms_of_reference, method.actor,
                                                                    "choose_methodology"))
            step.facts.entered_stage = ReviewStage.terms_of_reference
            months, decided = self.rules.cspr_months, review.partners_decided_on
            self.clock.add_deadline(
                "cspr", "Local CSPR completed and published (statutory)", add_months(decided, months),
                RULE_CSPR.format(n=months), Role.business_unit,
                reminders=[add_months(decided, m) for m in self.rules.cspr_reminder_months],
            )
            commission_days = self.rules.reviewer_commission_working_days
            self.clock.add_counted_deadline(
                "commission", "Reviewer commissioned", method.decided_on, commission_days,
                RULE_COMMISSION.format(n=commission_days), Role.business_unit, statutory=False,
            )
            step.tasks.append(self.steps.task(
                "agree_terms_of_reference", TaskKind.action, "Agree the terms of reference of the local CSPR",
                "Scope, research questions and methods, agreed with the reviewer and lead.", Role.business_unit,
                due=self.clock.working_days_after(self.clock.today(), 10), action="agree_terms_of_reference",
            ))
            step.audit = AuditEntry(actor_id=method.actor.user_id, actor_role=method.actor.role,
                                    action="practice_review_started",
                                    detail={"methods": [str(m) for m in method.methods], "reviewer": method.reviewer,
                                            "reviewer_kind": method.reviewer_kind, "lead": method.lead})
            await self.steps.commit(step)
        try:
            await self.clock.run()
        except BaseException as error:
            # A cancel that lands while a step runs comes as the step's ActivityError; reviews opened with local
            # steps stop on it too (those before stopped only on a bare CancelledError, as they ran).
            if isinstance(error, asyncio.CancelledError) or (self.steps.local and is_cancelled_exception(error)):
                await self.case_link.stopped_by_case()
            raise
        await self.steps.finished()  # the closing update replies; its documents are issued
        return self.state.closed_reason or "closed"

    @workflow.query
    def state(self, today: str | None = None) -> dict:
        return self.clock.view(date.fromisoformat(today) if today else None)

    @workflow.update
    async def add_calendar_day(self, notice: CalendarDayAdded) -> list[dict]:
        """A one-off bank holiday or closure day added by the partnership: the deadlines it moves, and why."""
        return await self.clock.add_calendar_day(notice)

    @add_calendar_day.validator
    def _validate_add_calendar_day(self, notice: CalendarDayAdded) -> None:
        self.clock.validate_calendar_day(notice)

    @workflow.update
    async def agree_terms_of_reference(self, action: AgreeTermsOfReference) -> dict:
        return await self.actions.act("agree_terms_of_reference", action, self.report.agree_terms_of_reference)

    @agree_terms_of_reference.validator
    def _validate_agree_terms_of_reference(self, action: AgreeTermsOfReference) -> None:
        self.actions.validate("agree_terms_of_reference", action)

    @workflow.update
    async def commission_reviewer(self, action: CommissionReviewer) -> dict:
        return await self.actions.act("commission_reviewer", action, self.report.commission_reviewer)

    @commission_reviewer.validator
    def _validate_commission_reviewer(self, action: CommissionReviewer) -> None:
        self.actions.validate("commission_reviewer", action)

    @workflow.update
    async def record_learning_event(self, action: RecordLearningEvent) -> dict:
        return await self.actions.act("record_learning_event", action, self.report.record_learning_event)

    @record_learning_event.validator
    def _validate_record_learning_event(self, action: RecordLearningEvent) -> None:
        self.actions.validate("record_learning_event", action)

    @workflow.update
    async def submit_draft_report(self, action: SubmitDraftReport) -> dict:
        return await self.actions.act("submit_draft_report", action, self.report.submit_draft_report)

    @submit_draft_report.validator
    def _validate_submit_draft_report(self, action: SubmitDraftReport) -> None:
        self.actions.validate("submit_draft_report", action)

    @workflow.update
    async def submit_final_report(self, action: SubmitFinalReport) -> dict:
        return await self.actions.act("submit_final_report", action, self.report.submit_final_report)

    @submit_final_report.validator
    def _validate_submit_final_report(self, action: SubmitFinalReport) -> None:
        self.actions.validate("submit_final_report", action)

    @workflow.update
    async def sign_off_report(self, action: SignOff) -> dict:
        return await self.actions.act("sign_off_report", action, self.report.sign_off_report)

    @sign_off_report.validator
    def _validate_sign_off_report(self, action: SignOff) -> None:
        self.actions.validate("sign_off_report", action)

    @workflow.update
    async def send_publication_notice(self, action: SendPublicationNotice) -> dict:
        return await self.actions.act("send_publication_notice", action, self.publication.send_publication_notice)

    @send_publication_notice.validator
    def _validate_send_publication_notice(self, action: SendPublicationNotice) -> None:
        self.actions.validate("send_publication_notice", action)

    @workflow.update
    async def record_publication(self, action: RecordPublication) -> dict:
        return await self.actions.act("record_publication", action, self.publication.record_publication)

    @record_publication.validator
    def _validate_record_publication(self, action: RecordPublication) -> None:
        self.actions.validate("record_publication", action)

    @workflow.update
    async def record_non_publication(self, action: RecordNonPublication) -> dict:
        return await self.actions.act("record_non_publication", action, self.publication.record_non_publication)

    @record_non_publication.validator
    def _validate_record_non_publication(self, action: RecordNonPublication) -> None:
        self.actions.validate("record_non_publication", action)

    @workflow.update
    async def record_learning_workshop(self, action: RecordLearningWorkshop) -> dict:
        return await self.actions.act("record_learning_workshop", action, self.publication.record_learning_workshop)

    @record_learning_workshop.validator
    def _validate_record_learning_workshop(self, action: RecordLearningWorkshop) -> None:
        self.actions.validate("record_learning_workshop", action)

    @workflow.update
    async def record_one_year_workshop(self, action: RecordLearningWorkshop) -> dict:
        return await self.actions.act("record_one_year_workshop", action, self.publication.record_one_year_workshop)

    @record_one_year_workshop.validator
    def _validate_record_one_year_workshop(self, action: RecordLearningWorkshop) -> None:
        self.actions.validate("record_one_year_workshop", action)

    @workflow.update
    async def extend_deadline(self, action: ExtendDeadline) -> dict:
        return await self.actions.act("extend_deadline", action, self.report.extend_deadline)

    @extend_deadline.validator
    def _validate_extend_deadline(self, action: ExtendDeadline) -> None:
        self.actions.validate("extend_deadline", action)

    @workflow.update
    async def hold_publication(self, action: HoldPublication) -> dict:
        """Propose to the partners that publication is held, with a date to review it"""
        return await self.actions.act("hold_publication", action, self.publication.hold_publication)

    @hold_publication.validator
    def _validate_hold_publication(self, action: HoldPublication) -> None:
        self.actions.validate("hold_publication", action)

    @workflow.update
    async def lift_publication_hold(self, action: LiftPublicationHold) -> dict:
        """Propose to the partners that the hold on publication is lifted"""
        return await self.actions.act("lift_publication_hold", action, self.publication.lift_publication_hold)

    @lift_publication_hold.validator
    def _validate_lift_publication_hold(self, action: LiftPublicationHold) -> None:
        self.actions.validate("lift_publication_hold", action)

    @workflow.update
    async def answer_review_decision(self, action: AnswerJointDecision) -> dict:
        """Agree or disagree with a decision on the review proposed to the partners"""
        return await self.actions.act("answer_review_decision", action, self.joint.answer)

    @answer_review_decision.validator
    def _validate_answer_review_decision(self, action: AnswerJointDecision) -> None:
        self.actions.validate("answer_review_decision", action)

    def _check_answer_review_decision(self, action: AnswerJointDecision) -> None:
        self.joint.check_answer(action)


