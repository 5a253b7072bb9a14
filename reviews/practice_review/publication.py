"""Publication and after: the notice to the National Panel and the Secretary of State, publication or the
partners' decision not to publish, a hold on publication, the learning workshop and the one a year on."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from engine.calendar import add_months
    from engine.documents import PublicationNotice, SevenMinuteBriefing
    from engine.vocabulary import ClockKind, DocumentKind, ReviewStage, Role, TaskKind
    from reviews.practice_review.models import (
        HoldPublication,
        LiftPublicationHold,
        RecordLearningWorkshop,
        RecordNonPublication,
        RecordPublication,
        SendPublicationNotice,
    )
    from reviews.rapid_review.citations import RULE_ONE_YEAR_ON, RULE_PUBLICATION_NOTICE

from engine.steps import reject
from reviews.practice_review.parts import ReviewPart


class Publication(ReviewPart):
    def recount_publication(self) -> list[dict]:
        """The earliest day of publication after the notice, counted again (a statutory count)."""
        moved = []
        if self.state.stage == ReviewStage.publication and self.state.notice_sent_on is not None:
            days = self.rules.publication_notice_working_days
            earliest = self.clock.statutory_days_after(self.state.notice_sent_on, days)
            if earliest != self.state.earliest_publication:
                moved.append({"deadline": "earliest_publication", "title": "Earliest day of publication",
                              "from": self.state.earliest_publication.isoformat(), "to": earliest.isoformat(),
                              "clock": ClockKind.statutory})
                self.state.earliest_publication = earliest
        return moved

    def _check_hold_publication(self, action: HoldPublication) -> None:
        if not self.state.joint_decisions:
            raise reject("This review was started before the partners' joint decisions: a hold cannot be recorded.")
        if action.review_on <= self.clock.today():
            raise reject(f"The review date ({action.review_on.isoformat()}) must be after today.")

    def _check_lift_publication_hold(self, action: LiftPublicationHold) -> None:
        if self.state.publication_hold is None:
            raise reject("Publication is not held.")

    def _check_send_publication_notice(self, action: SendPublicationNotice) -> None:
        self.actions.not_future(action.sent_on, "date the notice was sent")
        signed = max((s.on for s in self.state.sign_offs if s.version == self.state.report_version), default=None)
        self.process.report.in_order(action.sent_on, signed, "date the notice was sent",
                                     "partners' sign-off of the final report")

    def _check_record_publication(self, action: RecordPublication) -> None:
        hold = self.state.publication_hold
        if hold is not None:
            raise reject(f"The partners hold publication ({hold.reasons}), to review on {hold.review_on.isoformat()}; "
                         "it is published once they lift the hold.")
        self.actions.not_future(action.published_on, "date of publication")
        earliest = self.state.earliest_publication
        if earliest and action.published_on < earliest:
            raise reject(
                f"Publication on {action.published_on.isoformat()} is too early: the report must reach the National "
                f"Panel and DfE at least {self.rules.publication_notice_working_days} working days before "
                f"publication, so the earliest date is {earliest.isoformat()}."
            )

    def _check_record_non_publication(self, action: RecordNonPublication) -> None:
        if not self.state.joint_decisions and action.actor.role != Role.business_unit:
            raise reject("On this review (started before the partners' joint decisions) the business unit records it.")
        self.actions.not_future(action.improvements_published_on, "date the improvements were published")
        self.process.report.in_order(action.improvements_published_on, self.state.notice_sent_on,
                       "date the improvements were published", "notice to the National Panel and DfE")

    def _check_record_learning_workshop(self, action: RecordLearningWorkshop) -> None:
        self.actions.not_future(action.held_on, "date of the workshop")
        self.actions.not_before(action.held_on, self.publication_date(), "date of the workshop", "publication")

    def _check_record_one_year_workshop(self, action: RecordLearningWorkshop) -> None:
        self.actions.not_future(action.held_on, "date of the workshop")
        self.actions.not_before(action.held_on, self.state.learning_workshop_on, "date of the one-year-on workshop",
                                "post-publication workshop")
        if self.state.joint_decisions and action.held_on == self.state.learning_workshop_on:
            raise reject("The one-year-on workshop cannot be on the same day as the post-publication workshop "
                         f"({action.held_on.isoformat()}): it reviews what changed since.")

    def publication_date(self):
        return self.state.published_on or (
            self.state.notice_sent_on if self.state.not_published_reasons else None)

    def send_publication_notice(self, action: SendPublicationNotice, step, documents) -> None:
        self.state.notices_sent += 1  # a report revised after sign-off sends its notice again
        self.state.notice_sent_on = action.sent_on
        days = self.rules.publication_notice_working_days
        self.state.earliest_publication = self.clock.statutory_days_after(action.sent_on, days)
        step.settle.append(self.steps.done("send_publication_notice"))
        self.steps.move_to(step, ReviewStage.publication, action.actor, "send_publication_notice")
        documents.append(self.steps.document(DocumentKind.publication_notice, action.actor.name, PublicationNotice(
            pseudonym=self.review.pseudonym, sent_on=action.sent_on,
            earliest_publication=self.state.earliest_publication, rule=RULE_PUBLICATION_NOTICE.format(n=days),
            report_version=self.state.report_version,
            recommendations=self.state.final_report.recommendations if self.state.final_report else [],
        ), version=self.state.notices_sent))
        version = self.state.report_version
        step.tasks.append(self.steps.task(
            f"publish:v{version}" if version > 1 else "publish", TaskKind.action,
            "Publish the report (or record why not)",
            f"Not before {self.state.earliest_publication.isoformat()}.", Role.business_unit,
            due=self.clock.deadline("cspr").due, action="record_publication",
        ))

    def published(self, actor, action_name: str, on, step, documents) -> None:
        self.clock.meet("cspr", step, on=on)
        self.clock.meet("cspr_revised", step, on=on)
        step.settle.append(self.steps.done("publish", action_name))
        self.steps.move_to(step, ReviewStage.learning_workshop, actor, action_name)
        step.tasks.append(self.steps.task(
            "record_learning_workshop", TaskKind.action, "Hold the partnership-wide learning workshop",
            "Share the review's learning across the partnership.", Role.business_unit,
            due=self.clock.working_days_after(on, 20), action="record_learning_workshop",
        ))
        documents.append(self.steps.document(DocumentKind.seven_minute_briefing, actor.name, self.briefing(on)))

    def briefing(self, on) -> SevenMinuteBriefing:
        """The 7-minute briefing is shared with practitioners: it carries the final report's agreed learning and
        its recommendations (the learning falls back to the recommendations), never the notes of learning events,
        which hold case detail. Only the document's input changes (activity inputs are not compared on replay),
        so running reviews replay as they ran and no ``workflow.patched`` is needed."""
        report = self.state.final_report
        recommendations = list(report.recommendations) if report else []
        return SevenMinuteBriefing(
            pseudonym=self.review.pseudonym, published_on=on, report_published=self.state.published_on is not None,
            link=self.state.publication_link, methods=[str(m) for m in self.state.methods],
            key_learning=list(report.key_learning) if report and report.key_learning else recommendations,
            recommendations=recommendations,
        )

    def hold_publication(self, action: HoldPublication, step, documents) -> None:
        """Held by the partners, with a date to review the hold (the business unit's task)."""
        self.state.publication_hold = action
        self.state.holds.append(action)
        step.tasks.append(self.steps.task(
            f"review_publication_hold:{len(self.state.holds)}", TaskKind.decision,
            "Review the hold on publication with the partners",
            f"Held: {action.reasons}. Lift the hold, revise the report, or hold again with a new review date.",
            Role.business_unit, due=action.review_on, action="lift_publication_hold",
        ))

    def lift_publication_hold(self, action: LiftPublicationHold, step, documents) -> None:
        self.state.publication_hold = None
        step.settle.append(self.steps.done("review_publication_hold:", "hold lifted"))

    def record_publication(self, action: RecordPublication, step, documents) -> None:
        self.state.published_on = action.published_on
        self.state.publication_link = action.link
        self.published(action.actor, "record_publication", action.published_on, step, documents)

    def record_non_publication(self, action: RecordNonPublication, step, documents) -> None:
        self.state.not_published_reasons = action.reasons
        self.state.improvements_published_on = action.improvements_published_on
        self.state.published_on = None
        self.state.notice_sent_on = self.state.notice_sent_on or action.improvements_published_on
        self.published(action.actor, "record_non_publication", action.improvements_published_on, step, documents)

    def record_learning_workshop(self, action: RecordLearningWorkshop, step, documents) -> None:
        self.state.learning_workshop_on = action.held_on
        step.settle.append(self.steps.done("record_learning_workshop"))
        anchor = self.state.published_on or action.held_on
        due = add_months(anchor, 12)
        self.state.one_year_workshop_due = due
        self.clock.add_deadline("one_year_on", "Learning workshop one year after publication", due, RULE_ONE_YEAR_ON,
                                Role.business_unit, reminders=[add_months(anchor, 11)])
        self.steps.move_to(step, ReviewStage.one_year_on, action.actor, "record_learning_workshop")
        step.tasks.append(self.steps.task(
            "record_one_year_workshop", TaskKind.action, "Hold the one-year-on learning workshop",
            "Review what has changed since publication.", Role.business_unit, due=due,
            action="record_one_year_workshop",
        ))

    def record_one_year_workshop(self, action: RecordLearningWorkshop, step, documents) -> None:
        self.state.one_year_workshop_on = action.held_on
        self.clock.meet("one_year_on", step, on=action.held_on)
        step.settle.append(self.steps.done("", "review closed"))
        self.state.closed_reason = "published" if self.state.published_on else "not published (improvements published)"
        self.clock.cancel_all()
        self.steps.move_to(step, ReviewStage.closed, action.actor, "record_one_year_workshop")
