"""Only what this person can do now (issue 29, item 4): a seat is offered only the forms it would not be refused on,
and what happens next names the people it waits on."""

from __future__ import annotations

import re

from sqlmodel import Session, select

from records.models import Document


def forms(page: str) -> set[str]:
    return set(re.findall(r'action="/cases/[^/]+/actions/([a-z_]+)"', page))


async def test_each_seat_sees_only_the_answer_it_owes(driver, api):
    await driver.start()
    await driver.act("accept_referral", "bu")
    await driver.act("propose_sin_decision", "csc", decision="notify", rationale="Serious harm.")
    case = f"/cases/{driver.reference}"
    await api.sign_in_page("exec.police")
    assert "respond_to_sin_proposal" in forms((await api.get(case)).text)
    assert "resolve_sin_disagreement" not in forms((await api.get(case)).text), "the LA's seat decides, not police"
    await api.sign_in_page("exec.la")
    offered = forms((await api.get(case)).text)
    assert "respond_to_sin_proposal" not in offered, "the LA's view is the proposal itself"
    assert "resolve_sin_disagreement" in offered
    await driver.act("respond_to_sin_proposal", "police", version=1, view="agree", comments="Agreed.")
    await api.sign_in_page("exec.police")
    assert "respond_to_sin_proposal" not in forms((await api.get(case)).text), "answered: nothing more to do"
    await api.sign_in_page("exec.icb")
    assert "respond_to_sin_proposal" in forms((await api.get(case)).text)


async def test_the_closing_workshop_asks_first_and_final_sign_off_waits_on_the_executives(driver, api):
    today = await driver.to_practice_review()
    await driver.review("agree_terms_of_reference", "bu", agreed_on=today, scope="s")
    await driver.review("commission_reviewer", "bu", commissioned_on=today, reviewer="R")
    await driver.review("submit_draft_report", "bu", received_on=today)
    await driver.review("submit_final_report", "bu", received_on=today, recommendations=["r"])
    await driver.settled()
    state = await driver.state()
    assert {(o["what"], o["role"]) for o in state["outstanding"]} >= {
        ("Practice review: final_sign_off", "executive")}, "the three seats sign, not the business unit"
    await driver.review("sign_off_report", "la", version=1, decision="approve")
    await api.sign_in_page("exec.la")
    assert "sign_off_report" not in forms((await api.get(f"/cases/{driver.reference}")).text), "already signed"
    await api.sign_in_page("exec.icb")
    assert "sign_off_report" in forms((await api.get(f"/cases/{driver.reference}")).text)
    await api.sign_in_page("strategy.manager")
    page = await api.get(f"/cases/{driver.reference}")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    held = {"held_on-day": "1", "held_on-month": "12", "held_on-year": "2026"}
    asked = await api.post(f"/cases/{driver.reference}/actions/record_one_year_workshop",
                           data={"csrf_token": csrf, **held, "note": "n"})
    assert "Record the one-year-on workshop: the review and the case close" in asked.text
    assert "This cannot be undone" in asked.text, "the closing workshop is warned of, then done"


async def test_an_approver_decides_only_on_a_sheet_she_can_read(driver, api):
    """Approve what you read: while the decision sheet of the version asked for is not yet in the register (its
    document is prepared after the chair's answer), the approver's page says so and offers no decision."""
    await driver.to_sign_off()
    await driver.documents()  # the sheet is registered
    await api.sign_in_page("exec.icb")
    page = (await api.get(f"/cases/{driver.reference}/sign-off")).text
    assert 'action="/cases/' + driver.reference + '/actions/sign_off"' in page and "no-decision-yet" not in page
    with Session(driver.engine) as session:  # as the moment between the chair's answer and the sheet's arrival
        for row in session.exec(select(Document).where(Document.case_reference == driver.reference,
                                                       Document.kind == "decision_sheet")):
            session.delete(row)
        session.commit()
    page = (await api.get(f"/cases/{driver.reference}/sign-off")).text
    assert "/actions/sign_off" not in page
    assert "Version 1 of the decision sheet is being prepared" in page
