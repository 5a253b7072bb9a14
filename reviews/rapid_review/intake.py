"""The referral until the notification is recorded: the case opens, the business unit accepts or declines the
referral, the CSC lead corrects it or its date of awareness, the notification is recorded and the rapid review's
window opens (its 15 working days and the milestones inside them)."""

from __future__ import annotations

from datetime import date

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from engine.documents import NotificationRecord, ReferralAcknowledgement
    from engine.vocabulary import AGENCIES, DeadlineStatus, DocumentKind, Role, Stage, TaskKind
    from reviews.rapid_review.citations import (
        RULE_CARE_LEAVER_REVIEW,
        RULE_MILESTONE,
        RULE_NOTIFICATION,
        RULE_RAPID_REVIEW,
        RULE_SIN_THREE_WAY,
    )
    from reviews.rapid_review.models import (
        AcceptReferral,
        CorrectAwarenessDate,
        CorrectReferral,
        DeclineReferral,
        RecordNotification,
    )

from engine.patches import patched
from engine.steps import reject
from reviews.rapid_review.notification import ALWAYS_NOTIFIED
from reviews.rapid_review.parts import CasePart


class Intake(CasePart):
    async def open_case(self) -> None:
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
                self.start_window(case.awareness_date)
            step.tasks.append(self.steps.task(
                "accept_referral", TaskKind.decision, "Accept or decline the referral",
                f"A referral from {AGENCIES.get(case.referring_agency, case.referring_agency)}: decide whether it goes "
                "to Children's Social Care for consultation.", Role.business_unit,
                due=self.clock.working_days_after(self.clock.today(), 1), action="accept_referral",
            ))
            step.audit = self.audit(case.referrer, "submit_referral", {
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

    def accept_referral(self, action: AcceptReferral, step, documents) -> None:
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

    def decline_referral(self, action: DeclineReferral, step, documents) -> None:
        if self.state.stage == Stage.referral:  # cases started before the three-way decision
            step.settle.append(self.steps.done("accept_referral", "declined"))
            self.process.closing.close(action.actor, "decline_referral", f"Referral declined: {action.reason}", step)
            return
        step.settle.append(self.steps.done("decline_referral", "declined"))
        decided = self.process.notification.sin_context()
        documents.append(self.steps.document(DocumentKind.no_notification_letter, action.actor.name,
                                             self.process.notification.no_notification_letter(decided)))
        self.process.closing.close(action.actor, "decline_referral", "Referral declined: no serious incident "
                                  f"notification, agreed by the three partners ({decided.rationale}): {action.reason}",
                                  step)

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

    def correct_referral(self, action: CorrectReferral, step, documents) -> None:
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
            Role.csc_lead, due=self.notification_due(), action="propose_sin_decision",
        ))

    def _check_correct_referral(self, action: CorrectReferral) -> None:
        if self.state.reference in action.linked_references:
            raise reject("A case cannot be linked with itself.")
        if action.category == self.state.category and action.linked_references == self.state.linked_references:
            raise reject("The category and linked cases are already as given: nothing to correct.")

    def correct_awareness_date(self, action: CorrectAwarenessDate, step, documents) -> None:
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
                self.notification_context(notified, rapid_review.due if rapid_review else None),
                self.state.notification_records))
            return
        days = self.rules.notification_working_days
        self.clock.add_counted_deadline("notification", "Serious incident notification to the National Panel",
                                        action.awareness_date, days, RULE_NOTIFICATION.format(n=days), Role.csc_lead,
                                        statutory=True)
        self.state.unexplained_delays = [k for k in self.state.unexplained_delays if k != "notification"]
        if self.rules.rapid_review_clock_start == "awareness":
            self.start_window(action.awareness_date)

    def _check_correct_awareness_date(self, action: CorrectAwarenessDate) -> None:
        self.actions.not_future(action.awareness_date, "date of awareness")
        self.actions.not_before(action.awareness_date, self.case.incident_date, "date of awareness", "incident")
        if action.awareness_date == self.state.awareness_date:
            raise reject(f"The date of awareness is already {action.awareness_date.isoformat()}.")
        self.actions.not_after(action.awareness_date, self.state.notified_on, "date of awareness",
                               "notification")

    def record_notification(self, action: RecordNotification, step, documents) -> None:
        self.state.notified_on = action.notified_on
        self.state.notification_reference = action.notification_reference
        self.state.notified_by, self.state.notification_records = action.actor.name, 1
        self.clock.meet("notification", step, on=action.notified_on)
        step.settle.append(self.steps.done("record_notification", action.notification_reference))
        rule = ALWAYS_NOTIFIED.get(self.state.category)
        # The category says what is notified and to whom; it never removes the rapid review (Working Together
        # 2023 ch. 5): whether the criteria for a review are met is the panel's separate question. Cases started
        # before this keep the earlier notification-only close.
        if rule and not patched("category-keeps-review"):
            documents.append(self.steps.document(DocumentKind.notification_record, action.actor.name,
                                                 self.notification_context(action, None)))
            self.state.outcome = f"Notified on {action.notified_on.isoformat()}; no rapid review: {rule}"
            self.process.closing.close(action.actor, "record_notification", self.state.outcome, step)
            return
        if self.state.window_start is None:
            self.start_window(action.notified_on)
        self.steps.move_to(step, Stage.panel_preparation, action.actor, "record_notification")
        rapid_review_due = self.clock.deadline("rapid_review").due
        documents.append(self.steps.document(DocumentKind.notification_record, action.actor.name,
                                             self.notification_context(action, rapid_review_due)))
        step.tasks.append(self.steps.task(
            "convene_panel", TaskKind.action, "Convene the Rapid Review Panel and send information requests",
            "Set the panel date and invite the agencies that worked with the child.", Role.business_unit,
            due=self.clock.deadline("information_requests").due, action="convene_panel",
        ))

    def _check_record_notification(self, action: RecordNotification) -> None:
        self.actions.not_before(
            action.notified_on, self.state.awareness_date, "date of notification", "date of awareness"
        )
        self.actions.not_future(action.notified_on, "date of notification")

    def notification_context(self, action: RecordNotification, rapid_review_due: date | None) -> NotificationRecord:
        if self.state.sin_decision:
            rationale = self.state.sin_decision.rationale
        else:
            rationale = self.process.notification.sin_context().rationale if self.state.sin_proposals else ""
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

    def start_window(self, start) -> None:
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
        local = self.state.category == "care_leaver_death" and patched("care-leaver-review-local")
        rule = RULE_CARE_LEAVER_REVIEW if local else RULE_RAPID_REVIEW
        self.clock.add_counted_deadline(
            "rapid_review", "Rapid review submitted to the National Panel", start, total,
            rule.format(n=total, start=start_name), Role.business_unit, statutory=not local,
        )

    def open_notification(self, actor, step) -> None:
        self.steps.move_to(step, Stage.notification, actor, "notification_decided")
        if self.state.category == "care_leaver_death":
            what = "Notify the Secretary of State and Ofsted of the care leaver's death and record it"
        else:
            what = "Submit the serious incident notification (DfE system) and record the day it was made and its " \
                   "reference"
        step.tasks.append(self.steps.task(
            "record_notification", TaskKind.action, "Notify the National Panel and record the notification", f"{what}.",
            Role.csc_lead, due=self.notification_due(), action="record_notification",
        ))

    def notification_due(self):
        found = self.clock.deadline("notification")
        return found.due if found else None
