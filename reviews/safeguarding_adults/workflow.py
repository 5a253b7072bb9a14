"""The SAR's workflow: referral, the three partners' criteria decision (each seat's view with its reasons; decided
when the three agree), commissioning, the review and its report, the board's three-way sign-off of the report
(``ThreeWaySignOff``, as the rapid review's decision sheet), then publication, which closes the case. Built from
the helpers every review uses (steps, the deadline clock, the action path), so its tasks, read model, audit trail
and deadlines are the rapid review's."""

from __future__ import annotations

import asyncio
from datetime import date

from pydantic import BaseModel, Field
from temporalio import workflow
from temporalio.exceptions import ApplicationError

from engine.actions import Actions
from engine.clock import DeadlineClock
from engine.patches import decide_versions, patched
from engine.sign_off import ThreeWaySignOff
from engine.steps import Steps, reject
from reviews.safeguarding_adults.agency_information import AgencyInformation

with workflow.unsafe.imports_passed_through():
    from engine import authenticity
    from engine.actions import Rule
    from engine.calendar import london_date
    from engine.documents import SarCriteriaDecision, SarCriteriaView
    from engine.models import (
        Action,
        AuditEntry,
        CaseSnapshot,
        CaseStep,
        DocumentRequest,
        Outstanding,
        PlanActionSpec,
        ProcessState,
        SignOff,
    )
    from engine.vocabulary import SEAT_NAMES, DocumentKind, Role, Seat, TaskKind
    from reviews.safeguarding_adults.models import (
        RULE_COMMISSION,
        RULE_CRITERIA_DECISION,
        CommissionSar,
        CriteriaOutcome,
        GiveCriteriaView,
        PublishSar,
        RequestSarInformation,
        SarInput,
        SubmitSarInformationReturn,
        SubmitSarReport,
        UseSharedReturn,
    )

CRITERIA, COMMISSIONING, REVIEW, CLOSED = "sar_criteria", "sar_commissioning", "sar_review", "closed"
SIGN_OFF, PUBLICATION = "sar_sign_off", "sar_publication"
STAGES = (CRITERIA, COMMISSIONING, REVIEW, SIGN_OFF, PUBLICATION, CLOSED)
OUTCOME_WORDS = {"mandatory": "a mandatory SAR (Care Act 2014 s44(1)-(3))",
                 "discretionary": "a discretionary SAR (Care Act 2014 s44(4))",
                 "not_met": "the criteria for a SAR are not met"}


class CriteriaView(BaseModel):
    seat: Seat
    by: str
    outcome: CriteriaOutcome
    reasons: str
    on: date


class SarState(ProcessState):
    pseudonym: str
    opened_on: date
    concern_date: date
    adult_died: bool
    views: list[CriteriaView] = Field(default_factory=list)  # each seat's latest
    decision: CriteriaOutcome | None = None
    decided_on: date | None = None
    commission: CommissionSar | None = None
    report: SubmitSarReport | None = None
    report_version: int = 0
    published: PublishSar | None = None
    # The agencies' information (agency_information.py): who was asked, when each return came, which were shared.
    information_asked: list[str] = Field(default_factory=list)
    information_questions: list[str] = Field(default_factory=list)
    returns: dict[str, date] = Field(default_factory=dict)
    shared_returns: dict[str, str] = Field(default_factory=dict)


