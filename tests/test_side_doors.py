"""Attacks on what lies behind the API: the engine, and what failures carry into histories and logs.

Each test reproduces an attack a security review made, and shows it no longer gets through: a client that
talks to the Temporal server directly (no key, or a payload encrypted but not sealed, or a genuine message
replayed) cannot start a case, act on one or move its review, and case text in a failing step's error
reaches neither the engine's history nor the worker's log.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlmodel import Session, select
from temporalio.api.common.v1 import WorkflowType
from temporalio.api.enums.v1 import WorkflowIdReusePolicy
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import GetWorkflowExecutionHistoryRequest, StartWorkflowExecutionRequest
from temporalio.client import Client, WorkflowFailureError, WorkflowUpdateFailedError

from engine.authenticity import sealed
from records.models import AuditEvent, CaseRecord
from reviews.rapid_review.models import CaseInput
from reviews.rapid_review.process_rules import ProcessRules
from service.platform.worker import build_worker
from tests.cases import ACTORS, sealed_action

FORGED_SIGN_OFF = {"actor": {"user_id": 7, "name": "Director of Children's Services", "role": "executive",
                             "seat": "la"}, "version": 1, "decision": "approve"}


async def plain_client(env) -> Client:
    """A client with no key: anyone who can reach the engine's port."""
    return await Client.connect(env.client.service_client.config.target_host, namespace=env.client.namespace)


def sign_offs_recorded(engine, reference: str) -> int:
    with Session(engine) as session:
        return len(session.exec(select(AuditEvent).where(AuditEvent.case_reference == reference,
                                                         AuditEvent.action == "sign_off")).all())


async def test_forged_and_replayed_updates_sent_to_the_engine_are_refused(driver, case_env, engine):
    await driver.to_sign_off()
    outsider = await plain_client(case_env)
    # 1. Plain text with a forged actor, straight to the engine (what got through before).
    with pytest.raises(WorkflowUpdateFailedError):
        await outsider.get_workflow_handle(driver.reference).execute_update("sign_off", FORGED_SIGN_OFF)
    # 2. Encrypted with the service's key but not sealed (what /codec/encode let an auditor make).
    with pytest.raises(WorkflowUpdateFailedError) as unsealed:
        await case_env.client.get_workflow_handle(driver.reference).execute_update("sign_off", FORGED_SIGN_OFF)
    assert "not sent by the Rapid Review service" in str(unsealed.value.cause)
    # 3. A genuine, sealed sign-off replayed: under another update id, and to another case.
    payload, update_id = sealed_action(driver.reference, "sign_off", ACTORS["la"],
                                       {"version": 1, "decision": "approve"})
    with pytest.raises(WorkflowUpdateFailedError):
        await case_env.client.get_workflow_handle(driver.reference).execute_update(
            "sign_off", payload, id=f"{update_id}-again")
    assert (await driver.state())["sign_offs"] == [], "nothing forged or replayed was signed"
    assert sign_offs_recorded(engine, driver.reference) == 0
    # The genuine message under its own id still works: the seal refuses only what the service did not send.
    state = await case_env.client.get_workflow_handle(driver.reference).execute_update("sign_off", payload,
                                                                                      id=update_id)
    assert [s["seat"] for s in state["sign_offs"]] == ["la"]
    assert sign_offs_recorded(engine, driver.reference) == 1


