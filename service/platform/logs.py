"""Log lines a log platform can index. With ``RAPID_REVIEW_LOG_FORMAT=json`` each line is one JSON object: time,
level, logger, message and, where known, the request id and the case reference (from the request, the workflow
an activity runs for, or a reference in the message). Never case text: the service's own messages carry
references and codes only, and an exception is logged as its type and where it was raised, not its message
(which may quote what was typed)."""

from __future__ import annotations

import json
import logging
import os
import traceback
from datetime import UTC, datetime

from engine.vocabulary import case_reference_of as reference_of_workflow
from records.vocabulary import CASE_REFERENCE

FORMATS = ("text", "json")
QUIET = ("weasyprint", "fontTools", "alembic.runtime.plugins")  # a line per page or plugin


def case_reference_of(record: logging.LogRecord) -> str | None:
    given = getattr(record, "case_reference", None)
    if given:
        return given
    for key in ("temporal_activity", "temporal_workflow"):  # set by temporalio's activity and workflow loggers
        info = getattr(record, key, None)
        if isinstance(info, dict) and info.get("workflow_id"):
            return reference_of_workflow(str(info["workflow_id"]))
    found = CASE_REFERENCE.search(record.getMessage())
    return found.group(0) if found else None


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
                 "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        request_id = getattr(record, "request_id", None)
        if request_id:
            entry["request_id"] = request_id
        reference = case_reference_of(record)
        if reference:
            entry["case_reference"] = reference
        if record.exc_info and record.exc_info[0] is not None:
            where = traceback.extract_tb(record.exc_info[2])[-1:] if record.exc_info[2] else []
            entry["error"] = record.exc_info[0].__name__ + (f" at {where[0].filename.rsplit('/', 1)[-1]}:"
                                                            f"{where[0].lineno}" if where else "")
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(form: str | None = None) -> None:
    """Text lines for a person at a terminal (the default), JSON lines for a log platform."""
    form = (form or os.environ.get("RAPID_REVIEW_LOG_FORMAT") or "text").lower()
    if form not in FORMATS:
        raise SystemExit(f"RAPID_REVIEW_LOG_FORMAT must be one of {', '.join(FORMATS)}, not {form!r}")
    handler = logging.StreamHandler()
    handler.setFormatter(JsonLines() if form == "json" else
                         logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    for chatty in QUIET:
        logging.getLogger(chatty).setLevel(logging.WARNING)
