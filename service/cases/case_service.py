"""The case service: start a case, act on it, read its live state and its engine history, and the audit row each
writes. The API's routes, the pages and task completion all call it, so a page and a route cannot differ in who may
do what; it raises the domain's refusals (``records/errors.py``), which one handler in ``service/app.py`` answers.

An action is checked in this order: a known action (404), the role the workflow's rules give it (403), a case this
person can see (404), a body the action's model accepts (422), then the workflow's own validator (409 with its
reason). A request with an idempotency key takes effect once, however often it is retried.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import NamedTuple

from anyio.to_thread import run_sync as in_thread
from pydantic import BaseModel, ValidationError
from sqlalchemy import Engine, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select
from temporalio.client import WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from engine.authenticity import sealed
from engine.calendar import london_date
from engine.models import Actor
from engine.registry import ACTIONS as REVIEW_ACTIONS
from engine.registry import REVIEW_TYPES
from engine.review_type import ActionSpec, CaseStart, ReviewType
from engine.vocabulary import Stage, TaskStatus, practice_review_id
from records.audit import AuditWriter
from records.case_states import stored_case_state
from records.codec import EncryptionCodec
from records.db import begin_read, session_scope
from records.errors import (
    ActionRefused,
    CaseGone,
    Conflict,
    EngineUnavailable,
    InvalidInput,
    NotFound,
    NotPermitted,
)
from records.history import archive_history, archived_history, fetch_readable_history
from records.idempotency import Claim, bind_reference, claim, fingerprint, remember
from records.models import CaseRecord, Task, User
from records.object_store import ObjectStore
from records.outbox import enqueue_referral_received
from records.partnership import process_rules
from records.tasks import assigned_to, task_scope
from reviews.practice_review.workflow import PracticeReviewWorkflow
from reviews.review_types import RAPID_REVIEW
from service.cases.case_links import (
    SHARE_ACTION,
    SHARING_TRIGGERS,
    count_shared_returns,
    for_reader,
    require_shared_return,
)
from service.cases.final_report import final_report
from service.cases.references import next_reference, type_of
from service.cases.visibility import may_read, state_for, visible_case
from service.platform.audit_trail import AuditTrail
from service.platform.engine_watch import (
    alert_taken_id,
    describe,
    mark_of,
    mismatch_detail,
    mismatch_of,
    record_mismatch,
    watch_trusted,
)
from service.platform.orphans import mark_workflow_missing, orphan_detail, state_from_archive
from service.platform.settings import Settings
from service.platform.temporal import TemporalConnection

# Every action of every registered review type, by name (engine/registry.py refuses a name two types share).
ACTIONS = REVIEW_ACTIONS


@dataclass(frozen=True)
class Outcome:
    """An answer to a request that acts: the body, and, when it repeats a request already answered (the same
    idempotency key), the status that first answer had; ``accepted_at`` when the work is taken but not yet
    readable (202 Accepted, with that Location)."""

    body: dict
    replayed_status: int | None = None
    accepted_at: str | None = None


TAKEN_IDS_SKIPPED = 3  # references skipped past workflows started outside the service before a referral is refused


class CheckedAction(NamedTuple):
    """An action that passed the service's checks, ready to send as its workflow update."""

    action: str
    spec: ActionSpec
    record: CaseRecord
    payload: BaseModel
    held: Claim | None  # the idempotency key's claim, if the request had one


class Started(NamedTuple):
    reference: str
    readable: bool  # the case is in the read model: lists, its page and its API answer for it


def actor_of(user: User) -> Actor:
    """The workflow's view of the signed-in user (never taken from a request body)."""
    return Actor(user_id=user.id, name=user.full_name, role=user.role, agency=user.agency, seat=user.seat)


def validated(model: type[BaseModel], body: dict, what: str) -> BaseModel:
    """``body`` as ``model``, or InvalidInput naming each field that is wrong."""
    try:
        return model.model_validate(body)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors())
        raise InvalidInput(f"The {what} is not valid: {problems}") from None


def future_dates(referral: BaseModel, today: date) -> list[str]:
    """The referral's dates after ``today`` (by field name): a referral tells of what has already happened."""
    return [name for name, value in referral if isinstance(value, date) and value > today]


def today_in_london() -> str:
    return london_date(datetime.now(UTC)).isoformat()


