"""The engine holds what the service started, or people are told.

Each case's workflow lives in Temporal, whose frontend anyone who reaches its port can drive: a reset (a new run
replaying part of the history, so the API would show another stage than the board), a terminate or cancel, or
a workflow started under a case's id. The service records the run that opened each case (the case-step
activity: ``CaseRecord.workflow_run_id``) and compares the engine's description with it: at start-up and hourly
for every open case (``check_open_cases``), every few seconds for the case workflows the engine lists as closed or
started since the last look (``watch_for_changes``), and on every read of a case and before every action
(``CaseService``). The check asks for the workflow's status, not whether it exists: a terminated workflow
exists too.

A mismatch is flagged on the case (``engine_mismatch``: what was found, never case text), written to the audit
trail, logged as an ``ALERT`` line, e-mailed to every admin once per episode, and counted by /readyz and /metrics;
nobody can act on the case until an administrator restores its workflow (the flag clears when the engine agrees
again). A workflow someone else started under the next case's id is skipped and alerted the same way
(``alert_taken_id``).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from sqlalchemy import Engine
from sqlmodel import Session, func, select
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from engine.vocabulary import Stage
from records.audit import AuditWriter
from records.db import session_scope
from records.models import CaseRecord
from service.platform.effect_alerts import alert_admins
from service.platform.orphans import mark_workflow_missing

log = logging.getLogger(__name__)

MISMATCH = "engine_mismatch"
MISMATCH_CLEARED = "engine_mismatch_cleared"
ID_TAKEN = "workflow_id_taken"


class EngineRun(NamedTuple):
    """What the engine says of a case's workflow: its latest run and that run's status."""

    run_id: str
    status: WorkflowExecutionStatus | None


def mismatch_of(record: CaseRecord, description: EngineRun) -> str | None:
    """What is wrong with the engine's workflow of this case, in words without case text; None if nothing."""
    if record.workflow_run_id and description.run_id != record.workflow_run_id:
        return (f"the engine's workflow is run {description.run_id}, not run {record.workflow_run_id} that opened "
                "the case (reset, or started outside the service)")
    if record.stage != Stage.closed and description.status != WorkflowExecutionStatus.RUNNING:
        status = description.status.name.lower() if description.status else "unknown"
        return f"the workflow is {status} while the case is open (ended outside the service)"
    return None


async def describe(client: Client, reference: str) -> EngineRun | None:
    """The engine's run and status of the case's workflow; None when it has no such workflow. Asked for on every
    read of a case and before every action, so only these two fields are read from the answer (the client's own
    ``describe`` decodes its memo and search attributes too)."""
    try:
        answer = await client.workflow_service.describe_workflow_execution(DescribeWorkflowExecutionRequest(
            namespace=client.namespace, execution=WorkflowExecution(workflow_id=reference)), retry=True)
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
    info = answer.workflow_execution_info
    return EngineRun(info.execution.run_id, WorkflowExecutionStatus(info.status) if info.status else None)


def record_mismatch(engine: Engine, *, reference: str, found: str | None, audit_key: bytes, public_url: str) -> None:
    """Flag (``found``) or clear (None) the case's mismatch; each change is audited, a new episode alerted."""
    with session_scope(engine) as session:
        record = session.get(CaseRecord, reference)
        if record is None or record.engine_mismatch == (found and found[:300]):
            return
        if found is None:
            record.engine_mismatch = record.engine_mismatch_since = None
            AuditWriter(session, audit_key).add(MISMATCH_CLEARED, reference, {}, actor_id=None, actor_role="system")
            session.add(record)
            return
        record.engine_mismatch = found[:300]
        record.engine_mismatch_since = record.engine_mismatch_since or datetime.now(UTC)
        session.add(record)
        AuditWriter(session, audit_key).add(MISMATCH, reference, {"found": found}, actor_id=None, actor_role="system")
        alert_admins(session, key=f"engine-mismatch:{reference}:{record.engine_mismatch_since.isoformat()}",
                     subject=f"ALERT: case {reference}: its workflow was changed outside the service",
                     body=(f"The Temporal server's workflow of case {reference} is not the one the service started: "
                           f"{found}.\nNobody can act on the case until an administrator restores its workflow (reset "
                           "it back to the run the service started, or restore the engine's data). The case page and "
                           f"{public_url}/readyz show the alert.\n"),
                     case_reference=reference)
    log.error("ALERT case %s: %s", reference, found)


