"""A case's calendar travels with it: a one-off bank holiday added while cases run moves exactly the deadlines it
should (statutory and local), a closure day only the partnership's own milestones; each case records why; new cases
find the day in their calendar; and the histories from before and after replay."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from temporalio.worker import Replayer

from engine.calendar import WorkingDayCalendar
from reviews.review_types import REVIEW_TYPES
from service.platform.settings import Settings
from service.platform.temporal import data_converter
from service.platform.worker import WORKFLOW_RUNNER
from tests.cases import CaseDriver, activity_runs
from tests.conftest import TEST_KEY

STATUTORY = {"notification", "rapid_review"}


def due_dates(state: dict) -> dict[str, date]:
    return {d["key"]: date.fromisoformat(d["due"]) for d in state["deadlines"] if d["status"] == "open"}


def recounted(state: dict, calendars: dict[str, WorkingDayCalendar]) -> dict[str, date]:
    """Each open deadline counted again from its start on the calendar of its clock."""
    return {d["key"]: calendars[d["clock"]].add_working_days(date.fromisoformat(d["counted_from"]), d["working_days"])
            for d in state["deadlines"] if d["status"] == "open" and d["counted_from"]}


async def replays(handle) -> None:
    replayer = Replayer(workflows=REVIEW_TYPES.workflows(), workflow_runner=WORKFLOW_RUNNER,
                        data_converter=data_converter(Settings(rapid_review_encryption_key=TEST_KEY)
                                                      .encryption_key_bytes))
    result = await replayer.replay_workflow(await handle.fetch_history(), raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_one_off_bank_holiday_moves_exactly_the_deadlines_it_should(api, case_env, case_worker, engine,
                                                                            demo_passwords):
    in_window, at_referral = CaseDriver(case_env, case_worker, engine), CaseDriver(case_env, case_worker, engine)
    await in_window.to_panel_preparation()
    await at_referral.start()
    await at_referral.act("accept_referral", "bu")  # the CSC lead's task is due with the notification
    before = {d.reference: await d.state() for d in (in_window, at_referral)}
    today = await in_window.today()
    plain = WorkingDayCalendar()
    funeral = plain.add_working_days(today, 3)
    await replays(in_window.handle)  # the history from before the day was added
    was_accept_due = in_window.tasks(action="accept_referral")[0].due_date
    was_notification_due = due_dates(before[at_referral.reference])["notification"]
    assert [t.due_date for t in at_referral.tasks(action="propose_sin_decision")] == [was_notification_due]

    bu, chair = await api.as_user("strategy.manager"), await api.as_user("panel.chair")
    refused = await api.post("/api/calendar-days", headers=chair,
                             json={"day": funeral.isoformat(), "kind": "bank_holiday", "name": "State funeral"})
    assert refused.status_code == 403
    past = await api.post("/api/calendar-days", headers=bu,
                          json={"day": today.isoformat(), "kind": "bank_holiday", "name": "State funeral"})
    assert past.status_code == 422 and "not after today" in past.json()["detail"]
    far = await api.post("/api/calendar-days", headers=bu,
                         json={"day": "9999-01-04", "kind": "bank_holiday", "name": "State funeral"})
    assert far.status_code == 422 and "outside the calendar's years" in far.json()["detail"]
    control = await api.post("/api/calendar-days", headers=bu,
                             json={"day": funeral.isoformat(), "kind": "bank_holiday", "name": "State\x00funeral"})
    assert control.status_code == 422

    added = await api.post("/api/calendar-days", headers=bu,
                           json={"day": funeral.isoformat(), "kind": "bank_holiday", "name": "State funeral"})
    assert added.status_code == 200, added.text
    result = added.json()
    with_funeral = WorkingDayCalendar(added_bank_holidays={funeral: "State funeral"})
    for driver in (in_window, at_referral):
        after = await driver.state()
        was, now = due_dates(before[driver.reference]), due_dates(after)
        assert now == {**was, **recounted(after, {"statutory": with_funeral, "local": with_funeral})}
        should_move = {key for key, due in was.items() if due >= funeral and key in recounted(after, {
            "statutory": plain, "local": plain})}
        moved = {key for key in now if now[key] != was[key]}
        assert moved == should_move and moved, (driver.reference, moved, should_move)
        assert all(now[key] == with_funeral.add_working_days(was[key], 1) for key in moved)
        assert {m["deadline"] for m in result["moved"][driver.reference]} == moved
        timeline = (await api.get(f"/api/cases/{driver.reference}/timeline", headers=bu)).json()
        entry = next(e for e in timeline if e["action"] == "calendar_day_added")
        assert "bank holiday (State funeral)" in entry["detail"]["why"]
        assert {m["deadline"]: m["to"] for m in entry["detail"]["moved"]} == {k: now[k].isoformat() for k in moved}
    assert {"rapid_review", "agency_returns"} <= {m["deadline"] for m in result["moved"][in_window.reference]}
    assert "information_requests" not in {m["deadline"] for m in result["moved"][in_window.reference]}, \
        "due before the new bank holiday: it does not move"
    assert [m["deadline"] for m in result["moved"][at_referral.reference]] == ["notification"]
    convene = in_window.tasks(action="convene_panel")[0]
    assert convene.due_date == due_dates(await in_window.state())["information_requests"], "its deadline did not move"
    assert [t.due_date for t in in_window.tasks(action="accept_referral")] == [was_accept_due], \
        "a task settled already keeps its date"
    assert [t.due_date for t in at_referral.tasks(action="propose_sin_decision")] == [
        due_dates(await at_referral.state())["notification"]] != [was_notification_due], "the open task follows"

    # A partnership closure day, added on the calendar page, moves the partnership's own milestones, never a
    # statutory clock.
    before = await in_window.state()
    closure = with_funeral.add_working_days(today, 4)
    api.headers.pop("Authorization", None)
    page = await api.get("/signin")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    await api.post("/signin", data={"username": "strategy.manager", "password": demo_passwords["strategy.manager"],
                                    "csrf_token": csrf})
    page = await api.get("/admin/calendar")
    assert page.status_code == 200 and "State funeral" in page.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    shown = await api.post("/admin/calendar", data={  # the page's day, month and year boxes
        "day-day": str(closure.day), "day-month": str(closure.month), "day-year": str(closure.year),
        "kind": "closure_day", "name": "Training day", "csrf_token": csrf})
    assert shown.status_code == 200 and f"Sent {closure.day} {closure:%B %Y}" in shown.text
    assert f"{in_window.reference}: " in shown.text and "had none to move" in shown.text
    after = await in_window.state()
    was, now = due_dates(before), due_dates(after)
    moved = {key for key in now if now[key] != was[key]}
    assert moved and not moved & STATUTORY
    assert moved == {key for key, due in was.items() if due >= closure and key not in STATUTORY
                     and key != "information_requests"}
    assert f"{at_referral.reference}:" not in shown.text, "its only deadline is statutory"

    # A case opened afterwards has both days in its own calendar from the start.
    later = CaseDriver(case_env, case_worker, engine)
    state = await later.start(awareness_days_ago=0)
    assert due_dates(state)["notification"] == with_funeral.add_working_days(today, 5)
    await at_referral.save_history("calendar_day_added")
    await later.save_history("case_calendar")

    for driver in (in_window, at_referral, later):
        await replays(driver.handle)  # the histories from after the days were added
    listed = (await api.get("/api/calendar-days", headers=bu)).json()
    assert [(d["day"], d["kind"]) for d in listed] == [(funeral.isoformat(), "bank_holiday"),
                                                        (closure.isoformat(), "closure_day")]
    again = await api.post(f"/api/calendar-days/{listed[0]['id']}/send", headers=bu)
    assert again.status_code == 200 and again.json()["moved"] == {}, "a case that has the day moves nothing twice"
    assert set(again.json()["unchanged"]) == {in_window.reference, at_referral.reference, later.reference}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_case_outliving_its_calendar_extends_it(driver, case_env):
    """The calendar a case starts with runs to the end of the fifth year; the clock extends it in time."""
    await driver.start()
    handle = driver.handle
    fetched = activity_runs(await handle.fetch_history(), "working_calendar")
    assert len(fetched) == 1
    await case_env.sleep(timedelta(days=4 * 366))
    await driver.settled()
    fetched = activity_runs(await handle.fetch_history(), "working_calendar")
    assert len(fetched) == 2, "extended once, when less than two years of it were left"
    await replays(handle)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_running_practice_review_receives_the_day(api, case_env, case_worker, engine):
    """The review starts with its case's calendar and is sent the day too: its working-day deadline moves, its
    six months do not."""
    driver = CaseDriver(case_env, case_worker, engine)
    await driver.to_sign_off()
    await driver.approve_all(version=1)
    today = await driver.today()
    await driver.partners_decide("choose_methodology", "la", decided_on=str(today), methods=["partner_led_workshop"],
                     reviewer="Independent reviewer", reviewer_kind="independent", lead="Strategy Manager")
    review_id = f"{driver.reference}-cspr"
    await driver.settled(review_id)
    before = due_dates(await driver.state(review_id))
    funeral = WorkingDayCalendar().add_working_days(today, 3)
    added = await api.post("/api/calendar-days", headers=await api.as_user("strategy.manager"),
                           json={"day": funeral.isoformat(), "kind": "bank_holiday", "name": "State funeral"})
    assert added.status_code == 200, added.text
    assert [m["deadline"] for m in added.json()["moved"][review_id]] == ["commission"]
    after = due_dates(await driver.state(review_id))
    with_funeral = WorkingDayCalendar(added_bank_holidays={funeral: "State funeral"})
    assert after["commission"] == with_funeral.add_working_days(today, 20) != before["commission"]
    assert after["cspr"] == before["cspr"], "six months are not counted in working days"
    await replays(case_env.client.get_workflow_handle(review_id))
    await replays(driver.handle)
