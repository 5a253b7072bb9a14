"""Case data never reaches Temporal in clear text; auditors can decode it through the codec endpoint."""

import uuid
from datetime import date

import pytest
from fastapi.testclient import TestClient
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.api.workflowservice.v1 import GetWorkflowExecutionHistoryRequest
from temporalio.common import WorkflowIDReusePolicy

from engine.authenticity import sealed
from engine.models import Actor
from engine.vocabulary import Role
from records.codec import ENCODING, EncryptionCodec
from reviews.rapid_review.models import CaseInput
from service.platform.settings import Settings, new_encryption_key
from tests.conftest import TEST_KEY

PSEUDONYM = "Pseudonym-Zebedee"
SUMMARY = "Summary-text-that-must-never-be-readable-on-the-Temporal-server"


def sample_case(reference: str) -> CaseInput:
    return CaseInput(
        reference=reference,
        pseudonym=PSEUDONYM,
        age_band="under 1",
        summary=SUMMARY,
        incident_date=date(2026, 11, 2),
        awareness_date=date(2026, 11, 3),
        referring_agency="police",
        referrer=Actor(user_id=1, name="Referrer", role=Role.business_unit),
        partnership_name="Test partnership",
    )


async def test_raw_history_holds_no_case_data_in_clear(case_env, case_worker):
    from reviews.rapid_review.workflow import RapidReviewWorkflow

    reference = f"RR-ENC-{uuid.uuid4().hex[:6]}"
    handle = await case_env.client.start_workflow(
        RapidReviewWorkflow.run, sealed(reference, "start", reference, sample_case(reference)), id=reference,
        task_queue=case_worker,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
    )
    # Read the history straight from the server, with no codec in between.
    raw = await case_env.client.workflow_service.get_workflow_execution_history(
        GetWorkflowExecutionHistoryRequest(
            namespace=case_env.client.namespace, execution={"workflow_id": reference}
        )
    )
    blob = raw.SerializeToString()
    assert len(raw.history.events) > 0
    assert PSEUDONYM.encode() not in blob
    assert SUMMARY.encode() not in blob
    assert ENCODING in blob, "payloads should carry the encrypted encoding marker"

    # Through the client's codec the same history reads back in full.
    decoded = await handle.fetch_history()
    started = decoded.events[0].workflow_execution_started_event_attributes
    plain = await EncryptionCodec(Settings(rapid_review_encryption_key=TEST_KEY).encryption_key_bytes).decode(
        started.input.payloads
    )
    assert PSEUDONYM.encode() in plain[0].data
    await handle.terminate("test finished")


async def test_codec_rejects_tampering_and_unknown_keys():
    codec = EncryptionCodec(Settings(rapid_review_encryption_key=TEST_KEY).encryption_key_bytes)
    sealed = (await codec.encode([Payload(metadata={"encoding": b"json/plain"}, data=b'"Julie"')]))[0]
    assert b"Julie" not in sealed.data
    tampered = Payload()
    tampered.CopyFrom(sealed)
    tampered.data = sealed.data[:-1] + bytes([sealed.data[-1] ^ 1])
    with pytest.raises(Exception):  # noqa: B017 - cryptography's InvalidTag
        await codec.decode([tampered])
    other = EncryptionCodec(Settings(rapid_review_encryption_key=new_encryption_key()).encryption_key_bytes)
    with pytest.raises(ValueError, match="unknown key id"):
        await other.decode([sealed])


def test_codec_endpoint_decodes_for_auditors_only_audits_each_decode_and_has_no_encode(api_client: TestClient,
                                                                                      sign_in, engine):
    from sqlmodel import Session, select

    from records.models import AuditEvent

    codec = EncryptionCodec(Settings(rapid_review_encryption_key=TEST_KEY).encryption_key_bytes)
    plain = Payload(metadata={"encoding": b"json/plain"}, data=b'"Jo"')
    encrypted = json_format.MessageToJson(Payloads(payloads=[codec.encrypt(plain)]))
    auditor = sign_in("auditor")
    assert api_client.post("/codec/encode", content=encrypted, headers=auditor).status_code in (404, 405), \
        "no one may make ciphertext the worker would accept"
    decoded = api_client.post("/codec/decode", content=encrypted, headers={**auditor, "X-Workflow-Id": "RR-1"})
    assert decoded.status_code == 200
    assert json_format.Parse(decoded.text, Payloads()).payloads[0].data == b'"Jo"'
    with Session(engine) as session:
        row = session.exec(select(AuditEvent).where(AuditEvent.action == "decode_payloads")).one()
        assert '"workflow_id": "RR-1"' in row.detail and row.actor_role == "auditor"

    unencrypted = json_format.MessageToJson(Payloads(payloads=[plain]))
    refused = json_format.Parse(api_client.post("/codec/decode", content=unencrypted, headers=auditor).text,
                                Payloads()).payloads[0]
    assert refused.metadata["encoding"] == b"binary/refused-unencrypted" and refused.data == b""

    chair = sign_in("panel.chair")
    assert api_client.post("/codec/decode", content=encrypted, headers=chair).status_code == 403
    assert api_client.post("/codec/decode", content=encrypted).status_code == 401
    bad = api_client.post("/codec/decode", content="not json", headers=auditor)
    assert bad.status_code == 400
    assert "payloads" in bad.json()["detail"]
