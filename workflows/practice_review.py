"""PracticeReviewWorkflow: the local CSPR, a child of the case, on its six-month clock.

Started when the Executive chooses the methodology. Terms of reference, reviewer commissioned,
learning events, draft and final report, three-way sign-off, notice to the National Panel and DfE at
least 7 working days before publication, publication (or reasons not to publish), the learning
workshop, and a durable one-year timer for the workshop one year on. It tells its parent case of each
stage change; the API acts on it through its own workflow id (``<reference>-cspr``).
"""

from __future__ import annotations

import asyncio

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from workflows import authenticity
    from workflows import rules as R
    from workflows.calendar import add_months
    from workflows.models import (
        AgreeTermsOfReference,
        AuditEntry,
        CalendarDayAdded,
        CommissionReviewer,
        ExtendDeadline,
        Extension,
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
        SignOffRecord,
        StageChange,
        SubmitDraftReport,
        SubmitFinalReport,
    )
    from workflows.vocabulary import SEAT_NAMES, Role, Seat, Stage

from workflows.effects import CaseSteps
from workflows.process import ACTIVITY_TIMEOUT, EFFECT_RETRY, Process, reject
from workflows.vocabulary import practice_review_id


class ReviewStage:
    terms_of_reference = "terms_of_reference"
    commissioning = "commissioning"
    learning_events = "learning_events"
    draft_report = "draft_report"
    final_sign_off = "final_sign_off"
    publication_notice = "publication_notice"
    publication = "publication"
    learning_workshop = "learning_workshop"
    one_year_on = "one_year_on"
    closed = Stage.closed.value


P = ReviewStage
BEFORE_PUBLICATION = frozenset({P.terms_of_reference, P.commissioning, P.learning_events, P.draft_report,
                                P.final_sign_off, P.publication_notice, P.publication})
BU = frozenset({Role.business_unit})


