"""An update that arrives with the start, in the case's first workflow task, meets an initialised case
(``@workflow.init``) and is applied once the case has opened, in order."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from engine.authenticity import sealed
from engine.calendar import london_date
from reviews.rapid_review.models import CaseInput
from reviews.rapid_review.process_rules import ProcessRules
from reviews.rapid_review.workflow import RapidReviewWorkflow
from service.platform.worker import build_worker
from tests.cases import ACTORS, CaseDriver, activity_runs, sealed_action


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_an_update_in_the_first_workflow_task_is_handled(case_env, settings, engine):
    queue = f"test-{uuid.uuid4().hex[:8]}"
    driver = CaseDriver(case_env, queue, engine)
    today = london_date(await case_env.get_current_time())
    case = CaseInput(reference=driver.reference, pseudonym="Julie", age_band="under 1", summary="Head injury.",
                     incident_date=today, awareness_date=today, referring_agency="police", referrer=ACTORS["bu"],
                     partnership_name="Test LSCP", rules=ProcessRules())
    # No worker polls yet: the start and the update wait together, so the worker's first task carries both.
    handle = await case_env.client.start_workflow(
        RapidReviewWorkflow.run, sealed(driver.reference, "start", driver.reference, case), id=driver.reference,
        task_queue=queue)
    payload, update_id = sealed_action(driver.reference, "accept_referral", ACTORS["bu"], {})
    accepting = asyncio.create_task(handle.execute_update(RapidReviewWorkflow.accept_referral, payload, id=update_id))
    await asyncio.sleep(1)
    assert not accepting.done()
    async with build_worker(case_env.client, settings.model_copy(update={"temporal_task_queue": queue}), engine):
        state = await asyncio.wait_for(accepting, 60)
        history = await handle.fetch_history()
    assert state["stage"] == "csc_consultation"
    assert [c["action"] for c in state["stage_history"]] == ["submit_referral", "accept_referral"], \
        "the case opened first, then the referral was accepted"
    assert state["three_way_sin"] and [d["key"] for d in state["deadlines"]] == ["notification"]
    first_task = [e for e in history.events if e.HasField("workflow_execution_update_accepted_event_attributes")]
    assert first_task and first_task[0].event_id < activity_runs(history)[0].event_id, \
        "the update was accepted in the first workflow task, before the case's first activity"
    assert [t.action for t in driver.tasks(status="open")] == ["propose_sin_decision"]
