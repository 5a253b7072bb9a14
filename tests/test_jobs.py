"""Scheduled jobs: two service processes (scheduler instances) on one database, each job's effect once; a job
missed while the service was down runs at start-up; a crashed run is taken over."""

import asyncio
import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlmodel import Session, select

from engine.calendar import WorkingDayCalendar
from engine.models import TaskSpec
from records.codec import EncryptionCodec
from records.db import session_scope
from records.models import HistoryArchive, JobRun, OutboxMessage
from records.tasks import open_task
from service.platform.jobs import archive_histories, claim_run
from service.platform.scheduler import DAILY_JOBS, Jobs, build_scheduler
from service.platform.temporal import TemporalConnection
from tests.insider import as_table_owner

MORNING = datetime(2026, 11, 24, 8, 30, tzinfo=UTC)  # a Tuesday, 08:30 in London
TODAY = date(2026, 11, 24)


def instances(engine, settings, client=None) -> list[Jobs]:
    temporal = TemporalConnection("unused:7233", "default", settings.encryption_key_bytes, client=client)
    return [Jobs(engine, settings, temporal, holder=f"process-{n}") for n in (1, 2)]


def in_two_processes(jobs: list[Jobs], name: str) -> list:
    """Both instances run the job at the same moment, each in its own thread and event loop."""
    results, start = [None, None], threading.Barrier(2)

    def run(i):
        start.wait()
        results[i] = asyncio.run(jobs[i].run(name, MORNING))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def outbox(engine, prefix: str) -> list[OutboxMessage]:
    with Session(engine) as session:
        return list(session.exec(select(OutboxMessage).where(OutboxMessage.key.startswith(prefix))))


def test_daily_digest_once_per_person_across_two_processes(engine, settings, demo_passwords):
    cal = WorkingDayCalendar()
    with session_scope(engine) as session:
        for n, (role, seat, due) in enumerate([("executive", "la", cal.add_working_days(TODAY, -2)),
                                               ("executive", "la", cal.add_working_days(TODAY, 1)),
                                               ("panel_chair", None, cal.add_working_days(TODAY, 1)),
                                               ("csc_lead", None, cal.add_working_days(TODAY, 9))]):
            open_task(session, TaskSpec(key=f"RR-9:{n}", kind="action", title=f"Task {n}", description="d",
                                        assignee_role=role, assignee_seat=seat, due=due), "RR-9")
    results = in_two_processes(instances(engine, settings), "daily_digest")
    assert sorted(r is None for r in results) == [False, True], "one process ran it, the other skipped"
    digests = outbox(engine, "digest:")
    assert sorted(m.to_address for m in digests) == ["exec.la@example.org", "panel.chair@example.org"]
    la = next(m for m in digests if "1 overdue, 1 due soon" in m.subject)
    assert "RR-9: Task 0" in la.body and "OVERDUE" in la.body and "RR-9: Task 1" in la.body
    assert all("Task 3" not in m.body for m in digests), "not due soon: not in the digest"
    with Session(engine) as session:
        run = session.get(JobRun, ("daily_digest", TODAY.isoformat()))
        assert run.finished_at is not None and '"digests": 2' in run.result


def test_broken_chain_alerts_admins_and_auditors_once(engine, settings, demo_passwords, api_client, sign_in):
    for username in ("panel.chair", "csc.lead", "exec.la"):
        sign_in(username)  # sign-ins write audit rows
    with Session(engine) as session:
        as_table_owner(session)  # on PostgreSQL only the table's owner can, by switching the trigger off
        session.exec(text("UPDATE audit_event SET action = 'nothing' WHERE id = 2"))
        session.commit()
    results = in_two_processes(instances(engine, settings), "check_audit_chain")
    ran = [r for r in results if r is not None]
    assert len(ran) == 1 and ran[0]["intact"] is False and ran[0]["full"] is True
    alerts = outbox(engine, "chain-alert:")
    assert len(alerts) == 2 and all("row 2 was changed" in m.body for m in alerts)  # the admin and the auditor
    anchor = settings.audit_anchor_dir / ran[0]["anchor"]  # anchored broken or not: a later cut is still seen
    assert anchor.stat().st_mode & 0o777 == 0o600


