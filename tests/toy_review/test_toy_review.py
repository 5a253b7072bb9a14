"""A review type the service has never heard of, registered by a test, runs through the API and the pages: the
registry is all a new kind of review needs (issue 30's "done when")."""

from __future__ import annotations

import re

import pytest
from sqlmodel import Session, select

from engine.registry import REVIEW_TYPES
from records.models import AuditEvent, CaseRecord, Task
from tests.toy_review.review_type import TOY_REVIEW


@pytest.fixture
def toy_review():
    """The toy type, registered for this test only (before the worker and the app that read the registry)."""
    REVIEW_TYPES.register(TOY_REVIEW)
    yield TOY_REVIEW
    REVIEW_TYPES.unregister(TOY_REVIEW.key)


@pytest.fixture
async def toy_api(toy_review, api):
    return api


async def test_a_toy_review_is_referred_acted_on_and_shown_like_any_case(toy_api, engine):
    api = toy_api
    bu = await api.as_user("strategy.manager")
    types = {t["key"]: t for t in (await api.get("/api/review-types", headers=bu)).json()}
    assert types["toy_review"]["actions"]["toy_decide"] == {"roles": ["business_unit"], "stages": ["toy_open"]}

    refused = await api.post("/api/review-types/toy_review/cases", headers=bu, json={"pseudonym": "Kit"})
    assert refused.status_code == 422 and "summary" in refused.json()["detail"]
    unknown = await api.post("/api/review-types/no_such_review/cases", headers=bu, json={})
    assert unknown.status_code == 404 and "toy_review" in unknown.json()["detail"]
    with Session(engine) as session:
        assert session.exec(select(CaseRecord)).first() is None, "nothing was started"

    started = await api.post("/api/review-types/toy_review/cases", headers=bu,
                             json={"pseudonym": "Kit", "summary": "A toy incident"})
    assert started.status_code == 201, started.text
    reference = started.json()["reference"]
    assert re.fullmatch(r"TOY-\d{4}-\d{3}", reference) and started.json()["state"]["stage"] == "toy_open"

    # Another type's action is not this case's, whatever its stage.
    foreign = await api.post(f"/api/cases/{reference}/actions/accept_referral", headers=bu, json={})
    assert foreign.status_code == 404 and "not an action of a toy review" in foreign.json()["detail"]
    wrong_role = await api.post(f"/api/cases/{reference}/actions/toy_decide",
                                headers=await api.as_user("panel.chair"), json={"decision": "learn", "reasons": "x"})
    assert wrong_role.status_code == 403
    decided = await api.post(f"/api/cases/{reference}/actions/toy_decide", headers=bu,
                             json={"decision": "learn", "reasons": "There is learning for the partners"})
    assert decided.status_code == 200, decided.text
    assert decided.json()["stage"] == "toy_decided"

    await api.sign_in_page("strategy.manager")
    board = await api.get("/board")
    column = board.text.split('id="col-toy_decided"', 1)[1].split("</section>", 1)[0]
    assert "Decided (1)" in column and reference in column
    page = await api.get(f"/cases/{reference}")
    assert page.status_code == 200 and "Kit" in page.text and "Close the toy review" in page.text
    assert '<strong data-testid="stage">Decided</strong>' in page.text, "the type's own word for its stage"
    assert "Decide whether the toy review goes on" not in page.text, "an action of a stage the case has left"
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    closed = await api.post(f"/cases/{reference}/actions/toy_close",
                            data={"csrf_token": csrf, "decision": "end", "reasons": "Learning recorded"})
    assert closed.status_code == 303 and closed.headers["location"] == f"/cases/{reference}?done=toy_close"
    after = await api.get(closed.headers["location"])
    assert after.status_code == 200 and '<strong data-testid="stage">Closed</strong>' in after.text

    with Session(engine) as session:
        record = session.get(CaseRecord, reference)
        assert (record.stage, record.closed_reason) == ("closed", "Learning recorded")
        assert [e.action for e in session.exec(select(AuditEvent).where(AuditEvent.case_reference == reference,
                                                                        AuditEvent.action.in_(
                                                                            ["submit_referral", "toy_decide",
                                                                             "toy_close"])))] == [
            "submit_referral", "toy_decide", "toy_close"]
        task = session.exec(select(Task).where(Task.case_reference == reference)).one()
        assert (task.title, task.status) == ("Decide the toy review", "done")
