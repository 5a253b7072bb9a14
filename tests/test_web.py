"""The web pages in a real browser (Playwright driving Debian's Chromium) against the service on a loopback
port: a case from referral to the Executive's sign-off, a refused action, a forged form, and the audit view."""

import asyncio
import re
from pathlib import Path

import pytest
import uvicorn
from playwright.async_api import async_playwright, expect
from sqlmodel import Session

from service.accounts import DEMO_ACCOUNTS
from service.api.routes import route_table
from service.app import create_app
from service.models import CaseRecord
from service.runner import free_port
from tests.conftest import sign_in_through_page
from workflows.calendar import WorkingDayCalendar, london_date

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@pytest.fixture
async def site(case_env, case_worker, settings, engine, demo_passwords):
    """The service on a loopback port (same event loop as the test and its Temporal server)."""
    app = create_app(settings.model_copy(update={"temporal_task_queue": case_worker}), case_env.client)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await serving


@pytest.fixture
async def browser():
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        await chromium.close()


@pytest.fixture
def sign_in_as(browser, site, demo_passwords):
    async def open_as(username: str):
        """Sign in with the keyboard alone: skip link, then tab through the form, Enter to submit."""
        context = await browser.new_context(base_url=site, viewport={"width": 1400, "height": 1000})
        page = await context.new_page()
        await page.goto("/signin")
        await page.keyboard.press("Tab")
        await expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
        await page.keyboard.press("Tab")
        await expect(page.get_by_label("Username")).to_be_focused()
        await page.keyboard.type(username)
        await page.keyboard.press("Tab")
        await page.keyboard.type(demo_passwords[username])
        await page.keyboard.press("Enter")
        await expect(page.get_by_role("button", name="Sign out")).to_be_visible()
        return page

    return open_as


