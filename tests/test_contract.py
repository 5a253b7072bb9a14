"""The API as a partner system codes against it: a client built from /openapi.json alone drives a case, every
request and answer checked against the published schemas; the change feed and the referrer's view."""

from __future__ import annotations

import re
from datetime import timedelta

import jsonschema
import pytest

from engine.calendar import WorkingDayCalendar, london_date

SUMMARY = "Infant harmed while in the care of a relative."


class SchemaClient:
    """A client generated from the published OpenAPI document: operations by their operationId (keyword
    arguments are path or query parameters), bodies and answers validated against the schemas the document
    gives (what a generated client would rely on)."""

    def __init__(self, http, spec: dict) -> None:
        self.http, self.spec = http, spec
        self.operations = {}
        for path, methods in spec["paths"].items():
            for method, operation in methods.items():
                self.operations[operation["operationId"]] = (method, path, operation)

    def _schema(self, schema: dict) -> dict:
        return {**schema, "components": self.spec["components"]}

    async def call(self, operation_id: str, headers: dict, body: dict | None = None, **path) -> dict | list:
        method, template, operation = self.operations[operation_id]
        if body is not None:
            schema = operation["requestBody"]["content"]["application/json"]["schema"]
            jsonschema.validate(body, self._schema(schema))  # what we send is what the document says
        url = re.sub(r"{(\w+)}", lambda m: str(path.pop(m.group(1))), template)
        response = await self.http.request(method.upper(), url, headers=headers, json=body, params=path)
        documented = operation["responses"]
        assert str(response.status_code) in documented, f"{operation_id}: {response.status_code} not documented"
        answer = response.json()
        content = documented[str(response.status_code)].get("content", {}).get("application/json")
        if content and "schema" in content:
            jsonschema.validate(answer, self._schema(content["schema"]))
        if response.status_code >= 400:
            raise AssertionError(f"{operation_id}: {response.status_code} {answer['detail']}")
        return answer


