"""Structured logs: one JSON object per line with the request id and the case reference, never case text."""

import json
import logging

import pytest

from service.platform.logs import JsonLines, configure_logging


class Kept(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[dict] = []
        self.setFormatter(JsonLines())

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture
def kept():
    handler = Kept()
    logging.getLogger().addHandler(handler)
    previous = logging.getLogger("service.app").level
    logging.getLogger("service.app").setLevel(logging.INFO)
    yield handler
    logging.getLogger().removeHandler(handler)
    logging.getLogger("service.app").setLevel(previous)


def test_a_request_line_carries_its_request_id_and_case_reference(api_client, sign_in, kept):
    answer = api_client.get("/api/cases/RR-2026-041/timeline", headers={**sign_in("auditor"), "X-Request-ID": "req-7"})
    assert answer.status_code == 404
    line = next(entry for entry in kept.lines if entry["logger"] == "service.app" and "timeline" in entry["message"])
    assert line["request_id"] == "req-7" and line["case_reference"] == "RR-2026-041"
    assert line["level"] == "INFO" and line["time"].endswith("+00:00")


def test_an_activity_line_names_its_case_and_an_error_never_its_message(kept):
    log = logging.getLogger("activities.documents")
    log.warning("rendering failed", extra={"temporal_activity": {"workflow_id": "RR-2026-042-cspr"}})
    try:
        raise ValueError("Child S, 3 Acacia Avenue")  # what a person typed, inside an exception
    except ValueError:
        log.exception("step failed for RR-2026-043")
    first, second = kept.lines[-2:]
    assert first["case_reference"] == "RR-2026-042"
    assert second["case_reference"] == "RR-2026-043" and second["error"].startswith("ValueError at test_logs.py:")
    assert "Acacia" not in json.dumps(kept.lines)


def test_an_unknown_log_format_stops_start_up_with_its_name():
    with pytest.raises(SystemExit, match="RAPID_REVIEW_LOG_FORMAT"):
        configure_logging("yaml")