def test_nightly_anchor_then_a_cut_chain_is_broken(engine, settings, demo_passwords, api_client, sign_in):
    for username in ("panel.chair", "csc.lead", "exec.la"):
        sign_in(username)
    first = instances(engine, settings)[0]
    assert asyncio.run(first.run("check_audit_chain", MORNING))["intact"] is True
    with Session(engine) as session:
        anchored = session.exec(text("SELECT last_id FROM audit_head")).one()[0]
        as_table_owner(session)  # the insider cuts the last row and moves the head back to the row before
        session.exec(text("DELETE FROM audit_event WHERE id = :id"), params={"id": anchored})
        session.exec(text("UPDATE audit_head SET last_id = e.id, last_hash = e.hash FROM audit_event e "
                          "WHERE e.id = :id"), params={"id": anchored - 1})
        session.commit()
    next_night = asyncio.run(first.run("check_audit_chain", MORNING + timedelta(days=1)))
    assert next_night["intact"] is False
    assert any(problem.startswith(f"the chain ends at row {anchored - 1} but the anchor of ")
               and problem.endswith(f" recorded row {anchored} (rows were cut off)")
               for problem in next_night["problems"]), next_night["problems"]


def test_missed_jobs_run_at_start_up_once_and_a_crashed_run_is_taken_over(engine, settings, demo_passwords):
    first, second = instances(engine, settings)
    early = datetime(2026, 11, 24, 0, 30, tzinfo=UTC)  # before any job's time: nothing to make up
    assert asyncio.run(first.catch_up(early)) == {}
    made_up = asyncio.run(first.catch_up(MORNING))
    assert set(made_up) == {"check_audit_chain", "daily_digest", "archive_histories"}
    assert made_up["check_audit_chain"]["intact"] is True and made_up["archive_histories"]["cases"] == 0
    assert (settings.audit_anchor_dir / f"audit-anchor-{TODAY.isoformat()}.json").exists()
    assert asyncio.run(second.catch_up(MORNING)) == {job.name: None for job in DAILY_JOBS}, "already run today"

    assert claim_run(engine, "daily_digest", "2026-11-25", holder="crashed") is True
    assert claim_run(engine, "daily_digest", "2026-11-25", holder="other") is False, "still running"
    with Session(engine) as session:
        session.exec(text("UPDATE job_run SET started_at = :t WHERE period = '2026-11-25'"),
                     params={"t": datetime.now(UTC) - timedelta(hours=2)})
        session.commit()
    assert claim_run(engine, "daily_digest", "2026-11-25", holder="other") is True, "a stale claim is taken over"


def test_scheduler_times(engine, settings):
    scheduler = build_scheduler(engine, settings)
    times = {job.id: str(job.trigger) for job in scheduler.get_jobs()}
    assert "hour='7', minute='0'" in times["daily_digest"] and "hour='1', minute='0'" in times["archive_histories"]
    assert "hour='2', minute='0'" in times["check_audit_chain"] and "catch_up" in times
    assert times["anchor_audit_head"] == "interval[1:00:00]"
    assert times["watch_engine"] == "interval[0:00:05]", "the engine is watched every few seconds"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_history_archiving_keeps_the_closed_case_whole(driver, engine, settings):
    await driver.start()
    await driver.act("close_case", "bu", reason="Duplicate of an open case.")
    await driver.handle.result()
    with session_scope(engine) as session:
        session.exec(text("DELETE FROM history_archive"))
    first, second = instances(engine, settings, driver.env.client)
    results = await asyncio.gather(first.run("archive_histories"), second.run("archive_histories"))
    assert sorted(r is None for r in results) == [False, True]
    full = len((await driver.handle.fetch_history()).events)
    with Session(engine) as session:
        archived = session.get(HistoryArchive, driver.reference)
    assert archived.event_count == full and archived.complete, "the archive has the workflow's completion too"
    next_night = await archive_histories(engine, first.temporal.client, EncryptionCodec(settings.encryption_key_bytes))
    assert next_night == {"cases": 0, "archived": 0}, "a complete archive is not fetched again"
