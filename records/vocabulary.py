"""The words the service's own tables use for where a row stands: each vocabulary once, as a StrEnum whose values
are the strings the database has always held (so no migration), used by the records and the service alike."""

from __future__ import annotations

import re
from enum import StrEnum

# How the service numbers cases (RR-2026-007; another review type's cases carry its own prefix): made by
# ``case_reference``, found in addresses and log lines by ``CASE_REFERENCE``.
CASE_REFERENCE = re.compile(r"\b[A-Z]{2,6}-\d{4}-\d{3,}\b")


def case_reference(year: int, number: int, prefix: str = "RR") -> str:
    return f"{prefix}-{year}-{number:03d}"


CHRONOLOGY = "chronology"  # an agency's own chronology, uploaded beside its information return: chronology_<agency>
FINAL_REPORT = "final_report"  # the local CSPR's final report as its reviewer wrote it: uploaded, not rendered
THEMES_SHEET_REFERENCE = "THEMES"  # the register's case column for documents about all cases (the themes sheet)


class PlanStatus(StrEnum):
    """An action-plan item: open, being worked on, completed with evidence, signed off by the working group."""

    open = "open"
    in_progress = "in_progress"
    completed = "completed"
    signed_off = "signed_off"


PLAN_DONE = (PlanStatus.completed, PlanStatus.signed_off)  # no longer overdue


class EscalationStatus(StrEnum):
    """A concern raised to the Executive: open until it responds, closed when the matter ends."""

    open = "open"
    responded = "responded"
    closed = "closed"


class SignInStep(StrEnum):
    """Which check of signing in a failure was counted against (service.accounts.auth.SignInBackoff)."""

    password = "password"  # noqa: S105 - the name of a step, not a secret
    second_factor = "second_factor"


class OutboxStatus(StrEnum):
    """An e-mail: waiting to be sent (or retried), claimed by a sender, sent, or given up after its attempts."""

    pending = "pending"
    sending = "sending"
    sent = "sent"
    failed = "failed"


def one_of(vocabulary: type[StrEnum]) -> str:
    """A query parameter's pattern accepting exactly the vocabulary's values."""
    return "^(" + "|".join(vocabulary) + ")$"
