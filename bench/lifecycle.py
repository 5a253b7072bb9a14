"""Case lifecycle: full local CSPR cases (referral to the one-year-on workshop) driven through the workflows on
the time-skipping server by a worker, against a baseline workflow with the same number of activities, updates
and timers and no business logic."""

from __future__ import annotations

import shutil
import time
import uuid
from collections import Counter

from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from bench.baseline import BaselinePlan, BaselineWorkflow, do_nothing
from bench.common import bench_settings, engine_of, table, workdir
from service.platform.runner import temporal_test_server
from service.platform.temporal import data_converter
from service.platform.worker import build_worker
from tests.cases import CaseDriver

COUNTED = {
    "EVENT_TYPE_ACTIVITY_TASK_SCHEDULED": "activities",
    "EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED": "updates",
    "EVENT_TYPE_TIMER_STARTED": "timers",
}
LOCAL_ACTIVITY_MARKER = "core_local_activity"  # a local activity's one event (none yet in a case)


async def history_counts(client, workflow_ids) -> tuple[int, Counter]:
    events, counts = 0, Counter()
    for workflow_id in workflow_ids:
        history = await client.get_workflow_handle(workflow_id).fetch_history()
        events += len(history.events)
        for event in history.events:
            name = COUNTED.get(EventType.Name(event.event_type))
            if name:
                counts[name] += 1
            elif event.marker_recorded_event_attributes.marker_name == LOCAL_ACTIVITY_MARKER:
                counts["local activities"] += 1
    return events, counts


async def run(cases: int = 3) -> str:
    directory = workdir()
    settings = bench_settings(directory)
    engine = engine_of(settings)
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=temporal_test_server(),
        data_converter=data_converter(settings.encryption_key_bytes))
    try:
        queue = f"bench-{uuid.uuid4().hex[:6]}"
        worker_settings = settings.model_copy(update={"temporal_task_queue": queue})
        async with build_worker(env.client, worker_settings, engine), \
                Worker(env.client, task_queue=f"{queue}-baseline", workflows=[BaselineWorkflow],
                       activities=[do_nothing]):
            started = time.perf_counter()
            drivers = []
            for _ in range(cases):
                driver = CaseDriver(env, queue, engine)
                await driver.run_local_cspr_to_the_end()
                drivers.append(driver)
            case_seconds = time.perf_counter() - started
            first = drivers[0].reference
            events, counts = await history_counts(env.client, [first, f"{first}-cspr"])
            plan = BaselinePlan(updates=counts["updates"], activities=counts["activities"], timers=counts["timers"],
                                local_activities=counts["local activities"])
            started = time.perf_counter()
            baseline_ids = []
            for _ in range(cases):
                handle = await env.client.start_workflow(BaselineWorkflow.run, plan, id=f"baseline-{uuid.uuid4()}",
                                                         task_queue=f"{queue}-baseline")
                for n in range(plan.updates):
                    await handle.execute_update(BaselineWorkflow.step, {"n": n})
                await handle.result()
                baseline_ids.append(handle.id)
            baseline_seconds = time.perf_counter() - started
            baseline_events, _ = await history_counts(env.client, baseline_ids[:1])
    finally:
        await env.shutdown()
        shutil.rmtree(directory, ignore_errors=True)
    case_rate, baseline_rate = cases / case_seconds, cases / baseline_seconds
    return table(
        f"Case lifecycle ({cases} full local CSPR cases, time-skipping server, one worker)",
        ["workflow", "cases/s", "ratio to baseline", "history events per case", "activities", "local activities",
         "updates", "timers"],
        [["RapidReview + PracticeReview", case_rate, case_rate / baseline_rate, events, counts["activities"],
          counts["local activities"], counts["updates"], counts["timers"]],
         ["baseline (no business logic)", baseline_rate, 1.0, baseline_events, plan.activities,
          plan.local_activities, plan.updates, plan.timers]],
    )
