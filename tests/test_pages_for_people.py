"""What people meet when something is off, through the real app: HTML error pages (JSON kept for API clients), a
form refused for its security token given back with what was typed, themes checked for near-duplicates, and the
auditor's log filtered in plain language."""

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from records.audit import AuditWriter
from records.models import AuditEvent, Theme
from reviews.rapid_review.process_rules import ProcessRules
from service.accounts.auth import SESSION_COOKIE
from service.api.dashboard import chart_svg
from service.partnership.timeliness import Quarter, Timeliness
from service.web.audit import PAGE_SIZE, who_saw
from tests.conftest import sign_in_through_page

SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def signed_in(client, demo_passwords, username: str) -> str:
    page = sign_in_through_page(client, username, demo_passwords[username], follow_redirects=True)
    assert page.status_code == 200
    return csrf_of(page.text)


@SQLITE
def test_error_pages_for_people_and_json_for_api_clients(api_client, demo_passwords):
    unknown = api_client.get("/no-such-page")
    assert unknown.status_code == 404 and unknown.headers["content-type"].startswith("text/html")
    assert "<h1 data-testid=\"error-heading\">Page not found</h1>" in unknown.text
    assert api_client.get("/api/no-such-thing").json() == {"detail": "Not Found"}, "API clients keep JSON"
    link = api_client.get("/api/documents/1?format=html", headers={"accept": "text/html,*/*"})
    assert link.status_code == 401 and "You have been signed out" in link.text, "a document link after sign-out"
    assert api_client.get("/api/documents/1?format=html").json()["detail"].startswith("Sign in first")

    signed_in(api_client, demo_passwords, "agency.education")
    refused = api_client.get("/dashboard")
    assert refused.status_code == 403 and "You cannot do this" in refused.text
    assert "Your role (Agency member) may not open this page" in refused.text, "the role in words"

    ended = TestClient(api_client.app, cookies={SESSION_COOKIE: "a-session-that-has-ended"})
    answer = ended.get("/tasks", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/signin?ended=true"
    page = ended.get("/tasks")
    assert "You have been signed out" in page.text and "<h1>Sign in</h1>" in page.text
    assert ended.get("/signin").text.count("You have been signed out") == 0, "said once: the dead cookie is gone"


@SQLITE
def test_a_form_refused_for_its_token_comes_back_with_what_was_typed(api_client, demo_passwords):
    signed_in(api_client, demo_passwords, "strategy.manager")
    typed = {"group_name": "Rapid Review Working Group", "title": "Reviewer capacity",
             "concern": "Two reviews wait for a reviewer.\nWe need a second one."}
    refused = api_client.post("/escalations/new", data=typed)
    assert refused.status_code == 403 and "security token" in refused.text
    assert "Your answers were not sent" in refused.text and "Rapid Review Working Group" in refused.text
    assert "Two reviews wait for a reviewer.\nWe need a second one.</textarea>" in refused.text
    again = api_client.post("/escalations/new", data={**typed, "csrf_token": csrf_of(refused.text)},
                            follow_redirects=True)
    assert again.status_code == 200 and "Reviewer capacity" in again.text, "sent again, it is done"

    other_site = api_client.post("/escalations/new", data=typed, headers={"sec-fetch-site": "cross-site"})
    assert other_site.status_code == 403 and "Rapid Review Working Group" not in other_site.text, (
        "a form from another site is not put in front of the person to send")

    api_client.cookies.clear()
    api_client.get("/signin")
    sign_in = api_client.post("/signin", data={"username": "panel.chair", "password": "secret-typed"})
    assert sign_in.status_code == 403 and 'value="panel.chair"' in sign_in.text and "secret-typed" not in sign_in.text


@SQLITE
def test_themes_are_checked_for_near_duplicates(api_client, demo_passwords, engine):
    csrf = signed_in(api_client, demo_passwords, "strategy.manager")
    same = api_client.post("/themes/new", data={"csrf_token": csrf, "name": "Domestic-Abuse!"})
    assert same.status_code == 409 and "&#39;domestic abuse&#39; is already on the list" in same.text
    assert 'aria-invalid="true"' in same.text and "There is a problem" in same.text

    close = api_client.post("/themes/new", data={"csrf_token": csrf, "name": "Domestic abusse"})
    assert close.status_code == 409 and "Use ‘domestic abuse’" in close.text
    picked = api_client.post("/themes/new", data={"csrf_token": csrf, "name": "Domestic abusse",
                                                  "choice": "domestic abuse"})
    assert "Nothing was added" in picked.text
    inside = api_client.post("/themes/new", data={"csrf_token": csrf, "name": "Unsafe sleeping"})
    assert "Use ‘infant safety (incl. unsafe sleeping)’" in inside.text, "one inside the other is close too"
    with Session(engine) as session:
        assert session.exec(select(Theme)).all() == []

    added = api_client.post("/themes/new", data={"csrf_token": csrf, "name": "Domestic abusse", "choice": "new"})
    assert added.status_code == 200 and "Added &#39;domestic abusse&#39; to the list." in added.text
    fresh = api_client.post("/themes/new", data={"csrf_token": csrf, "name": "Online harm"}, follow_redirects=False)
    assert fresh.status_code == 303, "nothing like it on the list: added at once"


def test_the_audit_log_in_plain_language_with_filters(api_client, demo_passwords, engine):
    signed_in(api_client, demo_passwords, "strategy.manager")
    api_client.get("/board")
    signed_in(api_client, demo_passwords, "auditor")
    everything = api_client.get("/audit")
    assert everything.status_code == 200
    text = re.sub(r"<[^>]+>", " ", everything.text)
    assert re.search(r"\(Business unit\) looked at the list of cases\.", text)
    assert "{" not in text.split("Filter the log")[1], "no JSON in the log"
    reads = api_client.get("/audit?kind=reads").text
    changes = api_client.get("/audit?kind=changes").text
    assert "looked at the list of cases" in reads and "looked at the list of cases" not in changes
    assert "signed in" in changes
    with Session(engine) as session:
        manager = session.exec(select(AuditEvent).where(AuditEvent.action == "list_cases")).first().actor_id
    only = api_client.get(f"/audit?person={manager}").text
    assert "looked at the list of cases" in only and "(Auditor)" not in re.sub(r"<option[^>]*>[^<]*</option>", "",
                                                                               only.split("Filter the log")[1])
    wrong = api_client.get("/audit?from-day=31&from-month=2&from-year=2026")
    assert wrong.status_code == 422 and "Error: Audit log" in wrong.text
    assert 'href="#from-day">The start date must be a real date' in wrong.text
    none = api_client.get("/audit?from-day=1&from-month=1&from-year=2001&to-day=2&to-month=1&to-year=2001").text
    assert "Nothing matches these filters" in none
    with Session(engine) as session:
        looked = session.exec(select(AuditEvent).where(AuditEvent.action == "read_audit_log")).all()
    assert len(looked) == 7 and '"show": "reads"' in looked[2].detail, "each reading (the start page too) is recorded"


def test_the_audit_log_comes_a_page_at_a_time_keeping_its_filters(api_client, demo_passwords):
    signed_in(api_client, demo_passwords, "strategy.manager")
    for _ in range(PAGE_SIZE + 3):
        api_client.get("/board")
    signed_in(api_client, demo_passwords, "auditor")
    first = api_client.get("/audit?kind=reads")
    assert first.status_code == 200 and first.text.count('<tr class="read">') == PAGE_SIZE
    total = int(re.search(r"Showing 1 to 50 of ([\d,]+) \(page 1 of 2\)", first.text).group(1))
    assert total > PAGE_SIZE and 'rel="prev"' not in first.text
    following = re.search(r'<a rel="next" href="([^"]+)"', first.text).group(1).replace("&amp;", "&")
    assert following == "/audit?kind=reads&page=2", "the next page keeps the filters"
    second = api_client.get(following)
    now = total + 1  # reading the first page is itself a read, recorded
    assert f"Showing 51 to {now} of {now}" in second.text and 'rel="next"' not in second.text
    assert second.text.count('<tr class="read">') == now - PAGE_SIZE and 'rel="prev"' in second.text
    assert '<tr class="change">' not in second.text
    # Every page at once, filtered the same way, for a spreadsheet: headed in words, the moment in words.
    table = list(csv.DictReader(io.StringIO(api_client.get("/audit.csv?kind=reads").text)))
    assert len(table) >= now and {row["Read or change"] for row in table} == {"Read"}
    assert table[-1]["What happened"] == "Sam Patel (Strategy Manager) (Business unit) looked at the list of cases."
    assert re.fullmatch(r"\d{1,2} [A-Z][a-z]+ \d{4} at \d{1,2}:\d\d[ap]m", table[0]["When"])
    beyond = api_client.get("/audit?kind=reads&page=9").text
    assert "There is no page 9: the log has 2 pages" in beyond and 'href="/audit?kind=reads&amp;page=2"' in beyond


def test_who_saw_a_case_is_one_line_per_person_on_both_databases(engine, demo_passwords):
    """The grouping the auditor's page and CSV show: first and last look, how many, and what (SQL on both)."""
    now = datetime.now(UTC)
    with Session(engine) as session:
        for minutes, action in ((0, "read_case"), (5, "read_case"), (9, "read_document")):
            AuditWriter(session, b"test-only-audit-key").add(action, "RR-1", {}, actor_id=1, actor_role="business_unit",
                                                              at=now + timedelta(minutes=minutes))
        session.commit()
        looks = who_saw(session, "RR-1")
    assert [(look.role, look.count, look.last - look.first) for look in looks] == [
        ("Business unit", 3, timedelta(minutes=9))]
    assert sorted(looks[0].what) == ["opened a document", "opened the case page"]


def test_chart_titles_follow_the_rules_in_force():
    figures = Timeliness(year=2026, quarters=[Quarter(year=2026, quarter=q) for q in range(1, 5)],
                         totals=Quarter(year=2026, quarter=0), stage_medians=[], late_rapid_reviews=[], late_csprs=[])
    rules = ProcessRules(rapid_review_working_days=20, cspr_months=9)
    rapid = chart_svg(figures, "rapid_reviews", rules)
    assert "Rapid reviews submitted, and within 20 working days, 2026</title>" in rapid and "15" not in rapid
    assert "within 9 months" in chart_svg(figures, "csprs", rules)
    assert 'aria-labelledby="chart-csprs-title chart-csprs-desc"' in chart_svg(figures, "csprs", rules)


@SQLITE
def test_a_failure_nobody_foresaw_is_a_page_for_people_and_json_for_api_clients(settings, engine):
    from service.app import create_app

    app = create_app(settings)

    @app.get("/api/fails")
    @app.get("/fails")
    def fails():
        raise RuntimeError("an unforeseen failure with case text in it")

    with TestClient(app, raise_server_exceptions=False) as client:
        page = client.get("/fails")
        assert page.status_code == 500 and "Sorry, there is a problem with the service" in page.text
        assert "case text" not in page.text
        assert client.get("/api/fails").json() == {"detail": "The service failed; try again later"}
