"""RapidReviewWorkflow: one durable workflow per case, from referral to close (workflow id = reference).

Stages and actions follow the domain brief's table. Each action is an update whose validator rejects,
before anything is written, what may not be done now; the handler applies it and issues the tasks,
documents and read-model rows through activities. A local CSPR runs as the child
PracticeReviewWorkflow; the case closes when the child closes. The class holds only ``run``, the query and the
update/signal contract; what each action does is one of its parts (built in ``__init__``, each in a module of its
own): the referral and notification's record (``intake``), the three-way notification decision
(``notification``), the panel and the decision sheet (``panel``), the National Panel's reply (``national_panel``),
learning without a local CSPR (``learning``), the local CSPR (``local_review``), closing (``closing``), reopening
(``reopening``) and who the case waits on (``outstanding``); over the engine's step builder (``steps``), deadline
clock (``clock``), action path (``actions``), partners' sign-off of the decision sheet (``three_way``) and joint
decisions (``joint``).
"""

from __future__ import annotations

import asyncio
from datetime import date

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from engine import authenticity
    from engine.calendar import london_date
    from engine.models import AnswerJointDecision, CalendarDayAdded, SignOff
    from engine.vocabulary import Stage
    from reviews.practice_review.models import ReviewProgress
    from reviews.rapid_review.models import (
        AcceptReferral,
        CaseInput,
        CaseState,
        ChooseMethodology,
        CloseCase,
        ConvenePanel,
        CorrectAwarenessDate,
        CorrectReferral,
        DeclineReferral,
        IssueDecisionSheet,
        LinkCdopReview,
        ProposeSinDecision,
        ReconsiderDecision,
        RecordJointReview,
        RecordLearningActivities,
        RecordNationalPanelResponse,
        RecordNationalReviewPart,
        RecordNotification,
        RecordPanelOutcome,
        RecordSinDecision,
        RecordSubmission,
        ReopenCase,
        ResolveSinDisagreement,
        RespondToSinProposal,
        ReviseRapidReview,
        StopLocalCspr,
        SubmitInformationReturn,
    )

from engine.actions import Actions
from engine.clock import DeadlineClock
from engine.joint_decision import JointDecision, JointDecisions
from engine.patches import decide_versions, patched
from engine.sign_off import ThreeWaySignOff
from engine.steps import Steps
from reviews.rapid_review.action_rules import EVENT_DATES, RETIRED_RULES, RULES
from reviews.rapid_review.closing import Closing
from reviews.rapid_review.intake import Intake
from reviews.rapid_review.learning import Learning
from reviews.rapid_review.local_review import LocalReview
from reviews.rapid_review.national_panel import RECONSIDER_ANSWERS, NationalPanelReply
from reviews.rapid_review.notification import NotificationDecision
from reviews.rapid_review.outstanding import WhoOwes
from reviews.rapid_review.panel import Panel
from reviews.rapid_review.reopening import ReopenWindow


def _start_sealed(case: CaseInput) -> bool:
    """The start's seal, over every field; a case sealed before the referral had a category and linked cases
    was sealed without them, and replays if they hold their defaults (so nothing unsealed can hide there)."""
    workflow_id = workflow.info().workflow_id
    fields = case.model_dump(mode="json")
    if authenticity.is_sealed(workflow_id, "start", workflow_id, fields):
        return True
    added = {"category": "serious_harm_or_death", "linked_references": []}
    if any(fields.get(name) != default for name, default in added.items()):
        return False
    return authenticity.is_sealed(workflow_id, "start", workflow_id,
                                  {k: v for k, v in fields.items() if k not in added})


