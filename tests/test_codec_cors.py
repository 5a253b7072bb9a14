"""The Temporal UI decodes through /codec/decode from an auditor's browser: real HTTP against uvicorn on loopback.

The UI (temporalio/ui, src/lib/services/data-encoder.ts) sends `POST {endpoint}/decode` with Content-Type and
X-Namespace headers and, with TEMPORAL_CODEC_INCLUDE_CREDENTIALS, the browser's cookies: so the browser first
sends a CORS preflight, and the POST carries the auditor's session cookie and the UI's Origin, never our CSRF
token. Each request below is what a browser on that origin would send.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import threading
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from google.protobuf import json_format
from sqlmodel import Session, select
from temporalio.api.common.v1 import Payload, Payloads

from records.codec import EncryptionCodec
from records.models import AuditEvent
from service.platform.runner import free_port
from service.platform.settings import Settings
from tests.conftest import TEST_KEY, make_settings

UI_ORIGIN = "http://localhost:8080"
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
PREFLIGHT = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type,x-namespace"}


@contextmanager
def served(directory: Path, ui_origin: str):
    """The app served by uvicorn on a loopback port, with demo users; yields (base URL, passwords, engine)."""
    from records.db import make_engine, session_scope, upgrade
    from service.accounts.users import create_demo_users, ensure_partnership
    from service.app import create_app

    settings = make_settings(directory, f"sqlite:///{directory / 'codec.db'}",
                             rapid_review_temporal_ui_origin=ui_origin)
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
    try:
        yield base, passwords, engine
    finally:
        server.should_exit = True
        thread.join(10)
        engine.dispose()


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    with served(tmp_path_factory.mktemp("codec"), UI_ORIGIN) as running:
        yield running


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


def test_tampered_payloads_are_refused_with_a_400_and_audited(service):
    base, passwords, engine = service
    sealed = json_format.Parse(encrypted_payloads("Julie"), Payloads())
    flipped = bytearray(sealed.payloads[0].data)
    flipped[-1] ^= 1  # one bit of the ciphertext changed in the engine's database
    sealed.payloads[0].data = bytes(flipped)
    auditor = browser_signed_in(base, "auditor", passwords["auditor"])
    answer = auditor.post("/codec/decode", content=json_format.MessageToJson(sealed),
                          headers={"Origin": UI_ORIGIN, "Content-Type": "application/json", "X-Workflow-Id": "RR-1"})
    assert answer.status_code == 400 and "changed after it was encrypted" in answer.json()["detail"]
    with Session(engine) as session:
        refused = session.exec(select(AuditEvent).where(AuditEvent.action == "decode_refused")).all()
    assert [json.loads(row.detail)["workflow_id"] for row in refused] == ["RR-1"]


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
    with Session(engine) as session:
        rows = session.exec(select(AuditEvent).where(AuditEvent.action == "denied"))
        denied = [json.loads(row.detail) for row in rows]
    assert sum(d["path"] == "/codec/decode" for d in denied) >= 4, "each signed-in refusal is on the record"


def test_without_a_configured_ui_origin_no_browser_origin_is_allowed(tmp_path):
    """The default: RAPID_REVIEW_TEMPORAL_UI_ORIGIN unset, no page anywhere may call the codec."""
    from fastapi.testclient import TestClient

    from service.app import create_app

    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'plain.db'}")
    with TestClient(create_app(settings)) as client:
        refused = client.options("/codec/decode", headers={"Origin": UI_ORIGIN, **PREFLIGHT})
        assert refused.status_code == 403 and "access-control-allow-origin" not in refused.headers


def test_the_ui_origin_setting_must_be_an_origin():
    from service.platform.settings import SettingsError, load_settings

    for wrong in ("localhost:8080", "http://localhost:8080/", "https://temporal.example.org/ui", "ftp://x"):
        with pytest.raises(SettingsError, match="RAPID_REVIEW_TEMPORAL_UI_ORIGIN"):
            load_settings(rapid_review_temporal_ui_origin=wrong, rapid_review_encryption_key=TEST_KEY,
                          secret_key="s" * 40, rapid_review_audit_key="a" * 40)


@pytest.mark.slow
async def test_the_temporal_ui_in_chromium_shows_the_auditor_a_decoded_history_and_others_ciphertext(tmp_path):
    """Temporal's own UI (the dev server's, the version the stack runs) in Debian's Chromium, set to call the
    service's codec with credentials (what TEMPORAL_CODEC_INCLUDE_CREDENTIALS does in the stack)."""
    from playwright.async_api import async_playwright, expect
    from temporalio.client import Client

    from service.platform.runner import stop_process, temporal_cli
    from service.platform.temporal import data_converter

    grpc_port, ui_port = free_port(), free_port()
    ui = f"http://127.0.0.1:{ui_port}"
    log = (tmp_path / "temporal.log").open("ab")
    temporal = subprocess.Popen([temporal_cli(), "server", "start-dev", "--ip", "127.0.0.1", "--port", str(grpc_port),
                                 "--ui-port", str(ui_port), "--db-filename", str(tmp_path / "temporal.db"),
                                 "--log-level", "warn", "--ui-disable-news-fetch"],
                                stdout=log, stderr=subprocess.STDOUT)
    log.close()
    try:
        key = Settings(rapid_review_encryption_key=TEST_KEY).encryption_key_bytes
        for _ in range(150):
            try:
                client = await Client.connect(f"127.0.0.1:{grpc_port}", data_converter=data_converter(key))
                break
            except RuntimeError:
                await asyncio.sleep(0.2)
        # No worker needed: the UI shows the start event's input, encrypted by the service's codec.
        await client.start_workflow("RapidReviewWorkflow", {"pseudonym": "Child Z"}, id="RR-UI-1",
                                    task_queue="no-worker")
        with served(tmp_path, ui) as (base, passwords, engine):
            async with async_playwright() as playwright:
                chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])

                async def history_page(signed_in_as: str | None):
                    context = await chromium.new_context()
                    page = await context.new_page()
                    if signed_in_as:
                        await page.goto(f"{base}/signin")
                        await page.get_by_label("Username").fill(signed_in_as)
                        await page.get_by_label("Password").fill(passwords[signed_in_as])
                        await page.get_by_label("Password").press("Enter")
                        await expect(page.get_by_role("button", name="Sign out")).to_be_visible()
                    await page.goto(f"{ui}/namespaces/default/workflows")
                    await page.evaluate("""endpoint => {
                        localStorage.setItem('endpoint', JSON.stringify(endpoint));
                        localStorage.setItem('includeCredentials', 'true');
                        localStorage.setItem('overrideRemoteCodecConfiguration', 'true');
                    }""", f"{base}/codec")
                    await page.goto(f"{ui}/namespaces/default/workflows/RR-UI-1")
                    await expect(page.get_by_text("RapidReviewWorkflow").first).to_be_visible(timeout=20000)
                    return page

                before = len(decode_rows(engine))
                auditor = await history_page("auditor")
                await expect(auditor.get_by_text("Child Z").first).to_be_visible(timeout=15000)
                ARTIFACTS.mkdir(exist_ok=True)
                await auditor.screenshot(path=str(ARTIFACTS / "temporal-ui-decoded.png"))
                assert len(decode_rows(engine)) > before, "the auditor's decodes are in the audit trail"

                for who in (None, "panel.chair"):
                    page = await history_page(who)
                    refused = page.locator("#content").get_by_text("Codec Server could not connect")
                    await expect(refused).to_be_visible(timeout=15000)
                    await expect(page.get_by_text("Child Z")).to_have_count(0)
                await chromium.close()
    finally:
        stop_process(temporal)
