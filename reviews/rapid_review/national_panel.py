"""The National Panel's part: the submission, its reply recorded beside the partners' decision (never overturning
it), a revision its questions call for, the partners' reconsideration where it differs, their part in a national
review, and the reviews related to the case (CDOP's, a joint review)."""

from __future__ import annotations

from datetime import date

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from engine.documents import NationalPanelSubmission
    from engine.models import SignOff
    from engine.vocabulary import SEAT_NAMES, DocumentKind, Recommendation, Role, Seat, Stage, TaskKind
    from reviews.rapid_review.citations import RULE_PANEL_REPLY
    from reviews.rapid_review.models import (
        LinkCdopReview,
        ReconsiderDecision,
        RecordJointReview,
        RecordNationalPanelResponse,
        RecordNationalReviewPart,
        RecordSubmission,
        ReviseRapidReview,
    )

from engine.steps import reject
from reviews.rapid_review.parts import CasePart

RECONSIDER_ANSWERS = {"continue": "Keep the partners' decision", "undertake_local_cspr": "Undertake a local CSPR",
                      "stop_local_cspr": "Stop the local CSPR"}


class NationalPanelReply(CasePart):
    def _check_revise_rapid_review(self, action: ReviseRapidReview) -> None:
        if not self.state.panel_questions_pending:
            raise reject("The rapid review is revised when the National Panel asks questions; it has not.")
        if self.state.revision is not None:
            raise reject(f"Version {self.state.decision_sheet_version} of the revised rapid review is with the "
                         "partners for sign-off.")

    def revise_rapid_review(self, action: ReviseRapidReview, step, documents) -> None:
        """A new version of the rapid review with the answers; the three seats sign it as they signed the first."""
        self.state.revision = action
        self.state.decision_sheet_version += 1
        version = self.state.decision_sheet_version
        for earlier in self.state.sign_offs:
            if earlier.version < version and earlier.superseded_by is None:
                earlier.superseded_by = version
        step.settle.append(self.steps.done("answer_national_panel:", f"revised as version {version}"))
        documents.append(self.steps.document(DocumentKind.decision_sheet, action.actor.name,
                                             self.process.panel.decision_sheet(), version))
        due = self.clock.working_days_after(self.clock.today(), 5)
        self.three_way.ask(step, version, due)

    def revision_signed(self, action: SignOff, step, documents, approved: bool) -> None:
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
        documents.append(self.steps.document(DocumentKind.decision_sheet_signed, "Executive",
                                             self.process.panel.decision_sheet(), version))
        step.tasks.append(self.steps.task(
            f"record_submission:v{version}", TaskKind.action, "Resubmit the revised rapid review to the National Panel",
            f"Version {version}, signed off by the three partners, answers the Panel's questions.", Role.business_unit,
            due=self.clock.working_days_after(self.clock.today(), 2), action="record_submission",
        ))

    def _check_record_submission(self, action: RecordSubmission) -> None:
        if self.state.partners_decided_on is None:
            raise reject("The rapid review goes to the National Panel once the partners have signed it off.")
        if self.state.submitted_on is not None and not self.state.resubmission_due:
            raise reject(f"The rapid review was already submitted on {self.state.submitted_on.isoformat()}.")
        self.actions.not_future(action.submitted_on, "date of submission")
        approved = max((s.on for s in self.state.sign_offs if s.version == self.state.decision_sheet_version),
                       default=None)
        self.actions.not_before(action.submitted_on, approved, "date of submission", "Executive sign-off")

    def record_submission(self, action: RecordSubmission, step, documents) -> None:
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
            **self.process.panel.decision_sheet().model_dump(), submitted_on=action.submitted_on,
            rapid_review_due=rapid_review.due, rapid_review_rule=rapid_review.rule,
        ), 1 + len(self.state.resubmitted_on)))

    def _check_record_national_panel_response(self, action: RecordNationalPanelResponse) -> None:
        if self.state.submitted_on is None:
            raise reject("Record the submission to the National Panel before its response.")
        if self.state.reopenable and not self.panel_reply_awaited():  # one reply per submission (cases since then)
            raise reject("The National Panel's reply to the last submission is already recorded; a further reply "
                         "follows a resubmission.")
        self.actions.not_future(action.received_on, "date of the response")
        self.actions.not_before(action.received_on, self.state.submitted_on, "date of the response", "submission")

    def record_national_panel_response(self, action: RecordNationalPanelResponse, step, documents) -> None:
        """The Panel's reply is recorded beside the partners' decision; it never overturns it by itself. Where
        it differs, the partners reconsider and record their answer (reconsider_decision). A reply that arrives
        after the case closed is recorded, and the partners decide whether to reopen the case for it."""
        self.state.national_panel_response = action
        self.state.national_panel_responses.append(action)
        if self.state.stage == Stage.closed:
            self.process.reopening.late_reply(action, step)
            return
        self.clock.meet("national_panel_reply", step, on=action.received_on)
        step.settle.append(self.steps.done("record_national_panel_response", action.panel_view))
        self.act_on_reply(action, step)

    def act_on_reply(self, action: RecordNationalPanelResponse, step) -> None:
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
                self.process.learning.close_after_panel(action.actor, step, "the National Panel agreed")
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
        self.ask_to_reconsider(step, f"reconsider:{len(self.state.national_panel_responses)}",
                                "Reconsider the decision in the light of the National Panel's response",
                                f"The National Panel {view} (received {action.received_on.isoformat()}). The "
                                "partners decide: continue, change or stop, with reasons.", since=action.received_on)

    def ask_to_reconsider(self, step, key: str, title: str, why: str, since: date) -> None:
        """A reconsideration task for each seat (their answer is one joint decision)."""
        for seat in Seat:
            step.tasks.append(self.steps.task(
                f"{key}:{seat}", TaskKind.decision, title, why, Role.executive, seat=seat,
                due=self.clock.working_days_after(since, self.rules.methodology_working_days),
                action="reconsider_decision",
            ))

    def _check_record_national_review_part(self, action: RecordNationalReviewPart) -> None:
        if self.state.national_review_from is None:
            raise reject("The National Panel has not said it will hold a national review of this case.")
        self.actions.not_future(action.given_on, "date given")
        self.actions.not_before(action.given_on, self.state.national_review_from, "date given",
                                "National Panel's reply")

    def record_national_review_part(self, action: RecordNationalReviewPart, step, documents) -> None:
        self.state.national_review_parts.append(action)
        step.settle.append(self.steps.done("national_review:", "part recorded"))

    def _check_reconsider_decision(self, action: ReconsiderDecision) -> None:
        if not self.state.reconsideration_pending:
            raise reject("There is nothing to reconsider: the National Panel's response did not differ from the "
                         "partners' decision.")
        local = self.state.partners_decision == Recommendation.local_cspr
        if action.answer == "undertake_local_cspr" and local:
            raise reject("The partners already decided on a local CSPR; answer 'continue' to keep it.")
        if action.answer == "stop_local_cspr" and not local:
            raise reject("There is no local CSPR to stop.")

    def reconsider_decision(self, action: ReconsiderDecision, step, documents) -> None:
        self.state.reconsiderations.append(action)
        self.state.reconsideration_pending = False
        step.settle.append(self.steps.done("reconsider:", action.answer))
        if action.answer == "undertake_local_cspr":
            self.state.partners_decision = Recommendation.local_cspr
            self.state.partners_decided_on = self.clock.today()
            self.process.local_review.open_methodology(action.actor, step, self.clock.today())
        elif action.answer == "stop_local_cspr":
            self.state.outcome = ("Local CSPR stopped by the partners after the National Panel's response: "
                                  f"{action.reasons}")
            if self.state.joint_decisions:
                self.state.stopped = self.state.outcome
            self.process.closing.close(action.actor, "reconsider_decision", self.state.outcome, step)
        elif (self.state.stage == Stage.national_panel and self.state.reopenings
              and self.state.partners_decision == Recommendation.local_cspr):
            # a reopened case keeps its local CSPR
            self.process.local_review.open_methodology(action.actor, step, self.clock.today())
        elif self.state.stage == Stage.national_panel:
            self.process.learning.close_after_panel(action.actor, step,
                                                   f"the partners kept their decision: {action.reasons}")

    def panel_reply_awaited(self) -> bool:
        """The rapid review (or its last resubmission) went to the National Panel and its reply has not come."""
        st = self.state
        return st.submitted_on is not None and len(st.national_panel_responses) < 1 + len(st.resubmitted_on)

    def link_cdop_review(self, action: LinkCdopReview, step, documents) -> None:
        self.state.cdop = action

    def record_joint_review(self, action: RecordJointReview, step, documents) -> None:
        self.state.joint_review = action
