"""PracticeReviewWorkflow: the local CSPR, a child of the case, on its six-month clock.

Started when the Executive chooses the methodology. Terms of reference, reviewer commissioned,
learning events, draft and final report, three-way sign-off, notice to the National Panel and DfE at
least 7 working days before publication, publication (or reasons not to publish), the learning
workshop, and a durable one-year timer for the workshop one year on. It tells its parent case of each
stage change; the API acts on it through its own workflow id (``<reference>-cspr``).
"""

from __future__ import annotations

import asyncio
from datetime import date

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from workflows import authenticity
    from workflows.calendar import add_months
    from workflows.case_view import stored_calendar
    from workflows.documents import (
        CsprDelayNotice,
        PublicationNotice,
        SevenMinuteBriefing,
        TermsOfReference,
    )
    from workflows.models import (
        AgreeTermsOfReference,
        AnswerJointDecision,
        AuditEntry,
        CalendarDayAdded,
        CaseStep,
        CommissionReviewer,
        ExtendDeadline,
        Extension,
        HoldPublication,
        LiftPublicationHold,
        Outstanding,
        PlanActionSpec,
        RecordLearningEvent,
        RecordLearningWorkshop,
        RecordNonPublication,
        RecordPublication,
        ReviewInput,
        ReviewProgress,
        ReviewSnapshot,
        ReviewState,
        SendPublicationNotice,
        SignOff,
        StoredState,
        SubmitDraftReport,
        SubmitFinalReport,
    )
    from workflows.rules import (
        RULE_COMMISSION,
        RULE_CSPR,
        RULE_CSPR_REVISED,
        RULE_ONE_YEAR_ON,
        RULE_PUBLICATION_NOTICE,
        Rule,
    )
    from workflows.vocabulary import SEAT_NAMES, ClockKind, DocumentKind, ReviewStage, Role, TaskKind

from workflows.actions import Actions
from workflows.clock import DeadlineClock, owed_by_owner
from workflows.joint_decision import JointDecision, JointDecisions
from workflows.sign_off import ThreeWaySignOff
from workflows.steps import Steps, reject
from workflows.vocabulary import practice_review_id

STAGES_BEFORE_PUBLICATION = (ReviewStage.terms_of_reference, ReviewStage.commissioning, ReviewStage.learning_events,
                             ReviewStage.draft_report, ReviewStage.final_sign_off, ReviewStage.publication_notice,
                             ReviewStage.publication)



