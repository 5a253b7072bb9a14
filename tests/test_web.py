"""The web pages in a real browser (Playwright driving Debian's Chromium) against the service on a loopback
port: each person's job walked through the pages from referral to the partners' sign-off (errors, confirmations,
the agencies' returns, the approver's page), with axe-core (WCAG 2.2 AA) on every page state at three widths."""

import asyncio
import re
from datetime import date, timedelta
from pathlib import Path

import pytest
import uvicorn
from axe_playwright_python.async_playwright import Axe, AxeResults
from playwright.async_api import async_playwright, expect
from sqlmodel import Session

from engine.calendar import WorkingDayCalendar, london_date
from records.models import CaseRecord
from service.accounts.users import DEMO_ACCOUNTS
from service.api.routes import route_table
from service.app import create_app
from service.platform.runner import free_port
from tests.conftest import sign_in_through_page

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
        context = await browser.new_context(base_url=site, viewport=DESKTOP)
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


AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
# What no person should read on a page: codes, JSON, ISO dates and the validator's own words.
RAW_TEXT = {
    "a raw code": re.compile(r"\b[a-z]+_[a-z_]+\b"),
    "JSON": re.compile(r'\{"'),
    "an ISO date": re.compile(r"\d{4}-\d{2}-\d{2}"),
    "validator text": re.compile(r"Field required|Value error|List should have"),
}
# The widths each page state is checked at: 200 % zoom of a 1280 px window, and 320 px (WCAG reflow); the
# screenshot is taken at the desktop width.
DESKTOP = {"width": 1280, "height": 900}
WIDTHS = ((640, 900), (320, 800))


# Reflow at 320 px (WCAG 1.4.10): the page itself must not scroll sideways. A table may be wider than the window
# inside its own scroll region, but nothing may escape that region (text hidden for screen readers, positioned
# absolutely, once did). When the page does scroll, the elements that stick out are named: first those outside any
# scroll region or positioned out of it.
WIDER_THAN_WINDOW = """
(() => {
  if (document.documentElement.scrollWidth <= window.innerWidth) return [];
  const wide = [...document.querySelectorAll("body *")]
    .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1);
  const escaped = wide
    .filter(e => !e.closest(".table-wrap, .table-scroll") || getComputedStyle(e).position === "absolute");
  return [`the page is ${document.documentElement.scrollWidth} px wide`,
          ...(escaped.length ? escaped : wide).slice(0, 5).map(e => e.tagName + "." + e.className + "#" + e.id)];
})()
"""


class Walk:
    """Checks every page state the walk visits: no raw text, axe (WCAG 2.2 AA) clean at 200 % zoom and at 320 px,
    nothing wider than the window there, and a screenshot of each step in test-artifacts/walk/."""

    def __init__(self):
        self.step = 0
        self.axe = Axe()
        self.folder = ARTIFACTS / "walk"
        self.folder.mkdir(parents=True, exist_ok=True)

    async def check(self, page, name: str):
        self.step += 1
        text = await page.inner_text("body")
        for what, pattern in RAW_TEXT.items():
            found = pattern.findall(text)
            assert not found, f"step {self.step} ({name}) shows {what}: {found[:5]}"
        await page.screenshot(path=self.folder / f"{self.step:02d}-{name}.png", full_page=True)
        for width, height in WIDTHS:
            await page.set_viewport_size({"width": width, "height": height})
            if not await page.evaluate("typeof window.axe !== 'undefined'"):  # once per page load
                await page.evaluate(self.axe.axe_script)
            found = await page.evaluate("options => axe.run(document, options)",
                                        {"runOnly": {"type": "tag", "values": AXE_TAGS}, "resultTypes": ["violations"]})
            where = f"step {self.step} ({name}) at {width}px"
            assert not found["violations"], f"{where}:\n{AxeResults(found).generate_report()}"
            sideways = await page.evaluate(WIDER_THAN_WINDOW)
            assert not sideways, f"{where} scrolls sideways: {sideways}"
        await page.set_viewport_size(DESKTOP)