@dataclass
class CaseService:
    """One request's view of the cases: its database session, the engine and the audit trail (see
    ``service/deps.py``, which builds it)."""

    session: Session
    settings: Settings
    engine: Engine
    temporal: TemporalConnection
    codec: EncryptionCodec
    trail: AuditTrail
    request_id: str | None = None
    documents: ObjectStore | None = None  # the issued documents' store (pages that show a document read it)

    # ------------------------------------------------------------ the record

    @property
    def audit_writer(self) -> AuditWriter:
        return self.trail.writer(self.session, self.request_id)

    def audit(self, user: User | None, action: str, reference: str | None, detail: dict) -> None:
        """Append one audit row (actor, role, action, case, what, request id) and commit it."""
        self.audit_writer.write(user, action, reference, detail)

    def visible(self, user: User, reference: str) -> CaseRecord:
        return visible_case(self.session, user, reference)

    def may_read(self, user: User, reference: str) -> bool:
        return may_read(self.session, user, reference)

    # ------------------------------------------------------------ start

    async def refer(self, user: User, referral: BaseModel, idempotency_key: str | None = None,
                    path: str = "/api/cases", review_type: ReviewType = RAPID_REVIEW) -> Outcome:
        """A referral starts a case (of ``review_type``: a rapid review unless said); the answer is its reference and
        its first state as the referrer may see it."""
        today = london_date(datetime.now(UTC))
        if getattr(referral, "awareness_date", None) is not None and referral.awareness_date > today:
            raise InvalidInput(f"The date of awareness ({referral.awareness_date}) is in the future")
        if future := future_dates(referral, today):
            raise InvalidInput(f"A referral tells of what has happened: {', '.join(future)} cannot be in the future")
        held = None
        if idempotency_key is not None:
            held = claim(self.session, user.id, idempotency_key,
                         fingerprint("POST", path, referral.model_dump(mode="json")))
            if held.finished:
                return self._replay(held)
        reference, readable = await self.start(user, referral, held, review_type)
        if not readable:  # taken (the workflow runs), not yet readable: 202 and where to look, nothing remembered
            return Outcome({"reference": reference, "state": None,
                            "detail": f"Case {reference} is started; it can be read once its first step is recorded"},
                           accepted_at=f"/api/cases/{reference}")
        client = await self.temporal.client()
        state = await client.get_workflow_handle(reference).query(review_type.state_query, today.isoformat())
        answer = {"reference": reference, "state": state_for(user.role, state)}
        if held:
            remember(self.session, held.row, 201, answer)
        return Outcome(answer)

    async def start(self, user: User, referral: BaseModel, held: Claim | None = None,
                    review_type: ReviewType = RAPID_REVIEW) -> Started:
        """Give the referral a reference (the type's prefix) and start its type's workflow; returns when the case is
        in the read model, or (``readable`` False) after ``referral_readable_within_seconds`` without it.
        With an idempotency claim, a retry reuses the reference and finds the workflow already started. Without
        one, a workflow already under the reference was started outside the service (through the engine's port):
        that is alerted and the referral takes the next reference; after TAKEN_IDS_SKIPPED such in a row, 409."""
        session = self.session
        reference = held.row.case_reference if held and held.row.case_reference else None
        taken: list[str] = []
        while True:
            if reference is None:
                reference = next_reference(session, london_date(datetime.now(UTC)).year, review_type.reference_prefix)
                if held:  # another replica with the same key may have bound one first: then it is this request's too
                    reference = bind_reference(session, held.row, reference)
                session.commit()
            started_run = await self._start_workflow(user, referral, reference, review_type)
            if started_run is not None or held is not None:
                break
            taken.append(reference)
            await asyncio.to_thread(alert_taken_id, self.engine, workflow_id=reference, audit_key=self.trail.key,
                                    public_url=self.settings.rapid_review_public_url)
            if len(taken) >= TAKEN_IDS_SKIPPED:
                raise Conflict(f"The referral could not be started: the workflow ids {', '.join(taken)} are held on "
                               "the Temporal server by workflows the service did not start (the administrators have "
                               "been alerted). Send the referral again later.")
            reference = None
        enqueue_referral_received(session, referrer=user, reference=reference, received_on=london_date(
            datetime.now(UTC)), public_url=self.settings.rapid_review_public_url)
        try:
            session.commit()
        except IntegrityError:  # another replica answering the same Idempotency-Key queued the receipt first
            session.rollback()
        # The workflow's first step writes the audit row, the case and the run that wrote them.
        readable = await self._read_model_has(reference, self.settings.referral_readable_within_seconds)
        if readable and started_run is not None:
            await self._first_step_ran_in(reference, started_run)
        return Started(reference, readable)

    async def _first_step_ran_in(self, reference: str, started_run: str) -> None:
        """The case's first step must have run in the run this request started: one reset before it ran would
        otherwise be the run every later check trusts."""
        recorded = self.session.exec(select(CaseRecord.workflow_run_id).where(CaseRecord.reference == reference)
                                     ).first()
        self.session.commit()
        if recorded is not None and recorded != started_run:
            # The case belongs to the run the service started: the other run's steps are refused from now on, and
            # every check keeps the flag until that run is restored.
            self.session.exec(update(CaseRecord).where(CaseRecord.reference == reference)
                              .values(workflow_run_id=started_run))
            self.session.commit()
            await asyncio.to_thread(
                record_mismatch, self.engine, reference=reference, audit_key=self.trail.key,
                public_url=self.settings.rapid_review_public_url,
                found=f"the case was opened by run {recorded}, not run {started_run} that the service started "
                      "(reset, or started outside the service)")

    async def _start_workflow(self, user: User, referral: BaseModel, reference: str,
                              review_type: ReviewType = RAPID_REVIEW) -> str | None:
        """Start the case's workflow: the run id, or None if a workflow already holds its id."""
        case = review_type.start_input(referral, CaseStart(
            reference=reference, referrer=actor_of(user), partnership_name=self.settings.rapid_review_partnership_name,
            rules=process_rules(self.session)))
        sealed(reference, "start", reference, case)
        self.session.commit()
        client = await self.temporal.client()
        try:
            handle = await client.start_workflow(
                review_type.workflow_name, case, id=reference,
                task_queue=review_type.task_queue or self.settings.temporal_task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )
        except WorkflowAlreadyStartedError:
            return None
        return handle.first_execution_run_id or handle.result_run_id

    async def _read_model_has(self, reference: str, seconds: float) -> bool:
        """Wait (briefly) until the workflow's first step has written the case to the read model, so the
        referrer's next request finds it; the case is safe in Temporal either way."""
        for _ in range(int(seconds / 0.05)):
            found = self.session.exec(select(CaseRecord.reference).where(CaseRecord.reference == reference)).first()
            self.session.commit()
            if found:
                return True
            await asyncio.sleep(0.05)
        return False

    # ------------------------------------------------------------ read

    async def read(self, user: User, reference: str, detail: dict | None = None) -> dict:
        """A case's live state as this person may see it; the reading is on the record (``detail`` says where).
        Unless the engine watch looked in the last seconds (``watch_trusted``), the engine is asked about the case's
        workflow (``_engine_agrees``) while one thread's database work finds the case, records the reading and
        reads the state its last step stored with the links this person may follow."""
        asked = None if await self._watch_trusted() else asyncio.create_task(self._describe(reference))
        try:
            record, stored = await in_thread(self._read_on_record, user, reference, detail or {})
        except BaseException:
            if asked is not None:
                asked.cancel()  # (a case this person may not see: the engine's answer is not wanted)
                if not asked.cancelled() and asked.done():
                    asked.exception()  # (nor its failure: the refusal is the answer)
            raise
        client = await self.temporal.client()
        if stored is None:  # opened before states were stored: the workflow's query answers
            return await in_thread(self._for_reader, user, reference,
                                   state_for(user.role, await self.state(record, asked)))
        today = today_in_london()
        if not await self._engine_agrees(client, record, asked, reading=True):  # the query says what it lacks
            return await in_thread(self._for_reader, user, reference,
                                   state_for(user.role, await self._queried_state(client, record, today)))
        links = stored.pop("links")
        state = state_for(user.role, await self._with_review(client, record, stored, today))
        state["links"] = links
        return state

    async def _watch_trusted(self) -> bool:
        return await watch_trusted(self.engine, mark_of(self.temporal.address, self.temporal.namespace))

    async def _describe(self, reference: str):
        """The engine's description of the case's workflow, connecting first (a read that is refused never
        connects in vain: its task is cancelled)."""
        return await describe(await self.temporal.client(), reference)

    def _for_reader(self, user: User, reference: str, state: dict) -> dict:
        """``for_reader`` (the case's links this person may follow) off the event loop, in a read transaction of
        its own: it takes no write lock, so a read after an action never queues behind the worker's next step."""
        begin_read(self.session)
        try:
            return for_reader(self, user, reference, state)
        finally:
            self.session.commit()

    def _read_on_record(self, user: User, reference: str, detail: dict) -> tuple[CaseRecord, dict | None]:
        """The case if this person may see it, its reading on the record, and the state its last step stored with
        the links this person may follow (``for_reader``; None if no step stored a state)."""
        record = self.visible(user, reference)
        stored = stored_case_state(self.session, reference, date.fromisoformat(today_in_london()))
        stored = stored and for_reader(self, user, reference, stored)
        self.audit(user, "read_case", reference, detail)  # (ends the read: the answer waits for its row)
        return record, stored

    async def state(self, record: CaseRecord, asked: asyncio.Future | None = None) -> dict:
        """The workflow's live state (and the practice review's, once there is one). A closed case that the engine
        no longer holds comes from the history archive; an open one it does not have is orphaned (CaseGone).
        ``asked``: the engine's description of the workflow, if already asked for."""
        reference = record.reference
        today = today_in_london()
        client = await self.temporal.client()
        held = await self._engine_agrees(client, record, asked, reading=True)
        # Stored by the case's last step (engine/case_view.py); only cases opened before that are queried.
        stored = held and await in_thread(self._stored_state, reference, date.fromisoformat(today))
        if stored:
            return await self._with_review(client, record, stored, today)
        return await self._queried_state(client, record, today)

    async def _queried_state(self, client, record: CaseRecord, today: str) -> dict:
        """The state as the workflow's query answers it (or the archive's, or CaseGone when the engine has no
        workflow of an open case)."""
        reference = record.reference
        answer_within = self.settings.action_answer_timeout_seconds
        try:
            # A query needs a worker: with none polling, the person is told so instead of waiting on a 500.
            async with asyncio.timeout(answer_within):
                state = await client.get_workflow_handle(reference).query(type_of(reference).state_query, today)
        except TimeoutError:
            raise EngineUnavailable(f"The case's workflow did not answer within {answer_within:g} s (is a worker "
                                    "running?); its record is safe. Try again shortly.") from None
        except RPCError as error:
            if error.status != RPCStatusCode.NOT_FOUND:
                raise EngineUnavailable(f"The workflow engine could not answer for {reference} "
                                        f"({error.status.name if error.status else 'error'}); try again shortly."
                                        ) from None
            return await self._state_without_workflow(record)
        return await self._with_review(client, record, state, today)

    def _stored_state(self, workflow_id: str, today: date) -> dict | None:
        """``stored_case_state`` in a read transaction of its own (ended before it returns)."""
        begin_read(self.session)
        try:
            return stored_case_state(self.session, workflow_id, today)
        finally:
            self.session.commit()

    async def _with_review(self, client, record: CaseRecord, state: dict, today: str) -> dict:
        reference = record.reference
        if record.orphaned:
            await asyncio.to_thread(mark_workflow_missing, self.engine, reference, False)
        if state.get("practice_review_stage"):
            review_id = practice_review_id(reference)
            try:
                state["practice_review"] = (
                    await in_thread(self._stored_state, review_id, date.fromisoformat(today))
                    or await client.get_workflow_handle(review_id).query(PracticeReviewWorkflow.state, today))
            except RPCError:
                state["practice_review"] = state_from_archive(self.session, practice_review_id(reference))
        state["effect_failing"] = record.effect_failing  # a step of the case keeps failing (no case text)
        return state

    async def _engine_agrees(self, client, record: CaseRecord, asked: asyncio.Future | None = None, *,
                             reading: bool = False) -> bool:
        """The engine's workflow must be the run that opened the case, running while the case is open; otherwise
        the case is flagged, alerted and audited (service/platform/engine_watch.py) and the person is told
        (CaseGone). False when the engine has no workflow of the case. ``asked``: its description, if already asked
        for. ``reading``: an open, unflagged case is not asked about while the engine watch is trusted
        (``watch_trusted``: it compared every case with the engine seconds ago); an action, which the engine may just
        have refused, asks, and so does a closed case's read (the engine may have let it go: the archive answers)."""
        if reading and asked is None and record.stage != Stage.closed and not (
                record.orphaned or record.engine_mismatch) and await self._watch_trusted():
            return True
        try:
            description = await (asked or describe(client, record.reference))
        except RPCError:
            return False  # an engine that cannot describe cannot answer the query either: that path says so
        found = None if description is None else mismatch_of(record, description)
        if found is not None or record.engine_mismatch is not None:
            self.session.commit()  # the flag is written in its own transaction
            await asyncio.to_thread(record_mismatch, self.engine, reference=record.reference, found=found,
                                    audit_key=self.trail.key, public_url=self.settings.rapid_review_public_url)
        if found is not None:
            raise CaseGone(mismatch_detail(record.reference, found))
        return description is not None

    async def _state_without_workflow(self, record: CaseRecord) -> dict:
        if record.stage == Stage.closed:
            archived = state_from_archive(self.session, record.reference)
            if archived is None:
                raise CaseGone(f"Case {record.reference} is closed and the engine no longer holds its workflow "
                               "(retention); no archived copy of its history exists. Its timeline and "
                               "documents are kept.")
            archived.update(stage=str(Stage.closed), closed_reason=record.closed_reason)
            if archived.get("practice_review_stage"):
                archived["practice_review"] = state_from_archive(self.session, practice_review_id(record.reference))
            return archived
        await asyncio.to_thread(mark_workflow_missing, self.engine, record.reference, True)
        raise CaseGone(orphan_detail(record.reference, self.settings.temporal_address,
                                     self.settings.temporal_namespace))

    async def histories(self, reference: str, *, archive: bool = False) -> list[dict]:
        """The decoded engine histories of a case and of its practice review: live from the engine (kept in the
        archive too when ``archive``), else from the archive. Each: workflow id, source ("temporal" or
        "archive") and events."""
        client = await self.temporal.client()
        found = []
        for workflow_id in (reference, practice_review_id(reference)):
            events = await fetch_readable_history(client, workflow_id, self.codec)
            if events is not None:
                if archive:
                    with session_scope(self.engine) as archive_session:
                        archive_history(archive_session, workflow_id, reference, events)
                found.append({"workflow_id": workflow_id, "source": "temporal", "events": events})
            elif (kept := archived_history(self.session, workflow_id)) is not None:
                found.append({"workflow_id": workflow_id, "source": "archive", "events": kept})
            self.session.commit()  # hold no database transaction across the next call to Temporal
        return found

    # ------------------------------------------------------------ act

    async def act(self, user: User, reference: str, action: str, body, idempotency_key: str | None = None) -> Outcome:
        """Validate and send one action as its workflow update; the answer is the case's new state as this
        person may see it."""
        return await self._send(user, await in_thread(self._checked_action, user, reference, action, body,
                                                      idempotency_key))

    async def _send(self, user: User, checked: CheckedAction | Outcome) -> Outcome:
        """Send a checked action as its workflow update (or give again the answer its idempotency key had)."""
        if isinstance(checked, Outcome):
            return checked
        record = checked.record
        # A case's action goes to the run that opened it, so the engine itself refuses it if that run has ended or
        # been replaced; the engine is described (a second round trip) only then, or while the case is flagged.
        run_id = record.workflow_run_id if not checked.spec.suffix and record.engine_mismatch is None else None
        if run_id is None:
            await self._engine_agrees(await self.temporal.client(), record)
        state = await self._update(user, record, checked.action, checked.spec, checked.payload, checked.held, run_id)
        state = await in_thread(self._for_reader, user, checked.record.reference, state_for(user.role, state))
        if checked.action in SHARING_TRIGGERS:  # a return sent once may count on a linked case too
            await count_shared_returns(self, user, checked.record.reference)
        if checked.held:
            await in_thread(remember, self.session, checked.held.row, 200, state)
        return Outcome(state)

    def _checked_action(self, user: User, reference: str, action: str, body, idempotency_key: str | None
                        ) -> CheckedAction | Outcome:
        """The database's half of an action's checks (a thread's work: it must not hold the event loop): the
        action, its body and the case, or the answer already given to this idempotency key. They read in a read
        transaction: only an idempotency key's claim or a refusal's audit row takes the write lock."""
        begin_read(self.session)
        return self._action_checks(user, reference, action, body, idempotency_key)

    def _action_checks(self, user: User, reference: str, action: str, body, idempotency_key: str | None
                       ) -> CheckedAction | Outcome:
        spec = ACTIONS.get(action)
        if spec is None:
            raise NotFound(f"Unknown action {action!r}; actions are: {', '.join(sorted(ACTIONS))}")
        if user.role not in spec.roles:
            raise NotPermitted(f"A {user.role} may not take '{action}'; it is for: {', '.join(sorted(spec.roles))}")
        record = self.visible(user, reference)
        case_type = type_of(reference)
        if spec.review_type not in {t.key for t in REVIEW_TYPES.family(case_type)}:
            raise NotFound(f"'{action}' is not an action of a {case_type.name.lower()}")
        if not isinstance(body, dict) or "actor" in body or "seal" in body:
            raise InvalidInput("The body must be a JSON object, without 'actor' (that is you, from your sign-in) "
                               "or 'seal' (the service adds it)")
        payload = validated(spec.model, {**body, "actor": actor_of(user).model_dump()}, "action")
        if action == SHARE_ACTION:
            require_shared_return(self, reference, payload.agency, payload.shared_from)
        if getattr(payload, "report_document", None) is not None:  # the upload it names is this case's report
            final_report(self.session, reference, payload.report_document)
        held = None
        if idempotency_key is not None:
            held = claim(self.session, user.id, idempotency_key,
                         fingerprint("POST", f"/api/cases/{reference}/actions/{action}", body))
            if held.finished:
                return self._replay(held)
        if record.stage == Stage.closed and Stage.closed not in spec.stages:  # reopening is the workflow's to judge
            self.audit(user, f"rejected:{action}", reference, {"reason": "case closed"})
            raise Conflict(f"Case {reference} is closed; no further actions can be taken")
        self.session.commit()  # never hold a database transaction while the workflow's activities need the database
        return CheckedAction(action, spec, record, payload, held)

    async def _update(self, user: User, record: CaseRecord, action: str, spec: ActionSpec, payload,
                      held: Claim | None, run_id: str | None = None) -> dict:
        """The sealed workflow update (to ``run_id`` if given), bounded in time: with no worker running, a person is
        told to retry (same idempotency key) instead of waiting."""
        reference = record.reference
        client = await self.temporal.client()
        answer_within = self.settings.action_answer_timeout_seconds
        handle = client.get_workflow_handle(f"{reference}{spec.suffix}", run_id=run_id)
        update_id = held.update_id if held else f"{reference}:{action}:{uuid.uuid4().hex}"
        sealed(handle.id, action, update_id, payload)
        try:
            # asyncio's own deadline: a server may hold an update's first call past its gRPC deadline.
            async with asyncio.timeout(answer_within) as deadline:
                return await handle.execute_update(action, payload, id=update_id)
        except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
            if not deadline.expired():
                raise
            raise EngineUnavailable(f"The case's workflow did not answer within {answer_within:g} s; "
                                    "the action may still take effect. Send it again with the same Idempotency-Key "
                                    "to get its result without taking it twice.") from None
        except WorkflowUpdateFailedError as error:
            reason = str(error.cause.message if hasattr(error.cause, "message") else error.cause)
            await in_thread(self.audit, user, f"rejected:{action}", reference, {"reason": reason})
            raise ActionRefused(reason) from None
        except RPCError as error:
            if error.status == RPCStatusCode.NOT_FOUND:
                if run_id is not None:  # that run has ended or is gone: what the engine holds now says which
                    await self._engine_agrees(client, record)
                if spec.suffix or record.stage == Stage.closed:
                    where = "practice review" if spec.suffix else "case"
                    raise Conflict(f"The {where} of {reference} is not running, so '{action}' cannot be taken"
                                   ) from None
                await self._state_without_workflow(record)  # raises CaseGone: the case is orphaned
            raise

    async def complete_task(self, user: User, task_id: int, body, idempotency_key: str | None = None) -> Outcome:
        """Complete a task by taking the action it asks for (the workflow closes the task when it accepts it)."""
        return await self._send(user, await in_thread(self._checked_task_action, user, task_id, body,
                                                      idempotency_key))

    def _checked_task_action(self, user: User, task_id: int, body, idempotency_key: str | None
                             ) -> CheckedAction | Outcome:
        """The open task, if it is this person's to complete, and the checks of the action it asks for (in one
        thread's work and one read transaction, as ``_checked_action``)."""
        begin_read(self.session)
        found = self.session.exec(select(Task, task_scope(user), assigned_to(user)).where(Task.id == task_id)).first()
        task, in_scope, theirs = found if found is not None else (None, False, False)
        if task is None or not in_scope:
            raise NotFound(f"No task {task_id} that you can see")
        if task.status != TaskStatus.open:
            raise Conflict(f"Task {task_id} is already {task.status}")
        if task.action is None:
            raise Conflict(f"Task {task_id} is completed by the workflow, not by an action")
        if not theirs:
            raise NotPermitted(f"Task {task_id} is not yours: it is for {task.assignee_role}")
        return self._action_checks(user, task.case_reference, task.action, body, idempotency_key)

    @staticmethod
    def _replay(held: Claim) -> Outcome:
        return Outcome(json.loads(held.row.response_json), replayed_status=held.row.status_code)
