"""GOV.UK Notify as the delivery channel, against a local HTTP server that speaks Notify's API (a JWT signed with
the API key's secret on every request, POST /v2/notifications/email, GET /v2/notifications/{id}, GET
/v2/notifications?reference=) and fails the first e-mail once: every message is delivered exactly once, its receipt
recorded in the outbox, nothing about the child leaves, and a panel invitation links to its .ics (served to invitees
only) instead of attaching it."""

import json
import threading
import time
import uuid
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import jwt
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlmodel import Session, select

from activities.documents import DocumentActivities
from records.db import session_scope
from records.models import AuditEvent, CaseAgency, CaseRecord, OutboxMessage
from service.app import create_app
from service.platform.outbox import deliver_pending
from service.platform.settings import SettingsError
from tests.conftest import make_settings, sign_in_through_page
from tests.test_documents import REF, request

SERVICE_ID, SECRET = str(uuid.uuid4()), str(uuid.uuid4())
API_KEY = f"rapid-review-{SERVICE_ID}-{SECRET}"
TEMPLATE_ID = str(uuid.uuid4())
PUBLIC_URL = "https://rapid-review.example.org"


class FakeNotify(BaseHTTPRequestHandler):
    """Notify's API shape: authenticates each request, accepts e-mails, answers receipts; fails once."""

    accepted: list[dict] = []
    failures_left = 1
    slow_replies_left = 0  # accept, then answer only after the client has given up (a reply lost on the way)

    def log_message(self, *args):
        pass

    def answer(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def authorised(self) -> bool:
        token = self.headers.get("Authorization", "").removeprefix("Bearer ")
        try:
            claims = jwt.decode(token, SECRET, algorithms=["HS256"], options={"verify_iat": True})
        except jwt.PyJWTError:
            claims = {}
        if claims.get("iss") != SERVICE_ID or abs(time.time() - claims.get("iat", 0)) > 30:
            self.answer(403, {"status_code": 403, "errors": [{"error": "AuthError", "message": "Invalid token"}]})
            return False
        return True

    def do_POST(self):  # noqa: N802 - http.server's hook name
        if not self.authorised():
            return
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path != "/v2/notifications/email" or body.get("template_id") != TEMPLATE_ID:
            self.answer(400, {"status_code": 400, "errors": [{"error": "BadRequestError", "message": "template"}]})
            return
        if FakeNotify.failures_left:
            FakeNotify.failures_left -= 1
            self.answer(500, {"status_code": 500, "errors": [{"error": "Exception", "message": "Internal error"}]})
            return
        notification = {"id": str(uuid.uuid4()), "reference": body.get("reference"), **body}
        FakeNotify.accepted.append(notification)
        if FakeNotify.slow_replies_left:
            FakeNotify.slow_replies_left -= 1
            time.sleep(1.5)
        self.answer(201, {"id": notification["id"], "reference": body.get("reference"),
                          "content": {"subject": body["personalisation"]["subject"], "body": "..."},
                          "template": {"id": TEMPLATE_ID, "version": 1, "uri": "/"}, "uri": "/"})

    def do_GET(self):  # noqa: N802
        if not self.authorised():
            return
        path, _, query = self.path.partition("?")
        if path == "/v2/notifications":  # the list, by the reference the service sent
            reference = parse_qs(query).get("reference", [None])[0]
            self.answer(200, {"notifications": [{"id": n["id"], "reference": n["reference"], "status": "created"}
                                                for n in FakeNotify.accepted if n["reference"] == reference],
                              "links": {}})
            return
        known = {n["id"]: n for n in FakeNotify.accepted}
        notification_id = path.rsplit("/", 1)[-1]
        if notification_id not in known:
            self.answer(404, {"status_code": 404, "errors": [{"error": "NoResultFound", "message": "No result"}]})
            return
        self.answer(200, {"id": notification_id, "status": "delivered", "type": "email",
                          "email_address": known[notification_id]["email_address"]})


@pytest.fixture
def notify_server():
    FakeNotify.accepted, FakeNotify.failures_left, FakeNotify.slow_replies_left = [], 1, 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeNotify)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_notify_delivers_each_message_once_and_records_receipts(notify_server, engine, settings,
                                                                      demo_passwords, tmp_path):
    notify = settings.model_copy(update={"notify_api_key": API_KEY, "notify_base_url": notify_server,
                                         "notify_email_template_id": TEMPLATE_ID,
                                         "rapid_review_public_url": PUBLIC_URL})
    DocumentActivities(engine, settings.document_store(), PUBLIC_URL).issue_document(request("panel_invitation"))
    with Session(engine) as session:
        invited = sorted(m.to_address for m in session.exec(select(OutboxMessage)))
    assert invited == ["agency.police@example.org", "panel.chair@example.org"]

    assert await deliver_pending(engine, notify) == {"sent": 1, "retry": 1, "failed": 0}  # Notify failed once
    assert await deliver_pending(engine, notify) == {"sent": 0, "retry": 0, "failed": 0}, "backs off first"
    with Session(engine) as session:
        session.exec(update(OutboxMessage).values(next_attempt_at=datetime.now(UTC)))
        session.commit()
    assert await deliver_pending(engine, notify) == {"sent": 1, "retry": 0, "failed": 0}
    assert await deliver_pending(engine, notify) == {"sent": 0, "retry": 0, "failed": 0}

    assert sorted(n["email_address"] for n in FakeNotify.accepted) == invited, "each exactly once"
    for notification in FakeNotify.accepted:
        personalisation = notification["personalisation"]
        assert REF in personalisation["subject"]
        assert f"{PUBLIC_URL}/cases/{REF}/invitation.ics" in personalisation["body"]
        assert "attached" not in personalisation["body"]
        assert "Julie" not in json.dumps(notification), "no case content leaves"
    with Session(engine) as session:
        messages = session.exec(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    accepted_ids = {n["reference"]: n["id"] for n in FakeNotify.accepted}
    for message in messages:
        assert message.status == "sent" and message.delivery_status == "delivered"
        assert message.provider_reference == accepted_ids[f"outbox-{message.id}"]
    assert sorted(m.attempts for m in messages) == [1, 2]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_message_notify_accepted_without_a_reply_is_not_sent_again(notify_server, engine, settings):
    """The first reply comes after the client gave up: the attempt is a timeout, and the retry finds the message at
    Notify by its reference instead of sending it a second time."""
    FakeNotify.failures_left, FakeNotify.slow_replies_left = 0, 1
    notify = settings.model_copy(update={"notify_api_key": API_KEY, "notify_base_url": notify_server,
                                         "notify_email_template_id": TEMPLATE_ID, "notify_timeout_seconds": 0.5})
    with session_scope(engine) as session:
        session.add(OutboxMessage(key="lost-reply", to_address="person@example.org", subject="RR-2026-001: a task",
                                  body="See the service."))
    assert await deliver_pending(engine, notify) == {"sent": 0, "retry": 1, "failed": 0}
    with session_scope(engine) as session:
        session.exec(update(OutboxMessage).values(next_attempt_at=datetime.now(UTC)))
    assert await deliver_pending(engine, notify) == {"sent": 1, "retry": 0, "failed": 0}
    [notification] = FakeNotify.accepted
    with Session(engine) as session:
        message = session.exec(select(OutboxMessage)).one()
    assert message.status == "sent" and message.attempts == 2
    assert message.last_error == "HTTP503Error", "the Notify client reports its own timeout as a 503"
    assert message.provider_reference == notification["id"] and notification["reference"] == message.message_id


def test_notify_needs_its_template(tmp_path):
    with pytest.raises(SettingsError, match="NOTIFY_EMAIL_TEMPLATE_ID"):
        make_settings(tmp_path, "sqlite://", notify_api_key=API_KEY)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_invitees_download_the_invitation_and_nobody_else(engine, settings, demo_passwords, tmp_path):
    with session_scope(engine) as session:
        session.add(CaseRecord(reference=REF, pseudonym="Julie", stage="panel_preparation", year=2026,
                               opened_on=date(2026, 11, 2), awareness_date=date(2026, 11, 1)))
        session.flush()
        session.add(CaseAgency(case_reference=REF, agency="police"))
    DocumentActivities(engine, settings.document_store(), PUBLIC_URL).issue_document(request("panel_invitation"))
    path = f"/cases/{REF}/invitation.ics"
    with TestClient(create_app(settings)) as client:
        assert client.get(path, follow_redirects=False).headers["location"] == "/signin"
        for username, status in (("panel.chair", 200), ("agency.police", 200), ("agency.education", 404),
                                 ("strategy.manager", 403)):
            client.cookies.clear()
            sign_in_through_page(client, username, demo_passwords[username])
            response = client.get(path)
            assert response.status_code == status, username
            if status == 200:
                assert response.headers["content-type"].startswith("text/calendar")
                assert "BEGIN:VEVENT" in response.text and "Julie" not in response.text
    with Session(engine) as session:
        reads = session.exec(select(AuditEvent).where(AuditEvent.action == "read_invitation")).all()
    assert len(reads) == 2
