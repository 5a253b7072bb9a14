"""The three-way sign-off a case workflow holds: the three Executive seats approve a versioned thing, or return it.

Both workflows use it: the rapid review's decision sheet (the partners' decision) and the local CSPR's final
report. Each seat signs the current version once; a return (with comments) ends that version's round and the
thing comes back as a new version; the round is done when all three seats approved the same version.
"""

from __future__ import annotations

from datetime import date

from temporalio import workflow

from engine.clock import DeadlineClock
from engine.steps import Steps, reject

with workflow.unsafe.imports_passed_through():
    from engine.models import CaseStep, Outstanding, ProcessState, SignOff, SignOffRecord
    from engine.vocabulary import SEAT_NAMES, Role, Seat, TaskKind


class ThreeWaySignOff:
    """The sign-off of one kind of thing: ``action`` is the update's name (and its tasks' key), ``thing`` what is
    signed ("decision sheet"), ``title`` how a task names it, ``returned_to`` whom a return goes back to."""

    def __init__(self, state: ProcessState, steps: Steps, clock: DeadlineClock, *, action: str, thing: str,
                 title: str, returned_to: str = "") -> None:
        self.state, self.steps, self.clock = state, steps, clock
        self.action, self.thing, self.title, self.returned_to = action, thing, title, returned_to

    def check(self, action: SignOff, version: int) -> None:
        """One executive per seat, the current version, once; a return says what must change."""
        if action.actor.seat is None:
            raise reject("Only an Executive member holding a seat (la, icb or police) can sign off.")
        if action.version != version:
            raise reject(f"You are signing version {action.version}, but the current {self.thing} is version "
                         f"{version}.")
        if any(s.seat == action.actor.seat and s.version == version for s in self.state.sign_offs):
            raise reject(f"The {action.actor.seat} seat has already signed off version {version} of the {self.thing}.")
        if action.decision == "return" and not (action.comments or "").strip():
            raise reject("Returning needs comments saying what must change.")

    def ask(self, step: CaseStep, version: int, due: date | None) -> None:
        """A task for each seat to sign this version."""
        for seat in Seat:
            step.tasks.append(self.steps.task(
                f"{self.action}:v{version}:{seat}", TaskKind.sign_off, f"Sign off the {self.title} (version {version})",
                f"{SEAT_NAMES[seat]}: approve the {self.thing}, or return it{self.returned_to} with comments.",
                Role.executive, seat=seat, due=due, action=self.action,
            ))

    def record(self, action: SignOff, step: CaseStep, version: int) -> bool:
        """Record one seat's answer and settle its task; a return cancels the other seats' tasks of this version.
        True when this answer completes the approval of the version by all three seats."""
        seat = action.actor.seat
        self.state.sign_offs.append(SignOffRecord(
            seat=seat, version=version, decision=action.decision, by=action.actor.name, on=self.clock.today(),
            comments=action.comments, capacity=action.capacity,
        ))
        step.settle.append(self.steps.done(f"{self.action}:v{version}:{seat}", action.decision))
        if action.decision == "return":
            step.settle.append(self.steps.cancel(f"{self.action}:v{version}:",
                                                 f"returned by the {seat} seat"))
            return False
        return self.approved(version) == set(Seat)

    def send_back(self, step: CaseStep, action: SignOff, *, to_stage: str, task_key: str, title: str, role: Role,
                  next_action: str, due: date | None = None) -> None:
        """A returned version goes back to its stage, with a task for whoever revises it that says who returned it
        and why (the returning seat's comments)."""
        self.steps.move_to(step, to_stage, action.actor, self.action)
        step.tasks.append(self.steps.task(
            task_key, TaskKind.action, title, f"Returned by the {SEAT_NAMES[action.actor.seat]}: {action.comments}",
            role, due=due, action=next_action))

    def approved(self, version: int) -> set[Seat]:
        return {s.seat for s in self.state.sign_offs if s.version == version and s.decision == "approve"}

    def outstanding(self, what: str, version: int, due: date | None) -> list[Outstanding]:
        """The seats still to approve this version."""
        signed = self.approved(version)
        return [Outstanding(what=what, role=Role.executive, seat=s, due=due) for s in Seat if s not in signed]