async def take(page, action: str, fields: dict | None = None, selects: dict | None = None,
               ticks: list[str] = ()):
    """Fill and submit one action's form on the case page (labels, as a person would)."""
    form = page.locator(f"form[action$='/actions/{action}']")
    for label, value in (fields or {}).items():
        await form.get_by_label(label, exact=True).fill(value)
    for label, value in (selects or {}).items():
        await form.get_by_label(label, exact=True).select_option(value)
    for label in ticks:
        await form.get_by_label(label, exact=True).check()
    await form.get_by_role("button").click()
    await page.wait_for_load_state()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_chair_approvers_and_auditor_in_a_browser(sign_in_as, case_env, engine):
    ARTIFACTS.mkdir(exist_ok=True)
    today = london_date(await case_env.get_current_time())
    panel_day = WorkingDayCalendar().add_working_days(today, 1)

    manager = await sign_in_as("strategy.manager")
    await expect(manager.get_by_role("heading", name="Case board")).to_be_visible()
    await manager.get_by_label("Pseudonym").fill("Child Q")
    await manager.get_by_label("Summary of what happened").fill("Infant with unexplained injuries.")
    await manager.get_by_label("Date of the incident").fill(str(today))
    await manager.get_by_label("Date the local authority became aware").fill(str(today))
    await manager.get_by_label("Referring agency").select_option("police")
    await manager.get_by_role("button", name="Submit referral").click()
    await expect(manager.get_by_test_id("stage")).to_have_text("Referral")
    reference = manager.url.rsplit("/", 1)[-1]
    await take(manager, "accept_referral")
    await expect(manager.get_by_test_id("stage")).to_have_text("CSC consultation")

    csc = await sign_in_as("csc.lead")
    await csc.goto(f"/cases/{reference}")
    await take(csc, "propose_sin_decision", {"Rationale": "Serious harm."}, {"Decision": "notify"})
    for seat, view in (("exec.police", "Police support notification."), ("exec.icb", "Health agrees.")):
        partner = await sign_in_as(seat)
        await partner.goto(f"/cases/{reference}")
        await take(partner, "respond_to_sin_proposal", {"Version": "1", "Comments": view}, {"View": "agree"})
    await expect(partner.get_by_test_id("stage")).to_have_text("Notification")
    await csc.goto(f"/cases/{reference}")
    await take(csc, "record_notification", {"Notified on": str(today), "Notification reference": "OF-77"})
    await expect(csc.get_by_test_id("stage")).to_have_text("Panel preparation")

    # A refused action: the workflow's reason next to the form, what was typed kept, nothing changed.
    await manager.goto(f"/cases/{reference}")
    yesterday = WorkingDayCalendar().add_working_days(today, -1)
    await take(manager, "convene_panel",
               {"Panel date": str(yesterday), "Research questions (optional)": "Why was it missed?"},
               ticks=["Education (schools)", "Police"])
    await expect(manager.get_by_role("alert")).to_contain_text("is in the past")
    refused = manager.locator("form[action$='/actions/convene_panel']")
    await expect(refused.get_by_label("Research questions (optional)", exact=True)).to_have_value("Why was it missed?")
    await expect(refused.get_by_label("Police", exact=True)).to_be_checked()
    await manager.screenshot(path=ARTIFACTS / "case-page.png", full_page=True)
    await expect(manager.get_by_test_id("stage")).to_have_text("Panel preparation")

    # A forged form without its CSRF token is refused visibly and changes nothing.
    await manager.goto(f"/cases/{reference}")
    form = manager.locator("form[action$='/actions/convene_panel']")
    await form.locator("input[name=csrf_token]").evaluate("input => input.remove()")
    await take(manager, "convene_panel", {"Panel date": str(panel_day)}, ticks=["Education (schools)"])
    await expect(manager.get_by_role("alert")).to_contain_text("security token")
    with Session(engine) as session:
        assert session.get(CaseRecord, reference).stage == "panel_preparation"

    await manager.goto(f"/cases/{reference}")
    await take(manager, "convene_panel", {"Panel date": str(panel_day)}, ticks=["Education (schools)"])
    await expect(manager.get_by_test_id("stage")).to_have_text("Panel preparation")
    await manager.goto("/board")
    await expect(manager.locator(f"article[data-reference='{reference}']")).to_contain_text("Due in")
    await manager.screenshot(path=ARTIFACTS / "board.png", full_page=True)

    # The invited agency sees the information request and returns it from "My tasks".
    education = await sign_in_as("agency.education")
    await education.goto(f"/cases/{reference}")
    await expect(education.get_by_role("cell", name="Request for agency information")).to_be_visible()
    await education.goto("/tasks")
    task = education.locator("section", has_text=reference)
    await task.get_by_label("Involvement", exact=True).fill("Attended nursery until October.")
    await task.get_by_label("Chronology", exact=True).fill("2026-10-01 bruise noted.")
    await task.get_by_label("Analysis", exact=True).fill("Not referred to the DSL.")
    await task.get_by_role("button", name="Submit information return").click()
    await expect(education.get_by_text("You have no open tasks.")).to_be_visible()

    chair = await sign_in_as("panel.chair")
    await chair.goto(f"/cases/{reference}")
    await take(chair, "record_panel_outcome", {
        "Held on": str(today), "Attendees": "Chair\nPolice\nEducation", "Learning": "Bruising was not escalated.",
        "Rationale": "Criteria for a local review are met.",
        "Immediate actions (optional)": "Remind staff of bruising protocol",
    }, {"Recommendation": "local_cspr"})
    await expect(chair.get_by_test_id("stage")).to_have_text("Decision sheet")
    await take(chair, "issue_decision_sheet", {"Circumstances": "Infant with unexplained bruising."})
    await expect(chair.get_by_test_id("stage")).to_have_text("Executive sign-off")

    async def decide(username: str, button: str, comments: str | None = None):
        page = await sign_in_as(username)
        await page.goto("/tasks")
        task = page.locator("section", has_text=reference)
        await expect(task.locator("iframe.sheet")).to_be_visible()
        if comments:
            await task.get_by_label("Comments for the chair").fill(comments)
        await task.get_by_role("button", name=button).click()
        await page.wait_for_load_state()
        return page

    icb = await decide("exec.icb", "Return with comments", "Please add the health chronology.")
    await expect(icb.get_by_text("You have no open tasks.")).to_be_visible()
    await chair.goto(f"/cases/{reference}")
    await expect(chair.get_by_test_id("stage")).to_have_text("Decision sheet")
    await take(chair, "issue_decision_sheet", {"Circumstances": "Bruising; health chronology added."})
    first = await sign_in_as("exec.la")
    await first.goto("/tasks")
    await expect(first.locator("iframe.sheet")).to_be_visible()
    await first.screenshot(path=ARTIFACTS / "approver-task.png", full_page=True)
    for approver in ("exec.la", "exec.icb", "exec.police"):
        page = await decide(approver, "Approve")
        await expect(page.get_by_role("button", name="Approve")).to_have_count(0)
    # The partners decided on a local CSPR: it starts at once, and the Executive is asked how it will take place.
    await expect(page.get_by_text("Decide how the local CSPR will take place")).to_be_visible()
    await chair.goto(f"/cases/{reference}")
    await expect(chair.get_by_test_id("stage")).to_have_text("Methodology")

    auditor = await sign_in_as("auditor")
    await auditor.goto(f"/audit/{reference}")
    await expect(auditor.get_by_test_id("chain")).to_contain_text("Intact")
    timeline = auditor.locator("table.audit-log")
    for step in ("“Submit referral”", "“Accept referral”", "“Propose SIN decision”", "“Respond to SIN proposal”",
                 "“Record notification”", "was refused “Convene panel”", "“Convene panel”", "“Record panel outcome”",
                 "“Issue decision sheet”", "“Sign off”", "opened the case page"):
        await expect(timeline).to_contain_text(step)
    await auditor.goto(f"/audit/{reference}/history")
    history = auditor.locator("section", has=auditor.get_by_role("heading", name="The case's workflow"))
    await history.locator("summary", has_text="Show the").click()
    await expect(history).to_contain_text("Workflow execution started")
    await expect(history).to_contain_text("Workflow execution update accepted")
    await auditor.goto(f"/audit/{reference}")
    await auditor.screenshot(path=ARTIFACTS / "audit.png", full_page=True)


