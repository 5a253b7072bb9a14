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
    letter = next(d for d in await driver.documents() if d.kind == "information_request_education")
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


async def test_the_panel_pack_puts_the_returns_side_by_side_and_merges_the_chronologies(driver, api, demo_passwords):
    await driver.to_panel_preparation()
    await driver.act("convene_panel", "bu", panel_date=await driver.next_working_day(),
                     invited_agencies=["education", "police", "community_health"],
                     research_questions=["Was the bruising seen at nursery?"])
    await driver.act("submit_information_return", "education", involvement="Nursery since 2025.",
                     chronology="3 October 2026: bruise on cheek seen at drop-off\n01/09/2026 - started nursery",
                     analysis="Not referred.")
    await driver.act("submit_information_return", "police_agency", involvement="Two call-outs.",
                     chronology="2026-09-20 domestic incident call-out\nFurther call-out, date unknown",
                     analysis="DASH not completed.")

    async def page_as(username: str):
        api.cookies.clear()
        signin = await api.get("/signin")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', signin.text).group(1)
        await api.post("/signin", data={"username": username, "password": demo_passwords[username],
                                        "csrf_token": csrf})
        return await api.get(f"/cases/{driver.reference}/panel-pack")

    pack = await page_as("panel.chair")
    assert pack.status_code == 200, pack.text
    text = " ".join(re.sub(r"<[^>]+>", " ", pack.text).split())
    assert "Was the bruising seen at nursery?" in text
    assert "Community health (health visiting, school nursing): Not yet received" in text
    rows = re.findall(r"<tr><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td></tr>",
                      pack.text.split('data-testid="merged-chronology"')[1])
    assert [(on, agency) for on, agency, _ in rows] == [
        ("1 September 2026", "Education (schools)"), ("20 September 2026", "Police"),
        ("3 October 2026", "Education (schools)"), ("No date given", "Police")], "in date order, undated last"
    assert "bruise on cheek seen at drop-off" in rows[2][2]
    assert "Nursery since 2025." in text and "DASH not completed." in text, "side by side"
    member = await page_as("agency.education")
    assert member.status_code in (403, 404), "an agency member never reads the other agencies' returns"


async def test_the_panel_calendar_and_the_workload(driver, api):
    await driver.to_panel_preparation()
    panel = await driver.next_working_day()
    await driver.act("convene_panel", "bu", panel_date=panel, invited_agencies=["education", "police"])
    await driver.act("submit_information_return", "education", involvement="i", chronology="c", analysis="a")
    await api.sign_in_page("strategy.manager")
    calendar = await api.get("/panels")
    assert calendar.status_code == 200, calendar.text
    row = re.search(rf"<tr><td>([^<]*)</td><td><a href=\"/cases/{driver.reference}\">.*?</td><td>(.*?)</td>",
                    calendar.text)
    assert row and row.group(2) == "1 of 2", "the returns so far, beside the panel date"
    load = await api.get("/workload")
    assert load.status_code == 200
    police = re.search(r'<th scope="row">Agency: Police</th><td>(\d+)</td>', load.text)
    assert police and police.group(1) == "1", "the police return is still owed"
    assert "Agency: Education (schools)" not in load.text, "returned: nothing open"
    await api.sign_in_page("agency.education")
    assert (await api.get("/panels")).status_code in (403, 404)
