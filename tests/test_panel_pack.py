"""The panel reads the returns before it meets: returns fall due a set number of working days before the panel
(local practice, a setting), and the letters, tasks and deadline all say the same day; the chair is warned before
recording an outcome without every return (issue 29, item 2)."""

from __future__ import annotations

import re

from records.object_store import read_stored
from workflows.calendar import WorkingDayCalendar


async def test_returns_fall_due_before_the_panel_and_every_letter_says_so(driver, settings):
    await driver.to_panel_preparation()
    today = await driver.today()
    calendar = WorkingDayCalendar()
    panel = calendar.add_working_days(today, 4)
    state = await driver.act("convene_panel", "bu", panel_date=str(panel), invited_agencies=["education", "police"],
                             research_questions=["Was the bruising seen at nursery?"])
    due = calendar.add_working_days(panel, -2)
    returns = next(d for d in state["deadlines"] if d["key"] == "agency_returns")
    assert returns["due"] == str(due) and "2 working days before the panel" in returns["rule"]
    assert {t.due_date for t in driver.tasks(action="submit_information_return")} == {due}
    letter = next(d for d in driver.documents() if d.kind == "information_request_education")
    text = " ".join(read_stored(settings.document_store(), letter.html_path).decode().split())
    assert str(due) in text or f"{due.day} {due:%B %Y}" in text, "the letter gives the same day"
    assert due < panel


async def test_the_chair_is_warned_before_an_outcome_without_every_return(driver, api, demo_passwords):
    await driver.to_panel_preparation()
    await driver.act("convene_panel", "bu", panel_date=await driver.next_working_day(),
                     invited_agencies=["education", "police"])
    await driver.act("submit_information_return", "education", involvement="i", chronology="c", analysis="a")
    page = await api.get("/signin")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    await api.post("/signin", data={"username": "panel.chair", "password": demo_passwords["panel.chair"],
                                    "csrf_token": csrf})
    case = await api.get(f"/cases/{driver.reference}")
    assert case.status_code == 200, case.text
    warning = re.search(r'data-testid="warning-record_panel_outcome">(.*?)</p>', case.text, re.S)
    assert warning and "Not every return has arrived: Police." in " ".join(warning.group(1).split())
    await driver.act("submit_information_return", "police_agency", involvement="i", chronology="c", analysis="a")
    case = await api.get(f"/cases/{driver.reference}")
    assert 'data-testid="warning-record_panel_outcome"' not in case.text
