"""The activity that applies one workflow step: read model, audit row, tasks and their e-mails, in one
transaction; and, when the step closes the case or its review, a copy of its decoded history in the archive."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import Engine, delete, insert, select
from sqlalchemy.exc import IntegrityError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from engine.effects import CaseSteps
from engine.models import CaseStep, StepFacts
from engine.vocabulary import RETURN_STAGES, Stage
from records.audit import AuditWriter
from records.case_states import store_case_state
from records.codec import EncryptionCodec
from records.db import session_scope
from records.history import archive_history, fetch_readable_history
from records.models import AppliedStep, CaseRecord, CaseReview, InformationReturn, ReturnDraft
from records.outbox import enqueue_task_emails
from records.read_model import raise_plan_actions, record_stage_entries, upsert_case, upsert_review
from records.tasks import move_due_dates, open_task, settle_tasks

log = logging.getLogger(__name__)


class CaseStepActivities(CaseSteps):
    def __init__(self, engine: Engine, public_url: str, codec: EncryptionCodec, *, audit_key: bytes) -> None:
        self.engine = engine
        self.public_url = public_url
        self.codec = codec
        self.audit_key = audit_key

    @activity.defn(name="apply_case_step")
    async def apply_case_step(self, step: CaseStep) -> bool:
        """Apply the step once: returns False when a retry finds it already applied. A step that closes the case or
        its review also archives the workflow's history. Other stage changes are not: fetching and decoding the whole
        history on a person's click grew with the case (the nightly job, service/platform/jobs.py, copies every case
        changed since its last copy, and completes the copy of a closed one)."""
        info = activity.info()
        run = info.workflow_run_id if info.workflow_id == step.case_reference else None  # the case's own run
        applied, _ = await asyncio.to_thread(self.apply_step, step, run)
        if closes(step):
            await self._archive(activity.info().workflow_id, step.case_reference)
        return applied

    async def _archive(self, workflow_id: str, case_reference: str) -> None:
        events = await fetch_readable_history(activity.client(), workflow_id, self.codec)
        if events is not None:
            await asyncio.to_thread(self._store_archive, workflow_id, case_reference, events)
            log.info("archived %d history events of %s", len(events), workflow_id)

    def _store_archive(self, workflow_id: str, case_reference: str, events: list[dict]) -> None:
        # Off the worker's event loop: a database that hangs must not stall every other activity.
        with session_scope(self.engine) as session:
            archive_history(session, workflow_id, case_reference, events)

    def apply_step(self, step: CaseStep, run_id: str | None = None) -> tuple[bool, bool]:
        """(applied now, stage changed). A case belongs to the one workflow run that opened it: another run with
        the same reference (restarted from a captured input, reset) is refused before it writes anything."""
        try:
            with session_scope(self.engine) as session:
                before = session.get(CaseRecord, step.case_reference)
                if run_id and before is not None and before.workflow_run_id not in (None, run_id):
                    raise ApplicationError(f"Case {step.case_reference} belongs to another workflow run; this run "
                                           "is refused", type="ForeignRun", non_retryable=True)
                if _applied(session, step.key):
                    return False, False
                if step.facts is not None:
                    case_was, review_was = _stages_left(step, step.facts)
                    moved = step.facts.entered_stage is not None or step.facts.review_stage_changed
                    opened = step.facts.opened_case
                else:
                    case_was, review_was, moved, opened = _read_from_rows(session, step, before)
                actor = step.audit.actor_id if step.audit else None
                if step.audit is not None:
                    AuditWriter(session, self.audit_key).add(
                        step.audit.action, step.case_reference, step.audit.detail, actor_id=step.audit.actor_id,
                        actor_role=step.audit.actor_role, event_key=step.key, at=step.at,
                    )
                record_stage_entries(session, step, case_was, review_was)
                if step.snapshot is not None:
                    referrer = {"referred_by": actor} if opened else None
                    record = upsert_case(session, step.snapshot, step.at, referrer)
                    if run_id and record.workflow_run_id is None:
                        record.workflow_run_id = run_id
                if step.stored_state is not None:
                    store_case_state(session, step.case_reference, step.stored_state, step.at)
                if step.review is not None:
                    upsert_review(session, step.review, step.at)
                raise_plan_actions(session, step.case_reference, step.plan_actions)
                if (given := step.information_return) is not None:
                    session.add(InformationReturn(
                        case_reference=step.case_reference, agency=given.agency, version=given.version,
                        submitted_at=step.at, submitted_by=given.submitted_by_id, involvement=given.involvement,
                        chronology=given.chronology, analysis=given.analysis))
                    # The agency's draft has become its return: gone with the same transaction.
                    if (draft := session.get(ReturnDraft, (step.case_reference, given.agency))) is not None:
                        session.delete(draft)
                if moved and step.snapshot is not None and step.snapshot.stage not in RETURN_STAGES:
                    # Returns are over (the panel met, or the case closed): a draft never sent is not kept.
                    session.exec(delete(ReturnDraft).where(ReturnDraft.case_reference == step.case_reference))
                for settlement in step.settle:
                    settle_tasks(session, settlement, step.case_reference, actor, step.at)
                for move in step.due_date_moves:
                    move_due_dates(session, move, step.case_reference)
                for spec in step.tasks:
                    if (task := open_task(session, spec, step.case_reference)) is not None:
                        enqueue_task_emails(session, task, self.public_url)
                session.connection().execute(insert(APPLIED).values(key=step.key, applied_at=step.at))
        except IntegrityError:
            # Two attempts raced (a retry while the first was still finishing) and the other one won, or the
            # database refused the step's rows: only the first may be taken as "applied".
            with session_scope(self.engine) as session:
                if _applied(session, step.key):
                    return False, False
            raise
        return True, moved


APPLIED = AppliedStep.__table__


def _applied(session, key: str) -> bool:
    """Whether the step with this key is already in the database (a Core query: asked on every step)."""
    return session.connection().execute(select(APPLIED.c.key).where(APPLIED.c.key == key)).first() is not None


def closes(step: CaseStep) -> bool:
    """The step leaves the case, or its review, closed (a retry can tell as well as the first attempt)."""
    return any(row is not None and row.stage == Stage.closed for row in (step.snapshot, step.review))


def _read_from_rows(session, step: CaseStep, before: CaseRecord | None) -> tuple[str | None, str | None, bool, bool]:
    """(case stage before, review stage before, moved, opened the case) of a step without facts, read from the rows
    and the key as builds before steps said what they did. Only a step an earlier build scheduled (and this one
    retries after an upgrade) comes without them; every step sent now says."""
    was = (before.stage, before.practice_review_stage) if before else None
    review = session.get(CaseReview, step.case_reference)
    review_was = review.stage if review else None
    moved = (step.snapshot is not None and was != (step.snapshot.stage, step.snapshot.practice_review_stage)
             or step.review is not None and step.review.stage != review_was)
    return was[0] if was else None, review_was, moved, step.key.endswith(":submit_referral")


def _stages_left(step: CaseStep, facts: StepFacts) -> tuple[str | None, str | None]:
    """The stages the case and its review were at before the step, as ``record_stage_entries`` compares them: none
    where the step entered one, else the stage it stays at (so no row is written)."""
    case_stage = step.snapshot.stage if step.snapshot is not None else None
    review_stage = step.review.stage if step.review is not None else None
    if facts.entered_stage is None:
        return case_stage, review_stage
    return (None, review_stage) if step.snapshot is not None else (case_stage, None)
