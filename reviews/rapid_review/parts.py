"""What every part of the rapid review's process holds (the helpers ``RapidReviewWorkflow`` builds in its
``@workflow.init``: the intake, the notification decision, the panel, the National Panel's reply, learning, the
local CSPR, closing, reopening, who is owed): engine/parts.py's ``ProcessPart``, typed for the rapid review, with
the referral as it came and the audit row of a step no person's action started."""

from __future__ import annotations

from typing import TYPE_CHECKING

from temporalio import workflow

from engine.parts import ProcessPart

with workflow.unsafe.imports_passed_through():
    from engine.models import Actor, AuditEntry

if TYPE_CHECKING:
    from reviews.rapid_review.models import CaseInput
    from reviews.rapid_review.workflow import RapidReviewWorkflow


class CasePart(ProcessPart):
    process: RapidReviewWorkflow

    @property
    def case(self) -> CaseInput:
        return self.process.case

    @property
    def partnership_name(self) -> str:
        return self.process.partnership_name

    @staticmethod
    def audit(actor: Actor | None, action: str, detail: dict) -> AuditEntry:
        """An audit row of a step no person's action started (the actor, if any, is who set it going)."""
        return AuditEntry(actor_id=actor.user_id if actor else None, actor_role=actor.role if actor else "system",
                          action=action, detail=detail)
