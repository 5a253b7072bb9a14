"""The working-day calendar: Monday to Friday, less England and Wales bank holidays, less closure days.

Pure and deterministic (no I/O, no clock). A case counts on its own table of bank holidays, fetched once by
the ``working_calendar`` activity when it starts (a recorded result: a newer ``holidays`` package, or a one-off
bank holiday announced later, never changes how its history replays) and extended when the case outlives it.
Cases started before that count on the table built here at import from ``holidays`` (pinned exactly), as they
ran. Statutory time limits are counted with it ("within 15 working days of ...").
"""

from __future__ import annotations

import calendar as _stdlib_calendar
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import holidays

TABLE_YEARS = range(2015, 2061)


def _weekday_bank_holidays(years) -> dict[int, dict[date, str]]:
    found = holidays.country_holidays("GB", subdiv="ENG", years=years, categories=("public",))
    table: dict[int, dict[date, str]] = {year: {} for year in years}
    for day, name in found.items():
        if day.weekday() < 5:
            table[day.year][day] = name
    return table


# Built once when this module is imported, outside the workflow sandbox: `holidays` reads its
# translation files, which a workflow may not do. Workflows only ever read this table.
_TABLE = _weekday_bank_holidays(TABLE_YEARS)


def weekday_bank_holidays_between(first: date, last: date) -> dict[date, str]:
    """England and Wales bank holidays on weekdays from ``first`` to ``last``, from the ``holidays`` package (for
    the ``working_calendar`` activity; never called by workflow code)."""
    years = range(first.year, last.year + 1)
    table = _TABLE if all(year in _TABLE for year in years) else _weekday_bank_holidays(years)
    return {day: name for year in years for day, name in table[year].items() if first <= day <= last}


def bank_holidays(year: int) -> dict[date, str]:
    """England and Wales bank holidays of ``year`` that fall on weekdays (substitute and one-off days
    included)."""
    if year not in _TABLE:
        raise ValueError(f"the working-day calendar covers {TABLE_YEARS.start}-{TABLE_YEARS.stop - 1}, not {year}")
    return _TABLE[year]


@dataclass(frozen=True)
class WorkingDayCalendar:
    """Working days for one partnership; ``closure_days`` are the extra days it adds.

    ``bank_holiday_table`` is a case's own table, valid from ``covers[0]`` to ``covers[1]``; without one, the
    table built at import is used. ``added_bank_holidays`` are one-off bank holidays added since (by name).
    """

    closure_days: frozenset[date] = field(default_factory=frozenset)
    bank_holiday_table: Mapping[date, str] | None = field(default=None, compare=False)
    covers: tuple[date, date] | None = None
    added_bank_holidays: Mapping[date, str] = field(default_factory=dict, compare=False)

    def bank_holiday(self, day: date) -> str | None:
        if day in self.added_bank_holidays:
            return self.added_bank_holidays[day]
        if self.bank_holiday_table is None or (self.covers and not self.covers[0] <= day <= self.covers[1]):
            # No table of the case's own, or a day outside it (a date typed years away, before the case extends
            # its calendar): the table built at import answers rather than leaving the case stuck.
            return bank_holidays(day.year).get(day)
        return self.bank_holiday_table.get(day)

    def closed_because(self, day: date) -> str | None:
        """Why ``day`` is not a working day, or None if it is one."""
        if day.weekday() >= 5:
            return "weekend"
        holiday = self.bank_holiday(day)
        if holiday:
            return f"bank holiday: {holiday}"
        if day in self.closure_days:
            return "partnership closure day"
        return None

    def is_working_day(self, day: date) -> bool:
        return self.closed_because(day) is None

    def add_working_days(self, start: date, days: int) -> date:
        """The ``days``-th working day after ``start`` (``start`` itself is day 0 and not counted).

        ``days`` may be negative to count back. With ``days == 0`` the answer is ``start`` when it is a
        working day, otherwise the next working day.
        """
        step = 1 if days >= 0 else -1
        remaining = abs(days)
        current = start
        if remaining == 0:
            while not self.is_working_day(current):
                current += timedelta(days=1)
            return current
        while remaining:
            current += timedelta(days=step)
            if self.is_working_day(current):
                remaining -= 1
        return current

    def working_days_between(self, start: date, end: date) -> int:
        """Working days after ``start`` up to and including ``end``; negative when ``end`` is earlier.

        ``working_days_between(today, due)`` is the number of working days left: 0 means due today,
        -2 means two working days overdue.
        """
        if end == start:
            return 0
        sign = 1 if end > start else -1
        low, high = (start, end) if sign == 1 else (end, start)
        count = 0
        current = low
        while current < high:
            current += timedelta(days=1)
            if self.is_working_day(current):
                count += 1
        return sign * count


def add_months(start: date, months: int) -> date:
    """The same day ``months`` later, clipped to the month's end (31 Aug + 6 months = 28/29 Feb)."""
    month_index = start.month - 1 + months
    year = start.year + month_index // 12
    month = month_index % 12 + 1
    last_day = _stdlib_calendar.monthrange(year, month)[1]
    return date(year, month, min(start.day, last_day))


def _last_sunday(year: int, month: int) -> date:
    last = date(year, month, _stdlib_calendar.monthrange(year, month)[1])
    return last - timedelta(days=(last.weekday() - 6) % 7)


def london_offset(moment_utc: datetime) -> timedelta:
    """UK civil time offset at a UTC moment: BST (+1h) from 01:00 UTC on the last Sunday of March to
    01:00 UTC on the last Sunday of October. Written out because zoneinfo reads files, which the
    workflow sandbox forbids."""
    year = moment_utc.year
    start = datetime.combine(_last_sunday(year, 3), time(1), tzinfo=UTC)
    end = datetime.combine(_last_sunday(year, 10), time(1), tzinfo=UTC)
    return timedelta(hours=1) if start <= moment_utc.astimezone(UTC) < end else timedelta(0)


def london_date(moment_utc: datetime) -> date:
    """The date in England at a UTC moment (what 'today' means for a deadline)."""
    return (moment_utc.astimezone(UTC) + london_offset(moment_utc)).date()


def london_moment(day: date, hour: int) -> datetime:
    """The UTC moment of ``hour``:00 London time on ``day``."""
    naive_utc = datetime.combine(day, time(hour), tzinfo=UTC)
    return naive_utc - london_offset(naive_utc - timedelta(hours=1))
