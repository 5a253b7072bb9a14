"""`rapid-review replay-check`, run as an operator runs it before a new build takes traffic: over the stored
histories, and over a database whose archive holds the histories of cases that are still running."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlmodel import Session

from records.codec import EncryptionCodec
from records.models import HistoryArchive
from service.platform.jobs import archive_histories
from tests.conftest import TEST_KEY

HISTORIES = Path(__file__).parent / "histories"


def replay_check(tmp_path: Path, database_url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "RAPID_REVIEW_VAR_DIR": str(tmp_path / "var"), "DATABASE_URL": database_url,
           "RAPID_REVIEW_ENCRYPTION_KEY": TEST_KEY}
    return subprocess.run([sys.executable, "-m", "service.cli", "replay-check", *args], env=env, text=True,
                          capture_output=True, timeout=300)


def _break_first_activity(events: list[dict]) -> None:
    """What a build that renamed (or reordered) a step would meet: the history scheduled another activity."""
    scheduled = next(e for e in events
                     if e.get("eventType", e.get("type", "")).lower().endswith("activity_task_scheduled"))
    attributes = next(v for k, v in scheduled.items() if k.endswith("ttributes"))
    attributes["activityType"]["name"] = "a_step_this_build_does_not_have"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_stored_histories_replay_and_a_changed_one_fails(tmp_path, database_url, engine):
    result = replay_check(tmp_path, database_url, "--no-archive", "--histories", str(HISTORIES))
    assert result.returncode == 0, result.stdout + result.stderr
    stored = len(list(HISTORIES.glob("*.json")))
    assert f"{stored} histories replayed against this build, 0 failed" in result.stdout

    changed = tmp_path / "changed"
    changed.mkdir()
    shutil.copy(HISTORIES / "declined_referral--RR-49277636.json", changed)
    broken = json.loads((HISTORIES / "no_further_review--RR-1DE87325.json").read_text())
    _break_first_activity(broken["events"])
    (changed / "no_further_review--RR-1DE87325.json").write_text(json.dumps(broken))
    result = replay_check(tmp_path, database_url, "--no-archive", "--histories", str(changed))
    assert result.returncode == 1
    assert "ok     RR-49277636" in result.stdout
    assert "FAILED RR-1DE87325 (no_further_review--RR-1DE87325.json): non-determinism" in result.stdout
    assert "2 histories replayed against this build, 1 failed" in result.stdout


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_archived_histories_of_running_cases_replay(tmp_path, database_url, case_env, case_worker, engine,
                                                           settings):
    from tests.cases import CaseDriver

    running, at_panel, closed = (CaseDriver(case_env, case_worker, engine) for _ in range(3))
    await running.start()
    await running.act("accept_referral", "bu")
    await at_panel.to_panel_preparation()
    await closed.start()
    await closed.act("close_case", "bu", reason="Duplicate of an open case.")
    await closed.handle.result()

    # Steps that move a case archive its history; the nightly job brings every changed case up to date.
    await archive_histories(engine, lambda: _client(case_env), EncryptionCodec(settings.encryption_key_bytes))
    with Session(engine) as session:
        assert all(session.get(HistoryArchive, d.reference) for d in (running, at_panel, closed))

    result = replay_check(tmp_path, database_url)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert f"ok     {running.reference} (archive)" in lines and f"ok     {at_panel.reference} (archive)" in lines
    assert closed.reference not in result.stdout, "a closed case will never run on the new build"
    assert "2 histories replayed against this build, 0 failed" in result.stdout

    with Session(engine) as session:
        row = session.get(HistoryArchive, at_panel.reference)
        events = json.loads(row.events_json)
        _break_first_activity(events)
        row.events_json = json.dumps(events)
        session.add(row)
        session.commit()
    result = replay_check(tmp_path, database_url)
    assert result.returncode == 1
    assert f"FAILED {at_panel.reference} (archive): non-determinism" in result.stdout
    assert f"ok     {running.reference} (archive)" in result.stdout
    assert "Julie" not in result.stdout + result.stderr and "head injury" not in result.stdout + result.stderr


async def _client(env):
    return env.client
