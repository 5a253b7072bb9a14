"""Cases: referral, lists from the read model, a case's live state, and every action of the brief.

An action is validated by pydantic (422), checked against the roles the workflow allows (403), then
sent as the workflow update; the workflow's validator has the last word (409 with its reason).
Every read of a case's content and every attempted action is written to the audit trail. A request
with an ``Idempotency-Key`` header takes effect once, however often it is retried.
"""

from __future__ import annotations

import asyncio
import json
import typing
import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Query, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from sqlalchemy import func, update
from sqlmodel import Session, select
from temporalio.client import WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from records.idempotency import claim, fingerprint, remember
from records.models import CaseAgency, CaseRecord, ReferenceCounter, User
from service.accounts import process_rules
from service.api.access import CaseActor, Reader, actor_of, audit, visible_case
from service.auth import DbSession
from service.orphans import mark_workflow_missing, orphan_detail, state_from_archive
from service.visibility import state_for
from workflows.authenticity import sealed
from workflows.calendar import london_date
from workflows.models import CaseInput, Referral
from workflows.practice_review import PracticeReviewWorkflow
from workflows.rapid_review import RapidReviewWorkflow
from workflows.vocabulary import PRACTICE_REVIEW_SUFFIX, Role, Stage, practice_review_id

IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", description=(
    "Any unique string (e.g. a UUID): a retry with the same key returns the first answer and acts once"))]

router = APIRouter(prefix="/api/cases", tags=["cases"])


class ActionSpec(typing.NamedTuple):
    workflow: type
    suffix: str  # the workflow id is the case reference plus this
    model: type[BaseModel]
    roles: frozenset[str]


def _actions() -> dict[str, ActionSpec]:
    """Every action, its input model and allowed roles, read from the workflows themselves."""
    found = {}
    for workflow, suffix in ((RapidReviewWorkflow, ""), (PracticeReviewWorkflow, PRACTICE_REVIEW_SUFFIX)):
        for name, (_stages, roles) in workflow.RULES.items():
            model = typing.get_type_hints(getattr(workflow, name))["action"]
            found[name] = ActionSpec(workflow, suffix, model, frozenset(str(r) for r in roles))
    return found


ACTIONS = _actions()


class CaseSummary(BaseModel):
    reference: str
    pseudonym: str
    stage: str
    opened_on: str
    next_deadline_title: str | None
    next_deadline_due: str | None
    next_deadline_rule: str | None
    rapid_review_due: str | None
    late: bool
    escalated: bool
    recommendation: str | None
    practice_review_stage: str | None
    closed_reason: str | None

    @classmethod
    def of(cls, record: CaseRecord) -> CaseSummary:
        data = record.model_dump(mode="json")
        return cls(**{name: data.get(name) for name in cls.model_fields})


class CasePage(BaseModel):
    total: int
    offset: int
    limit: int
    items: list[CaseSummary]


def next_reference(session: Session, year: int) -> str:
    """RR-<year>-<number>, numbered in order; the UPDATE-first pattern serialises concurrent referrals.
    The caller commits (with whatever else must be written at the same time)."""
    if session.get(ReferenceCounter, year) is None:
        session.add(ReferenceCounter(year=year, last=0))
        session.flush()
    session.exec(update(ReferenceCounter).where(ReferenceCounter.year == year)
                 .values(last=ReferenceCounter.last + 1))
    number = session.exec(select(ReferenceCounter.last).where(ReferenceCounter.year == year)).one()
    return f"RR-{year}-{number:03d}"


async def read_model_has(session: Session, reference: str, seconds: float = 10.0) -> bool:
    """Wait (briefly) until the workflow's first step has written the case to the read model, so the
    referrer's next request finds it; the case is safe in Temporal either way."""
    for _ in range(int(seconds / 0.05)):
        found = session.exec(select(CaseRecord.reference).where(CaseRecord.reference == reference)).first()
        session.commit()
        if found:
            return True
        await asyncio.sleep(0.05)
    return False


def replay(status_code: int, response_json: str) -> JSONResponse:
    return JSONResponse(json.loads(response_json), status_code=status_code, headers={"Idempotent-Replayed": "true"})


async def start_case(request: Request, session: Session, user: User, referral: Referral, held=None) -> str:
    """Give the referral a reference and start its workflow; returns when the case is in the read model.
    With an idempotency claim, a retry reuses the reference and finds the workflow already started."""
    settings = request.app.state.settings
    reference = held.row.case_reference if held and held.row.case_reference else None
    if reference is None:
        reference = next_reference(session, london_date(datetime.now(UTC)).year)
        if held:
            held.row.case_reference = reference
            session.add(held.row)
        session.commit()
    case = CaseInput(**referral.model_dump(), reference=reference, referrer=actor_of(user),
                     partnership_name=settings.rapid_review_partnership_name, rules=process_rules(session))
    sealed(reference, "start", reference, case)
    session.commit()
    client = await request.app.state.temporal.client()
    try:
        await client.start_workflow(
            RapidReviewWorkflow.run, case, id=reference, task_queue=settings.temporal_task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )
    except WorkflowAlreadyStartedError:
        if held is None:
            raise
    await read_model_has(session, reference)  # the workflow's first step writes the audit row and the case
    return reference


