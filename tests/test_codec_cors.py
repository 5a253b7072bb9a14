"""The Temporal UI decodes through /codec/decode from an auditor's browser: real HTTP against uvicorn on loopback.

The UI (temporalio/ui, src/lib/services/data-encoder.ts) sends `POST {endpoint}/decode` with Content-Type and
X-Namespace headers and, with TEMPORAL_CODEC_INCLUDE_CREDENTIALS, the browser's cookies: so the browser first
sends a CORS preflight, and the POST carries the auditor's session cookie and the UI's Origin, never our CSRF
token. Each request below is what a browser on that origin would send.
"""

from __future__ import annotations

import asyncio
import json
import threading

import httpx
import pytest
import uvicorn
from google.protobuf import json_format
from sqlmodel import Session, select
from temporalio.api.common.v1 import Payload, Payloads

from service.models import AuditEvent
from service.runner import free_port
from service.settings import Settings
from service.temporal import EncryptionCodec
from tests.conftest import TEST_KEY, make_settings

UI_ORIGIN = "http://localhost:8080"
PREFLIGHT = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type,x-namespace"}


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    """The app served by uvicorn on a loopback port, with demo users; yields (base URL, passwords, engine)."""
    from service.accounts import create_demo_users, ensure_partnership
    from service.app import create_app
    from service.db import make_engine, session_scope, upgrade

    directory = tmp_path_factory.mktemp("codec")
    settings = make_settings(directory, f"sqlite:///{directory / 'codec.db'}",
                             rapid_review_temporal_ui_origin=UI_ORIGIN)
    engine = make_engine(settings.sqlalchemy_url)
    upgrade(engine)
    with session_scope(engine) as session:
        ensure_partnership(session, "Test partnership")
        passwords = create_demo_users(session, settings.audit_key_bytes)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if httpx.get(f"{base}/healthz").status_code == 200:
                break
        except httpx.TransportError:
            threading.Event().wait(0.05)
    yield base, passwords, engine
    server.should_exit = True
    thread.join(10)
    engine.dispose()


def browser_signed_in(base: str, username: str, password: str) -> httpx.Client:
    """A browser's cookie jar after signing in on the service's own page flow (pre-session CSRF, then the form)."""
    browser = httpx.Client(base_url=base, timeout=30)
    csrf = browser.get("/api/auth/session").json()["csrf_token"]
    answer = browser.post("/api/auth/session", data={"username": username, "password": password},
                          headers={"X-CSRF-Token": csrf})
    assert answer.status_code == 200, answer.text
    assert browser.cookies.get("rr_session"), "a browser session is a cookie"
    return browser


def encrypted_payloads(text: str) -> str:
    codec = EncryptionCodec(Settings(rapid_review_encryption_key=TEST_KEY).encryption_key_bytes)
    plain = Payload(metadata={"encoding": b"json/plain"}, data=f'"{text}"'.encode())
    return json_format.MessageToJson(Payloads(payloads=[codec.encrypt(plain)]))


def decode_rows(engine) -> list[AuditEvent]:
    with Session(engine) as session:
        return list(session.exec(select(AuditEvent).where(AuditEvent.action == "decode_payloads")))


def test_preflight_is_answered_for_the_temporal_ui_origin_only(service):
    base, _, _ = service
    allowed = httpx.options(f"{base}/codec/decode", headers={"Origin": UI_ORIGIN, **PREFLIGHT})
    assert allowed.status_code in (200, 204), allowed.text
    assert allowed.headers["access-control-allow-origin"] == UI_ORIGIN
    assert allowed.headers["access-control-allow-credentials"] == "true"
    assert "POST" in allowed.headers["access-control-allow-methods"]
    assert {"content-type", "x-namespace"} <= {h.strip().lower() for h in
                                               allowed.headers["access-control-allow-headers"].split(",")}
    for origin in ("https://evil.example", "http://localhost:8081", "null"):
        refused = httpx.options(f"{base}/codec/decode", headers={"Origin": origin, **PREFLIGHT})
        assert "access-control-allow-origin" not in refused.headers, origin
        assert refused.status_code >= 400, origin
    # No other route answers CORS: the UI's origin reaches the codec and nothing else.
    other = httpx.options(f"{base}/api/cases", headers={"Origin": UI_ORIGIN, **PREFLIGHT})
    assert "access-control-allow-origin" not in other.headers


def test_a_signed_in_auditor_decodes_from_the_ui_origin_and_each_decode_is_audited(service):
    base, passwords, engine = service
    before = len(decode_rows(engine))
    browser = browser_signed_in(base, "auditor", passwords["auditor"])
    answer = browser.post("/codec/decode", content=encrypted_payloads("Julie"),
                          headers={"Origin": UI_ORIGIN, "Content-Type": "application/json", "X-Namespace": "default"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["access-control-allow-origin"] == UI_ORIGIN
    assert answer.headers["access-control-allow-credentials"] == "true"
    decoded = json_format.Parse(answer.text, Payloads())
    assert decoded.payloads[0].data == b'"Julie"'
    rows = decode_rows(engine)
    assert len(rows) == before + 1
    detail = json.loads(rows[-1].detail)
    assert detail["namespace"] == "default" and detail["origin"] == UI_ORIGIN


def test_decode_is_refused_without_a_session_from_another_origin_or_for_another_role(service):
    base, passwords, engine = service
    body = encrypted_payloads("Julie")
    json_headers = {"Content-Type": "application/json", "X-Namespace": "default"}
    before = len(decode_rows(engine))

    no_cookie = httpx.post(f"{base}/codec/decode", content=body, headers={"Origin": UI_ORIGIN, **json_headers})
    assert no_cookie.status_code == 401

    auditor = browser_signed_in(base, "auditor", passwords["auditor"])
    for origin in ("https://evil.example", "http://localhost:8081"):
        cross_site = auditor.post("/codec/decode", content=body, headers={"Origin": origin, **json_headers})
        assert cross_site.status_code == 403, origin
        assert "access-control-allow-origin" not in cross_site.headers
    no_origin = auditor.post("/codec/decode", content=body, headers=json_headers)
    assert no_origin.status_code == 403, "a cookie without the UI's Origin or the CSRF token is not enough"

    chair = browser_signed_in(base, "panel.chair", passwords["panel.chair"])
    not_auditor = chair.post("/codec/decode", content=body, headers={"Origin": UI_ORIGIN, **json_headers})
    assert not_auditor.status_code == 403
    assert len(decode_rows(engine)) == before, "a refused request decoded nothing"


def test_without_a_configured_ui_origin_no_browser_origin_is_allowed(tmp_path):
    """The default: RAPID_REVIEW_TEMPORAL_UI_ORIGIN unset, no page anywhere may call the codec."""
    from fastapi.testclient import TestClient

    from service.app import create_app

    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'plain.db'}")
    with TestClient(create_app(settings)) as client:
        refused = client.options("/codec/decode", headers={"Origin": UI_ORIGIN, **PREFLIGHT})
        assert refused.status_code == 403 and "access-control-allow-origin" not in refused.headers


def test_the_ui_origin_setting_must_be_an_origin():
    from service.settings import SettingsError, load_settings

    for wrong in ("localhost:8080", "http://localhost:8080/", "https://temporal.example.org/ui", "ftp://x"):
        with pytest.raises(SettingsError, match="RAPID_REVIEW_TEMPORAL_UI_ORIGIN"):
            load_settings(rapid_review_temporal_ui_origin=wrong, rapid_review_encryption_key=TEST_KEY,
                          secret_key="s" * 40, rapid_review_audit_key="a" * 40)
