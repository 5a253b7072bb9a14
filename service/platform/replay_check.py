"""Before a new build takes traffic: do the cases that are running replay against its workflow code?

Replays every archived history of an open case (``history_archive``, refreshed nightly) and every history
file in the given directories (the stored test histories) with Temporal's ``Replayer``. A case that would
take another branch under the new code fails here instead of in production. Only case references and the
kind of failure are reported: a replay failure can quote workflow state, which is case text.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from google.protobuf import json_format
from sqlalchemy import Engine
from sqlmodel import Session, select
from temporalio.api.common.v1 import Payload
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

from records.models import HistoryArchive
from service.platform.settings import Settings
from service.platform.temporal import data_converter


@dataclasses.dataclass(frozen=True)
class ReplayOutcome:
    source: str  # "archive" or the history file's name
    workflow_id: str
    failure: str | None  # the kind of failure, never case text


def _payload(value) -> dict:
    """The payload a decoded value came from (see records/history.py), in protobuf JSON form."""
    if isinstance(value, dict) and "data" in value and "encoding" in value and set(value) <= {"encoding", "data",
                                                                                              "refused"}:
        payload = Payload(metadata={"encoding": value["encoding"].encode()}, data=base64.b64decode(value["data"]))
    elif value is None:
        payload = Payload(metadata={"encoding": b"binary/null"})
    else:
        payload = Payload(metadata={"encoding": b"json/plain"},
                          data=json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
    return json_format.MessageToDict(payload)


# Where an event's attributes hold payloads: Payloads messages ({"payloads": [...]}), a failure's encoded
# attributes, and the maps of headers, memos and search attributes.
_PAYLOAD_MAPS = {"header": "fields", "memo": "fields", "searchAttributes": "indexedFields"}


def _encoded(node):
    if isinstance(node, list):
        return [_encoded(item) for item in node]
    if not isinstance(node, dict):
        return node
    rebuilt = {}
    for key, value in node.items():
        if key == "payloads" and isinstance(value, list):
            rebuilt[key] = [_payload(item) for item in value]
        elif key == "encodedAttributes":
            rebuilt[key] = _payload(value)
        elif key in _PAYLOAD_MAPS and isinstance(value, dict):
            inner = _PAYLOAD_MAPS[key]
            rebuilt[key] = {**_encoded({k: v for k, v in value.items() if k != inner}),
                            **({inner: {name: _payload(item) for name, item in value[inner].items()}}
                               if inner in value else {})}
        else:
            rebuilt[key] = _encoded(value)
    return rebuilt


def history_from_archive(workflow_id: str, events: list[dict]) -> WorkflowHistory:
    """An archived (decoded) history as the engine's history again, its payloads as plain JSON."""
    raw = []
    for event in events:
        words = event["type"].split("_")
        attributes_key = words[0] + "".join(word.title() for word in words[1:]) + "EventAttributes"
        raw.append({"eventId": str(event["id"]), "eventTime": event["time"],
                    "eventType": "EVENT_TYPE_" + event["type"].upper(), attributes_key: _encoded(event["attributes"])})
    return WorkflowHistory.from_json(workflow_id, {"events": raw})


def archived_open_histories(engine: Engine) -> Iterator[tuple[str, WorkflowHistory]]:
    """The archived histories of workflows that have not closed (they are the ones a new build will run)."""
    with Session(engine) as session:
        ids = session.exec(select(HistoryArchive.workflow_id).where(HistoryArchive.complete == False)  # noqa: E712
                           .order_by(HistoryArchive.workflow_id)).all()
    for workflow_id in ids:
        with Session(engine) as session:
            row = session.get(HistoryArchive, workflow_id)
            events = json.loads(row.events_json)
        yield workflow_id, history_from_archive(workflow_id, events)


def stored_histories(directories: Iterable[Path]) -> Iterator[tuple[str, str, WorkflowHistory]]:
    """History files as the replay tests keep them: ``<name>--<workflow id>.json``, payloads encrypted."""
    for directory in directories:
        for path in sorted(Path(directory).glob("*.json")):
            workflow_id = path.stem.split("--")[-1]
            try:
                yield path.name, workflow_id, WorkflowHistory.from_json(workflow_id, path.read_text())
            except ValueError:  # not a history (malformed JSON or events): reported, never skipped
                yield path.name, workflow_id, None


def _failure_kind(error: BaseException) -> str:
    if isinstance(error, NondeterminismError):
        # The engine's own words name commands and event ids, never payloads.
        return f"non-determinism: {str(error).splitlines()[0][:300]}"
    return f"workflow task failed on replay ({type(error).__name__})"


async def replay_check(settings: Settings, engine: Engine | None,
                       directories: Iterable[Path] = ()) -> list[ReplayOutcome]:
    """Replay every archived open history and every stored history file; one outcome each."""
    from reviews.review_types import REVIEW_TYPES
    from service.platform.worker import WORKFLOW_RUNNER

    every_workflow = [review_type.workflow for review_type in REVIEW_TYPES]  # every registered type's, any queue
    converter = data_converter(settings.encryption_key_bytes, settings.old_encryption_keys_bytes)
    archive_replayer = Replayer(workflows=every_workflow, workflow_runner=WORKFLOW_RUNNER,
                                data_converter=dataclasses.replace(converter, payload_codec=None))
    stored_replayer = Replayer(workflows=every_workflow, workflow_runner=WORKFLOW_RUNNER, data_converter=converter)
    outcomes = []

    async def replay(replayer: Replayer, source: str, workflow_id: str, history: WorkflowHistory | None) -> None:
        try:
            if history is None:
                raise ValueError("not a workflow history")
            result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
            failure = None if result.replay_failure is None else _failure_kind(result.replay_failure)
        except Exception as error:  # a history the replayer cannot even read
            failure = f"could not be replayed ({type(error).__name__})"
        outcomes.append(ReplayOutcome(source, workflow_id, failure))

    if engine is not None:
        for workflow_id, history in archived_open_histories(engine):
            await replay(archive_replayer, "archive", workflow_id, history)
    for name, workflow_id, history in stored_histories(directories):
        await replay(stored_replayer, name, workflow_id, history)
    return outcomes
