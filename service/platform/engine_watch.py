"""The engine holds what the service started, or people are told.

Each case's workflow lives in Temporal, whose frontend anyone who reaches its port can drive: a reset (a new run
replaying part of the history, so the API would show another stage than the board), a terminate or cancel, or
a workflow started under a case's id. The service records the run that opened each case (the case-step
activity: ``CaseRecord.workflow_run_id``) and compares the engine's description with it: at start-up and hourly
for every open case (``check_open_cases``); every few seconds for every case whose listing among the engine's
running case workflows is not what its record expects (``watch_running``); and before every action, and on a read
of a case unless a watch completed a look in the last seconds (``watch_trusted``; ``CaseService``). The check
asks for the workflow's status, not whether it exists: a terminated workflow exists too.

A mismatch is flagged on the case (``engine_mismatch``: what was found, never case text), written to the audit
trail, logged as an ``ALERT`` line, e-mailed to every admin once per episode, and counted by /readyz and /metrics;
nobody can act on the case until an administrator restores its workflow (the flag clears when the engine agrees
again). A workflow someone else started under the next case's id is skipped and alerted the same way
(``alert_taken_id``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from sqlalchemy import Engine, update
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, func, select
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest, ListWorkflowExecutionsRequest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from engine.registry import REVIEW_TYPES
from engine.vocabulary import Stage
from records.audit import AuditWriter
from records.db import add_unless_present, read_session, session_scope
from records.models import CaseRecord, EngineWatchMark
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


async def check_case(engine: Engine, client: Client, reference: str, *, audit_key: bytes,
                     public_url: str) -> tuple[bool, str | None] | None:
    """Describe one case's workflow and mark it: missing (an open case the engine has no workflow for), mismatched
    (``mismatch_of``), or cleared. The record is read after the engine answered, so a case that closed meanwhile
    reads as closed (its step is written before its workflow ends). (missing, what was found); None: no such case."""
    description = await describe(client, reference)
    return await asyncio.to_thread(_mark_case, engine, reference, description, audit_key=audit_key,
                                   public_url=public_url)


def _mark_case(engine: Engine, reference: str, description: EngineRun | None, *, audit_key: bytes,
               public_url: str) -> tuple[bool, str | None] | None:
    with session_scope(engine) as session:
        record = session.get(CaseRecord, reference)
        if record is None:
            return None
        session.expunge(record)
    missing = description is None and record.stage != Stage.closed
    mark_workflow_missing(engine, reference, missing)
    found = None if description is None else mismatch_of(record, description)
    record_mismatch(engine, reference=reference, found=found, audit_key=audit_key, public_url=public_url)
    return missing, found


async def check_open_cases(engine: Engine, client: Client, *, audit_key: bytes, public_url: str) -> dict:
    """Ask the engine about every open case (at start-up and hourly): mark the missing and the mismatched, clear
    the ones the engine agrees with again."""
    references = await asyncio.to_thread(_open_cases, engine)
    missing = mismatched = 0
    for reference in references:
        checked = await check_case(engine, client, reference, audit_key=audit_key, public_url=public_url)
        missing += bool(checked and checked[0])
        mismatched += bool(checked and checked[1])
    if missing:
        log.error("%d open case(s) have no workflow on the Temporal server: they are shown as orphaned", missing)
    return {"open_cases": len(references), "orphaned": missing, "mismatched": mismatched}


def _open_cases(engine: Engine) -> list[str]:
    with read_session(engine) as session:
        return list(session.exec(select(CaseRecord.reference).where(CaseRecord.stage != Stage.closed)).all())


WATCH_SECONDS = 5
# A read trusts the watch while some process's last complete look is this recent (three looks: one may be slow).
WATCH_TRUSTED_FOR = timedelta(seconds=3 * WATCH_SECONDS)
NOT_TRUSTED = datetime(2000, 1, 1, tzinfo=UTC)  # the mark of a look that found the engine's list behind


def mark_of(address: str | None, namespace: str) -> str:
    """The name of the watch's mark for one engine and namespace: a process reading through another engine (a
    replica pointed elsewhere) never trusts this one's look."""
    return f"{address or 'embedded'}/{namespace}"[:200]


