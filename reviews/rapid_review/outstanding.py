"""Who the case waits on, for its row in the read model and for each reminder: the agencies yet to return, the
partners yet to answer, the seats yet to sign; and the case's snapshot that every step carries."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from engine.case_view import stored_calendar
    from engine.models import CaseSnapshot, CaseStep, Outstanding, StoredState
    from engine.vocabulary import ReviewStage, Role, Stage

from engine.clock import owed_by_owner
from engine.patches import patched
from reviews.rapid_review.action_rules import AFTER_SIGN_OFF
from reviews.rapid_review.parts import CasePart


class WhoOwes(CasePart):
    def who_owes(self, found) -> list[Outstanding]:
        """Who a reminder goes to: the agencies yet to return, the partners yet to answer, the seats yet to sign."""
        if found.key == "agency_returns" and self.state.panel:
            return [Outstanding(what=found.title, role=Role.agency_member, agency=a, due=found.due)
                    for a in self.state.panel.invited_agencies if a not in self.state.returns]
        if found.key == "notification" and self.state.stage == Stage.csc_consultation and self.state.sin_proposals:
            return self.process.notification.sin_outstanding(found.due)
        if found.key == "sign_off":
            return self.three_way.outstanding(found.title, self.state.decision_sheet_version, found.due)
        return owed_by_owner(found)

    def record(self, step: CaseStep) -> None:
        """The case's row in the read model, with who it waits on, on every step."""
        self.refresh_outstanding()
        step.snapshot = self.snapshot()
        if patched("state-in-step"):  # the case's state is read from the read model, not queried
            step.stored_state = StoredState(workflow_id=workflow.info().workflow_id,
                                            state=self.process.with_referral(self.state.model_dump(mode="json")),
                                            calendar=stored_calendar(self.clock.calendar))

    def refresh_outstanding(self) -> None:
        st = self.state
        due = {d.key: d.due for d in st.deadlines}
        owed: list[Outstanding] = []
        if st.stage == Stage.referral:
            owed.append(Outstanding(what="Accept or decline the referral", role=Role.business_unit))
        elif st.stage == Stage.csc_consultation and (st.three_way_sin or st.sin_proposals):
            owed += self.process.notification.sin_outstanding(due.get("notification"))
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
            owed += self.who_owes(found) if found else []
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
