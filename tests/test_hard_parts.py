"""The hard parts of the job against real cases (issue 29): the chair's decision sheet asked in sections with its
required questions checked and each answer changeable from check-your-answers; the panel pack as a print view (its
PDF is read in test_panel_pack); the workload by named person and the action plan's owners named through one Change
link per action; the referrer's receipt by e-mail through a real SMTP server; 'what happens next' at every stage of a
local CSPR. Every page passes axe (WCAG 2.2 AA) at desktop, 640 and 320 px without sideways scrolling."""

import html
import re
from datetime import timedelta
from email import message_from_bytes

import pytest
from aiosmtpd.controller import Controller
from playwright.async_api import expect

from engine.calendar import london_date
from service.platform.outbox import deliver_pending
from service.platform.runner import free_port
from service.web.wording import long_date
from tests import test_web
from tests.cases import CaseDriver
from tests.test_accessibility import check_each_width
from tests.test_notifications import Inbox

site, browser, sign_in_as = test_web.site, test_web.browser, test_web.sign_in_as  # one service, one browser

REQUIRED_MESSAGES = ["Enter a summary of the circumstances", "Select whether the child died or was seriously harmed",
                     "Select the sex of the child", "Enter the voice of the child and family",
                     "Enter what has been done for the safety of siblings and other children",
                     "Select whether the family has been told about the rapid review"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # pages; the workflow runs on both elsewhere
async def test_the_chair_writes_the_decision_sheet_in_sections_and_changes_an_answer(
        sign_in_as, case_env, case_worker, engine):
    driver = CaseDriver(case_env, case_worker, engine)
    await driver.to_decision_sheet()
    chair = await sign_in_as("panel.chair")
    await chair.goto(f"/cases/{driver.reference}")
    sheet = test_web.action_form(chair, "issue_decision_sheet")
    legends = await sheet.locator("fieldset.section > legend").all_inner_texts()
    assert legends == ["The incident", "The child (no names)", "The child's experience and other children",
                       "Practice and other processes", "Criteria and recommendation"]
    await expect(sheet.get_by_label("The voice of the child and family")).to_have_attribute(
        "aria-describedby", "issue_decision_sheet-voice_of_child_and_family-hint")
    await expect(sheet.get_by_text("Ethnicity of the child (optional)")).to_be_visible()
    await expect(sheet.get_by_role("group", name="The partners' recommendation")
                 .get_by_label("Local child safeguarding practice review")).to_be_checked()  # from the panel

    # Sent with nothing answered: nothing is issued, and the summary names every required question.
    await test_web.submit(chair, sheet, "Issue decision sheet")
    summary = chair.get_by_test_id("error-summary")
    assert await summary.get_by_role("link").all_inner_texts() == REQUIRED_MESSAGES
    await expect(summary.get_by_role("link", name="Select the sex of the child")).to_have_attribute(
        "href", "#issue_decision_sheet-child_sex-female")
    await check_each_width(chair, "decision-sheet-errors")
    assert (await driver.state())["stage"] == "decision_sheet"

    sheet = test_web.action_form(chair, "issue_decision_sheet")
    await sheet.get_by_label("Summary of the circumstances").fill("Infant with unexplained bruising.")
    await sheet.get_by_label("Seriously harmed").check()
    await sheet.get_by_role("group", name="Sex of the child").get_by_label("Female").check()
    await sheet.get_by_label("The voice of the child and family").fill("Too young to speak; the mother was worried.")
    await sheet.get_by_label("Safety of siblings and other children").fill("An older sibling is on a plan.")
    await sheet.get_by_role("group", name="Has the family been told").get_by_label("Not yet").check()
    await test_web.submit(chair, sheet, "Issue decision sheet")

    # Check your answers, in the same sections, each with its Change button; changing one keeps the rest.
    await expect(chair.get_by_role("heading", name="Check your answers")).to_be_visible()
    answers = chair.get_by_test_id("check-answers")
    await expect(answers.get_by_role("heading", name="The child's experience and other children")).to_be_visible()
    await expect(answers).to_contain_text("An older sibling is on a plan.")
    await check_each_width(chair, "decision-sheet-check-answers")
    await answers.get_by_role("button", name="Change the voice of the child and family").click()
    await chair.wait_for_load_state()
    assert chair.url.endswith("#issue_decision_sheet-voice_of_child_and_family")
    voice = test_web.action_form(chair, "issue_decision_sheet").get_by_label("The voice of the child and family")
    await expect(voice).to_be_in_viewport()
    await expect(voice).to_have_value("Too young to speak; the mother was worried.")
    await voice.fill("Too young to speak; the mother said she had asked for help.")
    await test_web.submit(chair, test_web.action_form(chair, "issue_decision_sheet"), "Issue decision sheet")
    await expect(answers).to_contain_text("the mother said she had asked for help")
    await expect(answers).to_contain_text("Infant with unexplained bruising.")
    await chair.get_by_role("button", name="Issue to the three Executives").click()
    await expect(chair.get_by_test_id("confirmation")).to_contain_text("Decision sheet issued")
    sheet = (await driver.state())["decision_sheet"]
    assert sheet["voice_of_child_and_family"] == "Too young to speak; the mother said she had asked for help."
    assert (sheet["child_sex"], sheet["family_told_of_review"], sheet["child_outcome"]) == (
        "female", "not_yet", "seriously_harmed")

    # The panel pack for paper: a print view of the pack alone (no navigation).
    await chair.goto(f"/cases/{driver.reference}/panel-pack")
    await chair.get_by_role("link", name="Open the print view").click()
    await expect(chair.get_by_role("heading", name=f"Panel pack: {driver.reference}")).to_be_visible()
    await expect(chair.get_by_role("navigation", name="Main")).to_have_count(0)
    await expect(chair.get_by_test_id("side-by-side")).to_contain_text("Advice given; not followed up.")
    await check_each_width(chair, "panel-pack-print")

    # The business unit: the workload by named person, and the action plan's owners named through one Change link
    # per action (the panel's immediate action has none yet).
    manager = await sign_in_as("strategy.manager")
    await manager.goto("/workload")
    await expect(manager.get_by_test_id("workload-people")).to_contain_text("(Executive, Local authority seat)")
    await check_each_width(manager, "workload-by-person")
    await manager.goto("/action-plan")
    plan = manager.get_by_test_id("action-plan")
    row = plan.locator("tr", has_text="Safe sleep briefing")
    await expect(row).to_contain_text("No owner named yet")
    await expect(plan.locator("form")).to_have_count(0)
    await check_each_width(manager, "action-plan")
    await row.get_by_role("link", name="Change").click()
    await manager.get_by_label("Owner", exact=True).fill("Sam Patel")
    await manager.get_by_label("Owner's agency").select_option(label="Education (schools)")
    await manager.get_by_label("In progress").check()
    await check_each_width(manager, "action-plan-change")
    await manager.get_by_role("button", name="Save the changes").click()
    await expect(plan.locator("tr", has_text="Safe sleep briefing")).to_contain_text("Sam Patel, Education (schools)")
    await expect(plan.locator("tr", has_text="Safe sleep briefing")).to_contain_text("In progress")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the outbox runs on both in its own tests
async def test_the_referrer_is_told_by_email_that_her_referral_was_received(api, case_env, engine, settings):
    today = london_date(await case_env.get_current_time())
    referral = {"pseudonym": "Child-Q-Pseudonym", "age_band": "1-4", "summary": "Burns seen at nursery drop-off.",
                "incident_date": str(today), "awareness_date": str(today), "referring_agency": "education"}
    headers = await api.as_user("agency.education") | {"Idempotency-Key": "referral-once"}
    created = await api.post("/api/cases", headers=headers, json=referral)
    assert created.status_code == 201, created.text
    reference = created.json()["reference"]
    again = await api.post("/api/cases", headers=headers, json=referral)  # a retry of the same request
    assert again.json()["reference"] == reference

    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        smtp = settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_starttls": False})
        assert (await deliver_pending(engine, smtp))["failed"] == 0
    finally:
        controller.stop()
    to_referrer = [m for m in inbox.messages if m.rcpt_tos == ["agency.education@example.org"]]
    assert len(to_referrer) == 1, "one receipt, however often the request was sent"
    mail = message_from_bytes(to_referrer[0].content)
    text = mail.get_payload(decode=True).decode()
    assert mail["Subject"] == f"[OFFICIAL-SENSITIVE] {reference}: your referral was received"
    assert f"Its reference is {reference}" in text and f"received on {long_date(today)}" in text
    assert "The business unit reads your referral and decides whether to accept it" in text, "what happens next"
    assert f"/referrals/{reference}" in text
    for identifying in ("Child-Q-Pseudonym", "Burns", "nursery"):
        assert identifying not in mail.as_string(), f"the e-mail names {identifying!r}"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # pages over the workflow's state
async def test_what_happens_next_names_who_acts_at_every_stage_of_the_local_cspr(driver, api):
    """The case page's 'What happens next' through a whole local CSPR: the business unit's own steps, each seat yet
    to approve the final report (never the business unit), the partners while a proposal is open or publication is
    held."""
    today = await driver.to_practice_review()
    await api.sign_in_page("strategy.manager")

    async def next_steps() -> list[str]:
        page = await api.get(f"/cases/{driver.reference}")
        assert page.status_code == 200, page.text
        found = re.search(r'<ul data-testid="waiting-on">(.*?)</ul>', page.text, re.S)
        return [" ".join(html.unescape(re.sub(r"<[^>]+>", "", item)).split())
                for item in re.findall(r"<li>(.*?)</li>", found.group(1), re.S)]

    async def waits(*expected: str) -> None:
        steps = await next_steps()
        assert [step.split(" (by ")[0] for step in steps] == list(expected), steps

    await waits("Agree the review's terms of reference: waiting on Business unit")
    await driver.review("agree_terms_of_reference", "bu", agreed_on=today, scope="Six months before harm.")
    await waits("Commission the reviewer: waiting on Business unit")
    await driver.review("commission_reviewer", "bu", commissioned_on=today, reviewer="A. Reviewer")
    await waits("Hold the review's learning events and record the draft report: waiting on Business unit")
    await driver.review("submit_draft_report", "bu", received_on=today)
    await waits("Record the final report and submit it for the partners' sign-off: waiting on Business unit")
    await driver.review("submit_final_report", "bu", received_on=today, recommendations=["Safe sleep audit"])
    approve = "Approve or return the final report, version 1: waiting on Executive"
    await waits(f"{approve} (Local authority)", f"{approve} (Integrated Care Board)", f"{approve} (Police)")
    await driver.review("sign_off_report", "la", version=1, decision="approve")
    await waits(f"{approve} (Integrated Care Board)", f"{approve} (Police)")
    for seat in ("icb", "police"):
        await driver.review("sign_off_report", seat, version=1, decision="approve")
    await waits("Send the final report to the National Panel and the Department for Education before publication: "
                "waiting on Business unit")
    notice = await driver.review("send_publication_notice", "bu", sent_on=today)
    earliest = long_date(notice["earliest_publication"])
    await waits(f"Publish the report on or after {earliest} (the notice period), or record why it is not published: "
                "waiting on Business unit")

    review_id = f"{driver.reference}-cspr"
    review_on = str(await driver.today() + timedelta(days=90))
    proposed = await driver.review("hold_publication", "police", reasons="Trial listed.", review_on=review_on)
    summary = next(p["summary"] for p in proposed["joint_proposals"] if p["status"] == "open")
    summary = summary.replace(review_on, long_date(review_on)).rstrip(".")
    steps = await next_steps()
    assert [s for s in steps if s.startswith("Agree or disagree")] == [
        f"Agree or disagree with the decision proposed to the partners ({summary}): waiting on Executive ({seat})"
        for seat in ("Local authority", "Integrated Care Board")], steps
    for seat in ("la", "icb"):
        await driver.review("answer_review_decision", seat, proposed_action="hold_publication", version=1,
                            view="agree", comments="Agreed.")
    steps = await next_steps()
    assert steps == [f"Publication is held by the partners: they decide when to lift the hold: waiting on Executive "
                     f"(by {long_date(review_on)})"], steps
    await driver.partners_decide("lift_publication_hold", "la", workflow_id=review_id, reasons="Trial concluded.")
    await driver.sleep_working_days(7)
    published = str(await driver.today())
    await driver.review("record_publication", "bu", published_on=published, link="https://example.org/r")
    await waits("Hold the learning workshop after publication: waiting on Business unit")
    await driver.review("record_learning_workshop", "bu", held_on=published)
    await waits("Hold the learning workshop one year after publication: waiting on Business unit")
