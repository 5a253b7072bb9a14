"""The Temporal client and data converter, in one place for API, worker, tests and CLI.

Payloads are pydantic-aware JSON, then encrypted with AES-256-GCM by ``EncryptionCodec`` (records/codec.py): the
Temporal server and its database never hold readable case data. Changing this converter would break every
running case, so it only ever grows (new key ids are decodable alongside old ones).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING

from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.service import TLSConfig

from engine import authenticity
from records.codec import EncryptionCodec

if TYPE_CHECKING:
    from service.platform.settings import Settings, TemporalSecurity


def data_converter(key: bytes, old_keys: Sequence[bytes] = ()) -> DataConverter:
    """The converter for every client and worker: payloads encrypted, failure messages and stack traces
    moved into an encrypted payload too (so no case text reaches the engine in clear). The same keys seal
    the service's messages to its workflows (engine/authenticity.py), so they are set here, once."""
    authenticity.use_keys([key, *old_keys])
    return dataclasses.replace(pydantic_data_converter, payload_codec=EncryptionCodec(key, old_keys),
                               failure_converter_class=DefaultFailureConverterWithEncodedAttributes)


def codec_for(settings) -> EncryptionCodec:
    """The codec of these settings: the current key encrypts, every key decrypts."""
    return EncryptionCodec(settings.encryption_key_bytes, settings.old_encryption_keys_bytes)


_RUNTIMES: dict[str, Runtime] = {}


def metrics_runtime(address: str) -> Runtime:
    """One SDK runtime per metrics address (its HTTP server binds the port once; a retried connect reuses it)."""
    if address not in _RUNTIMES:
        _RUNTIMES[address] = Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=address)))
    return _RUNTIMES[address]


def tls_of(security: TemporalSecurity | None) -> bool | TLSConfig:
    """The SDK's TLS argument: False (plaintext, the embedded engine), True (the system's CAs) or our CA, the
    server's expected name and the client certificate (mTLS)."""
    if security is None or not security.tls:
        return False
    if not (security.server_ca or security.server_name or security.client_cert):
        return True
    return TLSConfig(server_root_ca_cert=security.server_ca, domain=security.server_name,
                     client_cert=security.client_cert, client_private_key=security.client_key)


async def connect(address: str, namespace: str, key: bytes, old_keys: Sequence[bytes] = (),
                  metrics_address: str | None = None, security: TemporalSecurity | None = None) -> Client:
    """A client whose every payload is encrypted with ``key`` (and can read what ``old_keys`` encrypted), over TLS
    and with an API key as ``security`` says. With ``metrics_address`` (host:port), the SDK serves its Prometheus
    metrics there: workflow task failures, activity attempts and failures, schedule-to-start latency, sticky cache,
    polls."""
    runtime = metrics_runtime(metrics_address) if metrics_address else None
    return await Client.connect(address, namespace=namespace, data_converter=data_converter(key, old_keys),
                                runtime=runtime, tls=tls_of(security),
                                api_key=security.api_key if security else None)


def connect_with(settings: Settings, metrics: bool = False) -> Awaitable[Client]:
    """The client these settings describe: their engine, namespace, keys and security (the worker's with
    ``metrics``: the SDK's Prometheus endpoint at TEMPORAL_METRICS_ADDRESS)."""
    return connect(settings.temporal_address or "127.0.0.1:7233", settings.temporal_namespace,
                   settings.encryption_key_bytes, settings.old_encryption_keys_bytes,
                   metrics_address=settings.temporal_metrics_address if metrics else None,
                   security=settings.temporal_security)


class TemporalConnection:
    """A client connected on first use, so the API can start (and say it is not ready) before
    Temporal answers."""

    def __init__(self, address: str, namespace: str, key: bytes, client: Client | None = None,
                 old_keys: Sequence[bytes] = (), security: TemporalSecurity | None = None) -> None:
        self.address, self.namespace, self._key, self._old_keys = address, namespace, key, tuple(old_keys)
        # The keys seal the service's messages before any of them is sent: a process whose first request acts
        # (before anything connected the client) must not find them unset.
        authenticity.use_keys([key, *old_keys])
        self._security = security
        self._client = client
        self._lock = asyncio.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, client: Client | None = None) -> TemporalConnection:
        return cls(settings.temporal_address or "127.0.0.1:7233", settings.temporal_namespace,
                   settings.encryption_key_bytes, client=client, old_keys=settings.old_encryption_keys_bytes,
                   security=settings.temporal_security)

    async def client(self) -> Client:
        async with self._lock:
            if self._client is None:
                self._client = await asyncio.wait_for(
                    connect(self.address, self.namespace, self._key, self._old_keys, security=self._security), 10)
            return self._client

    async def healthy(self) -> tuple[bool, str]:
        try:
            client = await self.client()
            await client.workflow_service.get_system_info(GetSystemInfoRequest(), timeout=timedelta(seconds=3))
        except Exception as exc:  # any failure means "not ready", with its kind for the operator
            return False, f"Temporal at {self.address} does not answer ({type(exc).__name__})"
        return True, "ok"