PATH_VALUES = {"reference": "RR-1999-999", "action": "convene_panel", "action_id": 1, "escalation_id": 1,
               "user_id": 999999}



def test_every_role_on_every_page(api_client, demo_passwords):
    """Pages declare roles like the API does: the others get a plain 403 page; nobody signed in is sent
    to sign in; a change without the form's CSRF token is refused."""
    rules = sorted((r for r in route_table(api_client.app, pages=True) if r.roles is not None),
                   key=lambda r: r.path == "/signout")  # signing out last
    for username, role in ((a.username, str(a.role)) for a in DEMO_ACCOUNTS):
        api_client.cookies.clear()
        signed_in = sign_in_through_page(api_client, username, demo_passwords[username], follow_redirects=True)
        assert signed_in.status_code == 200, signed_in.text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', signed_in.text).group(1)
        for rule in rules:
            path = rule.path.format(**PATH_VALUES)
            if rule.method == "POST" and role in rule.roles:
                forged = api_client.post(path, data={}, follow_redirects=False)
                assert forged.status_code == 403 and "security token" in forged.text, f"{username} {path}"
            data = {"csrf_token": csrf} if rule.method == "POST" else None
            response = api_client.request(rule.method, path, data=data, follow_redirects=False)
            refused_by_page = response.status_code == 403 and "may not open this page" in response.text
            if role in rule.roles:
                assert not refused_by_page and response.status_code < 500, f"{username} {rule.method} {path}"
            else:
                assert refused_by_page, f"{username} {rule.method} {path}: {response.status_code}"
    api_client.cookies.clear()
    for rule in rules:
        anonymous = api_client.request(rule.method, rule.path.format(**PATH_VALUES), follow_redirects=False)
        assert anonymous.status_code == 303 and anonymous.headers["location"] == "/signin"
