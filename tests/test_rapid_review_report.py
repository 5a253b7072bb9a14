"""The rapid review the National Panel expects, through the workflow: the decision sheet issued with the child's
characteristics, the reg. 11 and reg. 3 criteria, practice, parallel processes, the family's voice and other
children, signed off by each partner in a stated capacity, and submitted to the Panel as the full report. And the
7-minute briefing built from the final report's agreed learning, marked for sharing."""

import html
import re

from service.web.wording import long_date

REPORT = {
    "circumstances": "Infant admitted with a head injury.", "local_review_criteria": ["a", "c"],
    "criteria_notes": "Health and education did not share concerns.", "national_review_criteria": ["b"],
    "child_sex": "male", "child_ethnicity": "Mixed White and Black Caribbean", "child_disability": "None known",
    "child_status": ["child_protection_plan"], "key_practice_episodes": ["Missed health visit, 2026-09-12",
                                                                         "Strategy discussion without health"],
    "parallel_processes": ["police_investigation", "inquest"], "parallel_processes_notes": "Inquest opened.",
    "voice_of_child_and_family": "Father says no one asked him.", "family_told_of_review": "yes",
    "siblings_and_other_children": "Sibling (3) placed with grandparents.",
    "child_outcome": "seriously_harmed", "family_and_household": "Mother, father and a sibling aged 3.",
    "area": "North locality",
}


def html_of(settings, document) -> str:
    return settings.document_store().read(document.html_path).decode()


def text_of(settings, document) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", html_of(settings, document))).split())


async def issued(driver, kind: str, version: int | None = None):
    documents = await driver.documents()
    found = [d for d in documents if d.kind == kind and (version is None or d.version == version)]
    assert len(found) == 1, (kind, version, [(d.kind, d.version) for d in documents])
    return found[0]


async def test_decision_sheet_carries_what_the_national_panel_asks(driver, settings):
    await driver.to_sign_off()  # version 1 as issued before these fields existed: a yes-or-no only
    old = text_of(settings, await issued(driver, "decision_sheet", 1))
    assert "Criteria for a local review met: Yes (the criteria were not itemised on this version)" in old
    assert "Notification reference OF-12345" in old and "Sex Not recorded" in old
    await driver.act("sign_off", "la", version=1, decision="return", comments="Itemise the criteria.",
                     capacity="lead")
    state = await driver.act("issue_decision_sheet", "chair", **REPORT)
    sheet = state["decision_sheet"]
    assert sheet["local_review_criteria"] == ["a", "c"] and sheet["local_review_criteria_met"] is True
    assert sheet["national_importance"] is True, "a reg. 3 criterion listed answers the national question"
    v2 = text_of(settings, await issued(driver, "decision_sheet", 2))
    for expected in ("Notification reference OF-12345", "Sex Male", "Mixed White and Black Caribbean",
                     "Subject of a child protection plan", "Missed health visit, 2026-09-12",
                     "Strategy discussion without health", "Police investigation", "Coroner's inquest",
                     "Inquest opened.", "Father says no one asked him.", "Family told of the review Yes",
                     "Sibling (3) placed with grandparents.", "have been previously identified Yes",
                     "Criteria for a local "
                     "review met: Yes .", "complex or of national importance: Yes",
                     "Safeguarding partners' decision Awaiting the safeguarding partners' three-way sign-off",
                     "Lead safeguarding partner", "The child died or was seriously harmed Seriously harmed",
                     "Area where the child lived North locality", "Family and household Mother, father and a sibling "
                     "aged 3.", "Date of the incident", "Date the local authority became aware"):
        assert expected in v2, f"{expected!r} missing from the decision sheet"
    assert "working together effectively to safeguard and promote the welfare of children Yes" in v2
    assert "concluded a local review may be more appropriate No" in v2

    await driver.act("sign_off", "la", version=2, decision="approve", capacity="delegated")
    await driver.act("sign_off", "icb", version=2, decision="approve", capacity="lead")
    state = await driver.act("sign_off", "police", version=2, decision="approve")
    assert [s["capacity"] for s in state["sign_offs"] if s["version"] == 2] == ["delegated", "lead", None]
    signed = text_of(settings, await issued(driver, "decision_sheet_signed", 2))
    decided = state["partners_decided_on"]
    assert f"Local child safeguarding practice review (LCSPR) , decided on {long_date(decided)}" in signed
    assert "DCS Delegated safeguarding partner" in signed and "ICB CNO Lead safeguarding partner" in signed
    assert "Ch Supt Not recorded" in signed

    await driver.act("record_submission", "bu", submitted_on=decided)
    submission = text_of(settings, await issued(driver, "national_panel_submission"))
    assert "The full rapid review follows" in submission
    for expected in ("Notification reference OF-12345", "Infant admitted with a head injury.", "Sex Male",
                     "Father says no one asked him.", "Sibling (3) placed with grandparents.",
                     "Rapid Review Panel's recommendation Local child safeguarding practice review",
                     "within 15 working days of the notification", "DCS Delegated safeguarding partner"):
        assert expected in submission, f"{expected!r} missing from the submission"


async def test_seven_minute_briefing_from_the_agreed_learning(driver, settings):
    await driver.to_sign_off()
    await driver.approve_all(version=1)
    today = str(await driver.today())
    await driver.partners_decide("choose_methodology", "la", decided_on=today, methods=["partner_led_workshop"],
                     reviewer="Independent reviewer", reviewer_kind="independent", lead="Strategy Manager")
    await driver.review("agree_terms_of_reference", "bu", agreed_on=today, scope="Six months before harm.")
    await driver.review("commission_reviewer", "bu", commissioned_on=today, reviewer="A. Reviewer")
    await driver.review("record_learning_event", "bu", kind="practitioner_workshop", held_on=today,
                        note="Health visitor H. said the mother was at 12 Acacia Road")
    await driver.review("submit_draft_report", "bu", received_on=today)
    await driver.review("submit_final_report", "bu", received_on=today, recommendations=["Safe sleep audit"],
                        key_learning=["Ask where the baby sleeps, every visit"])
    for seat in ("la", "icb", "police"):
        await driver.review("sign_off_report", seat, version=1, decision="approve")
    await driver.review("send_publication_notice", "bu", sent_on=today)
    await driver.sleep_working_days(7)
    await driver.review("record_publication", "bu", published_on=str(await driver.today()),
                        link="https://example.org/r")
    await driver.settled(f"{driver.reference}-cspr")
    briefing = await issued(driver, "seven_minute_briefing")
    page = html_of(settings, briefing)
    assert "OFFICIAL – for sharing with partner agencies" in page and "OFFICIAL-SENSITIVE" not in page
    words = text_of(settings, briefing)
    assert "What we learned Ask where the baby sleeps, every visit" in words
    assert "agreed to change Safe sleep audit" in words
    assert "Acacia Road" not in words, "learning-event notes hold case detail: never in the briefing"