@workflow.defn(name="SafeguardingAdultsReviewWorkflow")
class SafeguardingAdultsReviewWorkflow:
    RULES = {
        # Each of the SAB's three statutory members (Care Act 2014 Sch. 2 para 1(1)) gives its view, with reasons.
        "give_sar_criteria_view": Rule.of({CRITERIA}, Role.executive),
        "commission_sar": Rule.of({COMMISSIONING}, Role.business_unit),
        "request_sar_information": Rule.of({REVIEW}, Role.business_unit),
        "submit_sar_information_return": Rule.of({REVIEW}, Role.agency_member),
        # Counted by the service as the person whose act made a shared return count: the business unit when it asks,
        # the agency when it sends its return on the linked case, the executive whose agreement put sharing in force
        # (widening the roles changes no accepted update's replay: service/cases/case_links.py).
        "use_shared_return": Rule.of({REVIEW}, Role.business_unit, Role.agency_member, Role.executive),
        "submit_sar_report": Rule.of({REVIEW}, Role.business_unit),
        # The board's sign-off: its three statutory members, each approving the same version (or returning it).
        "sign_off_sar_report": Rule.of({SIGN_OFF}, Role.executive),
        "publish_sar": Rule.of({PUBLICATION}, Role.business_unit),
    }

    @workflow.init
    def __init__(self, case: SarInput) -> None:
        self.case, self.rules = case, case.rules
        today = london_date(workflow.now())
        self.state = SarState(reference=case.reference, stage=CRITERIA, pseudonym=case.pseudonym, opened_on=today,
                              concern_date=case.concern_date, adult_died=case.adult_died)
        self.steps = Steps(self.state, case_reference=case.reference, partnership_name=case.partnership_name,
                           record=self._record)
        self.clock = DeadlineClock(self.state, self.rules, self.steps)
        self.actions = Actions(self.RULES, state=self.state, steps=self.steps, clock=self.clock, checks=self,
                               audit_detail=self._audit_detail)
        self.information = AgencyInformation(self.state, self.steps, self.clock, self.rules)
        self.three_way = ThreeWaySignOff(self.state, self.steps, self.clock, action="sign_off_sar_report",
                                         thing="SAR report", title="Safeguarding Adults Review report",
                                         returned_to=" to the business unit")

    @workflow.run
    async def run(self, case: SarInput) -> str:
        decide_versions(self.steps)  # first of all (engine/patches.py)
        if not workflow.unsafe.is_replaying() and not authenticity.is_sealed(
                case.reference, "start", case.reference, case.model_dump(mode="json")):
            raise ApplicationError("This case was not started by the service (no valid seal): refused.",
                                   type="NotSealed", non_retryable=True)
        await self.clock.open_calendar(min(case.concern_date, self.clock.today()))
        await self._open_case()
        clock = asyncio.create_task(self.clock.run())
        await workflow.wait_condition(lambda: self.state.stage == CLOSED)
        await clock
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.state.closed_reason or "closed"

    async def _open_case(self) -> None:
        async with self.steps.lock:
            self.steps.opened = True
            case, days = self.case, self.rules.criteria_decision_working_days
            step = self.steps.new_step("submit_referral")
            step.facts.opened_case = True
            self.steps.move_to(step, CRITERIA, case.referrer, "submit_referral")
            self.clock.add_counted_deadline(
                "criteria_decision", "Decision whether the SAR criteria are met", self.clock.today(), days,
                RULE_CRITERIA_DECISION.format(n=days), Role.executive, statutory=False)
            step.tasks += [self.steps.task(
                f"criteria:{seat}", TaskKind.decision, "Are the criteria for a Safeguarding Adults Review met?",
                f"A referral from {case.referring_agency}: give the {SEAT_NAMES[seat]}'s view, with reasons.",
                Role.executive, seat=seat, due=self.clock.deadline("criteria_decision").due,
                action="give_sar_criteria_view") for seat in Seat]
            step.audit = AuditEntry(actor_id=case.referrer.user_id, actor_role=case.referrer.role,
                                    action="submit_referral", detail={
                                        "concern_date": case.concern_date.isoformat(), "adult_died": case.adult_died,
                                        "referring_agency": case.referring_agency})
            await self.steps.commit(step)

    # ------------------------------------------------------------ query and actions

    @workflow.query
    def state(self, today: str | None = None) -> dict:
        view = self.clock.view(date.fromisoformat(today) if today else None)
        view["action_versions"] = {"sign_off_sar_report": self.state.report_version}  # what the pages' forms sign
        return view

    @workflow.update
    async def give_sar_criteria_view(self, action: GiveCriteriaView) -> dict:
        """Give your organisation's view: are the criteria for a Safeguarding Adults Review met?"""
        return await self.actions.act("give_sar_criteria_view", action, self._give_view)

    @give_sar_criteria_view.validator
    def _validate_give_sar_criteria_view(self, action: GiveCriteriaView) -> None:
        self.actions.validate("give_sar_criteria_view", action)

    def _check_give_sar_criteria_view(self, action: GiveCriteriaView) -> None:
        if action.actor.seat is None:
            raise reject("Only the SAB's three statutory members (local authority, ICB, police) decide whether the "
                         "criteria are met; you sign in without a seat.")

    @workflow.update
    async def commission_sar(self, action: CommissionSar) -> dict:
        """Commission the Safeguarding Adults Review"""
        return await self.actions.act("commission_sar", action, self._commission)

    @commission_sar.validator
    def _validate_commission_sar(self, action: CommissionSar) -> None:
        self.actions.validate("commission_sar", action)

    def _check_commission_sar(self, action: CommissionSar) -> None:
        self.actions.not_future(action.commissioned_on, "date of commissioning")
        self.actions.not_before(action.commissioned_on, self.state.decided_on, "date of commissioning",
                                "decision to hold the review")

    @workflow.update
    async def request_sar_information(self, action: RequestSarInformation) -> dict:
        """Ask agencies for their information for the review"""
        return await self.actions.act("request_sar_information", action,
                                      lambda act, step, documents: self.information.request(act, step))

    @request_sar_information.validator
    def _validate_request_sar_information(self, action: RequestSarInformation) -> None:
        self.actions.validate("request_sar_information", action)

    def _check_request_sar_information(self, action: RequestSarInformation) -> None:
        self.information.check_request(action)

    @workflow.update
    async def submit_sar_information_return(self, action: SubmitSarInformationReturn) -> dict:
        """Send your agency's information return for the review"""
        return await self.actions.act("submit_sar_information_return", action,
                                      lambda act, step, documents: self.information.receive(act, step))

    @submit_sar_information_return.validator
    def _validate_submit_sar_information_return(self, action: SubmitSarInformationReturn) -> None:
        self.actions.validate("submit_sar_information_return", action)

    def _check_submit_sar_information_return(self, action: SubmitSarInformationReturn) -> None:
        self.information.check_return(action.actor.agency)

    @workflow.update
    async def use_shared_return(self, action: UseSharedReturn) -> dict:
        """Count an agency's return on a linked case as its return here"""
        return await self.actions.act("use_shared_return", action,
                                      lambda act, step, documents: self.information.use_shared(act, step))

    @use_shared_return.validator
    def _validate_use_shared_return(self, action: UseSharedReturn) -> None:
        self.actions.validate("use_shared_return", action)

    def _check_use_shared_return(self, action: UseSharedReturn) -> None:
        self.information.check_shared(action)

    @workflow.update
    async def submit_sar_report(self, action: SubmitSarReport) -> dict:
        """Submit the reviewer's report for the board's sign-off"""
        return await self.actions.act("submit_sar_report", action, self._submit_report)

    @submit_sar_report.validator
    def _validate_submit_sar_report(self, action: SubmitSarReport) -> None:
        self.actions.validate("submit_sar_report", action)

    def _check_submit_sar_report(self, action: SubmitSarReport) -> None:
        self.actions.not_future(action.received_on, "date the report was received")

    @workflow.update
    async def sign_off_sar_report(self, action: SignOff) -> dict:
        """Approve the SAR report for your organisation, or return it with comments"""
        return await self.actions.act("sign_off_sar_report", action, self._sign_off)

    @sign_off_sar_report.validator
    def _validate_sign_off_sar_report(self, action: SignOff) -> None:
        self.actions.validate("sign_off_sar_report", action)

    def _check_sign_off_sar_report(self, action: SignOff) -> None:
        self.three_way.check(action, self.state.report_version)

    @workflow.update
    async def publish_sar(self, action: PublishSar) -> dict:
        """Record the SAR's publication"""
        return await self.actions.act("publish_sar", action, self._publish)

    @publish_sar.validator
    def _validate_publish_sar(self, action: PublishSar) -> None:
        self.actions.validate("publish_sar", action)

    def _check_publish_sar(self, action: PublishSar) -> None:
        self.actions.not_future(action.published_on, "date of publication")
        count = len(self.state.report.recommendations) if self.state.report else 0
        declined = action.declined()
        if len(declined) != len(action.recommendations_not_implemented) or any(
                not 1 <= number <= count for number in declined):
            raise reject(f"Each recommendation not implemented is one line: its number (1 to {count}), a colon and "
                         "the board's reasons.")

    def _audit_detail(self, name: str, action: Action) -> dict:
        if name == "submit_sar_information_return":  # the return itself is case content: record that it came
            return {"stage": self.state.stage, "agency": action.actor.agency}
        return self.actions.fields_for_audit(name, action)

    # ------------------------------------------------------------ what each action does

    def _give_view(self, action: GiveCriteriaView, step: CaseStep, documents: list[DocumentRequest]) -> None:
        """A seat's view replaces its earlier one; when the three agree, that is the SAB's decision."""
        seat = action.actor.seat
        self.state.views = [v for v in self.state.views if v.seat != seat] + [CriteriaView(
            seat=seat, by=action.actor.name, outcome=action.outcome, reasons=action.reasons, on=self.clock.today())]
        step.settle.append(self.steps.done(f"criteria:{seat}", OUTCOME_WORDS[action.outcome]))
        outcomes = {v.outcome for v in self.state.views}
        if len(self.state.views) < len(Seat) or len(outcomes) != 1:
            return  # waiting for a seat, or the partners disagree: each may give its view again
        outcome = outcomes.pop()
        self.state.decision, self.state.decided_on = outcome, self.clock.today()
        if patched("sar-criteria-record"):  # the board's record of why; SARs decided before, as they ran
            documents.append(self._criteria_record(action.actor.name))
        self.clock.meet("criteria_decision", step)
        if outcome == "not_met":
            self.state.closed_reason = "The SAB's partners agreed that the criteria for a SAR are not met"
            self.clock.cancel_all()
            self.steps.move_to(step, CLOSED, action.actor, "give_sar_criteria_view")
            return
        days = self.rules.commission_working_days
        self.clock.add_counted_deadline("commission", "Commission the Safeguarding Adults Review", self.clock.today(),
                                        days, RULE_COMMISSION.format(n=days), Role.business_unit, statutory=False)
        step.tasks.append(self.steps.task(
            "commission", TaskKind.action, "Commission the Safeguarding Adults Review",
            f"The partners agreed on {OUTCOME_WORDS[outcome]}: commission the reviewer and agree the terms of "
            "reference.", Role.business_unit, due=self.clock.deadline("commission").due, action="commission_sar"))
        self.steps.move_to(step, COMMISSIONING, action.actor, "give_sar_criteria_view")

    def _criteria_record(self, issued_by: str) -> DocumentRequest:
        """The decision and each member's view with its reasons, as a document the board keeps."""
        st = self.state
        return self.steps.document(DocumentKind.sar_criteria_decision, issued_by, SarCriteriaDecision(
            pseudonym=st.pseudonym, concern_date=st.concern_date, adult_died=st.adult_died,
            decision=OUTCOME_WORDS[st.decision], decided_on=st.decided_on,
            views=[SarCriteriaView(seat=SEAT_NAMES[v.seat], by=v.by, outcome=OUTCOME_WORDS[v.outcome],
                                   reasons=v.reasons, on=v.on) for v in st.views]))

    def _commission(self, action: CommissionSar, step: CaseStep, documents: list[DocumentRequest]) -> None:
        self.state.commission = action
        self.clock.meet("commission", step, action.commissioned_on)
        step.settle.append(self.steps.done("commission", f"Commissioned: {action.reviewer}"))
        self.steps.move_to(step, REVIEW, action.actor, "commission_sar")

    def _submit_report(self, action: SubmitSarReport, step: CaseStep, documents: list[DocumentRequest]) -> None:
        """A new version of the report goes to the three members to sign."""
        self.state.report, self.state.report_version = action, self.state.report_version + 1
        self.information.close(step)
        step.settle.append(self.steps.done("resubmit_report", f"Version {self.state.report_version} submitted"))
        self.three_way.ask(step, self.state.report_version, None)
        self.steps.move_to(step, SIGN_OFF, action.actor, "submit_sar_report")

    def _sign_off(self, action: SignOff, step: CaseStep, documents: list[DocumentRequest]) -> None:
        """A return sends the report back for a new version; the third approval of a version sends it to be
        published."""
        approved = self.three_way.record(action, step, self.state.report_version)
        if action.decision == "return":
            self.three_way.send_back(step, action, to_stage=REVIEW,
                                     task_key=f"resubmit_report:v{self.state.report_version}",
                                     title="Submit the SAR report again", role=Role.business_unit,
                                     next_action="submit_sar_report")
        elif approved:
            step.tasks.append(self.steps.task("publish", TaskKind.action, "Publish the SAR report",
                                              "The board's three members approved it.", Role.business_unit,
                                              action="publish_sar"))
            self.steps.move_to(step, PUBLICATION, action.actor, "sign_off_sar_report")

    def _publish(self, action: PublishSar, step: CaseStep, documents: list[DocumentRequest]) -> None:
        self.state.published = action
        # The recommendations the board implements go into the one action plan (Care Act 2014 Sch. 2 para 4(1)(f));
        # those it declined keep their reasons on the state, for the annual report (para 4(1)(g)).
        due = self.clock.working_days_after(action.published_on, self.rules.action_plan_working_days)
        declined = action.declined()
        step.plan_actions = [
            PlanActionSpec(key=f"{self.state.reference}:sar:{number}", source="sar_recommendation",
                           description=text, due=due)
            for number, text in enumerate(self.state.report.recommendations, start=1) if number not in declined]
        self.state.closed_reason = f"Safeguarding Adults Review published on {action.published_on.isoformat()}"
        step.settle.append(self.steps.done("publish", "Published"))
        self.clock.cancel_all()
        self.steps.move_to(step, CLOSED, action.actor, "publish_sar")

    # ------------------------------------------------------------ the read model

    def _record(self, step: CaseStep) -> None:
        """The case's row in the read model, with who it waits on, on every step."""
        st = self.state
        if st.stage == CRITERIA:
            given = {v.seat for v in st.views}
            st.outstanding = [Outstanding(what="Criteria decision", role=Role.executive, seat=seat,
                                          due=self.clock.deadline("criteria_decision").due)
                              for seat in Seat if seat not in given or len(st.views) == len(Seat)]
        elif st.stage == REVIEW:
            st.outstanding = self.information.outstanding()
        elif st.stage == COMMISSIONING:
            st.outstanding = [Outstanding(what="Commission the review", role=Role.business_unit,
                                          due=self.clock.deadline("commission").due)]
        elif st.stage == SIGN_OFF:
            st.outstanding = self.three_way.outstanding("Sign off the SAR report", st.report_version, None)
        elif st.stage == PUBLICATION:
            st.outstanding = [Outstanding(what="Publish the SAR report", role=Role.business_unit)]
        else:
            st.outstanding = []
        upcoming = sorted((d for d in st.deadlines if d.awaited), key=lambda d: d.due)
        nxt = upcoming[0] if upcoming else None
        step.snapshot = CaseSnapshot(
            reference=st.reference, pseudonym=st.pseudonym, stage=st.stage, opened_on=st.opened_on,
            awareness_date=st.concern_date, notified_on=None, rapid_review_due=None,
            next_deadline_title=nxt.title if nxt else None, next_deadline_due=nxt.due if nxt else None,
            next_deadline_rule=nxt.rule if nxt else None, late=st.late, escalated=st.escalated, recommendation=None,
            decision_sheet_version=0, invited_agencies=list(st.information_asked), submitted_on=None,
            practice_review_stage=None,
            closed_reason=st.closed_reason, outcome=OUTCOME_WORDS[st.decision] if st.decision else None)