@workflow.defn
class PracticeReviewWorkflow(Process):
    RULES = {
        "agree_terms_of_reference": (frozenset({P.terms_of_reference}), BU),
        "commission_reviewer": (frozenset({P.commissioning}), BU),
        "record_learning_event": (frozenset({P.learning_events, P.draft_report}), BU),
        "submit_draft_report": (frozenset({P.learning_events, P.draft_report}), BU),
        "submit_final_report": (frozenset({P.draft_report}), BU),
        "sign_off_report": (frozenset({P.final_sign_off}), frozenset({Role.executive})),
        "send_publication_notice": (frozenset({P.publication_notice}), BU),
        "record_publication": (frozenset({P.publication}), BU),
        "record_non_publication": (frozenset({P.publication}), BU),
        "record_learning_workshop": (frozenset({P.learning_workshop}), BU),
        "record_one_year_workshop": (frozenset({P.one_year_on}), BU),
        # Only the partners agree an extension (Working Together 2023, ch. 5); the business unit records it for them
        # by preparing the delay notice the service issues.
        "extend_deadline": (BEFORE_PUBLICATION, frozenset({Role.executive})),
    }

    EVENT_DATES = {
        "commission_reviewer": ("commission", "commissioned_on"),
        "record_publication": ("cspr", "published_on"),
        "record_one_year_workshop": ("one_year_on", "held_on"),
    }

    @workflow.init
    def __init__(self, review: ReviewInput) -> None:
        """The state exists before any handler runs (an update in the first task waits for the start step)."""
        self._init_process()
        self.review = review
        self.rules = review.rules
        self.case_calendar, self.added_days = review.calendar, list(review.added_days)  # the case's own days
        self.case_reference = review.case_reference
        self.partnership_name = review.partnership_name
        method = review.methodology
        self.state = ReviewState(
            reference=review.reference, stage=P.terms_of_reference, case_reference=review.case_reference,
            decided_on=method.decided_on, methods=method.methods, reviewer=method.reviewer, lead=method.lead,
            partners_decided_on=review.partners_decided_on,
        )

    @workflow.run
    async def run(self, review: ReviewInput) -> str:
        # Only a case's own workflow starts its review (the server sets the parent; no client can). Every review
        # ever started had its parent, so no running case can take another path here.
        parent = workflow.info().parent
        if parent is None or practice_review_id(parent.workflow_id) != workflow.info().workflow_id:
            raise ApplicationError("A practice review is started only by its case's workflow: refused.",
                                   type="NotSealed", non_retryable=True)
        method = review.methodology
        async with self._lock:
            self.opened = True  # an update that came with the start now waits for this lock
            step = self.new_step("start")
            self.state.stage_history.append(StageChange(stage=P.terms_of_reference, at=workflow.now(),
                                                        by=method.actor.name, role=method.actor.role,
                                                        action="choose_methodology"))
            months, decided = self.rules.cspr_months, review.partners_decided_on
            self.add_deadline(
                "cspr", "Local CSPR completed and published (statutory)", add_months(decided, months),
                R.RULE_CSPR.format(n=months), Role.business_unit,
                reminders=[add_months(decided, m) for m in self.rules.cspr_reminder_months],
            )
            commission_days = self.rules.reviewer_commission_working_days
            self.add_counted_deadline(
                "commission", "Reviewer commissioned", method.decided_on, commission_days,
                R.RULE_COMMISSION.format(n=commission_days), Role.business_unit, statutory=False,
            )
            step.tasks.append(self.task(
                "agree_terms_of_reference", "action", "Agree the terms of reference of the local CSPR",
                "Scope, research questions and methods, agreed with the reviewer and lead.", Role.business_unit,
                due=self.working_days_after(self.today(), 10), action="agree_terms_of_reference",
            ))
            step.audit = AuditEntry(actor_id=method.actor.user_id, actor_role=method.actor.role,
                                    action="practice_review_started",
                                    detail={"methods": [str(m) for m in method.methods], "reviewer": method.reviewer,
                                            "reviewer_kind": method.reviewer_kind, "lead": method.lead})
            await self.commit(step)
        try:
            await self.run_clock()
        except asyncio.CancelledError:
            await self._stopped_by_case()
            raise
        await workflow.wait_condition(workflow.all_handlers_finished)  # let the closing update reply
        return self.state.closed_reason or "closed"

    async def _stopped_by_case(self) -> None:
        """The case was closed while the review ran: cancel the review's tasks and deadlines."""
        step = self.new_step("stopped")
        self.state.closed_reason = "stopped: the case was closed"
        self.cancel_all_deadlines()
        self.state.stage = P.closed
        step.settle.append(self.settle("", "cancelled", "the case was closed"))
        step.audit = AuditEntry(actor_id=None, actor_role="system", action="practice_review_stopped", detail={})
        await workflow.execute_activity_method(CaseSteps.apply_case_step, step, start_to_close_timeout=ACTIVITY_TIMEOUT,
                                               retry_policy=EFFECT_RETRY)

    @workflow.query
    def state(self, today: str | None = None) -> dict:
        from datetime import date as _date

        return self.view(_date.fromisoformat(today) if today else None)

    # ------------------------------------------------------------------ updates

    @workflow.update
    async def add_calendar_day(self, notice: CalendarDayAdded) -> list[dict]:
        """A one-off bank holiday or closure day added by the partnership: the deadlines it moves, and why."""
        return await self.receive_calendar_day(notice)

    @add_calendar_day.validator
    def _validate_add_calendar_day(self, notice: CalendarDayAdded) -> None:
        self.validate_calendar_day(notice)

    def recount_deadlines(self) -> list[dict]:
        """The deadlines, and the earliest day of publication after the notice (a statutory count)."""
        moved = super().recount_deadlines()
        if self.state.stage == P.publication and self.state.notice_sent_on is not None:
            earliest = self.statutory_days_after(self.state.notice_sent_on, self.rules.publication_notice_working_days)
            if earliest != self.state.earliest_publication:
                moved.append({"deadline": "earliest_publication", "title": "Earliest day of publication",
                              "from": self.state.earliest_publication.isoformat(), "to": earliest.isoformat(),
                              "clock": "statutory"})
                self.state.earliest_publication = earliest
        return moved

    @workflow.update
    async def agree_terms_of_reference(self, action: AgreeTermsOfReference) -> dict:
        return await self.act("agree_terms_of_reference", action, self._agree_terms_of_reference)

    @agree_terms_of_reference.validator
    def _validate_agree_terms_of_reference(self, action: AgreeTermsOfReference) -> None:
        self.validate("agree_terms_of_reference", action)

    @workflow.update
    async def commission_reviewer(self, action: CommissionReviewer) -> dict:
        return await self.act("commission_reviewer", action, self._commission_reviewer)

    @commission_reviewer.validator
    def _validate_commission_reviewer(self, action: CommissionReviewer) -> None:
        self.validate("commission_reviewer", action)

    @workflow.update
    async def record_learning_event(self, action: RecordLearningEvent) -> dict:
        return await self.act("record_learning_event", action, self._record_learning_event)

    @record_learning_event.validator
    def _validate_record_learning_event(self, action: RecordLearningEvent) -> None:
        self.validate("record_learning_event", action)

    @workflow.update
    async def submit_draft_report(self, action: SubmitDraftReport) -> dict:
        return await self.act("submit_draft_report", action, self._submit_draft_report)

    @submit_draft_report.validator
    def _validate_submit_draft_report(self, action: SubmitDraftReport) -> None:
        self.validate("submit_draft_report", action)

    @workflow.update
    async def submit_final_report(self, action: SubmitFinalReport) -> dict:
        return await self.act("submit_final_report", action, self._submit_final_report)

    @submit_final_report.validator
    def _validate_submit_final_report(self, action: SubmitFinalReport) -> None:
        self.validate("submit_final_report", action)

    @workflow.update
    async def sign_off_report(self, action: SignOff) -> dict:
        return await self.act("sign_off_report", action, self._sign_off_report)

    @sign_off_report.validator
    def _validate_sign_off_report(self, action: SignOff) -> None:
        self.validate("sign_off_report", action)

    @workflow.update
    async def send_publication_notice(self, action: SendPublicationNotice) -> dict:
        return await self.act("send_publication_notice", action, self._send_publication_notice)

    @send_publication_notice.validator
    def _validate_send_publication_notice(self, action: SendPublicationNotice) -> None:
        self.validate("send_publication_notice", action)

    @workflow.update
    async def record_publication(self, action: RecordPublication) -> dict:
        return await self.act("record_publication", action, self._record_publication)

    @record_publication.validator
    def _validate_record_publication(self, action: RecordPublication) -> None:
        self.validate("record_publication", action)

    @workflow.update
    async def record_non_publication(self, action: RecordNonPublication) -> dict:
        return await self.act("record_non_publication", action, self._record_non_publication)

    @record_non_publication.validator
    def _validate_record_non_publication(self, action: RecordNonPublication) -> None:
        self.validate("record_non_publication", action)

    @workflow.update
    async def record_learning_workshop(self, action: RecordLearningWorkshop) -> dict:
        return await self.act("record_learning_workshop", action, self._record_learning_workshop)

    @record_learning_workshop.validator
    def _validate_record_learning_workshop(self, action: RecordLearningWorkshop) -> None:
        self.validate("record_learning_workshop", action)

    @workflow.update
    async def record_one_year_workshop(self, action: RecordLearningWorkshop) -> dict:
        return await self.act("record_one_year_workshop", action, self._record_one_year_workshop)

    @record_one_year_workshop.validator
    def _validate_record_one_year_workshop(self, action: RecordLearningWorkshop) -> None:
        self.validate("record_one_year_workshop", action)

    @workflow.update
    async def extend_deadline(self, action: ExtendDeadline) -> dict:
        return await self.act("extend_deadline", action, self._extend_deadline)

    @extend_deadline.validator
    def _validate_extend_deadline(self, action: ExtendDeadline) -> None:
        self.validate("extend_deadline", action)

    # ------------------------------------------------------------------ checks

    def _check_agree_terms_of_reference(self, action: AgreeTermsOfReference) -> None:
        self.check_not_future(action.agreed_on, "date the terms of reference were agreed")
        self.check_not_before(action.agreed_on, self.state.decided_on, "date of agreement", "decision to review")

    def _check_commission_reviewer(self, action: CommissionReviewer) -> None:
        self.check_not_future(action.commissioned_on, "date of commissioning")
        self.check_not_before(action.commissioned_on, self.state.decided_on, "date of commissioning",
                              "decision to review")

    def _check_record_learning_event(self, action: RecordLearningEvent) -> None:
        self.check_not_future(action.held_on, "date of the event")

    def _check_submit_draft_report(self, action: SubmitDraftReport) -> None:
        self.check_not_future(action.received_on, "date the draft was received")

    def _check_submit_final_report(self, action: SubmitFinalReport) -> None:
        self.check_not_future(action.received_on, "date the final report was received")

    def _check_sign_off_report(self, action: SignOff) -> None:
        self.check_three_way(action, self.state.report_version, "final report")

    def _check_send_publication_notice(self, action: SendPublicationNotice) -> None:
        self.check_not_future(action.sent_on, "date the notice was sent")

    def _check_record_publication(self, action: RecordPublication) -> None:
        self.check_not_future(action.published_on, "date of publication")
        earliest = self.state.earliest_publication
        if earliest and action.published_on < earliest:
            raise reject(
                f"Publication on {action.published_on.isoformat()} is too early: the report must reach the National "
                f"Panel and DfE at least {self.rules.publication_notice_working_days} working days before "
                f"publication, so the earliest date is {earliest.isoformat()}."
            )

    def _check_record_non_publication(self, action: RecordNonPublication) -> None:
        self.check_not_future(action.improvements_published_on, "date the improvements were published")

    def _check_record_learning_workshop(self, action: RecordLearningWorkshop) -> None:
        self.check_not_future(action.held_on, "date of the workshop")
        self.check_not_before(action.held_on, self._publication_date(), "date of the workshop", "publication")

    def _check_record_one_year_workshop(self, action: RecordLearningWorkshop) -> None:
        self.check_not_future(action.held_on, "date of the workshop")
        self.check_not_before(action.held_on, self.state.learning_workshop_on, "date of the one-year-on workshop",
                              "post-publication workshop")

    def _check_extend_deadline(self, action: ExtendDeadline) -> None:
        current = self.deadline("cspr_revised") or self.deadline("cspr")
        if action.new_due <= current.due:
            raise reject(f"The revised date ({action.new_due.isoformat()}) must be after the current target "
                         f"({current.due.isoformat()}).")

    # ------------------------------------------------------------------ effects

    def _publication_date(self):
        return self.state.published_on or (
            self.state.notice_sent_on if self.state.not_published_reasons else None)

    def _agree_terms_of_reference(self, action: AgreeTermsOfReference, step, documents) -> None:
        self.state.terms_of_reference = action
        step.settle.append(self.settle("agree_terms_of_reference", "done"))
        self.move_to(P.commissioning, action.actor, "agree_terms_of_reference")
        step.tasks.append(self.task(
            "commission_reviewer", "action", "Commission the reviewer",
            f"{self.state.reviewer} ({self.review.methodology.reviewer_kind}): confirm the commission.",
            Role.business_unit, due=self.deadline("commission").due, action="commission_reviewer",
        ))
        documents.append(self.document("terms_of_reference", action.actor.name, {
            "pseudonym": self.review.pseudonym, "scope": action.scope, "research_questions": action.research_questions,
            "methods": [str(m) for m in self.state.methods], "reviewer": self.state.reviewer, "lead": self.state.lead,
            "agreed_on": action.agreed_on.isoformat(), "due": self.deadline("cspr").due.isoformat(),
            "months": self.rules.cspr_months,
        }))

    def _commission_reviewer(self, action: CommissionReviewer, step, documents) -> None:
        self.state.commissioned = action
        self.state.reviewer = action.reviewer
        self.meet("commission", step, on=action.commissioned_on)
        step.settle.append(self.settle("commission_reviewer", "done", action.reviewer))
        self.move_to(P.learning_events, action.actor, "commission_reviewer")
        step.tasks.append(self.task(
            "submit_draft_report", "action", "Hold the learning events and receive the draft report",
            "Record practitioner workshops, learning events and family engagement; then the draft report.",
            Role.business_unit, due=self.deadline("cspr").due, action="submit_draft_report",
        ))

    def _record_learning_event(self, action: RecordLearningEvent, step, documents) -> None:
        self.state.learning_events.append(action)

    def _submit_draft_report(self, action: SubmitDraftReport, step, documents) -> None:
        self.state.drafts.append(action)
        step.settle.append(self.settle("submit_draft_report", "done", f"draft {len(self.state.drafts)}"))
        if self.state.stage != P.draft_report:
            self.move_to(P.draft_report, action.actor, "submit_draft_report")
        step.tasks.append(self.task(
            f"submit_final_report:{len(self.state.drafts)}", "action", "Submit the final report for sign-off",
            "When the draft is settled, send the final report to the three Executive seats.", Role.business_unit,
            due=self.deadline("cspr").due, action="submit_final_report",
        ))

    def _submit_final_report(self, action: SubmitFinalReport, step, documents) -> None:
        self.state.final_report = action
        self.state.report_version += 1
        version = self.state.report_version
        step.settle.append(self.settle("submit_final_report:", "done", f"version {version}"))
        self.move_to(P.final_sign_off, action.actor, "submit_final_report")
        for seat in Seat:
            step.tasks.append(self.task(
                f"sign_off_report:v{version}:{seat}", "sign_off", f"Sign off the final CSPR report (version {version})",
                f"{SEAT_NAMES[seat]}: approve the final report, or return it with comments.", Role.executive,
                seat=seat, due=self.deadline("cspr").due, action="sign_off_report",
            ))

    def _sign_off_report(self, action: SignOff, step, documents) -> None:
        version, seat = self.state.report_version, action.actor.seat
        self.state.sign_offs.append(SignOffRecord(seat=seat, version=version, decision=action.decision,
                                                  by=action.actor.name, on=self.today(), comments=action.comments,
                                                  capacity=action.capacity))
        step.settle.append(self.settle(f"sign_off_report:v{version}:{seat}", "done", action.decision))
        if action.decision == "return":
            step.settle.append(self.settle(f"sign_off_report:v{version}:", "cancelled", f"returned by {seat}"))
            self.move_to(P.draft_report, action.actor, "sign_off_report")
            step.tasks.append(self.task(
                f"submit_final_report:returned:{version}", "action", "Revise the final report (returned)",
                f"Returned by {SEAT_NAMES[seat]}: {action.comments}", Role.business_unit,
                due=self.deadline("cspr").due, action="submit_final_report",
            ))
            return
        approved = {s.seat for s in self.state.sign_offs if s.version == version and s.decision == "approve"}
        if approved == set(Seat):
            due = add_months(self.today(), self.rules.recommendation_months)
            step.plan_actions = [
                PlanActionSpec(key=f"{self.case_reference}:cspr:{i}", source="cspr_recommendation",
                               description=text, due=due)
                for i, text in enumerate(self.state.final_report.recommendations, start=1)
            ]
            self.move_to(P.publication_notice, action.actor, "sign_off_report")
            step.tasks.append(self.task(
                "send_publication_notice", "action", "Send the final report to the National Panel and DfE",
                f"At least {self.rules.publication_notice_working_days} working days before publication.",
                Role.business_unit, due=self.deadline("cspr").due, action="send_publication_notice",
            ))

    def _send_publication_notice(self, action: SendPublicationNotice, step, documents) -> None:
        self.state.notice_sent_on = action.sent_on
        days = self.rules.publication_notice_working_days
        self.state.earliest_publication = self.statutory_days_after(action.sent_on, days)
        step.settle.append(self.settle("send_publication_notice", "done"))
        self.move_to(P.publication, action.actor, "send_publication_notice")
        documents.append(self.document("publication_notice", action.actor.name, {
            "pseudonym": self.review.pseudonym, "sent_on": action.sent_on.isoformat(),
            "earliest_publication": self.state.earliest_publication.isoformat(),
            "rule": R.RULE_PUBLICATION_NOTICE.format(n=days), "report_version": self.state.report_version,
            "recommendations": self.state.final_report.recommendations if self.state.final_report else [],
        }))
        step.tasks.append(self.task(
            "publish", "action", "Publish the report (or record why not)",
            f"Not before {self.state.earliest_publication.isoformat()}.", Role.business_unit,
            due=self.deadline("cspr").due, action="record_publication",
        ))

    def _published(self, actor, action_name: str, on, step, documents) -> None:
        self.meet("cspr", step, on=on)
        self.meet("cspr_revised", step, on=on)
        step.settle.append(self.settle("publish", "done", action_name))
        self.move_to(P.learning_workshop, actor, action_name)
        step.tasks.append(self.task(
            "record_learning_workshop", "action", "Hold the partnership-wide learning workshop",
            "Share the review's learning across the partnership.", Role.business_unit,
            due=self.working_days_after(on, 20), action="record_learning_workshop",
        ))
        documents.append(self.document("seven_minute_briefing", actor.name, self._briefing_context(on)))

    def _briefing_context(self, on) -> dict:
        """The 7-minute briefing is shared with practitioners: it carries the final report's agreed learning and
        its recommendations (the learning falls back to the recommendations), never the notes of learning events,
        which hold case detail. Only the document's input changes (activity inputs are not compared on replay),
        so running reviews replay as they ran and no ``workflow.patched`` is needed."""
        report = self.state.final_report
        recommendations = list(report.recommendations) if report else []
        return {
            "pseudonym": self.review.pseudonym, "published_on": on.isoformat(),
            "report_published": self.state.published_on is not None,
            "link": self.state.publication_link, "methods": [str(m) for m in self.state.methods],
            "key_learning": list(report.key_learning) if report and report.key_learning else recommendations,
            "recommendations": recommendations,
        }

    def _record_publication(self, action: RecordPublication, step, documents) -> None:
        self.state.published_on = action.published_on
        self.state.publication_link = action.link
        self._published(action.actor, "record_publication", action.published_on, step, documents)

    def _record_non_publication(self, action: RecordNonPublication, step, documents) -> None:
        self.state.not_published_reasons = action.reasons
        self.state.published_on = None
        self.state.notice_sent_on = self.state.notice_sent_on or action.improvements_published_on
        self._published(action.actor, "record_non_publication", action.improvements_published_on, step, documents)

    def _record_learning_workshop(self, action: RecordLearningWorkshop, step, documents) -> None:
        self.state.learning_workshop_on = action.held_on
        step.settle.append(self.settle("record_learning_workshop", "done"))
        anchor = self.state.published_on or action.held_on
        due = add_months(anchor, 12)
        self.state.one_year_workshop_due = due
        self.add_deadline("one_year_on", "Learning workshop one year after publication", due, R.RULE_ONE_YEAR_ON,
                          Role.business_unit, reminders=[add_months(anchor, 11)])
        self.move_to(P.one_year_on, action.actor, "record_learning_workshop")
        step.tasks.append(self.task(
            "record_one_year_workshop", "action", "Hold the one-year-on learning workshop",
            "Review what has changed since publication.", Role.business_unit, due=due,
            action="record_one_year_workshop",
        ))

    def _record_one_year_workshop(self, action: RecordLearningWorkshop, step, documents) -> None:
        self.state.one_year_workshop_on = action.held_on
        self.meet("one_year_on", step, on=action.held_on)
        step.settle.append(self.settle("", "done", "review closed"))
        self.state.closed_reason = "published" if self.state.published_on else "not published (improvements published)"
        self.cancel_all_deadlines()
        self.move_to(P.closed, action.actor, "record_one_year_workshop")

    def _extend_deadline(self, action: ExtendDeadline, step, documents) -> None:
        """A revised target beside the statutory date, which is kept and judged as it stands; the delay is
        explained once, and the notice to the National Panel and the DfE is issued."""
        statutory = self.deadline("cspr")
        self.state.extensions.append(Extension(revised_due=action.new_due, reason=action.reason,
                                               agreed_by=action.actor.name, agreed_on=self.today()))
        statutory.delay_reason = action.reason
        self.state.unexplained_delays = [k for k in self.state.unexplained_delays if k != "cspr"]
        self.add_deadline("cspr_revised", "Local CSPR completed and published (agreed revised target)", action.new_due,
                          R.RULE_CSPR_REVISED.format(reason=action.reason, statutory=statutory.due.isoformat()),
                          Role.business_unit)
        documents.append(self.document("cspr_delay_notice", action.actor.name, {
            "pseudonym": self.review.pseudonym, "statutory_due": statutory.due.isoformat(),
            "revised_due": action.new_due.isoformat(), "reason": action.reason, "agreed_by": action.actor.name,
            "agreed_on": self.today().isoformat(), "months": self.rules.cspr_months,
            "decided_on": self.state.partners_decided_on.isoformat() if self.state.partners_decided_on else None,
        }, version=len(self.state.extensions)))

    # ------------------------------------------------------------------ hooks

    async def commit(self, step, documents=()) -> None:
        """After each step, tell the parent case when the stage or the late/escalated flags changed
        (a signal, delivered durably by Temporal)."""
        await super().commit(step, documents)
        parent = workflow.info().parent
        marker = (self.state.stage, self.state.late, self.state.escalated)
        if parent is None or marker == getattr(self, "_reported", None):
            return
        self._reported = marker
        progress = ReviewProgress(stage=self.state.stage, late=self.state.late, escalated=self.state.escalated,
                                  sequence=self.state.step)
        progress.seal = authenticity.seal(workflow.info().workflow_id, "practice_review_progress",
                                          str(progress.sequence), progress.sealed_fields())
        from workflows.rapid_review import RapidReviewWorkflow  # the parent's module imports this one

        await workflow.get_external_workflow_handle_for(RapidReviewWorkflow.run, parent.workflow_id).signal(
            RapidReviewWorkflow.practice_review_progress, progress)

    def snapshot(self):
        return None

    def review_snapshot(self) -> ReviewSnapshot:
        st, due = self.state, self.deadline("cspr")
        return ReviewSnapshot(
            case_reference=st.case_reference, stage=st.stage, decided_on=st.partners_decided_on or st.decided_on,
            due=due.due if due else None,
            methods=[str(m) for m in st.methods], late=st.late,
            recommendations=list(st.final_report.recommendations) if st.final_report else [],
            published_on=st.published_on, publication_link=st.publication_link,
            not_published_reasons=st.not_published_reasons,
        )
