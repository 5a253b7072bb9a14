"""RapidReviewWorkflow: one durable workflow per case, from referral to close (workflow id = reference).

Stages and actions follow the domain brief's table. Each action is an update whose validator rejects,
before anything is written, what may not be done now; the handler applies it and issues the tasks,
documents and read-model rows through activities. A local CSPR runs as the child
PracticeReviewWorkflow; the case closes when the child closes. The workflow holds its helpers (built in
``__init__``): the step builder (``steps``), the deadline clock (``clock``), the action path (``actions``) and the
partners' sign-off of the decision sheet (``three_way``).
"""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError, ChildWorkflowError

with workflow.unsafe.imports_passed_through():
    from workflows import authenticity
    from workflows.calendar import london_date, london_moment
    from workflows.case_view import stored_calendar
    from workflows.documents import (
        DecisionSheet,
        InformationRequest,
        InformationReturnDocument,
        NationalPanelSubmission,
        NoNotificationLetter,
        NotificationRecord,
        PanelInvitation,
        ReferralAcknowledgement,
        SignOffRequest,
        SinDecisionRecord,
    )
    from workflows.models import (
        AcceptReferral,
        AnswerJointDecision,
        AuditEntry,
        CalendarDayAdded,
        CaseInput,
        CaseSnapshot,
        CaseState,
        CaseStep,
        ChooseMethodology,
        CloseCase,
        ConvenePanel,
        CorrectAwarenessDate,
        CorrectReferral,
        DeclineReferral,
        InformationReturnRecord,
        IssueDecisionSheet,
        LinkCdopReview,
        Outstanding,
        PlanActionSpec,
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
        Reopening,
        ResolveSinDisagreement,
        RespondToSinProposal,
        ReviewInput,
        ReviewProgress,
        ReviseRapidReview,
        SignOff,
        SinProposal,
        SinResolution,
        SinResponse,
        StopLocalCspr,
        StoredState,
        SubmitInformationReturn,
    )
    from workflows.rules import (
        RULE_CARE_LEAVER_DEATH,
        RULE_CARE_LEAVER_REVIEW,
        RULE_LEARNING_WITHOUT_CSPR,
        RULE_LOOKED_AFTER_DEATH,
        RULE_METHODOLOGY,
        RULE_MILESTONE,
        RULE_NOTIFICATION,
        RULE_PANEL_REPLY,
        RULE_RAPID_REVIEW,
        RULE_SIN_LA_DECIDES,
        RULE_SIN_THREE_WAY,
        Rule,
    )
    from workflows.vocabulary import (
        AGENCIES,
        RETURN_STAGES,
        SEAT_NAMES,
        DeadlineStatus,
        DocumentKind,
        Recommendation,
        ReviewStage,
        Role,
        Seat,
        Stage,
        TaskKind,
    )

from workflows.actions import Actions
from workflows.clock import DeadlineClock, owed_by_owner
from workflows.joint_decision import JointDecision, JointDecisions
from workflows.practice_review import PracticeReviewWorkflow
from workflows.sign_off import ThreeWaySignOff
from workflows.steps import Steps, reject
from workflows.vocabulary import practice_review_id

OPEN_STAGES = frozenset(stage for stage in Stage if stage != Stage.closed)
# After the partners' sign-off, the rapid review goes to the National Panel and its reply is recorded beside
# whatever follows (for a local CSPR: the methodology and the review itself).
AFTER_SIGN_OFF = frozenset({Stage.national_panel, Stage.methodology, Stage.practice_review})
# Deaths notified whatever is known of abuse or neglect (the category); the rapid review still follows the notification.
ALWAYS_NOTIFIED = {"looked_after_child_death": RULE_LOOKED_AFTER_DEATH, "care_leaver_death": RULE_CARE_LEAVER_DEATH}
# The partners who answer the CSC lead's proposal on the notification (the local authority's view is the proposal).
ANSWERING_SEATS = (Seat.police, Seat.icb)
RECONSIDER_ANSWERS = {"continue": "Keep the partners' decision", "undertake_local_cspr": "Undertake a local CSPR",
                      "stop_local_cspr": "Stop the local CSPR"}
