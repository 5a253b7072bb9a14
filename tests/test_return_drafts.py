"""An agency's information return saved as a draft (issue 29, the agencies' point): a member saves what she typed,
a colleague of the same agency comes back to it, nobody else sees or changes it, bad input keeps nothing, and the
draft is gone once the workflow accepted the return."""

from __future__ import annotations

import re

from sqlmodel import Session, select

from engine.models import LONG
from records.models import AuditEvent, ReturnDraft
from service.accounts.users import create_user
from service.web.wording import long_date

PASSWORD = "colleague-password-long-enough"


def csrf(page) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def draft(engine, reference: str, agency: str = "education") -> ReturnDraft | None:
    with Session(engine) as session:
        return session.get(ReturnDraft, (reference, agency))


async def sign_in(api, username: str, password: str) -> None:
    """A user the demo accounts do not have (the colleague), through the sign-in page."""
    api.cookies.clear()
    page = await api.get("/signin")
    await api.post("/signin", data={"username": username, "password": password, "csrf_token": csrf(page)})


async def test_a_draft_is_kept_for_her_agency_and_gone_once_the_return_is_sent(driver, api, engine, settings):
    await driver.to_panel_preparation()
    await driver.act("convene_panel", "bu", panel_date=await driver.next_working_day(),
                     invited_agencies=["education", "community_health"])
    await driver.settled()
    case, save = f"/cases/{driver.reference}", f"/cases/{driver.reference}/return-draft"
    with Session(engine) as session:
        create_user(session, username="agency.education2", full_name="Dana Fox (Education)", email="d@example.org",
                    role="agency_member", agency="education", password=PASSWORD, audit_key=settings.audit_key_bytes)
        session.commit()

    # She types part of her return and saves it: the case page comes back with it, saying whose draft it is.
    await api.sign_in_page("agency.education")
    page = await api.get(case)
    assert 'formaction="/cases/' in page.text and "Save as draft" in page.text
    saved = await api.post(save, data={"csrf_token": csrf(page), "involvement": "School nurse since 2025.",
                                       "chronology": "", "analysis": ""})
    assert saved.status_code == 303 and "done=return_draft_saved" in saved.headers["location"]
    page = await api.get(saved.headers["location"])
    assert "Draft saved: your return is not sent yet" in page.text
    kept = draft(engine, driver.reference)
    assert (kept.involvement, kept.chronology) == ("School nurse since 2025.", "")
    assert f"Draft saved on {long_date(kept.saved_at)} by Chris Lee (Education)" in page.text
    assert "School nurse since 2025.</textarea>" in page.text

    # Her colleague at the same agency comes back to it and carries on.
    await sign_in(api, "agency.education2", PASSWORD)
    page = await api.get(case)
    assert "School nurse since 2025.</textarea>" in page.text and "by Chris Lee (Education)" in page.text
    saved = await api.post(save, data={"csrf_token": csrf(page), "involvement": "School nurse since 2025.",
                                       "chronology": "3 October 2026: mark noted by teacher.", "analysis": ""})
    assert saved.status_code == 303
    assert "by Dana Fox (Education)" in (await api.get(case)).text

    # Too long: a clear error on the field, and the draft is as it was.
    page = await api.get(case)
    refused = await api.post(save, data={"csrf_token": csrf(page), "involvement": "x" * (LONG + 1)})
    assert refused.status_code == 422
    assert f"must be {LONG:,} characters or fewer" in refused.text
    assert draft(engine, driver.reference).chronology == "3 October 2026: mark noted by teacher."

    # Another agency on the case sees none of it, and saves only its own; others may not save at all.
    await api.sign_in_page("agency.health")
    page = await api.get(case)
    assert "noted by teacher" not in page.text and "Draft saved on" not in page.text
    await api.sign_in_page("agency.police")  # not invited: the case is not found
    token = csrf(await api.get("/cases/new"))
    assert (await api.post(save, data={"csrf_token": token, "involvement": "x"})).status_code == 404
    await api.sign_in_page("strategy.manager")
    page = await api.get(case)
    assert "Save as draft" not in page.text and "noted by teacher" not in page.text
    assert (await api.post(save, data={"csrf_token": csrf(page), "involvement": "x"})).status_code == 403
    assert draft(engine, driver.reference).chronology == "3 October 2026: mark noted by teacher."
    assert draft(engine, driver.reference, "community_health") is None

    # Sent (checked and confirmed): the workflow accepted it, so the draft is gone and no new one may be saved.
    await api.sign_in_page("agency.education")
    page = await api.get(case)
    sent = await api.post(f"{case}/actions/submit_information_return", data={
        "csrf_token": csrf(page), "involvement": "School nurse since 2025.",
        "chronology": "3 October 2026: mark noted by teacher.", "analysis": "Shared promptly.", "confirmed": "yes"})
    assert sent.status_code == 303, sent.text
    await driver.settled()
    assert draft(engine, driver.reference) is None
    page = await api.get(case)
    assert "Draft saved on" not in page.text
    again = await api.post(save, data={"csrf_token": csrf(page), "involvement": "more"})
    assert again.status_code == 409 and "already sent its information return" in again.text
    assert draft(engine, driver.reference) is None

    # Audited by who and when, never with the text of the return.
    with Session(engine) as session:
        rows = session.exec(select(AuditEvent).where(AuditEvent.case_reference == driver.reference,
                                                     AuditEvent.action == "save_return_draft")).all()
    assert len(rows) == 2 and all("teacher" not in r.detail and "nurse" not in r.detail for r in rows)


async def test_a_closed_case_keeps_no_draft(driver, api, engine):
    """A draft never sent is not kept once returns are over; a closed case takes none."""
    await driver.to_panel_preparation()
    await driver.act("convene_panel", "bu", panel_date=await driver.next_working_day(), invited_agencies=["education"])
    await api.sign_in_page("agency.education")
    page = await api.get(f"/cases/{driver.reference}")
    saved = await api.post(f"/cases/{driver.reference}/return-draft",
                           data={"csrf_token": csrf(page), "involvement": "School nurse since 2025."})
    assert saved.status_code == 303 and draft(engine, driver.reference) is not None, saved.text
    await driver.partners_decide("close_case", reason="The child's family moved to another partnership's area.")
    await driver.settled()
    assert draft(engine, driver.reference) is None, "the unsent draft went with the returns"
    page = await api.get(f"/cases/{driver.reference}")
    assert "Save as draft" not in page.text, "a closed case offers no return form"
    refused = await api.post(f"/cases/{driver.reference}/return-draft",
                             data={"csrf_token": csrf(page), "involvement": "School nurse since 2025."})
    assert refused.status_code == 409 and "no longer takes information returns (it is closed)" in refused.text
    assert draft(engine, driver.reference) is None
