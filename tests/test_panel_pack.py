"""The panel reads the returns before it meets: returns fall due a set number of working days before the panel
(local practice, a setting), and the letters, tasks and deadline all say the same day; the chair is warned before
recording an outcome without every return (issue 29, item 2)."""

from __future__ import annotations

import io
import json
import re

from pypdf import PdfReader
from sqlmodel import Session, select

from engine.calendar import WorkingDayCalendar
from records.models import AuditEvent
from records.object_store import read_stored


async def test_returns_fall_due_before_the_panel_and_every_letter_says_so(driver, settings):
    await driver.to_panel_preparation()
    today = await driver.today()
    calendar = WorkingDayCalendar()
    panel = calendar.add_working_days(today, 4)
    state = await driver.act("convene_panel", "bu", panel_date=str(panel), invited_agencies=["education", "police"],
                             research_questions=["Was the bruising seen at nursery?"])
    due = calendar.add_working_days(panel, -2)
    returns = next(d for d in state["deadlines"] if d["key"] == "agency_returns")
    assert returns["due"] == str(due) and "2 working days before the panel" in returns["rule"]
    assert {t.due_date for t in driver.tasks(action="submit_information_return")} == {due}
    letter = next(d for d in await driver.documents() if d.kind == "information_request_education")
    text = " ".join(read_stored(settings.document_store(), letter.html_path).decode().split())
    assert str(due) in text or f"{due.day} {due:%B %Y}" in text, "the letter gives the same day"
    assert due < panel


async def test_the_chair_is_warned_before_an_outcome_without_every_return(driver, api, demo_passwords):
    await driver.to_panel_preparation()
    await driver.act("convene_panel", "bu", panel_date=await driver.next_working_day(),
                     invited_agencies=["education", "police"])
    await driver.act("submit_information_return", "education", involvement="i", chronology="c", analysis="a")
    page = await api.get("/signin")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    await api.post("/signin", data={"username": "panel.chair", "password": demo_passwords["panel.chair"],
                                    "csrf_token": csrf})
    case = await api.get(f"/cases/{driver.reference}")
    assert case.status_code == 200, case.text
    warning = re.search(r'data-testid="warning-record_panel_outcome">(.*?)</p>', case.text, re.S)
    assert warning and "Not every return has arrived: Police." in " ".join(warning.group(1).split())
    await driver.act("submit_information_return", "police_agency", involvement="i", chronology="c", analysis="a")
    case = await api.get(f"/cases/{driver.reference}")
    assert 'data-testid="warning-record_panel_outcome"' not in case.text


