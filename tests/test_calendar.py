"""The working-day calendar: weekends, England and Wales bank holidays (with substitute and one-off
days), partnership closure days, and England's clock."""

from datetime import UTC, date, datetime

import pytest

from engine.calendar import WorkingDayCalendar, add_months, bank_holidays, london_date, london_moment

CAL = WorkingDayCalendar()


def test_christmas_and_new_year_2026_with_substitute_boxing_day():
    # Fri 25 Dec 2026 Christmas, Sat 26 Boxing Day -> substitute Mon 28 Dec, Fri 1 Jan 2027.
    assert CAL.closed_because(date(2026, 12, 25)) == "bank holiday: Christmas Day"
    assert "Boxing Day" in CAL.closed_because(date(2026, 12, 28))
    assert CAL.is_working_day(date(2026, 12, 29))
    # 5 working days from Wed 23 Dec: Thu 24, Tue 29, Wed 30, Thu 31, Mon 4 Jan.
    assert CAL.add_working_days(date(2026, 12, 23), 5) == date(2027, 1, 4)


def test_christmas_2027_both_days_substituted():
    # Sat 25 and Sun 26 Dec 2027 -> Mon 27 and Tue 28 are bank holidays.
    assert not CAL.is_working_day(date(2027, 12, 27))
    assert not CAL.is_working_day(date(2027, 12, 28))
    assert CAL.add_working_days(date(2027, 12, 24), 1) == date(2027, 12, 29)


def test_easter_2027():
    assert CAL.closed_because(date(2027, 3, 26)) == "bank holiday: Good Friday"
    assert CAL.closed_because(date(2027, 3, 29)) == "bank holiday: Easter Monday"
    # 15 working days from Mon 15 Mar 2027 skips Good Friday and Easter Monday: Wed 7 Apr.
    assert CAL.add_working_days(date(2027, 3, 15), 15) == date(2027, 4, 7)


def test_one_off_bank_holidays_count():
    assert "Coronation" in CAL.closed_because(date(2023, 5, 8))
    assert "State Funeral" in CAL.closed_because(date(2022, 9, 19))
    assert date(2022, 6, 3) in bank_holidays(2022)  # Platinum Jubilee


def test_closure_days_are_not_working_days():
    cal = WorkingDayCalendar(frozenset({date(2026, 12, 24)}))
    assert cal.closed_because(date(2026, 12, 24)) == "partnership closure day"
    assert cal.add_working_days(date(2026, 12, 23), 1) == date(2026, 12, 29)


def test_counting_between_days():
    assert CAL.working_days_between(date(2026, 11, 23), date(2026, 11, 23)) == 0
    assert CAL.working_days_between(date(2026, 11, 20), date(2026, 11, 23)) == 1  # Fri -> Mon
    assert CAL.working_days_between(date(2026, 11, 25), date(2026, 11, 23)) == -2  # two days overdue
    start = date(2026, 12, 18)
    assert CAL.working_days_between(start, CAL.add_working_days(start, 15)) == 15


def test_zero_days_moves_to_a_working_day():
    assert CAL.add_working_days(date(2026, 11, 21), 0) == date(2026, 11, 23)  # Saturday -> Monday
    assert CAL.add_working_days(date(2026, 11, 20), -1) == date(2026, 11, 19)


def test_add_months_clips_to_month_end():
    assert add_months(date(2026, 8, 31), 6) == date(2027, 2, 28)
    assert add_months(date(2027, 8, 31), 6) == date(2028, 2, 29)
    assert add_months(date(2026, 11, 22), 12) == date(2027, 11, 22)


def test_england_clock_follows_british_summer_time():
    assert london_date(datetime(2026, 6, 30, 23, 30, tzinfo=UTC)) == date(2026, 7, 1)
    assert london_date(datetime(2026, 12, 31, 23, 30, tzinfo=UTC)) == date(2026, 12, 31)
    assert london_moment(date(2026, 7, 1), 8) == datetime(2026, 7, 1, 7, tzinfo=UTC)
    assert london_moment(date(2026, 12, 1), 8) == datetime(2026, 12, 1, 8, tzinfo=UTC)
    # Clocks change at 01:00 UTC on the last Sunday of March and October.
    assert london_moment(date(2026, 3, 29), 8) == datetime(2026, 3, 29, 7, tzinfo=UTC)
    assert london_moment(date(2026, 10, 25), 8) == datetime(2026, 10, 25, 8, tzinfo=UTC)


def test_years_outside_the_table_are_refused():
    with pytest.raises(ValueError, match="covers 2015-2060"):
        bank_holidays(2061)
