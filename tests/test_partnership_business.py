"""The business around the reviews, through the API with roles: the action plan, themes, the escalation log,
the timeliness dashboard (figures checked against cases with known dates) and the case review tracker."""

import csv
import io
import re
from datetime import UTC, date, datetime

import pytest

from activities.case_step import CaseStepActivities
from engine.calendar import WorkingDayCalendar
from engine.models import CaseSnapshot, CaseStep, PlanActionSpec, ReviewSnapshot
from records.codec import EncryptionCodec
from service.api.dashboard import TRACKER_COLUMNS
from service.web.wording import long_date
from tests.conftest import sign_in_through_page

CAL = WorkingDayCalendar()


class ReadModel:
    """Writes cases as the workflows do (one CaseStep at a time, each at a known moment)."""

    def __init__(self, engine):
        self.steps = CaseStepActivities(engine, "http://127.0.0.1:8000", EncryptionCodec(b"k" * 32),
                                        audit_key=b"test-audit-key")
        self.count = 0

    def step(self, reference: str, on: date, stage: str, review: ReviewSnapshot | None = None,
             plan_actions=(), **fields):
        self.count += 1
        opened = fields.pop("opened_on", on)
        snapshot = CaseSnapshot(**{
            "reference": reference, "pseudonym": f"P-{reference}", "stage": stage, "opened_on": opened,
            "awareness_date": opened, "notified_on": None, "rapid_review_due": None, "next_deadline_title": None,
            "next_deadline_due": None, "next_deadline_rule": None, "late": False, "escalated": False,
            "recommendation": None, "decision_sheet_version": 0, "invited_agencies": ["education"],
            "submitted_on": None, "practice_review_stage": review.stage if review else None, "closed_reason": None,
            "outcome": None, **fields})
        at = datetime(on.year, on.month, on.day, 12, tzinfo=UTC)
        applied, _ = self.steps.apply_step(CaseStep(key=f"{reference}:{self.count}", case_reference=reference, at=at,
                                                    snapshot=snapshot, review=review, plan_actions=list(plan_actions)))
        assert applied


def rapid_review(model: ReadModel, reference: str, notified: date, submitted_after: int, **extra) -> dict:
    """A case from referral to submission, `submitted_after` working days after notification."""
    due = CAL.add_working_days(notified, 15)
    submitted = CAL.add_working_days(notified, submitted_after)
    dates = {"opened_on": notified, "notified_on": notified, "rapid_review_due": due}
    model.step(reference, notified, "referral", **dates)
    model.step(reference, notified, "panel_preparation", **dates)
    model.step(reference, CAL.add_working_days(notified, 8), "decision_sheet", **dates)
    model.step(reference, submitted, "national_panel", submitted_on=submitted, **dates, **extra)
    return {**dates, "submitted_on": submitted}


def cspr(model: ReadModel, reference: str, decided: date, published: date | None, **dates):
    from engine.calendar import add_months

    review = ReviewSnapshot(case_reference=reference, stage="terms_of_reference", decided_on=decided,
                            due=add_months(decided, 6), methods=["partner_led_workshop"], late=False)
    model.step(reference, decided, "practice_review", review=review, recommendation="local_cspr", **dates)
    if published:
        final = review.model_copy(update={"stage": "learning_workshop", "published_on": published,
                                          "completed_on": published,
                                          "publication_link": f"https://example.org/{reference}",
                                          "recommendations": ["Safe sleep audit", "Training on bruising"]})
        model.step(reference, published, "practice_review", review=final, recommendation="local_cspr", **dates)


@pytest.fixture
def model(engine):
    return ReadModel(engine)


