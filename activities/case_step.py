"""The activity that applies one workflow step: read model, audit row, tasks and their e-mails, in one
transaction."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from temporalio import activity

from activities.audit import append_audit
from activities.notifications import enqueue_task_emails
from activities.read_model import upsert_case
from activities.tasks import open_task, settle_tasks
from service.db import session_scope
from service.models import AppliedStep
from workflows.models import CaseStep


class CaseStepActivities:
    def __init__(self, engine: Engine, public_url: str) -> None:
        self.engine = engine
        self.public_url = public_url

    @activity.defn(name="apply_case_step")
    def apply_case_step(self, step: CaseStep) -> bool:
        """Apply the step once: returns False when a retry finds it already applied."""
        try:
            with session_scope(self.engine) as session:
                if session.get(AppliedStep, step.key) is not None:
                    return False
                actor = step.audit.actor_id if step.audit else None
                if step.audit is not None:
                    append_audit(
                        session, actor_id=step.audit.actor_id, actor_role=step.audit.actor_role,
                        action=step.audit.action, detail=step.audit.detail, case_reference=step.case_reference,
                        event_key=step.key, at=step.at,
                    )
                if step.snapshot is not None:
                    referrer = {"referred_by": actor} if step.key.endswith(":submit_referral") else None
                    upsert_case(session, step.snapshot, step.at, referrer)
                for settlement in step.settle:
                    settle_tasks(session, settlement, actor, step.at)
                for spec in step.tasks:
                    task = open_task(session, spec, step.case_reference)
                    enqueue_task_emails(session, task, self.public_url)
                session.add(AppliedStep(key=step.key, applied_at=step.at))
        except IntegrityError:
            # Two attempts raced (a retry while the first was still finishing): the other one won.
            return False
        return True
