"""The final report as the reviewer wrote it (issue 29, item 3): uploaded as a PDF or Word file, kept under its
SHA-256 as a new version each time, named when it is submitted for sign-off, and read by each Executive on their
own page, version and fingerprint shown, before they approve with their capacity and a declaration."""

from __future__ import annotations

import hashlib
import io
import re
import zipfile


def word_file() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


async def test_the_executives_approve_the_file_they_read(driver, api):
    today = await driver.to_practice_review()
    await driver.review("agree_terms_of_reference", "bu", agreed_on=today, scope="s")
    await driver.review("commission_reviewer", "bu", commissioned_on=today, reviewer="R")
    await driver.review("submit_draft_report", "bu", received_on=today)
    bu = await api.as_user("strategy.manager")
    url = f"/api/cases/{driver.reference}/final-report"
    refused = await api.post(url, headers=bu, files={"file": ("report.pdf", b"not a pdf at all", "application/pdf")})
    assert refused.status_code == 422 and "PDF or a Word" in refused.text, "judged by what it is, not its name"
    member = await api.post(url, headers=await api.as_user("agency.education"),
                            files={"file": ("r.pdf", b"%PDF-1.4 x", "application/pdf")})
    assert member.status_code == 403
    report = b"%PDF-1.4\n% the reviewer's final report\n%%EOF\n"
    first = await api.post(url, headers=bu, files={"file": ("final.pdf", report, "application/pdf")})
    assert first.status_code == 201, first.text
    assert first.json()["version"] == 1 and first.json()["pdf_sha256"] == hashlib.sha256(report).hexdigest()
    second = await api.post(url, headers=bu, files={"file": ("final.docx", word_file(), "application/octet-stream")})
    assert second.status_code == 201 and second.json()["version"] == 2 and second.json()["docx_sha256"]
    wrong = await api.post(f"/api/cases/{driver.reference}/actions/submit_final_report", headers=bu,
                           json={"received_on": today, "recommendations": ["r"], "report_document": 999999})
    assert wrong.status_code == 422 and "no final report 999999" in wrong.text
    named = await api.post(f"/api/cases/{driver.reference}/actions/submit_final_report", headers=bu,
                           json={"received_on": today, "recommendations": ["Safe sleep audit"],
                                 "report_document": first.json()["id"]})
    assert named.status_code == 200, named.text
    downloaded = await api.get(f"/api/documents/{first.json()['id']}?format=pdf", headers=await api.as_user("exec.la"))
    assert downloaded.content == report, "the very file uploaded"
    unseen = await api.get(f"/api/documents/{first.json()['id']}?format=pdf",
                           headers=await api.as_user("agency.education"))
    assert unseen.status_code == 404, "not an agency member's to read before publication"

    await api.sign_in_page("exec.la")
    case = await api.get(f"/cases/{driver.reference}")
    assert "Read the final report and decide" in case.text
    page = await api.get(f"/cases/{driver.reference}/report-sign-off")
    assert page.status_code == 200, page.text
    assert "upload version 1 (PDF)" in page.text and hashlib.sha256(report).hexdigest() in page.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    form = {"csrf_token": csrf, "back": f"/cases/{driver.reference}/report-sign-off", "version": "1",
            "decision": "approve", "capacity": "lead"}
    undeclared = await api.post(f"/cases/{driver.reference}/actions/sign_off_report", data=form)
    assert undeclared.status_code == 422 and "Confirm that you have read this version of the final report" in (
        undeclared.text)
    approved = await api.post(f"/cases/{driver.reference}/actions/sign_off_report", data={**form, "declaration": "yes"})
    assert approved.status_code == 303, approved.text
    state = await driver.state(f"{driver.reference}-cspr")
    assert [(s["seat"], s["capacity"]) for s in state["sign_offs"]] == [("la", "lead")]
