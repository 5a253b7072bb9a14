"""The service reaches a secured Temporal: TLS with the partnership's CA and the server's name, mTLS with a client
certificate, and an API key (Temporal Cloud's way), all from settings, for the API and the worker alike.

The dev server has no TLS of its own (`temporal server start-dev` has no --tls options), so the test puts a
TLS-terminating proxy in front of it, as a load balancer in front of a Temporal cluster would be: it offers HTTP/2
(ALPN h2), requires a client certificate from the test CA, and reads the gRPC request headers it passes on, so the
test can see the API key arrive as `authorization: Bearer …`."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from aiosmtpd.controller import Controller
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hpack import Decoder

from engine.calendar import london_date
from service.platform.outbox import deliver_pending
from service.platform.runner import ServiceProcesses, free_port, start_embedded_temporal, stop_process, wait_until_ready
from service.platform.settings import SettingsError, TemporalSecurity, load_settings
from service.platform.temporal import connect
from tests.conftest import TEST_AUDIT_KEY, TEST_KEY
from tests.test_outbox_leases import SlowRelay, add_messages

SECRET = "tls-test-secret-key-" + "x" * 32
API_KEY = "cloud-api-key-" + "k" * 24
SERVER_NAME = "temporal.partnership.test"


def _key():
    return ec.generate_private_key(ec.SECP256R1())


def _pem(thing) -> bytes:
    if isinstance(thing, x509.Certificate):
        return thing.public_bytes(serialization.Encoding.PEM)
    return thing.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                               serialization.NoEncryption())


def _certificate(subject: str, key, issuer=None, issuer_key=None, *, ca=False, names=(), client=False):
    now = datetime.now(UTC)
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
               .issuer_name(issuer.subject if issuer else x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(names)), critical=False)
    if client:
        builder = builder.add_extension(x509.ExtendedKeyUsage([x509.ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    return builder.sign(issuer_key or key, hashes.SHA256())


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> dict[str, Path]:
    """A partnership CA, the engine's certificate (for its name only, not for 127.0.0.1: the server name setting is
    what makes the connection succeed) and a worker's client certificate, as PEM files."""
    directory = tmp_path_factory.mktemp("pki")
    ca_key, server_key, client_key = _key(), _key(), _key()
    ca = _certificate("Partnership test CA", ca_key, ca=True)
    files = {
        "ca": ca, "ca_key": ca_key,
        "server": _certificate(SERVER_NAME, server_key, ca, ca_key, names=[x509.DNSName(SERVER_NAME)]),
        "server_key": server_key,
        "client": _certificate("rapid-review worker", client_key, ca, ca_key, client=True), "client_key": client_key,
        "stranger": _certificate("a stranger", _key(), ca=True),
    }
    paths = {}
    for name, thing in files.items():
        paths[name] = directory / f"{name}.pem"
        paths[name].write_bytes(_pem(thing))
    return paths


class TlsTerminator:
    """TLS (h2, client certificate required) on a loopback port, plain bytes to the engine; every gRPC request's
    headers are decoded (HPACK) and kept, so the test can see what a client sent."""

    PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

    def __init__(self, upstream_port: int, pki: dict[str, Path]) -> None:
        self.upstream_port, self.port = upstream_port, free_port()
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(pki["server"], pki["server_key"])
        self.context.set_alpn_protocols(["h2"])
        self.context.verify_mode = ssl.CERT_REQUIRED
        self.context.load_verify_locations(pki["ca"])
        self.headers: list[dict[str, str]] = []
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> TlsTerminator:
        self.thread.start()
        self.server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._serve, "127.0.0.1", self.port, ssl=self.context), self.loop).result(10)
        return self

    def __exit__(self, *exc) -> None:
        async def close():
            self.server.close()
            await asyncio.wait_for(self.server.wait_closed(), 5)

        try:
            asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)
        except TimeoutError:
            pass  # a client still connected: the loop's end below closes it
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        await asyncio.gather(self._pipe(reader, upstream_writer, self._header_reader()),
                             self._pipe(upstream_reader, writer, None), return_exceptions=True)

    @staticmethod
    async def _pipe(reader, writer, inspect) -> None:
        try:
            while data := await reader.read(65536):
                if inspect:
                    inspect(data)
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()

    def _header_reader(self):
        """Feeds on the client's bytes: after the preface, HTTP/2 frames; HEADERS (+ CONTINUATION) blocks are
        decoded with one HPACK decoder per connection, in order, as the server does."""
        buffer, decoder, block = bytearray(), Decoder(), bytearray()
        decoder.max_allowed_table_size = 1 << 16
        state = {"preface": False}

        def feed(data: bytes) -> None:
            buffer.extend(data)
            if not state["preface"]:
                if len(buffer) < len(self.PREFACE):
                    return
                del buffer[:len(self.PREFACE)]
                state["preface"] = True
            while len(buffer) >= 9:
                length = int.from_bytes(buffer[0:3], "big")
                if len(buffer) < 9 + length:
                    return
                kind, flags, payload = buffer[3], buffer[4], bytes(buffer[9:9 + length])
                del buffer[:9 + length]
                if kind == 0x1:  # HEADERS
                    if flags & 0x8:  # PADDED
                        payload = payload[1:len(payload) - payload[0]]
                    if flags & 0x20:  # PRIORITY
                        payload = payload[5:]
                    block.extend(payload)
                elif kind == 0x9:  # CONTINUATION
                    block.extend(payload)
                else:
                    continue
                if flags & 0x4:  # END_HEADERS
                    self.headers.append(dict(decoder.decode(bytes(block))))
                    block.clear()

        return feed


