"""The partners' joint decisions a case workflow holds: a decision proposed, then agreed by the three seats.

Working Together 2023 (ch. 5) and the Panel's guidance give the decisions after the rapid review to the three
safeguarding partners together: reconsidering after the National Panel's reply, stopping or extending a local CSPR,
learning without a CSPR, not publishing, and closing a case outside its normal end. No one seat, and not the business
unit, takes them alone. The rule here: an action among ``decisions`` is not applied when taken; it becomes a
proposal (versioned), the proposing seat's agreement counts, the other seats each agree or disagree with reasons, and
the action is applied, as proposed, when all three seats have agreed the same version. A disagreement ends that
version (its tasks cancelled; anyone may propose again, also otherwise); a new proposal of the same decision
supersedes an open one. Every proposal and answer stays in the state, so the record shows who decided what and why.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from temporalio import workflow

from engine.clock import DeadlineClock
from engine.steps import Steps, reject

with workflow.unsafe.imports_passed_through():
    from engine.models import (
        Action,
        AnswerJointDecision,
        CaseStep,
        DocumentRequest,
        JointAnswer,
        JointProposal,
        ProcessState,
    )
    from engine.vocabulary import SEAT_NAMES, Role, Seat, TaskKind

Apply = Callable[[Action, CaseStep, list[DocumentRequest]], None]


class JointDecision:
    """One kind of joint decision: the action's input model, how it is applied, and how its proposal reads."""

    def __init__(self, model: type[Action], apply: Apply, summary: Callable[[Action], str],
                 needed: Callable[[Action], bool] = lambda action: True) -> None:
        self.model, self.apply, self.summary, self.needed = model, apply, summary, needed