@router.post("", status_code=status.HTTP_201_CREATED, responses={
    503: {"description": "The engine could not start the case; send it again with the same Idempotency-Key"}})
async def submit_referral(referral: Referral, request: Request, session: DbSession, user: CaseActor,
                          idempotency_key: IdempotencyKey = None):
    """A referral from any signed-in partner starts a case (its durable workflow)."""
    today = london_date(datetime.now(UTC))
    if referral.awareness_date > today:
        raise HTTPException(422, f"The date of awareness ({referral.awareness_date}) is in the future")
    held = None
    if idempotency_key is not None:
        held = claim(session, user.id, idempotency_key,
                     fingerprint("POST", request.url.path, referral.model_dump(mode="json")))
        if held.finished:
            return replay(held.row.status_code, held.row.response_json)
    reference = await start_case(request, session, user, referral, held)
    client = await request.app.state.temporal.client()
    state = await client.get_workflow_handle(reference).query(RapidReviewWorkflow.state, today.isoformat())
    answer = {"reference": reference, "state": state_for(user.role, state)}
    if held:
        remember(session, held.row, 201, answer)
    return answer


@router.get("", response_model=CasePage)
def list_cases(
    request: Request,
    session: DbSession,
    user: Reader,
    stage: Annotated[str | None, Query(max_length=40)] = None,
    late: bool | None = None,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> CasePage:
    """Cases from the read model (never from Temporal), newest first. Agencies see the cases they are in."""
    query = select(CaseRecord)
    if user.role == Role.agency_member:
        query = query.join(CaseAgency, CaseAgency.case_reference == CaseRecord.reference).where(
            CaseAgency.agency == user.agency)
    if stage:
        query = query.where(CaseRecord.stage == stage)
    if late is not None:
        query = query.where(CaseRecord.late == late)
    if year:
        query = query.where(CaseRecord.year == year)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(query.order_by(CaseRecord.opened_on.desc(), CaseRecord.reference.desc())
                        .offset(offset).limit(limit)).all()
    audit(session, request, user, "list_cases", None,
          {"filters": {"stage": stage, "late": late, "year": year}, "offset": offset, "shown": len(rows)})
    return CasePage(total=total, offset=offset, limit=limit, items=[CaseSummary.of(r) for r in rows])


async def query_state(request: Request, session: Session, record: CaseRecord) -> dict:
    """The workflow's live state (and the practice review's, once there is one). A closed case that the engine
    no longer holds comes from the history archive; an open one it does not have is orphaned (410)."""
    reference = record.reference
    today = london_date(datetime.now(UTC)).isoformat()
    client = await request.app.state.temporal.client()
    answer_within = request.app.state.settings.action_answer_timeout_seconds
    try:
        # A query needs a worker: with none polling, the person is told so instead of waiting on a 500.
        async with asyncio.timeout(answer_within):
            state = await client.get_workflow_handle(reference).query(RapidReviewWorkflow.state, today)
    except TimeoutError:
        raise HTTPException(503, f"The case's workflow did not answer within {answer_within:g} s (is a worker "
                                 "running?); its record is safe. Try again shortly.",
                            headers={"Retry-After": "10"}) from None
    except RPCError as error:
        if error.status != RPCStatusCode.NOT_FOUND:
            raise HTTPException(503, f"The workflow engine could not answer for {reference} "
                                     f"({error.status.name if error.status else 'error'}); try again shortly.",
                                headers={"Retry-After": "10"}) from None
        return await _state_without_workflow(request, session, record)
    if record.orphaned:
        await asyncio.to_thread(mark_workflow_missing, request.app.state.engine, reference, False)
    if state.get("practice_review_stage"):
        try:
            state["practice_review"] = await client.get_workflow_handle(practice_review_id(reference)).query(
                PracticeReviewWorkflow.state, today)
        except RPCError:
            state["practice_review"] = state_from_archive(session, practice_review_id(reference))
    state["effect_failing"] = record.effect_failing  # a step of the case keeps failing (no case text)
    return state


async def _state_without_workflow(request: Request, session: Session, record: CaseRecord) -> dict:
    if record.stage == Stage.closed:
        archived = state_from_archive(session, record.reference)
        if archived is None:
            raise HTTPException(410, f"Case {record.reference} is closed and the engine no longer holds its workflow "
                                     "(retention); no archived copy of its history exists. Its timeline and "
                                     "documents are kept.")
        archived.update(stage=str(Stage.closed), closed_reason=record.closed_reason)
        if archived.get("practice_review_stage"):
            archived["practice_review"] = state_from_archive(session, practice_review_id(record.reference))
        return archived
    settings = request.app.state.settings
    await asyncio.to_thread(mark_workflow_missing, request.app.state.engine, record.reference, True)
    raise HTTPException(410, orphan_detail(record.reference, settings.temporal_address, settings.temporal_namespace))


@router.get("/{reference}", responses={410: {"description": "The engine has no workflow for this open case "
                                                             "(orphaned), or a closed case has no archive"}})
async def case_state(reference: str, request: Request, session: DbSession, user: Reader) -> dict:
    """The workflow's live state: stage, deadlines with working days left and their rules, flags."""
    record = visible_case(session, user, reference)
    audit(session, request, user, "read_case", reference, {})
    return state_for(user.role, await query_state(request, session, record))


async def perform_action(request: Request, session: Session, user: User, reference: str, action: str, body,
                         idempotency_key: str | None):
    """Validate and send one action as its workflow update; the answer is the workflow's new state."""
    spec = ACTIONS.get(action)
    if spec is None:
        raise HTTPException(404, f"Unknown action {action!r}; actions are: {', '.join(sorted(ACTIONS))}")
    if user.role not in spec.roles:
        raise HTTPException(403, f"A {user.role} may not take '{action}'; it is for: {', '.join(sorted(spec.roles))}")
    record = visible_case(session, user, reference)
    if not isinstance(body, dict) or "actor" in body or "seal" in body:
        raise HTTPException(422, "The body must be a JSON object, without 'actor' (that is you, from your sign-in) "
                                 "or 'seal' (the service adds it)")
    try:
        payload = spec.model.model_validate({**body, "actor": actor_of(user).model_dump()})
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors())
        raise HTTPException(422, f"The action is not valid: {problems}") from None
    held = None
    if idempotency_key is not None:
        held = claim(session, user.id, idempotency_key,
                     fingerprint("POST", f"/api/cases/{reference}/actions/{action}", body))
        if held.finished:
            return replay(held.row.status_code, held.row.response_json)
    if record.stage == "closed":
        audit(session, request, user, f"rejected:{action}", reference, {"reason": "case closed"})
        raise HTTPException(409, f"Case {reference} is closed; no further actions can be taken")
    session.commit()  # never hold a database transaction while the workflow's activities need the database
    client = await request.app.state.temporal.client()
    # Bounded: with no worker running, a person is told to retry (same Idempotency-Key) instead of waiting.
    answer_within = request.app.state.settings.action_answer_timeout_seconds
    handle = client.get_workflow_handle(f"{reference}{spec.suffix}")
    update_id = held.update_id if held else f"{reference}:{action}:{uuid.uuid4().hex}"
    sealed(handle.id, action, update_id, payload)
    try:
        # asyncio's own deadline: a server may hold an update's first call past its gRPC deadline.
        async with asyncio.timeout(answer_within) as deadline:
            state = await handle.execute_update(action, payload, id=update_id)
    except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
        if not deadline.expired():
            raise
        raise HTTPException(503, f"The case's workflow did not answer within {answer_within:g} s; "
                                 "the action may still take effect. Send it again with the same Idempotency-Key "
                                 "to get its result without taking it twice.",
                            headers={"Retry-After": "10"}) from None
    except WorkflowUpdateFailedError as error:
        reason = str(error.cause.message if hasattr(error.cause, "message") else error.cause)
        audit(session, request, user, f"rejected:{action}", reference, {"reason": reason})
        raise HTTPException(409, reason) from None
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            if spec.suffix or record.stage == Stage.closed:
                where = "practice review" if spec.suffix else "case"
                raise HTTPException(
                    409, f"The {where} of {reference} is not running, so '{action}' cannot be taken") from None
            await _state_without_workflow(request, session, record)  # raises 410: the case is orphaned
        raise
    state = state_for(user.role, state)
    if held:
        remember(session, held.row, 200, state)
    return state


@router.post("/{reference}/actions/{action}", deprecated=True)
async def take_action(reference: str, action: str, request: Request, session: DbSession, user: CaseActor,
                      idempotency_key: IdempotencyKey = None):
    """Take an action named in the path: the per-action routes (one for each action, with its body's schema)
    take precedence; this one answers for names that are not actions with the list of those that are."""
    try:
        body = await request.json()
    except ValueError:
        raise HTTPException(422, "The body must be a JSON object") from None
    return await perform_action(request, session, user, reference, action, body, idempotency_key)
