"""The pages around the cases in Chromium (the service and browser of test_web.py): a late case on the board and
the escalation log, the auditor's log with each filter, the engine history, the dashboard, a page that does not
exist and an ended session. Each page passes axe (WCAG 2.2 AA tags) with no violation (the board at 320 px too),
shows no raw code, JSON or ISO date, and is photographed into test-artifacts/."""

import asyncio
import csv
import io
import json
import re
from datetime import timedelta

import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import expect

from reviews.rapid_review.process_rules import ProcessRules
from service.accounts.auth import SESSION_COOKIE
from tests import test_web

ARTIFACTS = test_web.ARTIFACTS
site, browser, sign_in_as = test_web.site, test_web.browser, test_web.sign_in_as  # the same fixtures: one service
WCAG_22_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
RAW_CODE = re.compile(r"\b[a-z]+_[a-z_]+\b")
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
JSON_TEXT = re.compile(r"[{\[]\s*\"|\"\s*:\s*[\"{\[\d]")


async def check_page(page, name: str) -> str:
    """axe with the WCAG 2.2 AA tags, then the page's words: no raw code, JSON or ISO date (an address shown as
    code is the one exception). Saves a screenshot; returns the text."""
    results = await Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_22_AA}})
    assert len(results.response["passes"]) >= 5, f"{name}: axe ran its rules"
    assert results.violations_count == 0, f"{name}: {results.generate_report()}"
    text = await page.inner_text("main")
    for code in await page.locator("main code").all_inner_texts():
        text = text.replace(code, "")
    assert not RAW_CODE.findall(text), f"{name} shows codes: {RAW_CODE.findall(text)}"
    assert not ISO_DATE.findall(text), f"{name} shows ISO dates: {ISO_DATE.findall(text)}"
    assert not JSON_TEXT.search(text), f"{name} shows JSON: {JSON_TEXT.search(text)}"
    await page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)
    return text