def test_dashboard_figures_from_cases_with_known_dates(api_client, sign_in, model):
    # Q1 2025: one rapid review on time (12 working days); Q2: one late (18); Q3: referral only.
    on_time = rapid_review(model, "RR-2025-001", date(2025, 2, 3), 12)
    late = rapid_review(model, "RR-2025-002", date(2025, 4, 7), 18)
    model.step("RR-2025-003", date(2025, 7, 14), "referral")
    # CSPRs: one published inside six months (Q2), one published late (Q4).
    cspr(model, "RR-2025-001", date(2025, 3, 3), date(2025, 6, 2), **on_time)
    cspr(model, "RR-2025-002", date(2025, 5, 6), date(2025, 12, 1), **late)
    bu = sign_in("strategy.manager")
    response = api_client.get("/api/dashboard?year=2025", headers=bu)
    assert response.status_code == 200, response.text
    figures = response.json()
    q1, q2, q3, q4 = figures["quarters"]
    assert (q1["referrals"], q2["referrals"], q3["referrals"], q4["referrals"]) == (1, 1, 1, 0)
    assert q1["rapid_reviews_submitted"] == 1 and q1["submitted_within_15_working_days"] == 1
    assert q2["rapid_reviews_submitted"] == 1 and q2["submitted_within_15_working_days"] == 0
    assert figures["totals"]["share_within_15_working_days"] == 0.5
    assert q2["cspr_completed"] == 1 and q2["cspr_completed_within_6_months"] == 1
    assert q4["cspr_completed"] == 1 and q4["cspr_completed_within_6_months"] == 0
    assert figures["late_rapid_reviews"] == ["RR-2025-002"] and figures["late_csprs"] == ["RR-2025-002"]
    medians = {(m["process"], m["stage"]): m for m in figures["stage_medians"]}
    # panel_preparation -> decision_sheet took 8 working days in both cases; decision sheet -> submission 4 and 10.
    assert medians[("case", "panel_preparation")]["median_working_days"] == 8
    assert medians[("case", "decision_sheet")]["median_working_days"] == 7
    assert medians[("review", "terms_of_reference")]["cases"] == 2

    table = list(csv.DictReader(io.StringIO(api_client.get("/api/dashboard.csv?year=2025", headers=bu).text)))
    assert [row["Quarter"] for row in table] == ["January to March", "April to June", "July to September",
                                                 "October to December", "Whole year"]
    assert table[-1]["Rapid reviews submitted"] == "2"
    chart = api_client.get("/api/dashboard/chart.svg?year=2025&chart=rapid_reviews", headers=bu)
    assert chart.headers["content-type"].startswith("image/svg+xml")
    assert '<title id="chart-rapid_reviews-title">Rapid reviews submitted' in chart.text
    assert chart.text.count("<rect") >= 8
    assert api_client.get("/api/dashboard?year=2025", headers=sign_in("agency.police")).status_code == 403


