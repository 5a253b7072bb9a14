"""The step builder a case workflow holds: one transition's side effects, gathered and committed once.

Every transition is a step numbered in the workflow's state: its key (``<workflow id>:<n>:<name>``, or with the
action's update id in place of ``<n>``: Steps._key) makes the ``apply_case_step`` activity idempotent, so a
retried step creates no second task, row or e-mail. A step carries its tasks, settlements, audit row and the read
model's rows; its documents go to ``issue_document`` after it.
Since patch "answer-first" a person's action is answered once its step is applied: rendering a document
(a PDF takes seconds) is not their wait, so the documents are issued after the answer, one at a time in the order
their steps committed, and the state lists them as being prepared until they are in the register.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Sequence
from datetime import date, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, is_cancelled_exception

from engine.effects import CaseSteps, Documents

with workflow.unsafe.imports_passed_through():
    from engine import authenticity  # passed through: it holds the sealing keys the worker set
    from engine.documents import DocumentContext, Letterhead, wire_context
    from engine.models import (
        Actor,
        CaseStep,
        DocumentRequest,
        PendingDocument,
        ProcessState,
        StageChange,
        StepFacts,
        TaskSettlement,
        TaskSpec,
    )
    from engine.vocabulary import Role, TaskKind, TaskStatus

ACTIVITY_TIMEOUT = timedelta(seconds=60)
# A document's render heartbeats while it waits (activities/rendering.py): the attempt of a worker that died is
# retried after this, not after ACTIVITY_TIMEOUT. (Activity options are not part of what a replay compares.)
DOCUMENT_HEARTBEAT_TIMEOUT = timedelta(seconds=10)
# Retried until the step succeeds: a step's effects are never dropped, and never doubled (the activity is
# idempotent by step key). No maximum of attempts: what fails a step (the database down, a full disk, a template
# bug) is mended by an operator or a new build, and the step must then go through without anyone re-entering the
# action; the guard in service/platform/worker.py alerts people after a few attempts. Failures no retry can mend are not
# retried: a refusal, a value the database can never take, a step of a run that does not own the case.
EFFECT_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1),
                           non_retryable_error_types=["ActionRejected", "DataError", "ForeignRun", "NotSealed"])

# A local step's tries before it becomes a visible activity (Steps.run_effect).
LOCAL_FIRST_TRIES = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=2,
                                non_retryable_error_types=EFFECT_RETRY.non_retryable_error_types)


class ActionRejected(ApplicationError):
    """An action that may not be taken now, by this person, with these values; the message says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message, type="ActionRejected", non_retryable=True)


def reject(message: str) -> ActionRejected:
    return ActionRejected(message)


def require_sealed(name: str, fields: dict) -> None:
    """An update's validator: refuse what the service did not send (no valid seal over this update's fields)."""
    update = workflow.current_update_info()
    if update is None or not authenticity.is_sealed(workflow.info().workflow_id, name, update.id, fields):
        raise reject(f"'{name}' was not sent by the Rapid Review service (no valid seal); it is refused.")


