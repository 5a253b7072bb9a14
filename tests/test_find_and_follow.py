"""Find and follow, in Chromium against real cases: an agency member refers and lands on her referral's confirmation,
follows it in My referrals (accepted once the business unit accepts it) and still cannot open the case; the business
unit finds a closed case by its reference in the case list and the declined one by its status; a case page with
documents does not scroll sideways at 320 px. Every page passes axe (WCAG 2.2 AA) at desktop, 640 and 320 px."""

import re
from datetime import date

import pytest
from playwright.async_api import expect
from sqlmodel import Session, select

from records.models import AuditEvent, CaseRecord, User
from service.cases.case_list import PER_PAGE
from service.web.wording import long_date
from tests import test_web
from tests.cases import CaseDriver
from tests.test_accessibility import check_each_width

site, browser, sign_in_as = test_web.site, test_web.browser, test_web.sign_in_as  # one service, one browser


async def closed_and_declined(case_env, case_worker, engine) -> tuple[str, str]:
    """Two cases the board no longer shows: one closed, one whose referral was declined (after the partners agreed
    not to notify)."""
    closed, declined = CaseDriver(case_env, case_worker, engine), CaseDriver(case_env, case_worker, engine)
    await closed.start()
    await closed.act("close_case", "bu", reason="Referred to the wrong partnership.")
    await declined.start()
    await declined.act("accept_referral", "bu")
    await declined.agree_notification("do_not_notify", rationale="No abuse or neglect suspected.")
    await declined.act("decline_referral", "bu", reason="The criteria are not met.")
    await declined.settled()
    return closed.reference, declined.reference


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # pages; the queries run on both in test_case_list
async def test_a_referrer_follows_her_referral_and_the_business_unit_finds_closed_cases(
        sign_in_as, site, case_env, case_worker, engine):
    closed, declined = await closed_and_declined(case_env, case_worker, engine)
    today = await CaseDriver(case_env, case_worker, engine).today()

    # The agency member refers and lands on her referral's confirmation, not on a case she cannot see.
    referrer = await sign_in_as("agency.education")
    await referrer.get_by_role("link", name="New referral").click()
    await referrer.get_by_label("Pseudonym").fill("Child R")
    await referrer.get_by_label("Under 1").check()
    await referrer.get_by_label("Summary").fill("Bruising seen at nursery.")
    await test_web.fill_date(referrer, "Date of the incident", today)
    await test_web.fill_date(referrer, "Date the local authority became aware", today)
    await referrer.get_by_label("Referring agency").select_option("education")
    await test_web.submit(referrer, referrer.locator("form[action='/cases/new']"))
    await expect(referrer).to_have_url(re.compile(r"/referrals/RR-\d{4}-\d+\?done=submit_referral$"))
    reference = referrer.url.split("?")[0].rsplit("/", 1)[-1]
    banner = referrer.get_by_test_id("confirmation")
    await expect(banner).to_contain_text(f"Referral submitted ({reference})")
    await expect(banner).to_contain_text("The business unit reads your referral and decides whether to accept it")
    await expect(banner).to_contain_text("We have e-mailed you a receipt with the reference.")
    await expect(referrer.get_by_test_id("status")).to_have_text("Waiting for a decision")
    await expect(referrer.get_by_test_id("stage")).to_have_text("Referral")
    await check_each_width(referrer, "follow-referral-confirmation")

    await referrer.get_by_role("link", name="My referrals").first.click()
    row = referrer.locator(f"tr[data-reference='{reference}']")
    await expect(row).to_contain_text("Child R")
    await expect(row).to_contain_text("Waiting for a decision")
    await check_each_width(referrer, "follow-my-referrals")
    refused = await referrer.goto(f"/cases/{reference}")  # the case's content is not hers to read
    assert refused.status == 404
    await expect(referrer.get_by_role("heading", name="Page not found")).to_be_visible()

    with Session(engine) as session:  # each reading is on the record, under her name
        readings = session.exec(select(AuditEvent.action).join(User, User.id == AuditEvent.actor_id).where(
            User.username == "agency.education", AuditEvent.case_reference == reference)).all()
    assert {"read_referral", "denied"} <= set(readings) and "read_case" not in readings

    # The business unit accepts it; the referrer sees that, and the day, on her referral's page.
    manager = await sign_in_as("strategy.manager")
    await manager.goto(f"/cases/{reference}")
    await test_web.submit(manager, test_web.action_form(manager, "accept_referral"))
    await expect(manager.get_by_test_id("confirmation")).to_contain_text("Referral accepted")
    await referrer.goto("/referrals")
    await row.get_by_role("link", name=reference).click()
    await expect(referrer.get_by_test_id("status")).to_have_text("Accepted")
    await expect(referrer.get_by_test_id("referral-status").locator(".row", has_text="Accepted on")).to_have_count(0)
    await expect(referrer.get_by_test_id("accepted")).to_have_text(long_date(today))
    await expect(referrer.get_by_test_id("confirmation")).to_have_count(0)
    await expect(referrer.get_by_role("link", name=re.compile("Open the case"))).to_have_count(0)

    # The business unit finds the closed case by its reference, and the declined one by its status.
    await manager.get_by_role("link", name="All cases").click()
    await expect(manager.locator(f"tr[data-reference='{closed}']")).to_be_visible()  # not on the board, here
    await manager.get_by_label("Reference or pseudonym").fill(closed.lower())
    await manager.get_by_role("button", name="Find cases").click()
    await expect(manager.get_by_test_id("found")).to_have_text("1 case found")
    found = manager.locator(f"tr[data-reference='{closed}']")
    await expect(found).to_contain_text("Closed")
    await expect(found).to_contain_text(long_date(today))  # the day it closed
    await check_each_width(manager, "find-closed-case")
    await manager.get_by_label("Reference or pseudonym").fill("")
    await manager.get_by_label("Status").select_option(label="Declined")
    await manager.get_by_role("button", name="Find cases").click()
    await expect(manager.locator("tbody tr")).to_have_count(1)
    await expect(manager.locator(f"tr[data-reference='{declined}']")).to_contain_text("Declined")
    await manager.get_by_label("Status").select_option(label="Open")
    await manager.get_by_role("button", name="Find cases").click()
    await expect(manager.locator(f"tr[data-reference='{reference}']")).to_contain_text("CSC consultation")
    await expect(manager.locator(f"tr[data-reference='{closed}']")).to_have_count(0)

    # A year of older cases (rows of the read model, as their steps wrote them) runs to a second page.
    with Session(engine) as session:
        for number in range(1, PER_PAGE + 2):
            session.add(CaseRecord(reference=f"RR-2019-{number:03d}", pseudonym="Older", stage="closed",
                                   opened_on=date(2019, 5, 1), year=2019, awareness_date=date(2019, 5, 1)))
        session.commit()
    await manager.goto("/cases")
    await manager.get_by_label("Year opened").select_option("2019")
    await manager.get_by_label("Sort by").select_option(label="Reference")
    await manager.get_by_role("button", name="Find cases").click()
    await expect(manager.get_by_test_id("found")).to_have_text(f"{PER_PAGE + 1} cases found, page 1 of 2")
    await manager.get_by_role("navigation", name="Pages of cases").get_by_role("link", name="Next page").click()
    await expect(manager.locator("tbody tr")).to_have_count(1)
    await expect(manager.locator(f"tr[data-reference='RR-2019-{PER_PAGE + 1:03d}']")).to_be_visible()
    await check_each_width(manager, "find-second-page")

    # The declined case's page lists its documents (the no-notification letter): no sideways scroll at 320 px.
    await manager.goto(f"/cases/{declined}")
    await expect(manager.get_by_role("region", name="Documents table").get_by_role("link").first).to_be_visible()
    await manager.set_viewport_size({"width": 320, "height": 800})
    assert await manager.evaluate(test_web.WIDER_THAN_WINDOW) == []
    await manager.set_viewport_size(test_web.DESKTOP)