LEARNING_KINDS = {"single_agency_review": "Single-agency review", "audit": "Audit", "workshop": "Workshop",
                  "thematic_review": "Thematic review"}


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
    RULES = {
        "accept_referral": Rule.of({Stage.referral}, Role.business_unit),
        # Cases of the three-way decision: only at csc_consultation, with the partners' agreement not to notify
        # (see _check_decline_referral); cases started before it: at referral, as they ran.
        "decline_referral": Rule.of({Stage.referral, Stage.csc_consultation}, Role.business_unit),
        # The awareness date stays correctable after the notification (judged again, its record re-issued).
        "correct_awareness_date": Rule.of(OPEN_STAGES, Role.csc_lead),
        "correct_referral": Rule.of({Stage.referral, Stage.csc_consultation, Stage.notification}, Role.csc_lead),
        # The notification decision is the three partners' (RULE_SIN_THREE_WAY): the CSC lead proposes, the
        # police and ICB Executive seats answer, a disagreement is resolved and recorded by the LA's seat.
        "propose_sin_decision": Rule.of({Stage.csc_consultation}, Role.csc_lead),
        "respond_to_sin_proposal": Rule.of({Stage.csc_consultation}, Role.executive),
        "resolve_sin_disagreement": Rule.of({Stage.csc_consultation}, Role.executive),
        "record_notification": Rule.of({Stage.notification}, Role.csc_lead),
        "convene_panel": Rule.of({Stage.panel_preparation}, Role.business_unit),
        "submit_information_return": Rule.of(RETURN_STAGES, Role.agency_member),
        "record_panel_outcome": Rule.of({Stage.panel_preparation, Stage.panel}, Role.panel_chair),
        "issue_decision_sheet": Rule.of({Stage.decision_sheet}, Role.panel_chair),
        # After sign-off the seats sign a revision the National Panel's questions called for (_check_sign_off).
        "sign_off": Rule.of({Stage.executive_sign_off} | AFTER_SIGN_OFF, Role.executive),
        "revise_rapid_review": Rule.of(AFTER_SIGN_OFF, Role.panel_chair, Role.business_unit),
        # Related reviews, recorded by the business unit at any open stage: CDOP's, and a joint review.
        "record_national_review_part": Rule.of(AFTER_SIGN_OFF, Role.business_unit, Role.executive),
        "link_cdop_review": Rule.of(OPEN_STAGES - {Stage.referral}, Role.business_unit, Role.csc_lead),
        "record_joint_review": Rule.of(OPEN_STAGES - {Stage.referral}, Role.business_unit),
        "record_submission": Rule.of(AFTER_SIGN_OFF, Role.business_unit),
        # A reply that arrives after the case closed is recorded on the closed case (cases since "reopenable").
        "record_national_panel_response": Rule.of(AFTER_SIGN_OFF | {Stage.closed}, Role.business_unit),
        "reconsider_decision": Rule.of(AFTER_SIGN_OFF, Role.executive),
        # Only the partners decide how a review takes place (Working Together 2023, ch. 5).
        "choose_methodology": Rule.of({Stage.methodology}, Role.executive),
        # Learning without a local CSPR (RULE_LEARNING_WITHOUT_CSPR): the partners decide, the business unit
        # prepares it for them (its task) and the plan actions reach it through the action plan.
        "record_learning_activities": Rule.of({Stage.national_panel}, Role.executive),
        # The business unit closes a referral that never became a case (at referral) at once; any other closure
        # outside the normal end, like stopping a local CSPR, is the three partners' joint decision (JOINT below):
        # proposed by the business unit or a seat, applied when the three seats agree.
        "close_case": Rule.of(OPEN_STAGES, Role.business_unit, Role.executive),
        "stop_local_cspr": Rule.of({Stage.methodology, Stage.practice_review}, Role.business_unit, Role.executive),
        # Reopening a closed case is the partners' decision too, while the case may be reopened (reopen_until).
        "reopen_case": Rule.of({Stage.closed}, Role.business_unit, Role.executive),
        "answer_joint_decision": Rule.of(OPEN_STAGES | {Stage.closed}, Role.executive),
    }
    # Actions no longer offered (not in RULES, so not in the API or on pages) that cases of an earlier process
    # replay: the CSC lead's decision alone.
    RETIRED_RULES = {
        "record_sin_decision": Rule.of({Stage.csc_consultation}, Role.csc_lead),
    }

    EVENT_DATES = {
        "record_notification": ("notification", "notified_on"),
        "record_panel_outcome": ("panel", "held_on"),
        "record_submission": ("rapid_review", "submitted_on"),
        "record_national_panel_response": ("national_panel_reply", "received_on"),
        "choose_methodology": ("methodology", "decided_on"),
    }

    @workflow.init
    def __init__(self, case: CaseInput) -> None:
        """The state exists before any handler runs: a query or an update arriving in the first workflow task
        finds the case (an update then waits until the case has opened)."""
        self._child = None
        self._last_progress = 0
        self._review_late = False
        self._no_review_why = ""  # why there is no further review, kept while the learning decision is awaited
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
                           record=self._record)
        self.clock = DeadlineClock(self.state, self.rules, self.steps, who_owes=self._who_owes,
                                   late_elsewhere=lambda: self._review_late)
        self.actions = Actions({**self.RULES, **self.RETIRED_RULES}, state=self.state, steps=self.steps,
                               clock=self.clock, checks=self, event_dates=self.EVENT_DATES,
                               audit_detail=self._audit_detail)
        self.three_way = ThreeWaySignOff(self.state, self.steps, self.clock, action="sign_off",
                                         thing="decision sheet", title="decision sheet", returned_to=" to the chair")
        self.joint = JointDecisions(self.state, self.steps, self.clock, {
            "reconsider_decision": JointDecision(ReconsiderDecision, self._reconsider_decision,
                                                 lambda a: f"{RECONSIDER_ANSWERS[a.answer]}: {a.reasons}"),
            "record_learning_activities": JointDecision(RecordLearningActivities, self._record_learning_activities,
                                                        self._learning_proposal),
            "choose_methodology": JointDecision(ChooseMethodology, self._choose_methodology,
                                                self._methodology_proposal),
            "stop_local_cspr": JointDecision(StopLocalCspr, self._stop_local_cspr,
                                             lambda a: f"Stop the local CSPR: {a.reasons}"),
            "close_case": JointDecision(CloseCase, self._close_case, lambda a: f"Close the case: {a.reason}",
                                        needed=self._closure_needs_partners),
            "reopen_case": JointDecision(ReopenCase, self._reopen_case, lambda a: f"Reopen the case: {a.reason}"),
        }, self.actions.recheck, answer_action="answer_joint_decision")
        self.actions.joint = self.joint

    # ================================================================== run

    @workflow.run
    async def run(self, case: CaseInput) -> str:
        # Cases started before seals existed have no marker and replay as they ran. The seal is checked live only:
        # a refused start ends at once, so no case's replay depends on it, and a field the input gains later
        # (a new setting with a default) cannot make an old start look unsealed on replay.
        if workflow.patched("sealed-start") and not workflow.unsafe.is_replaying() and not _start_sealed(case):
            raise ApplicationError("This case was not started by the Rapid Review service (no valid seal): refused, "
                                   "nothing was recorded.", type="NotSealed", non_retryable=True)
        # Which notification process the case runs is fixed when it starts (as its rules are): cases started
        # before the three-way decision replay with the CSC lead deciding alone and the business unit declining
        # at referral. A patch here rather than in the validators, which may not call workflow.patched.
        self.state.three_way_sin = workflow.patched("three-way-sin")
        # Likewise the partners' joint decisions (workflows/joint_decision.py): cases opened before them keep one
        # Executive's answer and the business unit's closure, as they ran.
        self.state.joint_decisions = workflow.patched("joint-decisions")
        # And whether a closed case may be reopened by the partners: cases opened before end when they close.
        self.state.reopenable = workflow.patched("reopenable")
        # A person's action is answered once its step is applied, its documents following in step order
        # (workflows/steps.py). Cases opened before render them inside the action, as they ran.
        self.steps.documents_after_reply = workflow.patched("answer-first")
        await self.clock.open_calendar(min(case.awareness_date, case.incident_date, self.clock.today()))
        await self._open_case()
        while True:
            clock = asyncio.create_task(self.clock.run())
            await workflow.wait_condition(lambda: self.state.stage == Stage.closed or self._child is not None)
            if self._child is not None and self.state.stage != Stage.closed:
                await self._follow_practice_review()
                self._child = None  # a reopened case may start a review again
            await clock
            if not await self._reopened():
                break
        await self.steps.documents_issued()
        await workflow.wait_condition(workflow.all_handlers_finished)  # let the closing update reply
        return self.state.outcome or self.state.closed_reason or "closed"

    async def _reopened(self) -> bool:
        """A closed case the partners may reopen waits until its reopen_until day has ended (a late reply from the
        National Panel is recorded meanwhile); True if the partners reopened it, False once the window is over,
        when anything left for the reopening (the late reply's task, an open proposal) is closed."""
        until = self.state.reopen_until
        if until is None:
            return False
        try:
            await workflow.wait_condition(lambda: self.state.stage != Stage.closed,
                                          timeout=london_moment(until + timedelta(days=1), 0) - workflow.now())
            return True
        except TimeoutError:
            pass
        async with self.steps.lock:
            if self.state.stage != Stage.closed:
                return True  # reopened by an update that was already under way when the window ended
            self.state.reopen_until = None
            step = self.steps.new_step("reopen_window_ended")
            proposal = self.joint.open_proposal("reopen_case")
            if proposal is not None:
                self.joint.settle(proposal, "not_agreed", step, "the time to reopen the case ended")
            step.settle.append(self.steps.cancel("", "the time to reopen the case ended"))
            self.state.late_panel_reply = False
            step.audit = self._audit(None, "reopen_window_ended", {"until": until.isoformat()})
            await self.steps.commit(step)
        return False

    async def _open_case(self) -> None:
        async with self.steps.lock:
            self.steps.opened = True  # an update that came with the start now waits for this lock, as every later does
            case, rules = self.case, self.rules
            step = self.steps.new_step("submit_referral")
            self.state.stage_history.append(self.steps.stage_change(Stage.referral, case.referrer, "submit_referral"))
            step.facts.opened_case, step.facts.entered_stage = True, Stage.referral
            notify_by = self.clock.add_counted_deadline(
                "notification", "Serious incident notification to the National Panel", case.awareness_date,
                rules.notification_working_days, RULE_NOTIFICATION.format(n=rules.notification_working_days),
                Role.csc_lead, statutory=True,
            )
            if rules.rapid_review_clock_start == "awareness":
                self._start_window(case.awareness_date)
            step.tasks.append(self.steps.task(
                "accept_referral", TaskKind.decision, "Accept or decline the referral",
                f"A referral from {AGENCIES.get(case.referring_agency, case.referring_agency)}: decide whether it goes "
                "to Children's Social Care for consultation.", Role.business_unit,
                due=self.clock.working_days_after(self.clock.today(), 1), action="accept_referral",
            ))
            step.audit = self._audit(case.referrer, "submit_referral", {
                "incident_date": case.incident_date.isoformat(), "awareness_date": case.awareness_date.isoformat(),
                "referring_agency": case.referring_agency, "age_band": case.age_band,
            })
            acknowledgement = ReferralAcknowledgement(
                pseudonym=case.pseudonym, age_band=case.age_band, referring_agency=case.referring_agency,
                incident_date=case.incident_date, awareness_date=case.awareness_date, referrer=case.referrer.name,
                received_on=self.clock.today(), notification_due=notify_by,
                notification_days=rules.notification_working_days,
            )
            ack = self.steps.document(DocumentKind.referral_acknowledgement, case.referrer.name, acknowledgement)
            await self.steps.commit(step, [ack])

    async def _follow_practice_review(self) -> None:
        try:
            outcome = await self._child
        except ChildWorkflowError:
            if self.state.stage == Stage.closed:
                return  # closed by close_case, which cancelled the review
            raise
        async with self.steps.lock:
            if self.state.stage == Stage.closed:
                return
            step = self.steps.new_step("practice_review_closed")
            self.state.outcome = f"Local CSPR completed: {outcome}"
            self.state.closed_reason = "Local child safeguarding practice review completed"
            self._review_entered(step, Stage.closed)
            self.steps.move_to(step, Stage.closed, None, "practice_review_closed")
            self.clock.cancel_all()
            step.audit = self._audit(None, "practice_review_closed", {"outcome": outcome})
            await self.steps.commit(step)

    # ================================================================== query and signal

    @workflow.query
    def state(self, today: str | None = None) -> dict:
        """Stage, deadlines (with working days left from ``today``), outstanding, flags, history, and the
        referral as it came (the case page's summary; a query, so nothing is recorded in the history)."""
        return self._with_referral(self.clock.view(date.fromisoformat(today) if today else None))

    def _with_referral(self, view: dict) -> dict:
        view["referral"] = self.case.model_dump(
            mode="json", include={"summary", "age_band", "incident_date", "awareness_date", "referring_agency"})
        return view

    @workflow.signal
    async def practice_review_progress(self, progress: ReviewProgress) -> None:
        """The child review reports its stage; the case's read model shows it. Only a sealed report from the
        review itself counts, each number once (cases from before seals replay without the check)."""
        if workflow.patched("sealed-progress"):
            sent_as = str(progress.sequence)
            sealed = {**progress.sealed_fields(), "seal": progress.seal}
            if progress.sequence <= self._last_progress or not authenticity.is_sealed(
                    practice_review_id(workflow.info().workflow_id), "practice_review_progress", sent_as, sealed):
                workflow.logger.warning("an unsealed or repeated practice-review progress signal was ignored")
                return
            self._last_progress = progress.sequence
        async with self.steps.lock:
            if self.state.stage == Stage.closed:
                return
            step = self.steps.new_step(f"practice_review:{progress.stage}")
            self._review_entered(step, progress.stage)
            self._review_late = progress.late
            self.state.late = self.state.late or progress.late
            self.state.escalated = self.state.escalated or progress.escalated
            await self.steps.commit(step)

    def _review_entered(self, step, stage: str) -> None:
        """The case's record of its review's stage (its row shows it); the step says when it changed."""
        step.facts.review_stage_changed = self.state.practice_review_stage != stage
        self.state.practice_review_stage = stage

    # ================================================================== updates (one per action)

    @workflow.update
    async def add_calendar_day(self, notice: CalendarDayAdded) -> list[dict]:
        """A one-off bank holiday or closure day added by the partnership: the deadlines it moves, and why."""
        return await self.clock.add_calendar_day(notice)

    @add_calendar_day.validator
    def _validate_add_calendar_day(self, notice: CalendarDayAdded) -> None:
        self.clock.validate_calendar_day(notice)

    @workflow.update
    async def accept_referral(self, action: AcceptReferral) -> dict:
        return await self.actions.act("accept_referral", action, self._accept_referral)

    @accept_referral.validator
    def _validate_accept_referral(self, action: AcceptReferral) -> None:
        self.actions.validate("accept_referral", action)

    @workflow.update
    async def decline_referral(self, action: DeclineReferral) -> dict:
        return await self.actions.act("decline_referral", action, self._decline_referral)

    @decline_referral.validator
    def _validate_decline_referral(self, action: DeclineReferral) -> None:
        self.actions.validate("decline_referral", action)

    @workflow.update
    async def correct_awareness_date(self, action: CorrectAwarenessDate) -> dict:
        return await self.actions.act("correct_awareness_date", action, self._correct_awareness_date)

    @correct_awareness_date.validator
    def _validate_correct_awareness_date(self, action: CorrectAwarenessDate) -> None:
        self.actions.validate("correct_awareness_date", action)

    @workflow.update
    async def correct_referral(self, action: CorrectReferral) -> dict:
        """Correct what the incident is (its category) and the cases linked with it"""
        return await self.actions.act("correct_referral", action, self._correct_referral)

    @correct_referral.validator
    def _validate_correct_referral(self, action: CorrectReferral) -> None:
        self.actions.validate("correct_referral", action)

    @workflow.update
    async def propose_sin_decision(self, action: ProposeSinDecision) -> dict:
        """Propose the notification decision to police and health"""
        return await self.actions.act("propose_sin_decision", action, self._propose_sin_decision)

    @propose_sin_decision.validator
    def _validate_propose_sin_decision(self, action: ProposeSinDecision) -> None:
        self.actions.validate("propose_sin_decision", action)

    @workflow.update
    async def respond_to_sin_proposal(self, action: RespondToSinProposal) -> dict:
        """Agree or disagree with the CSC lead's notification proposal"""
        return await self.actions.act("respond_to_sin_proposal", action, self._respond_to_sin_proposal)

    @respond_to_sin_proposal.validator
    def _validate_respond_to_sin_proposal(self, action: RespondToSinProposal) -> None:
        self.actions.validate("respond_to_sin_proposal", action)

    @workflow.update
    async def resolve_sin_disagreement(self, action: ResolveSinDisagreement) -> dict:
        """Record how the partners resolved a disagreement on the notification"""
        return await self.actions.act("resolve_sin_disagreement", action, self._resolve_sin_disagreement)

    @resolve_sin_disagreement.validator
    def _validate_resolve_sin_disagreement(self, action: ResolveSinDisagreement) -> None:
        self.actions.validate("resolve_sin_disagreement", action)

    @workflow.update
    async def record_learning_activities(self, action: RecordLearningActivities) -> dict:
        """Record the learning chosen without a local CSPR (or that none is needed)"""
        return await self.actions.act("record_learning_activities", action, self._record_learning_activities)

    @record_learning_activities.validator
    def _validate_record_learning_activities(self, action: RecordLearningActivities) -> None:
        self.actions.validate("record_learning_activities", action)

    @workflow.update
    async def record_sin_decision(self, action: RecordSinDecision) -> dict:
        return await self.actions.act("record_sin_decision", action, self._record_sin_decision)

    @record_sin_decision.validator
    def _validate_record_sin_decision(self, action: RecordSinDecision) -> None:
        self.actions.validate("record_sin_decision", action)

    @workflow.update
    async def record_notification(self, action: RecordNotification) -> dict:
        return await self.actions.act("record_notification", action, self._record_notification)

    @record_notification.validator
    def _validate_record_notification(self, action: RecordNotification) -> None:
        self.actions.validate("record_notification", action)

    @workflow.update
    async def convene_panel(self, action: ConvenePanel) -> dict:
        return await self.actions.act("convene_panel", action, self._convene_panel)

    @convene_panel.validator
    def _validate_convene_panel(self, action: ConvenePanel) -> None:
        self.actions.validate("convene_panel", action)

    @workflow.update
    async def submit_information_return(self, action: SubmitInformationReturn) -> dict:
        return await self.actions.act("submit_information_return", action, self._submit_information_return)

    @submit_information_return.validator
    def _validate_submit_information_return(self, action: SubmitInformationReturn) -> None:
        self.actions.validate("submit_information_return", action)

    @workflow.update
    async def record_panel_outcome(self, action: RecordPanelOutcome) -> dict:
        return await self.actions.act("record_panel_outcome", action, self._record_panel_outcome)

    @record_panel_outcome.validator
    def _validate_record_panel_outcome(self, action: RecordPanelOutcome) -> None:
        self.actions.validate("record_panel_outcome", action)

    @workflow.update
    async def issue_decision_sheet(self, action: IssueDecisionSheet) -> dict:
        return await self.actions.act("issue_decision_sheet", action, self._issue_decision_sheet)

    @issue_decision_sheet.validator
    def _validate_issue_decision_sheet(self, action: IssueDecisionSheet) -> None:
        self.actions.validate("issue_decision_sheet", action)

    @workflow.update
    async def sign_off(self, action: SignOff) -> dict:
        return await self.actions.act("sign_off", action, self._sign_off)

    @sign_off.validator
    def _validate_sign_off(self, action: SignOff) -> None:
        self.actions.validate("sign_off", action)

    @workflow.update
    async def record_submission(self, action: RecordSubmission) -> dict:
        return await self.actions.act("record_submission", action, self._record_submission)

    @record_submission.validator
    def _validate_record_submission(self, action: RecordSubmission) -> None:
        self.actions.validate("record_submission", action)

    @workflow.update
    async def record_national_review_part(self, action: RecordNationalReviewPart) -> dict:
        """Record what the partnership gave the National Panel's national review"""
        return await self.actions.act("record_national_review_part", action, self._record_national_review_part)

    @record_national_review_part.validator
    def _validate_record_national_review_part(self, action: RecordNationalReviewPart) -> None:
        self.actions.validate("record_national_review_part", action)

    @workflow.update
    async def link_cdop_review(self, action: LinkCdopReview) -> dict:
        """Link the Child Death Overview Panel's review of the same death"""
        return await self.actions.act("link_cdop_review", action, self._link_cdop_review)

    @link_cdop_review.validator
    def _validate_link_cdop_review(self, action: LinkCdopReview) -> None:
        self.actions.validate("link_cdop_review", action)

    @workflow.update
    async def record_joint_review(self, action: RecordJointReview) -> dict:
        """Record a review run jointly with another partnership"""
        return await self.actions.act("record_joint_review", action, self._record_joint_review)

    @record_joint_review.validator
    def _validate_record_joint_review(self, action: RecordJointReview) -> None:
        self.actions.validate("record_joint_review", action)

    @workflow.update
    async def revise_rapid_review(self, action: ReviseRapidReview) -> dict:
        """Revise the rapid review with the answers to the National Panel's questions"""
        return await self.actions.act("revise_rapid_review", action, self._revise_rapid_review)

    @revise_rapid_review.validator
    def _validate_revise_rapid_review(self, action: ReviseRapidReview) -> None:
        self.actions.validate("revise_rapid_review", action)

    @workflow.update
    async def record_national_panel_response(self, action: RecordNationalPanelResponse) -> dict:
        return await self.actions.act("record_national_panel_response", action, self._record_national_panel_response)

    @record_national_panel_response.validator
    def _validate_record_national_panel_response(self, action: RecordNationalPanelResponse) -> None:
        self.actions.validate("record_national_panel_response", action)

    @workflow.update
    async def reconsider_decision(self, action: ReconsiderDecision) -> dict:
        view = await self.actions.act("reconsider_decision", action, self._reconsider_decision)
        self._stop_review_if_closed()
        return view

    @reconsider_decision.validator
    def _validate_reconsider_decision(self, action: ReconsiderDecision) -> None:
        self.actions.validate("reconsider_decision", action)

    @workflow.update
    async def choose_methodology(self, action: ChooseMethodology) -> dict:
        view = await self.actions.act("choose_methodology", action, self._choose_methodology)
        await self._start_review_if_chosen()
        return view

    @choose_methodology.validator
    def _validate_choose_methodology(self, action: ChooseMethodology) -> None:
        self.actions.validate("choose_methodology", action)

    @workflow.update
    async def close_case(self, action: CloseCase) -> dict:
        """Close the case (a referral that never became a case), or propose its closure to the partners"""
        view = await self.actions.act("close_case", action, self._close_case)
        self._stop_review_if_closed()
        return view

    @close_case.validator
    def _validate_close_case(self, action: CloseCase) -> None:
        self.actions.validate("close_case", action)

    @workflow.update
    async def stop_local_cspr(self, action: StopLocalCspr) -> dict:
        """Propose to the partners that the local CSPR stops"""
        view = await self.actions.act("stop_local_cspr", action, self._stop_local_cspr)
        self._stop_review_if_closed()
        return view

    @stop_local_cspr.validator
    def _validate_stop_local_cspr(self, action: StopLocalCspr) -> None:
        self.actions.validate("stop_local_cspr", action)

    @workflow.update
    async def reopen_case(self, action: ReopenCase) -> dict:
        """Propose to the partners that a closed case is reopened (e.g. for the National Panel's late reply)"""
        return await self.actions.act("reopen_case", action, self._reopen_case)

    @reopen_case.validator
    def _validate_reopen_case(self, action: ReopenCase) -> None:
        self.actions.validate("reopen_case", action)

    @workflow.update
    async def answer_joint_decision(self, action: AnswerJointDecision) -> dict:
        """Agree or disagree with a decision proposed to the partners"""
        view = await self.actions.act("answer_joint_decision", action, self.joint.answer)
        self._stop_review_if_closed()
        await self._start_review_if_chosen()
        return view

    @answer_joint_decision.validator
    def _validate_answer_joint_decision(self, action: AnswerJointDecision) -> None:
        self.actions.validate("answer_joint_decision", action)

    async def _start_review_if_chosen(self) -> None:
        """The methodology decided (by the three seats on cases of the joint decisions, by one Executive before):
        the local CSPR starts as its child workflow."""
        if self._child is None and self.state.stage == Stage.practice_review and self.state.methodology is not None:
            await self._start_practice_review(self.state.methodology)

    def _stop_review_if_closed(self) -> None:
        """A case closed (or its review stopped) while its local CSPR runs: the review stops with it."""
        if self._child is not None and self.state.stage == Stage.closed:
            self._child.cancel()

    # ================================================================== checks beyond stage and role

    def _check_decline_referral(self, action: DeclineReferral) -> None:
        """Only the local authority's consideration ends a referral: the business unit declines it (and writes to
        the referrer) once the three partners have agreed not to notify, never before CSC has considered it.
        The business unit keeps its acceptance step; the decline stays its own record-keeping act."""
        st = self.state
        if st.stage == Stage.referral and st.three_way_sin:
            raise reject("The business unit cannot decline a referral before Children's Social Care has considered "
                         f"it ({RULE_SIN_THREE_WAY}). Accept it to CSC; a referral the partners agree not to "
                         "notify is declined then.")
        if st.stage == Stage.csc_consultation and st.sin_agreed != "do_not_notify":
            raise reject("A referral is declined once the three partners have agreed not to notify; they have not "
                         "(yet).")

    def _check_record_sin_decision(self, action: RecordSinDecision) -> None:
        if self.state.three_way_sin or self.state.sin_proposals:
            raise reject("The notification decision is the three partners': the CSC lead proposes it "
                         "(propose_sin_decision) and police and health agree or disagree.")

    def _check_notifiable(self, decision: str) -> None:
        """Deaths of looked-after children and care leavers are notified whatever is known of abuse or neglect."""
        rule = ALWAYS_NOTIFIED.get(self.state.category)
        if decision == "do_not_notify" and rule:
            raise reject(f"This case is the {self.state.category.replace('_', ' ')}: it is notified ({rule}). "
                         "If abuse or neglect is not what the referral says, correct the category first.")

    def _check_sin_open(self) -> None:
        if self.state.sin_agreed is not None:
            raise reject(f"The partners already agreed the notification decision ({self.state.sin_agreed}).")

    def _current_sin_version(self) -> int:
        return len(self.state.sin_proposals)

    def _disagreeing(self, version: int) -> list[str]:
        return [r.seat for r in self.state.sin_responses if r.version == version and r.view == "disagree"]

    def _check_propose_sin_decision(self, action: ProposeSinDecision) -> None:
        self._check_sin_open()
        self._check_notifiable(action.decision)

    def _check_respond_to_sin_proposal(self, action: RespondToSinProposal) -> None:
        seat, version = action.actor.seat, self._current_sin_version()
        if seat not in ANSWERING_SEATS:
            raise reject("The police and health (ICB) Executive seats answer the CSC lead's proposal; the local "
                         "authority's view is the proposal itself.")
        self._check_sin_open()
        if version == 0:
            raise reject("The CSC lead has not proposed a notification decision yet.")
        if action.version != version:
            raise reject(f"You are answering version {action.version}, but the current proposal is version {version}.")
        if any(r.seat == seat and r.version == version for r in self.state.sin_responses):
            raise reject(f"The {seat} seat has already answered version {version} of the proposal.")
        self._check_notifiable(self.state.sin_proposals[-1].decision)

    def _check_resolve_sin_disagreement(self, action: ResolveSinDisagreement) -> None:
        """The LA's seat decides where a partner disagreed, or where one has not answered by the answer date."""
        version = self._current_sin_version()
        if action.actor.seat != Seat.la:
            raise reject("The local authority's seat records the resolution: the duty to notify is the local "
                         f"authority's ({RULE_SIN_THREE_WAY}).")
        self._check_sin_open()
        if action.version != version or not (self._disagreeing(version) or self._silent(version)):
            answer_by = self._answers_due(version)
            waiting = f" Police and health have until {answer_by.isoformat()} to answer." if answer_by else ""
            raise reject(f"There is no disagreement to resolve on version {action.version} of the proposal, and no "
                         f"partner's answer is overdue.{waiting}")
        self._check_notifiable(action.decision)

    def _answers_due(self, version: int) -> date | None:
        """The day police and health answer proposal ``version`` by: a few working days (the partnership's rule),
        never after the notification is due."""
        if not version:
            return None
        proposed = self.state.sin_proposals[version - 1].on
        by = self.clock.working_days_after(proposed, self.rules.partner_answer_working_days)
        due = self._notification_due()
        return min(by, due) if due else by

    def _silent(self, version: int) -> list[Seat]:
        """The answering seats that have not answered ``version`` and whose answer date has passed."""
        answer_by = self._answers_due(version)
        if answer_by is None or self.clock.today() <= answer_by:
            return []
        answered = {r.seat for r in self.state.sin_responses if r.version == version}
        return [seat for seat in ANSWERING_SEATS if seat not in answered]

    def _check_correct_referral(self, action: CorrectReferral) -> None:
        if self.state.reference in action.linked_references:
            raise reject("A case cannot be linked with itself.")
        if action.category == self.state.category and action.linked_references == self.state.linked_references:
            raise reject("The category and linked cases are already as given: nothing to correct.")

    def _check_record_learning_activities(self, action: RecordLearningActivities) -> None:
        if self.state.partners_decision != Recommendation.no_further_review:
            raise reject("Learning without a local CSPR follows the partners' decision of no further review.")
        if self.state.learning_activities is not None:
            raise reject(f"The learning was already recorded on {self.state.learning_activities.decided_on}.")
        self.actions.not_future(action.decided_on, "date of the decision")
        self.actions.not_before(action.decided_on, self.state.partners_decided_on, "date of the decision",
                                "partners' decision")
        for activity in action.activities:
            self.actions.not_before(activity.due, action.decided_on, f"due date of '{activity.description}'",
                                    "date of the decision")

    def _check_correct_awareness_date(self, action: CorrectAwarenessDate) -> None:
        self.actions.not_future(action.awareness_date, "date of awareness")
        self.actions.not_before(action.awareness_date, self.case.incident_date, "date of awareness", "incident")
        if action.awareness_date == self.state.awareness_date:
            raise reject(f"The date of awareness is already {action.awareness_date.isoformat()}.")
        self.actions.not_after(action.awareness_date, self.state.notified_on, "date of awareness",
                               "notification")

    def _check_record_notification(self, action: RecordNotification) -> None:
        self.actions.not_before(
            action.notified_on, self.state.awareness_date, "date of notification", "date of awareness"
        )
        self.actions.not_future(action.notified_on, "date of notification")

    def _check_convene_panel(self, action: ConvenePanel) -> None:
        if action.panel_date < self.clock.today():
            raise reject(f"The panel date {action.panel_date.isoformat()} is in the past.")
        closed = self.clock.calendar.closed_because(action.panel_date)
        if closed:
            raise reject(f"The panel date {action.panel_date.isoformat()} is not a working day ({closed}).")
        unknown = [a for a in action.invited_agencies if a not in AGENCIES]
        if unknown:
            raise reject(f"Unknown agencies: {', '.join(unknown)}. Known agencies: {', '.join(AGENCIES)}.")
        if len(set(action.invited_agencies)) != len(action.invited_agencies):
            raise reject("An agency is invited more than once.")

    def _check_submit_information_return(self, action: SubmitInformationReturn) -> None:
        agency = action.actor.agency
        if not self.state.panel or agency not in self.state.panel.invited_agencies:
            raise reject(f"Your agency ({agency}) has not been asked for information on this case.")
        if agency in self.state.returns:
            raise reject(f"Your agency already returned its information on {self.state.returns[agency].isoformat()}.")

    def _check_record_panel_outcome(self, action: RecordPanelOutcome) -> None:
        self.actions.not_future(action.held_on, "panel date")
        self.actions.not_before(action.held_on, self.state.convened_on, "panel date", "date the panel was convened")
        if self.state.panel is None:
            raise reject("The panel has not been convened yet.")

    def _check_sign_off(self, action: SignOff) -> None:
        if self.state.stage != Stage.executive_sign_off and self.state.revision is None:
            raise reject("There is nothing to sign off: the rapid review was signed off, and no revision after the "
                         "National Panel's questions waits for the partners.")
        self.three_way.check(action, self.state.decision_sheet_version)

    def _check_revise_rapid_review(self, action: ReviseRapidReview) -> None:
        if not self.state.panel_questions_pending:
            raise reject("The rapid review is revised when the National Panel asks questions; it has not.")
        if self.state.revision is not None:
            raise reject(f"Version {self.state.decision_sheet_version} of the revised rapid review is with the "
                         "partners for sign-off.")

    def _check_record_submission(self, action: RecordSubmission) -> None:
        if self.state.partners_decided_on is None:
            raise reject("The rapid review goes to the National Panel once the partners have signed it off.")
        if self.state.submitted_on is not None and not self.state.resubmission_due:
            raise reject(f"The rapid review was already submitted on {self.state.submitted_on.isoformat()}.")
        self.actions.not_future(action.submitted_on, "date of submission")
        approved = max((s.on for s in self.state.sign_offs if s.version == self.state.decision_sheet_version),
                       default=None)
        self.actions.not_before(action.submitted_on, approved, "date of submission", "Executive sign-off")

    def _check_record_national_panel_response(self, action: RecordNationalPanelResponse) -> None:
        if self.state.submitted_on is None:
            raise reject("Record the submission to the National Panel before its response.")
        if self.state.reopenable and not self._panel_reply_awaited():  # one reply per submission (cases since then)
            raise reject("The National Panel's reply to the last submission is already recorded; a further reply "
                         "follows a resubmission.")
        self.actions.not_future(action.received_on, "date of the response")
        self.actions.not_before(action.received_on, self.state.submitted_on, "date of the response", "submission")

    def _check_reconsider_decision(self, action: ReconsiderDecision) -> None:
        if not self.state.reconsideration_pending:
            raise reject("There is nothing to reconsider: the National Panel's response did not differ from the "
                         "partners' decision.")
        local = self.state.partners_decision == Recommendation.local_cspr
        if action.answer == "undertake_local_cspr" and local:
            raise reject("The partners already decided on a local CSPR; answer 'continue' to keep it.")
        if action.answer == "stop_local_cspr" and not local:
            raise reject("There is no local CSPR to stop.")

    def _check_close_case(self, action: CloseCase) -> None:
        if not self.state.joint_decisions and action.actor.role != Role.business_unit:
            raise reject("On this case (opened before the partners' joint decisions) the business unit closes it.")

    def _check_stop_local_cspr(self, action: StopLocalCspr) -> None:
        if not self.state.joint_decisions:
            raise reject("This case was opened before the partners' joint decisions: stop its local CSPR through "
                         "the reconsideration after the National Panel's reply, or close the case.")

    def _check_answer_joint_decision(self, action: AnswerJointDecision) -> None:
        self.joint.check_answer(action)

    def _closure_needs_partners(self, action: CloseCase) -> bool:
        """Only a referral that never became a case closes without the partners: the business unit's
        administrative closure (withdrawn, duplicate, sent in error)."""
        return not (self.state.stage == Stage.referral and action.actor.role == Role.business_unit)

    @staticmethod
    def _methodology_proposal(action: ChooseMethodology) -> str:
        methods = ", ".join(str(m).replace("_", " ") for m in action.methods)
        return f"How the local CSPR takes place: {methods}; reviewer {action.reviewer}, lead {action.lead}"

    def _learning_proposal(self, action: RecordLearningActivities) -> str:
        if not action.activities:
            return f"No learning activity without a local CSPR: {action.note}"
        kinds = ", ".join(LEARNING_KINDS[a.kind].lower() for a in action.activities)
        return f"Learning without a local CSPR: {kinds}"

    def _check_choose_methodology(self, action: ChooseMethodology) -> None:
        self.actions.not_future(action.decided_on, "date of the decision")
        self.actions.not_before(action.decided_on, self.state.partners_decided_on, "date of the decision",
                                "partners' decision to undertake the review")
        if len(set(action.methods)) != len(action.methods):
            raise reject("A method is listed more than once.")

    # ================================================================== what each action does

    def _accept_referral(self, action: AcceptReferral, step, documents) -> None:
        step.settle.append(self.steps.done("accept_referral", "accepted"))
        self.steps.move_to(step, Stage.csc_consultation, action.actor, "accept_referral")
        if self.state.three_way_sin:
            step.tasks.append(self.steps.task(
                "propose_sin_decision", TaskKind.decision,
                "Consult police and health; propose the notification decision",
                "Propose to notify or not, with the rationale; the police and ICB seats agree or disagree "
                f"({RULE_SIN_THREE_WAY}).", Role.csc_lead, due=self.clock.deadline("notification").due,
                action="propose_sin_decision",
            ))
            return
        step.tasks.append(self.steps.task(
            "record_sin_decision", TaskKind.decision,
            "Consult police and health; decide on a serious incident notification",
            "Record the police and health views, the decision (notify or not) and its rationale.", Role.csc_lead,
            due=self.clock.deadline("notification").due, action="record_sin_decision",
        ))

    def _decline_referral(self, action: DeclineReferral, step, documents) -> None:
        if self.state.stage == Stage.referral:  # cases started before the three-way decision
            step.settle.append(self.steps.done("accept_referral", "declined"))
            self._close(action.actor, "decline_referral", f"Referral declined: {action.reason}", step)
            return
        step.settle.append(self.steps.done("decline_referral", "declined"))
        decided = self._sin_context()
        documents.append(self.steps.document(DocumentKind.no_notification_letter, action.actor.name,
                                             self._no_notification_letter(decided)))
        self._close(action.actor, "decline_referral", "Referral declined: no serious incident notification, agreed "
                    f"by the three partners ({decided.rationale}): {action.reason}", step)

    # ------------------------------------------------------------------ the three-way notification decision

    def _propose_sin_decision(self, action: ProposeSinDecision, step, documents) -> None:
        """A new proposal (or a revision after a disagreement): police and health answer this version."""
        version = self._current_sin_version() + 1
        self.state.sin_proposals.append(SinProposal(version=version, decision=action.decision,
                                                    rationale=action.rationale, by=action.actor.name,
                                                    on=self.clock.today()))
        step.settle.append(self.steps.done("propose_sin_decision", f"version {version}"))
        step.settle.append(self.steps.done("record_sin_decision", f"proposed (version {version})"))
        step.settle.append(self.steps.cancel("sin_response:", f"superseded by version {version}"))
        step.settle.append(self.steps.cancel("resolve_sin:", f"superseded by version {version}"))
        answer_by = self._answers_due(version)
        for seat in ANSWERING_SEATS:
            step.tasks.append(self.steps.task(
                f"sin_response:v{version}:{seat}", TaskKind.decision,
                f"Agree the notification decision (version {version})",
                f"{SEAT_NAMES[seat]}: the CSC lead proposes to {action.decision.replace('_', ' ')}. Agree, or "
                f"disagree with your view, by {answer_by.isoformat()} ({RULE_SIN_THREE_WAY}).", Role.executive,
                seat=seat, due=answer_by, action="respond_to_sin_proposal",
            ))
        # The LA's seat decides if a partner stays silent past the answer date (the task says when it may).
        step.tasks.append(self.steps.task(
            f"resolve_sin:v{version}", TaskKind.decision, "Decide the notification if a partner does not answer",
            f"If police or health have not answered by {answer_by.isoformat()}, or disagree, the local authority's "
            f"seat decides and records why ({RULE_SIN_LA_DECIDES.format(n=self.rules.partner_answer_working_days)}).",
            Role.executive, seat=Seat.la, due=self._notification_due(), action="resolve_sin_disagreement",
        ))

    def _respond_to_sin_proposal(self, action: RespondToSinProposal, step, documents) -> None:
        version, seat = action.version, action.actor.seat
        self.state.sin_responses.append(SinResponse(version=version, seat=seat, view=action.view,
                                                    comments=action.comments, by=action.actor.name,
                                                    on=self.clock.today()))
        step.settle.append(self.steps.done(f"sin_response:v{version}:{seat}", action.view))
        if action.view == "disagree" and len(self._disagreeing(version)) == 1:  # the first disagreement
            due = self._notification_due()
            step.tasks.append(self.steps.task(
                f"propose_sin_decision:v{version + 1}", TaskKind.decision,
                "Revise the notification proposal (disagreed)",
                f"{SEAT_NAMES[seat]} disagrees: {action.comments}", Role.csc_lead, due=due,
                action="propose_sin_decision",
            ))
            step.settle.append(self.steps.cancel(f"resolve_sin:v{version}", "a partner disagreed: see the new task"))
            step.tasks.append(self.steps.task(
                f"resolve_sin:v{version}:disagreed", TaskKind.decision, "Resolve the disagreement on the notification",
                f"{SEAT_NAMES[seat]} disagrees: {action.comments}. Where the CSC lead does not revise the proposal, "
                "record how the partners resolved the disagreement and the decision (the duty to notify is the local "
                "authority's).", Role.executive, seat=Seat.la, due=due, action="resolve_sin_disagreement",
            ))
        agreed = {r.seat for r in self.state.sin_responses if r.version == version and r.view == "agree"}
        if agreed == set(ANSWERING_SEATS):
            self._sin_agreed(self.state.sin_proposals[-1].decision, action.actor, step, documents)

    def _resolve_sin_disagreement(self, action: ResolveSinDisagreement, step, documents) -> None:
        disagreed = self._disagreeing(action.version)
        self.state.sin_resolutions.append(SinResolution(
            version=action.version, decision=action.decision, how_resolved=action.how_resolved, by=action.actor.name,
            on=self.clock.today(), basis="disagreement" if disagreed else "no_answer",
            unanswered=self._silent(action.version)))
        step.settle.append(self.steps.done("resolve_sin:", action.decision))
        self._sin_agreed(action.decision, action.actor, step, documents)

    def _sin_agreed(self, decision: str, actor, step, documents) -> None:
        """The three partners' decision: to the notification, or (not to notify) to the business unit's decline."""
        self.state.sin_agreed, self.state.sin_agreed_on = decision, self.clock.today()
        for prefix in ("sin_response:", "resolve_sin:", "propose_sin_decision"):
            step.settle.append(self.steps.cancel(prefix, f"the partners agreed: {decision}"))
        documents.append(self.steps.document(DocumentKind.sin_decision, actor.name, self._sin_context(),
                                             self._current_sin_version()))
        if decision == "notify":
            self._open_notification(actor, step)
            return
        self.clock.cancel("notification")
        step.tasks.append(self.steps.task(
            "decline_referral", TaskKind.action, "Decline the referral: the partners agreed not to notify",
            "Close the referral with the reason and write to the referrer.", Role.business_unit,
            due=self.clock.working_days_after(self.clock.today(), 1), action="decline_referral",
        ))

    def _sin_context(self) -> SinDecisionRecord:
        """The decision-record document's fields, from the proposal, the answers and any resolution."""
        proposal = self.state.sin_proposals[-1]
        answers = {r.seat: f"{r.view}: {r.comments}" for r in self.state.sin_responses if r.version == proposal.version}
        resolution = self.state.sin_resolutions[-1] if self.state.sin_resolutions else None
        rationale, decided_by = proposal.rationale, "The three safeguarding partners"
        if resolution and resolution.version == proposal.version:
            silent = " and ".join(SEAT_NAMES[s] for s in resolution.unanswered)
            if silent:
                decided_by = (f"The local authority's seat ({resolution.by}): {silent} had not answered by "
                              f"{self._answers_due(proposal.version).isoformat()}")
            elif resolution.basis == "disagreement":
                decided_by = f"The local authority's seat ({resolution.by}), after a partner disagreed"
            rationale = f"{rationale} Resolved by the local authority: {resolution.how_resolved}"
        for seat in ANSWERING_SEATS:
            answers.setdefault(seat, "no answer")
        return SinDecisionRecord(
            pseudonym=self.state.pseudonym, decided_by=decided_by, decided_on=self.clock.today(),
            police_view=answers.get(Seat.police, ""), health_view=answers.get(Seat.icb, ""),
            decision=self.state.sin_agreed or proposal.decision, rationale=rationale, category=self.state.category,
            linked_references=self.state.linked_references)

    def _no_notification_letter(self, decided: SinDecisionRecord) -> NoNotificationLetter:
        """The letter to the referrer: the decision not to notify, as recorded."""
        return NoNotificationLetter(**decided.model_dump(), referrer=self.case.referrer.name,
                                    referring_agency=self.case.referring_agency)

    def _notification_due(self):
        found = self.clock.deadline("notification")
        return found.due if found else None

    def _open_notification(self, actor, step) -> None:
        self.steps.move_to(step, Stage.notification, actor, "notification_decided")
        if self.state.category == "care_leaver_death":
            what = "Notify the Secretary of State and Ofsted of the care leaver's death and record it"
        else:
            what = "Submit the serious incident notification (DfE system) and record the day it was made and its " \
                   "reference"
        step.tasks.append(self.steps.task(
            "record_notification", TaskKind.action, "Notify the National Panel and record the notification", f"{what}.",
            Role.csc_lead, due=self._notification_due(), action="record_notification",
        ))

    def _correct_referral(self, action: CorrectReferral, step, documents) -> None:
        """A corrected category changes what follows the notification; a death always notified undoes a proposal
        or agreement not to notify, and the CSC lead proposes again."""
        st = self.state
        st.referral_corrections.append(action)
        st.category, st.linked_references = action.category, list(action.linked_references)
        if action.category not in ALWAYS_NOTIFIED or st.stage != Stage.csc_consultation or not st.sin_proposals:
            return
        if (st.sin_agreed or st.sin_proposals[-1].decision) != "do_not_notify":
            return
        st.sin_agreed = st.sin_agreed_on = None  # the proposal not to notify can no longer be agreed
        found = self.clock.deadline("notification")
        if found and found.status == DeadlineStatus.cancelled:
            found.status = DeadlineStatus.open
            self.clock.wake()
        for prefix in ("sin_response:", "resolve_sin:", "decline_referral"):
            step.settle.append(self.steps.cancel(prefix, "category corrected: the death is notified"))
        step.tasks.append(self.steps.task(
            f"propose_sin_decision:c{len(st.referral_corrections)}", TaskKind.decision,
            "Propose the notification decision again (category corrected)", ALWAYS_NOTIFIED[action.category],
            Role.csc_lead, due=self._notification_due(), action="propose_sin_decision",
        ))

    def _correct_awareness_date(self, action: CorrectAwarenessDate, step, documents) -> None:
        """The notification clock runs from the local authority's awareness: it follows the corrected date. After
        the notification, the notification is judged again against the corrected date and its record re-issued."""
        self.state.awareness_corrections.append(action)
        self.state.awareness_date = action.awareness_date
        if self.state.notified_on is not None:
            self.clock.recount_from("notification", action.awareness_date)
            if self.rules.rapid_review_clock_start == "awareness":
                self.clock.recount_from("rapid_review", action.awareness_date)
            self.state.notification_records += 1
            rapid_review = self.clock.deadline("rapid_review")
            notified = RecordNotification(actor=action.actor, notified_on=self.state.notified_on,
                                          notification_reference=self.state.notification_reference)
            documents.append(self.steps.document(
                DocumentKind.notification_record, action.actor.name,
                self._notification_context(notified, rapid_review.due if rapid_review else None),
                self.state.notification_records))
            return
        days = self.rules.notification_working_days
        self.clock.add_counted_deadline("notification", "Serious incident notification to the National Panel",
                                        action.awareness_date, days, RULE_NOTIFICATION.format(n=days), Role.csc_lead,
                                        statutory=True)
        self.state.unexplained_delays = [k for k in self.state.unexplained_delays if k != "notification"]
        if self.rules.rapid_review_clock_start == "awareness":
            self._start_window(action.awareness_date)

    def _record_sin_decision(self, action: RecordSinDecision, step, documents) -> None:
        self.state.sin_decision = action
        step.settle.append(self.steps.done("record_sin_decision", action.decision))
        decided = SinDecisionRecord(
            pseudonym=self.state.pseudonym, decided_by=action.actor.name, decided_on=self.clock.today(),
            police_view=action.police_view, health_view=action.health_view, decision=action.decision,
            rationale=action.rationale)
        documents.append(self.steps.document(DocumentKind.sin_decision, action.actor.name, decided))
        if action.decision == "do_not_notify":
            self.clock.cancel("notification")
            documents.append(self.steps.document(DocumentKind.no_notification_letter, action.actor.name,
                                                 self._no_notification_letter(decided)))
            self._close(action.actor, "record_sin_decision",
                        f"No serious incident notification: {action.rationale}", step)
            return
        self.steps.move_to(step, Stage.notification, action.actor, "record_sin_decision")
        step.tasks.append(self.steps.task(
            "record_notification", TaskKind.action, "Notify the National Panel and record the notification",
            "Submit the serious incident notification (DfE system) and record the day it was made and its reference.",
            Role.csc_lead, due=self.clock.deadline("notification").due, action="record_notification",
        ))

    def _record_notification(self, action: RecordNotification, step, documents) -> None:
        self.state.notified_on = action.notified_on
        self.state.notification_reference = action.notification_reference
        self.state.notified_by, self.state.notification_records = action.actor.name, 1
        self.clock.meet("notification", step, on=action.notified_on)
        step.settle.append(self.steps.done("record_notification", action.notification_reference))
        rule = ALWAYS_NOTIFIED.get(self.state.category)
        # The category says what is notified and to whom; it never removes the rapid review (Working Together
        # 2023 ch. 5): whether the criteria for a review are met is the panel's separate question. Cases started
        # before this keep the earlier notification-only close.
        if rule and not workflow.patched("category-keeps-review"):
            documents.append(self.steps.document(DocumentKind.notification_record, action.actor.name,
                                                 self._notification_context(action, None)))
            self.state.outcome = f"Notified on {action.notified_on.isoformat()}; no rapid review: {rule}"
            self._close(action.actor, "record_notification", self.state.outcome, step)
            return
        if self.state.window_start is None:
            self._start_window(action.notified_on)
        self.steps.move_to(step, Stage.panel_preparation, action.actor, "record_notification")
        rapid_review_due = self.clock.deadline("rapid_review").due
        documents.append(self.steps.document(DocumentKind.notification_record, action.actor.name,
                                             self._notification_context(action, rapid_review_due)))
        step.tasks.append(self.steps.task(
            "convene_panel", TaskKind.action, "Convene the Rapid Review Panel and send information requests",
            "Set the panel date and invite the agencies that worked with the child.", Role.business_unit,
            due=self.clock.deadline("information_requests").due, action="convene_panel",
        ))

    def _notification_context(self, action: RecordNotification, rapid_review_due: date | None) -> NotificationRecord:
        if self.state.sin_decision:
            rationale = self.state.sin_decision.rationale
        else:
            rationale = self._sin_context().rationale if self.state.sin_proposals else ""
        context = NotificationRecord(
            pseudonym=self.state.pseudonym, age_band=self.case.age_band, incident_date=self.case.incident_date,
            awareness_date=self.state.awareness_date, notified_on=action.notified_on,
            notification_reference=action.notification_reference, summary=self.case.summary,
            notified_by=self.state.notified_by or action.actor.name, rapid_review_due=rapid_review_due,
            sin_rationale=rationale,
        )
        if self.state.three_way_sin:  # cases of the earlier process render exactly as they did
            context.category, context.linked_references = self.state.category, self.state.linked_references
        return context

    def _start_window(self, start) -> None:
        """The rapid review window opens: the statutory 15 days and the milestones inside it."""
        rules, m = self.rules, self.rules.milestones
        self.state.window_start = start
        total = rules.rapid_review_working_days
        start_name = "notification" if rules.rapid_review_clock_start == "notification" else "date of awareness"
        for key, title, day, role in (
            ("information_requests", "Information requests sent to agencies", m.information_requests,
             Role.business_unit),
            ("agency_returns", "Agency information returns", m.agency_returns, Role.agency_member),
            ("panel", "Rapid Review Panel held", m.panel, Role.panel_chair),
            ("decision_sheet", "Decision sheet to the Executive", m.decision_sheet, Role.panel_chair),
            ("sign_off", "Executive sign-off of the decision sheet", m.sign_off, Role.executive),
        ):
            self.clock.add_counted_deadline(key, title, start, day,
                                            RULE_MILESTONE.format(what=title.lower(), n=day, total=total), role,
                                            statutory=False)
        # A care leaver's death is notified by statute, but its review is the partners' choice: the same steps,
        # counted as local practice, not a statutory deadline (cases started before this: as they ran).
        local = self.state.category == "care_leaver_death" and workflow.patched("care-leaver-review-local")
        rule = RULE_CARE_LEAVER_REVIEW if local else RULE_RAPID_REVIEW
        self.clock.add_counted_deadline(
            "rapid_review", "Rapid review submitted to the National Panel", start, total,
            rule.format(n=total, start=start_name), Role.business_unit, statutory=not local,
        )

    def _convene_panel(self, action: ConvenePanel, step, documents) -> None:
        self.state.panel = action
        self.state.convened_on = self.clock.today()
        self.clock.meet("information_requests", step)
        step.settle.append(self.steps.done("convene_panel"))
        # Cases convened before this rule keep the window's milestone, as they ran (its timer would move).
        if workflow.patched("returns-before-panel"):
            returns_due = self._returns_due_before(action.panel_date)
        else:
            returns_due = self.clock.deadline("agency_returns").due
        for agency in action.invited_agencies:
            name = AGENCIES[agency]
            step.tasks.append(self.steps.task(
                f"information_return:{agency}", TaskKind.information_return, "Submit your agency's information return",
                f"{name}: send your involvement with the child and family, a chronology and your analysis "
                f"by {returns_due.isoformat()}.", Role.agency_member, agency=agency, due=returns_due,
                action="submit_information_return",
            ))
            documents.append(self.steps.document(f"{DocumentKind.information_request}_{agency}", action.actor.name,
                                                 InformationRequest(
                agency=agency, agency_name=name, due=returns_due, panel_date=action.panel_date,
                send_to=action.actor.name, research_questions=action.research_questions,
            )))
        step.tasks.append(self.steps.task(
            "record_panel_outcome", TaskKind.action, "Hold the Rapid Review Panel and record its outcome",
            f"Panel on {action.panel_date.isoformat()}: attendees, immediate actions, themes, learning, "
            "recommendation.", Role.panel_chair, due=self.clock.deadline("panel").due, action="record_panel_outcome",
        ))
        documents.append(self.steps.document(DocumentKind.panel_invitation, action.actor.name, PanelInvitation(
            pseudonym=self.state.pseudonym, panel_date=action.panel_date,
            agencies=[AGENCIES[a] for a in action.invited_agencies], agency_codes=action.invited_agencies,
            research_questions=action.research_questions, chair="Rapid Review Panel chair",
        )))

    def _returns_due_before(self, panel_date: date) -> date:
        """The returns are due before the panel reads them: the window's milestone, or earlier (a set number of
        working days before the panel, never before today), and the deadline, tasks and letters all say that day."""
        found = self.clock.deadline("agency_returns")
        days = self.rules.returns_working_days_before_panel
        before_panel = max(self.clock.working_days_after(panel_date, -days), self.clock.today())
        if before_panel < found.due:
            found.due = before_panel
            found.rule = (f"{found.rule}; brought forward to {days} working days before the panel on "
                          f"{panel_date.isoformat()} (local practice)")
            reminder = self.clock.working_days_after(before_panel, -self.rules.reminder_working_days_before)
            found.reminder_dates = [reminder] if self.rules.reminder_working_days_before and reminder > \
                self.clock.today() else []
            self.clock.wake()
        return found.due

    def _submit_information_return(self, action: SubmitInformationReturn, step, documents) -> None:
        """The return's text goes to the case record (the step) and its document, never into the state: the
        state keeps the day it came. The step's field is an activity input only (not compared on replay); the
        document is a new activity, so it is behind a patch."""
        agency = action.actor.agency
        self.state.returns[agency] = self.clock.today()
        text = action.model_dump(include={"involvement", "chronology", "analysis"})
        step.information_return = InformationReturnRecord(
            agency=agency, submitted_by=action.actor.name, submitted_by_id=action.actor.user_id, **text)
        if workflow.patched("information-return-document"):
            documents.append(self.steps.document(f"{DocumentKind.information_return}_{agency}", action.actor.name,
                                                 InformationReturnDocument(
                agency=agency, agency_name=AGENCIES.get(agency, agency), submitted_by=action.actor.name,
                received_on=self.clock.today(), **text)))
        step.settle.append(self.steps.done(f"information_return:{agency}", "returned"))
        step.settle.append(self.steps.done(f"reminder:agency_returns:{agency}:", "returned"))
        if all(a in self.state.returns for a in self.state.panel.invited_agencies):
            self.clock.meet("agency_returns", step)
            if self.state.stage == Stage.panel_preparation:
                self.steps.move_to(step, Stage.panel, action.actor, "submit_information_return")

    def _audit_detail(self, name: str, action) -> dict:
        if name == "submit_information_return":  # the return itself is case content: record that it came
            return {"stage": self.state.stage, "agency": action.actor.agency}
        return self.actions.fields_for_audit(name, action)

    def _record_panel_outcome(self, action: RecordPanelOutcome, step, documents) -> None:
        self.state.panel_outcome = action
        self.state.recommendation = action.recommendation
        self.clock.meet("panel", step, on=action.held_on)
        missing = [a for a in self.state.panel.invited_agencies if a not in self.state.returns]
        if missing:
            self.clock.cancel("agency_returns")
            for agency in missing:
                step.settle.append(self.steps.cancel(f"information_return:{agency}",
                                                     "panel held without this return"))
        step.settle.append(self.steps.done("record_panel_outcome", action.recommendation))
        due = self.clock.working_days_after(action.held_on, self.rules.immediate_action_working_days)
        step.plan_actions = [
            PlanActionSpec(key=f"{self.case_reference}:panel:{i}", source="panel_immediate_action",
                           description=text, due=due)
            for i, text in enumerate(action.immediate_actions, start=1)
        ]
        self.steps.move_to(step, Stage.decision_sheet, action.actor, "record_panel_outcome")
        step.tasks.append(self.steps.task(
            "issue_decision_sheet:v1", TaskKind.action, "Issue the rapid review decision sheet to the Executive",
            "Complete the decision sheet from the panel's outcome and send it for three-way sign-off.",
            Role.panel_chair, due=self.clock.deadline("decision_sheet").due, action="issue_decision_sheet",
        ))

    def _issue_decision_sheet(self, action: IssueDecisionSheet, step, documents) -> None:
        self.state.decision_sheet = action
        self.state.decision_sheet_version += 1
        self.state.decision_sheet_versions.append(action)  # the approvers' page compares them question by question
        version = self.state.decision_sheet_version
        for earlier in self.state.sign_offs:  # approvals of a returned version no longer count: say so
            if earlier.version < version and earlier.superseded_by is None:
                earlier.superseded_by = version
        if version > 1:  # and on the approvers' done tasks (an activity input only: histories replay as before)
            step.settle.append(self.steps.done(f"sign_off:v{version - 1}:",
                                               f"superseded by version {version}", superseded=True))
        if action.recommendation:
            self.state.recommendation = action.recommendation
        self.clock.meet("decision_sheet", step)
        step.settle.append(self.steps.done("issue_decision_sheet:", f"version {version}"))
        self.steps.move_to(step, Stage.executive_sign_off, action.actor, "issue_decision_sheet")
        documents.append(self.steps.document(DocumentKind.decision_sheet, action.actor.name,
                                             self._decision_sheet(), version))
        self.three_way.ask(step, version, self.clock.deadline("sign_off").due)
        documents.append(self.steps.document(DocumentKind.sign_off_request, action.actor.name, SignOffRequest(
            version=version, due=self.clock.deadline("sign_off").due, recommendation=self.state.recommendation,
            seats=[SEAT_NAMES[s] for s in Seat],
        ), version))

    def _decision_sheet(self) -> DecisionSheet:
        """The rapid review as the National Panel expects it, for the decision sheet, its signed copy and the
        submission (which is the rapid review itself). Only the documents' input grows here: activity inputs are
        not compared on replay, so no running case replays differently and no ``workflow.patched`` is needed
        (a change to the commands a step issues would need one). Every field is required, even when empty: a field
        left out fails here, in the model, not in the render."""
        outcome, sheet, st = self.state.panel_outcome, self.state.decision_sheet, self.state
        version = st.decision_sheet_version
        return DecisionSheet(
            pseudonym=st.pseudonym, age_band=self.case.age_band, version=version,
            agencies=[AGENCIES.get(a, a) for a in (st.panel.invited_agencies if st.panel else [])],
            circumstances=sheet.circumstances, immediate_actions=outcome.immediate_actions,
            learning=outcome.learning, themes=outcome.themes, recommendation=st.recommendation,
            rationale=sheet.rationale or outcome.rationale,
            local_review_criteria_met=sheet.local_review_criteria_met, criteria_notes=sheet.criteria_notes,
            local_review_criteria=list(sheet.local_review_criteria), national_importance=sheet.national_importance,
            national_review_criteria=list(sheet.national_review_criteria), notified_on=st.notified_on,
            panel_held_on=outcome.held_on, attendees=outcome.attendees,
            sign_offs=[s for s in st.sign_offs if s.version == version],
            sign_off_history=[s for s in st.sign_offs if s.superseded_by],
            notification_reference=st.notification_reference, partners_decision=st.partners_decision,
            partners_decided_on=st.partners_decided_on, incident_date=self.case.incident_date,
            awareness_date=st.awareness_date, **self._child_and_family(sheet), **self._panel_questions(),
            cdop_reference=st.cdop.cdop_reference if st.cdop else None,
            lead_partnership=st.joint_review.lead_partnership if st.joint_review else None,
            other_partnerships=list(st.joint_review.other_partnerships) if st.joint_review else [],
        )

    def _panel_questions(self) -> dict:
        """The Panel's questions (its replies that asked them) and the answers of each revision, in order."""
        answered = [*self.state.revisions, *([self.state.revision] if self.state.revision else [])]
        asked = [r.content for r in self.state.national_panel_responses if r.panel_view == "asks_questions"]
        return {"panel_questions": asked[:len(answered)],
                "panel_answers": [f"{r.answers}\n\n{r.changes}".strip() for r in answered]}

    @staticmethod
    def _child_and_family(sheet: IssueDecisionSheet) -> dict:
        """The child's characteristics, practice, parallel processes, voice and other children: from the sheet."""
        return {
            "child_sex": sheet.child_sex, "child_ethnicity": sheet.child_ethnicity,
            "child_disability": sheet.child_disability, "child_status": list(sheet.child_status),
            "key_practice_episodes": list(sheet.key_practice_episodes),
            "parallel_processes": list(sheet.parallel_processes),
            "parallel_processes_notes": sheet.parallel_processes_notes,
            "voice_of_child_and_family": sheet.voice_of_child_and_family,
            "family_told_of_review": sheet.family_told_of_review,
            "siblings_and_other_children": sheet.siblings_and_other_children,
            "child_outcome": sheet.child_outcome, "family_and_household": sheet.family_and_household,
            "area": sheet.area,
        }

    def _sign_off(self, action: SignOff, step, documents) -> None:
        version, seat = self.state.decision_sheet_version, action.actor.seat
        approved = self.three_way.record(action, step, version)
        if self.state.revision is not None:  # a revision after the National Panel's questions
            self._revision_signed(action, step, documents, approved)
            return
        if action.decision == "return":
            self.steps.move_to(step, Stage.decision_sheet, action.actor, "sign_off")
            step.tasks.append(self.steps.task(
                f"issue_decision_sheet:v{version + 1}", TaskKind.action, "Revise the decision sheet (returned)",
                f"Returned by {SEAT_NAMES[seat]}: {action.comments}", Role.panel_chair,
                due=self.clock.deadline("sign_off").due, action="issue_decision_sheet",
            ))
            return
        if approved:
            # The partners' decision is made here: a local CSPR starts from it, not from the Panel's reply.
            self.state.partners_decision = self.state.recommendation
            self.state.partners_decided_on = self.clock.today()
            self.clock.meet("sign_off", step)
            documents.append(self.steps.document(DocumentKind.decision_sheet_signed, "Executive",
                                                 self._decision_sheet(),
                                                 version))
            step.tasks.append(self.steps.task(
                "record_submission", TaskKind.action, "Submit the rapid review to the National Panel",
                "Send the signed rapid review to the National Panel and record the date.", Role.business_unit,
                due=self.clock.deadline("rapid_review").due, action="record_submission",
            ))
            if self.state.partners_decision == Recommendation.local_cspr:
                self._open_methodology(action.actor, step, self.clock.today())
            else:
                self.steps.move_to(step, Stage.national_panel, action.actor, "sign_off")

    def _check_record_national_review_part(self, action: RecordNationalReviewPart) -> None:
        if self.state.national_review_from is None:
            raise reject("The National Panel has not said it will hold a national review of this case.")
        self.actions.not_future(action.given_on, "date given")
        self.actions.not_before(action.given_on, self.state.national_review_from, "date given",
                                "National Panel's reply")

    def _record_national_review_part(self, action: RecordNationalReviewPart, step, documents) -> None:
        self.state.national_review_parts.append(action)
        step.settle.append(self.steps.done("national_review:", "part recorded"))

    def _link_cdop_review(self, action: LinkCdopReview, step, documents) -> None:
        self.state.cdop = action

    def _record_joint_review(self, action: RecordJointReview, step, documents) -> None:
        self.state.joint_review = action

    def _revise_rapid_review(self, action: ReviseRapidReview, step, documents) -> None:
        """A new version of the rapid review with the answers; the three seats sign it as they signed the first."""
        self.state.revision = action
        self.state.decision_sheet_version += 1
        version = self.state.decision_sheet_version
        for earlier in self.state.sign_offs:
            if earlier.version < version and earlier.superseded_by is None:
                earlier.superseded_by = version
        step.settle.append(self.steps.done("answer_national_panel:", f"revised as version {version}"))
        documents.append(self.steps.document(DocumentKind.decision_sheet, action.actor.name, self._decision_sheet(),
                                             version))
        due = self.clock.working_days_after(self.clock.today(), 5)
        self.three_way.ask(step, version, due)

    def _revision_signed(self, action: SignOff, step, documents, approved: bool) -> None:
        """A revision returned goes back to the chair; approved by the three, it waits to be resubmitted."""
        version = self.state.decision_sheet_version
        if action.decision == "return":
            self.state.revision = None
            step.tasks.append(self.steps.task(
                f"revise_rapid_review:v{version + 1}", TaskKind.action, "Revise the rapid review again (returned)",
                f"Returned by {SEAT_NAMES[action.actor.seat]}: {action.comments}", Role.panel_chair,
                due=self.clock.working_days_after(self.clock.today(), 5), action="revise_rapid_review",
            ))
            return
        if not approved:
            return
        self.state.revisions.append(self.state.revision)
        self.state.revision, self.state.panel_questions_pending = None, False
        self.state.resubmission_due = True
        documents.append(self.steps.document(DocumentKind.decision_sheet_signed, "Executive", self._decision_sheet(),
                                             version))
        step.tasks.append(self.steps.task(
            f"record_submission:v{version}", TaskKind.action, "Resubmit the revised rapid review to the National Panel",
            f"Version {version}, signed off by the three partners, answers the Panel's questions.", Role.business_unit,
            due=self.clock.working_days_after(self.clock.today(), 2), action="record_submission",
        ))

    def _record_submission(self, action: RecordSubmission, step, documents) -> None:
        if self.state.resubmission_due:
            self.state.resubmission_due = False
            self.state.resubmitted_on.append(action.submitted_on)
        else:
            self.state.submitted_on = action.submitted_on
        self.clock.meet("rapid_review", step, on=action.submitted_on)
        step.settle.append(self.steps.done("record_submission"))
        reply_days = self.rules.national_panel_reply_working_days
        reply_due = self.clock.add_counted_deadline(
            "national_panel_reply", "National Panel's response", action.submitted_on, reply_days,
            RULE_PANEL_REPLY.format(n=reply_days), Role.business_unit, statutory=False)
        again = f":{len(self.state.resubmitted_on) + 1}" if self.state.resubmitted_on else ""
        step.tasks.append(self.steps.task(
            f"record_national_panel_response{again}", TaskKind.action, "Record the National Panel's response",
            f"Expected by {reply_due.isoformat()}; chase the Panel if it has not replied.", Role.business_unit,
            due=reply_due, action="record_national_panel_response",
        ))
        rapid_review = self.clock.deadline("rapid_review")
        documents.append(self.steps.document(DocumentKind.national_panel_submission, action.actor.name,
                                             NationalPanelSubmission(
            **self._decision_sheet().model_dump(), submitted_on=action.submitted_on,
            rapid_review_due=rapid_review.due, rapid_review_rule=rapid_review.rule,
        ), 1 + len(self.state.resubmitted_on)))

    def _record_national_panel_response(self, action: RecordNationalPanelResponse, step, documents) -> None:
        """The Panel's reply is recorded beside the partners' decision; it never overturns it by itself. Where
        it differs, the partners reconsider and record their answer (reconsider_decision). A reply that arrives
        after the case closed is recorded, and the partners decide whether to reopen the case for it."""
        self.state.national_panel_response = action
        self.state.national_panel_responses.append(action)
        if self.state.stage == Stage.closed:
            self._late_reply(action, step)
            return
        self.clock.meet("national_panel_reply", step, on=action.received_on)
        step.settle.append(self.steps.done("record_national_panel_response", action.panel_view))
        self._act_on_reply(action, step)

    def _act_on_reply(self, action: RecordNationalPanelResponse, step) -> None:
        """What the Panel's reply asks of the partners: a revision for its questions, their reconsideration where
        it differs from their decision, their part in a national review, or (it agrees) the case closes."""
        if action.panel_view == "asks_questions":
            self.state.panel_questions_pending = True
            step.tasks.append(self.steps.task(
                f"answer_national_panel:{len(self.state.national_panel_responses)}", TaskKind.action,
                "Answer the National Panel's questions: revise the rapid review", "Put the answers into a revised "
                "rapid review (a new version the three partners sign off), then resubmit it and record the Panel's "
                "next response.", Role.panel_chair, due=self.clock.working_days_after(action.received_on, 5),
                action="revise_rapid_review",
            ))
            return
        if action.panel_view == "agrees":
            if self.state.stage == Stage.national_panel:
                self._close_after_panel(action.actor, step, "the National Panel agreed")
            return
        self.state.reconsideration_pending = True
        view = "will undertake a national review" if action.panel_view == "national_review" else "disagrees"
        if action.panel_view == "national_review" and self.state.national_review_from is None:
            self.state.national_review_from = action.received_on  # the partners' part in it is tracked from here
            step.tasks.append(self.steps.task(
                "national_review:1", TaskKind.action, "Take part in the National Panel's national review",
                "Give the Panel's reviewers the rapid review and the agencies' information when asked, and record "
                "what was given and when; the local review goes on or stops by the partners' own decision.",
                Role.business_unit, due=self.clock.working_days_after(action.received_on, 10),
                action="record_national_review_part",
            ))
        self._ask_to_reconsider(step, f"reconsider:{len(self.state.national_panel_responses)}",
                                "Reconsider the decision in the light of the National Panel's response",
                                f"The National Panel {view} (received {action.received_on.isoformat()}). The "
                                "partners decide: continue, change or stop, with reasons.", since=action.received_on)

    def _ask_to_reconsider(self, step, key: str, title: str, why: str, since: date) -> None:
        """A reconsideration task for each seat (their answer is one joint decision)."""
        for seat in Seat:
            step.tasks.append(self.steps.task(
                f"{key}:{seat}", TaskKind.decision, title, why, Role.executive, seat=seat,
                due=self.clock.working_days_after(since, self.rules.methodology_working_days),
                action="reconsider_decision",
            ))

    def _late_reply(self, action: RecordNationalPanelResponse, step) -> None:
        """The reply came after the case closed: kept on the closed case, and the partners asked whether to reopen
        it (until the case's reopen_until day)."""
        if action.panel_view == "agrees":
            return  # nothing more is asked of the partners: the case stays closed
        self.state.late_panel_reply = True
        until = self.state.reopen_until
        step.tasks.append(self.steps.task(
            f"late_panel_reply:{len(self.state.national_panel_responses)}", TaskKind.decision,
            "The National Panel replied after the case closed: put reopening it to the partners",
            f"The Panel's reply (received {action.received_on.isoformat()}) is on the case. If it calls for more, "
            f"propose to the three partners that the case is reopened, with the reason; they can do so until "
            f"{until.isoformat()}.", Role.business_unit,
            due=min(self.clock.working_days_after(self.clock.today(), 5), until), action="reopen_case",
        ))

    def _reopen_case(self, action: ReopenCase, step, documents) -> None:
        """The partners agreed to reopen: the case's closure is kept on record and it goes back to the National
        Panel stage. The Panel's late reply is acted on as if it had come in time; without one, the partners
        reconsider their decision for the reason they gave."""
        st = self.state
        st.reopenings.append(Reopening(on=self.clock.today(), reason=action.reason,
                                       agreed_by=self.joint.agreed_by("reopen_case"), closed_reason=st.closed_reason,
                                       outcome=st.outcome, stopped=st.stopped))
        st.closed_reason = st.outcome = st.stopped = st.reopen_until = None
        st.learning_decision_pending = False
        step.settle.append(self.steps.done("late_panel_reply:", "reopened"))
        self.steps.move_to(step, Stage.national_panel, action.actor, "reopen_case")
        if st.late_panel_reply and st.national_panel_response is not None:
            st.late_panel_reply = False
            self._act_on_reply(st.national_panel_response, step)
            if st.stage != Stage.closed:
                return
        if st.stage == Stage.closed:
            return  # the late reply agreed with the partners: closed again at once, with its outcome
        st.reconsideration_pending = True
        self._ask_to_reconsider(step, f"reconsider:reopened:{len(st.reopenings)}",
                                "Reconsider the decision: the case was reopened",
                                f"The partners reopened the case ({action.reason}). Decide: keep the decision (a "
                                "stopped local CSPR then starts again), undertake a local CSPR, or stop it, with "
                                "reasons.", since=self.clock.today())

    def _reconsider_decision(self, action: ReconsiderDecision, step, documents) -> None:
        self.state.reconsiderations.append(action)
        self.state.reconsideration_pending = False
        step.settle.append(self.steps.done("reconsider:", action.answer))
        if action.answer == "undertake_local_cspr":
            self.state.partners_decision = Recommendation.local_cspr
            self.state.partners_decided_on = self.clock.today()
            self._open_methodology(action.actor, step, self.clock.today())
        elif action.answer == "stop_local_cspr":
            self.state.outcome = ("Local CSPR stopped by the partners after the National Panel's response: "
                                  f"{action.reasons}")
            if self.state.joint_decisions:
                self.state.stopped = self.state.outcome
            self._close(action.actor, "reconsider_decision", self.state.outcome, step)
        elif (self.state.stage == Stage.national_panel and self.state.reopenings
              and self.state.partners_decision == Recommendation.local_cspr):
            self._open_methodology(action.actor, step, self.clock.today())  # a reopened case keeps its local CSPR
        elif self.state.stage == Stage.national_panel:
            self._close_after_panel(action.actor, step, f"the partners kept their decision: {action.reasons}")

    def _close_after_panel(self, actor, step, why: str) -> None:
        """No local CSPR: the case closes with the partners' decision and the Panel's reply on record. After no
        further review, the case first awaits the partners' learning decision unless it was recorded already
        (cases from before that step replay closing at once: patch "learning-without-cspr")."""
        decision = self.state.partners_decision
        if self.state.reopenings and decision == Recommendation.local_cspr:
            self._open_methodology(actor, step, self.clock.today())  # reopened: the partners' local CSPR goes ahead
            return
        if decision == Recommendation.national_review_referral:
            self.state.outcome = f"Referred to the National Panel for a national review ({why})"
        elif (self.state.learning_activities is None and not self.state.learning_decision_pending
              and workflow.patched("learning-without-cspr")):
            self._await_learning_decision(step, why)
            return
        else:
            self.state.outcome = f"No further review: the partners' decision ({why}){self._learning_summary()}"
        self._close(actor, "record_national_panel_response", self.state.outcome, step)

    def _await_learning_decision(self, step, why: str) -> None:
        self.state.learning_decision_pending, self._no_review_why = True, why
        due = self.clock.working_days_after(self.clock.today(), self.rules.methodology_working_days)
        step.tasks.append(self.steps.task(
            "record_learning_activities", TaskKind.decision, "Decide on learning without a local CSPR",
            f"No further review ({why}). Choose learning activities (single-agency review, audit, workshop, "
            f"thematic review) or record that none is needed ({RULE_LEARNING_WITHOUT_CSPR}).", Role.executive,
            due=due, action="record_learning_activities",
        ))
        step.tasks.append(self.steps.task(
            "prepare_learning_activities", TaskKind.action, "Prepare the learning options for the Executive",
            "Draft the learning activities (what, lead, due) from the rapid review for the Executive's decision.",
            Role.business_unit, due=due,
        ))

    def _learning_summary(self) -> str:
        chosen = self.state.learning_activities
        if chosen is None:
            return ""
        if not chosen.activities:
            return f"; no further learning activity: {chosen.note}"
        kinds = ", ".join(LEARNING_KINDS[a.kind].lower() for a in chosen.activities)
        return f"; learning without a local CSPR: {kinds} (in the action plan)"

    def _record_learning_activities(self, action: RecordLearningActivities, step, documents) -> None:
        """The chosen learning goes into the one action plan; a case awaiting it closes."""
        self.state.learning_activities = action
        step.plan_actions = [
            PlanActionSpec(key=f"{self.case_reference}:learning:{i}", source="learning_activity",
                           description=f"{LEARNING_KINDS[a.kind]}: {a.description} (lead: {a.lead})", due=a.due)
            for i, a in enumerate(action.activities, start=1)
        ]
        step.settle.append(self.steps.done("record_learning_activities",
                                           f"{len(action.activities)} activities"))
        step.settle.append(self.steps.done("prepare_learning_activities", "decided"))
        if self.state.learning_decision_pending:
            self.state.learning_decision_pending = False
            self.state.outcome = (f"No further review: the partners' decision ({self._no_review_why})"
                                  f"{self._learning_summary()}")
            self._close(action.actor, "record_learning_activities", self.state.outcome, step)

    def _open_methodology(self, actor, step, decided_on) -> None:
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

    def _choose_methodology(self, action: ChooseMethodology, step, documents) -> None:
        self.state.methodology = action
        self.clock.meet("methodology", step, on=action.decided_on)
        step.settle.append(self.steps.done("choose_methodology"))
        self._review_entered(step, ReviewStage.terms_of_reference)
        self.steps.move_to(step, Stage.practice_review, action.actor, "choose_methodology")

    async def _start_practice_review(self, action: ChooseMethodology) -> None:
        self.state.reviews_started += 1
        self._last_progress = 0  # a review started again counts its progress from the start
        self._child = await workflow.start_child_workflow(
            PracticeReviewWorkflow.run,
            ReviewInput(reference=f"{self.state.reference}-CSPR", case_reference=self.state.reference,
                        pseudonym=self.state.pseudonym, partnership_name=self.partnership_name,
                        methodology=action, rules=self.rules, partners_decided_on=self.state.partners_decided_on,
                        calendar=self.clock.case_calendar, added_days=self.clock.added_days,
                        round=self.state.reviews_started),
            id=practice_review_id(workflow.info().workflow_id),
            task_queue=workflow.info().task_queue,
        )

    def _close_case(self, action: CloseCase, step, documents) -> None:
        if self.joint.needed("close_case", action):  # applied after the three seats agreed
            self.state.outcome = f"Closed by the partners' decision: {action.reason}"
            if self._child is not None:  # closing the case stops its local CSPR: the record says so
                self.state.stopped = (f"Stopped by the partners on {self.clock.today().isoformat()}, closing the "
                                      f"case: {action.reason}")
        self._close(action.actor, "close_case", action.reason, step)

    def _stop_local_cspr(self, action: StopLocalCspr, step, documents) -> None:
        """The partners stop the review: the case closes, and its record says "stopped", by whom and why."""
        self.state.stopped = f"Stopped by the partners on {self.clock.today().isoformat()}: {action.reasons}"
        self.state.outcome = f"Local CSPR stopped by the partners: {action.reasons}"
        self._close(action.actor, "stop_local_cspr", self.state.outcome, step)

    def _close(self, actor, action_name: str, reason: str, step) -> None:
        """Close the case. One closed while the National Panel's reply is still awaited stays reopenable for a while
        (cases since patch "reopenable"): the reply may still come, and the partners may reopen the case for it."""
        self.state.closed_reason = reason
        self.clock.cancel_all()
        step.settle.append(self.steps.cancel("", f"case closed: {reason}"))
        self.steps.move_to(step, Stage.closed, actor, action_name)
        if self.state.joint_decisions:  # nothing stays proposed on a closed case
            for proposal in [p for p in self.state.joint_proposals if p.status == "open"]:
                self.joint.settle(proposal, "superseded", step, f"case closed: {reason}")
        if self.state.reopenable and self._panel_reply_awaited() and self.rules.reopen_window_days:
            self.state.reopen_until = self.clock.today() + timedelta(days=self.rules.reopen_window_days)

    # ================================================================== helpers

    def _panel_reply_awaited(self) -> bool:
        """The rapid review (or its last resubmission) went to the National Panel and its reply has not come."""
        st = self.state
        return st.submitted_on is not None and len(st.national_panel_responses) < 1 + len(st.resubmitted_on)

    @staticmethod
    def _audit(actor, action: str, detail: dict) -> AuditEntry:
        return AuditEntry(actor_id=actor.user_id if actor else None, actor_role=actor.role if actor else "system",
                          action=action, detail=detail)

    def _who_owes(self, found) -> list[Outstanding]:
        """Who a reminder goes to: the agencies yet to return, the partners yet to answer, the seats yet to sign."""
        if found.key == "agency_returns" and self.state.panel:
            return [Outstanding(what=found.title, role=Role.agency_member, agency=a, due=found.due)
                    for a in self.state.panel.invited_agencies if a not in self.state.returns]
        if found.key == "notification" and self.state.stage == Stage.csc_consultation and self.state.sin_proposals:
            return self._sin_outstanding(found.due)
        if found.key == "sign_off":
            return self.three_way.outstanding(found.title, self.state.decision_sheet_version, found.due)
        return owed_by_owner(found)

    def _record(self, step: CaseStep) -> None:
        """The case's row in the read model, with who it waits on, on every step."""
        self._refresh_outstanding()
        step.snapshot = self.snapshot()
        if workflow.patched("state-in-step"):  # the case's state is read from the read model, not queried
            step.stored_state = StoredState(workflow_id=workflow.info().workflow_id,
                                            state=self._with_referral(self.state.model_dump(mode="json")),
                                            calendar=stored_calendar(self.clock.calendar))

    def _refresh_outstanding(self) -> None:
        st = self.state
        due = {d.key: d.due for d in st.deadlines}
        owed: list[Outstanding] = []
        if st.stage == Stage.referral:
            owed.append(Outstanding(what="Accept or decline the referral", role=Role.business_unit))
        elif st.stage == Stage.csc_consultation and (st.three_way_sin or st.sin_proposals):
            owed += self._sin_outstanding(due.get("notification"))
        elif st.stage == Stage.csc_consultation:
            owed.append(Outstanding(what="SIN decision", role=Role.csc_lead, due=due.get("notification")))
        elif st.stage == Stage.notification:
            owed.append(Outstanding(what="Record the notification", role=Role.csc_lead, due=due.get("notification")))
        elif st.stage in (Stage.panel_preparation, Stage.panel):
            if st.panel is None:
                owed.append(Outstanding(what="Convene the panel", role=Role.business_unit,
                                        due=due.get("information_requests")))
            else:
                owed += [Outstanding(what="Information return", role=Role.agency_member, agency=a,
                                     due=due.get("agency_returns"))
                         for a in st.panel.invited_agencies if a not in st.returns]
                owed.append(Outstanding(what="Record the panel outcome", role=Role.panel_chair, due=due.get("panel")))
        elif st.stage == Stage.decision_sheet:
            owed.append(Outstanding(what="Issue the decision sheet", role=Role.panel_chair,
                                    due=due.get("decision_sheet")))
        elif st.stage == Stage.executive_sign_off:
            found = self.clock.deadline("sign_off")
            owed += self._who_owes(found) if found else []
        elif st.stage == Stage.methodology:
            owed.append(Outstanding(what="Choose the methodology", role=Role.executive, due=due.get("methodology")))
        elif st.stage == Stage.practice_review:
            signing = st.practice_review_stage == ReviewStage.final_sign_off  # the three seats sign, not the unit
            owed.append(Outstanding(what=f"Practice review: {st.practice_review_stage}",
                                    role=Role.executive if signing else Role.business_unit))
        if st.stage in AFTER_SIGN_OFF:  # the National Panel's part runs beside whatever follows sign-off
            if st.submitted_on is None:
                owed.append(Outstanding(what="Submit to the National Panel", role=Role.business_unit,
                                        due=due.get("rapid_review")))
            elif st.national_panel_response is None or st.national_panel_response.panel_view == "asks_questions":
                owed.append(Outstanding(what="Record the National Panel's response", role=Role.business_unit,
                                        due=due.get("national_panel_reply")))
            if st.learning_decision_pending:
                owed.append(Outstanding(what="Decide on learning without a local CSPR", role=Role.executive))
            if st.reconsideration_pending:
                owed.append(Outstanding(what="Reconsider the decision after the National Panel's response",
                                        role=Role.executive))
        st.outstanding = owed

    def _sin_outstanding(self, due) -> list[Outstanding]:
        """Who the three-way notification decision waits on."""
        st, version = self.state, self._current_sin_version()
        if st.sin_agreed == "do_not_notify":
            return [Outstanding(what="Decline the referral (the partners agreed not to notify)",
                                role=Role.business_unit)]
        if version == 0 or (st.sin_agreed is None and st.sin_proposals[-1].decision == "do_not_notify"
                            and st.category in ALWAYS_NOTIFIED):
            return [Outstanding(what="Propose the notification decision", role=Role.csc_lead, due=due)]
        if self._disagreeing(version):
            return [Outstanding(what="Revise the notification proposal", role=Role.csc_lead, due=due),
                    Outstanding(what="Or record how the partners resolved the disagreement", role=Role.executive,
                                seat=Seat.la, due=due)]
        answered = {r.seat for r in st.sin_responses if r.version == version}
        return [Outstanding(what="Agree or disagree with the notification proposal", role=Role.executive, seat=seat,
                            due=due) for seat in ANSWERING_SEATS if seat not in answered]

    def snapshot(self) -> CaseSnapshot:
        st = self.state
        upcoming = sorted((d for d in st.deadlines if d.awaited), key=lambda d: d.due)
        nxt = upcoming[0] if upcoming else None
        rapid_review, notification = self.clock.deadline("rapid_review"), self.clock.deadline("notification")
        return CaseSnapshot(
            reference=st.reference, pseudonym=st.pseudonym, stage=st.stage, opened_on=st.opened_on,
            awareness_date=st.awareness_date, notified_on=st.notified_on,
            rapid_review_due=rapid_review.due if rapid_review else None,
            next_deadline_title=nxt.title if nxt else None, next_deadline_due=nxt.due if nxt else None,
            next_deadline_rule=nxt.rule if nxt else None, late=st.late, escalated=st.escalated,
            recommendation=st.recommendation, decision_sheet_version=st.decision_sheet_version,
            invited_agencies=list(st.panel.invited_agencies) if st.panel else [],
            submitted_on=st.submitted_on, practice_review_stage=st.practice_review_stage,
            closed_reason=st.closed_reason, outcome=st.outcome, stopped=st.stopped is not None,
            notification_due=notification.due if notification else None,
            notification_reference=st.notification_reference,
            panel_date=st.panel.panel_date if st.panel else None,
            themes=list(st.panel_outcome.themes) if st.panel_outcome else [],
        )

