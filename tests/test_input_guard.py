"""Input that cannot poison and output that cannot be turned against its reader.

Control characters are refused in every free-text field with a 422 naming the field; oversized bodies,
deep nesting, huge ids and control characters in the address are clear 4xx answers; every response carries
the security headers; a CSV cell typed as a formula opens in a spreadsheet as text.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date

import pytest

from engine.models import printable
from service.platform.http_csv import safe_cell
from service.platform.http_guard import MAX_BODY_BYTES, json_depth_exceeds

# Input refused at the service's edge: SQLite only, as the database changes nothing here
# (both databases run in the records, read-model and audit tests).
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

REFERRAL = {"pseudonym": "Child R", "age_band": "5-9", "summary": "Harmed at home.", "incident_date": "2026-11-02",
            "awareness_date": "2026-11-03", "referring_agency": "police"}


@pytest.mark.parametrize(("field", "value", "code"), [
    ("summary", "Harmed\x00at home", "U+0000"),
    ("pseudonym", "Child \u202eR", "U+202E"),  # right-to-left override: reads differently from what it holds
    ("referring_agency", "police\x1b[2J", "U+001B"),
])
def test_control_characters_in_a_referral_are_refused_naming_the_field(api_client, sign_in, field, value, code):
    answer = api_client.post("/api/cases", headers=sign_in("agency.police"), json={**REFERRAL, field: value})
    assert answer.status_code == 422, answer.text
    assert field in answer.json()["detail"] and code in answer.json()["detail"]


@pytest.mark.parametrize(("field", "value", "code"), [
    ("pseudonym", "Child\u200bR", "U+200B"),  # zero-width space: two pseudonyms that look alike
    ("summary", "\ufeffHarmed at home", "U+FEFF"),  # byte order mark
    ("summary", "Harmed\u2028at home", "U+2028"),  # line separator
    ("summary", "Harmed \U000e0068\U000e0069at home", "U+E0068"),  # tag characters: a hidden message
    ("referring_agency", "pol\u00adice", "U+00AD"),  # soft hyphen
])
def test_invisible_characters_in_free_text_are_refused_naming_the_field(api_client, sign_in, engine, field, value,
                                                                        code):
    from sqlmodel import Session, func, select

    from records.models import CaseRecord

    answer = api_client.post("/api/cases", headers=sign_in("agency.police"), json={**REFERRAL, field: value})
    assert answer.status_code == 422, answer.text
    assert f"{field}: contains the invisible character {code}" in answer.json()["detail"]
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(CaseRecord)).one() == 0, "nothing was started"


def test_invisible_characters_in_a_page_form_are_refused_naming_the_field(api_client):
    answer = api_client.post("/signin", data={"username": "panel\u200d.chair", "password": "any\u200bthing"})
    assert answer.status_code == 422 and "username: contains the invisible character U+200D" in answer.text


def test_control_characters_in_an_action_are_refused_naming_the_field(api_client, sign_in, engine):
    from records.db import session_scope
    from records.models import CaseRecord

    with session_scope(engine) as session:  # a case in the read model: the action reaches its body check
        session.add(CaseRecord(reference="RR-2026-901", pseudonym="Child S", stage="referral", year=2026,
                               opened_on=date(2026, 11, 3), awareness_date=date(2026, 11, 3)))
    answer = api_client.post("/api/cases/RR-2026-901/actions/decline_referral",
                             headers=sign_in("strategy.manager"), json={"reason": "No\x00harm"})
    assert answer.status_code == 422, answer.text
    assert "reason" in answer.json()["detail"] and "U+0000" in answer.json()["detail"]
    forged = api_client.post("/api/cases/RR-2026-901/actions/decline_referral",
                             headers=sign_in("strategy.manager"), json={"reason": "No harm", "seal": "0" * 64})
    assert forged.status_code == 422 and "seal" in forged.json()["detail"], "a caller cannot bring a seal"
    assert printable("Tab\tCR\rLF\n kept") == "Tab\tCR\rLF\n kept"


def test_plan_and_escalation_text_refuses_control_characters(api_client, sign_in):
    manager = sign_in("strategy.manager")
    answer = api_client.post("/api/action-plan", headers=manager,
                             json={"description": "Audit\x00", "due_date": str(date(2027, 1, 4))})
    assert answer.status_code == 422 and "description" in answer.json()["detail"]
    answer = api_client.post("/api/escalations", headers=manager,
                             json={"group_name": "Working Group", "title": "Funding", "concern": "\u2066hidden"})
    assert answer.status_code == 422 and "concern" in answer.json()["detail"]


def test_bodies_nesting_ids_and_addresses_are_bounded(api_client, sign_in):
    manager = sign_in("strategy.manager")
    big = api_client.post("/api/cases", headers={**manager, "Content-Type": "application/json"},
                          content=b'{"summary": "' + b"x" * (MAX_BODY_BYTES + 1) + b'"}')
    assert big.status_code == 413 and "larger than" in big.json()["detail"]
    nested = api_client.post("/api/cases", headers={**manager, "Content-Type": "application/json"},
                             content=b"[" * 5000 + b"]" * 5000)
    assert nested.status_code == 422 and "nested deeper" in nested.json()["detail"]
    assert api_client.get("/api/tasks/99999999999999999999", headers=manager).status_code in (404, 405, 422)
    huge = api_client.post("/action-plan/99999999999999999999", data={"csrf_token": "x"}, follow_redirects=False)
    assert huge.status_code in (303, 422), huge.text  # never a 500
    assert api_client.get("/api/cases/RR-%00", headers=manager).status_code == 400
    assert not json_depth_exceeds(json.dumps({"a": ["[", "{" * 50]}).encode(), 32), "brackets in strings count not"


def test_every_response_carries_the_security_headers(api_client, sign_in):
    page = api_client.get("/signin")
    api = api_client.get("/api/cases", headers=sign_in("strategy.manager"))
    for answer in (page, api):
        assert answer.headers["cache-control"] == "no-store"
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["referrer-policy"] == "no-referrer"
        policy = answer.headers["content-security-policy"]
        assert "script-src 'none'" in policy and "frame-ancestors 'none'" in policy
    assert "strict-transport-security" not in page.headers, "HSTS only in production (dev is plain HTTP)"


def test_csv_cells_typed_as_formulas_open_as_text(api_client, sign_in):
    manager = sign_in("strategy.manager")
    for formula in ('=HYPERLINK("http://evil.example","x")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)"):
        created = api_client.post("/api/action-plan", headers=manager,
                                  json={"description": formula, "due_date": "2027-01-04"})
        assert created.status_code == 201, created.text
    exported = api_client.get("/api/action-plan/export.csv", headers=manager)
    cells = [row["Action"] for row in csv.DictReader(io.StringIO(exported.text))]
    assert sorted(cells) == sorted(["'" + f for f in ('=HYPERLINK("http://evil.example","x")', "+cmd|' /C calc'!A0",
                                                      "-2+3", "@SUM(A1)")])
    assert safe_cell(-3) == -3 and safe_cell("Audit") == "Audit"


def test_headers_trickled_past_the_deadline_close_the_connection(settings):
    """A client sending its request head a byte at a time (or not at all) cannot hold a connection: the server's
    protocol closes it at the header deadline, on a fresh connection and after a kept-alive answer alike."""
    import asyncio
    import socket
    import threading

    import uvicorn

    from service.app import create_app
    from service.platform.runner import api_server_config, free_port

    settings = settings.model_copy(update={"api_port": free_port(), "api_header_timeout": 0.5})
    server = uvicorn.Server(api_server_config(create_app(settings), settings))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    try:
        while not server.started:
            threading.Event().wait(0.05)

        def closed_by_server(connection: socket.socket) -> bool:
            connection.settimeout(30)  # far past the deadline: an open connection would raise TimeoutError
            return connection.recv(65536) == b""

        with socket.create_connection(("127.0.0.1", settings.api_port)) as slow:
            slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # the head never ends
            assert closed_by_server(slow)
        with socket.create_connection(("127.0.0.1", settings.api_port)) as kept:
            kept.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")  # answered, then the next head trickles
            kept.settimeout(30)
            answer = b""
            while not answer.endswith(b'{"status":"alive"}'):
                answer += kept.recv(65536)
            assert answer.startswith(b"HTTP/1.1 200")
            kept.sendall(b"GET /healthz HTTP/1.1\r\n")
            assert closed_by_server(kept)
    finally:
        server.should_exit = True
        thread.join(10)
