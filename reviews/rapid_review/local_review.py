"""The local CSPR the partners decided on: how it takes place (the methodology), then the review itself as the
child ``PracticeReviewWorkflow``, followed until it closes, its sealed progress shown on the case."""

from __future__ import annotations

from typing import TYPE_CHECKING

from temporalio import workflow
from temporalio.exceptions import CancelledError, ChildWorkflowError

with workflow.unsafe.imports_passed_through():
    from engine import authenticity
    from engine.vocabulary import ReviewStage, Role, Stage, TaskKind
    from reviews.practice_review.models import ReviewInput, ReviewProgress
    from reviews.rapid_review.citations import RULE_METHODOLOGY
    from reviews.rapid_review.models import ChooseMethodology

from engine.patches import patched
from engine.steps import reject
from engine.vocabulary import practice_review_id
from reviews.practice_review.workflow import PracticeReviewWorkflow
from reviews.rapid_review.parts import CasePart

if TYPE_CHECKING:
    from reviews.rapid_review.workflow import RapidReviewWorkflow



class LocalReview(CasePart):
    def __init__(self, process: RapidReviewWorkflow) -> None:
        super().__init__(process)
        self.child = None  # the running local CSPR's handle
        self.last_progress = 0  # the number of its last sealed progress report
        self.late = False  # whether it reported itself late
        self.stop_asked = False  # whether the running review was asked to stop (once: stop_review_if_closed)

    def open_methodology(self, actor, step, decided_on) -> None:
        """A local CSPR decided: the Executive chooses how it will take place."""
        self.steps.move_to(step, Stage.methodology, actor, "local_cspr_decided")
        days = self.rules.methodology_working_days
        due = self.clock.add_counted_deadline("methodology", "Executive decision on how the review will take place",
                                              decided_on, days, RULE_METHODOLOGY.format(n=days), Role.executive,
                                              statutory=False)
        step.tasks.append(self.steps.task(
            "choose_methodology", TaskKind.decision, "Decide how the local CSPR will take place",
            "Choose one or more methods, the reviewer and the lead.", Role.executive, due=due,
            action="choose_methodology",
        ))

    def choose_methodology(self, action: ChooseMethodology, step, documents) -> None:
        self.state.methodology = action
        self.clock.meet("methodology", step, on=action.decided_on)
        step.settle.append(self.steps.done("choose_methodology"))
        self.review_entered(step, ReviewStage.terms_of_reference)
        self.steps.move_to(step, Stage.practice_review, action.actor, "choose_methodology")

    def _check_choose_methodology(self, action: ChooseMethodology) -> None:
        self.actions.not_future(action.decided_on, "date of the decision")
        self.actions.not_before(action.decided_on, self.state.partners_decided_on, "date of the decision",
                                "partners' decision to undertake the review")
        if len(set(action.methods)) != len(action.methods):
            raise reject("A method is listed more than once.")

    @staticmethod
    def methodology_proposal(action: ChooseMethodology) -> str:
        methods = ", ".join(str(m).replace("_", " ") for m in action.methods)
        return f"How the local CSPR takes place: {methods}; reviewer {action.reviewer}, lead {action.lead}"

    async def start_practice_review(self, action: ChooseMethodology) -> None:
        self.state.reviews_started += 1
        self.last_progress = 0  # a review started again counts its progress from the start
        self.stop_asked = False
        self.child = await workflow.start_child_workflow(
            PracticeReviewWorkflow.run,
            ReviewInput(reference=f"{self.state.reference}-CSPR", case_reference=self.state.reference,
                        pseudonym=self.state.pseudonym, partnership_name=self.partnership_name,
                        methodology=action, rules=self.rules, partners_decided_on=self.state.partners_decided_on,
                        calendar=self.clock.case_calendar, added_days=self.clock.added_days,
                        round=self.state.reviews_started),
            id=practice_review_id(workflow.info().workflow_id),
            task_queue=workflow.info().task_queue,
        )

    async def follow_practice_review(self) -> None:
        """Until the review ends; then no review runs (a reopened case may start one again)."""
        try:
            outcome = await self.child
        except ChildWorkflowError as error:
            self.child = None
            if self.state.stage == Stage.closed:
                return  # closed by close_case, which cancelled the review
            if isinstance(error.cause, CancelledError) and self.state.reopenings:
                # Stopped with the case, which the partners reopened before the review had finished stopping (it
                # issues its last documents first): the methodology they chose since starts the new review now.
                # (A case of any version meeting this before failed here: none is running to replay it.)
                await self.start_review_if_chosen()
                return
            raise
        try:
            await self._review_completed(outcome)
        finally:
            self.child = None

    async def _review_completed(self, outcome: str) -> None:
        async with self.steps.lock:
            if self.state.stage == Stage.closed:
                return
            step = self.steps.new_step("practice_review_closed")
            self.state.outcome = f"Local CSPR completed: {outcome}"
            self.state.closed_reason = "Local child safeguarding practice review completed"
            self.review_entered(step, Stage.closed)
            self.steps.move_to(step, Stage.closed, None, "practice_review_closed")
            self.clock.cancel_all()
            step.audit = self.audit(None, "practice_review_closed", {"outcome": outcome})
            await self.steps.commit(step)

    async def start_review_if_chosen(self) -> None:
        """The methodology decided (by the three seats on cases of the joint decisions, by one Executive before):
        the local CSPR starts as its child workflow."""
        if self.child is None and self.state.stage == Stage.practice_review and self.state.methodology is not None:
            await self.start_practice_review(self.state.methodology)

    def stop_review_if_closed(self) -> None:
        """A case closed (or its review stopped) while its local CSPR runs: the review stops with it. It is asked
        once, in cases opened since patch "settled-2026-12": a review still stopping (issuing its last documents)
        when the partners next answer was asked again, and the test server refused that second request (cancellation
        already requested) and left the case's workflow task unfinished. Cases opened before ask as they ran."""
        if self.child is not None and self.state.stage == Stage.closed:
            if self.steps.settled:
                if self.stop_asked:
                    return
                self.stop_asked = True
            self.child.cancel()

    def review_entered(self, step, stage: str) -> None:
        """The case's record of its review's stage (its row shows it); the step says when it changed."""
        step.facts.review_stage_changed = self.state.practice_review_stage != stage
        self.state.practice_review_stage = stage

    async def progress(self, progress: ReviewProgress) -> None:
        """The child review's report of its stage (the workflow's ``practice_review_progress`` signal)."""
        if patched("sealed-progress"):
            sent_as = str(progress.sequence)
            sealed = {**progress.sealed_fields(), "seal": progress.seal}
            if progress.sequence <= self.last_progress or not authenticity.is_sealed(
                    practice_review_id(workflow.info().workflow_id), "practice_review_progress", sent_as, sealed):
                workflow.logger.warning("an unsealed or repeated practice-review progress signal was ignored")
                return
            self.last_progress = progress.sequence
        async with self.steps.lock:
            if self.state.stage == Stage.closed:
                return
            step = self.steps.new_step(f"practice_review:{progress.stage}")
            self.review_entered(step, progress.stage)
            self.late = progress.late
            self.state.late = self.state.late or progress.late
            self.state.escalated = self.state.escalated or progress.escalated
            await self.steps.commit(step)
