"""RapidReviewWorkflow: one durable workflow per case (placeholder until the workflow issue lands)."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.models import CaseInput
    from workflows.vocabulary import Stage


@workflow.defn
class RapidReviewWorkflow:
    def __init__(self) -> None:
        self._stage = Stage.referral

    @workflow.run
    async def run(self, case: CaseInput) -> str:
        await workflow.wait_condition(lambda: self._stage == Stage.closed)
        return self._stage

    @workflow.query
    def stage(self) -> str:
        return self._stage
