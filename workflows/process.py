"""What both case workflows share: action checks, the deadline clock, and committing side effects.

A workflow subclasses ``Process`` and declares ``RULES`` (action -> stages and roles allowed). Each
``@workflow.update`` validator calls ``check``; each handler calls ``act``, which re-checks under the
lock, applies the change to the state, and sends every side effect of the step to one activity
(``apply_case_step``: one database transaction, idempotent by the step key) and documents to
``issue_document``. The clock wakes at the next reminder or escalation; a worker that was down when
one fell due issues it when it comes back, once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

from workflows.effects import CaseSteps, Documents, WorkingCalendars

# Passed through the sandbox: pure data and declarations only (and the sealing keys the worker set); the logic
# here and in the workflows is sandboxed, so a clock, file or random call in it fails its workflow task.
with workflow.unsafe.imports_passed_through():
    from workflows import authenticity  # passed through: it holds the sealing keys the worker set
    from workflows.calendar import WorkingDayCalendar, london_date, london_moment
    from workflows.models import (
        Action,
        Actor,
        AuditEntry,
        CalendarDayAdded,
        CalendarRequest,
        CaseCalendar,
        CaseStep,
        Deadline,
        DocumentRequest,
        DueDateMove,
        Outstanding,
        ProcessState,
        StageChange,
        TaskSettlement,
        TaskSpec,
    )
    from workflows.rules import ProcessRules
    from workflows.vocabulary import Role, Stage

REMINDER_HOUR = 8  # London time on the reminder date
CALENDAR_YEARS_AHEAD = 5  # a case's own calendar runs to the end of the fifth year after the one it opens in
CALENDAR_RENEW_BEFORE = timedelta(days=2 * 366)  # and is extended when less than two years of it remain
ACTIVITY_TIMEOUT = timedelta(seconds=60)
# Retried until the step succeeds: a step's effects are never dropped, and never doubled (the activity is
# idempotent by step key). No maximum of attempts: what fails a step (the database down, a full disk, a template
# bug) is mended by an operator or a new build, and the step must then go through without anyone re-entering the
# action; the guard in service/worker.py alerts people after a few attempts. Failures no retry can mend are not
# retried: a refusal, a value the database can never take, a step of a run that does not own the case.
EFFECT_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1),
                           non_retryable_error_types=["ActionRejected", "DataError", "ForeignRun", "NotSealed"])


class ActionRejected(ApplicationError):
    """An action that may not be taken now, by this person, with these values; the message says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message, type="ActionRejected", non_retryable=True)


def reject(message: str) -> ActionRejected:
    return ActionRejected(message)


