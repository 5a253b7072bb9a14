"""The path of every action a case workflow accepts: sealed, allowed, applied, committed.

Each ``@workflow.update`` validator calls ``validate`` (the seal, then ``check``); each handler calls ``act``,
which re-checks under the lock (the state may have moved since the validator ran), lets the workflow apply the
change and gather its effects, and commits them as one step with its audit row.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import TYPE_CHECKING, NamedTuple

from temporalio import workflow

from engine.clock import DeadlineClock
from engine.steps import Steps, reject, require_sealed

with workflow.unsafe.imports_passed_through():
    from engine.models import Action, AuditEntry, CaseStep, DocumentRequest, ProcessState
    from engine.vocabulary import Role, Stage

if TYPE_CHECKING:
    from engine.joint_decision import JointDecisions

Apply = Callable[[Action, CaseStep, list[DocumentRequest]], None]


class Rule(NamedTuple):
    """Who may take an action, and at which stages (a workflow's ``RULES``: action name -> Rule)."""

    stages: frozenset[str]
    roles: frozenset[Role]

    @classmethod
    def of(cls, stages, *roles: Role) -> Rule:
        """An action allowed at ``stages`` to ``roles``."""
        return cls(stages=frozenset(stages), roles=frozenset(roles))



class Actions:
    """``rules``: action -> (stages, roles) allowed; ``event_dates``: action -> (the deadline it meets, the field
    holding the day it happened), so a deadline is judged by that day, not the day it was recorded; ``checks``:
    the object (or objects: a workflow's parts) holding each action's own ``_check_<action>``; ``audit_detail``:
    what the audit row keeps of an action (default: its fields)."""

    def __init__(self, rules: Mapping, *, state: ProcessState, steps: Steps, clock: DeadlineClock,
                 checks: object | tuple[object, ...],
                 event_dates: Mapping[str, tuple[str, str]] = {},
                 audit_detail: Callable[[str, Action], dict] | None = None) -> None:
        self.rules, self.event_dates = rules, event_dates
        self.state, self.steps, self.clock = state, steps, clock
        self._checks = checks if isinstance(checks, tuple) else (checks,)
        self.audit_detail = audit_detail or self.fields_for_audit
        self.joint: JointDecisions | None = None  # the workflow's partners' decisions, set once built

    def validate(self, name: str, action: Action) -> None:
        """Every update's validator: the action must come from the service (sealed), then be allowed now."""
        require_sealed(name, action.model_dump(mode="json"))
        self.check(name, action)

    def check(self, name: str, action: Action) -> None:
        """Raise ActionRejected unless ``name`` may be taken now by this actor with these values."""
        stages, roles = self.rules[name]
        stage = self.state.stage
        if stage == Stage.closed:
            self._check_closed(name, stages)
        if stage not in stages:
            allowed = ", ".join(sorted(stages))
            raise reject(f"'{name}' cannot be taken while the case is at stage '{stage}' (allowed at: {allowed}).")
        if action.actor.role not in roles:
            allowed = ", ".join(sorted(roles))
            raise reject(f"A {action.actor.role} may not take '{name}'; it is for: {allowed}.")
        late = [key for key in self.state.unexplained_delays if not self._meets_in_time(name, action, key)]
        if late and not (action.delay_reason or "").strip():
            missed = "; ".join(f"{d.title} (due {d.due.isoformat()})" for d in self.state.deadlines if d.key in late)
            raise reject(f"This case has missed a deadline ({missed}). Give the reason for the delay with this action.")
        self._check_specific(name, action)

    def _check_specific(self, name: str, action: Action) -> None:
        """The action's own checks: its ``_check_<action>``, on whichever of ``checks`` holds it."""
        for holder in self._checks:
            specific = getattr(holder, f"_check_{name}", None)
            if specific is not None:
                specific(action)
                return

    def _check_closed(self, name: str, stages) -> None:
        """A closed case takes nothing, unless the partners may still reopen it (reopen_until) and this action is
        part of that: reopening, answering the proposal, recording the National Panel's late reply."""
        until = self.state.reopen_until
        if until is None or self.clock.today() > until:
            raise reject(f"Case {self.state.reference} is closed; no further actions can be taken.")
        if Stage.closed not in stages:
            raise reject(f"Case {self.state.reference} is closed: until {until.isoformat()} the partners may reopen "
                         "it (reopen_case) or record the National Panel's late reply; nothing else.")

    def recheck(self, name: str, action: Action) -> None:
        """A proposed action's own checks again, when the partners' agreement would apply it: the case may have
        moved on since it was proposed."""
        stages, _ = self.rules[name]
        if self.state.stage not in stages:
            raise reject(f"The proposal to take '{name}' no longer applies: the case is now at stage "
                         f"'{self.state.stage}'.")
        self._check_specific(name, action)

    def _meets_in_time(self, name: str, action: Action, key: str) -> bool:
        """True if this action meets deadline ``key`` with an event date on or before its due date (it was
        done in time and is only being recorded late)."""
        meets, field = self.event_dates.get(name, (None, None))
        found = self.clock.deadline(key)
        return meets == key and found is not None and getattr(action, field) <= found.due

    def not_future(self, day: date, what: str) -> None:
        today = self.clock.today()
        if day > today:
            raise reject(f"The {what} ({day.isoformat()}) is in the future; today is {today.isoformat()}.")

    @staticmethod
    def not_after(day: date, latest: date | None, what: str, later_what: str) -> None:
        if latest is not None and day > latest:
            raise reject(f"The {what} ({day.isoformat()}) is after the {later_what} ({latest.isoformat()}).")

    @staticmethod
    def not_before(day: date, earliest: date | None, what: str, earlier_what: str) -> None:
        if earliest is not None and day < earliest:
            raise reject(f"The {what} ({day.isoformat()}) is before the {earlier_what} ({earliest.isoformat()}).")

    async def act(self, name: str, action: Action, apply: Apply) -> dict:
        """Apply one accepted action and its side effects; returns the state view."""
        await self.steps.until_opened()
        async with self.steps.lock:
            self.check(name, action)  # the state may have moved since the validator ran
            step, documents = self.steps.new_step(name), []
            self.clock.explain_delays(action)
            detail = {}
            if self.joint is not None and self.joint.needed(name, action):
                detail["proposed_to_partners"] = self.joint.propose(name, action, step)
            else:
                apply(action, step, documents)
            step.audit = AuditEntry(actor_id=action.actor.user_id, actor_role=action.actor.role, action=name,
                                    detail={**self.audit_detail(name, action), **detail})
            await self.steps.commit(step, documents)
            self.clock.wake()
            return self.clock.view()

    def fields_for_audit(self, name: str, action: Action) -> dict:
        """What changed, for the audit trail: the action's fields (the actor is recorded apart)."""
        return {"stage": self.state.stage, **action.model_dump(mode="json", exclude={"actor", "seal"})}
