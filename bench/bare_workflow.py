"""The bare workflow of the API benchmark's update baseline, alone in its module so the workflow sandbox imports
nothing else (bench/bare.py runs it)."""

from __future__ import annotations

from temporalio import workflow

BARE_TASK_QUEUE = "bench-bare"


@workflow.defn(name="BenchBare")
class BareWorkflow:
    """Waits for ever; its update changes a counter and answers: the least an update round trip can do."""

    def __init__(self) -> None:
        self.count = 0

    @workflow.run
    async def run(self) -> int:
        await workflow.wait_condition(lambda: False)
        return self.count

    @workflow.update
    def touch(self) -> int:
        self.count += 1
        return self.count


def bare_workflow_id(client_number: int) -> str:
    return f"bench-bare-{client_number}"