async def tab_to(page, target, most: int = 120) -> None:
    """Move the focus with the Tab key alone until it is on ``target`` (fails if the keyboard cannot reach it)."""
    handle = await target.element_handle()
    for _ in range(most):
        await page.keyboard.press("Tab")
        if await page.evaluate("element => document.activeElement === element", handle):
            return
    raise AssertionError(f"the keyboard never reached {target}")


async def fill_date(scope, label: str, day: date):
    group = scope.get_by_role("group", name=label)
    await group.get_by_label("Day").fill(str(day.day))
    await group.get_by_label("Month").fill(str(day.month))
    await group.get_by_label("Year").fill(str(day.year))


async def submit(page, form, button: str | None = None):
    await (form.get_by_role("button", name=button) if button else form.get_by_role("button").first).click()
    await page.wait_for_load_state()


def action_form(page, action: str):
    return page.locator(f"form[action$='/actions/{action}']")


async def confirmed(page, walk: Walk, name: str, title: str):
    """Every action ends on a confirmation: the banner says what was done and what happens next."""
    banner = page.get_by_test_id("confirmation")
    await expect(banner).to_contain_text(title)
    await expect(banner).to_contain_text("What happens next" if "Nothing else" not in await banner.inner_text()
                                         else "Nothing else")
    await walk.check(page, name)


