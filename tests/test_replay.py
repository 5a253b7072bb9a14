"""Determinism: stored histories of representative cases replay against today's workflow code.
A change that would alter the history of a running case fails here; make it behind
workflow.patched(...) and record a new history beside the old ones (RECORD_HISTORIES=1 pytest ...)."""

import base64
import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from reviews.review_types import REVIEW_TYPES
from service.platform.settings import Settings
from service.platform.temporal import data_converter
from service.platform.worker import WORKFLOW_RUNNER
from tests.conftest import TEST_KEY

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def test_representative_histories_are_stored():
    names = {path.stem.split("--")[0] for path in HISTORIES}
    assert {"local_cspr_case", "local_cspr_review", "declined_referral", "no_further_review",
            "sign_off_returned_then_approved", "sin_disagreement_revised", "looked_after_child_death",
            "stopped_by_the_partners", "sin_decided_by_the_la_after_silence", "review_held_and_revised",
            "sar_published"} <= names
    # Cases from before the three-way notification decision and the learning step (no patch markers) stay here.
    for before in ("declined_referral--RR-3E133D47", "no_further_review--RR-B5C490CB", "local_cspr_case--RR-76E6C672"):
        assert before in {path.stem for path in HISTORIES}
    # And cases whose steps are local activities (patch "local-step"), a child review and a SAR among them.
    local = {path.stem.split("--")[0] for path in HISTORIES if '"core_local_activity"' in path.read_text()}
    assert {"local_cspr_case", "local_cspr_review", "sar_published_with_local_steps", "sign_off_returned_then_approved",
            "reopened_after_a_late_panel_reply"} <= local
    # And cases opened since patch "settled-2026-12": that one marker, no other (engine/patches.py).
    settled = {path.stem.split("--")[0] for path in HISTORIES if patches_asked(path) == ["settled-2026-12"]}
    assert {"local_cspr_case", "local_cspr_review", "declined_referral", "sar_published_settled",
            "reopened_after_a_late_panel_reply", "review_held_and_revised"} <= settled


def patches_asked(path: Path) -> list[str]:
    """The patches a stored history recorded, in order."""
    found = []
    for event in json.loads(path.read_text())["events"]:
        marker = event.get("markerRecordedEventAttributes")
        if marker and marker["markerName"] == "core_patch":
            payload = marker["details"]["patch-data"]["payloads"][0]["data"]
            found.append(json.loads(base64.b64decode(payload))["id"])
    return found


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem.split("--")[0] for p in HISTORIES])
async def test_history_replays(path: Path):
    replayer = Replayer(
        workflows=[review_type.workflow for review_type in REVIEW_TYPES],
        data_converter=data_converter(Settings(rapid_review_encryption_key=TEST_KEY).encryption_key_bytes),
        workflow_runner=WORKFLOW_RUNNER,
    )
    history = WorkflowHistory.from_json(path.stem.split("--")[1], path.read_text())
    result = await replayer.replay_workflow(history, raise_on_replay_failure=True)
    assert result.replay_failure is None