async def wait_for(condition, what: str) -> None:
    for _ in range(200):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"waited 10 s for {what}")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_board_escalations_audit_dashboard_and_errors_in_a_browser(driver, sign_in_as, browser, site):
    ARTIFACTS.mkdir(exist_ok=True)
    # A case whose window runs from awareness 16 days ago: the statutory window still open, milestones missed.
    await driver.start(rules=ProcessRules(rapid_review_clock_start="awareness"), awareness_days_ago=16)
    await wait_for(lambda: len(driver.tasks(kind="escalation")) >= 4, "the missed milestones' escalations")
    reference = driver.reference

    manager = await sign_in_as("strategy.manager")
    await manager.goto("/board")
    card = manager.locator(f"article[data-reference='{reference}']")
    await expect(card.locator(".tag", has_text="Late")).to_be_visible()
    await expect(card.get_by_test_id("window")).to_contain_text(re.compile(r"Due in \d+ working days|Due today"))
    await expect(card.get_by_test_id("next")).to_contain_text(re.compile(r"Overdue by \d+ working days?"))
    await expect(card.get_by_test_id("next").locator(".tag")).to_have_text("Overdue")
    await expect(card.get_by_test_id("waiting-on")).to_have_text("Business unit")
    # No raw counts: "working days left" or a negative number (the reference itself may hold "-1", so it is cut).
    shown = (await card.inner_text()).replace(reference, "")
    assert "working days left" not in shown and not re.search(r"(?<![A-Za-z0-9])-\d", shown)
    await check_page(manager, "pages2-board")
    await manager.set_viewport_size({"width": 320, "height": 800})
    await check_page(manager, "pages2-board-320px")
    assert await manager.evaluate("document.documentElement.scrollWidth") <= 320, "no sideways scrolling at 320 px"
    await manager.set_viewport_size({"width": 1280, "height": 900})

    await manager.goto("/escalations")
    late = manager.locator(f"article[data-reference='{reference}']")
    await expect(late).to_have_count(1)  # one entry for the case, however many deadlines it missed
    missed = len({task.key.rsplit(":", 1)[0] for task in driver.tasks(kind="escalation")})
    await expect(late.locator("tbody tr")).to_have_count(missed)
    await expect(late).to_contain_text("Serious incident notification to the National Panel")
    await check_page(manager, "pages2-escalations")
    # My tasks and the case page say it the same way: the case once, each miss once, no card per escalation.
    await manager.goto("/tasks")
    await expect(manager.locator(f"article[data-reference='{reference}']")).to_have_count(1)
    await expect(manager.locator(f"section.card[data-case='{reference}']", has_text="Escalation")).to_have_count(0)
    await check_page(manager, "pages2-tasks-late")
    await manager.goto(f"/cases/{reference}")
    await expect(manager.locator(f"article[data-reference='{reference}'] tbody tr")).to_have_count(missed)
    await expect(manager.locator("#outstanding + .table-wrap")).not_to_contain_text("Escalation")

    await manager.goto("/dashboard")
    titles = await manager.locator("figure svg title[id]").evaluate_all("nodes => nodes.map(n => n.id)")
    assert len(titles) == 5 == len(set(titles)), "each chart its own title id"
    labelled = await manager.locator("figure svg").evaluate_all(
        "nodes => nodes.map(n => document.getElementById(n.getAttribute('aria-labelledby').split(' ')[0])"
        ".textContent)")
    assert labelled[0].startswith("Rapid reviews submitted, and within 15 working days") and len(set(labelled)) == 5
    await check_page(manager, "pages2-dashboard")
    assert await manager.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "fits 1280 px"

    missing = await manager.goto("/no-such-page")
    assert missing.status == 404
    await expect(manager.get_by_role("heading", name="Page not found")).to_be_visible()
    await check_page(manager, "pages2-not-found")

    auditor = await sign_in_as("auditor")
    await auditor.goto("/audit")
    await expect(auditor.get_by_test_id("chain")).to_contain_text("Intact")
    await expect(auditor.locator("table.audit-log")).to_contain_text("(Business unit) looked at the list of cases.")
    await check_page(auditor, "pages2-audit-log")
    await auditor.get_by_label("Changes only").check()
    await auditor.get_by_role("button", name="Apply filters").click()
    await expect(auditor.locator("table.audit-log")).to_contain_text("signed in")
    await expect(auditor.locator("table.audit-log")).not_to_contain_text("looked at the list of cases")
    await check_page(auditor, "pages2-audit-changes")
    await auditor.get_by_label("Reads only").check()
    await auditor.get_by_role("button", name="Apply filters").click()
    await expect(auditor.locator("table.audit-log")).not_to_contain_text("signed in.")
    await check_page(auditor, "pages2-audit-reads")
    await auditor.get_by_label("Everything").check()
    await auditor.get_by_label("Person").select_option(label="Sam Patel (Strategy Manager) (Business unit)")
    await auditor.get_by_role("button", name="Apply filters").click()
    log = auditor.locator("table.audit-log")
    await expect(log).to_contain_text("(Business unit)")
    await expect(log).not_to_contain_text("(Auditor)")
    await check_page(auditor, "pages2-audit-person")
    today = await driver.today()
    for side, day in (("From", today - timedelta(days=1)), ("To", today + timedelta(days=1))):
        group = auditor.get_by_role("group", name=side)
        await group.get_by_label("Day").fill(str(day.day))
        await group.get_by_label("Month").fill(str(day.month))
        await group.get_by_label("Year").fill(str(day.year))
    await auditor.get_by_role("button", name="Apply filters").click()
    await expect(log).to_contain_text("(Business unit)")
    await check_page(auditor, "pages2-audit-dates")
    await auditor.get_by_role("group", name="From").get_by_label("Day").fill("31")
    await auditor.get_by_role("group", name="From").get_by_label("Month").fill("2")
    await auditor.get_by_role("button", name="Apply filters").click()
    await expect(auditor.get_by_role("alert")).to_contain_text("The start date must be a real date")
    await expect(auditor.get_by_role("group", name="From").get_by_label("Day")).to_have_value("31")
    await check_page(auditor, "pages2-audit-date-error")

    await manager.goto(f"/cases/{reference}")  # a second look at the case: one row for the manager still
    await auditor.goto(f"/audit/{reference}")
    await expect(auditor.locator("table.audit-log")).to_contain_text("The service escalated a missed deadline: ")
    # Who saw the case: one row per person (not one per page view), with the first and last look and a count.
    who_saw = auditor.get_by_test_id("who-saw")
    manager_row = who_saw.locator("tbody tr", has_text="Sam Patel (Strategy Manager)")
    await expect(manager_row).to_have_count(1)
    await expect(manager_row).to_contain_text("Business unit")
    await expect(manager_row).to_contain_text("opened the case page")
    looks = int(await manager_row.locator("td").nth(3).inner_text())
    assert looks == 2, "the manager opened the case page twice: counted on one row"
    await check_page(auditor, "pages2-audit-case")
    # The same as CSV for a spreadsheet, headed for people, with dates in words; and the log itself as CSV.
    who_saw_csv = await auditor.request.get(f"/audit/{reference}/who-saw.csv")
    table = list(csv.DictReader(io.StringIO(await who_saw_csv.text())))
    row = next(r for r in table if r["Person"] == "Sam Patel (Strategy Manager)")
    assert row["Role"] == "Business unit" and int(row["Times"]) == looks and " at " in row["Last look"]
    assert not ISO_DATE.search(row["First look"] + row["Last look"])
    log = list(csv.DictReader(io.StringIO(await (await auditor.request.get(f"/audit/{reference}/log.csv")).text())))
    assert {"When", "Person", "Role", "What happened"} <= set(log[0])
    assert any(r["What happened"].startswith("The service escalated a missed deadline") for r in log)
    await auditor.get_by_role("link", name="Engine history (technical view)").click()
    await expect(auditor.get_by_role("heading", level=1)).to_have_text(f"Engine history of {reference}")
    assert await auditor.evaluate("document.documentElement.scrollHeight") < 3000, "the events are folded away"
    await check_page(auditor, "pages2-engine-history")
    download = await auditor.request.get(f"/audit/{reference}/history.json")
    assert "attachment" in download.headers["content-disposition"]
    events = json.loads(await download.text())
    assert events[0]["workflow_id"] == reference and events[0]["events"]

    ended = await browser.new_context(base_url=site, viewport={"width": 1280, "height": 900})
    await ended.add_cookies([{"name": SESSION_COOKIE, "value": "a-session-that-has-ended", "url": site}])
    page = await ended.new_page()
    await page.goto("/tasks")
    await expect(page.get_by_test_id("session-ended")).to_contain_text("You have been signed out")
    await check_page(page, "pages2-session-ended")
    await ended.close()