async def shows_error(page, walk: Walk, name: str, message: str, field_id: str):
    """The error pattern: summary at the top linking to the field, the message at the field, Error: in the title."""
    summary = page.get_by_test_id("error-summary")
    await expect(summary).to_be_visible()
    link = summary.get_by_role("link", name=message)
    await expect(link).to_have_attribute("href", f"#{field_id}")
    await expect(page).to_have_title(re.compile(r"^Error: "))
    await expect(page.locator(f"#{field_id}")).to_have_attribute("aria-invalid", "true")
    await expect(page.locator(".error-message", has_text=message).first).to_be_visible()
    await walk.check(page, name)
    await link.click()
    await expect(page.locator(f"#{field_id}")).to_be_focused()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_each_persons_job_through_the_pages(sign_in_as, case_env, engine):
    """The path of a case to the partners' decision, walked by each person in Chromium with the pages alone."""
    walk = Walk()
    today = london_date(await case_env.get_current_time())
    panel_day = WorkingDayCalendar().add_working_days(today, 1)
    yesterday = WorkingDayCalendar().add_working_days(today, -1)

    # The business unit refers: a bad submission first (the error pattern, what was typed kept), then the referral.
    manager = await sign_in_as("strategy.manager")
    await expect(manager.get_by_role("heading", name="Case board")).to_be_visible()
    await walk.check(manager, "board")
    await manager.get_by_role("link", name="New referral").click()
    await manager.get_by_label("Pseudonym").fill("Child Q")
    await submit(manager, manager.locator("form[action='/cases/new']"))
    await expect(manager.get_by_label("Pseudonym")).to_have_value("Child Q")
    await shows_error(manager, walk, "referral-errors", "Select the child's age band", "referral-age_band-unborn")
    await manager.get_by_label("Under 1").check()
    await manager.get_by_label("Summary").fill("Infant with unexplained injuries.")
    await fill_date(manager, "Date of the incident", today)
    await fill_date(manager, "Date the local authority became aware", today)
    await manager.get_by_label("Referring agency").select_option("police")
    await submit(manager, manager.locator("form[action='/cases/new']"))
    await expect(manager.get_by_test_id("stage")).to_have_text("Referral")
    reference = manager.url.split("?")[0].rsplit("/", 1)[-1]
    await expect(manager.get_by_test_id("confirmation")).to_contain_text("Referral submitted")
    await confirmed(manager, walk, "referral-submitted", "Referral submitted")
    await submit(manager, action_form(manager, "accept_referral"))
    await expect(manager.get_by_test_id("stage")).to_have_text("CSC consultation")
    await confirmed(manager, walk, "referral-accepted", "Referral accepted")

    # The CSC lead reads the referral summary, then proposes the notification decision (nothing preselected).
    csc = await sign_in_as("csc.lead")
    await csc.goto(f"/cases/{reference}")
    await expect(csc.get_by_test_id("referral-summary")).to_have_text("Infant with unexplained injuries.")
    await expect(csc.get_by_test_id("case-summary")).to_contain_text("Under 1")
    proposal = action_form(csc, "propose_sin_decision")
    await expect(proposal.locator("input[type=radio]:checked")).to_have_count(0)
    await proposal.get_by_label("Rationale").fill("Serious harm.")
    await submit(csc, proposal)
    await expect(action_form(csc, "propose_sin_decision").get_by_label("Rationale")).to_have_value("Serious harm.")
    await shows_error(csc, walk, "sin-proposal-errors", "Select a decision", "propose_sin_decision-decision-notify")
    await action_form(csc, "propose_sin_decision").get_by_label("Notify", exact=True).check()
    await submit(csc, action_form(csc, "propose_sin_decision"))
    await confirmed(csc, walk, "sin-proposed", "Notification decision proposed")

    for seat, view in (("exec.police", "Police support notification."), ("exec.icb", "Health agrees.")):
        partner = await sign_in_as(seat)
        await partner.goto(f"/cases/{reference}")
        answer = action_form(partner, "respond_to_sin_proposal")
        await answer.get_by_label("Agree", exact=True).check()
        await answer.get_by_label("Comments").fill(view)
        await submit(partner, answer)
        await confirmed(partner, walk, f"sin-answer-{seat.split('.')[1]}", "Your view on the notification decision")
    await expect(partner.get_by_test_id("stage")).to_have_text("Notification")
    await csc.goto(f"/cases/{reference}")
    notification = action_form(csc, "record_notification")
    await fill_date(notification, "Date notified", today)
    await notification.get_by_label("Notification reference").fill("OF-77")
    await submit(csc, notification)
    await expect(csc.get_by_test_id("stage")).to_have_text("Panel preparation")
    await confirmed(csc, walk, "notified", "Notification recorded")

    # The business unit convenes the panel: a date in the past is refused at its field, what was typed kept.
    await manager.goto(f"/cases/{reference}")
    convene = action_form(manager, "convene_panel")
    await fill_date(convene, "Date of the panel", yesterday)
    await convene.get_by_label("Research questions").fill("Why was it missed?")
    await convene.get_by_label("Education (schools)").check()
    await convene.get_by_label("Police", exact=True).check()
    await submit(manager, convene)
    await shows_error(manager, walk, "convene-past-date", "in the past", "convene_panel-panel_date-day")
    refused = action_form(manager, "convene_panel")
    await expect(refused.get_by_label("Research questions")).to_have_value("Why was it missed?")
    await expect(refused.get_by_label("Police", exact=True)).to_be_checked()
    await refused.get_by_label("Education (schools)").uncheck()
    await refused.get_by_label("Police", exact=True).uncheck()
    await fill_date(refused, "Date of the panel", panel_day)
    await submit(manager, refused)
    await shows_error(manager, walk, "convene-no-agency", "Select at least one agency to invite",
                      "convene_panel-invited_agencies-csc")

    # A forged form without its CSRF token is refused visibly and changes nothing.
    form = action_form(manager, "convene_panel")
    await form.locator("input[name=csrf_token]").evaluate("input => input.remove()")
    await form.get_by_label("Education (schools)").check()
    await submit(manager, form)
    await expect(manager.get_by_role("alert")).to_contain_text("security token")
    with Session(engine) as session:
        assert session.get(CaseRecord, reference).stage == "panel_preparation"

    await manager.goto(f"/cases/{reference}")
    convene = action_form(manager, "convene_panel")
    await fill_date(convene, "Date of the panel", panel_day)
    await convene.get_by_label("Education (schools)").check()
    await convene.get_by_label("Police", exact=True).check()
    await submit(manager, convene)
    await confirmed(manager, walk, "panel-convened", "Panel convened")
    await expect(manager.get_by_test_id("return-status")).to_contain_text("Outstanding")
    await manager.goto("/board")
    await expect(manager.locator(f"article[data-reference='{reference}']")).to_contain_text("Due in")
    await manager.screenshot(path=ARTIFACTS / "board.png", full_page=True)

    # Each invited agency returns its information from My tasks and reads only its own return afterwards.
    returns = {"agency.police": ("Police", "Two call-outs in September.", "Domestic abuse call-outs."),
               "agency.education": ("Education (schools)", "Attended nursery until October.", "Bruise noted.")}
    for username, (agency, involvement, chronology) in returns.items():
        member = await sign_in_as(username)
        await walk.check(member, f"tasks-{username.split('.')[1]}")
        task = member.locator("section", has_text=reference)
        await task.get_by_label("Involvement with the child and family").fill(involvement)
        await task.get_by_label("Chronology").fill(chronology)
        await submit(member, task)
        await shows_error(member, walk, f"return-errors-{username.split('.')[1]}", "Enter your agency's analysis",
                          re.search(r'id="(t\d+-analysis)"', await member.content()).group(1))
        task = member.locator("section", has_text=reference)
        await expect(task.get_by_label("Chronology")).to_have_value(chronology)
        await task.get_by_label("Analysis").fill(f"{agency}: not escalated.")
        await submit(member, task)
        await expect(member.get_by_role("heading", name="Check your agency's return before you send it")
                     ).to_be_visible()
        await expect(member.get_by_test_id("check-answers")).to_contain_text(chronology)
        await member.get_by_role("button", name="Send the return").click()
        await member.wait_for_load_state()
        await confirmed(member, walk, f"returned-{username.split('.')[1]}", "Information return sent")
        await expect(member.get_by_test_id("confirmation")).to_contain_text(reference)
    await member.goto(f"/cases/{reference}")  # Education, the second to return
    await expect(member.get_by_test_id("return-education")).to_contain_text("Attended nursery until October.")
    await expect(member.get_by_test_id("return-police")).to_have_count(0)
    await expect(member.get_by_text("Two call-outs in September.")).to_have_count(0)
    await walk.check(member, "agency-case-page")

    # The chair reads every agency's return from the panel task, then records the outcome (themes from the list).
    chair = await sign_in_as("panel.chair")
    await chair.goto("/tasks")
    await chair.locator("section", has_text=reference).get_by_role("link", name="Read the agencies' information"
                                                                    ).click()
    for username, (_, involvement, _) in returns.items():
        await expect(chair.get_by_test_id(f"return-{username.split('.')[1]}")).to_contain_text(involvement)
    await expect(chair.get_by_test_id("return-status")).to_contain_text("Received")
    await walk.check(chair, "chair-reads-returns")
    await chair.get_by_role("link", name="Open the panel pack").click()
    await expect(chair.get_by_test_id("side-by-side")).to_contain_text("Two call-outs in September.")
    await walk.check(chair, "panel-pack")
    await chair.go_back()
    outcome = action_form(chair, "record_panel_outcome")
    await expect(outcome.locator("input[type=radio]:checked")).to_have_count(0)
    await fill_date(outcome, "Date the panel met", today)
    await outcome.get_by_label("Attendees").fill("Chair\nPolice\nEducation")
    await outcome.get_by_label("Domestic abuse").check()
    await outcome.get_by_label("Learning").fill("Bruising was not escalated.")
    await outcome.get_by_label("Local child safeguarding practice review").check()
    await outcome.get_by_label("Rationale").fill("Criteria for a local review are met.")
    await outcome.get_by_label("Immediate actions").fill("Remind staff of bruising protocol")
    await submit(chair, outcome)
    await expect(chair.get_by_test_id("stage")).to_have_text("Decision sheet")
    await confirmed(chair, walk, "panel-outcome", "Panel outcome recorded")

    # The chair issues the decision sheet after checking the answers.
    sheet = action_form(chair, "issue_decision_sheet")
    await sheet.get_by_label("Circumstances").fill("Infant with unexplained bruising.")
    await sheet.get_by_label("Seriously harmed").check()
    await sheet.get_by_role("group", name="Sex of the child").get_by_label("Male", exact=True).check()
    await sheet.get_by_label("The voice of the child and family").fill("Too young to speak.")
    await sheet.get_by_label("Safety of siblings and other children").fill("No other children.")
    await sheet.get_by_role("group", name="Has the family been told").get_by_label("Yes").check()
    await submit(chair, sheet)
    await expect(chair.get_by_role("heading", name="Check your answers")).to_be_visible()
    await expect(chair.get_by_test_id("check-answers")).to_contain_text("Infant with unexplained bruising.")
    await expect(chair.get_by_test_id("check-answers")).to_contain_text("Local child safeguarding practice review")
    await walk.check(chair, "check-answers")
    await chair.get_by_role("button", name="Issue to the three Executives").click()
    await expect(chair.get_by_test_id("stage")).to_have_text("Executive sign-off")
    await confirmed(chair, walk, "sheet-issued", "Decision sheet issued")

    async def decide(username: str, decision: str, comments: str | None = None, keyboard: bool = False,
                     declare: bool = True):
        page = await sign_in_as(username)
        await page.goto("/tasks")
        await page.locator("section", has_text=reference).get_by_role("link", name="Read the decision sheet").click()
        await expect(page.get_by_test_id("sheet")).to_contain_text("Summary of the circumstances")
        if keyboard:  # the approver's job by keyboard alone: Tab to the choice, Space to pick it, Enter to send
            await tab_to(page, page.get_by_label(decision))
            await page.keyboard.press("Space")
            await expect(page.get_by_label(decision)).to_be_checked()
            if decision.startswith("Approve"):  # in what capacity, and the declaration
                await tab_to(page, page.get_by_label("Lead safeguarding partner"))
                await page.keyboard.press("Space")
                await tab_to(page, page.get_by_label("If I approve"))
                await page.keyboard.press("Space")
            await tab_to(page, page.get_by_role("button", name="Send your decision"))
            await page.keyboard.press("Enter")
            await page.wait_for_load_state()
            return page
        await page.get_by_label(decision).check()
        if decision.startswith("Approve"):
            await page.get_by_label("Delegated safeguarding partner").check()
            if declare:
                await page.get_by_label("If I approve").check()
        if comments:
            await page.get_by_label("Comments for the chair").fill(comments)
        await page.get_by_role("button", name="Send your decision").click()
        await page.wait_for_load_state()
        return page

    # An Executive returns it: comments are required to return, and the error pattern says so.
    icb = await decide("exec.icb", "Return it to the chair")
    await shows_error(icb, walk, "return-without-comments", "Enter your comments for the chair", "sign_off-comments")
    await icb.get_by_label("Comments for the chair").fill("Please add the health chronology.")
    await icb.get_by_role("button", name="Send your decision").click()
    await confirmed(icb, walk, "sheet-returned", "Decision sheet returned to the chair")

    # The chair revises the returned sheet: it starts from the last version.
    await chair.goto(f"/cases/{reference}")
    await expect(chair.get_by_test_id("stage")).to_have_text("Decision sheet")
    sheet = action_form(chair, "issue_decision_sheet")
    await expect(sheet.get_by_label("Circumstances")).to_have_value("Infant with unexplained bruising.")
    await walk.check(chair, "returned-sheet-prefilled")
    await sheet.get_by_label("Circumstances").fill("Bruising; health chronology added.")
    await submit(chair, sheet)
    # The chair's check-answers step by keyboard alone.
    await tab_to(chair, chair.get_by_role("button", name="Issue to the three Executives"))
    await chair.keyboard.press("Enter")
    await chair.wait_for_load_state()
    await confirmed(chair, walk, "sheet-reissued", "Decision sheet issued")

    # The three Executives approve version 2, each seeing why version 1 was returned and what changed.
    first = await sign_in_as("exec.la")
    await first.goto(f"/cases/{reference}/sign-off")
    await expect(first.get_by_test_id("return-comments")).to_contain_text("Please add the health chronology.")
    changes = first.get_by_test_id("field-changes")
    await expect(changes).to_contain_text("Summary of the circumstances")
    await expect(changes).to_contain_text("Infant with unexplained bruising.")
    await expect(changes).to_contain_text("Bruising; health chronology added.")
    await walk.check(first, "approver-page")
    undeclared = await decide("exec.la", "Approve version 2", declare=False)
    await shows_error(undeclared, walk, "approve-without-declaration", "Confirm that you have read this version",
                      "sign_off-declaration")
    for approver in ("exec.la", "exec.icb", "exec.police"):
        page = await decide(approver, "Approve version 2", keyboard=approver == "exec.police")
        await confirmed(page, walk, f"approved-{approver.split('.')[1]}", "Decision sheet approved")
    # The partners decided on a local CSPR: it starts at once, and the Executive is asked how it will take place.
    await expect(page.get_by_text("Decide how the local CSPR will take place")).to_be_visible()
    await chair.goto(f"/cases/{reference}")
    await expect(chair.get_by_test_id("stage")).to_have_text("Methodology")
    timeline = chair.locator("section", has=chair.get_by_role("heading", name="Timeline"))
    # The timeline says in the past tense who did what and how it ended, each person named once with their seat.
    for entry in ("(Executive, Integrated Care Board seat) returned the decision sheet, version 1, to the chair.",
                  "(Executive, Police seat) approved the decision sheet, version 2.",
                  "issued the decision sheet, version 2.", "sent the information return of Police",
                  "(Business unit) was refused: convene panel"):
        await expect(timeline).to_contain_text(entry)
    await walk.check(chair, "case-after-sign-off")

    # Closing a case asks first, with a warning, and is not the green button; cancelling keeps what was typed.
    await manager.goto(f"/cases/{reference}")
    await manager.get_by_text("Corrections and other decisions").click()  # behind the main task
    closing = action_form(manager, "close_case")
    await expect(closing.get_by_role("button", name="Close case")).to_have_class("secondary")
    await closing.get_by_label("Reason").fill("Duplicate of another referral.")
    await submit(manager, closing)
    await expect(manager.get_by_role("heading", name="Propose to the partners: close the case")).to_be_visible()
    await expect(manager.get_by_text("takes effect (the case closes and its deadlines stop) only when all three "
                                     "agree")).to_be_visible()
    await walk.check(manager, "close-confirmation")
    await manager.get_by_role("button", name="Cancel").click()
    await expect(action_form(manager, "close_case").get_by_label("Reason")).to_have_value(
        "Duplicate of another referral.")
    await expect(manager.get_by_test_id("stage")).to_have_text("Methodology")

    # Closing is the partners' decision: the business unit proposes it, each seat sees it and agrees or disagrees.
    await submit(manager, action_form(manager, "close_case"))
    await manager.get_by_role("button", name="Propose to the three partners").click()
    await manager.wait_for_load_state()
    await confirmed(manager, walk, "close-proposed", "Proposed to the three partners")
    await expect(manager.get_by_test_id("stage")).to_have_text("Methodology")
    await expect(manager.get_by_test_id("joint-decisions")).to_contain_text(
        "Close the case: Duplicate of another referral.")
    await expect(manager.get_by_test_id("joint-decisions")).to_contain_text(
        "Waiting on Local authority, Integrated Care Board, Police")
    seat = await sign_in_as("exec.icb")
    await seat.goto(f"/cases/{reference}")
    answer = action_form(seat, "answer_joint_decision")
    await expect(answer).to_contain_text("Close the case: Duplicate of another referral.")
    await answer.get_by_label("Disagree").check()
    await answer.get_by_label("Comments").fill("The review's learning is still needed.")
    await submit(seat, answer)
    await confirmed(seat, walk, "close-disagreed", "Your disagreement is recorded")
    await expect(seat.get_by_test_id("joint-decisions")).to_contain_text("Not agreed")
    await expect(seat.get_by_test_id("joint-decisions")).to_contain_text(
        "Integrated Care Board (ICB Chief Nursing Officer) disagreed")
    await expect(seat.get_by_test_id("stage")).to_have_text("Methodology")

    auditor = await sign_in_as("auditor")
    await auditor.goto(f"/audit/{reference}")
    await expect(auditor.get_by_test_id("chain")).to_contain_text("Intact")
    timeline = auditor.locator("table.audit-log")
    await expect(timeline).to_contain_text("opened the case page")
    await expect(auditor.get_by_role("navigation", name="Pages of the log")).to_contain_text("Page 1 of")
    # The case's whole log (every page) as the auditor downloads it for a spreadsheet: each step says its outcome.
    log = await (await auditor.request.get(f"/audit/{reference}/log.csv")).text()
    for step in ("submitted the referral", "accepted the referral", "proposed the notification decision: to notify",
                 "agreed with the notification decision proposed", "recorded the notification to the National Panel",
                 "was refused “Convene panel”", "convened the panel for", "recorded the panel's outcome",
                 "issued the decision sheet", "(Executive) approved the decision sheet, version 2",
                 "(Executive) returned the decision sheet, version 1, to the chair", "opened the case page",
                 "read the agencies' information returns"):
        assert step in log, f"{step!r} missing from the case's log"
    await auditor.goto(f"/audit/{reference}/history")
    history = auditor.locator("section", has=auditor.get_by_role("heading", name="The case's workflow"))
    await history.locator("summary", has_text="Show the").click()
    await expect(history).to_contain_text("Workflow execution started")
    await expect(history).to_contain_text("Workflow execution update accepted")
    await auditor.goto(f"/audit/{reference}")
    await auditor.screenshot(path=ARTIFACTS / "audit.png", full_page=True)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_delay_reason_is_asked_only_once_a_deadline_is_missed(sign_in_as, driver, case_env):
    """No "Reason for the delay" on a case in time; once the notification is late, the form names the missed
    deadline and needs the reason, which then stands beside the deadline."""
    walk = Walk()
    await driver.start(awareness_days_ago=0)
    await driver.act("accept_referral", "bu")
    await driver.agree_notification()
    csc = await sign_in_as("csc.lead")
    await csc.goto(f"/cases/{driver.reference}")
    await expect(action_form(csc, "record_notification").get_by_label("Notification reference")).to_be_visible()
    await expect(csc.get_by_label("Reason for the delay")).to_have_count(0)

    await case_env.sleep(timedelta(days=10))
    late_day = await driver.today()
    await csc.goto(f"/cases/{driver.reference}")
    notification = action_form(csc, "record_notification")
    await expect(notification.get_by_text("This case missed: Serious incident notification to the National "
                                          "Panel")).to_be_visible()
    await fill_date(notification, "Date notified", late_day)
    await notification.get_by_label("Notification reference").fill("OF-9")
    await submit(csc, notification)
    await shows_error(csc, walk, "late-without-reason", "Enter the reason for the delay",
                      "record_notification-delay_reason")
    notification = action_form(csc, "record_notification")
    await expect(notification.get_by_label("Notification reference")).to_have_value("OF-9")
    await notification.get_by_label("Reason for the delay").fill("Awaiting the police view over a weekend.")
    await submit(csc, notification)
    await confirmed(csc, walk, "late-notified", "Notification recorded")
    await expect(csc.locator("section", has=csc.get_by_role("heading", name="Statutory deadlines"))).to_contain_text(
        "Reason for the delay: Awaiting the police view over a weekend.")
    await expect(csc.get_by_label("Reason for the delay")).to_have_count(0)


PATH_VALUES = {"reference": "RR-1999-999", "action": "convene_panel", "action_id": 1, "escalation_id": 1,
               "user_id": 999999, "day_id": 999999, "key": "safeguarding_adults_review", "other": "SAR-2026-999"}



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
