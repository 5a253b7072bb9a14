"""What the review's case hears and what the read model shows of the review: its sealed progress signal on a
change of stage or flags, its row on every step, who a reminder names, and its end when the case stops it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from engine import authenticity
    from engine.case_view import stored_calendar
    from engine.models import AuditEntry, CaseStep, Outstanding, ReviewSnapshot, StoredState
    from engine.vocabulary import ReviewStage
    from reviews.practice_review.models import ReviewProgress

from engine.clock import owed_by_owner
from engine.patches import patched
from reviews.practice_review.parts import ReviewPart

if TYPE_CHECKING:
    from reviews.practice_review.workflow import PracticeReviewWorkflow


class CaseLink(ReviewPart):
    def __init__(self, process: PracticeReviewWorkflow) -> None:
        super().__init__(process)
        self.reported = None  # the stage and flags the case last heard of
        self.tell_closure = True  # the closure is signalled too (reviews started before answer-first)

    def who_owes(self, found) -> list[Outstanding]:
        """Who a reminder or escalation names: while the final report awaits sign-off, the seats yet to approve
        it (not the business unit, whose part is done); otherwise the deadline's owner."""
        if self.state.stage == ReviewStage.final_sign_off and self.state.report_version:
            return self.three_way.outstanding(found.title, self.state.report_version, found.due)
        return owed_by_owner(found)

    async def stopped_by_case(self) -> None:
        """The case was closed while the review ran: cancel the review's tasks and deadlines."""
        step = self.steps.new_step("stopped")
        self.state.closed_reason = "stopped: the case was closed"
        self.clock.cancel_all()
        self.state.stage = ReviewStage.closed
        for proposal in [p for p in self.state.joint_proposals if p.status == "open"]:
            self.joint.settle(proposal, "superseded", step, "the case was closed")
        step.settle.append(self.steps.cancel("", "the case was closed"))
        step.audit = AuditEntry(actor_id=None, actor_role="system", action="practice_review_stopped", detail={})
        self.record(step)  # the read model's review row says closed too (the figures never count it as late)
        await self.steps.apply(step)
        await self.steps.documents_issued()  # the documents of its last steps are still issued

    async def tell_case(self) -> None:
        """After each step, tell the parent case when the stage or the late/escalated flags changed
        (a signal, delivered durably by Temporal)."""
        parent = workflow.info().parent
        marker = (self.state.stage, self.state.late, self.state.escalated)
        if parent is None or marker == self.reported:
            return
        if self.state.stage == ReviewStage.closed and not self.tell_closure and marker[1:] == self.reported[1:]:
            return  # the case hears of the closure from the child's completion; no flag changed with it
        self.reported = marker
        progress = ReviewProgress(stage=self.state.stage, late=self.state.late, escalated=self.state.escalated,
                                  sequence=self.state.step)
        progress.seal = authenticity.seal(workflow.info().workflow_id, "practice_review_progress",
                                          str(progress.sequence), progress.sealed_fields())
        from reviews.rapid_review.workflow import RapidReviewWorkflow  # the parent's module imports this one

        await workflow.get_external_workflow_handle_for(RapidReviewWorkflow.run, parent.workflow_id).signal(
            RapidReviewWorkflow.practice_review_progress, progress)

    def record(self, step: CaseStep) -> None:
        """The review's row in the read model, on every step (and its state, read instead of queried)."""
        step.review = self.review_snapshot()
        if patched("state-in-step"):
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