class Steps:
    """Numbers, builds and commits one workflow's steps, under the lock every step of the workflow takes.

    ``record`` puts the read model's row on a step just before it is sent (the case's snapshot or the review's);
    ``after_commit`` runs once a step has gone through (the review tells its case).
    """

    def __init__(self, state: ProcessState, *, case_reference: str, partnership_name: str,
                 record: Callable[[CaseStep], None],
                 after_commit: Callable[[], Awaitable[None]] | None = None) -> None:
        self.state = state
        self.case_reference = case_reference
        self.partnership_name = partnership_name
        self.workflow_id = workflow.info().workflow_id
        self._record = record
        self._after_commit = after_commit
        self.lock = asyncio.Lock()
        self.opened = False  # the run holds the lock for its first step; an update that came earlier waits for it
        # Set by the run from patch "answer-first": cases opened before it issue a step's documents inside the step
        # (before the action is answered), as they ran.
        self.documents_after_reply = False
        # Set by the run from patch "local-step" (engine/patches.py): its steps are local activities, answered in
        # the workflow task that took the action; workflows opened before send each as an activity, as they ran.
        self.local: bool | None = None  # None: undecided, until the run's first line
        # Set by the run from patch "settled-2026-12" (engine/patches.py): every earlier patch true without
        # asking, and the run ends after its documents (Steps.finished).
        self.settled = False
        self._taken_by_update: dict[str, int] = {}  # steps each action has taken so far (Steps._key)
        self._to_issue: list[DocumentRequest] = []  # in step order; the first is being issued
        self._issuing: asyncio.Task | None = None

    async def until_opened(self) -> None:
        """An update that arrived with the start (the first workflow task) waits until the run has taken the lock
        to open the case, then for the lock: it meets the case opened, its calendar and first deadlines in place.
        (A satisfied wait is skipped, so every later update replays exactly as it ran.)"""
        if not self.opened:
            await workflow.wait_condition(lambda: self.opened)

    def new_step(self, name: str) -> CaseStep:
        self.state.step += 1
        return CaseStep(key=self._key(name), case_reference=self.case_reference, at=workflow.now(),
                        facts=StepFacts())

    def _key(self, name: str) -> str:
        """``<workflow id>:<n>:<name>``; in a workflow with local steps, a step an action takes is keyed by the
        action's update id instead. A local step commits before the engine records the workflow task that took
        the action: if that task is lost (the worker dies) and is taken again after a timer or another action, or
        the person sends the action again with the same key, the step's number may differ but its key does not,
        so it is applied once."""
        update = workflow.current_update_info() if self.local else None
        if update is None:
            return f"{self.workflow_id}:{self.state.step}:{name}"
        taken = self._taken_by_update[update.id] = self._taken_by_update.get(update.id, 0) + 1
        digest = hashlib.sha256(update.id.encode()).hexdigest()[:20]
        return f"{self.workflow_id}:u{digest}.{taken}:{name}"

    async def commit(self, step: CaseStep, documents: Sequence[DocumentRequest] = ()) -> None:
        """The step's rows in one transaction, then its documents, in order: queued to be issued after the answer
        (patch "answer-first"), or, in cases opened before it, issued here."""
        self._record(step)
        if step.stored_state is not None:  # in preparation once queued below, until in the register
            queued = [*self._to_issue, *documents] if self.documents_after_reply else []
            step.stored_state.pending_documents = [PendingDocument(kind=d.kind, key=d.key) for d in queued]
        await self.apply(step)
        if self.documents_after_reply:
            self._queue(documents)
        else:
            for document in documents:
                await self._issue(document)
        if self._after_commit is not None:
            await self._after_commit()

    def _queue(self, documents: Sequence[DocumentRequest]) -> None:
        for document in documents:
            self._to_issue.append(document)
            self.state.documents_in_preparation.append(document.kind)
        if self._to_issue and (self._issuing is None or self._issuing.done()):
            self._issuing = asyncio.create_task(self._issue_queued())

    async def _issue_queued(self) -> None:
        """Issue the queued documents one at a time, oldest first, outside the step lock (the next action does not
        wait for a render)."""
        while self._to_issue:
            document = self._to_issue[0]
            try:
                await self._issue(document)
            except ActivityError:
                # Only a failure no retry can mend ends here (the policy retries everything else until it goes
                # through); the workers' log names the document's key, never its content.
                workflow.logger.error("document %s could not be issued; it is left out", document.key)
            self._to_issue.pop(0)
            self.state.documents_in_preparation.remove(document.kind)

    async def documents_issued(self) -> None:
        """Wait until every queued document is in the register (a workflow ends only after its documents)."""
        if self._to_issue:  # a satisfied wait is skipped: cases without queued documents replay as they ran
            await workflow.wait_condition(lambda: not self._to_issue)

    async def finished(self) -> None:
        """The run's last wait before it returns: every handler has answered and every queued document is in the
        register. The closing action queues its documents only once its step is applied, after the run has seen
        the case closed, so the two are waited for together. Cases opened before patch "settled-2026-12"
        wait for the documents queued by then, then for the handlers, as they ran."""
        if self.settled:
            await workflow.wait_condition(lambda: workflow.all_handlers_finished() and not self._to_issue)
            return
        await self.documents_issued()
        await workflow.wait_condition(workflow.all_handlers_finished)

    async def _issue(self, document: DocumentRequest) -> None:
        await workflow.execute_activity_method(
            Documents.issue_document, document, start_to_close_timeout=ACTIVITY_TIMEOUT,
            heartbeat_timeout=DOCUMENT_HEARTBEAT_TIMEOUT, retry_policy=EFFECT_RETRY)

    async def apply(self, step: CaseStep) -> None:
        """Send the step as it stands (no read-model row added)."""
        await self.run_effect(CaseSteps.apply_case_step, step)

    async def run_effect(self, method: Callable, argument: object) -> object:
        """One of the engine's database effects (a step, a calendar): in a workflow opened with local steps, first
        a local activity (answered in this workflow task); if that fails twice for a reason a retry may mend (the
        database down), an activity retried until it goes through (EFFECT_RETRY), which the engine shows as pending
        with its attempts and last failure while people mend the cause. Workflows opened before: the activity."""
        if self.local:
            try:
                return await workflow.execute_local_activity_method(
                    method, argument, start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=LOCAL_FIRST_TRIES)
            except (ActivityError, ApplicationError) as error:
                if is_cancelled_exception(error):
                    raise  # the workflow was cancelled (a case closing stops its review): so is its step
                # A local activity's own failure comes as the ApplicationError it raised (an activity's comes as
                # the ActivityError it caused); a timeout comes as an ActivityError.
                cause = error.cause if isinstance(error, ActivityError) else error
                if isinstance(cause, ApplicationError) and (
                        cause.non_retryable or cause.type in EFFECT_RETRY.non_retryable_error_types):
                    raise
                # Logged by key (the workflow and step number, no case content): the activity's own attempts
                # are counted afresh, so its alert comes a few tries later than a step that began as one.
                workflow.logger.warning("step %s failed twice as a local activity: retried as an activity",
                                        getattr(argument, "key", method.__name__))
        return await workflow.execute_activity_method(
            method, argument, start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=EFFECT_RETRY)

    def move_to(self, step: CaseStep, stage: str, actor: Actor | None, action: str) -> None:
        """The workflow enters ``stage`` in this step: its history and the step say so."""
        self.state.stage = stage
        self.state.stage_history.append(self.stage_change(stage, actor, action))
        step.facts.entered_stage = stage

    @staticmethod
    def stage_change(stage: str, actor: Actor | None, action: str) -> StageChange:
        return StageChange(stage=stage, at=workflow.now(), by=actor.name if actor else "the case clock",
                           role=actor.role if actor else "system", action=action)

    def document(self, kind: str, issued_by: str, context: DocumentContext, version: int = 1) -> DocumentRequest:
        """A document of ``kind`` (an agency's: ``<kind>_<agency>``) from its context model, on the letterhead."""
        letterhead = Letterhead(partnership=self.partnership_name, reference=self.state.reference)
        return DocumentRequest(key=f"{self.workflow_id}:{kind}:v{version}", kind=kind,
                               case_reference=self.case_reference, version=version, issued_by=issued_by,
                               context=wire_context(letterhead, context))

    def task(self, key: str, kind: TaskKind, title: str, description: str, role: Role, *, due: date | None = None,
             agency: str | None = None, seat: str | None = None, action: str | None = None) -> TaskSpec:
        return TaskSpec(key=f"{self.workflow_id}:{key}", kind=kind, title=title, description=description,
                        assignee_role=role, assignee_agency=agency, assignee_seat=seat, due=due, action=action)

    def done(self, key_prefix: str, outcome: str | None = None, *, superseded: bool = False) -> TaskSettlement:
        """Close this workflow's open tasks whose key starts ``key_prefix`` (with ``superseded``: add the outcome to
        the ones already done)."""
        return TaskSettlement(key_prefix=f"{self.workflow_id}:{key_prefix}", status=TaskStatus.done, outcome=outcome,
                              superseded=superseded)

    def cancel(self, key_prefix: str, outcome: str) -> TaskSettlement:
        """Cancel this workflow's open tasks whose key starts ``key_prefix``, saying why."""
        return TaskSettlement(key_prefix=f"{self.workflow_id}:{key_prefix}", status=TaskStatus.cancelled,
                              outcome=outcome)
