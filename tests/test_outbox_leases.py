"""The outbox against a slow mail relay and more than one sender (API replicas): each message is held by one sender
under a lease it renews while sending, so a relay slower than the lease still gets every message once; a sender
killed mid-send leaves its message to the others only once its lease has ended, with the attempt on record and the
same Message-ID on the second copy; a relay that hangs ends the attempt at the SMTP timeout."""

import asyncio
import subprocess
import sys
import threading
from datetime import UTC, datetime
from email import message_from_bytes

import pytest
from aiosmtpd.controller import Controller
from sqlmodel import Session, select

from records.db import make_engine
from records.models import OutboxMessage
from service.platform.outbox import LEASE_ENDED, deliver_pending
from service.platform.runner import free_port

NOTHING = {"sent": 0, "retry": 0, "failed": 0}


class SlowRelay:
    """A relay that waits before accepting each message's DATA: ``hold[address]`` seconds for that recipient (else
    ``delay``). Every copy it receives is kept, with the moment its DATA arrived announced by ``arrived``."""

    def __init__(self, delay: float = 0.0, hold: dict[str, float] | None = None) -> None:
        self.delay, self.hold = delay, hold or {}
        self.received: list = []
        self.arrived = threading.Event()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.received.append(envelope)
        self.arrived.set()
        await asyncio.sleep(self.hold.pop(envelope.rcpt_tos[0], self.delay))
        return "250 OK"

    def message_ids(self) -> list[str]:
        return [message_from_bytes(envelope.content)["Message-ID"] for envelope in self.received]


def add_messages(engine, addresses: list[str]) -> None:
    with Session(engine) as session:
        for number, address in enumerate(addresses):
            session.add(OutboxMessage(key=f"lease-test:{number}", case_reference="RR-2026-001", to_address=address,
                                      subject="[OFFICIAL-SENSITIVE] RR-2026-001: a task", body="See the service."))
        session.commit()


def messages(engine) -> list[OutboxMessage]:
    with Session(engine) as session:
        return list(session.exec(select(OutboxMessage).order_by(OutboxMessage.id)))


def relay_settings(settings, port: int, **extra):
    return settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_starttls": False,
                                       "smtp_from": "rapid-review@lscp.example.org", **extra})


async def test_a_slow_relay_gets_each_message_once_from_two_senders(engine, settings):
    """One message takes the relay four lease lengths; while its sender renews the lease, the other sender (its own
    connections, as another API has) sends the rest and then finds nothing to take."""
    add_messages(engine, ["slow@example.org", *(f"person{n}@example.org" for n in range(5))])
    port = free_port()
    relay = SlowRelay(delay=0.3, hold={"slow@example.org": 3.0})
    controller = Controller(relay, hostname="127.0.0.1", port=port)
    controller.start()
    smtp = relay_settings(settings, port, outbox_lease_seconds=0.75)
    other_api = make_engine(settings.sqlalchemy_url)
    try:
        counts = await asyncio.gather(deliver_pending(engine, smtp), deliver_pending(other_api, smtp))
    finally:
        controller.stop()
        other_api.dispose()

    delivered = relay.message_ids()
    assert len(delivered) == 6 and len(set(delivered)) == 6, f"each message once: {delivered}"
    assert sorted(count["sent"] for count in counts) == [1, 5], "one sender held the slow message, the other sent 5"
    for message in messages(engine):
        assert message.status == "sent" and message.attempts == 1 and message.lease_owner is None
        assert message.message_id in delivered and message.message_id.endswith("@lscp.example.org>")


SENDER = """
import asyncio, sys
from records.db import make_engine
from service.platform.outbox import deliver_pending
from service.platform.settings import Settings
url, port, lease = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
settings = Settings(smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=False, outbox_lease_seconds=lease,
                    smtp_from="rapid-review@lscp.example.org")
asyncio.run(deliver_pending(make_engine(url), settings))
"""


async def test_a_sender_killed_mid_send_is_replaced_only_after_its_lease_ends(engine, settings):
    add_messages(engine, ["person@example.org"])
    port = free_port()
    relay = SlowRelay(hold={"person@example.org": 60.0})  # the first copy is never answered; later ones at once
    controller = Controller(relay, hostname="127.0.0.1", port=port)
    controller.start()
    smtp = relay_settings(settings, port, outbox_lease_seconds=4.0)
    try:
        sender = subprocess.Popen([sys.executable, "-c", SENDER, settings.sqlalchemy_url, str(port), "4.0"])  # noqa: S603
        try:
            assert await asyncio.to_thread(relay.arrived.wait, 60), "the sender never reached the relay"
        finally:
            sender.kill()
            sender.wait()
        [held] = messages(engine)
        assert held.status == "sending" and held.attempts == 1 and held.last_attempt_at is not None

        assert await deliver_pending(engine, smtp) == NOTHING, "the dead sender's lease still holds the message"
        assert len(relay.received) == 1
        await asyncio.sleep(max(0.0, (held.lease_until - datetime.now(UTC)).total_seconds()) + 0.2)
        assert await deliver_pending(engine, smtp) == {"sent": 1, "retry": 0, "failed": 0}
    finally:
        controller.stop()

    [sent] = messages(engine)
    assert sent.status == "sent" and sent.attempts == 2, "both attempts are on record"
    assert sent.last_error == LEASE_ENDED, "the outbox says the first attempt ended with its sender"
    first, second = relay.message_ids()
    assert first == second == sent.message_id, "the second copy is recognisably the first one again"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_relay_that_hangs_ends_the_attempt_at_the_timeout(engine, settings):
    add_messages(engine, ["person@example.org"])
    port = free_port()
    controller = Controller(SlowRelay(delay=30.0), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        counts = await deliver_pending(engine, relay_settings(settings, port, smtp_timeout_seconds=0.5))
    finally:
        controller.stop()
    assert counts == {"sent": 0, "retry": 1, "failed": 0}
    [message] = messages(engine)
    assert message.status == "pending" and message.attempts == 1 and message.last_error == "TimeoutError"
    assert message.lease_owner is None and message.next_attempt_at > datetime.now(UTC), "retried after a back-off"
