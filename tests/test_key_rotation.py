"""Rotating the payload key with live cases: started under key A, carried on under key B (A kept as an old key),
and finished. What A encrypted stays readable, new payloads are B's, and the seals of A still verify."""

from __future__ import annotations

import uuid

import pytest
from temporalio.api.workflowservice.v1 import GetWorkflowExecutionHistoryRequest
from temporalio.client import Client

from records.codec import ENCODING, EncryptionCodec, key_id
from service.platform.settings import decode_encryption_key, new_encryption_key
from service.platform.temporal import data_converter
from service.platform.worker import build_worker
from tests.cases import CaseDriver
from tests.conftest import TEST_KEY


class Rotated:
    """The test environment seen through a client holding another key (the server and its clock are the same)."""

    def __init__(self, env, client: Client) -> None:
        self.env, self.client = env, client

    async def get_current_time(self):
        return await self.env.get_current_time()

    async def sleep(self, duration):
        await self.env.sleep(duration)


async def test_cases_started_under_one_key_finish_under_the_next(case_env, settings, engine):
    new_text = new_encryption_key()
    old, new = decode_encryption_key(TEST_KEY), decode_encryption_key(new_text)
    queue = f"rotate-{uuid.uuid4().hex[:6]}"
    # No sticky cache: the time-skipping test server never moves a workflow off a stopped worker's sticky queue.
    settings = settings.model_copy(update={"temporal_task_queue": queue, "temporal_sticky_workflows": False})
    async with build_worker(case_env.client, settings, engine):  # key A: the conftest's converter
        driver = CaseDriver(case_env, queue, engine)
        await driver.to_sign_off()

    rotated_settings = settings.model_copy(update={
        "rapid_review_encryption_key": new_text,
        "rapid_review_old_encryption_keys": TEST_KEY})
    assert rotated_settings.old_encryption_keys_bytes == (old,)
    rotated = await Client.connect(case_env.client.service_client.config.target_host,
                                   namespace=case_env.client.namespace, data_converter=data_converter(new, [old]))
    async with build_worker(rotated, rotated_settings, engine):
        driver.env = Rotated(case_env, rotated)
        state = await driver.approve_all(version=1)  # actions sealed and encrypted with B, read by a B worker
        assert state["stage"] == "methodology" and state["partners_decision"] == "local_cspr"
        final = await driver.partners_decide("close_case", "bu", reason="Rotation test finished.")
        assert final["stage"] == "closed"

    raw = await case_env.client.workflow_service.get_workflow_execution_history(GetWorkflowExecutionHistoryRequest(
        namespace=case_env.client.namespace, execution={"workflow_id": driver.reference}))
    key_ids = {payload.metadata["encryption-key-id"].decode()
               for event in raw.history.events if event.HasField("workflow_execution_update_accepted_event_attributes")
               for payload in event.workflow_execution_update_accepted_event_attributes.accepted_request.input
               .args.payloads if payload.metadata.get("encoding") == ENCODING}
    assert key_ids == {key_id(old), key_id(new)}, "updates before the rotation under A, after it under B"
    # What A wrote is read with A kept as an old key, and only so: the old key must stay configured.
    started = raw.history.events[0].workflow_execution_started_event_attributes.input.payloads
    assert b"Julie" in (await EncryptionCodec(new, [old]).decode(started))[0].data
    with pytest.raises(ValueError, match="unknown key id"):
        await EncryptionCodec(new).decode(started)