def test_action_plan_from_panels_and_by_hand(api_client, sign_in, model):
    today = datetime.now(UTC).date()
    overdue_due = CAL.add_working_days(today, -3)
    model.step("RR-2026-050", today, "decision_sheet", plan_actions=[
        PlanActionSpec(key="RR-2026-050:panel:1", source="panel_immediate_action",
                       description="Remind staff of the bruising protocol", due=overdue_due),
        PlanActionSpec(key="RR-2026-050:panel:2", source="panel_immediate_action",
                       description="Audit safe sleep advice", due=CAL.add_working_days(today, 20)),
    ])
    model.step("RR-2026-050", today, "decision_sheet", plan_actions=[  # a retried step raises nothing twice
        PlanActionSpec(key="RR-2026-050:panel:1", source="panel_immediate_action",
                       description="Remind staff of the bruising protocol", due=overdue_due)])
    bu, chair = sign_in("strategy.manager"), sign_in("panel.chair")
    education, police = sign_in("agency.education"), sign_in("agency.police")
    plan = api_client.get("/api/action-plan", headers=bu).json()
    assert [a["description"] for a in plan] == ["Remind staff of the bruising protocol", "Audit safe sleep advice"]
    first = plan[0]
    assert first["overdue"] is True and first["case_reference"] == "RR-2026-050"
    assert first["working_days_overdue"] == CAL.working_days_between(overdue_due, today) >= 2
    assert api_client.get("/api/action-plan?overdue=true", headers=bu).json()[0]["id"] == first["id"]

    assigned = api_client.patch(f"/api/action-plan/{first['id']}", headers=bu, json={"owner_agency": "education"})
    assert assigned.status_code == 200 and assigned.json()["owner_agency"] == "education"
    assert api_client.patch(f"/api/action-plan/{first['id']}", headers=bu,
                            json={"owner_agency": "mars"}).status_code == 422
    assert [a["id"] for a in api_client.get("/api/action-plan", headers=education).json()] == [first["id"]]
    assert api_client.get("/api/action-plan", headers=police).json() == []
    assert api_client.patch(f"/api/action-plan/{first['id']}", headers=police,
                            json={"status": "completed"}).status_code == 404
    assert api_client.patch(f"/api/action-plan/{first['id']}", headers=education,
                            json={"due_date": str(today)}).status_code == 403
    no_evidence = api_client.patch(f"/api/action-plan/{first['id']}", headers=education, json={"status": "completed"})
    assert no_evidence.status_code == 422 and "evidence" in no_evidence.json()["detail"]
    done = api_client.patch(f"/api/action-plan/{first['id']}", headers=education,
                            json={"status": "completed", "evidence": "Briefing to 40 staff on 3 March."})
    assert done.json()["status"] == "completed" and done.json()["overdue"] is False
    assert api_client.post(f"/api/action-plan/{first['id']}/sign-off", headers=education).status_code == 403
    signed = api_client.post(f"/api/action-plan/{first['id']}/sign-off", headers=chair)
    assert signed.status_code == 200 and signed.json()["status"] == "signed_off"
    assert api_client.patch(f"/api/action-plan/{first['id']}", headers=bu,
                            json={"status": "open"}).status_code == 409

    added = api_client.post("/api/action-plan", headers=bu, json={
        "description": "Multi-agency audit of neglect referrals", "owner_agency": "csc", "due_date": str(today)})
    assert added.status_code == 201 and added.json()["source"] == "manual"
    assert api_client.post("/api/action-plan", headers=education, json={
        "description": "x", "due_date": str(today)}).status_code == 403
    exported = list(csv.DictReader(io.StringIO(api_client.get("/api/action-plan/export.csv", headers=bu).text)))
    # Headed and worded for people: the status and the owner in words, the dates as "5 December 2026".
    assert len(exported) == 3 and exported[0]["Status"] == "Signed off"
    by_hand = next(row for row in exported if row["Action"] == "Multi-agency audit of neglect referrals")
    assert by_hand["Owner"] == "Children's Social Care" and by_hand["Due"] == long_date(today)


def test_themes_list_tags_and_sheet(api_client, sign_in, model):
    model.step("RR-2025-010", date(2025, 5, 1), "decision_sheet", themes=["neglect"])
    model.step("RR-2026-011", date(2026, 2, 1), "decision_sheet", themes=["neglect", "domestic abuse"])
    bu = sign_in("strategy.manager")
    assert api_client.post("/api/themes", headers=bu, json={"name": "Online  Harm"}).json()["name"] == "online harm"
    assert api_client.post("/api/themes", headers=bu, json={"name": "neglect"}).status_code == 409
    assert api_client.post("/api/cases/RR-2025-010/themes", headers=bu, json={"name": "online harm"}).status_code == 201
    unknown = api_client.post("/api/cases/RR-2025-010/themes", headers=bu, json={"name": "weather"})
    assert unknown.status_code == 422 and "not on the themes list" in unknown.json()["detail"]
    themes = {t["theme"]: t for t in api_client.get("/api/themes", headers=bu).json()["themes"]}
    assert themes["neglect"]["counts"] == {"2025": 1, "2026": 1} and themes["neglect"]["total"] == 2
    assert themes["online harm"]["references"] == ["RR-2025-010"] and themes["online harm"]["controlled"] is False
    assert themes["record keeping"]["total"] == 0, "the whole controlled list is shown"
    assert api_client.delete("/api/cases/RR-2025-010/themes/online harm", headers=bu).json()["themes"] == ["neglect"]
    assert api_client.get("/api/themes", headers=sign_in("agency.education")).status_code == 403

    sheet = api_client.post("/api/themes/sheet", headers=bu)
    assert sheet.status_code == 201 and sheet.json()["kind"] == "themes_sheet"
    pdf = api_client.get(sheet.json()["pdf_url"], headers=sign_in("auditor"))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert api_client.get(sheet.json()["pdf_url"], headers=sign_in("agency.education")).status_code == 404
    assert api_client.post("/api/themes/sheet", headers=bu).json()["version"] == 2


