"""Scheduled jobs that belong to no single case: the daily digest, nightly history archiving and the nightly
audit-chain check. Each run claims its (job, period) row first, so with several service processes a job's
effect happens once; a run missed while the service was down is made up at start-up (see scheduler.py)."""

from __future__ import annotations

import json
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine, and_, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from engine.vocabulary import Role, Stage, TaskKind, TaskStatus, Urgency, practice_review_id
from records import wording
from records.codec import EncryptionCodec
from records.db import session_scope
from records.history import archive_history, fetch_readable_history
from records.models import CaseRecord, HistoryArchive, JobRun, Task, User
from records.outbox import enqueue
from records.tasks import assigned_to, urgency
from service.partnership.calendar_days import partnership_calendar
from service.platform.audit_trail import AuditTrail

log = logging.getLogger(__name__)
HOLDER = f"{socket.gethostname()}:{os.getpid()}"
STALE_CLAIM = timedelta(hours=1)  # a claim older than this with no finish was left by a crashed process


def claim_run(engine: Engine, job: str, period: str, holder: str = HOLDER) -> bool:
    """True if this process may run (job, period): nobody has, or a crashed process left it unfinished."""
    try:
        with session_scope(engine) as session:
            session.add(JobRun(job=job, period=period, holder=holder))
        return True
    except IntegrityError:
        pass
    with session_scope(engine) as session:
        taken = session.exec(
            update(JobRun)
            .where(JobRun.job == job, JobRun.period == period, JobRun.finished_at.is_(None),
                   JobRun.started_at < datetime.now(UTC) - STALE_CLAIM)
            .values(holder=holder, started_at=datetime.now(UTC))
        )
        return bool(taken.rowcount)


def finish_run(engine: Engine, job: str, period: str, result: dict) -> None:
    with session_scope(engine) as session:
        row = session.get(JobRun, (job, period))
        row.finished_at, row.result = datetime.now(UTC), json.dumps(result, default=str)
        session.add(row)


async def run_once(engine: Engine, job: str, period: str, work: Callable[[], Awaitable[dict]],
                   holder: str = HOLDER) -> dict | None:
    """Run ``work`` for this period unless another process has; returns its result, or None if skipped."""
    if not claim_run(engine, job, period, holder):
        log.info("job %s for %s already run or running elsewhere", job, period)
        return None
    result = await work()
    finish_run(engine, job, period, result)
    log.info("job %s for %s done: %s", job, period, result)
    return result


# ---------------------------------------------------------------- the jobs


def send_daily_digest(engine: Engine, public_url: str, today: date) -> dict:
    """One e-mail per person listing their overdue and due-soon tasks (references and titles only)."""
    sent = 0
    with session_scope(engine) as session:
        calendar = partnership_calendar(session)
        for user in session.exec(select(User).where(User.is_active == True)):  # noqa: E712 - SQL expression
            # An orphaned case's tasks cannot be done (no workflow takes them): they are on the board, not here.
            # Escalations are left out too: each missed milestone was told once, when it was missed (lateness.py).
            tasks = session.exec(select(Task)
                                 .join(CaseRecord, CaseRecord.reference == Task.case_reference, isouter=True)
                                 .where(Task.status == TaskStatus.open, assigned_to(user),
                                        Task.kind != TaskKind.escalation,
                                        CaseRecord.workflow_missing_since.is_(None))
                                 .order_by(Task.due_date)).all()
            pressing = [(t, urgency(t, today, calendar)) for t in tasks]
            pressing = [(t, u) for t, u in pressing if u in (Urgency.overdue, Urgency.due_soon)]
            if not pressing:
                continue
            lines = [f"- {t.case_reference}: {wording.plain(t.title, as_sentence=False)} "
                     f"(due {wording.long_date(t.due_date)}, "
                     f"{'OVERDUE' if u == Urgency.overdue else 'due soon'})" for t, u in pressing]
            overdue = sum(1 for _, u in pressing if u == Urgency.overdue)
            body = (f"Your tasks in the Rapid Review service that are overdue or due within two working days "
                    f"({wording.long_date(today)}):\n\n" + "\n".join(lines)
                    + f"\n\nOpen your tasks: {public_url.rstrip('/')}/tasks\n\nDetails are in the service only.")
            enqueue(session, key=f"digest:{today.isoformat()}:user:{user.id}", to=user, case_reference=None,
                    subject=f"[OFFICIAL-SENSITIVE] Your tasks: {overdue} overdue, {len(pressing) - overdue} due soon",
                    body=body)
            sent += 1
    return {"digests": sent}


async def archive_histories(engine: Engine, connect: Callable[[], Awaitable], codec: EncryptionCodec,
                            limit: int = 500) -> dict:
    """Re-archive the decoded history of every case changed since its last archive (closed cases included,
    so the copy has the final events), before Temporal's retention deletes it. Connects only if needed."""
    with session_scope(engine) as session:
        stale = session.exec(
            select(CaseRecord.reference)
            .join(HistoryArchive, HistoryArchive.workflow_id == CaseRecord.reference, isouter=True)
            .where(or_(HistoryArchive.workflow_id.is_(None), HistoryArchive.archived_at < CaseRecord.updated_at,
                       and_(CaseRecord.stage == Stage.closed, HistoryArchive.complete == False)))  # noqa: E712
            .order_by(CaseRecord.updated_at).limit(limit)
        ).all()
    stored = 0
    client = await connect() if stale else None
    for reference in stale:
        for workflow_id in (reference, practice_review_id(reference)):
            events = await fetch_readable_history(client, workflow_id, codec)
            if events is not None:
                with session_scope(engine) as session:
                    stored += archive_history(session, workflow_id, reference, events)
    return {"cases": len(stale), "archived": stored}


def check_audit_chain(trail: AuditTrail, public_url: str, today: date) -> dict:
    """Walk the whole audit chain and check it against the anchors; a break alerts every admin and auditor by
    e-mail (once per day). Then anchor the head outside the database, broken or not: an anchor records
    what the head was, so a later cut or rewrite of these rows is found even by someone who has the key
    and the database but not the anchor directory."""
    check = trail.verify(full=True)
    anchor = trail.write_anchor()
    with session_scope(trail.engine) as session:
        if not check.intact:
            for user in session.exec(select(User).where(User.role.in_([Role.admin, Role.auditor]),
                                                        User.is_active == True)):  # noqa: E712
                enqueue(session, key=f"chain-alert:{today.isoformat()}:user:{user.id}", to=user, case_reference=None,
                        subject="[OFFICIAL-SENSITIVE] ALERT: the audit trail's hash chain is broken",
                        body=("The nightly check found the audit trail changed or cut:\n\n"
                              + "\n".join(f"- {p}" for p in check.problems)
                              + f"\n\nSee {public_url.rstrip('/')}/audit"))
    if not check.intact:
        log.error("audit chain broken: %d problems", len(check.problems))
    return {**check.as_dict(), "anchor": anchor}


def anchor_audit_head(trail: AuditTrail) -> dict:
    """Hourly: anchor the head (and checkpoint) if either moved since the last anchor, so a cut tail and a head
    put back from a saved copy are found however recently the rows were written, at worst an hour's rows."""
    anchor = trail.write_anchor()
    return {"anchor": anchor}
