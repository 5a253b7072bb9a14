"""The domain's refusals become HTTP answers in one place, and pages and routes refuse alike because both go
through the same services and role sets.

Each refusal a service raises (``records/errors.py``) reaches an API client as its status with the documented
``Error`` shape, and a person as the error page with the same words; a page and its API route let in the same
roles; and a person who may not see a case is refused it the same way by the page and by the API, each refusal on
the audit trail.
"""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlmodel import Session, select

import records.errors
from records.errors import (
    ActionRefused,
    CaseGone,
    CaseNotFound,
    Conflict,
    DomainError,
    EngineUnavailable,
    InvalidInput,
    NotFound,
    NotPermitted,
)
from records.models import AuditEvent, CaseAgency, CaseRecord, User
from service.api.routes import route_table
from tests.conftest import sign_in_through_page

EXPECTED = [
    (CaseNotFound("No case RR-2026-900 that you can see"), 404),
    (NotFound("No task 7 that you can see"), 404),
    (NotPermitted("A panel_chair may not take 'sign_off'"), 403),
    (InvalidInput("The action is not valid: decision: Field required"), 422),
    (ActionRefused("The panel has already been convened"), 409),
    (Conflict("Case RR-2026-900 is closed; no further actions can be taken"), 409),
    (CaseGone("Case RR-2026-900 is orphaned"), 410),
    (EngineUnavailable("The case's workflow did not answer within 30 s"), 503),
]


def refusing_routes(app) -> None:
    """One API route and one page that raise the refusal named in the path, as a service would."""
    by_name = {type(error).__name__: error for error, _status in EXPECTED}

    def refuse(kind: str):
        raise by_name[kind]

    app.add_api_route("/api/refusals/{kind}", refuse, methods=["GET"])
    app.add_api_route("/refusals/{kind}", refuse, methods=["GET"], include_in_schema=False)


def test_every_domain_error_has_its_status_and_the_documented_shape(api_client):
    refusing_routes(api_client.app)
    schema = api_client.get("/openapi.json").json()["components"]["schemas"]["Error"]
    for error, status in EXPECTED:
        kind = type(error).__name__
        answer = api_client.get(f"/api/refusals/{kind}")
        assert answer.status_code == status, kind
        body = answer.json()
        assert body == {"detail": error.detail}, kind
        assert set(body) <= set(schema["properties"]) and set(schema["required"]) <= set(body)
        assert (answer.headers.get("retry-after") == "10") == (status == 503), kind
        page = api_client.get(f"/refusals/{kind}", headers={"Accept": "text/html"})
        assert page.status_code == status and page.headers["content-type"].startswith("text/html"), kind
        if status < 500:  # a server-side failure's page gives advice, not the detail
            assert error.detail.split(" ")[0] in page.text, kind


def test_every_refusal_kind_is_mapped():
    """A new kind of refusal must be given its status (service/platform/http_errors.py), not fall back unnoticed."""
    from service.platform.http_errors import STATUS

    kinds = {cls for cls in vars(records.errors).values()
             if isinstance(cls, type) and issubclass(cls, DomainError) and cls is not DomainError}
    unmapped = {kind.__name__ for kind in kinds
                if not any(parent in STATUS for parent in kind.__mro__[:kind.__mro__.index(DomainError)])}
    assert not unmapped


# A page and the route a person would use for the same thing.
PAGE_AND_ROUTE = [
    (("GET", "/themes"), ("GET", "/api/themes")),
    (("POST", "/themes/new"), ("POST", "/api/themes")),
    (("POST", "/themes/sheet"), ("POST", "/api/themes/sheet")),
    (("GET", "/dashboard"), ("GET", "/api/dashboard")),
    (("GET", "/action-plan"), ("GET", "/api/action-plan")),
    (("POST", "/action-plan/new"), ("POST", "/api/action-plan")),
    (("GET", "/escalations"), ("GET", "/api/escalations")),
    (("POST", "/escalations/new"), ("POST", "/api/escalations")),
    (("POST", "/escalations/{escalation_id}"), ("POST", "/api/escalations/{escalation_id}/response")),
    (("GET", "/admin/calendar"), ("GET", "/api/calendar-days")),
    (("POST", "/admin/calendar"), ("POST", "/api/calendar-days")),
    (("GET", "/cases/{reference}"), ("GET", "/api/cases/{reference}")),
    (("GET", "/tasks"), ("GET", "/api/tasks")),
    (("POST", "/cases/new"), ("POST", "/api/cases")),
    (("POST", "/review-types/{key}/new"), ("POST", "/api/review-types/{key}/cases")),
    (("GET", "/audit/{reference}/history"), ("GET", "/api/cases/{reference}/history")),
]


def test_a_page_lets_in_the_roles_its_route_does(api_client):
    pages = {(rule.method, rule.path): rule.roles for rule in route_table(api_client.app, pages=True)}
    routes = {(rule.method, rule.path): rule.roles for rule in route_table(api_client.app)}
    for page, route in PAGE_AND_ROUTE:
        assert pages[page] is not None and pages[page] == routes[route], f"{page} and {route}"


@pytest.fixture
def case_for_police(engine) -> str:
    """A case in the read model to which only the police are invited (no workflow is needed to be refused)."""
    reference = "RR-2026-901"
    with Session(engine) as session:
        session.add(CaseRecord(reference=reference, pseudonym="Child A", stage="panel", opened_on=date(2026, 11, 2),
                               year=2026, awareness_date=date(2026, 11, 2)))
        session.flush()
        session.add(CaseAgency(case_reference=reference, agency="police"))
        session.commit()
    return reference


def test_a_page_and_the_api_refuse_the_same_person_the_same_case(api_client, sign_in, demo_passwords, engine,
                                                                case_for_police):
    reference = case_for_police
    by_api = api_client.get(f"/api/cases/{reference}", headers=sign_in("agency.education"))
    assert by_api.status_code == 404
    assert by_api.json() == {"detail": f"No case {reference} that you can see"}
    acted = api_client.post(f"/api/cases/{reference}/actions/submit_information_return",
                            json={"involvement": "Known to the school", "chronology": "Attended until May",
                                  "analysis": "No concerns recorded"}, headers=sign_in("agency.education"))
    assert acted.status_code == 404 and acted.json() == by_api.json()

    sign_in_through_page(api_client, "agency.education", demo_passwords["agency.education"])
    by_page = api_client.get(f"/cases/{reference}")
    assert by_page.status_code == 404 and f"No case {reference} that you can see" in by_page.text
    with Session(engine) as session:
        person = session.exec(select(User).where(User.username == "agency.education")).one()
        denied = session.exec(select(AuditEvent).where(AuditEvent.actor_id == person.id,
                                                       AuditEvent.action == "denied")).all()
        assert [json.loads(row.detail)["status"] for row in denied] == [404, 404, 404]
        filed = session.exec(select(AuditEvent).where(AuditEvent.case_reference == reference)).all()
        assert [row.action for row in filed] == ["denied"] * 3, "only the refusals, filed for the case's auditor"