class JointDecisions:
    """The joint decisions of one workflow. ``decisions``: action name -> JointDecision; ``recheck``: the action's
    own checks, run again when the last seat agrees (the case may have moved since it was proposed);
    ``answer_action``: the workflow's update by which a seat answers (its tasks name it)."""

    def __init__(self, state: ProcessState, steps: Steps, clock: DeadlineClock,
                 decisions: Mapping[str, JointDecision], recheck: Callable[[str, Action], None], *,
                 answer_action: str) -> None:
        self.state, self.steps, self.clock = state, steps, clock
        self.decisions, self.recheck, self.answer_action = decisions, recheck, answer_action

    def needed(self, name: str, action: Action) -> bool:
        """True if ``name`` taken now by this actor is the partners' to decide (a proposal), not applied at once."""
        return self.state.joint_decisions and name in self.decisions and self.decisions[name].needed(action)

    def open_proposal(self, name: str) -> JointProposal | None:
        return next((p for p in reversed(self.state.joint_proposals) if p.decision == name and p.status == "open"),
                     None)

    def propose(self, name: str, action: Action, step: CaseStep) -> int:
        """Record the proposal; the proposing seat agrees by proposing; the other seats get a task to answer.
        Returns the proposal's version."""
        today, seat = self.clock.today(), action.actor.seat
        earlier = self.open_proposal(name)
        if earlier is not None:
            self.settle(earlier, "superseded", step, f"superseded by a new proposal from {action.actor.name}")
        version = 1 + sum(1 for p in self.state.joint_proposals if p.decision == name)
        summary = self.decisions[name].summary(action)
        self.state.joint_proposals.append(JointProposal(
            decision=name, version=version, summary=summary,
            action=action.model_dump(mode="json", exclude={"seal"}), proposed_by=action.actor.name,
            proposer_role=action.actor.role, proposer_seat=seat, on=today,
        ))
        if seat is not None:
            self.state.joint_answers.append(JointAnswer(decision=name, version=version, seat=seat, view="agree",
                                                        comments="proposed it", by=action.actor.name, on=today,
                                                        user_id=action.actor.user_id))
        due = self.clock.working_days_after(today, 5)
        for other in Seat:
            if other == seat:
                continue
            step.tasks.append(self.steps.task(
                f"joint:{name}:v{version}:{other}", TaskKind.decision, f"Partners' decision: {summary}",
                f"{SEAT_NAMES[other]}: {action.actor.name} proposes this. Agree, or disagree with your reasons; it "
                "takes effect when the three partners agree.", Role.executive, seat=other, due=due,
                action=self.answer_action,
            ))
        return version

    def check_answer(self, answer: AnswerJointDecision) -> None:
        seat = answer.actor.seat
        if seat is None:
            raise reject("Only an Executive member holding a seat (la, icb or police) answers for a partner.")
        proposal = self.open_proposal(answer.proposed_action)
        if proposal is None:
            raise reject(f"There is no open proposal of '{answer.proposed_action}' for the partners to answer.")
        if answer.version != proposal.version:
            raise reject(f"You are answering version {answer.version}, but the open proposal is version "
                         f"{proposal.version}.")
        if any(a.decision == proposal.decision and a.version == proposal.version and a.seat == seat
               for a in self.state.joint_answers):
            raise reject(f"The {seat} seat has already answered version {proposal.version} of this proposal.")
        if any(a.decision == proposal.decision and a.version == proposal.version and a.user_id is not None
               and a.user_id == answer.actor.user_id for a in self.state.joint_answers):
            raise reject(f"You have already answered version {proposal.version} of this proposal (for another seat).")
        if answer.view == "disagree" and not answer.comments.strip():
            raise reject("Disagreeing needs your reasons.")
        if answer.view == "agree" and len(self._agreed(proposal)) == len(Seat) - 1:
            self.recheck(proposal.decision, self._proposed(proposal))  # this answer would apply it: still possible?

    def answer(self, answer: AnswerJointDecision, step: CaseStep, documents: list[DocumentRequest]) -> bool:
        """Record one seat's answer; apply the proposed action when this completes the three. True if applied."""
        proposal = self.open_proposal(answer.proposed_action)
        seat = answer.actor.seat
        self.state.joint_answers.append(JointAnswer(
            decision=proposal.decision, version=proposal.version, seat=seat, view=answer.view,
            comments=answer.comments, by=answer.actor.name, on=self.clock.today(), user_id=answer.actor.user_id))
        step.settle.append(self.steps.done(f"joint:{proposal.decision}:v{proposal.version}:{seat}", answer.view))
        if answer.view == "disagree":
            self.settle(proposal, "not_agreed", step, f"{SEAT_NAMES[seat]} disagrees: {answer.comments}")
            return False
        if self._agreed(proposal) != set(Seat):
            return False
        self.settle(proposal, "agreed", step, "agreed by the three partners")
        self.decisions[proposal.decision].apply(self._proposed(proposal), step, documents)
        return True

    def agreed_by(self, name: str) -> str:
        """Who agreed the last agreed proposal of ``name``, for records and documents."""
        proposal = next((p for p in reversed(self.state.joint_proposals)
                         if p.decision == name and p.status == "agreed"), None)
        if proposal is None:
            return ""
        answers = [a for a in self.state.joint_answers if a.decision == name and a.version == proposal.version]
        return "; ".join(f"{SEAT_NAMES[a.seat]} ({a.by})" for a in answers)

    def outstanding_seats(self, proposal: JointProposal) -> list[Seat]:
        return [s for s in Seat if s not in self._answered(proposal)]

    def _proposed(self, proposal: JointProposal) -> Action:
        return self.decisions[proposal.decision].model.model_validate(proposal.action)

    def _answered(self, proposal: JointProposal) -> set[Seat]:
        return {a.seat for a in self.state.joint_answers
                if a.decision == proposal.decision and a.version == proposal.version}

    def _agreed(self, proposal: JointProposal) -> set[Seat]:
        return {a.seat for a in self.state.joint_answers
                if a.decision == proposal.decision and a.version == proposal.version and a.view == "agree"}

    def settle(self, proposal: JointProposal, status: str, step: CaseStep, why: str) -> None:
        proposal.status, proposal.settled_on = status, self.clock.today()
        step.settle.append(self.steps.cancel(f"joint:{proposal.decision}:v{proposal.version}:", why))