async def watch_running(engine: Engine, client: Client, mark: str, *, audit_key: bytes, public_url: str) -> dict:
    """One look, every few seconds: the engine's running case workflows (one list call) against the cases on record.
    Every case whose listing is not what its record expects (an open case not running, or running as another run;
    a closed case running again) and every flagged case the list now shows as expected is described
    (``check_case``) and marked: a terminate, a cancel, a reset, a workflow deleted or an engine that lost its data
    is flagged within seconds, read or not, and the list alone never flags (it lags the engine by a moment).
    The look's ``mark`` then says when it began, and reads trust it for ``WATCH_TRUSTED_FOR``; unless the engine
    described as running an open case its list left out: the list is behind, and reads ask the engine until a
    look finds it caught up."""
    looked_at = datetime.now(UTC)
    running = await _running_case_workflows(client)
    on_record = await asyncio.to_thread(_expected_runs, engine, running)
    doubtful = []
    for reference, run_id, stage, flagged in on_record:
        listed = running.get(reference)  # (a case opened before runs were recorded: any run of it)
        expected = listed is not None and (run_id is None or listed == run_id) if stage != Stage.closed else (
            listed is None or listed == run_id)
        if expected == bool(flagged):  # news either way: to flag, or to clear
            doubtful.append((reference, flagged))
    behind = False
    for reference, flagged in doubtful:
        checked = await check_case(engine, client, reference, audit_key=audit_key, public_url=public_url)
        behind |= not flagged and checked == (False, None)  # the engine runs it as recorded: the list missed it
    await asyncio.to_thread(_mark_watched, engine, mark, NOT_TRUSTED if behind else looked_at)
    return {"running": len(running), "open_cases": sum(row[2] != Stage.closed for row in on_record),
            "described": len(doubtful), "list_behind": behind}


async def _running_case_workflows(client: Client) -> dict[str, str]:
    """The engine's running case workflows: id to run id (read from the raw answer, page by page: the client's
    own list decodes each workflow's memo and search attributes too)."""
    names = ", ".join(f'"{review_type.workflow_name}"' for review_type in REVIEW_TYPES.referred())
    request = ListWorkflowExecutionsRequest(
        namespace=client.namespace, page_size=1000,
        query=f"ExecutionStatus = 'Running' AND WorkflowType IN ({names})")
    running: dict[str, str] = {}
    while True:
        page = await client.workflow_service.list_workflow_executions(request, retry=True)
        running.update((info.execution.workflow_id, info.execution.run_id) for info in page.executions)
        if not page.next_page_token:
            return running
        request.next_page_token = page.next_page_token


def _expected_runs(engine: Engine, running: dict[str, str]) -> list[tuple]:
    """Each open case, and each closed case the engine runs a workflow of: (reference, the run that opened it,
    stage, flagged)."""
    columns = (CaseRecord.reference, CaseRecord.workflow_run_id, CaseRecord.stage,
               CaseRecord.workflow_missing_since.is_not(None) | CaseRecord.engine_mismatch.is_not(None))
    with read_session(engine) as session:
        on_record = list(session.exec(select(*columns).where(CaseRecord.stage != Stage.closed)).all())
        open_references = {row[0] for row in on_record}
        elsewhere = [reference for reference in running if reference not in open_references]
        for chunk in range(0, len(elsewhere), 500):  # closed cases whose workflow runs (ending, or run again)
            on_record += session.exec(select(*columns).where(
                CaseRecord.reference.in_(elsewhere[chunk:chunk + 500]))).all()
    return on_record


def _mark_watched(engine: Engine, mark: str, looked_at: datetime) -> None:
    with session_scope(engine) as session:
        if not add_unless_present(session, EngineWatchMark(name=mark, looked_at=looked_at), "name"):
            session.exec(update(EngineWatchMark).where(EngineWatchMark.name == mark).values(looked_at=looked_at))


_trusted: dict[tuple[str, str], tuple[float, datetime | None]] = {}  # (database, mark): when read, what it said


async def watch_trusted(engine: Engine, mark: str) -> bool:
    """Whether some process's watch of this engine (``watch_running``) completed a look within
    ``WATCH_TRUSTED_FOR`` that found its list up to date, so a read need not ask the engine about an open case.
    The mark is read from the database at most once a second per process; a database that cannot say: not trusted."""
    key = (str(engine.url), mark)
    read_at, looked_at = _trusted.get(key, (-1.0, None))
    if time.monotonic() - read_at > 1.0:
        try:
            looked_at = await asyncio.to_thread(_read_mark, engine, mark)
        except SQLAlchemyError:
            looked_at = None
        _trusted[key] = (time.monotonic(), looked_at)
    return looked_at is not None and datetime.now(UTC) - looked_at <= WATCH_TRUSTED_FOR


def _read_mark(engine: Engine, mark: str) -> datetime | None:
    """(A read: a request that holds SQLite's write lock while it asks must not wait for itself.)"""
    with read_session(engine) as session:
        return session.exec(select(EngineWatchMark.looked_at).where(EngineWatchMark.name == mark)).first()


def count_mismatched(session: Session) -> int:
    return session.exec(select(func.count()).select_from(CaseRecord)
                        .where(CaseRecord.engine_mismatch.is_not(None))).one()


def mismatch_detail(reference: str, found: str) -> str:
    """What a person is told about a case whose workflow was changed outside the service."""
    return (f"Case {reference}'s workflow was changed outside the service: {found}. No action can be taken and "
            "what the engine shows is not trusted until an administrator restores it; the administrators have been "
            "alerted. Its record, tasks, documents and audit trail are kept.")
