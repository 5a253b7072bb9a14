"""The three-way notification decision (Children Act 2004 s16C; RULE_SIN_THREE_WAY): the CSC lead proposes, the
police and ICB seats agree or disagree by a date, the local authority's seat resolves a disagreement or a silence;
and the CSC lead's decision alone, which cases of the earlier process replay."""

from __future__ import annotations

from datetime import date

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from engine.documents import NoNotificationLetter, SinDecisionRecord
    from engine.models import Outstanding
    from engine.vocabulary import SEAT_NAMES, DocumentKind, Role, Seat, Stage, TaskKind
    from reviews.rapid_review.citations import (
        RULE_CARE_LEAVER_DEATH,
        RULE_LOOKED_AFTER_DEATH,
        RULE_SIN_LA_DECIDES,
        RULE_SIN_THREE_WAY,
    )
    from reviews.rapid_review.models import (
        ProposeSinDecision,
        RecordSinDecision,
        ResolveSinDisagreement,
        RespondToSinProposal,
        SinProposal,
        SinResolution,
        SinResponse,
    )

from engine.steps import reject
from reviews.rapid_review.parts import CasePart

# Deaths notified whatever is known of abuse or neglect (the category); the rapid review still follows the notification.
ALWAYS_NOTIFIED = {"looked_after_child_death": RULE_LOOKED_AFTER_DEATH, "care_leaver_death": RULE_CARE_LEAVER_DEATH}
# The partners who answer the CSC lead's proposal on the notification (the local authority's view is the proposal).
ANSWERING_SEATS = (Seat.police, Seat.icb)


