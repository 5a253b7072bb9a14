"""The deadline clock a case workflow holds: its deadlines, its working-day calendar, its reminders and escalations.

Deadlines are counted in working days (statutory clocks on bank holidays only, local milestones on the
partnership's closure days too) or set as dates. The clock sleeps to the next reminder or escalation and issues
what fell due; a worker that was down when one fell due issues it when it comes back, once. A day added to the
calendar while a case runs counts every open working-day deadline again, and the case records why each moved.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol

from temporalio import workflow

from engine.effects import WorkingCalendars
from engine.patches import patched
from engine.steps import Steps, reject, require_sealed

with workflow.unsafe.imports_passed_through():
    from engine.calendar import WorkingDayCalendar, london_date, london_moment
    from engine.case_view import count_working_days_left
    from engine.models import (
        Action,
        AuditEntry,
        CalendarDayAdded,
        CalendarRequest,
        CaseCalendar,
        Deadline,
        DueDateMove,
        Outstanding,
        ProcessState,
    )
    from engine.vocabulary import CalendarDayKind, ClockKind, DeadlineStatus, Role, Stage, TaskKind

REMINDER_HOUR = 8  # London time on the reminder date
CALENDAR_YEARS_AHEAD = 5  # a case's own calendar runs to the end of the fifth year after the one it opens in
CALENDAR_RENEW_BEFORE = timedelta(days=2 * 366)  # and is extended when less than two years of it remain


class ClockRules(Protocol):
    """What the clock reads of a review type's rules in force (the children's ``ProcessRules``, the SAR's own)."""

    closure_days: Sequence[date]
    reminder_working_days_before: int


def owed_by_owner(found: Deadline) -> list[Outstanding]:
    """Who a deadline's reminder goes to unless the workflow knows better: its owner."""
    return [Outstanding(what=found.title, role=found.owner_role, agency=found.owner_agency, seat=found.owner_seat,
                        due=found.due)]