def tls_environment(pki: dict[str, Path], proxy: TlsTerminator) -> dict[str, str]:
    return {"TEMPORAL_ADDRESS": proxy.address, "TEMPORAL_TLS_CA_FILE": str(pki["ca"]),
            "TEMPORAL_TLS_SERVER_NAME": SERVER_NAME, "TEMPORAL_TLS_CERT_FILE": str(pki["client"]),
            "TEMPORAL_TLS_KEY_FILE": str(pki["client_key"]), "TEMPORAL_API_KEY": API_KEY}


async def test_the_api_and_a_worker_run_a_case_through_mtls_with_an_api_key(tmp_path, pki, database_templates):
    database = tmp_path / "service.db"
    shutil.copyfile(database_templates.template("sqlite", True), database)
    stack = ServiceProcesses(tmp_path, f"sqlite:///{database}", TEST_KEY, SECRET, audit_key=TEST_AUDIT_KEY)
    engine_port = int(stack.address.rsplit(":", 1)[1])
    try:
        with TlsTerminator(engine_port, pki) as proxy:
            stack.env.update(tls_environment(pki, proxy))
            stack.start("worker")
            api = stack.start("api --no-scheduler")
            await wait_until_ready(stack.base_url)  # the database, Temporal (through the proxy) and a worker polling

            async with httpx.AsyncClient(base_url=stack.base_url, timeout=60) as client:
                token = await client.post("/api/auth/token", data={
                    "username": "strategy.manager", "password": database_templates.passwords["strategy.manager"]})
                headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
                today = str(london_date(datetime.now(UTC)))
                started = await client.post("/api/cases", headers=headers, json={
                    "pseudonym": "Child T", "age_band": "5-9", "summary": "Through TLS", "incident_date": today,
                    "awareness_date": today, "referring_agency": "police"})
                assert started.status_code == 201, started.text
                reference = started.json()["reference"]
                deadline = time.monotonic() + 60
                while (state := await client.get(f"/api/cases/{reference}", headers=headers)).status_code != 200:
                    assert time.monotonic() < deadline, state.text
                    await asyncio.sleep(0.5)
            assert state.json()["reference"] == reference  # the workflow's own state, read through the proxy

            grpc_calls = [h for h in proxy.headers if h.get(":path", "").startswith("/temporal.api.")]
            paths = {h[":path"].rsplit("/", 1)[1] for h in grpc_calls}
            assert {"StartWorkflowExecution", "PollWorkflowTaskQueue"} <= paths, "the API and the worker came this way"
            assert grpc_calls and all(h.get("authorization") == f"Bearer {API_KEY}" for h in grpc_calls), \
                "every call carries the API key"
            api.terminate()
            assert api.wait(20) == 0
    finally:
        stack.stop()


