"""The review until its report is signed: terms of reference, the reviewer commissioned, learning events, the draft
and final report, the three seats' sign-off (``ThreeWaySignOff``), and an extension the partners agree
(Working Together 2023, ch. 5)."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from engine.calendar import add_months
    from engine.documents import CsprDelayNotice, TermsOfReference
    from engine.models import PlanActionSpec, SignOff
    from engine.vocabulary import DocumentKind, ReviewStage, Role, TaskKind
    from reviews.practice_review.models import (
        AgreeTermsOfReference,
        CommissionReviewer,
        ExtendDeadline,
        Extension,
        RecordLearningEvent,
        SubmitDraftReport,
        SubmitFinalReport,
    )
    from reviews.rapid_review.citations import RULE_CSPR_REVISED

from engine.steps import reject
from reviews.practice_review.parts import ReviewPart


class Report(ReviewPart):
    def _check_agree_terms_of_reference(self, action: AgreeTermsOfReference) -> None:
        self.actions.not_future(action.agreed_on, "date the terms of reference were agreed")
        self.actions.not_before(action.agreed_on, self.state.decided_on, "date of agreement", "decision to review")

    def _check_commission_reviewer(self, action: CommissionReviewer) -> None:
        self.actions.not_future(action.commissioned_on, "date of commissioning")
        self.actions.not_before(action.commissioned_on, self.state.decided_on, "date of commissioning",
                                "decision to review")

    def in_order(self, day, earlier, what: str, earlier_what: str) -> None:
        """Dates checked against the review's own dates, on reviews started since the check (``joint_decisions``
        marks them): a running review replays the actions it accepted before, whatever their dates."""
        if self.state.joint_decisions:
            self.actions.not_before(day, earlier, what, earlier_what)

    def commissioned_on(self):
        return self.state.commissioned.commissioned_on if self.state.commissioned else None

    def _check_record_learning_event(self, action: RecordLearningEvent) -> None:
        self.actions.not_future(action.held_on, "date of the event")
        self.in_order(action.held_on, self.state.decided_on, "date of the event", "decision to review")

    def _check_submit_draft_report(self, action: SubmitDraftReport) -> None:
        self.actions.not_future(action.received_on, "date the draft was received")
        self.in_order(action.received_on, self.commissioned_on(), "date the draft was received",
                       "reviewer's commissioning")

    def _check_submit_final_report(self, action: SubmitFinalReport) -> None:
        self.actions.not_future(action.received_on, "date the final report was received")
        latest_draft = self.state.drafts[-1].received_on if self.state.drafts else None
        self.in_order(action.received_on, latest_draft, "date the final report was received", "latest draft")
        if self.state.stage != ReviewStage.draft_report and not action.revision_reason.strip():
            raise reject("The final report was signed off: say why it is revised (revision reason).")

    def _check_sign_off_report(self, action: SignOff) -> None:
        self.three_way.check(action, self.state.report_version)

    def _check_extend_deadline(self, action: ExtendDeadline) -> None:
        current = self.clock.deadline("cspr_revised") or self.clock.deadline("cspr")
        if action.new_due <= current.due:
            raise reject(f"The revised date ({action.new_due.isoformat()}) must be after the current target "
                         f"({current.due.isoformat()}).")

    def agree_terms_of_reference(self, action: AgreeTermsOfReference, step, documents) -> None:
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

    def commission_reviewer(self, action: CommissionReviewer, step, documents) -> None:
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

    def record_learning_event(self, action: RecordLearningEvent, step, documents) -> None:
        self.state.learning_events.append(action)

    def submit_draft_report(self, action: SubmitDraftReport, step, documents) -> None:
        self.state.drafts.append(action)
        step.settle.append(self.steps.done("submit_draft_report", f"draft {len(self.state.drafts)}"))
        if self.state.stage != ReviewStage.draft_report:
            self.steps.move_to(step, ReviewStage.draft_report, action.actor, "submit_draft_report")
        step.tasks.append(self.steps.task(
            f"submit_final_report:{len(self.state.drafts)}", TaskKind.action, "Submit the final report for sign-off",
            "When the draft is settled, send the final report to the three Executive seats.", Role.business_unit,
            due=self.clock.deadline("cspr").due, action="submit_final_report",
        ))

    def submit_final_report(self, action: SubmitFinalReport, step, documents) -> None:
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

    def sign_off_report(self, action: SignOff, step, documents) -> None:
        version = self.state.report_version
        approved = self.three_way.record(action, step, version)
        if action.decision == "return":
            self.three_way.send_back(step, action, to_stage=ReviewStage.draft_report,
                                     task_key=f"submit_final_report:returned:{version}",
                                     title="Revise the final report (returned)", role=Role.business_unit,
                                     next_action="submit_final_report", due=self.clock.deadline("cspr").due)
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

    def extend_deadline(self, action: ExtendDeadline, step, documents) -> None:
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