class DeadlineClock:
    """One workflow's deadlines and the calendar they are counted on.

    ``who_owes`` narrows a reminder (e.g. to the agencies that have not returned); ``late_elsewhere`` is lateness
    the workflow knows of besides its own deadlines (a case: its review's); ``also_recount`` moves what else a
    workflow counts in working days when a day is added (a review: its earliest day of publication).
    """

    def __init__(self, state: ProcessState, rules: ClockRules, steps: Steps, *,
                 calendar: CaseCalendar | None = None, added_days: list[CalendarDayAdded] = (),
                 who_owes: Callable[[Deadline], list[Outstanding]] = owed_by_owner,
                 late_elsewhere: Callable[[], bool] = lambda: False,
                 also_recount: Callable[[], list[dict]] = lambda: []) -> None:
        self.state, self.rules, self.steps = state, rules, steps
        # The case's own calendar (see engine/calendar.py); None for cases started before it, which count on
        # the table built at import, as they ran.
        self.case_calendar = calendar
        self.added_days = list(added_days)  # one-off days received while the case runs
        self.who_owes, self._late_elsewhere, self._also_recount = who_owes, late_elsewhere, also_recount
        self.changed = False

    def wake(self) -> None:
        """The deadlines changed: the clock works out its next wake again."""
        self.changed = True

    # ------------------------------------------------------------------ the calendar

    def today(self) -> date:
        return london_date(workflow.now())

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
            closed |= {d.day for d in self.added_days if d.kind == CalendarDayKind.closure_day}
            closed |= set(own.closure_days) if own else set()
        return WorkingDayCalendar(
            frozenset(closed),
            bank_holiday_table=own.bank_holidays if own else None,
            covers=(own.first, own.last) if own else None,
            added_bank_holidays={d.day: d.name for d in self.added_days if d.kind == CalendarDayKind.bank_holiday},
        )

    def working_days_after(self, start: date, days: int) -> date:
        return self.calendar.add_working_days(start, days)

    def statutory_days_after(self, start: date, days: int) -> date:
        """Working days for a statutory clock: bank holidays only; a partnership's closure days never move it."""
        return self.statutory_calendar.add_working_days(start, days)

    async def open_calendar(self, earliest: date) -> None:
        """Cases started from now on count on a calendar recorded in their history (patch "case-calendar")."""
        if patched("case-calendar"):
            last = date(self.today().year + CALENDAR_YEARS_AHEAD, 12, 31)
            self.case_calendar = await self._fetch_calendar(date(earliest.year - 1, 1, 1), last)

    async def _extend_calendar_if_due(self) -> None:
        """A case that outlives its calendar gets the next years' days (the days it has already are kept)."""
        own = self.case_calendar
        if own is None or self.today() < own.last - CALENDAR_RENEW_BEFORE:
            return
        async with self.steps.lock:
            more = await self._fetch_calendar(own.last + timedelta(days=1),
                                              date(self.today().year + CALENDAR_YEARS_AHEAD, 12, 31))
            self.case_calendar = CaseCalendar(first=own.first, last=more.last,
                                              bank_holidays={**more.bank_holidays, **own.bank_holidays},
                                              closure_days={**more.closure_days, **own.closure_days})

    async def _fetch_calendar(self, first: date, last: date) -> CaseCalendar:
        return await self.steps.run_effect(WorkingCalendars.working_calendar, CalendarRequest(first=first, last=last))

    # ------------------------------------------------------------------ a day added while the case runs

    def validate_calendar_day(self, notice: CalendarDayAdded) -> None:
        """The ``add_calendar_day`` update's validator: sealed, the case open, a day still to come."""
        require_sealed("add_calendar_day", notice.model_dump(mode="json"))
        if self.state.stage == Stage.closed:
            raise reject(f"Case {self.state.reference} is closed; its deadlines no longer run.")
        if notice.day <= self.today():
            raise reject(f"{notice.day.isoformat()} is not after today: a day added now can only move deadlines "
                         "still to come.")
        try:
            self.calendar.closed_because(notice.day)
        except ValueError as error:  # beyond every table: the handler must never meet it
            raise reject(str(error)) from None

    async def add_calendar_day(self, notice: CalendarDayAdded) -> list[dict]:
        """A one-off bank holiday or closure day: every open deadline counted in working days is counted again
        (a statutory clock only for a bank holiday), and the case records why each one moved."""
        await self.steps.until_opened()
        async with self.steps.lock:
            known = self.calendar if notice.kind == CalendarDayKind.closure_day else self.statutory_calendar
            if self.state.stage == Stage.closed or not known.is_working_day(notice.day):
                return []  # already not a working day (the case's calendar has it): nothing moves
            self.added_days.append(notice)
            moved = self.recount()
            if moved:
                what = "bank holiday" if notice.kind == CalendarDayKind.bank_holiday else "partnership closure day"
                step = self.steps.new_step(f"calendar:{notice.day.isoformat()}:{notice.kind}")
                step.due_date_moves = self._task_moves(moved)
                step.audit = AuditEntry(
                    actor_id=notice.actor.user_id, actor_role=notice.actor.role, action="calendar_day_added",
                    detail={"day": notice.day.isoformat(), "kind": notice.kind, "name": notice.name,
                            "why": f"{notice.day.isoformat()} is now a {what} ({notice.name})", "moved": moved})
                await self.steps.commit(step)
                self.wake()
            return moved

    def _task_moves(self, moved: list[dict]) -> list[DueDateMove]:
        """The tasks of a moved deadline are due when it is; a date another, unmoved deadline still has is left
        alone (its tasks cannot be told apart by date)."""
        still = {d.due.isoformat() for d in self.state.deadlines if d.status == DeadlineStatus.open}
        prefix = f"{self.steps.workflow_id}:"
        return [DueDateMove(key_prefix=prefix, was=date.fromisoformat(m["from"]), now=date.fromisoformat(m["to"]))
                for m in moved if m["from"] not in still]

    def recount(self) -> list[dict]:
        """Count each open working-day deadline again on today's calendar; returns the ones that moved."""
        moved, before = [], self.rules.reminder_working_days_before
        for found in self.state.deadlines:
            if found.status != DeadlineStatus.open or found.counted_from is None or found.working_days is None:
                continue
            counting = self.statutory_calendar if found.clock == ClockKind.statutory else self.calendar
            due = counting.add_working_days(found.counted_from, found.working_days)
            if due == found.due:
                continue
            moved.append({"deadline": found.key, "title": found.title, "from": found.due.isoformat(),
                          "to": due.isoformat(), "clock": found.clock})
            found.due = due
            sent = found.reminder_dates[:found.reminders_sent]
            upcoming = [self.working_days_after(due, -before)] if before else []
            found.reminder_dates = sent + [day for day in upcoming if day > self.today() and day not in sent]
        return moved + self._also_recount()

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
        self.wake()

    def add_counted_deadline(self, key: str, title: str, start: date, days: int, rule: str, role: Role, *,
                             statutory: bool, **options) -> date:
        """A deadline ``days`` working days after ``start``, kept with how it was counted (so a day added to the
        calendar later moves it as the rules say); returns the due date."""
        due = (self.statutory_days_after if statutory else self.working_days_after)(start, days)
        self.add_deadline(key, title, due, rule, role, **options)
        found = self.deadline(key)
        found.counted_from, found.working_days = start, days
        found.clock = ClockKind.statutory if statutory else ClockKind.local
        return due

    def recount_from(self, key: str, start: date) -> None:
        """A counted deadline whose start was corrected: its due date counted again from ``start`` on its own clock,
        and, if already done, judged again by the day it was done (a notification made in time may now be late)."""
        found = self.deadline(key)
        if found is None or found.working_days is None or found.status == DeadlineStatus.cancelled:
            return
        statutory = found.clock == ClockKind.statutory
        found.due = (self.statutory_days_after if statutory else self.working_days_after)(start, found.working_days)
        found.counted_from = start
        if found.met_on is not None:
            found.status = DeadlineStatus.met if found.met_on <= found.due else DeadlineStatus.missed
            self.state.late = (any(d.status == DeadlineStatus.missed for d in self.state.deadlines)
                               or self._late_elsewhere())
        self.wake()

    def deadline(self, key: str) -> Deadline | None:
        return next((d for d in self.state.deadlines if d.key == key), None)

    def meet(self, key: str, step, on: date | None = None) -> None:
        """The deadline's action is done (late or not) on ``on``, the day it happened (default: today); it is
        judged by that day, and the day it was recorded is kept beside it. Reminders and escalations settle."""
        found = self.deadline(key)
        if found and found.awaited:
            found.met_on, found.recorded_on = on or self.today(), self.today()
            found.status = DeadlineStatus.met if found.met_on <= found.due else DeadlineStatus.missed
            if found.status == DeadlineStatus.met and found.escalated:  # escalated before it was recorded: in time
                self.state.unexplained_delays = [k for k in self.state.unexplained_delays if k != key]
                self.state.late = (any(d.status == DeadlineStatus.missed for d in self.state.deadlines)
                                   or self._late_elsewhere())
            outcome = f"done on {found.met_on.isoformat()}"
            step.settle.append(self.steps.done(f"reminder:{key}:", outcome))
            step.settle.append(self.steps.done(f"escalation:{key}:", outcome))

    def cancel(self, key: str) -> None:
        found = self.deadline(key)
        if found and found.status == DeadlineStatus.open:
            found.status = DeadlineStatus.cancelled

    def cancel_all(self) -> None:
        for found in self.state.deadlines:
            if found.status == DeadlineStatus.open:
                found.status = DeadlineStatus.cancelled
        self.state.unexplained_delays = []

    def explain_delays(self, action: Action) -> None:
        """An action's reason for the delay explains every missed deadline not yet explained."""
        if self.state.unexplained_delays and action.delay_reason:
            for found in self.state.deadlines:
                if found.key in self.state.unexplained_delays:
                    found.delay_reason = action.delay_reason.strip()
            self.state.unexplained_delays = []

    # ------------------------------------------------------------------ running

    @staticmethod
    def escalation_moment(found: Deadline) -> datetime:
        """A deadline is missed when its due day has ended in England."""
        return london_moment(found.due + timedelta(days=1), 0)

    def next_wake(self) -> datetime | None:
        moments = []
        for found in self.state.deadlines:
            if found.status != DeadlineStatus.open:
                continue
            if found.reminders_sent < len(found.reminder_dates):
                moments.append(london_moment(found.reminder_dates[found.reminders_sent], REMINDER_HOUR))
            if not found.escalated:
                moments.append(self.escalation_moment(found))
        if self.case_calendar is not None:  # wake to extend the calendar in time
            moments.append(datetime.combine(self.case_calendar.last - CALENDAR_RENEW_BEFORE, time(), tzinfo=UTC))
        return min(moments) if moments else None

    async def run(self) -> None:
        """Until the case closes: sleep to the next reminder or escalation, then issue what fell due. Cases opened
        since patch "steady-clock" keep one timer until the wake moment itself changes (an action that moves no
        deadline re-arms nothing); earlier cases re-arm on every change, as they ran."""
        if patched("steady-clock"):
            await self._run_steady()
            return
        while self.state.stage != Stage.closed:
            self.changed = False
            await self._extend_calendar_if_due()
            wake = self.next_wake()
            timeout = None if wake is None else max(wake - workflow.now(), timedelta(seconds=1))
            try:
                await workflow.wait_condition(lambda: self.changed or self.state.stage == Stage.closed,
                                              timeout=timeout)
            except TimeoutError:
                pass
            if self.state.stage != Stage.closed:
                await self._fire_due()

    async def _run_steady(self) -> None:
        timer: asyncio.Task | None = None
        armed_for: datetime | None = None
        try:
            while self.state.stage != Stage.closed:
                self.changed = False
                await self._extend_calendar_if_due()
                wake = self.next_wake()
                if wake != armed_for:
                    if timer is not None:
                        timer.cancel()
                    armed_for = wake
                    timer = None if wake is None else asyncio.create_task(
                        asyncio.sleep(max(wake - workflow.now(), timedelta(seconds=1)).total_seconds()))
                await workflow.wait_condition(
                    lambda t=timer: self.changed or self.state.stage == Stage.closed or (t is not None and t.done()))
                if timer is not None and timer.done():
                    timer, armed_for = None, None
                    if self.state.stage != Stage.closed:
                        await self._fire_due()
        finally:
            if timer is not None:
                timer.cancel()

    async def _fire_due(self) -> None:
        async with self.steps.lock:
            now = workflow.now()
            for found in list(self.state.deadlines):
                if found.status != DeadlineStatus.open or self.state.stage == Stage.closed:
                    continue
                if not found.escalated and now >= self.escalation_moment(found):
                    await self._escalate(found)
                    continue
                due_reminders = [d for d in found.reminder_dates if london_moment(d, REMINDER_HOUR) <= now]
                if len(due_reminders) > found.reminders_sent:
                    await self._remind(found, len(due_reminders))

    async def _remind(self, found: Deadline, number: int) -> None:
        found.reminders_sent = number
        step = self.steps.new_step(f"reminder:{found.key}:{number}")
        for owed in self.who_owes(found):
            suffix = owed.agency or owed.seat or owed.role
            step.tasks.append(self.steps.task(
                f"reminder:{found.key}:{suffix}:{number}", TaskKind.reminder, f"Reminder: {found.title}",
                f"Due {found.due.isoformat()} ({found.rule}).", owed.role, due=found.due,
                agency=owed.agency, seat=owed.seat,
            ))
        step.audit = AuditEntry(actor_id=None, actor_role="system", action="reminder",
                                detail={"deadline": found.key, "due": found.due.isoformat(), "number": number})
        await self.steps.commit(step)

    async def _escalate(self, found: Deadline) -> None:
        found.escalated = True
        found.status = DeadlineStatus.missed
        found.reminders_sent = len(found.reminder_dates)
        self.state.late = True
        self.state.escalated = True
        if found.key not in self.state.unexplained_delays and not found.delay_reason:  # an agreed delay is explained
            self.state.unexplained_delays.append(found.key)
        step = self.steps.new_step(f"escalation:{found.key}")
        owing = ", ".join(o.agency or o.seat or o.role for o in self.who_owes(found))
        text = f"Missed: {found.title}, due {found.due.isoformat()} ({found.rule}). Waiting on: {owing}."
        for role in (Role.business_unit, Role.executive):
            step.tasks.append(self.steps.task(
                f"escalation:{found.key}:{role}", TaskKind.escalation, f"Escalation: {found.title} is overdue", text,
                role,
                due=self.today(),
            ))
        step.audit = AuditEntry(actor_id=None, actor_role="system", action="escalation",
                                detail={"deadline": found.key, "due": found.due.isoformat(), "waiting_on": owing})
        await self.steps.commit(step)

    # ------------------------------------------------------------------ views

    def view(self, today: date | None = None) -> dict:
        """The state with working days left on each open deadline (as the service shows it)."""
        return count_working_days_left(self.state.model_dump(mode="json"), self.calendar, today or self.today())
