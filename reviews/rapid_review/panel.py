"""The Rapid Review Panel and the partners' decision: convening it with the agencies' information requests, their
returns, its outcome, the decision sheet and its three-way sign-off (``ThreeWaySignOff``)."""

from __future__ import annotations

from datetime import date

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from engine.documents import (
        DecisionSheet,
        InformationRequest,
        InformationReturnDocument,
        PanelInvitation,
        SignOffRequest,
    )
    from engine.models import InformationReturnRecord, PlanActionSpec, SignOff
    from engine.vocabulary import AGENCIES, SEAT_NAMES, DocumentKind, Recommendation, Role, Seat, Stage, TaskKind
    from reviews.rapid_review.models import (
        ConvenePanel,
        IssueDecisionSheet,
        RecordPanelOutcome,
        SubmitInformationReturn,
    )

from engine.patches import patched
from engine.steps import reject
from reviews.rapid_review.parts import CasePart


class Panel(CasePart):
    def convene_panel(self, action: ConvenePanel, step, documents) -> None:
        self.state.panel = action
        self.state.convened_on = self.clock.today()
        self.clock.meet("information_requests", step)
        step.settle.append(self.steps.done("convene_panel"))
        # Cases convened before this rule keep the window's milestone, as they ran (its timer would move).
        if patched("returns-before-panel"):
            returns_due = self.returns_due_before(action.panel_date)
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

    def returns_due_before(self, panel_date: date) -> date:
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

    def submit_information_return(self, action: SubmitInformationReturn, step, documents) -> None:
        """The return's text goes to the case record (the step) and its document, never into the state: the
        state keeps the day it came. The step's field is an activity input only (not compared on replay); the
        document is a new activity, so it is behind a patch."""
        agency = action.actor.agency
        self.state.returns[agency] = self.clock.today()
        text = action.model_dump(include={"involvement", "chronology", "analysis"})
        step.information_return = InformationReturnRecord(
            agency=agency, submitted_by=action.actor.name, submitted_by_id=action.actor.user_id, **text)
        if patched("information-return-document"):
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

    def _check_submit_information_return(self, action: SubmitInformationReturn) -> None:
        agency = action.actor.agency
        if not self.state.panel or agency not in self.state.panel.invited_agencies:
            raise reject(f"Your agency ({agency}) has not been asked for information on this case.")
        if agency in self.state.returns:
            raise reject(f"Your agency already returned its information on {self.state.returns[agency].isoformat()}.")

    def audit_detail(self, name: str, action) -> dict:
        if name == "submit_information_return":  # the return itself is case content: record that it came
            return {"stage": self.state.stage, "agency": action.actor.agency}
        return self.actions.fields_for_audit(name, action)

    def record_panel_outcome(self, action: RecordPanelOutcome, step, documents) -> None:
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

    def _check_record_panel_outcome(self, action: RecordPanelOutcome) -> None:
        self.actions.not_future(action.held_on, "panel date")
        self.actions.not_before(action.held_on, self.state.convened_on, "panel date", "date the panel was convened")
        if self.state.panel is None:
            raise reject("The panel has not been convened yet.")

    def issue_decision_sheet(self, action: IssueDecisionSheet, step, documents) -> None:
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
                                             self.decision_sheet(), version))
        self.three_way.ask(step, version, self.clock.deadline("sign_off").due)
        documents.append(self.steps.document(DocumentKind.sign_off_request, action.actor.name, SignOffRequest(
            version=version, due=self.clock.deadline("sign_off").due, recommendation=self.state.recommendation,
            seats=[SEAT_NAMES[s] for s in Seat],
        ), version))

    def decision_sheet(self) -> DecisionSheet:
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
            awareness_date=st.awareness_date, **self.child_and_family(sheet), **self.panel_questions(),
            cdop_reference=st.cdop.cdop_reference if st.cdop else None,
            lead_partnership=st.joint_review.lead_partnership if st.joint_review else None,
            other_partnerships=list(st.joint_review.other_partnerships) if st.joint_review else [],
        )

    def panel_questions(self) -> dict:
        """The Panel's questions (its replies that asked them) and the answers of each revision, in order."""
        answered = [*self.state.revisions, *([self.state.revision] if self.state.revision else [])]
        asked = [r.content for r in self.state.national_panel_responses if r.panel_view == "asks_questions"]
        return {"panel_questions": asked[:len(answered)],
                "panel_answers": [f"{r.answers}\n\n{r.changes}".strip() for r in answered]}

    @staticmethod
    def child_and_family(sheet: IssueDecisionSheet) -> dict:
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

    def sign_off(self, action: SignOff, step, documents) -> None:
        version = self.state.decision_sheet_version
        approved = self.three_way.record(action, step, version)
        if self.state.revision is not None:  # a revision after the National Panel's questions
            self.process.national_panel.revision_signed(action, step, documents, approved)
            return
        if action.decision == "return":
            self.three_way.send_back(step, action, to_stage=Stage.decision_sheet,
                                     task_key=f"issue_decision_sheet:v{version + 1}",
                                     title="Revise the decision sheet (returned)", role=Role.panel_chair,
                                     next_action="issue_decision_sheet", due=self.clock.deadline("sign_off").due)
            return
        if approved:
            # The partners' decision is made here: a local CSPR starts from it, not from the Panel's reply.
            self.state.partners_decision = self.state.recommendation
            self.state.partners_decided_on = self.clock.today()
            self.clock.meet("sign_off", step)
            documents.append(self.steps.document(DocumentKind.decision_sheet_signed, "Executive",
                                                 self.decision_sheet(),
                                                 version))
            step.tasks.append(self.steps.task(
                "record_submission", TaskKind.action, "Submit the rapid review to the National Panel",
                "Send the signed rapid review to the National Panel and record the date.", Role.business_unit,
                due=self.clock.deadline("rapid_review").due, action="record_submission",
            ))
            if self.state.partners_decision == Recommendation.local_cspr:
                self.process.local_review.open_methodology(action.actor, step, self.clock.today())
            else:
                self.steps.move_to(step, Stage.national_panel, action.actor, "sign_off")

    def _check_sign_off(self, action: SignOff) -> None:
        if self.state.stage != Stage.executive_sign_off and self.state.revision is None:
            raise reject("There is nothing to sign off: the rapid review was signed off, and no revision after the "
                         "National Panel's questions waits for the partners.")
        self.three_way.check(action, self.state.decision_sheet_version)