def alert_taken_id(engine: Engine, *, workflow_id: str, audit_key: bytes, public_url: str) -> None:
    """A workflow the service did not start already holds the id a new case was to have (someone started it
    through the engine's port): audited, logged as an ALERT and e-mailed to the admins; the case takes the next
    reference."""
    with session_scope(engine) as session:
        AuditWriter(session, audit_key).add(ID_TAKEN, None, {"workflow_id": workflow_id}, actor_id=None,
                                            actor_role="system")
        alert_admins(session, key=f"workflow-id-taken:{workflow_id}",
                     subject=f"ALERT: workflow id {workflow_id} was taken outside the service",
                     body=(f"A workflow the service did not start holds the id {workflow_id} on the Temporal server, "
                           "so the next referral was given the following reference instead. Someone reached the "
                           "engine's port directly: find out who, and terminate that workflow. "
                           f"See {public_url}/readyz.\n"),
                     case_reference=None)
    log.error("ALERT workflow id %s was taken outside the service; the referral took the next reference", workflow_id)


async def check_open_cases(engine: Engine, client: Client, *, audit_key: bytes, public_url: str) -> dict:
    """Ask the engine about every open case (at start-up and hourly): mark the missing and the mismatched, clear
    the ones the engine agrees with again."""
    with session_scope(engine) as session:
        records = session.exec(select(CaseRecord).where(CaseRecord.stage != Stage.closed)).all()
        for record in records:
            session.expunge(record)
    missing = mismatched = 0
    for record in records:
        description = await describe(client, record.reference)
        mark_workflow_missing(engine, record.reference, description is None)
        missing += description is None
        found = None if description is None else mismatch_of(record, description)
        record_mismatch(engine, reference=record.reference, found=found, audit_key=audit_key, public_url=public_url)
        mismatched += found is not None
    if missing:
        log.error("%d open case(s) have no workflow on the Temporal server: they are shown as orphaned", missing)
    return {"open_cases": len(records), "orphaned": missing, "mismatched": mismatched}


WATCH_SECONDS = 5
# A run's close reaches the engine's list a moment after it happens: each look goes back this far again (a change
# seen twice is flagged once).
LIST_LAG = timedelta(minutes=1)


async def watch_for_changes(engine: Engine, client: Client, since: datetime, *, audit_key: bytes,
                            public_url: str) -> datetime:
    """One look at the engine's list for case workflows that closed or started since ``since`` (a terminate, a
    cancel, a reset, a workflow started under a case's id), flagging each as ``check_open_cases`` would: every case
    is watched within seconds, read or not (before, a case nobody read or acted on waited for the hourly check).
    It only flags; clearing stays with the checks that describe the case. Returns where the next look starts."""
    looked_at = datetime.now(UTC)
    after = (since - LIST_LAG).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    current: dict[str, tuple[datetime, EngineRun]] = {}  # each workflow's latest run, as a describe would see it
    async for execution in client.list_workflows(f'CloseTime >= "{after}" OR StartTime >= "{after}"'):
        started = execution.start_time or looked_at
        if execution.id not in current or started >= current[execution.id][0]:
            current[execution.id] = (started, EngineRun(execution.run_id, execution.status))
    if not current:
        return looked_at
    with session_scope(engine) as session:
        records = session.exec(select(CaseRecord).where(CaseRecord.reference.in_(list(current)))).all()
        for record in records:
            session.expunge(record)
    for record in records:
        found = mismatch_of(record, current[record.reference][1])
        if found is not None:
            record_mismatch(engine, reference=record.reference, found=found, audit_key=audit_key,
                            public_url=public_url)
    return looked_at


def count_mismatched(session: Session) -> int:
    return session.exec(select(func.count()).select_from(CaseRecord)
                        .where(CaseRecord.engine_mismatch.is_not(None))).one()


def mismatch_detail(reference: str, found: str) -> str:
    """What a person is told about a case whose workflow was changed outside the service."""
    return (f"Case {reference}'s workflow was changed outside the service: {found}. No action can be taken and "
            "what the engine shows is not trusted until an administrator restores it; the administrators have been "
            "alerted. Its record, tasks, documents and audit trail are kept.")