async def test_the_panel_pack_puts_the_returns_side_by_side_and_merges_the_chronologies(driver, api, demo_passwords,
                                                                                       engine):
    await driver.to_panel_preparation()
    await driver.act("convene_panel", "bu", panel_date=await driver.next_working_day(),
                     invited_agencies=["education", "police", "community_health"],
                     research_questions=["Was the bruising seen at nursery?"])
    await driver.act("submit_information_return", "education", involvement="Nursery since 2025.",
                     chronology="3 October 2026: bruise on cheek seen at drop-off\n01/09/2026 - started nursery",
                     analysis="Not referred.")
    await driver.act("submit_information_return", "police_agency", involvement="Two call-outs.",
                     chronology="2026-09-20 domestic incident call-out\nFurther call-out, date unknown",
                     analysis="DASH not completed.")

    async def page_as(username: str):
        api.cookies.clear()
        signin = await api.get("/signin")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', signin.text).group(1)
        await api.post("/signin", data={"username": username, "password": demo_passwords[username],
                                        "csrf_token": csrf})
        return await api.get(f"/cases/{driver.reference}/panel-pack")

    pack = await page_as("panel.chair")
    assert pack.status_code == 200, pack.text
    text = " ".join(re.sub(r"<[^>]+>", " ", pack.text).split())
    assert "Was the bruising seen at nursery?" in text
    assert "Community health (health visiting, school nursing): Not yet received" in text
    rows = re.findall(r"<tr><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td></tr>",
                      pack.text.split('data-testid="merged-chronology"')[1])
    assert [(on, agency) for on, agency, _ in rows] == [
        ("1 September 2026", "Education (schools)"), ("20 September 2026", "Police"),
        ("3 October 2026", "Education (schools)"), ("No date given", "Police")], "in date order, undated last"
    assert "bruise on cheek seen at drop-off" in rows[2][2]
    assert "Nursery since 2025." in text and "DASH not completed." in text, "side by side"

    printed = await api.get(f"/cases/{driver.reference}/panel-pack/print")
    assert printed.status_code == 200 and 'aria-label="Main"' not in printed.text, "the pack alone, no navigation"
    assert "Nursery since 2025." in printed.text and "Was the bruising seen at nursery?" in printed.text
    pdf = await api.get(f"/cases/{driver.reference}/panel-pack.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert f"panel-pack-{driver.reference}.pdf" in pdf.headers["content-disposition"]
    text = " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages).split())
    for expected in ("OFFICIAL-SENSITIVE", f"Panel pack: {driver.reference}", "Was the bruising seen at nursery?",
                     "Nursery since 2025.", "DASH not completed.", "bruise on cheek seen at drop-off",
                     "1 September 2026", "Not yet received", "Page 1 of"):
        assert expected in text, f"{expected!r} not in the PDF: {text[:400]}"
    with Session(engine) as session:  # each copy read is on the record
        shown = session.exec(select(AuditEvent.detail).where(AuditEvent.case_reference == driver.reference,
                                                             AuditEvent.action == "read_information_returns")).all()
    assert {"panel pack", "panel pack, print view", "panel pack, PDF"} <= {json.loads(d).get("page") for d in shown}

    member = await page_as("agency.education")
    assert member.status_code in (403, 404), "an agency member never reads the other agencies' returns"
    for paper in ("panel-pack/print", "panel-pack.pdf"):
        refused = await api.get(f"/cases/{driver.reference}/{paper}")
        assert refused.status_code in (403, 404) and b"Nursery since" not in refused.content


async def test_the_panel_calendar_and_the_workload(driver, api):
    await driver.to_panel_preparation()
    panel = await driver.next_working_day()
    await driver.act("convene_panel", "bu", panel_date=panel, invited_agencies=["education", "police"])
    await driver.act("submit_information_return", "education", involvement="i", chronology="c", analysis="a")
    await api.sign_in_page("strategy.manager")
    calendar = await api.get("/panels")
    assert calendar.status_code == 200, calendar.text
    row = re.search(rf"<tr><td>([^<]*)</td><td><a href=\"/cases/{driver.reference}\">.*?</td><td>(.*?)</td>",
                    calendar.text)
    assert row and row.group(2) == "1 of 2", "the returns so far, beside the panel date"
    load = await api.get("/workload")
    assert load.status_code == 200
    police = re.search(r'<th scope="row">Agency: Police</th><td>(\d+)</td>', load.text)
    assert police and police.group(1) == "1", "the police return is still owed"
    assert "Agency: Education (schools)" not in load.text, "returned: nothing open"
    by_person = load.text.split('data-testid="workload-people"')[1].split("</table>")[0]
    police_member = re.search(r'<th scope="row">([^<]*\(Agency member, Police\))</th><td>(\d+)</td>', by_person)
    assert police_member and police_member.group(2) == "1", "the police return, on the named person who owes it"
    assert "(Agency member, Education (schools))" not in by_person
    await api.sign_in_page("agency.education")
    assert (await api.get("/panels")).status_code in (403, 404)


def tiny_pdf(text: str) -> bytes:
    """A real one-page PDF (pypdf writes it), as an agency's system exports its chronology."""
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    writer.add_metadata({"/Title": text})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


async def test_an_agency_attaches_its_chronology_and_only_the_panel_and_the_agency_read_it(driver, api):
    """Issue 29 (agencies): the chronology as a file beside the return: kept whole with its hash, read by its own
    agency and the panel (its pack links it), never by another agency; anything but PDF or Word is refused."""
    await driver.to_panel_preparation()
    await driver.act("convene_panel", "bu", panel_date=await driver.next_working_day(),
                     invited_agencies=["education", "community_health"])
    await api.sign_in_page("agency.education")
    page = await api.get(f"/cases/{driver.reference}")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    assert 'data-testid="upload-chronology"' in page.text
    sent = await api.post(f"/cases/{driver.reference}/chronology", data={"csrf_token": csrf},
                          files={"chronology": ("chronology.txt", b"1 Oct: visit", "text/plain")})
    assert sent.status_code == 303 and "chronology_error=" in sent.headers["location"]
    page = await api.get(sent.headers["location"])
    assert "The chronology must be a PDF or a Word (.docx) file" in page.text
    data = tiny_pdf("Education chronology")
    sent = await api.post(f"/cases/{driver.reference}/chronology", data={"csrf_token": csrf},
                          files={"chronology": ("chronology.pdf", data, "application/pdf")})
    assert sent.status_code == 303 and "done=upload_chronology" in sent.headers["location"], sent.text
    page = await api.get(f"/cases/{driver.reference}")
    link = re.search(r'href="(/api/documents/\d+\?format=pdf)" data-testid="chronology-education"', page.text)
    assert link, "the agency sees its chronology beside its return"
    assert (await api.get(link.group(1))).content == data, "the very file, kept whole"

    await api.sign_in_page("agency.health")
    assert (await api.get(link.group(1))).status_code == 404, "another agency never reads it"
    page = await api.get(f"/cases/{driver.reference}")
    assert 'data-testid="chronology-education"' not in page.text

    await api.sign_in_page("panel.chair")
    pack = await api.get(f"/cases/{driver.reference}/panel-pack")
    assert link.group(1) in pack.text, "the panel pack links it"
    with Session(driver.engine) as session:
        [row] = session.exec(select(AuditEvent).where(AuditEvent.case_reference == driver.reference,
                                                      AuditEvent.action == "upload_chronology")).all()
        assert json.loads(row.detail)["agency"] == "education"