def test_escalation_log(api_client, sign_in):
    raised = api_client.post("/api/escalations", headers=sign_in("agency.health"), json={
        "group_name": "Rapid Review Working Group", "title": "Reviewer capacity",
        "concern": "Three reviews are waiting for a commissioned reviewer."})
    assert raised.status_code == 201 and raised.json()["status"] == "open" and raised.json()["age_working_days"] == 0
    escalation = raised.json()["id"]
    assert api_client.post(f"/api/escalations/{escalation}/response", headers=sign_in("strategy.manager"),
                           json={"response": "x"}).status_code == 403
    answered = api_client.post(f"/api/escalations/{escalation}/response", headers=sign_in("exec.icb"), json={
        "response": "Agreed: a framework of reviewers.", "action": "ICB to fund two reviewers."})
    assert answered.json()["status"] == "responded"
    assert answered.json()["response_action"] == "ICB to fund two reviewers."
    listed = api_client.get("/api/escalations", headers=sign_in("auditor")).json()
    assert [e["title"] for e in listed] == ["Reviewer capacity"]
    assert api_client.get("/api/escalations", headers=sign_in("agency.police")).json() == [], "not theirs"
    closed = api_client.post(f"/api/escalations/{escalation}/response", headers=sign_in("exec.la"),
                             json={"response": "Done.", "status": "closed"})
    assert closed.json()["status"] == "closed"
    assert api_client.post(f"/api/escalations/{escalation}/response", headers=sign_in("exec.la"),
                           json={"response": "Again"}).status_code == 409


def test_case_review_tracker_export(api_client, sign_in, model):
    dates = rapid_review(model, "RR-2025-020", date(2025, 2, 3), 12, themes=["neglect", "domestic abuse",
                                                                            "record keeping", "cultural competence"])
    cspr(model, "RR-2025-020", date(2025, 3, 3), date(2025, 8, 1), **dates, themes=["neglect"])
    rapid_review(model, "RR-2025-021", date(2025, 2, 10), 10, recommendation="no_further_review",
                 notification_reference="OF-2025-0021")
    response = api_client.get("/api/tracker.csv", headers=sign_in("exec.icb"))
    rows = {row["case_reference"]: row for row in csv.DictReader(io.StringIO(response.text))}
    converted = rows["RR-2025-020"]
    assert converted["review_type"] == "converted (rapid review to CSPR)"
    assert [converted[f"theme_{i}"] for i in (1, 2, 3)] == ["neglect", "domestic abuse", "record keeping"], \
        "the panel's first three, in its order"
    assert converted["publication_date"] == "2025-08-01" and converted["stage_reached"] == "learning_workshop"
    assert converted["recommendations"] == "Safe sleep audit; Training on bruising"
    assert converted["status"] == "closed" and converted["date_added"] == "2025-02-03"
    assert converted["local_reference"] == "RR-2025-020"
    assert rows["RR-2025-021"]["review_type"] == "rapid review" and rows["RR-2025-021"]["publication_date"] == ""
    assert rows["RR-2025-021"]["status"] == "closed", "a rapid review signed off without a CSPR is completed"
    assert rows["RR-2025-021"]["dfe_notification_reference"] == "OF-2025-0021"
    one = api_client.get("/api/tracker.csv?reference=RR-2025-021", headers=sign_in("strategy.manager"))
    assert len(list(csv.DictReader(io.StringIO(one.text)))) == 1
    assert api_client.get("/api/tracker.csv", headers=sign_in("agency.health")).status_code == 403


