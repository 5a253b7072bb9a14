"""The baseline of the lifecycle benchmark: a workflow with the same number of activities (local ones as local
activities), updates and timers as a real case, and no business logic (what Temporal itself costs)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel
from temporalio import activity, workflow


class BaselinePlan(BaseModel):
    updates: int
    activities: int
    timers: int
    local_activities: int = 0


@activity.defn(name="baseline_nothing")
async def do_nothing(payload: dict) -> dict:
    return payload


@workflow.defn(name="BaselineWorkflow")
class BaselineWorkflow:
    def __init__(self) -> None:
        self.received = 0
        self.per_update = 0
        self.local_per_update = 0

    @workflow.run
    async def run(self, plan: BaselinePlan) -> int:
        self.per_update = max(1, plan.activities // max(plan.updates, 1))
        self.local_per_update = plan.local_activities // max(plan.updates, 1)
        for _ in range(plan.timers):  # timers that fire (the real case's reminders, escalations and waits)
            await workflow.sleep(timedelta(hours=1))
        await workflow.wait_condition(lambda: self.received >= plan.updates)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.received

    @workflow.update
    async def step(self, payload: dict) -> dict:
        for _ in range(self.local_per_update):
            await workflow.execute_local_activity(do_nothing, payload, start_to_close_timeout=timedelta(seconds=30))
        for _ in range(self.per_update):
            await workflow.execute_activity(do_nothing, payload, start_to_close_timeout=timedelta(seconds=30))
        self.received += 1
        return {"received": self.received}
