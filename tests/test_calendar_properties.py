"""Properties of the working-day calendar, checked by Hypothesis over 2015-2060 against an independent oracle
(the `holidays` package asked day by day, not our precomputed table)."""

from datetime import date, timedelta

import holidays
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.calendar import WorkingDayCalendar

ENGLAND = holidays.country_holidays("GB", subdiv="ENG", years=range(2015, 2061), categories=("public",))
days = st.dates(min_value=date(2015, 1, 1), max_value=date(2059, 6, 30))
counts = st.integers(min_value=1, max_value=300)
closures = st.frozensets(st.dates(min_value=date(2015, 1, 1), max_value=date(2060, 12, 31)), max_size=20)


def oracle_working_day(day: date, closed=frozenset()) -> bool:
    return day.weekday() < 5 and day not in ENGLAND and day not in closed


@settings(max_examples=300, deadline=None)
@given(days, counts, closures)
def test_adding_n_working_days_lands_on_a_working_day_n_days_on(start, n, closed):
    calendar = WorkingDayCalendar(closed)
    end = calendar.add_working_days(start, n)
    assert oracle_working_day(end, closed), f"{end} is a weekend, bank holiday or closure day"
    assert calendar.working_days_between(start, end) == n
    assert sum(oracle_working_day(start + timedelta(days=i), closed) for i in range(1, (end - start).days + 1)) == n


@settings(max_examples=300, deadline=None)
@given(days, counts)
def test_counting_back_returns_to_a_working_day(start, n):
    calendar = WorkingDayCalendar()
    if not oracle_working_day(start):
        start = calendar.add_working_days(start, 0)
    assert calendar.add_working_days(calendar.add_working_days(start, n), -n) == start


@settings(max_examples=300, deadline=None)
@given(days, days, days)
def test_counting_between_days_adds_up_and_reverses(a, b, c):
    calendar = WorkingDayCalendar()
    assert calendar.working_days_between(a, b) == -calendar.working_days_between(b, a)
    assert calendar.working_days_between(a, b) + calendar.working_days_between(b, c) == \
        calendar.working_days_between(a, c)
