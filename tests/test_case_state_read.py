"""A case's state is read from the read model, where each step stores it (engine/case_view.py), not asked of
the workflow: what a person reads right after an action is what the workflow's own state query answers, on any
day it is read (working days left are counted at read time on the case's own calendar)."""

import asyncio
from datetime import date, timedelta

from sqlmodel import Session

from records.case_states import stored_case_state


def read(engine, reference: str, today) -> dict | None:
    with Session(engine) as session:
        return stored_case_state(session, reference, today)


async def same_as_the_query(driver, engine, today) -> dict:
    queried = await driver.env.client.get_workflow_handle(driver.reference).query("state", str(today))
    stored = read(engine, driver.reference, today)
    assert stored == queried
    return stored


async def test_the_state_read_after_each_action_is_the_workflows_answer_on_any_day(driver, engine):
    await driver.to_panel_preparation()
    await driver.documents()
    today = await driver.today()
    before = await same_as_the_query(driver, engine, today)
    assert any(d["working_days_left"] is not None for d in before["deadlines"]), "open deadlines are counted"

    answered = await driver.act("convene_panel", "bu", panel_date=await driver.next_working_day(),
                                invited_agencies=["education", "police"])
    # Read at once: the documents the answer named are in preparation until each is in the register (in order).
    preparing = read(engine, driver.reference, today)["documents_in_preparation"]
    named = answered["documents_in_preparation"]
    assert named, "the convening queues documents"
    assert preparing == named[len(named) - len(preparing):]
    await driver.documents()
    for day in (today, today + timedelta(days=9), today + timedelta(days=60)):  # due, overdue, long overdue
        after = await same_as_the_query(driver, engine, day)
        assert after["stage"] == "panel_preparation" and after["documents_in_preparation"] == []
    assert after["deadlines"] != before["deadlines"]


async def test_the_api_serves_the_stored_state_and_falls_back_to_the_query_for_a_case_without_one(
        api, case_env, engine):
    """The case state route (and the case page, through the same service call) after a click; a case opened before
    states were stored (no row) is answered by the workflow's query, the same state."""
    from sqlmodel import delete

    from engine.calendar import london_date
    from records.models import CaseStateView
    from service.cases.case_service import today_in_london
    from service.cases.visibility import state_for

    today = london_date(await case_env.get_current_time())
    manager = await api.as_user("strategy.manager")
    created = await api.post("/api/cases", headers=await api.as_user("agency.police"), json={
        "pseudonym": "P", "age_band": "under 1", "summary": "s", "incident_date": str(today),
        "awareness_date": str(today), "referring_agency": "police"})
    reference = created.json()["reference"]
    accepted = await api.post(f"/api/cases/{reference}/actions/accept_referral", headers=manager, json={})
    assert accepted.status_code == 200, accepted.text
    handle = case_env.client.get_workflow_handle(reference)
    while (await handle.query("state"))["documents_in_preparation"]:  # issued after the answer
        await asyncio.sleep(0.05)
    served = (await api.get(f"/api/cases/{reference}", headers=manager)).json()
    today = today_in_london()  # the service counts from the day it is read
    queried = await handle.query("state", today)
    assert served["links"] == []  # the service adds the case's links for its reader (service/cases/case_links.py)
    assert served == state_for("business_unit", {**queried, "effect_failing": served["effect_failing"],
                                                  "links": []})
    assert served["stage"] == "csc_consultation"
    with Session(engine) as session:
        session.exec(delete(CaseStateView).where(CaseStateView.case_reference == reference))
        session.commit()
    assert read(engine, reference, date.fromisoformat(today)) is None
    assert (await api.get(f"/api/cases/{reference}", headers=manager)).json() == served


async def test_a_practice_reviews_state_is_read_from_the_read_model_too(driver, engine):
    await driver.to_practice_review()
    await driver.documents()
    review_id = f"{driver.reference}-cspr"
    today = await driver.today()
    queried = await driver.env.client.get_workflow_handle(review_id).query("state", str(today))
    assert read(engine, review_id, today) == queried
    assert read(engine, driver.reference, today)["practice_review_stage"] == queried["stage"]