async def test_forged_starts_and_progress_signals_change_nothing(driver, case_env, case_worker, engine):
    await driver.start()
    outsider = await plain_client(case_env)
    # A forged progress report from "the practice review": ignored, plain or encrypted-unsealed.
    report = {"stage": "published", "late": True, "escalated": True, "sequence": 99}
    await outsider.get_workflow_handle(driver.reference).signal("practice_review_progress", report)
    await case_env.client.get_workflow_handle(driver.reference).signal("practice_review_progress", report)
    await driver.settled()
    state = await driver.state()
    assert state["practice_review_stage"] is None and state["late"] is False and state["escalated"] is False

    # A case started by someone other than the service: refused before anything is written.
    case = CaseInput(reference="RR-FORGED-1", pseudonym="Forged", age_band="5-9", summary="Forged case.",
                     incident_date=(await driver.today()) - timedelta(days=1), awareness_date=await driver.today(),
                     referring_agency="police", referrer=ACTORS["bu"], partnership_name="x", rules=ProcessRules())
    unsealed = await case_env.client.start_workflow("RapidReviewWorkflow", case, id=case.reference,
                                                    task_queue=case_worker)
    with pytest.raises(WorkflowFailureError) as refused:
        await unsealed.result()
    assert "not started by the Rapid Review service" in str(refused.value.cause)
    plain = await outsider.start_workflow("RapidReviewWorkflow", case.model_dump(mode="json"), id="RR-FORGED-2",
                                          task_queue=case_worker)
    await asyncio.sleep(1)  # its first task fails to read the unencrypted input; nothing runs
    await plain.terminate("forged")
    with Session(engine) as session:
        assert session.exec(select(CaseRecord).where(CaseRecord.reference.like("RR-FORGED%"))).all() == []


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_case_text_in_a_failing_step_reaches_neither_history_nor_logs(case_env, settings, engine, caplog):
    """PostgreSQL repeats a refused row in its error ("Failing row contains (...)"): that text must stay out."""
    secret_pseudonym, secret_summary = "Pseudonym-Xanthe-Leak", "Summary-never-in-clear-anywhere"
    with engine.begin() as connection:  # a database that refuses this case's row, as a full disk or a bug would
        connection.execute(text(f"ALTER TABLE case_record ADD CONSTRAINT refuse_case "
                                f"CHECK (pseudonym <> '{secret_pseudonym}')"))
    caplog.set_level(logging.INFO)
    queue = f"leak-{uuid.uuid4().hex[:6]}"
    reference = f"RR-LEAK-{uuid.uuid4().hex[:6]}"
    today = (await case_env.get_current_time()).date()
    case = CaseInput(reference=reference, pseudonym=secret_pseudonym, age_band="5-9", summary=secret_summary,
                     incident_date=today, awareness_date=today, referring_agency="police", referrer=ACTORS["bu"],
                     partnership_name="x", rules=ProcessRules())
    async with build_worker(case_env.client, settings.model_copy(update={"temporal_task_queue": queue}), engine):
        handle = await case_env.client.start_workflow(
            "RapidReviewWorkflow", sealed(reference, "start", reference, case), id=reference, task_queue=queue)
        for _ in range(100):  # until the step has failed at least once
            description = await handle.describe()
            pending = description.raw_description.pending_activities
            if pending and pending[0].attempt >= 2:
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the refused step never failed")
        last_failure = pending[0].last_failure
        await handle.terminate("test finished")
    raw = await case_env.client.workflow_service.get_workflow_execution_history(
        GetWorkflowExecutionHistoryRequest(namespace=case_env.client.namespace, execution={"workflow_id": reference}))
    stored = raw.SerializeToString() + last_failure.SerializeToString()
    for secret in (secret_pseudonym, secret_summary):
        assert secret.encode() not in stored, "case text in the engine's history or pending failure"
        assert secret not in caplog.text, "case text in the worker's log"
    assert "IntegrityError" in caplog.text, "the failure itself is logged, by its kind"
    assert last_failure.message == "Encoded failure", "the failure's message travels encrypted"


async def test_a_closed_case_restarted_from_its_captured_input_writes_nothing(driver, case_env, engine):
    """The attack a review found: with no key, copy a closed case's encrypted start input and a sealed update
    from its history, start the same workflow id again and replay the update. The case belongs to the run that
    opened it, so the new run fails at its first step and the record stays closed."""
    await driver.start()
    today = await driver.today()
    await driver.act("correct_awareness_date", "csc", awareness_date=str(today - timedelta(days=2)), reason="typo")
    await driver.act("accept_referral", "bu")
    await driver.partners_decide("close_case", "bu", reason="Duplicate referral.")
    with Session(engine) as session:
        before = [(a.id, a.action) for a in session.exec(select(AuditEvent).where(
            AuditEvent.case_reference == driver.reference))]
    outsider = await plain_client(case_env)
    history = await outsider.get_workflow_handle(driver.reference).fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    restarted = await outsider.workflow_service.start_workflow_execution(StartWorkflowExecutionRequest(
        namespace=outsider.namespace, workflow_id=driver.reference,
        workflow_type=WorkflowType(name="RapidReviewWorkflow"), task_queue=TaskQueue(name=started.task_queue.name),
        input=started.input, request_id=uuid.uuid4().hex,
        workflow_id_reuse_policy=WorkflowIdReusePolicy.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE))
    handle = outsider.get_workflow_handle(driver.reference, run_id=restarted.run_id)
    with pytest.raises(WorkflowFailureError):
        await asyncio.wait_for(handle.result(), 30)
    with Session(engine) as session:
        assert session.get(CaseRecord, driver.reference).stage == "closed"
        after = [(a.id, a.action) for a in session.exec(select(AuditEvent).where(
            AuditEvent.case_reference == driver.reference))]
    assert after == before, "the second run wrote nothing"