def signed_in_page(api_client, demo_passwords, username: str) -> str:
    """Sign in through the page; returns the CSRF token its forms carry."""
    api_client.cookies.clear()
    page = sign_in_through_page(api_client, username, demo_passwords[username], follow_redirects=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def test_business_pages_work_with_forms(api_client, demo_passwords, model):
    rapid_review(model, "RR-2025-030", date(2025, 2, 3), 18)
    csrf = signed_in_page(api_client, demo_passwords, "strategy.manager")
    board = api_client.get("/dashboard?year=2025")
    assert board.status_code == 200 and "RR-2025-030" in board.text and board.text.count("<svg") == 5
    added = api_client.post("/action-plan/new", data={"csrf_token": csrf, "description": "Audit of step-down",
                                                       "owner_agency": "csc", "due_date-day": "10",
                                                       "due_date-month": "1", "due_date-year": "2025"})
    assert added.status_code == 200 and "Audit of step-down" in added.text and "Overdue by " in added.text
    assert "10 January 2025" in added.text, "the due date in words"
    refused = api_client.post("/action-plan/new", data={"csrf_token": csrf, "description": "No date"})
    assert refused.status_code == 422 and "due_date" in refused.text
    action_id = re.search(r'id="action-(\d+)"', added.text).group(1)
    done = api_client.post(f"/action-plan/{action_id}", data={"csrf_token": csrf, "status": "completed"})
    assert done.status_code == 422 and "needs evidence" in done.text
    api_client.post(f"/action-plan/{action_id}", data={"csrf_token": csrf, "status": "completed",
                                                        "evidence": "Audit report of 9 Jan"})
    signed = api_client.post(f"/action-plan/{action_id}", data={"csrf_token": csrf, "sign_off": "1"})
    assert "Signed off" in signed.text
    raised = api_client.post("/escalations/new", data={"csrf_token": csrf, "group_name": "Working Group",
                                                        "title": "Capacity", "concern": "Too few reviewers."})
    assert "Open for 0 working days" in raised.text
    assert "Issue the themes sheet" in api_client.get("/themes").text
    csrf = signed_in_page(api_client, demo_passwords, "exec.police")
    answered = api_client.post("/escalations/1", data={"csrf_token": csrf, "response": "Funding agreed."})
    assert "Funding agreed." in answered.text and "Record the response" in answered.text
    signed_in_page(api_client, demo_passwords, "agency.education")
    assert api_client.get("/dashboard").status_code == 403


def test_tracker_status_follows_the_field_guide(api_client, sign_in, model):
    """Open until published; closed once published, or once the review is completed and signed off."""
    from engine.calendar import add_months

    model.step("RR-2025-040", date(2025, 3, 3), "decision_sheet", notified_on=date(2025, 3, 3))
    rapid_review(model, "RR-2025-041", date(2025, 3, 3), 12, recommendation="no_further_review")
    base = ReviewSnapshot(case_reference="", stage="learning_events", decided_on=date(2025, 4, 1),
                          due=add_months(date(2025, 4, 1), 6), methods=["partner_led_workshop"], late=False)
    stages = {"RR-2025-042": {"stage": "learning_events"}, "RR-2025-043": {"stage": "publication_notice"},
              "RR-2025-044": {"stage": "learning_workshop", "published_on": date(2025, 9, 1)},
              "RR-2025-045": {"stage": "learning_workshop", "not_published_reasons": "Criminal trial pending"}}
    for reference, update in stages.items():
        dates = rapid_review(model, reference, date(2025, 3, 3), 12, recommendation="local_cspr")
        model.step(reference, date(2025, 9, 1), "practice_review", recommendation="local_cspr", **dates,
                   review=base.model_copy(update={"case_reference": reference, **update}))
    rows = tracker(api_client, sign_in)
    assert {r: rows[r]["status"] for r in sorted(rows)} == {
        "RR-2025-040": "open", "RR-2025-041": "closed", "RR-2025-042": "open",
        "RR-2025-043": "closed", "RR-2025-044": "closed", "RR-2025-045": "closed"}


def test_tracker_converted_only_when_a_local_cspr_started(api_client, sign_in, model):
    """The recommendation is not the review: "converted" when the practice review exists, not before."""
    dates = rapid_review(model, "RR-2025-050", date(2025, 3, 3), 12, recommendation="local_cspr")
    model.step("RR-2025-050", date(2025, 3, 24), "methodology", recommendation="local_cspr", **dates)
    rapid_review(model, "RR-2025-051", date(2025, 3, 3), 12, recommendation="national_review_referral")
    model.step("RR-2025-052", date(2025, 3, 3), "closed", closed_reason="Referral declined")
    notified_only = {"notified_on": date(2025, 3, 4), "notification_reference": "OF-53"}
    model.step("RR-2025-053", date(2025, 3, 4), "notification", **notified_only)
    model.step("RR-2025-053", date(2025, 3, 5), "closed", outcome="Notified; no rapid review", **notified_only)
    rows = tracker(api_client, sign_in)
    waiting = rows["RR-2025-050"]
    assert waiting["review_type"] == "rapid review" and waiting["status"] == "open", \
        "the partners decided on a CSPR; it has not started yet"
    assert rows["RR-2025-051"]["review_type"] == "rapid review"
    assert "RR-2025-052" not in rows, "a declined referral is no review"
    assert "RR-2025-053" not in rows, "a notification closed without a rapid review is not exported as one"
    cspr(model, "RR-2025-050", date(2025, 3, 24), None, **dates)
    started = tracker(api_client, sign_in)["RR-2025-050"]
    assert started["review_type"] == "converted (rapid review to CSPR)" and started["status"] == "open"
    assert started["stage_reached"] == "terms_of_reference"


def test_tracker_themes_in_the_panels_order_then_hand_tags(api_client, sign_in, model):
    bu = sign_in("strategy.manager")
    model.step("RR-2025-060", date(2025, 3, 3), "panel_preparation", opened_on=date(2025, 2, 28),
               notified_on=date(2025, 3, 3))
    assert api_client.post("/api/cases/RR-2025-060/themes", headers=bu,
                           json={"name": "record keeping"}).status_code == 201
    assert api_client.post("/api/cases/RR-2025-060/themes", headers=bu,
                           json={"name": "cultural competence"}).status_code == 201
    model.step("RR-2025-060", date(2025, 3, 14), "decision_sheet", opened_on=date(2025, 2, 28),
               notified_on=date(2025, 3, 3), themes=["professional curiosity", "record keeping", "neglect"])
    row = tracker(api_client, sign_in)["RR-2025-060"]
    assert [row[f"theme_{i}"] for i in (1, 2, 3)] == ["professional curiosity", "record keeping", "neglect"], \
        "the panel's order; its choice of a theme tagged earlier by hand takes the panel's place"
    assert row["date_added"] == "2025-02-28", "the day the referral was made"
    model.step("RR-2025-061", date(2025, 3, 14), "decision_sheet", themes=["neglect"], notified_on=date(2025, 3, 14))
    assert api_client.post("/api/cases/RR-2025-061/themes", headers=bu,
                           json={"name": "cultural competence"}).status_code == 201
    row = tracker(api_client, sign_in)["RR-2025-061"]
    assert [row[f"theme_{i}"] for i in (1, 2, 3)] == ["neglect", "cultural competence", ""]


def tracker(api_client, sign_in) -> dict[str, dict]:
    response = api_client.get("/api/tracker.csv", headers=sign_in("exec.icb"))
    assert response.status_code == 200, response.text
    table = list(csv.DictReader(io.StringIO(response.text)))
    assert table and list(table[0]) == list(TRACKER_COLUMNS)
    return {row["case_reference"]: row for row in table}


def test_figures_as_a_partnership_reports_them(api_client, sign_in, model, demo_passwords):
    """Reg. 14 and s16G: a financial year as well as a calendar year; a review not published but with its
    improvements published is completed; a stopped review is not; notifications in time are counted."""
    from engine.calendar import add_months

    # Notified in time (due the 10th) in February 2026, and late in May 2026.
    model.step("RR-2026-101", date(2026, 2, 9), "panel_preparation", notified_on=date(2026, 2, 9),
               notification_due=date(2026, 2, 10), opened_on=date(2026, 2, 3))
    model.step("RR-2026-102", date(2026, 5, 20), "panel_preparation", notified_on=date(2026, 5, 20),
               notification_due=date(2026, 5, 12), opened_on=date(2026, 5, 5))
    base = ReviewSnapshot(case_reference="", stage="learning_workshop", decided_on=date(2025, 11, 3),
                          due=add_months(date(2025, 11, 3), 6), methods=["partner_led_workshop"], late=False)
    improvements = base.model_copy(update={"case_reference": "RR-2025-103", "not_published_reasons": "Trial",
                                           "completed_on": date(2026, 4, 20)})
    model.step("RR-2025-103", date(2026, 4, 20), "practice_review", review=improvements, notified_on=date(2025, 9, 1))
    stopped = base.model_copy(update={"case_reference": "RR-2025-104", "stage": "closed",
                                      "completed_on": date(2026, 4, 21)})
    model.step("RR-2025-104", date(2026, 4, 21), "closed", review=stopped, stopped=True,
               notified_on=date(2025, 9, 1), outcome="Local CSPR stopped by the partners: national review")
    bu = sign_in("strategy.manager")
    calendar_year = api_client.get("/api/dashboard?year=2026", headers=bu).json()
    assert calendar_year["period"] == "2026"
    q1, q2 = calendar_year["quarters"][:2]
    assert (q1["notifications"], q1["notified_within_5_working_days"]) == (1, 1)
    assert (q2["notifications"], q2["notified_within_5_working_days"]) == (1, 0)
    assert q2["cspr_completed"] == 1 and q2["cspr_completed_within_6_months"] == 1, \
        "improvements published in time complete the review; the stopped one never does"
    financial = api_client.get("/api/dashboard?year=2025&basis=financial", headers=bu).json()
    assert financial["period"] == "April 2025 to March 2026"
    assert financial["quarters"][3]["notifications"] == 1, "February 2026 is the fourth quarter of 2025-26"
    assert financial["totals"]["cspr_completed"] == 0
    next_year = api_client.get("/api/dashboard?year=2026&basis=financial", headers=bu).json()
    assert next_year["quarters"][0]["cspr_completed"] == 1 and next_year["quarters"][0]["notifications"] == 1
    table = api_client.get("/api/dashboard.csv?year=2026&basis=financial", headers=bu)
    assert table.headers["content-disposition"].endswith('timeliness-2026-financial.csv"')
    assert api_client.get("/api/dashboard?year=2026&basis=fiscal", headers=bu).status_code == 422
    signed_in_page(api_client, demo_passwords, "strategy.manager")
    page = api_client.get("/dashboard?year=2025&basis=financial")
    assert page.status_code == 200 and "Timeliness, April 2025 to March 2026" in page.text