@workflow.defn
class PracticeReviewWorkflow:
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

    @workflow.init
    def __init__(self, review: ReviewInput) -> None:
        """The state exists before any handler runs (an update in the first task waits for the start step)."""
        self.review = review
        self.rules = review.rules
        self.case_reference = review.case_reference
        method = review.methodology
        self.state = ReviewState(
            reference=review.reference, stage=ReviewStage.terms_of_reference, case_reference=review.case_reference,
            decided_on=method.decided_on, methods=method.methods, reviewer=method.reviewer, lead=method.lead,
            partners_decided_on=review.partners_decided_on,
        )
        self._reported = None  # the stage and flags the case last heard of
        self._tell_closure = True  # the closure is signalled too (reviews started before answer-first)
        self.steps = Steps(self.state, case_reference=review.case_reference,
                           partnership_name=review.partnership_name, record=self._record,
                           after_commit=self._tell_case)
        if review.round > 1:  # started again after a reopening: its keys never meet the first review's
            self.steps.workflow_id = f"{self.steps.workflow_id}#{review.round}"
        # The case's own calendar and the days it received: the review counts on the same days.
        self.clock = DeadlineClock(self.state, self.rules, self.steps, calendar=review.calendar,
                                   added_days=review.added_days, also_recount=self._recount_publication,
                                   who_owes=self._who_owes)
        self.actions = Actions(self.RULES, state=self.state, steps=self.steps, clock=self.clock, checks=self,
                               event_dates=self.EVENT_DATES)
        self.three_way = ThreeWaySignOff(self.state, self.steps, self.clock, action="sign_off_report",
                                         thing="final report", title="final CSPR report")
        self.joint = JointDecisions(self.state, self.steps, self.clock, {
            "extend_deadline": JointDecision(ExtendDeadline, self._extend_deadline,
                                             lambda a: f"Extend the review to {a.new_due.isoformat()}: {a.reason}"),
            "record_non_publication": JointDecision(RecordNonPublication, self._record_non_publication,
                                                    lambda a: f"Do not publish the report: {a.reasons}"),
            "hold_publication": JointDecision(HoldPublication, self._hold_publication,
                                              lambda a: f"Hold publication, to review on {a.review_on.isoformat()}: "
                                                        f"{a.reasons}"),
            "lift_publication_hold": JointDecision(LiftPublicationHold, self._lift_publication_hold,
                                                   lambda a: f"Lift the hold on publication: {a.reasons}"),
        }, self.actions.recheck, answer_action="answer_review_decision")
        self.actions.joint = self.joint

    @workflow.run
    async def run(self, review: ReviewInput) -> str:
        # Only a case's own workflow starts its review (the server sets the parent; no client can). Every review
        # ever started had its parent, so no running case can take another path here.
        parent = workflow.info().parent
        if parent is None or practice_review_id(parent.workflow_id) != workflow.info().workflow_id:
            raise ApplicationError("A practice review is started only by its case's workflow: refused.",
                                   type="NotSealed", non_retryable=True)
        method = review.methodology
        # Reviews started before the partners' joint decisions keep one Executive's extension and the business
        # unit's record of non-publication, as they ran (workflows/joint_decision.py).
        self.state.joint_decisions = workflow.patched("joint-decisions")
        # As its case: documents after the answer (workflows/steps.py); and the case is told only what it does not
        # know: not the stage the review starts at (it recorded it when the partners
        # chose the methodology), nor the closure (the child's completion says it), unless the closing step changed
        # a flag. Reviews started before the patch signal both and run as they ran.
        if workflow.patched("answer-first"):
            self.steps.documents_after_reply = True
            self._reported = (ReviewStage.terms_of_reference, False, False)
            self._tell_closure = False
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
        except asyncio.CancelledError:
            await self._stopped_by_case()
            raise
        await self.steps.documents_issued()
        await workflow.wait_condition(workflow.all_handlers_finished)  # let the closing update reply
        return self.state.closed_reason or "closed"

    def _who_owes(self, found) -> list[Outstanding]:
        """Who a reminder or escalation names: while the final report awaits sign-off, the seats yet to approve
        it (not the business unit, whose part is done); otherwise the deadline's owner."""
        if self.state.stage == ReviewStage.final_sign_off and self.state.report_version:
            return self.three_way.outstanding(found.title, self.state.report_version, found.due)
        return owed_by_owner(found)

    async def _stopped_by_case(self) -> None:
        """The case was closed while the review ran: cancel the review's tasks and deadlines."""
        step = self.steps.new_step("stopped")
        self.state.closed_reason = "stopped: the case was closed"
        self.clock.cancel_all()
        self.state.stage = ReviewStage.closed
        for proposal in [p for p in self.state.joint_proposals if p.status == "open"]:
            self.joint.settle(proposal, "superseded", step, "the case was closed")
        step.settle.append(self.steps.cancel("", "the case was closed"))
        step.audit = AuditEntry(actor_id=None, actor_role="system", action="practice_review_stopped", detail={})
        self._record(step)  # the read model's review row says closed too (the figures never count it as late)
        await self.steps.apply(step)
        await self.steps.documents_issued()  # the documents of its last steps are still issued

    @workflow.query
    def state(self, today: str | None = None) -> dict:
        return self.clock.view(date.fromisoformat(today) if today else None)

    # ------------------------------------------------------------------ updates

    @workflow.update
    async def add_calendar_day(self, notice: CalendarDayAdded) -> list[dict]:
        """A one-off bank holiday or closure day added by the partnership: the deadlines it moves, and why."""
        return await self.clock.add_calendar_day(notice)

    @add_calendar_day.validator
    def _validate_add_calendar_day(self, notice: CalendarDayAdded) -> None:
        self.clock.validate_calendar_day(notice)

    def _recount_publication(self) -> list[dict]:
        """The earliest day of publication after the notice, counted again (a statutory count)."""
        moved = []
        if self.state.stage == ReviewStage.publication and self.state.notice_sent_on is not None:
            days = self.rules.publication_notice_working_days
            earliest = self.clock.statutory_days_after(self.state.notice_sent_on, days)
            if earliest != self.state.earliest_publication:
                moved.append({"deadline": "earliest_publication", "title": "Earliest day of publication",
                              "from": self.state.earliest_publication.isoformat(), "to": earliest.isoformat(),
                              "clock": ClockKind.statutory})
                self.state.earliest_publication = earliest
        return moved

    @workflow.update
    async def agree_terms_of_reference(self, action: AgreeTermsOfReference) -> dict:
        return await self.actions.act("agree_terms_of_reference", action, self._agree_terms_of_reference)

    @agree_terms_of_reference.validator
    def _validate_agree_terms_of_reference(self, action: AgreeTermsOfReference) -> None:
        self.actions.validate("agree_terms_of_reference", action)

    @workflow.update
    async def commission_reviewer(self, action: CommissionReviewer) -> dict:
        return await self.actions.act("commission_reviewer", action, self._commission_reviewer)

    @commission_reviewer.validator
    def _validate_commission_reviewer(self, action: CommissionReviewer) -> None:
        self.actions.validate("commission_reviewer", action)

    @workflow.update
    async def record_learning_event(self, action: RecordLearningEvent) -> dict:
        return await self.actions.act("record_learning_event", action, self._record_learning_event)

    @record_learning_event.validator
    def _validate_record_learning_event(self, action: RecordLearningEvent) -> None:
        self.actions.validate("record_learning_event", action)

    @workflow.update
    async def submit_draft_report(self, action: SubmitDraftReport) -> dict:
        return await self.actions.act("submit_draft_report", action, self._submit_draft_report)

    @submit_draft_report.validator
    def _validate_submit_draft_report(self, action: SubmitDraftReport) -> None:
        self.actions.validate("submit_draft_report", action)

    @workflow.update
    async def submit_final_report(self, action: SubmitFinalReport) -> dict:
        return await self.actions.act("submit_final_report", action, self._submit_final_report)

    @submit_final_report.validator
    def _validate_submit_final_report(self, action: SubmitFinalReport) -> None:
        self.actions.validate("submit_final_report", action)

    @workflow.update
    async def sign_off_report(self, action: SignOff) -> dict:
        return await self.actions.act("sign_off_report", action, self._sign_off_report)

    @sign_off_report.validator
    def _validate_sign_off_report(self, action: SignOff) -> None:
        self.actions.validate("sign_off_report", action)

    @workflow.update
    async def send_publication_notice(self, action: SendPublicationNotice) -> dict:
        return await self.actions.act("send_publication_notice", action, self._send_publication_notice)

    @send_publication_notice.validator
    def _validate_send_publication_notice(self, action: SendPublicationNotice) -> None:
        self.actions.validate("send_publication_notice", action)

    @workflow.update
    async def record_publication(self, action: RecordPublication) -> dict:
        return await self.actions.act("record_publication", action, self._record_publication)

    @record_publication.validator
    def _validate_record_publication(self, action: RecordPublication) -> None:
        self.actions.validate("record_publication", action)

    @workflow.update
    async def record_non_publication(self, action: RecordNonPublication) -> dict:
        return await self.actions.act("record_non_publication", action, self._record_non_publication)

    @record_non_publication.validator
    def _validate_record_non_publication(self, action: RecordNonPublication) -> None:
        self.actions.validate("record_non_publication", action)

    @workflow.update
    async def record_learning_workshop(self, action: RecordLearningWorkshop) -> dict:
        return await self.actions.act("record_learning_workshop", action, self._record_learning_workshop)

    @record_learning_workshop.validator
    def _validate_record_learning_workshop(self, action: RecordLearningWorkshop) -> None:
        self.actions.validate("record_learning_workshop", action)

    @workflow.update
    async def record_one_year_workshop(self, action: RecordLearningWorkshop) -> dict:
        return await self.actions.act("record_one_year_workshop", action, self._record_one_year_workshop)

    @record_one_year_workshop.validator
    def _validate_record_one_year_workshop(self, action: RecordLearningWorkshop) -> None:
        self.actions.validate("record_one_year_workshop", action)

    @workflow.update
    async def extend_deadline(self, action: ExtendDeadline) -> dict:
        return await self.actions.act("extend_deadline", action, self._extend_deadline)

    @extend_deadline.validator
    def _validate_extend_deadline(self, action: ExtendDeadline) -> None:
        self.actions.validate("extend_deadline", action)

    @workflow.update
    async def hold_publication(self, action: HoldPublication) -> dict:
        """Propose to the partners that publication is held, with a date to review it"""
        return await self.actions.act("hold_publication", action, self._hold_publication)

    @hold_publication.validator
    def _validate_hold_publication(self, action: HoldPublication) -> None:
        self.actions.validate("hold_publication", action)

    @workflow.update
    async def lift_publication_hold(self, action: LiftPublicationHold) -> dict:
        """Propose to the partners that the hold on publication is lifted"""
        return await self.actions.act("lift_publication_hold", action, self._lift_publication_hold)

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

    # ------------------------------------------------------------------ checks

    def _check_agree_terms_of_reference(self, action: AgreeTermsOfReference) -> None:
        self.actions.not_future(action.agreed_on, "date the terms of reference were agreed")
        self.actions.not_before(action.agreed_on, self.state.decided_on, "date of agreement", "decision to review")

    def _check_commission_reviewer(self, action: CommissionReviewer) -> None:
        self.actions.not_future(action.commissioned_on, "date of commissioning")
        self.actions.not_before(action.commissioned_on, self.state.decided_on, "date of commissioning",
                                "decision to review")

    def _in_order(self, day, earlier, what: str, earlier_what: str) -> None:
        """Dates checked against the review's own dates, on reviews started since the check (``joint_decisions``
        marks them): a running review replays the actions it accepted before, whatever their dates."""
        if self.state.joint_decisions:
            self.actions.not_before(day, earlier, what, earlier_what)

    def _commissioned_on(self):
        return self.state.commissioned.commissioned_on if self.state.commissioned else None

    def _check_record_learning_event(self, action: RecordLearningEvent) -> None:
        self.actions.not_future(action.held_on, "date of the event")
        self._in_order(action.held_on, self.state.decided_on, "date of the event", "decision to review")

    def _check_submit_draft_report(self, action: SubmitDraftReport) -> None:
        self.actions.not_future(action.received_on, "date the draft was received")
        self._in_order(action.received_on, self._commissioned_on(), "date the draft was received",
                       "reviewer's commissioning")

    def _check_submit_final_report(self, action: SubmitFinalReport) -> None:
        self.actions.not_future(action.received_on, "date the final report was received")
        latest_draft = self.state.drafts[-1].received_on if self.state.drafts else None
        self._in_order(action.received_on, latest_draft, "date the final report was received", "latest draft")
        if self.state.stage != ReviewStage.draft_report and not action.revision_reason.strip():
            raise reject("The final report was signed off: say why it is revised (revision reason).")

    def _check_hold_publication(self, action: HoldPublication) -> None:
        if not self.state.joint_decisions:
            raise reject("This review was started before the partners' joint decisions: a hold cannot be recorded.")
        if action.review_on <= self.clock.today():
            raise reject(f"The review date ({action.review_on.isoformat()}) must be after today.")

    def _check_lift_publication_hold(self, action: LiftPublicationHold) -> None:
        if self.state.publication_hold is None:
            raise reject("Publication is not held.")

    def _check_sign_off_report(self, action: SignOff) -> None:
        self.three_way.check(action, self.state.report_version)

    def _check_send_publication_notice(self, action: SendPublicationNotice) -> None:
        self.actions.not_future(action.sent_on, "date the notice was sent")
        signed = max((s.on for s in self.state.sign_offs if s.version == self.state.report_version), default=None)
        self._in_order(action.sent_on, signed, "date the notice was sent", "partners' sign-off of the final report")

    def _check_record_publication(self, action: RecordPublication) -> None:
        hold = self.state.publication_hold
        if hold is not None:
            raise reject(f"The partners hold publication ({hold.reasons}), to review on {hold.review_on.isoformat()}; "
                         "it is published once they lift the hold.")
        self.actions.not_future(action.published_on, "date of publication")
        earliest = self.state.earliest_publication
        if earliest and action.published_on < earliest:
            raise reject(
                f"Publication on {action.published_on.isoformat()} is too early: the report must reach the National "
                f"Panel and DfE at least {self.rules.publication_notice_working_days} working days before "
                f"publication, so the earliest date is {earliest.isoformat()}."
            )

    def _check_record_non_publication(self, action: RecordNonPublication) -> None:
        if not self.state.joint_decisions and action.actor.role != Role.business_unit:
            raise reject("On this review (started before the partners' joint decisions) the business unit records it.")
        self.actions.not_future(action.improvements_published_on, "date the improvements were published")
        self._in_order(action.improvements_published_on, self.state.notice_sent_on,
                       "date the improvements were published", "notice to the National Panel and DfE")

    def _check_record_learning_workshop(self, action: RecordLearningWorkshop) -> None:
        self.actions.not_future(action.held_on, "date of the workshop")
        self.actions.not_before(action.held_on, self._publication_date(), "date of the workshop", "publication")

    def _check_record_one_year_workshop(self, action: RecordLearningWorkshop) -> None:
        self.actions.not_future(action.held_on, "date of the workshop")
        self.actions.not_before(action.held_on, self.state.learning_workshop_on, "date of the one-year-on workshop",
                                "post-publication workshop")
        if self.state.joint_decisions and action.held_on == self.state.learning_workshop_on:
            raise reject("The one-year-on workshop cannot be on the same day as the post-publication workshop "
                         f"({action.held_on.isoformat()}): it reviews what changed since.")

    def _check_answer_review_decision(self, action: AnswerJointDecision) -> None:
        self.joint.check_answer(action)

    def _check_extend_deadline(self, action: ExtendDeadline) -> None:
        current = self.clock.deadline("cspr_revised") or self.clock.deadline("cspr")
        if action.new_due <= current.due:
            raise reject(f"The revised date ({action.new_due.isoformat()}) must be after the current target "
                         f"({current.due.isoformat()}).")

    # ------------------------------------------------------------------ effects

    def _publication_date(self):
        return self.state.published_on or (
            self.state.notice_sent_on if self.state.not_published_reasons else None)

    def _agree_terms_of_reference(self, action: AgreeTermsOfReference, step, documents) -> None:
        self.state.terms_of_reference = action
        step.settle.append(self.steps.done("agree_terms_of_reference"))
        self.steps.move_to(step, ReviewStage.commissioning, action.actor, "agree_terms_of_reference")
        step.tasks.append(self.steps.task(
            "commission_reviewer", TaskKind.action, "Commission the reviewer",
            f"{self.state.reviewer} ({self.review.methodology.reviewer_kind}): confirm the commission.",
            Role.business_unit, due=self.clock.deadline("commission").due, action="commission_reviewer",
        ))
        documents.append(self.steps.document(DocumentKind.terms_of_reference, action.actor.name, TermsOfReference(
            pseudonym=self.review.pseudonym, scope=action.scope, research_questions=action.research_questions,
            methods=[str(m) for m in self.state.methods], reviewer=self.state.reviewer, lead=self.state.lead,
            agreed_on=action.agreed_on, due=self.clock.deadline("cspr").due, months=self.rules.cspr_months,
        )))

    def _commission_reviewer(self, action: CommissionReviewer, step, documents) -> None:
        self.state.commissioned = action
        self.state.reviewer = action.reviewer
        self.clock.meet("commission", step, on=action.commissioned_on)
        step.settle.append(self.steps.done("commission_reviewer", action.reviewer))
        self.steps.move_to(step, ReviewStage.learning_events, action.actor, "commission_reviewer")
        step.tasks.append(self.steps.task(
            "submit_draft_report", TaskKind.action, "Hold the learning events and receive the draft report",
            "Record practitioner workshops, learning events and family engagement; then the draft report.",
            Role.business_unit, due=self.clock.deadline("cspr").due, action="submit_draft_report",
        ))

    def _record_learning_event(self, action: RecordLearningEvent, step, documents) -> None:
        self.state.learning_events.append(action)

    def _submit_draft_report(self, action: SubmitDraftReport, step, documents) -> None:
        self.state.drafts.append(action)
        step.settle.append(self.steps.done("submit_draft_report", f"draft {len(self.state.drafts)}"))
        if self.state.stage != ReviewStage.draft_report:
            self.steps.move_to(step, ReviewStage.draft_report, action.actor, "submit_draft_report")
        step.tasks.append(self.steps.task(
            f"submit_final_report:{len(self.state.drafts)}", TaskKind.action, "Submit the final report for sign-off",
            "When the draft is settled, send the final report to the three Executive seats.", Role.business_unit,
            due=self.clock.deadline("cspr").due, action="submit_final_report",
        ))

    def _submit_final_report(self, action: SubmitFinalReport, step, documents) -> None:
        """A final report for sign-off; one revised after sign-off is signed again and its notice sent again."""
        self.state.final_report = action
        self.state.report_version += 1
        version = self.state.report_version
        if self.state.stage in (ReviewStage.publication_notice, ReviewStage.publication):
            self.state.notice_sent_on = self.state.earliest_publication = None
            step.settle.append(self.steps.cancel("send_publication_notice", f"report revised (version {version})"))
            step.settle.append(self.steps.cancel("publish", f"report revised (version {version})"))
        step.settle.append(self.steps.done("submit_final_report:", f"version {version}"))
        self.steps.move_to(step, ReviewStage.final_sign_off, action.actor, "submit_final_report")
        self.three_way.ask(step, version, self.clock.deadline("cspr").due)

    def _sign_off_report(self, action: SignOff, step, documents) -> None:
        version, seat = self.state.report_version, action.actor.seat
        approved = self.three_way.record(action, step, version)
        if action.decision == "return":
            self.steps.move_to(step, ReviewStage.draft_report, action.actor, "sign_off_report")
            step.tasks.append(self.steps.task(
                f"submit_final_report:returned:{version}", TaskKind.action, "Revise the final report (returned)",
                f"Returned by {SEAT_NAMES[seat]}: {action.comments}", Role.business_unit,
                due=self.clock.deadline("cspr").due, action="submit_final_report",
            ))
            return
        if approved:
            due = add_months(self.clock.today(), self.rules.recommendation_months)
            step.plan_actions = [
                PlanActionSpec(key=f"{self.case_reference}:cspr:{i}", source="cspr_recommendation",
                               description=text, due=due)
                for i, text in enumerate(self.state.final_report.recommendations, start=1)
            ]
            self.steps.move_to(step, ReviewStage.publication_notice, action.actor, "sign_off_report")
            again = f":v{version}" if version > 1 else ""
            step.tasks.append(self.steps.task(
                f"send_publication_notice{again}", TaskKind.action,
                "Send the final report to the National Panel and DfE",
                f"At least {self.rules.publication_notice_working_days} working days before publication.",
                Role.business_unit, due=self.clock.deadline("cspr").due, action="send_publication_notice",
            ))

    def _send_publication_notice(self, action: SendPublicationNotice, step, documents) -> None:
        self.state.notices_sent += 1  # a report revised after sign-off sends its notice again
        self.state.notice_sent_on = action.sent_on
        days = self.rules.publication_notice_working_days
        self.state.earliest_publication = self.clock.statutory_days_after(action.sent_on, days)
        step.settle.append(self.steps.done("send_publication_notice"))
        self.steps.move_to(step, ReviewStage.publication, action.actor, "send_publication_notice")
        documents.append(self.steps.document(DocumentKind.publication_notice, action.actor.name, PublicationNotice(
            pseudonym=self.review.pseudonym, sent_on=action.sent_on,
            earliest_publication=self.state.earliest_publication, rule=RULE_PUBLICATION_NOTICE.format(n=days),
            report_version=self.state.report_version,
            recommendations=self.state.final_report.recommendations if self.state.final_report else [],
        ), version=self.state.notices_sent))
        version = self.state.report_version
        step.tasks.append(self.steps.task(
            f"publish:v{version}" if version > 1 else "publish", TaskKind.action,
            "Publish the report (or record why not)",
            f"Not before {self.state.earliest_publication.isoformat()}.", Role.business_unit,
            due=self.clock.deadline("cspr").due, action="record_publication",
        ))

    def _published(self, actor, action_name: str, on, step, documents) -> None:
        self.clock.meet("cspr", step, on=on)
        self.clock.meet("cspr_revised", step, on=on)
        step.settle.append(self.steps.done("publish", action_name))
        self.steps.move_to(step, ReviewStage.learning_workshop, actor, action_name)
        step.tasks.append(self.steps.task(
            "record_learning_workshop", TaskKind.action, "Hold the partnership-wide learning workshop",
            "Share the review's learning across the partnership.", Role.business_unit,
            due=self.clock.working_days_after(on, 20), action="record_learning_workshop",
        ))
        documents.append(self.steps.document(DocumentKind.seven_minute_briefing, actor.name, self._briefing(on)))

    def _briefing(self, on) -> SevenMinuteBriefing:
        """The 7-minute briefing is shared with practitioners: it carries the final report's agreed learning and
        its recommendations (the learning falls back to the recommendations), never the notes of learning events,
        which hold case detail. Only the document's input changes (activity inputs are not compared on replay),
        so running reviews replay as they ran and no ``workflow.patched`` is needed."""
        report = self.state.final_report
        recommendations = list(report.recommendations) if report else []
        return SevenMinuteBriefing(
            pseudonym=self.review.pseudonym, published_on=on, report_published=self.state.published_on is not None,
            link=self.state.publication_link, methods=[str(m) for m in self.state.methods],
            key_learning=list(report.key_learning) if report and report.key_learning else recommendations,
            recommendations=recommendations,
        )

    def _hold_publication(self, action: HoldPublication, step, documents) -> None:
        """Held by the partners, with a date to review the hold (the business unit's task)."""
        self.state.publication_hold = action
        self.state.holds.append(action)
        step.tasks.append(self.steps.task(
            f"review_publication_hold:{len(self.state.holds)}", TaskKind.decision,
            "Review the hold on publication with the partners",
            f"Held: {action.reasons}. Lift the hold, revise the report, or hold again with a new review date.",
            Role.business_unit, due=action.review_on, action="lift_publication_hold",
        ))

    def _lift_publication_hold(self, action: LiftPublicationHold, step, documents) -> None:
        self.state.publication_hold = None
        step.settle.append(self.steps.done("review_publication_hold:", "hold lifted"))

    def _record_publication(self, action: RecordPublication, step, documents) -> None:
        self.state.published_on = action.published_on
        self.state.publication_link = action.link
        self._published(action.actor, "record_publication", action.published_on, step, documents)

    def _record_non_publication(self, action: RecordNonPublication, step, documents) -> None:
        self.state.not_published_reasons = action.reasons
        self.state.improvements_published_on = action.improvements_published_on
        self.state.published_on = None
        self.state.notice_sent_on = self.state.notice_sent_on or action.improvements_published_on
        self._published(action.actor, "record_non_publication", action.improvements_published_on, step, documents)

    def _record_learning_workshop(self, action: RecordLearningWorkshop, step, documents) -> None:
        self.state.learning_workshop_on = action.held_on
        step.settle.append(self.steps.done("record_learning_workshop"))
        anchor = self.state.published_on or action.held_on
        due = add_months(anchor, 12)
        self.state.one_year_workshop_due = due
        self.clock.add_deadline("one_year_on", "Learning workshop one year after publication", due, RULE_ONE_YEAR_ON,
                                Role.business_unit, reminders=[add_months(anchor, 11)])
        self.steps.move_to(step, ReviewStage.one_year_on, action.actor, "record_learning_workshop")
        step.tasks.append(self.steps.task(
            "record_one_year_workshop", TaskKind.action, "Hold the one-year-on learning workshop",
            "Review what has changed since publication.", Role.business_unit, due=due,
            action="record_one_year_workshop",
        ))

    def _record_one_year_workshop(self, action: RecordLearningWorkshop, step, documents) -> None:
        self.state.one_year_workshop_on = action.held_on
        self.clock.meet("one_year_on", step, on=action.held_on)
        step.settle.append(self.steps.done("", "review closed"))
        self.state.closed_reason = "published" if self.state.published_on else "not published (improvements published)"
        self.clock.cancel_all()
        self.steps.move_to(step, ReviewStage.closed, action.actor, "record_one_year_workshop")

    def _extend_deadline(self, action: ExtendDeadline, step, documents) -> None:
        """A revised target beside the statutory date, which is kept and judged as it stands; the delay is
        explained once, and the notice to the National Panel and the DfE is issued."""
        statutory = self.clock.deadline("cspr")
        agreed_by = self.joint.agreed_by("extend_deadline") or action.actor.name
        self.state.extensions.append(Extension(revised_due=action.new_due, reason=action.reason,
                                               agreed_by=agreed_by, agreed_on=self.clock.today()))
        statutory.delay_reason = action.reason
        self.state.unexplained_delays = [k for k in self.state.unexplained_delays if k != "cspr"]
        self.clock.add_deadline("cspr_revised", "Local CSPR completed and published (agreed revised target)",
                                action.new_due,
                                RULE_CSPR_REVISED.format(reason=action.reason, statutory=statutory.due.isoformat()),
                                Role.business_unit)
        documents.append(self.steps.document(DocumentKind.cspr_delay_notice, action.actor.name, CsprDelayNotice(
            pseudonym=self.review.pseudonym, statutory_due=statutory.due, revised_due=action.new_due,
            reason=action.reason, agreed_by=agreed_by, agreed_on=self.clock.today(),
            months=self.rules.cspr_months, decided_on=self.state.partners_decided_on,
        ), version=len(self.state.extensions)))

    # ------------------------------------------------------------------ what the case hears

    async def _tell_case(self) -> None:
        """After each step, tell the parent case when the stage or the late/escalated flags changed
        (a signal, delivered durably by Temporal)."""
        parent = workflow.info().parent
        marker = (self.state.stage, self.state.late, self.state.escalated)
        if parent is None or marker == self._reported:
            return
        if self.state.stage == ReviewStage.closed and not self._tell_closure and marker[1:] == self._reported[1:]:
            return  # the case hears of the closure from the child's completion; no flag changed with it
        self._reported = marker
        progress = ReviewProgress(stage=self.state.stage, late=self.state.late, escalated=self.state.escalated,
                                  sequence=self.state.step)
        progress.seal = authenticity.seal(workflow.info().workflow_id, "practice_review_progress",
                                          str(progress.sequence), progress.sealed_fields())
        from workflows.rapid_review import RapidReviewWorkflow  # the parent's module imports this one

        await workflow.get_external_workflow_handle_for(RapidReviewWorkflow.run, parent.workflow_id).signal(
            RapidReviewWorkflow.practice_review_progress, progress)

    def _record(self, step: CaseStep) -> None:
        """The review's row in the read model, on every step (and its state, read instead of queried)."""
        step.review = self.review_snapshot()
        if workflow.patched("state-in-step"):
            step.stored_state = StoredState(workflow_id=workflow.info().workflow_id,
                                            state=self.state.model_dump(mode="json"),
                                            calendar=stored_calendar(self.clock.calendar))

    def review_snapshot(self) -> ReviewSnapshot:
        st, due = self.state, self.clock.deadline("cspr")
        return ReviewSnapshot(
            case_reference=st.case_reference, stage=st.stage, decided_on=st.partners_decided_on or st.decided_on,
            due=due.due if due else None,
            methods=[str(m) for m in st.methods], late=st.late,
            recommendations=list(st.final_report.recommendations) if st.final_report else [],
            published_on=st.published_on, publication_link=st.publication_link,
            not_published_reasons=st.not_published_reasons,
            completed_on=st.published_on or st.improvements_published_on,
        )