async def test_a_client_is_refused_without_the_ca_or_without_its_certificate(tmp_path, pki):
    engine, address = start_embedded_temporal(tmp_path / "var", free_port())
    try:
        with TlsTerminator(int(address.rsplit(":", 1)[1]), pki) as proxy:
            given = {"server_ca": pki["ca"].read_bytes(), "server_name": SERVER_NAME,
                     "client_cert": pki["client"].read_bytes(), "client_key": pki["client_key"].read_bytes()}
            deadline = time.monotonic() + 30
            while True:  # everything given: the engine answers through the proxy once its frontend is up
                try:
                    await connect(proxy.address, "default", b"k" * 32, security=TemporalSecurity(tls=True, **given))
                    break
                except RuntimeError as error:
                    assert "not healthy yet" in str(error) and time.monotonic() < deadline, error
                    await asyncio.sleep(0.3)
            # Without the CA the client does not trust the engine; without its certificate the proxy (TLS 1.3: after
            # the handshake) closes the connection before the first call is answered.
            for missing, refusal in (("server_ca", "UnknownIssuer"),
                                     ("client_cert",
                                      "connection closed|peer closed connection|BrokenPipe|ConnectionReset")):
                values = {**given, missing: None, **({"client_key": None} if missing == "client_cert" else {})}
                with pytest.raises(RuntimeError, match=f"Failed client connect.*({refusal})"):
                    await asyncio.wait_for(connect(proxy.address, "default", b"k" * 32,
                                                   security=TemporalSecurity(tls=True, **values)), 30)
    finally:
        stop_process(engine)


def test_security_settings_are_read_from_files_and_checked(tmp_path, pki, monkeypatch):
    monkeypatch.setenv("RAPID_REVIEW_VAR_DIR", str(tmp_path))
    plain = load_settings(temporal_address="temporal:7233")
    assert plain.temporal_security.tls is False, "no TLS setting: plaintext, as the compose stack's own engine"
    key_file = tmp_path / "api-key"
    key_file.write_text(API_KEY + "\n")
    cloud = load_settings(temporal_address="ns.acct.tmprl.cloud:7233", temporal_api_key_file=str(key_file))
    assert cloud.temporal_security.tls is True and cloud.temporal_security.api_key == API_KEY
    assert API_KEY not in repr(cloud.temporal_security) and API_KEY not in repr(cloud)
    mtls = load_settings(temporal_tls_ca_file=str(pki["ca"]), temporal_tls_cert_file=str(pki["client"]),
                         temporal_tls_key_file=str(pki["client_key"]))
    assert mtls.temporal_security.client_cert == pki["client"].read_bytes()

    refused = {
        "TEMPORAL_TLS_CERT_FILE and TEMPORAL_TLS_KEY_FILE go together": {"temporal_tls_cert_file": str(pki["client"])},
        "TEMPORAL_TLS_CA_FILE: cannot read": {"temporal_tls_ca_file": str(tmp_path / "missing.pem")},
        "never sent in clear": {"temporal_tls": False, "temporal_api_key": API_KEY},
        "not both": {"temporal_api_key": API_KEY, "temporal_api_key_file": str(key_file)},
    }
    for message, values in refused.items():
        with pytest.raises(SettingsError, match=message):
            load_settings(**values)


def test_empty_settings_from_compose_mean_unset(tmp_path, monkeypatch):
    """`SMTP_USERNAME: ${SMTP_USERNAME:-}` arrives as "": no authentication (a relay without AUTH would refuse every
    message), no API key, no metrics token."""
    for name in ("SMTP_USERNAME", "SMTP_PASSWORD", "TEMPORAL_API_KEY", "TEMPORAL_TLS_CA_FILE",
                 "RAPID_REVIEW_METRICS_TOKEN", "TEMPORAL_TLS"):
        monkeypatch.setenv(name, "")
    monkeypatch.setenv("RAPID_REVIEW_VAR_DIR", str(tmp_path))
    settings = load_settings()
    assert (settings.smtp_username, settings.smtp_password, settings.rapid_review_metrics_token) == (None, None, None)
    assert settings.temporal_security == TemporalSecurity()


async def test_a_relay_without_auth_gets_the_mail_when_compose_passes_an_empty_username(engine, settings, monkeypatch):
    port = free_port()
    relay = SlowRelay()
    controller = Controller(relay, hostname="127.0.0.1", port=port)  # no AUTH offered, as many internal relays
    controller.start()
    try:
        for name, value in {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port), "SMTP_STARTTLS": "false",
                            "SMTP_USERNAME": "", "SMTP_PASSWORD": "", "DATABASE_URL": settings.database_url,
                            "RAPID_REVIEW_VAR_DIR": str(settings.var_dir)}.items():
            monkeypatch.setenv(name, value)
        add_messages(engine, ["chair@example.org"])
        counts = await deliver_pending(engine, load_settings())
    finally:
        controller.stop()
    assert counts["sent"] == 1 and [e.rcpt_tos for e in relay.received] == [["chair@example.org"]]
