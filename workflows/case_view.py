"""A case's state as its state query answers it, and as the read model keeps it with each step.

The workflow stores its state with every step (``StoredState``, workflows/models.py); the service answers a case's
state from that row instead of querying the workflow. What depends on the day it is read (working days left on each
open deadline) is not stored but counted at read time by ``count_working_days_left``, the one function the
workflow's query counts with too, on the calendar the step stored; what the workflow changes after the step without
another one (documents leaving preparation once in the register) is stored as the documents' keys. Deterministic:
imported by workflows and by the service alike."""

from __future__ import annotations

from datetime import date

from workflows.calendar import WorkingDayCalendar
from workflows.models import Deadline, StoredCalendar, StoredState


def stored_calendar(calendar: WorkingDayCalendar) -> StoredCalendar:
    table = calendar.bank_holiday_table
    return StoredCalendar(closure_days=sorted(calendar.closure_days),
                          bank_holidays=None if table is None else sorted(table), covers=calendar.covers,
                          added_bank_holidays=sorted(calendar.added_bank_holidays))


def calendar_of(stored: StoredCalendar) -> WorkingDayCalendar:
    named = dict.fromkeys  # a bank holiday's name is never counted: any text marks the day closed
    return WorkingDayCalendar(
        frozenset(stored.closure_days),
        bank_holiday_table=None if stored.bank_holidays is None else named(stored.bank_holidays, "bank holiday"),
        covers=stored.covers, added_bank_holidays=named(stored.added_bank_holidays, "bank holiday"))


def count_working_days_left(view: dict, calendar: WorkingDayCalendar, today: date) -> dict:
    """Fill in the working days left from ``today`` on each deadline still awaited (in place; returns ``view``)."""
    for entry in view.get("deadlines", []):
        deadline = Deadline.model_validate(entry)
        if deadline.awaited:
            entry["working_days_left"] = calendar.working_days_between(today, deadline.due)
    return view


def state_as_read(stored: StoredState, today: date, issued_keys: set[str]) -> dict:
    """What the state query would answer on ``today``, from the stored state (changed in place) and the keys of
    the documents already in the register."""
    view = count_working_days_left(stored.state, calendar_of(stored.calendar), today)
    view["documents_in_preparation"] = [d.kind for d in stored.pending_documents if d.key not in issued_keys]
    return view