def test_every_action_has_a_request_schema_its_roles_stages_and_an_example(api_client):
    spec = api_client.get("/openapi.json").json()
    actions = {path: ops["post"] for path, ops in spec["paths"].items()
               if re.fullmatch(r"/api/cases/\{reference\}/actions/\w+", path)}
    from service.cases.case_service import ACTIONS

    assert {path.rsplit("/", 1)[1] for path in actions} == set(ACTIONS)
    for path, operation in actions.items():
        body = operation["requestBody"]["content"]["application/json"]
        schema = spec["components"]["schemas"][body["schema"]["$ref"].rsplit("/", 1)[1]]
        assert "actor" not in schema.get("properties", {}) and "seal" not in schema.get("properties", {}), path
        assert "**Who:**" in operation["description"] and "**When:**" in operation["description"], path
        jsonschema.validate(body["example"], {**schema, "components": spec["components"]})
    # Every route's error answers are documented, in the one error shape.
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            for code, answer in operation["responses"].items():
                if code[0] in "45":
                    assert answer["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
            if path.startswith("/api/") and path not in ("/api/auth/token", "/api/auth/session"):
                assert {"401", "403"} <= set(operation["responses"]), f"{method} {path}"


def test_an_unknown_action_is_named_and_a_bad_body_is_refused_by_its_schema(api_client, sign_in):
    headers = sign_in("strategy.manager")
    unknown = api_client.post("/api/cases/RR-2026-001/actions/approve_everything", headers=headers, json={})
    assert unknown.status_code == 404 and "convene_panel" in unknown.json()["detail"]
    bad = api_client.post("/api/cases/RR-2026-001/actions/convene_panel", headers=headers,
                          json={"panel_date": "soon", "invited_agencies": "education"})
    assert bad.status_code == 422
    assert "panel_date" in bad.json()["detail"] and "invited_agencies" in bad.json()["detail"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_client_from_the_openapi_document_drives_a_case_and_follows_its_events(api, case_env):
    client = SchemaClient(api, (await api.get("/openapi.json")).json())
    police = await api.as_user("agency.police")
    manager = await api.as_user("strategy.manager")
    today = london_date(await case_env.get_current_time())

    created = await client.call("submit_referral", police, {
        "pseudonym": "Case-Pseudonym", "age_band": "under 1", "summary": SUMMARY, "incident_date": str(today),
        "awareness_date": str(today), "referring_agency": "police"})
    reference = created["reference"]
    # The referring agency follows its referral, though it is not (yet) invited to the case.
    mine = await client.call("my_referrals", police)
    assert [(r["reference"], r["status"]) for r in mine] == [(reference, "Waiting for a decision")]
    assert (await api.get(f"/api/cases/{reference}", headers=police)).status_code == 404, "not the whole case"

    start = (await client.call("list_events", manager))["after"]
    await client.call("accept_referral", manager, {}, reference=reference)
    await client.call("propose_sin_decision", await api.as_user("csc.lead"),
                      {"decision": "notify", "rationale": "Serious harm."}, reference=reference)
    for seat in ("exec.police", "exec.icb"):
        await client.call("respond_to_sin_proposal", await api.as_user(seat),
                          {"version": 1, "view": "agree", "comments": "Agreed."}, reference=reference)
    await client.call("record_notification", await api.as_user("csc.lead"),
                      {"notified_on": str(today), "notification_reference": "OF-9"}, reference=reference)
    panel_date = WorkingDayCalendar().add_working_days(today, 1)
    await client.call("convene_panel", manager, {"panel_date": str(panel_date), "invited_agencies": ["education"]},
                      reference=reference)
    education = await api.as_user("agency.education")
    task = (await client.call("list_tasks", education))["items"][0]
    await client.call("complete_task", education, {"involvement": "School saw bruising.", "chronology": "Term 1.",
                                                   "analysis": "Escalation was late."}, task_id=task["id"])
    await case_env.sleep(timedelta(days=1))
    state = await client.call("record_panel_outcome", await api.as_user("panel.chair"), {
        "held_on": str(london_date(await case_env.get_current_time())), "attendees": ["Chair"],
        "learning": "Bruising protocol.", "recommendation": "local_cspr", "rationale": "Criteria met."},
        reference=reference)
    assert state["stage"] == "decision_sheet"
    followed = await client.call("my_referral", police, reference=reference)
    assert (followed["status"], followed["accepted_on"]) == ("Accepted", str(today))

    # The feed: what happened, in order, from the cursor; kinds and stages only.
    feed = await client.call("list_events", manager)
    assert feed["after"] > start
    kinds = [e["kind"] for e in feed["events"] if e["reference"] == reference]
    assert kinds[:2] == ["submit_referral", "accept_referral"]
    assert {"convene_panel", "submit_information_return", "record_panel_outcome"} <= set(kinds)
    assert feed["events"][-1]["stage"] == "decision_sheet"
    text = str(feed)
    assert "Case-Pseudonym" not in text and "bruising" not in text.lower() and SUMMARY not in text
    newer = await client.call("list_events", manager, after=feed["after"])
    assert newer == {"events": [], "after": feed["after"]} or all(e["id"] > feed["after"] for e in newer["events"])
    # An invited agency sees this case's events; an agency that is not invited sees none.
    assert any(e["reference"] == reference for e in (await client.call("list_events", education))["events"])
    assert (await client.call("list_events", await api.as_user("agency.health")))["events"] == []


async def follow(client, headers, cursor: int, handle) -> int:
    """A partner system's loop: handle each event, keep the cursor only after it was handled."""
    for event in (await client.call("list_events", headers, after=cursor))["events"]:
        handle(event)
        cursor = event["id"]
    return cursor


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_consumer_that_fails_once_resumes_from_its_cursor_and_misses_nothing(api, case_env):
    client = SchemaClient(api, (await api.get("/openapi.json")).json())
    manager = await api.as_user("strategy.manager")
    today = london_date(await case_env.get_current_time())
    for name in ("One", "Two"):
        await client.call("submit_referral", manager, {
            "pseudonym": f"Pseudonym-{name}", "age_band": "under 1", "summary": SUMMARY,
            "incident_date": str(today), "awareness_date": str(today), "referring_agency": "police"})
    handled, failed = [], []

    def flaky(event):
        if not failed:
            failed.append(event["id"])
            raise ConnectionError("the partner's system was down")
        handled.append(event["id"])

    cursor = 0
    with pytest.raises(ConnectionError):
        cursor = await follow(client, manager, cursor, flaky)
    cursor = await follow(client, manager, cursor, flaky)  # the retry starts from the last cursor it kept
    assert len(handled) == len(set(handled)) == 2 and handled[0] == failed[0], "each event once, none lost"
