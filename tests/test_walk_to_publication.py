"""The rest of the path through the pages: after the partners' sign-off (walked page by page in test_web.py), the
business unit records the submission and the National Panel's reply, an Executive decides how the local CSPR will
take place, the review runs, the three Executives approve the final report and the business unit publishes: each
action on the case page ends on a confirmation, and each page passes axe with no raw code, JSON or ISO date."""

from datetime import date, timedelta

import pytest
from playwright.async_api import expect

from engine.calendar import london_date
from tests import test_web, test_web_pages

site, browser, sign_in_as = test_web.site, test_web.browser, test_web.sign_in_as  # one service, one browser
check_page = test_web_pages.check_page
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


async def take(page, action: str, **answers) -> None:
    """Fill the action's form on the case page by its fields' names (dates as day, month and year boxes, lists
    one per line, choices ticked) and send it; the page must confirm it."""
    form = page.locator(f"form[action$='/actions/{action}']")
    await expect(form).to_be_visible()
    for name, value in answers.items():
        if isinstance(value, date):
            for part, number in (("day", value.day), ("month", value.month), ("year", value.year)):
                await form.locator(f"[name='{name}-{part}']").fill(str(number))
        elif isinstance(value, list):
            for choice in value:
                await form.locator(f"[name='{name}'][value='{choice}']").check()
        elif isinstance(value, tuple):  # a radio choice
            await form.locator(f"[name='{name}'][value='{value[0]}']").check()
        else:
            await form.locator(f"[name='{name}']").fill(value)
    await form.get_by_role("button").last.click()
    await page.wait_for_load_state()
    await expect(page.get_by_test_id("confirmation")).to_be_visible()
    await check_page(page, f"publication-{action}")


async def test_from_sign_off_to_publication_through_the_pages(driver, sign_in_as, case_env):
    await driver.to_sign_off()
    await driver.approve_all(version=1)
    reference = driver.reference
    today = london_date(await case_env.get_current_time())

    manager = await sign_in_as("strategy.manager")
    await manager.goto(f"/cases/{reference}")
    await take(manager, "record_submission", submitted_on=today)
    await take(manager, "record_national_panel_response", received_on=today, content="The Panel agrees.",
               panel_view=("agrees",))

    executive = await sign_in_as("exec.la")
    await executive.goto(f"/cases/{reference}")
    await take(executive, "choose_methodology", decided_on=today, methods=["partner_led_workshop"],
               reviewer="Independent reviewer", reviewer_kind=("independent",), lead="Strategy Manager")
    await expect(executive.get_by_test_id("stage")).to_have_text("Methodology")  # proposed to the partners
    for seat in ("exec.icb", "exec.police"):  # each seat agrees from the case page
        page = await sign_in_as(seat)
        await page.goto(f"/cases/{reference}")
        await take(page, "answer_joint_decision", view=("agree",))
    await expect(page.get_by_test_id("stage")).to_have_text("Practice review")

    await manager.goto(f"/cases/{reference}")
    await take(manager, "agree_terms_of_reference", agreed_on=today, scope="Six months before the harm.")
    await take(manager, "commission_reviewer", commissioned_on=today, reviewer="A. Reviewer")
    await take(manager, "submit_draft_report", received_on=today)
    # The reviewer's report uploaded as a file, then submitted for sign-off by its number.
    upload = manager.get_by_test_id("upload-final-report")
    await upload.locator("input[type=file]").set_input_files(
        files=[{"name": "final.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4\n%%EOF\n"}])
    await upload.get_by_role("button", name="Upload").click()
    await manager.wait_for_load_state()
    await expect(manager.get_by_test_id("confirmation")).to_contain_text("Final report uploaded")
    await check_page(manager, "publication-upload-final-report")
    await expect(manager.locator("form[action$='/actions/submit_final_report'] [name='report_document']")
                 ).not_to_have_value("")
    await take(manager, "submit_final_report", received_on=today, recommendations="Safe sleep audit")

    for approver in ("exec.la", "exec.icb", "exec.police"):
        page = await sign_in_as(approver)
        await page.goto(f"/cases/{reference}")
        if approver == "exec.la":  # the approver's own page: the file, its version and fingerprint
            await page.get_by_role("link", name="Read the final report and decide").click()
            await expect(page.get_by_test_id("report-file")).to_contain_text("upload version 1 (PDF)")
            await check_page(page, "publication-report-sign-off")
            await page.go_back()
        await take(page, "sign_off_report", decision=("approve",), capacity=("lead",))

    await manager.goto(f"/cases/{reference}")
    await take(manager, "send_publication_notice", sent_on=today)
    await case_env.sleep(timedelta(days=12))  # the notice period before publication
    published = london_date(await case_env.get_current_time())
    await manager.goto(f"/cases/{reference}")
    await take(manager, "record_publication", published_on=published, link="https://example.org/review")
    state = await driver.state(f"{reference}-cspr")
    assert state["stage"] == "learning_workshop", "published: the learning workshop is next"
    timeline = manager.locator("section", has=manager.get_by_role("heading", name="Timeline"))
    await expect(timeline).to_contain_text("(Business unit) recorded the publication.")
    # Each partner's sign-off of the final report says how it ended, not "Sign off report" three times.
    for seat in ("Local authority", "Integrated Care Board", "Police"):
        await expect(timeline).to_contain_text(f"(Executive, {seat} seat) approved the final report, version 1.")