@workflow.defn
class RapidReviewWorkflow:
    RULES, RETIRED_RULES, EVENT_DATES = RULES, RETIRED_RULES, EVENT_DATES  # action_rules.py

    @workflow.init
    def __init__(self, case: CaseInput) -> None:
        """The state exists before any handler runs: a query or an update arriving in the first workflow task
        finds the case (an update then waits until the case has opened)."""
        # The parts of the process, each a helper of its own (parts.py over engine/parts.py); they reach the state
        # and the engine's helpers below through the workflow, so the order they are built in does not matter.
        self.intake, self.notification, self.panel = Intake(self), NotificationDecision(self), Panel(self)
        self.national_panel, self.learning = NationalPanelReply(self), Learning(self)
        self.local_review, self.closing = LocalReview(self), Closing(self)
        self.reopening, self.outstanding = ReopenWindow(self), WhoOwes(self)
        self.case = case
        self.rules = case.rules
        self.case_reference = case.reference
        self.partnership_name = case.partnership_name
        self.state = CaseState(
            reference=case.reference, stage=Stage.referral, pseudonym=case.pseudonym,
            opened_on=london_date(workflow.now()), awareness_date=case.awareness_date,
            referring_agency=case.referring_agency, category=case.category,
            linked_references=list(case.linked_references),
        )
        self.steps = Steps(self.state, case_reference=case.reference, partnership_name=case.partnership_name,
                           record=self.outstanding.record)
        self.clock = DeadlineClock(self.state, self.rules, self.steps, who_owes=self.outstanding.who_owes,
                                   late_elsewhere=lambda: self.local_review.late)
        self.actions = Actions({**self.RULES, **self.RETIRED_RULES}, state=self.state, steps=self.steps,
                               clock=self.clock, event_dates=self.EVENT_DATES,
                               audit_detail=self.panel.audit_detail, checks=(
                                   self, self.intake, self.notification, self.panel, self.national_panel,
                                   self.learning, self.local_review, self.closing))
        self.three_way = ThreeWaySignOff(self.state, self.steps, self.clock, action="sign_off",
                                         thing="decision sheet", title="decision sheet", returned_to=" to the chair")
        self.joint = JointDecisions(self.state, self.steps, self.clock, {
            "reconsider_decision": JointDecision(ReconsiderDecision, self.national_panel.reconsider_decision,
                                                 lambda a: f"{RECONSIDER_ANSWERS[a.answer]}: {a.reasons}"),
            "record_learning_activities": JointDecision(
                RecordLearningActivities, self.learning.record_learning_activities, self.learning.learning_proposal),
            "choose_methodology": JointDecision(ChooseMethodology, self.local_review.choose_methodology,
                                                self.local_review.methodology_proposal),
            "stop_local_cspr": JointDecision(StopLocalCspr, self.closing.stop_local_cspr,
                                             lambda a: f"Stop the local CSPR: {a.reasons}"),
            "close_case": JointDecision(CloseCase, self.closing.close_case, lambda a: f"Close the case: {a.reason}",
                                        needed=self.closing.closure_needs_partners),
            "reopen_case": JointDecision(ReopenCase, self.reopening.reopen_case,
                                        lambda a: f"Reopen the case: {a.reason}"),
        }, self.actions.recheck, answer_action="answer_joint_decision")
        self.actions.joint = self.joint

    @workflow.run
    async def run(self, case: CaseInput) -> str:
        decide_versions(self.steps)  # first of all (engine/patches.py)
        # Cases started before seals existed have no marker and replay as they ran. The seal is checked live only:
        # a refused start ends at once, so no case's replay depends on it, and a field the input gains later
        # (a new setting with a default) cannot make an old start look unsealed on replay.
        if patched("sealed-start") and not workflow.unsafe.is_replaying() and not _start_sealed(case):
            raise ApplicationError("This case was not started by the Rapid Review service (no valid seal): refused, "
                                   "nothing was recorded.", type="NotSealed", non_retryable=True)
        # Which notification process the case runs is fixed when it starts (as its rules are): cases started
        # before the three-way decision replay with the CSC lead deciding alone and the business unit declining
        # at referral. A patch here rather than in the validators, which may not call workflow.patched.
        self.state.three_way_sin = patched("three-way-sin")
        # Likewise the partners' joint decisions (engine/joint_decision.py): cases opened before them keep one
        # Executive's answer and the business unit's closure, as they ran.
        self.state.joint_decisions = patched("joint-decisions")
        # And whether a closed case may be reopened by the partners: cases opened before end when they close.
        self.state.reopenable = patched("reopenable")
        # A person's action is answered once its step is applied, its documents following in step order
        # (engine/steps.py). Cases opened before render them inside the action, as they ran.
        self.steps.documents_after_reply = patched("answer-first")
        await self.clock.open_calendar(min(case.awareness_date, case.incident_date, self.clock.today()))
        await self.intake.open_case()
        while True:
            clock = asyncio.create_task(self.clock.run())
            await workflow.wait_condition(
                lambda: self.state.stage == Stage.closed or self.local_review.child is not None)
            if self.local_review.child is not None and self.state.stage != Stage.closed:
                await self.local_review.follow_practice_review()
            await clock
            if not await self.reopening.reopened():
                break
        await self.steps.finished()  # the closing update replies; its documents are issued
        return self.state.outcome or self.state.closed_reason or "closed"

    @workflow.query
    def state(self, today: str | None = None) -> dict:
        """Stage, deadlines (with working days left from ``today``), outstanding, flags, history, and the
        referral as it came (the case page's summary; a query, so nothing is recorded in the history)."""
        return self.with_referral(self.clock.view(date.fromisoformat(today) if today else None))

    def with_referral(self, view: dict) -> dict:
        """The state as its query answers it (and as each step stores it): with the referral as it came."""
        view["referral"] = self.case.model_dump(
            mode="json", include={"summary", "age_band", "incident_date", "awareness_date", "referring_agency"})
        return view

    @workflow.signal
    async def practice_review_progress(self, progress: ReviewProgress) -> None:
        """The child review reports its stage; the case's read model shows it. Only a sealed report from the
        review itself counts, each number once (cases from before seals replay without the check)."""
        await self.local_review.progress(progress)

    @workflow.update
    async def add_calendar_day(self, notice: CalendarDayAdded) -> list[dict]:
        """A one-off bank holiday or closure day added by the partnership: the deadlines it moves, and why."""
        return await self.clock.add_calendar_day(notice)

    @add_calendar_day.validator
    def _validate_add_calendar_day(self, notice: CalendarDayAdded) -> None:
        self.clock.validate_calendar_day(notice)

    @workflow.update
    async def accept_referral(self, action: AcceptReferral) -> dict:
        return await self.actions.act("accept_referral", action, self.intake.accept_referral)

    @accept_referral.validator
    def _validate_accept_referral(self, action: AcceptReferral) -> None:
        self.actions.validate("accept_referral", action)

    @workflow.update
    async def decline_referral(self, action: DeclineReferral) -> dict:
        return await self.actions.act("decline_referral", action, self.intake.decline_referral)

    @decline_referral.validator
    def _validate_decline_referral(self, action: DeclineReferral) -> None:
        self.actions.validate("decline_referral", action)

    @workflow.update
    async def correct_awareness_date(self, action: CorrectAwarenessDate) -> dict:
        return await self.actions.act("correct_awareness_date", action, self.intake.correct_awareness_date)

    @correct_awareness_date.validator
    def _validate_correct_awareness_date(self, action: CorrectAwarenessDate) -> None:
        self.actions.validate("correct_awareness_date", action)

    @workflow.update
    async def correct_referral(self, action: CorrectReferral) -> dict:
        """Correct what the incident is (its category) and the cases linked with it"""
        return await self.actions.act("correct_referral", action, self.intake.correct_referral)

    @correct_referral.validator
    def _validate_correct_referral(self, action: CorrectReferral) -> None:
        self.actions.validate("correct_referral", action)

    @workflow.update
    async def propose_sin_decision(self, action: ProposeSinDecision) -> dict:
        """Propose the notification decision to police and health"""
        return await self.actions.act("propose_sin_decision", action, self.notification.propose_sin_decision)

    @propose_sin_decision.validator
    def _validate_propose_sin_decision(self, action: ProposeSinDecision) -> None:
        self.actions.validate("propose_sin_decision", action)

    @workflow.update
    async def respond_to_sin_proposal(self, action: RespondToSinProposal) -> dict:
        """Agree or disagree with the CSC lead's notification proposal"""
        return await self.actions.act("respond_to_sin_proposal", action, self.notification.respond_to_sin_proposal)

    @respond_to_sin_proposal.validator
    def _validate_respond_to_sin_proposal(self, action: RespondToSinProposal) -> None:
        self.actions.validate("respond_to_sin_proposal", action)

    @workflow.update
    async def resolve_sin_disagreement(self, action: ResolveSinDisagreement) -> dict:
        """Record how the partners resolved a disagreement on the notification"""
        return await self.actions.act("resolve_sin_disagreement", action, self.notification.resolve_sin_disagreement)

    @resolve_sin_disagreement.validator
    def _validate_resolve_sin_disagreement(self, action: ResolveSinDisagreement) -> None:
        self.actions.validate("resolve_sin_disagreement", action)

    @workflow.update
    async def record_learning_activities(self, action: RecordLearningActivities) -> dict:
        """Record the learning chosen without a local CSPR (or that none is needed)"""
        return await self.actions.act("record_learning_activities", action, self.learning.record_learning_activities)

    @record_learning_activities.validator
    def _validate_record_learning_activities(self, action: RecordLearningActivities) -> None:
        self.actions.validate("record_learning_activities", action)

    @workflow.update
    async def record_sin_decision(self, action: RecordSinDecision) -> dict:
        return await self.actions.act("record_sin_decision", action, self.notification.record_sin_decision)

    @record_sin_decision.validator
    def _validate_record_sin_decision(self, action: RecordSinDecision) -> None:
        self.actions.validate("record_sin_decision", action)

    @workflow.update
    async def record_notification(self, action: RecordNotification) -> dict:
        return await self.actions.act("record_notification", action, self.intake.record_notification)

    @record_notification.validator
    def _validate_record_notification(self, action: RecordNotification) -> None:
        self.actions.validate("record_notification", action)

    @workflow.update
    async def convene_panel(self, action: ConvenePanel) -> dict:
        return await self.actions.act("convene_panel", action, self.panel.convene_panel)

    @convene_panel.validator
    def _validate_convene_panel(self, action: ConvenePanel) -> None:
        self.actions.validate("convene_panel", action)

    @workflow.update
    async def submit_information_return(self, action: SubmitInformationReturn) -> dict:
        return await self.actions.act("submit_information_return", action, self.panel.submit_information_return)

    @submit_information_return.validator
    def _validate_submit_information_return(self, action: SubmitInformationReturn) -> None:
        self.actions.validate("submit_information_return", action)

    @workflow.update
    async def record_panel_outcome(self, action: RecordPanelOutcome) -> dict:
        return await self.actions.act("record_panel_outcome", action, self.panel.record_panel_outcome)

    @record_panel_outcome.validator
    def _validate_record_panel_outcome(self, action: RecordPanelOutcome) -> None:
        self.actions.validate("record_panel_outcome", action)

    @workflow.update
    async def issue_decision_sheet(self, action: IssueDecisionSheet) -> dict:
        return await self.actions.act("issue_decision_sheet", action, self.panel.issue_decision_sheet)

    @issue_decision_sheet.validator
    def _validate_issue_decision_sheet(self, action: IssueDecisionSheet) -> None:
        self.actions.validate("issue_decision_sheet", action)

    @workflow.update
    async def sign_off(self, action: SignOff) -> dict:
        return await self.actions.act("sign_off", action, self.panel.sign_off)

    @sign_off.validator
    def _validate_sign_off(self, action: SignOff) -> None:
        self.actions.validate("sign_off", action)

    @workflow.update
    async def record_submission(self, action: RecordSubmission) -> dict:
        return await self.actions.act("record_submission", action, self.national_panel.record_submission)

    @record_submission.validator
    def _validate_record_submission(self, action: RecordSubmission) -> None:
        self.actions.validate("record_submission", action)

    @workflow.update
    async def record_national_review_part(self, action: RecordNationalReviewPart) -> dict:
        """Record what the partnership gave the National Panel's national review"""
        return await self.actions.act("record_national_review_part", action,
                                      self.national_panel.record_national_review_part)

    @record_national_review_part.validator
    def _validate_record_national_review_part(self, action: RecordNationalReviewPart) -> None:
        self.actions.validate("record_national_review_part", action)

    @workflow.update
    async def link_cdop_review(self, action: LinkCdopReview) -> dict:
        """Link the Child Death Overview Panel's review of the same death"""
        return await self.actions.act("link_cdop_review", action, self.national_panel.link_cdop_review)

    @link_cdop_review.validator
    def _validate_link_cdop_review(self, action: LinkCdopReview) -> None:
        self.actions.validate("link_cdop_review", action)

    @workflow.update
    async def record_joint_review(self, action: RecordJointReview) -> dict:
        """Record a review run jointly with another partnership"""
        return await self.actions.act("record_joint_review", action, self.national_panel.record_joint_review)

    @record_joint_review.validator
    def _validate_record_joint_review(self, action: RecordJointReview) -> None:
        self.actions.validate("record_joint_review", action)

    @workflow.update
    async def revise_rapid_review(self, action: ReviseRapidReview) -> dict:
        """Revise the rapid review with the answers to the National Panel's questions"""
        return await self.actions.act("revise_rapid_review", action, self.national_panel.revise_rapid_review)

    @revise_rapid_review.validator
    def _validate_revise_rapid_review(self, action: ReviseRapidReview) -> None:
        self.actions.validate("revise_rapid_review", action)

    @workflow.update
    async def record_national_panel_response(self, action: RecordNationalPanelResponse) -> dict:
        return await self.actions.act("record_national_panel_response", action,
                                      self.national_panel.record_national_panel_response)

    @record_national_panel_response.validator
    def _validate_record_national_panel_response(self, action: RecordNationalPanelResponse) -> None:
        self.actions.validate("record_national_panel_response", action)

    @workflow.update
    async def reconsider_decision(self, action: ReconsiderDecision) -> dict:
        view = await self.actions.act("reconsider_decision", action, self.national_panel.reconsider_decision)
        self.local_review.stop_review_if_closed()
        return view

    @reconsider_decision.validator
    def _validate_reconsider_decision(self, action: ReconsiderDecision) -> None:
        self.actions.validate("reconsider_decision", action)

    @workflow.update
    async def choose_methodology(self, action: ChooseMethodology) -> dict:
        view = await self.actions.act("choose_methodology", action, self.local_review.choose_methodology)
        await self.local_review.start_review_if_chosen()
        return view

    @choose_methodology.validator
    def _validate_choose_methodology(self, action: ChooseMethodology) -> None:
        self.actions.validate("choose_methodology", action)

    @workflow.update
    async def close_case(self, action: CloseCase) -> dict:
        """Close the case (a referral that never became a case), or propose its closure to the partners"""
        view = await self.actions.act("close_case", action, self.closing.close_case)
        self.local_review.stop_review_if_closed()
        return view

    @close_case.validator
    def _validate_close_case(self, action: CloseCase) -> None:
        self.actions.validate("close_case", action)

    @workflow.update
    async def stop_local_cspr(self, action: StopLocalCspr) -> dict:
        """Propose to the partners that the local CSPR stops"""
        view = await self.actions.act("stop_local_cspr", action, self.closing.stop_local_cspr)
        self.local_review.stop_review_if_closed()
        return view

    @stop_local_cspr.validator
    def _validate_stop_local_cspr(self, action: StopLocalCspr) -> None:
        self.actions.validate("stop_local_cspr", action)

    @workflow.update
    async def reopen_case(self, action: ReopenCase) -> dict:
        """Propose to the partners that a closed case is reopened (e.g. for the National Panel's late reply)"""
        return await self.actions.act("reopen_case", action, self.reopening.reopen_case)

    @reopen_case.validator
    def _validate_reopen_case(self, action: ReopenCase) -> None:
        self.actions.validate("reopen_case", action)

    @workflow.update
    async def answer_joint_decision(self, action: AnswerJointDecision) -> dict:
        """Agree or disagree with a decision proposed to the partners"""
        view = await self.actions.act("answer_joint_decision", action, self.joint.answer)
        self.local_review.stop_review_if_closed()
        await self.local_review.start_review_if_chosen()
        return view

    @answer_joint_decision.validator
    def _validate_answer_joint_decision(self, action: AnswerJointDecision) -> None:
        self.actions.validate("answer_joint_decision", action)

    def _check_answer_joint_decision(self, action: AnswerJointDecision) -> None:
        self.joint.check_answer(action)


    # ------------------------------------------------------------------ the three-way notification decision