class NotificationDecision(CasePart):
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

    def current_sin_version(self) -> int:
        return len(self.state.sin_proposals)

    def disagreeing(self, version: int) -> list[str]:
        return [r.seat for r in self.state.sin_responses if r.version == version and r.view == "disagree"]

    def _check_propose_sin_decision(self, action: ProposeSinDecision) -> None:
        self._check_sin_open()
        self._check_notifiable(action.decision)

    def _check_respond_to_sin_proposal(self, action: RespondToSinProposal) -> None:
        seat, version = action.actor.seat, self.current_sin_version()
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
        version = self.current_sin_version()
        if action.actor.seat != Seat.la:
            raise reject("The local authority's seat records the resolution: the duty to notify is the local "
                         f"authority's ({RULE_SIN_THREE_WAY}).")
        self._check_sin_open()
        if action.version != version or not (self.disagreeing(version) or self.silent(version)):
            answer_by = self.answers_due(version)
            waiting = f" Police and health have until {answer_by.isoformat()} to answer." if answer_by else ""
            raise reject(f"There is no disagreement to resolve on version {action.version} of the proposal, and no "
                         f"partner's answer is overdue.{waiting}")
        self._check_notifiable(action.decision)

    def answers_due(self, version: int) -> date | None:
        """The day police and health answer proposal ``version`` by: a few working days (the partnership's rule),
        never after the notification is due."""
        if not version:
            return None
        proposed = self.state.sin_proposals[version - 1].on
        by = self.clock.working_days_after(proposed, self.rules.partner_answer_working_days)
        due = self.process.intake.notification_due()
        return min(by, due) if due else by

    def silent(self, version: int) -> list[Seat]:
        """The answering seats that have not answered ``version`` and whose answer date has passed."""
        answer_by = self.answers_due(version)
        if answer_by is None or self.clock.today() <= answer_by:
            return []
        answered = {r.seat for r in self.state.sin_responses if r.version == version}
        return [seat for seat in ANSWERING_SEATS if seat not in answered]

    def propose_sin_decision(self, action: ProposeSinDecision, step, documents) -> None:
        """A new proposal (or a revision after a disagreement): police and health answer this version."""
        version = self.current_sin_version() + 1
        self.state.sin_proposals.append(SinProposal(version=version, decision=action.decision,
                                                    rationale=action.rationale, by=action.actor.name,
                                                    on=self.clock.today()))
        step.settle.append(self.steps.done("propose_sin_decision", f"version {version}"))
        step.settle.append(self.steps.done("record_sin_decision", f"proposed (version {version})"))
        step.settle.append(self.steps.cancel("sin_response:", f"superseded by version {version}"))
        step.settle.append(self.steps.cancel("resolve_sin:", f"superseded by version {version}"))
        answer_by = self.answers_due(version)
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
            Role.executive, seat=Seat.la, due=self.process.intake.notification_due(), action="resolve_sin_disagreement",
        ))

    def respond_to_sin_proposal(self, action: RespondToSinProposal, step, documents) -> None:
        version, seat = action.version, action.actor.seat
        self.state.sin_responses.append(SinResponse(version=version, seat=seat, view=action.view,
                                                    comments=action.comments, by=action.actor.name,
                                                    on=self.clock.today()))
        step.settle.append(self.steps.done(f"sin_response:v{version}:{seat}", action.view))
        if action.view == "disagree" and len(self.disagreeing(version)) == 1:  # the first disagreement
            due = self.process.intake.notification_due()
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
            self.sin_agreed(self.state.sin_proposals[-1].decision, action.actor, step, documents)

    def resolve_sin_disagreement(self, action: ResolveSinDisagreement, step, documents) -> None:
        disagreed = self.disagreeing(action.version)
        self.state.sin_resolutions.append(SinResolution(
            version=action.version, decision=action.decision, how_resolved=action.how_resolved, by=action.actor.name,
            on=self.clock.today(), basis="disagreement" if disagreed else "no_answer",
            unanswered=self.silent(action.version)))
        step.settle.append(self.steps.done("resolve_sin:", action.decision))
        self.sin_agreed(action.decision, action.actor, step, documents)

    def sin_agreed(self, decision: str, actor, step, documents) -> None:
        """The three partners' decision: to the notification, or (not to notify) to the business unit's decline."""
        self.state.sin_agreed, self.state.sin_agreed_on = decision, self.clock.today()
        for prefix in ("sin_response:", "resolve_sin:", "propose_sin_decision"):
            step.settle.append(self.steps.cancel(prefix, f"the partners agreed: {decision}"))
        documents.append(self.steps.document(DocumentKind.sin_decision, actor.name, self.sin_context(),
                                             self.current_sin_version()))
        if decision == "notify":
            self.process.intake.open_notification(actor, step)
            return
        self.clock.cancel("notification")
        step.tasks.append(self.steps.task(
            "decline_referral", TaskKind.action, "Decline the referral: the partners agreed not to notify",
            "Close the referral with the reason and write to the referrer.", Role.business_unit,
            due=self.clock.working_days_after(self.clock.today(), 1), action="decline_referral",
        ))

    def sin_context(self) -> SinDecisionRecord:
        """The decision-record document's fields, from the proposal, the answers and any resolution."""
        proposal = self.state.sin_proposals[-1]
        answers = {r.seat: f"{r.view}: {r.comments}" for r in self.state.sin_responses if r.version == proposal.version}
        resolution = self.state.sin_resolutions[-1] if self.state.sin_resolutions else None
        rationale, decided_by = proposal.rationale, "The three safeguarding partners"
        if resolution and resolution.version == proposal.version:
            silent = " and ".join(SEAT_NAMES[s] for s in resolution.unanswered)
            if silent:
                decided_by = (f"The local authority's seat ({resolution.by}): {silent} had not answered by "
                              f"{self.answers_due(proposal.version).isoformat()}")
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

    def no_notification_letter(self, decided: SinDecisionRecord) -> NoNotificationLetter:
        """The letter to the referrer: the decision not to notify, as recorded."""
        return NoNotificationLetter(**decided.model_dump(), referrer=self.case.referrer.name,
                                    referring_agency=self.case.referring_agency)

    def record_sin_decision(self, action: RecordSinDecision, step, documents) -> None:
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
                                                 self.no_notification_letter(decided)))
            self.process.closing.close(action.actor, "record_sin_decision",
                        f"No serious incident notification: {action.rationale}", step)
            return
        self.steps.move_to(step, Stage.notification, action.actor, "record_sin_decision")
        step.tasks.append(self.steps.task(
            "record_notification", TaskKind.action, "Notify the National Panel and record the notification",
            "Submit the serious incident notification (DfE system) and record the day it was made and its reference.",
            Role.csc_lead, due=self.clock.deadline("notification").due, action="record_notification",
        ))

    def sin_outstanding(self, due) -> list[Outstanding]:
        """Who the three-way notification decision waits on."""
        st, version = self.state, self.current_sin_version()
        if st.sin_agreed == "do_not_notify":
            return [Outstanding(what="Decline the referral (the partners agreed not to notify)",
                                role=Role.business_unit)]
        if version == 0 or (st.sin_agreed is None and st.sin_proposals[-1].decision == "do_not_notify"
                            and st.category in ALWAYS_NOTIFIED):
            return [Outstanding(what="Propose the notification decision", role=Role.csc_lead, due=due)]
        if self.disagreeing(version):
            return [Outstanding(what="Revise the notification proposal", role=Role.csc_lead, due=due),
                    Outstanding(what="Or record how the partners resolved the disagreement", role=Role.executive,
                                seat=Seat.la, due=due)]
        answered = {r.seat for r in st.sin_responses if r.version == version}
        return [Outstanding(what="Agree or disagree with the notification proposal", role=Role.executive, seat=seat,
                            due=due) for seat in ANSWERING_SEATS if seat not in answered]