class Process:
    """Base of RapidReviewWorkflow and PracticeReviewWorkflow (no Temporal decorators here)."""

    RULES: dict[str, tuple[frozenset[str], frozenset[Role]]] = {}
    # action -> (deadline it meets, the field holding the date it happened): a deadline is met or missed by
    # that date, not by the day someone recorded it.
    EVENT_DATES: dict[str, tuple[str, str]] = {}
    state: ProcessState
    rules: ProcessRules
    # The case's own calendar (see workflows/calendar.py); None for cases started before it, which count on the
    # table built at import, as they ran.
    case_calendar: CaseCalendar | None = None

    def _init_process(self) -> None:
        self._lock = asyncio.Lock()
        self._clock_changed = False
        self.opened = False  # the run holds the lock for its first step; an update that came earlier waits for it
        self.added_days: list[CalendarDayAdded] = []  # one-off days received while the case runs

    # ------------------------------------------------------------------ time

    @property
    def calendar(self) -> WorkingDayCalendar:
        """The partnership's working days: bank holidays and its own closure days (local milestones)."""
        return self._working_days(closure_days=True)

    @property
    def statutory_calendar(self) -> WorkingDayCalendar:
        """Bank holidays only: a partnership's closure days never move a statutory clock."""
        return self._working_days(closure_days=False)

    def _working_days(self, closure_days: bool) -> WorkingDayCalendar:
        own = self.case_calendar
        closed = set(self.rules.closure_days) if closure_days else set()
        if closure_days:
            closed |= {d.day for d in self.added_days if d.kind == "closure_day"}
            closed |= set(own.closure_days) if own else set()
        return WorkingDayCalendar(
            frozenset(closed),
            bank_holiday_table=own.bank_holidays if own else None,
            covers=(own.first, own.last) if own else None,
            added_bank_holidays={d.day: d.name for d in self.added_days if d.kind == "bank_holiday"},
        )

    def statutory_days_after(self, start: date, days: int) -> date:
        """Working days for a statutory clock: bank holidays only; a partnership's closure days never move it."""
        return self.statutory_calendar.add_working_days(start, days)

    async def open_calendar(self, earliest: date) -> None:
        """Cases started from now on count on a calendar recorded in their history (patch "case-calendar")."""
        if workflow.patched("case-calendar"):
            last = date(self.today().year + CALENDAR_YEARS_AHEAD, 12, 31)
            self.case_calendar = await self._fetch_calendar(date(earliest.year - 1, 1, 1), last)

    async def extend_calendar_if_due(self) -> None:
        """A case that outlives its calendar gets the next years' days (the days it has already are kept)."""
        own = self.case_calendar
        if own is None or self.today() < own.last - CALENDAR_RENEW_BEFORE:
            return
        async with self._lock:
            more = await self._fetch_calendar(own.last + timedelta(days=1),
                                              date(self.today().year + CALENDAR_YEARS_AHEAD, 12, 31))
            self.case_calendar = CaseCalendar(first=own.first, last=more.last,
                                              bank_holidays={**more.bank_holidays, **own.bank_holidays},
                                              closure_days={**more.closure_days, **own.closure_days})

    async def _fetch_calendar(self, first: date, last: date) -> CaseCalendar:
        return await workflow.execute_activity_method(
            WorkingCalendars.working_calendar, CalendarRequest(first=first, last=last),
            start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=EFFECT_RETRY)

    def validate_calendar_day(self, notice: CalendarDayAdded) -> None:
        update = workflow.current_update_info()
        fields = notice.model_dump(mode="json")
        if update is None or not authenticity.is_sealed(workflow.info().workflow_id, "add_calendar_day", update.id,
                                                        fields):
            raise reject("'add_calendar_day' was not sent by the Rapid Review service (no valid seal); it is refused.")
        if self.state.stage == Stage.closed:
            raise reject(f"Case {self.state.reference} is closed; its deadlines no longer run.")
        if notice.day <= self.today():
            raise reject(f"{notice.day.isoformat()} is not after today: a day added now can only move deadlines "
                         "still to come.")
        try:
            self.calendar.closed_because(notice.day)
        except ValueError as error:  # beyond every table: the handler must never meet it
            raise reject(str(error)) from None

    async def receive_calendar_day(self, notice: CalendarDayAdded) -> list[dict]:
        """A one-off bank holiday or closure day: every open deadline counted in working days is counted again
        (a statutory clock only for a bank holiday), and the case records why each one moved."""
        await self.until_opened()
        async with self._lock:
            known = self.calendar if notice.kind == "closure_day" else self.statutory_calendar
            if self.state.stage == Stage.closed or not known.is_working_day(notice.day):
                return []  # already not a working day (the case's calendar has it): nothing moves
            self.added_days.append(notice)
            moved = self.recount_deadlines()
            if moved:
                what = "bank holiday" if notice.kind == "bank_holiday" else "partnership closure day"
                step = self.new_step(f"calendar:{notice.day.isoformat()}:{notice.kind}")
                step.due_date_moves = self._task_moves(moved)
                step.audit = AuditEntry(
                    actor_id=notice.actor.user_id, actor_role=notice.actor.role, action="calendar_day_added",
                    detail={"day": notice.day.isoformat(), "kind": notice.kind, "name": notice.name,
                            "why": f"{notice.day.isoformat()} is now a {what} ({notice.name})", "moved": moved})
                await self.commit(step)
                self._clock_changed = True
            return moved

    def _task_moves(self, moved: list[dict]) -> list[DueDateMove]:
        """The tasks of a moved deadline are due when it is; a date another, unmoved deadline still has is left
        alone (its tasks cannot be told apart by date)."""
        still = {d.due.isoformat() for d in self.state.deadlines if d.status == "open"}
        prefix = f"{workflow.info().workflow_id}:"
        return [DueDateMove(key_prefix=prefix, was=date.fromisoformat(m["from"]), now=date.fromisoformat(m["to"]))
                for m in moved if m["from"] not in still]

    def recount_deadlines(self) -> list[dict]:
        """Count each open working-day deadline again on today's calendar; returns the ones that moved."""
        moved, before = [], self.rules.reminder_working_days_before
        for found in self.state.deadlines:
            if found.status != "open" or found.counted_from is None or found.working_days is None:
                continue
            counting = self.statutory_calendar if found.clock == "statutory" else self.calendar
            due = counting.add_working_days(found.counted_from, found.working_days)
            if due == found.due:
                continue
            moved.append({"deadline": found.key, "title": found.title, "from": found.due.isoformat(),
                          "to": due.isoformat(), "clock": found.clock})
            found.due = due
            sent = found.reminder_dates[:found.reminders_sent]
            upcoming = [self.working_days_after(due, -before)] if before else []
            found.reminder_dates = sent + [day for day in upcoming if day > self.today() and day not in sent]
        return moved

    def add_counted_deadline(self, key: str, title: str, start: date, days: int, rule: str, role: Role, *,
                             statutory: bool, **options) -> date:
        """A deadline ``days`` working days after ``start``, kept with how it was counted (so a day added to the
        calendar later moves it as the rules say); returns the due date."""
        due = (self.statutory_days_after if statutory else self.working_days_after)(start, days)
        self.add_deadline(key, title, due, rule, role, **options)
        found = self.deadline(key)
        found.counted_from, found.working_days = start, days
        found.clock = "statutory" if statutory else "local"
        return due

    def today(self) -> date:
        return london_date(workflow.now())

    def working_days_after(self, start: date, days: int) -> date:
        return self.calendar.add_working_days(start, days)

    # ------------------------------------------------------------------ checks

    def validate(self, name: str, action: Action) -> None:
        """Every update's validator: the action must come from the service (sealed), then be allowed now."""
        update = workflow.current_update_info()
        fields = action.model_dump(mode="json")
        if update is None or not authenticity.is_sealed(workflow.info().workflow_id, name, update.id, fields):
            raise reject(f"'{name}' was not sent by the Rapid Review service (no valid seal); it is refused.")
        self.check(name, action)

    def check(self, name: str, action: Action) -> None:
        """Raise ActionRejected unless ``name`` may be taken now by this actor with these values."""
        stages, roles = self.rule_of(name)
        stage = self.state.stage
        if stage == Stage.closed:
            raise reject(f"Case {self.state.reference} is closed; no further actions can be taken.")
        if stage not in stages:
            allowed = ", ".join(sorted(stages))
            raise reject(f"'{name}' cannot be taken while the case is at stage '{stage}' (allowed at: {allowed}).")
        if action.actor.role not in roles:
            allowed = ", ".join(sorted(roles))
            raise reject(f"A {action.actor.role} may not take '{name}'; it is for: {allowed}.")
        late = [key for key in self.state.unexplained_delays if not self.meets_in_time(name, action, key)]
        if late and not (action.delay_reason or "").strip():
            missed = "; ".join(f"{d.title} (due {d.due.isoformat()})" for d in self.state.deadlines if d.key in late)
            raise reject(f"This case has missed a deadline ({missed}). Give the reason for the delay with this action.")
        specific = getattr(self, f"_check_{name}", None)
        if specific is not None:
            specific(action)

    def rule_of(self, name: str) -> tuple[frozenset[str], frozenset[Role]]:
        """The stages and roles of an action (a workflow may keep retired actions that old cases replay)."""
        return self.RULES[name]

    def meets_in_time(self, name: str, action: Action, key: str) -> bool:
        """True if this action meets deadline ``key`` with an event date on or before its due date (it was
        done in time and is only being recorded late)."""
        meets, field = self.EVENT_DATES.get(name, (None, None))
        found = self.deadline(key)
        return meets == key and found is not None and getattr(action, field) <= found.due

    def check_not_future(self, day: date, what: str) -> None:
        if day > self.today():
            raise reject(f"The {what} ({day.isoformat()}) is in the future; today is {self.today().isoformat()}.")

    def check_not_before(self, day: date, earliest: date | None, what: str, earlier_what: str) -> None:
        if earliest is not None and day < earliest:
            raise reject(f"The {what} ({day.isoformat()}) is before the {earlier_what} ({earliest.isoformat()}).")

    def check_three_way(self, action, version: int, thing: str) -> None:
        """The rule for every three-way sign-off: one executive per seat, the current version, once."""
        if action.actor.seat is None:
            raise reject("Only an Executive member holding a seat (la, icb or police) can sign off.")
        if action.version != version:
            raise reject(f"You are signing version {action.version}, but the current {thing} is version {version}.")
        if any(s.seat == action.actor.seat and s.version == version for s in self.state.sign_offs):
            raise reject(f"The {action.actor.seat} seat has already signed off version {version} of the {thing}.")
        if action.decision == "return" and not (action.comments or "").strip():
            raise reject("Returning needs comments saying what must change.")

    # ------------------------------------------------------------------ acting

    async def until_opened(self) -> None:
        """An update that arrived with the start (the first workflow task) waits until the run has taken the lock
        to open the case, then for the lock: it meets the case opened, its calendar and first deadlines in place.
        (A satisfied wait is skipped, so every later update replays exactly as it ran.)"""
        if not self.opened:
            await workflow.wait_condition(lambda: self.opened)

    async def act(self, name: str, action: Action, apply: Callable[[Action, CaseStep, list], None]) -> dict:
        """Apply one accepted action and its side effects; returns the state view."""
        await self.until_opened()
        async with self._lock:
            self.check(name, action)  # the state may have moved since the validator ran
            step, documents = self.new_step(name), []
            self._explain_delays(action)
            apply(action, step, documents)
            step.audit = AuditEntry(
                actor_id=action.actor.user_id,
                actor_role=action.actor.role,
                action=name,
                detail=self.audit_detail(name, action),
            )
            await self.commit(step, documents)
            self._clock_changed = True
            return self.view()

    def audit_detail(self, name: str, action: Action) -> dict:
        """What changed, for the audit trail: the action's fields (the actor is recorded apart)."""
        return {"stage": self.state.stage, **action.model_dump(mode="json", exclude={"actor", "seal"})}

    def new_step(self, name: str) -> CaseStep:
        self.state.step += 1
        return CaseStep(
            key=f"{workflow.info().workflow_id}:{self.state.step}:{name}",
            case_reference=self.case_reference,
            at=workflow.now(),
        )

    async def commit(self, step: CaseStep, documents: list[DocumentRequest] = ()) -> None:
        self.refresh_outstanding()
        step.snapshot = self.snapshot()
        step.review = self.review_snapshot()
        await workflow.execute_activity_method(
            CaseSteps.apply_case_step, step, start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=EFFECT_RETRY
        )
        for document in documents:
            await workflow.execute_activity_method(
                Documents.issue_document, document, start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=EFFECT_RETRY
            )

    def move_to(self, stage: str, actor: Actor | None, action: str) -> None:
        self.state.stage = stage
        self.state.stage_history.append(
            StageChange(
                stage=stage,
                at=workflow.now(),
                by=actor.name if actor else "the case clock",
                role=actor.role if actor else "system",
                action=action,
            )
        )

    def document(self, kind: str, issued_by: str, context: dict, version: int = 1) -> DocumentRequest:
        return DocumentRequest(
            key=f"{workflow.info().workflow_id}:{kind}:v{version}",
            kind=kind,
            case_reference=self.case_reference,
            version=version,
            issued_by=issued_by,
            context={"partnership": self.partnership_name, "reference": self.state.reference, **context},
        )

    def task(self, key: str, kind: str, title: str, description: str, role: Role, *, due: date | None = None,
             agency: str | None = None, seat: str | None = None, action: str | None = None) -> TaskSpec:
        return TaskSpec(
            key=f"{workflow.info().workflow_id}:{key}", kind=kind, title=title, description=description,
            assignee_role=role, assignee_agency=agency, assignee_seat=seat, due=due, action=action,
        )

    def settle(self, key_prefix: str, status: str = "done", outcome: str | None = None,
               superseded: bool = False) -> TaskSettlement:
        return TaskSettlement(key_prefix=f"{workflow.info().workflow_id}:{key_prefix}", status=status, outcome=outcome,
                              superseded=superseded)

    # ------------------------------------------------------------------ deadlines

    def add_deadline(self, key: str, title: str, due: date, rule: str, role: Role, *,
                     reminders: list[date] | None = None, agency: str | None = None, seat: str | None = None) -> None:
        if reminders is None:
            before = self.rules.reminder_working_days_before
            reminders = [self.working_days_after(due, -before)] if before else []
        # A reminder date already reached when the deadline is set would only repeat the new task.
        reminders = [day for day in reminders if day > self.today()]
        self.state.deadlines = [d for d in self.state.deadlines if d.key != key]
        self.state.deadlines.append(
            Deadline(key=key, title=title, due=due, rule=rule, owner=title, owner_role=role, owner_agency=agency,
                     owner_seat=seat, reminder_dates=sorted(reminders))
        )
        self._clock_changed = True

    def deadline(self, key: str) -> Deadline | None:
        return next((d for d in self.state.deadlines if d.key == key), None)

    def meet(self, key: str, step: CaseStep, on: date | None = None) -> None:
        """The deadline's action is done (late or not) on ``on``, the day it happened (default: today); it is
        judged by that day, and the day it was recorded is kept beside it. Reminders and escalations settle."""
        found = self.deadline(key)
        if found and found.status in ("open", "missed") and found.met_on is None:
            found.met_on, found.recorded_on = on or self.today(), self.today()
            found.status = "met" if found.met_on <= found.due else "missed"
            if found.status == "met" and found.escalated:  # escalated before it was recorded: it was in time
                self.state.unexplained_delays = [k for k in self.state.unexplained_delays if k != key]
                self.state.late = any(d.status == "missed" for d in self.state.deadlines) or self.late_elsewhere()
            outcome = f"done on {found.met_on.isoformat()}"
            step.settle.append(self.settle(f"reminder:{key}:", "done", outcome))
            step.settle.append(self.settle(f"escalation:{key}:", "done", outcome))

    def cancel_deadline(self, key: str) -> None:
        found = self.deadline(key)
        if found and found.status == "open":
            found.status = "cancelled"

    def cancel_all_deadlines(self) -> None:
        for found in self.state.deadlines:
            if found.status == "open":
                found.status = "cancelled"
        self.state.unexplained_delays = []

    def _explain_delays(self, action: Action) -> None:
        if self.state.unexplained_delays and action.delay_reason:
            for found in self.state.deadlines:
                if found.key in self.state.unexplained_delays:
                    found.delay_reason = action.delay_reason.strip()
            self.state.unexplained_delays = []

    @staticmethod
    def escalation_moment(found: Deadline) -> datetime:
        """A deadline is missed when its due day has ended in England."""
        return london_moment(found.due + timedelta(days=1), 0)

    def next_wake(self) -> datetime | None:
        moments = []
        for found in self.state.deadlines:
            if found.status != "open":
                continue
            if found.reminders_sent < len(found.reminder_dates):
                moments.append(london_moment(found.reminder_dates[found.reminders_sent], REMINDER_HOUR))
            if not found.escalated:
                moments.append(self.escalation_moment(found))
        if self.case_calendar is not None:  # wake to extend the calendar in time
            moments.append(datetime.combine(self.case_calendar.last - CALENDAR_RENEW_BEFORE, time(), tzinfo=UTC))
        return min(moments) if moments else None

    def who_owes(self, found: Deadline) -> list[Outstanding]:
        """Who a reminder goes to; a workflow narrows it (e.g. only the agencies that have not returned)."""
        return [Outstanding(what=found.title, role=found.owner_role, agency=found.owner_agency,
                            seat=found.owner_seat, due=found.due)]

    async def run_clock(self) -> None:
        """Until the case closes: sleep to the next reminder or escalation, then issue what fell due."""
        while self.state.stage != Stage.closed:
            self._clock_changed = False
            await self.extend_calendar_if_due()
            wake = self.next_wake()
            timeout = None if wake is None else max(wake - workflow.now(), timedelta(seconds=1))
            try:
                await workflow.wait_condition(
                    lambda: self._clock_changed or self.state.stage == Stage.closed, timeout=timeout
                )
            except TimeoutError:
                pass
            if self.state.stage != Stage.closed:
                await self.fire_due()

    async def fire_due(self) -> None:
        async with self._lock:
            now = workflow.now()
            for found in list(self.state.deadlines):
                if found.status != "open" or self.state.stage == Stage.closed:
                    continue
                if not found.escalated and now >= self.escalation_moment(found):
                    await self._escalate(found)
                    continue
                due_reminders = [d for d in found.reminder_dates if london_moment(d, REMINDER_HOUR) <= now]
                if len(due_reminders) > found.reminders_sent:
                    await self._remind(found, len(due_reminders))

    async def _remind(self, found: Deadline, number: int) -> None:
        found.reminders_sent = number
        step = self.new_step(f"reminder:{found.key}:{number}")
        for owed in self.who_owes(found):
            suffix = owed.agency or owed.seat or owed.role
            step.tasks.append(self.task(
                f"reminder:{found.key}:{suffix}:{number}", "reminder", f"Reminder: {found.title}",
                f"Due {found.due.isoformat()} ({found.rule}).", owed.role, due=found.due,
                agency=owed.agency, seat=owed.seat,
            ))
        step.audit = AuditEntry(actor_id=None, actor_role="system", action="reminder",
                                detail={"deadline": found.key, "due": found.due.isoformat(), "number": number})
        await self.commit(step)

    async def _escalate(self, found: Deadline) -> None:
        found.escalated = True
        found.status = "missed"
        found.reminders_sent = len(found.reminder_dates)
        self.state.late = True
        self.state.escalated = True
        if found.key not in self.state.unexplained_delays and not found.delay_reason:  # an agreed delay is explained
            self.state.unexplained_delays.append(found.key)
        step = self.new_step(f"escalation:{found.key}")
        owing = ", ".join(o.agency or o.seat or o.role for o in self.who_owes(found))
        text = f"Missed: {found.title}, due {found.due.isoformat()} ({found.rule}). Waiting on: {owing}."
        for role in (Role.business_unit, Role.executive):
            step.tasks.append(self.task(
                f"escalation:{found.key}:{role}", "escalation", f"Escalation: {found.title} is overdue", text, role,
                due=self.today(),
            ))
        step.audit = AuditEntry(actor_id=None, actor_role="system", action="escalation",
                                detail={"deadline": found.key, "due": found.due.isoformat(), "waiting_on": owing})
        await self.commit(step)

    # ------------------------------------------------------------------ views

    def view(self, today: date | None = None) -> dict:
        """The state with working days left on each open deadline (as the service shows it)."""
        today = today or self.today()
        data = self.state.model_copy(deep=True)
        for found in data.deadlines:
            if found.status in ("open", "missed") and found.met_on is None:
                found.working_days_left = self.calendar.working_days_between(today, found.due)
        return data.model_dump(mode="json")

    def late_elsewhere(self) -> bool:
        """Hook: lateness this process knows of besides its own deadlines (a case: its practice review's)."""
        return False

    def refresh_outstanding(self) -> None:
        """Hook: recompute ``state.outstanding`` from the stage."""

    # implemented by each workflow
    case_reference: str
    partnership_name: str

    def snapshot(self):
        raise NotImplementedError

    def review_snapshot(self):
        """The practice review's read-model row (None for the case itself)."""
        return None
