"""Temporal event histories, decoded for people: what happened to a case's workflow, when, carrying what.

The same decoding serves the auditors' history endpoint and the archive that keeps a copy in our database
(Temporal's retention deletes closed workflows; the partnership must keep the record for years).
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime

from google.protobuf import json_format
from sqlmodel import Session
from temporalio.api.common.v1 import Payload
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from records.codec import EncryptionCodec, UnencryptedPayload
from records.models import HistoryArchive

CLOSING_EVENTS = frozenset({
    "workflow_execution_completed", "workflow_execution_failed", "workflow_execution_canceled",
    "workflow_execution_terminated", "workflow_execution_timed_out", "workflow_execution_continued_as_new",
})


ENGINE_WRITTEN = frozenset({"EVENT_TYPE_MARKER_RECORDED", "EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES"})


def _readable_payload(node: dict, codec: EncryptionCodec, engine_written: bool = False):
    """A payload (as protobuf JSON) decrypted and parsed back to the value it carried; one that was never
    encrypted (sent to the engine by someone other than the service, and refused) is shown as such. The plain JSON
    of a marker or a search attribute is the engine's own record (a local step's sequence and times, a patch's
    name), written by the worker, never by a client: shown as it is."""
    raw = json_format.ParseDict(node, Payload())
    try:
        payload = codec.decrypt(raw)
    except UnencryptedPayload:
        if engine_written and raw.metadata.get("encoding") == b"json/plain":
            return json.loads(raw.data)  # as the service's own values are (the replay check encodes it back)
        return {"refused": "unencrypted payload: not sent by the service", "encoding":
                raw.metadata.get("encoding", b"").decode(errors="replace"),
                "data": base64.b64encode(raw.data).decode()}
    encoding = payload.metadata.get("encoding", b"").decode()
    if encoding.startswith("json/"):
        return json.loads(payload.data)
    if encoding == "binary/null":
        return None
    return {"encoding": encoding, "data": base64.b64encode(payload.data).decode()}


def _is_payload(node: dict) -> bool:
    return set(node) <= {"metadata", "data", "externalPayloads"} and "encoding" in node.get("metadata", {})


def decode_payloads(node, codec: EncryptionCodec, engine_written: bool = False):
    """Walk an event's JSON form and replace every payload with the value it carried."""
    if isinstance(node, dict):
        if _is_payload(node):
            return _readable_payload(node, codec, engine_written)
        return {key: decode_payloads(value, codec, engine_written) for key, value in node.items()}
    if isinstance(node, list):
        return [decode_payloads(item, codec, engine_written) for item in node]
    return node


def readable_event(event_json: dict, codec: EncryptionCodec) -> dict:
    """One event as {id, time, type, attributes} with its payloads decoded."""
    kind = event_json.get("eventType", "")
    attributes = next((value for key, value in event_json.items() if key.endswith("EventAttributes")), {})
    return {
        "id": int(event_json.get("eventId", 0)),
        "time": event_json.get("eventTime"),
        "type": kind.removeprefix("EVENT_TYPE_").lower(),
        "attributes": decode_payloads(attributes, codec, engine_written=kind in ENGINE_WRITTEN),
    }


async def fetch_readable_history(client: Client, workflow_id: str, codec: EncryptionCodec) -> list[dict] | None:
    """The workflow's decoded history from Temporal; None when Temporal no longer has it."""
    try:
        history = await client.get_workflow_handle(workflow_id).fetch_history()
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
    return [readable_event(json_format.MessageToDict(event), codec) for event in history.events]


def archive_history(session: Session, workflow_id: str, case_reference: str, events: list[dict]) -> bool:
    """Keep the longest history seen for this workflow (histories only grow); True when stored."""
    existing = session.get(HistoryArchive, workflow_id)
    if existing is not None and existing.event_count >= len(events):
        return False
    body = json.dumps(events, separators=(",", ":"), ensure_ascii=False, default=str)
    row = existing or HistoryArchive(workflow_id=workflow_id, case_reference=case_reference, event_count=0,
                                     events_json="", sha256="")
    row.event_count, row.events_json = len(events), body
    row.sha256, row.archived_at = hashlib.sha256(body.encode()).hexdigest(), datetime.now(UTC)
    row.complete = bool(events) and events[-1]["type"] in CLOSING_EVENTS
    session.add(row)
    return True


def archived_history(session: Session, workflow_id: str) -> list[dict] | None:
    row = session.get(HistoryArchive, workflow_id)
    return None if row is None else json.loads(row.events_json)
